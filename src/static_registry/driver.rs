//! The `static` driver: a static root (`--static-root DIR` or `s3://BUCKET/PREFIX`, written
//! by `wharf push --static-root`) as a registry wharf owns outright.
//!
//! - Listing: the tag files under `v2/<repo>/manifests/`, each read for its digest.
//! - Untag: the tag file goes (and its line in `tags/list`); the manifest stays by digest,
//!   so other tags on it are untouched.
//! - Garbage: no registry runs a garbage collector here, so after untagging, cleanup and
//!   `tags rm` call [`Driver::collect_garbage`], which deletes the manifests and blobs no
//!   tag reaches any more ([`crate::static_registry::gc`]).
//!
//! Not in [`super::DRIVERS`]: no host names a static root; the `--static-root` flag does.

use std::time::Duration;

use crate::drivers::{
    ApiBase, BrokenTag, Capabilities, Digests, Driver, DriverError, DriverInfo, Nesting, Result, TagEntry, TagListing,
    UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::Repository;
use crate::spec::digest::Digest;
use crate::static_registry::gc::Collected;
use crate::static_registry::root::StaticRoot;

pub static INFO: DriverInfo = DriverInfo {
    name: "static",
    title: "Static root (directory or S3 bucket)",
    hosts: "`--static-root DIR` or `--static-root s3://BUCKET/PREFIX`",
    matches: |_| false,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "write access to the directory or bucket (s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject)",
    docs: "https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests",
    settings: &[],
    api: ApiBase::None,
    login: None,
    new: |_, _| Err(DriverError::Unsupported { driver: "static", op: "be chosen by host (use --static-root)" }),
};

/// How earlier wharf versions wrote a static root's repositories in plans and journals (a
/// made-up host before the path); still read, never written.
pub const LEGACY_PREFIX: &str = "static.invalid/";

/// A static root as a driver.
#[derive(Debug, Clone)]
pub struct StaticDriver {
    root: StaticRoot,
    /// Unreferenced files younger than this stay (a push may be writing them).
    gc_grace: Duration,
}

impl StaticDriver {
    /// The driver's name in plans.
    pub const NAME: &str = "static";

    pub fn new(root: StaticRoot, gc_grace: Duration) -> Self {
        StaticDriver { root, gc_grace }
    }

    pub fn root(&self) -> &StaticRoot {
        &self.root
    }

    /// `repo` (a path inside the root) as a [`Repository`] of a static root.
    pub fn repository(path: &str) -> std::result::Result<Repository, String> {
        crate::static_registry::root::validate_repo(path).map_err(|e| format!("{path:?}: {e}"))?;
        Repository::in_static_root(path).map_err(|e| e.to_string())
    }

    fn check(&self, repo: &Repository) -> Result<()> {
        if repo.is_in_static_root() {
            return Ok(());
        }
        Err(DriverError::Refused {
            driver: INFO.name,
            op: "use",
            target: repo.to_string(),
            code: None,
            detail: format!("{repo} is a registry repository, not one of the static root {}", self.root),
        })
    }
}

#[async_trait::async_trait]
impl Driver for StaticDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        self.check(repo)?;
        let (mut entries, mut broken) = (Vec::new(), Vec::new());
        for tag in self.root.tag_names(&repo.path).await? {
            match self.root.read_manifest(&repo.path, &tag).await {
                Ok(Some((bytes, _))) => entries.push(TagEntry::new(tag, Digest::of(&bytes))),
                Ok(None) => broken.push(BrokenTag { tag, problem: "listed, but its manifest is missing".into() }),
                Err(e) => broken.push(BrokenTag { tag, problem: e.to_string() }),
            }
        }
        Ok(TagListing::sorted(entries, broken))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        self.check(repo)?;
        let missing = || DriverError::TagNotFound { driver: INFO.name, repo: repo.path.clone(), tag: tag.to_string() };
        let digest = self.root.resolve(&repo.path, tag).await?.ok_or_else(missing)?;
        if !self.root.remove_tag(&repo.path, tag).await? {
            return Err(missing());
        }
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }

    async fn collect_garbage(&self, repo: &Repository) -> Result<Option<Collected>> {
        self.check(repo)?;
        Ok(Some(crate::static_registry::gc::collect(&self.root, &repo.path, self.gc_grace, chrono::Utc::now()).await?))
    }
}
