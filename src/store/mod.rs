//! Where images live, behind one interface.
//!
//! An [`ImageStore`] is one repository in one place: a registry repository
//! ([`RegistryStore`]), a name inside an OCI image layout ([`LayoutStore`], the embedded
//! default target and the local stage cache), a repository of a static registry
//! ([`StaticStore`]), or memory ([`memory::MemoryStore`], for tests). Every backend reads and
//! writes the same things — manifests by tag or digest, blobs, tags — so what moves images
//! between them ([`copy`](copy::copy_all)) and what reads them for cleanup is written once.
//! This follows regclient's `scheme.API` (registry and OCI-dir backends behind one interface)
//! and go-containerregistry, where every backend reads and writes the same `v1.Image`.
//!
//! A [`Location`] is a store and a tag; an [`Image`](image::Image) is a manifest (or an index
//! with its child manifests) with the store its blobs are read from.

pub mod copy;
#[cfg(test)]
pub(crate) mod copy_tests;
pub mod image;
mod layout;
#[cfg(test)]
pub(crate) mod memory;
mod registry;

pub use crate::static_registry::StaticStore;
pub use copy::{CopyStats, copy, copy_all, resolve};
pub use image::Image;
pub use layout::LayoutStore;
pub use registry::RegistryStore;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;

use crate::oci::layout::LayoutError;
use crate::registry::{Client, RegistryError, Repository};
use crate::spec::Digest;
use crate::static_registry::root::StaticError;

