//! Registry drivers: `default` against the real distribution registry, `ecr` against moto's
//! server, the native-API drivers against wiremock fakes that answer as each vendor documents
//! and assert every request; one conformance suite runs over all of them.

mod acr;
mod artifact_registry;
mod cli;
mod conformance;
mod default;
mod dockerhub;
mod ecr;
mod fake;
mod github;
mod github_cleanup;
mod gitlab;
mod harbor;
mod live;
mod quay;

use bytes::Bytes;
use wharf::drivers::{BrokenTag, Digests, Driver, DriverError, TagEntry};
use wharf::registry::{Client, ClientOptions, Repository};
use wharf::spec::digest::Digest;
use wharf::spec::manifest::{OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};

/// The listings the tests read, through [`Driver::list`].
#[async_trait::async_trait]
pub trait Listings {
    /// Every readable tag with its digest.
    async fn list_tags(&self, repo: &Repository) -> Result<Vec<TagEntry>, DriverError>;
    /// Every readable tag with its digest, and the tags whose manifest cannot be read.
    async fn list_tags_checked(&self, repo: &Repository) -> Result<(Vec<TagEntry>, Vec<BrokenTag>), DriverError>;
}

#[async_trait::async_trait]
impl<T: Driver + ?Sized> Listings for T {
    async fn list_tags(&self, repo: &Repository) -> Result<Vec<TagEntry>, DriverError> {
        Ok(self.list(repo, Digests::All).await?.tags)
    }

    async fn list_tags_checked(&self, repo: &Repository) -> Result<(Vec<TagEntry>, Vec<BrokenTag>), DriverError> {
        let listing = self.list(repo, Digests::All).await?;
        Ok((listing.tags, listing.broken))
    }
}

pub fn open_client() -> Client {
    Client::new(ClientOptions { max_retries: 1, ..Default::default() }).expect("client")
}

/// Pushes a small random image to `repo` under every tag in `tags`; returns its digest.
pub async fn push_image(c: &Client, repo: &Repository, tags: &[&str]) -> Digest {
    let config = Bytes::from(format!(r#"{{"architecture":"amd64","os":"linux","nonce":"{}"}}"#, rand::random::<u64>()));
    let layer = Bytes::from((0..512).map(|_| rand::random::<u8>()).collect::<Vec<u8>>());
    let (cd, ld) = (Digest::of(&config), Digest::of(&layer));
    c.push_blob_bytes(repo, &cd, config.clone()).await.expect("push config");
    c.push_blob_bytes(repo, &ld, layer.clone()).await.expect("push layer");
    let manifest = Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    ));
    let mut digest = None;
    for tag in tags {
        digest = Some(c.put_manifest(repo, tag, OCI_MANIFEST, manifest.clone()).await.expect("put manifest"));
    }
    digest.expect("at least one tag")
}

/// `wharf ARGS…` without an engine, with none of the credential variables of the machine.
pub fn wharf(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"));
    for (k, _) in std::env::vars() {
        let prefixes = ["WHARF_", "GITHUB_", "CI_", "GITLAB_", "QUAY_", "AZURE_", "GOOGLE_", "AWS_", "DOCKER_"];
        if prefixes.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(k);
        }
    }
    cmd.env("DOCKER_CONFIG", std::env::temp_dir().join("wharf-e2e-empty-docker-config"));
    cmd.args(args);
    cmd
}
