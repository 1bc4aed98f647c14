//! The `default` driver: the OCI distribution API and nothing else.
//!
//! - Listing: `GET /v2/<name>/tags/list` with `Link` pagination, then one `HEAD` per tag for
//!   its digest (a few at a time), except for tags the caller reads anyway (cleanup's
//!   publish records: their GET gives the digest) or needs no digest of (`tags ls`). A tag
//!   whose manifest is missing or unreadable is reported as broken; authentication and
//!   transient failures stop the listing.
//! - Untag: `DELETE …/manifests/<tag>` where the registry does it safely (probed once per
//!   registry on scratch tags), else the tag moves onto a unique throwaway manifest whose
//!   digest is then deleted (distribution deletes only by digest, and a digest delete removes
//!   every tag on it; see `untag.rs`). Deletes are probed first, so a registry with deletes
//!   switched off says so before any tag moves. The tag is read back afterwards: a tag that
//!   survives is put back on its image and the untag fails, naming what the registry did.

use super::untag::{TagDelete, move_to_throwaway, probe_delete, probe_tag_delete};
use super::{
    ApiBase, BrokenTag, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result,
    TagEntry, TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Client, Repository};
use crate::spec::digest::Digest;
use futures::{StreamExt as _, TryStreamExt as _};
use std::collections::HashSet;
use std::sync::Mutex;

/// Manifest HEADs in flight at once while listing.
const HEAD_CONCURRENCY: usize = 16;

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "default",
    title: "Any OCI distribution registry",
    hosts: "anything else",
    matches: |_| true,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::TagDeleteOrThrowaway,
        native_list: false,
        delete_repository: false,
    },
    needs: "pull, push and delete on the repository (distribution: `storage.delete.enabled: true`)",
    docs: "https://github.com/opencontainers/distribution-spec/blob/main/spec.md",
    settings: &[],
    api: ApiBase::None,
    login: None,
    new: |opts, _| Ok(Box::new(DefaultDriver::new(opts.client.clone()))),
};

/// The distribution-API driver; other drivers fall back to it.
#[derive(Debug)]
pub struct DefaultDriver {
    client: Client,
    info: &'static DriverInfo,
    /// Repositories whose registry was seen to accept deletes.
    deletes_ok: Mutex<HashSet<Repository>>,
    /// Per registry, what its tag delete does (probed on first use; the lock makes concurrent
    /// untags wait for one probe).
    tag_delete: tokio::sync::Mutex<std::collections::HashMap<String, TagDelete>>,
}

/// Read-backs of a tag after it was removed, for registries that show a change late.
const VERIFY_ATTEMPTS: u32 = 3;

impl DefaultDriver {
    pub fn new(client: Client) -> Self {
        Self::with_info(client, &INFO)
    }

    /// The same behaviour, reporting errors as `info`'s driver (for fallbacks).
    pub(crate) fn with_info(client: Client, info: &'static DriverInfo) -> Self {
        DefaultDriver { client, info, deletes_ok: Mutex::new(HashSet::new()), tag_delete: Default::default() }
    }

    fn err(&self, e: crate::registry::RegistryError) -> DriverError {
        DriverError::registry(self.info, e)
    }

    /// Checks once per repository that deletes are allowed (see `untag::probe_delete`).
    pub(crate) async fn ensure_deletes(&self, repo: &Repository) -> Result<()> {
        if self.deletes_ok.lock().is_ok_and(|s| s.contains(repo)) {
            return Ok(());
        }
        probe_delete(&self.client, repo).await.map_err(|e| self.err(e))?;
        if let Ok(mut s) = self.deletes_ok.lock() {
            s.insert(repo.clone());
        }
        Ok(())
    }

    /// The digest `tag` points at, or [`DriverError::TagNotFound`].
    pub(crate) async fn tag_digest(&self, repo: &Repository, tag: &str) -> Result<crate::spec::digest::Digest> {
        match self.client.head_manifest(repo, tag).await {
            Ok(Some(d)) => Ok(d.digest),
            Ok(None) => Err(self.not_found(repo, tag)),
            Err(e) if e.is_not_found() => Err(self.not_found(repo, tag)),
            Err(e) => Err(self.err(e)),
        }
    }