/// A manifest as stored: its bytes, media type and digest.
pub type Manifest = (Bytes, String, Digest);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Static(#[from] StaticError),
    #[error("{location}: manifest {digest} cannot be read: {message}")]
    Manifest {
        location: String,
        digest: Digest,
        message: String,
        /// A registry served it (a registry problem, exit 5), rather than local storage.
        from_registry: bool,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Reference(#[from] crate::spec::reference::ReferenceError),
}

impl StoreError {
    pub fn category(&self) -> crate::error::Category {
        use crate::error::Category;
        match self {
            StoreError::Registry(e) => e.category(),
            StoreError::Layout(e) => e.category(),
            StoreError::Static(e) => e.category(),
            StoreError::Manifest { from_registry: true, .. } => Category::Registry,
            StoreError::Manifest { .. } => Category::Input,
            StoreError::Io { .. } => Category::Local,
            StoreError::Reference(_) => Category::Usage,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A blob as a file on this machine: the store's own file, or a verified download that lives
/// as long as this value.
#[derive(Debug)]
pub struct BlobFile {
    pub path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

impl BlobFile {
    /// A file the store keeps (nothing to clean up).
    pub fn kept(path: PathBuf) -> BlobFile {
        BlobFile { path, _temp: None }
    }

    /// A temporary file, deleted when this value is dropped.
    pub fn temporary(path: tempfile::TempPath) -> BlobFile {
        BlobFile { path: path.to_path_buf(), _temp: Some(path) }
    }
}

/// What [`ImageStore::ensure_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCopy {
    /// It was there already.
    Present,
    /// Made available from another repository of the same registry, no bytes moved.
    Mounted,
    /// Uploaded (or written): this many bytes.
    Written(u64),
}

/// One repository of images, wherever it lives.
#[async_trait::async_trait]
pub trait ImageStore: Send + Sync + std::fmt::Debug {
    /// The repository for people: `host/path`, `oci:DIR:name`, `static:ROOT/path`.
    fn name(&self) -> String;

    /// Stores with the same key share blobs and manifests (they differ only by tag).
    fn key(&self) -> String {
        self.name()
    }

    /// The repository `suffix` below this one (multirepo `REPO/IMAGE`, `REPO/wharf-stages`).
    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>>;

    /// The registry client and repository, for what only registries do (publish records,
    /// cross-repository mounts, drivers); `None` elsewhere.
    fn registry(&self) -> Option<(&Client, &Repository)> {
        None
    }

    /// The digest a tag (or digest) names; `None` when there is none.
    async fn resolve(&self, reference: &str) -> Result<Option<Digest>>;

    /// A manifest by tag or digest; `None` when there is none.
    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>>;

    async fn has_blob(&self, digest: &Digest) -> Result<bool>;

    /// A small blob (an image config), refused past `limit` bytes.
    async fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Bytes>;

    /// The blob as a local file (see [`BlobFile`]).
    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile>;

    /// Stores the verified blob file `path` under `digest`.
    async fn put_blob_file(&self, digest: &Digest, size: u64, path: &std::path::Path) -> Result<()>;

    /// Stores `bytes` as a manifest under `reference` (a tag, or its digest).
    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<()>;

    /// When the manifest `digest` was stored, where the store knows it (a static root's file
    /// time); registries leave it to the image's own `created`.
    async fn stored_at(&self, digest: &Digest) -> Option<DateTime<Utc>> {
        let _ = digest;
        None
    }

    /// The manifests whose `subject` is `subject` (of `artifact_type` when given), as the
    /// distribution spec's referrers API lists them; none where the store keeps no such list.
    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<crate::spec::manifest::Descriptor>> {
        let _ = (subject, artifact_type);
        Ok(Vec::new())
    }

    /// Makes `digest` (of `size` bytes, readable from `origin`) present here: nothing when it
    /// is, a mount where the backend can, else a copy of the bytes.
    async fn ensure_blob(&self, digest: &Digest, size: u64, origin: &dyn ImageStore) -> Result<BlobCopy> {
        if self.has_blob(digest).await? {
            return Ok(BlobCopy::Present);
        }
        let file = origin.blob_file(digest).await?;
        self.put_blob_file(digest, size, &file.path).await?;
        Ok(BlobCopy::Written(size))
    }
}

/// Every repository of one place, by name: a registry (through one client) or a static root.
/// Cleanup and `tags` open the repositories a listing, plan or journal names through it.
pub trait Backend: Send + Sync {
    fn open(&self, repo: &Repository) -> Result<Arc<dyn ImageStore>>;

    /// The repository a plan or journal names (`host/path` on a registry, the path in a
    /// static root).
    fn repository(&self, name: &str) -> Result<Repository>;
}

impl Backend for Client {
    fn open(&self, repo: &Repository) -> Result<Arc<dyn ImageStore>> {
        Ok(RegistryStore::shared(self.clone(), repo.clone()))
    }

    fn repository(&self, name: &str) -> Result<Repository> {
        Ok(name.parse()?)
    }
}

impl Backend for crate::static_registry::root::StaticRoot {
    fn open(&self, repo: &Repository) -> Result<Arc<dyn ImageStore>> {
        Ok(StaticStore::shared(self.clone(), repo.path.clone()))
    }

    fn repository(&self, name: &str) -> Result<Repository> {
        let path = name.strip_prefix(crate::static_registry::driver::LEGACY_PREFIX).unwrap_or(name);
        Ok(Repository::in_static_root(path)?)
    }
}

/// The manifest a listed tag names: read by digest, or by tag when the digest alone is not
/// served (go-containerregistry's registry keeps the tags of a manifest deleted by digest,
/// readable only by tag) and the tag still names that digest.
pub async fn tagged_manifest(store: &dyn ImageStore, tag: &str, digest: &Digest) -> Result<Option<Manifest>> {
    match store.manifest(digest.as_str()).await? {
        Some(m) => Ok(Some(m)),
        None => Ok(store.manifest(tag).await?.filter(|(_, _, d)| d == digest)),
    }
}

/// A store and a tag in it: where one image is published.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ImageStore>,
    pub tag: String,
}

impl Location {
    pub fn new(store: Arc<dyn ImageStore>, tag: impl Into<String>) -> Location {
        Location { store, tag: tag.into() }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.store.name(), self.tag)
    }
}
