//! One conformance suite, run over every driver: listing with digests (across pages), untag of
//! one tag while its siblings on the same digest survive, the last tag of an image, a missing
//! tag, an auth failure that names the driver, the operation and what the credential needs,
//! and 429 handling (a short `Retry-After` is waited out; a long one is reported).

use super::Listings as _;
use super::fake::{Fake, State, page_vanishes};
use std::time::Duration;
use wharf::drivers::{Driver, DriverOptions};
use wharf::registry::{Client, ClientOptions, CredentialStore, Repository};
use wharf::spec::digest::Digest;

#[async_trait::async_trait]
pub trait Fixture: Send + Sync {
    fn driver(&self) -> &dyn Driver;
    fn repo(&self) -> &Repository;
    /// A new image with `tags`, created on the server directly (not through the driver).
    async fn seed(&self, tags: &[&str]) -> Digest;
    /// Where `tag` points, read from the server directly.
    async fn truth(&self, tag: &str) -> Option<Digest>;
    /// A driver whose credential may read but not delete, or is wrong.
    fn weak(&self) -> Option<&dyn Driver>;
    /// Makes the next `n` requests answer 429; `false` where the server cannot.
    fn rate_limit(&self, n: usize, retry_after: &str) -> bool;
}

/// A client that retries quickly, for fakes.
pub fn fast_client(credentials: CredentialStore) -> Client {
    Client::new(ClientOptions {
        credentials,
        max_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        ..Default::default()
    })
    .expect("client")
}

pub fn options(client: Client, api: url::Url) -> DriverOptions {
    let mut opts = DriverOptions::new(client);
    opts.settings.set("api-url", api.as_str()).expect("an API URL");
    opts
}

/// A driver over a stateful fake.
pub struct FakeFixture {
    pub fake: Fake,
    /// The repository's key in the fake's state.
    pub key: String,
    pub repo: Repository,
    pub driver: Box<dyn Driver>,
    pub weak: Box<dyn Driver>,
}

#[async_trait::async_trait]
impl Fixture for FakeFixture {
    fn driver(&self) -> &dyn Driver {
        self.driver.as_ref()
    }
    fn repo(&self) -> &Repository {
        &self.repo
    }
    async fn seed(&self, tags: &[&str]) -> Digest {
        self.fake.seed(&self.key, tags)
    }
    async fn truth(&self, tag: &str) -> Option<Digest> {
        self.fake.tag(&self.key, tag)
    }
    fn weak(&self) -> Option<&dyn Driver> {
        Some(self.weak.as_ref())
    }
    fn rate_limit(&self, n: usize, retry_after: &str) -> bool {
        self.fake.rate_limit(n, retry_after);
        true
    }
}

/// The suite. Panics with the driver's name on the first broken promise.
pub async fn run(f: &dyn Fixture) {
    let (d, repo) = (f.driver(), f.repo());
    let name = d.info().name;
    let one = f.seed(&["a", "b", "c"]).await;
    let two = f.seed(&["d"]).await;

    // List: every tag with its digest (the fakes page by two or three, so this crosses pages).
    let listed: Vec<(String, Digest)> = d
        .list_tags(repo)
        .await
        .unwrap_or_else(|e| panic!("{name}: list: {e}"))
        .into_iter()
        .map(|e| (e.tag, e.digest))
        .collect();
    let want = vec![
        ("a".into(), one.clone()),
        ("b".into(), one.clone()),
        ("c".into(), one.clone()),
        ("d".into(), two.clone()),
    ];
    assert_eq!(listed, want, "{name}: list");

    // Untag one of three tags on a digest: the siblings stay where they were.
    let out = d.untag(repo, "a").await.unwrap_or_else(|e| panic!("{name}: untag a: {e}"));
    assert_eq!((out.tag.as_str(), &out.digest), ("a", &one), "{name}");
    assert_eq!(f.truth("a").await, None, "{name}: a is gone");
    assert_eq!(f.truth("b").await, Some(one.clone()), "{name}: sibling b survives");
    assert_eq!(f.truth("c").await, Some(one.clone()), "{name}: sibling c survives");
    assert_eq!(f.truth("d").await, Some(two.clone()), "{name}: d untouched");
    let listed: Vec<String> = d.list_tags(repo).await.unwrap().into_iter().map(|e| e.tag).collect();
    assert_eq!(listed, ["b", "c", "d"], "{name}: list after untag");

    // The last tag of an image.
    let out = d.untag(repo, "d").await.unwrap_or_else(|e| panic!("{name}: untag d: {e}"));
    assert_eq!(out.digest, two, "{name}");
    assert_eq!(f.truth("d").await, None, "{name}");
    assert_eq!(f.truth("b").await, Some(one.clone()), "{name}");

    // A missing tag.
    let err = d.untag(repo, "missing").await.expect_err(name);
    assert!(err.is_not_found(), "{name}: {err}");
    assert!(err.to_string().contains(&format!("{name} driver")), "{name}: {err}");

    // A credential that may not delete: the message names driver, operation and what it needs.
    if let Some(weak) = f.weak() {
        let err = weak.untag(repo, "b").await.expect_err(name);
        assert!(err.is_auth(), "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("{name} driver")), "{name}: {text}");
        assert!(text.contains("delete") || text.contains("untag"), "{name}: no operation in {text}");
        let needs: String = d.info().needs.chars().take(24).collect();
        assert!(text.contains(&needs), "{name}: {text} does not say {needs:?}");
        assert_eq!(f.truth("b").await, Some(one.clone()), "{name}: a refused delete changes nothing");
    }

    // 429: a short Retry-After is waited out; a long one is an error that says so.
    if f.rate_limit(2, "0") {
        assert_eq!(d.list_tags(repo).await.unwrap_or_else(|e| panic!("{name}: after 429: {e}")).len(), 2, "{name}");
        f.rate_limit(100, "3600");
        let err = d.list_tags(repo).await.expect_err(name);
        assert_eq!(err.status(), Some(429), "{name}: {err}");
        assert!(err.to_string().contains("rate limited") || err.to_string().contains("429"), "{name}: {err}");
        f.rate_limit(0, "0");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)), "{name}");
    }
}

/// Lists through the driver `make` builds over a fake of `handler` whose page 2 answers 404,
/// after `n` tags were seeded in `key`: the error must say the listing is incomplete (a list
/// that silently ends there would let cleanup decide on half the tags).
pub async fn a_vanishing_page_is_an_error(
    handler: fn(&mut State, &wiremock::Request, &str) -> wiremock::ResponseTemplate,
    key: &str,
    n: usize,
    make: impl FnOnce(&Fake) -> (Box<dyn Driver>, Repository),
) {
    let fake = Fake::start(page_vanishes(2, handler)).await;
    for i in 0..n {
        fake.seed(key, &[&format!("v{i}")]);
    }
    let (driver, repo) = make(&fake);
    let err = driver.list_tags(&repo).await.expect_err("a listing with a missing page");
    assert!(err.to_string().contains("page 2") && err.to_string().contains("incomplete"), "{err}");
}
