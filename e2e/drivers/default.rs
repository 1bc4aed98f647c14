//! The `default` driver against a real distribution 2.8 registry: listing with digests, and a
//! single-tag delete that leaves sibling tags on the same digest in place.

use super::Listings as _;
use super::{open_client, push_image};
use crate::support::registry::{Registry, RegistryConfig};
use wharf::drivers::{self, DefaultDriver, Driver, DriverError, UntagMethod};
use wharf::registry::Repository;

fn repo(reg: &Registry, path: &str) -> Repository {
    Repository::new(&reg.host(), path).expect("repository")
}

#[tokio::test]
async fn untag_one_of_two_tags_on_a_digest_keeps_the_other() {
    let reg = Registry::start();
    let (c, r) = (open_client(), repo(&reg, "drivers/siblings"));
    let digest = push_image(&c, &r, &["v1", "latest"]).await;
    let other = push_image(&c, &r, &["v2"]).await;
    assert_eq!(drivers::detect(&r.registry).name, "default");
    let driver = DefaultDriver::new(c.clone());

    let listed = driver.list_tags(&r).await.unwrap();
    let pairs: Vec<(&str, &wharf::spec::digest::Digest)> = listed.iter().map(|e| (e.tag.as_str(), &e.digest)).collect();
    assert_eq!(pairs, vec![("latest", &digest), ("v1", &digest), ("v2", &other)]);

    let outcome = driver.untag(&r, "v1").await.unwrap();
    assert_eq!(
        (outcome.tag.as_str(), &outcome.digest, outcome.method),
        ("v1", &digest, UntagMethod::ThrowawayManifest)
    );
    // The sibling survives on the same digest, the image is intact, the tag is gone.
    assert_eq!(c.head_manifest(&r, "latest").await.unwrap().map(|d| d.digest), Some(digest.clone()));
    assert!(c.head_manifest(&r, &digest.to_string()).await.unwrap().is_some());
    assert_eq!(c.head_manifest(&r, "v1").await.unwrap(), None);
    let mut tags = c.list_tags(&r).await.unwrap();
    tags.sort();
    assert_eq!(tags, vec!["latest", "v2"]);
    // One PUT of the throwaway manifest to the tag; digest DELETEs: the permission probe, the
    // tag-delete probe's scratch manifest, and the throwaway. The tag delete was tried on a
    // scratch tag only (distribution refuses it), never on the user's.
    assert_eq!(reg.count_requests("\"PUT /v2/drivers/siblings/manifests/v1 "), 2, "{}", reg.log());
    assert_eq!(reg.count_requests("\"DELETE /v2/drivers/siblings/manifests/sha256:"), 3);
    assert_eq!(reg.count_requests("\"DELETE /v2/drivers/siblings/manifests/wharf-probe-"), 1);
    assert_eq!(reg.count_requests("\"DELETE /v2/drivers/siblings/manifests/v1 "), 0);

    // The last tag of an image goes the same way; the manifest stays (only its tag is removed).
    driver.untag(&r, "latest").await.unwrap();
    assert!(c.head_manifest(&r, &digest.to_string()).await.unwrap().is_some());
    assert_eq!(driver.list_tags(&r).await.unwrap().len(), 1);
}

#[tokio::test]
async fn untag_of_a_missing_tag_is_not_found_and_an_unknown_repository_lists_nothing() {
    let reg = Registry::start();
    let (c, r) = (open_client(), repo(&reg, "drivers/missing"));
    push_image(&c, &r, &["v1"]).await;
    let driver = DefaultDriver::new(c.clone());
    let err = driver.untag(&r, "nope").await.unwrap_err();
    assert!(matches!(err, DriverError::TagNotFound { .. }), "{err}");
    assert!(err.to_string().contains("\"nope\""), "{err}");
    assert!(driver.list_tags(&repo(&reg, "drivers/none")).await.unwrap().is_empty());
}

#[tokio::test]
async fn deletes_switched_off_are_reported_before_the_tag_moves() {
    let reg = Registry::start_with(RegistryConfig { delete_enabled: false, ..Default::default() });
    let (c, r) = (open_client(), repo(&reg, "drivers/nodelete"));
    let digest = push_image(&c, &r, &["v1", "v2"]).await;
    let driver = DefaultDriver::new(c.clone());
    let err = driver.untag(&r, "v1").await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(405), "{text}");
    assert!(text.starts_with("default driver: delete manifest"), "{text}");
    assert!(text.contains("storage.delete.enabled"), "{text}");
    // Nothing moved.
    assert_eq!(c.head_manifest(&r, "v1").await.unwrap().map(|d| d.digest), Some(digest));
    assert_eq!(reg.count_requests("\"PUT /v2/drivers/nodelete/manifests/v1 "), 1);
}

/// The default driver over a real registry with basic auth; the weak driver has a wrong password.
struct RealFixture {
    _reg: Registry,
    client: wharf::registry::Client,
    repo: Repository,
    driver: DefaultDriver,
    weak: DefaultDriver,
}

#[async_trait::async_trait]
impl super::conformance::Fixture for RealFixture {
    fn driver(&self) -> &dyn Driver {
        &self.driver
    }
    fn repo(&self) -> &Repository {
        &self.repo
    }
    async fn seed(&self, tags: &[&str]) -> wharf::spec::digest::Digest {
        push_image(&self.client, &self.repo, tags).await
    }
    async fn truth(&self, tag: &str) -> Option<wharf::spec::digest::Digest> {
        self.client.head_manifest(&self.repo, tag).await.unwrap().map(|d| d.digest)
    }
    fn weak(&self) -> Option<&dyn Driver> {
        Some(&self.weak)
    }
    fn rate_limit(&self, _: usize, _: &str) -> bool {
        false // distribution has no rate limits; the client's 429 handling is in registry_fakes
    }
}

#[tokio::test]
async fn conformance() {
    use wharf::registry::{Credential, CredentialStore};
    let reg = Registry::with_basic_auth("alice", "s3cret");
    let repo = repo(&reg, "conformance/app");
    let client_with = |password: &str| {
        let creds = CredentialStore::new().with_explicit(&reg.host(), Credential::basic("alice", password));
        super::conformance::fast_client(creds)
    };
    let client = client_with("s3cret");
    let f = RealFixture {
        driver: DefaultDriver::new(client.clone()),
        weak: DefaultDriver::new(client_with("wrong")),
        client,
        repo,
        _reg: reg,
    };
    super::conformance::run(&f).await;
}