    fn not_found(&self, repo: &Repository, tag: &str) -> DriverError {
        DriverError::TagNotFound { driver: self.info.name, repo: repo.to_string(), tag: tag.to_string() }
    }

    /// Moves `tag` onto a throwaway manifest and returns its digest (not yet deleted).
    pub(crate) async fn move_to_throwaway(&self, repo: &Repository, tag: &str) -> Result<crate::spec::digest::Digest> {
        move_to_throwaway(&self.client, repo, tag).await.map_err(|e| self.err(e))
    }

    /// The bytes and media type of the manifest `digest`, to put a tag back if needed.
    pub(crate) async fn manifest(
        &self,
        repo: &Repository,
        digest: &crate::spec::digest::Digest,
    ) -> Result<(bytes::Bytes, String)> {
        let (bytes, media_type, _) = self.client.get_manifest(repo, digest.as_str()).await.map_err(|e| self.err(e))?;
        Ok((bytes, media_type))
    }

    /// After a failed delete, points `tag` back at the original manifest. Returns what to tell
    /// the user about the tag.
    pub(crate) async fn restore(
        &self,
        repo: &Repository,
        tag: &str,
        original: &crate::spec::digest::Digest,
        manifest: (bytes::Bytes, String),
    ) -> String {
        let (bytes, media_type) = manifest;
        match self.client.put_manifest(repo, tag, &media_type, bytes).await {
            Ok(_) => format!("the tag was put back on {original}; nothing changed"),
            Err(e) => {
                format!("the tag now points at a throwaway manifest and could not be put back on {original} ({e})")
            }
        }
    }

    /// Digests of `tags` by HEAD, a few at a time (unsorted); tags whose manifest cannot be
    /// read are returned apart. Authentication and transient failures stop the listing.
    async fn checked_digests(&self, repo: &Repository, tags: Vec<String>) -> Result<(Vec<TagEntry>, Vec<BrokenTag>)> {
        let client = &self.client;
        let found: Vec<std::result::Result<TagEntry, BrokenTag>> = futures::stream::iter(tags)
            .map(|tag| async move {
                match client.head_manifest(repo, &tag).await {
                    Ok(Some(d)) => Ok(Ok(TagEntry::new(tag, d.digest))),
                    Ok(None) => Ok(Err(BrokenTag { tag, problem: "listed, but its manifest is missing".into() })),
                    Err(e) if e.is_auth() || e.is_retryable() => Err(e),
                    Err(e) => Ok(Err(BrokenTag { tag, problem: e.to_string() })),
                }
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .try_collect()
            .await
            .map_err(|e| self.err(e))?;
        let (mut ok, mut broken): (Vec<TagEntry>, Vec<BrokenTag>) = (Vec::new(), Vec::new());
        for f in found {
            match f {
                Ok(t) => ok.push(t),
                Err(b) => broken.push(b),
            }
        }
        Ok((ok, broken))
    }
}

#[async_trait::async_trait]
impl Driver for DefaultDriver {
    fn info(&self) -> &'static DriverInfo {
        self.info
    }

    async fn list(&self, repo: &Repository, digests: Digests<'_>) -> Result<TagListing> {
        let tags = self.client.list_tags(repo).await.map_err(|e| self.err(e))?;
        let (now, undigested): (Vec<String>, Vec<String>) = tags.into_iter().partition(|t| digests.wanted(t));
        let (tags, broken) = self.checked_digests(repo, now).await?;
        Ok(TagListing { tags, undigested, broken }.sort())
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let original = self.tag_digest(repo, tag).await?;
        self.ensure_deletes(repo).await?;
        match self.tag_delete(repo).await? {
            TagDelete::Works => self.untag_by_tag_delete(repo, tag, original).await,
            TagDelete::Refused(_) | TagDelete::Unsafe(_) => self.untag_by_throwaway(repo, tag, original).await,
        }
    }
}

impl DefaultDriver {
    /// What `repo`'s registry does with a tag delete, probed once per registry.
    async fn tag_delete(&self, repo: &Repository) -> Result<TagDelete> {
        let mut known = self.tag_delete.lock().await;
        if let Some(t) = known.get(&repo.registry) {
            return Ok(t.clone());
        }
        let found = probe_tag_delete(&self.client, repo).await.map_err(|e| self.err(e))?;
        tracing::debug!(registry = %repo.registry, ?found, "tag delete probed");
        known.insert(repo.registry.clone(), found.clone());
        Ok(found)
    }

