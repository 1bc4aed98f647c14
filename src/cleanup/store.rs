//! What cleanup reads and writes besides a driver's listing and untag: manifests (to read
//! publish records, index children, configs and to journal what it deletes), blob presence
//! and manifest puts (to restore). A registry answers through the distribution [`Client`];
//! a static root ([`StaticRoot`]) answers from its files, so one cleanup serves both.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::spec::digest::Digest;
use crate::publish::static_root::StaticRoot;
use crate::registry::{Client, Repository};

pub type StoreError = Box<dyn std::error::Error + Send + Sync>;
pub type StoreResult<T> = Result<T, StoreError>;

/// A manifest as stored: bytes, media type, digest.
pub type Manifest = (Bytes, String, Digest);

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// A manifest by tag or digest; `None` when there is none.
    async fn manifest(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Manifest>>;

    /// The digest a tag (or digest) names; `None` when there is none.
    async fn resolve(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Digest>>;

    /// A small blob (an image config), refused past `limit` bytes.
    async fn blob_bytes(&self, repo: &Repository, digest: &Digest, limit: u64) -> StoreResult<Bytes>;

    async fn has_blob(&self, repo: &Repository, digest: &Digest) -> StoreResult<bool>;

    /// Puts `bytes` under `tag` (restore).
    async fn put_tag(&self, repo: &Repository, tag: &str, media_type: &str, bytes: Bytes) -> StoreResult<()>;

    /// When the manifest `digest` was stored, where the store knows it (a static root's file
    /// time); registries leave it to the image config's `created`.
    async fn stored_at(&self, repo: &Repository, digest: &Digest) -> Option<DateTime<Utc>> {
        let _ = (repo, digest);
        None
    }
}

/// The manifest a listed tag names: read by digest, or by tag when the digest alone is not
/// served (go-containerregistry's registry keeps the tags of a manifest deleted by digest,
/// readable only by tag) and the tag still names that digest.
pub async fn tagged_manifest(store: &dyn Store, repo: &Repository, tag: &str, digest: &Digest) -> StoreResult<Option<Manifest>> {
    match store.manifest(repo, digest.as_str()).await? {
        Some(m) => Ok(Some(m)),
        None => Ok(store.manifest(repo, tag).await?.filter(|(_, _, d)| d == digest)),
    }
}

#[async_trait::async_trait]
impl Store for Client {
    async fn manifest(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Manifest>> {
        match self.get_manifest(repo, reference).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn resolve(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Digest>> {
        Ok(self.head_manifest(repo, reference).await?.map(|d| d.digest))
    }

    async fn blob_bytes(&self, repo: &Repository, digest: &Digest, limit: u64) -> StoreResult<Bytes> {
        Ok(self.get_blob_bytes(repo, digest, limit).await?)
    }

    async fn has_blob(&self, repo: &Repository, digest: &Digest) -> StoreResult<bool> {
        Ok(self.blob_exists(repo, digest).await?.is_some())
    }

    async fn put_tag(&self, repo: &Repository, tag: &str, media_type: &str, bytes: Bytes) -> StoreResult<()> {
        self.put_manifest(repo, tag, media_type, bytes).await?;
        Ok(())
    }
}

/// A static root keeps repositories by path; the registry part of a [`Repository`] is
/// [`crate::drivers::STATIC_REGISTRY`].
#[async_trait::async_trait]
impl Store for StaticRoot {
    async fn manifest(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Manifest>> {
        Ok(self.read_manifest(&repo.path, reference).await?.map(|(bytes, media_type)| {
            let digest = Digest::of(&bytes);
            (bytes, media_type, digest)
        }))
    }

    async fn resolve(&self, repo: &Repository, reference: &str) -> StoreResult<Option<Digest>> {
        Ok(StaticRoot::resolve(self, &repo.path, reference).await?)
    }

    async fn blob_bytes(&self, repo: &Repository, digest: &Digest, limit: u64) -> StoreResult<Bytes> {
        Ok(self.read_blob(&repo.path, digest, limit).await?)
    }

    async fn has_blob(&self, repo: &Repository, digest: &Digest) -> StoreResult<bool> {
        Ok(StaticRoot::has_blob(self, &repo.path, digest).await?)
    }

    async fn put_tag(&self, repo: &Repository, tag: &str, media_type: &str, bytes: Bytes) -> StoreResult<()> {
        Ok(self.put_manifest(&repo.path, tag, media_type, &bytes).await?)
    }

    async fn stored_at(&self, repo: &Repository, digest: &Digest) -> Option<DateTime<Utc>> {
        self.manifest_time(&repo.path, digest).await.ok().flatten()
    }
}