    async fn untag_by_tag_delete(&self, repo: &Repository, tag: &str, original: Digest) -> Result<UntagOutcome> {
        self.client.delete_tag(repo, tag).await.map_err(|e| self.err(e))?;
        match self.read_back(repo, tag, &[&original]).await? {
            None => Ok(UntagOutcome { tag: tag.to_string(), digest: original, method: UntagMethod::TagDelete }),
            Some(_) => Err(self.survived(
                repo,
                tag,
                "the registry accepted the tag delete but the tag is still there; nothing changed".into(),
            )),
        }
    }

    async fn untag_by_throwaway(&self, repo: &Repository, tag: &str, original: Digest) -> Result<UntagOutcome> {
        let manifest = self.manifest(repo, &original).await?;
        let throwaway = self.move_to_throwaway(repo, tag).await?;
        if throwaway == original {
            return Err(DriverError::Protocol {
                driver: self.info.name,
                op: "untag",
                target: format!("{repo}:{tag}"),
                detail: "the throwaway manifest has the original's digest".into(),
            });
        }
        if let Err(e) = self.client.delete_manifest(repo, &throwaway).await {
            let restored = self.restore(repo, tag, &original, manifest).await;
            tracing::warn!(%repo, tag, %throwaway, "deleting the throwaway manifest failed; {restored}");
            return Err(self.err(e));
        }
        match self.read_back(repo, tag, &[&throwaway, &original]).await? {
            None => Ok(UntagOutcome { tag: tag.to_string(), digest: original, method: UntagMethod::ThrowawayManifest }),
            Some(_) => {
                let restored = self.restore(repo, tag, &original, manifest).await;
                let why = format!(
                    "deleting the throwaway manifest {throwaway} by digest left the tag in place (this registry keeps the tags of \
                     deleted manifests) and it does not delete single tags; {restored}"
                );
                Err(self.survived(repo, tag, why))
            }
        }
    }

    /// Reads `tag` back after a removal: `None` when it is gone or points somewhere new (a
    /// writer moved it meanwhile), else the digest among `stuck` it still names. A registry
    /// that shows the removal late gets a few tries.
    async fn read_back(&self, repo: &Repository, tag: &str, stuck: &[&Digest]) -> Result<Option<Digest>> {
        let mut attempt = 0;
        loop {
            let now = match self.client.head_manifest(repo, tag).await {
                Ok(found) => found.map(|d| d.digest),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(self.err(e)),
            };
            match now {
                Some(d) if stuck.contains(&&d) => {
                    attempt += 1;
                    if attempt >= VERIFY_ATTEMPTS {
                        return Ok(Some(d));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                }
                Some(d) => {
                    tracing::info!(%repo, tag, digest = %d, "the tag was moved by another writer while it was removed; left there");
                    return Ok(None);
                }
                None => return Ok(None),
            }
        }
    }

    fn survived(&self, repo: &Repository, tag: &str, detail: String) -> DriverError {
        DriverError::UntagNotVerified { driver: self.info.name, target: format!("{repo}:{tag}"), detail }
    }
}

/// Builds the fallback a native driver uses for what its API lacks.
pub(crate) fn fallback(opts: &DriverOptions, info: &'static DriverInfo) -> DefaultDriver {
    DefaultDriver::with_info(opts.client.clone(), info)
}
