//! What a build-and-publish run reports about each image as it goes: wharf's own steps around
//! the engine's output. The engine's lines go through the build log
//! ([`Log`](crate::build::schedule::Log)); these events say what wharf does before and after
//! them. The command line turns both into progress lines (`cli/progress`); the library never
//! prints.
//!
//! Uploads are counted by [`metered`]: a location whose store reports each blob it makes
//! available (uploaded, mounted or already there), so no copy code knows about progress.

use std::sync::Arc;

use crate::registry::{Client, Repository};
use crate::spec::Digest;
use crate::spec::manifest::Descriptor;
use crate::store::{BlobCopy, BlobFile, ImageStore, Location, Manifest, Result};

/// One step of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Its stage digest is known; the run will make it available.
    Planned { stage: String },
    /// Its tags already point where its publish record says: nothing to build or publish.
    UpToDate,
    /// Its stage was built before (stages storage, cache or engine): nothing to build.
    Found,
    /// Its stage is being built; the engine's lines follow in the build log.
    Building,
    /// The built stage is being exported from the engine.
    Exporting,
    /// Its blobs are being made available at `to`: `total` bytes in all, some of which may be
    /// there already.
    Uploading { to: String, total: u64 },
    /// One blob of `bytes` is there now; `written` when they went over the wire (not already
    /// there, not mounted from another repository).
    Blob { bytes: u64, written: bool },
    /// Its tags are written: `references` of them (none for an image that is not published).
    Published { references: usize },
}

/// Receives `(image, event)`; images are named as the build log names them.
pub type Progress = Arc<dyn Fn(&str, &Event) + Send + Sync>;

/// Every blob of `image` (children included), with their total size.
pub fn total_size(image: &crate::store::Image) -> u64 {
    image.blobs.iter().map(|b| b.size).sum::<u64>() + image.children.iter().map(total_size).sum::<u64>()
}

/// `loc`, reporting each blob its store makes available as [`Event::Blob`] of `image`.
pub fn metered(loc: &Location, image: &str, progress: &Progress) -> Location {
    Location::new(meter(loc.store.clone(), image, progress), loc.tag.clone())
}

/// `store`, reporting each blob it makes available as [`Event::Blob`] of `image`.
pub fn meter(store: Arc<dyn ImageStore>, image: &str, progress: &Progress) -> Arc<dyn ImageStore> {
    Arc::new(Metered { inner: store, image: image.to_string(), progress: progress.clone() })
}

/// A store that tells `progress` about the blobs it makes available, and otherwise is `inner`.
struct Metered {
    inner: Arc<dyn ImageStore>,
    image: String,
    progress: Progress,
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered").field("inner", &self.inner).field("image", &self.image).finish()
    }
}

#[async_trait::async_trait]
impl ImageStore for Metered {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn key(&self) -> String {
        self.inner.key()
    }

    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>> {
        self.inner.join(suffix)
    }

    fn registry(&self) -> Option<(&Client, &Repository)> {
        self.inner.registry()
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        self.inner.resolve(reference).await
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>> {
        self.inner.manifest(reference).await
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        self.inner.has_blob(digest).await
    }

    async fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<bytes::Bytes> {
        self.inner.blob_bytes(digest, limit).await
    }

    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile> {
        self.inner.blob_file(digest).await
    }

    async fn put_blob_file(&self, digest: &Digest, size: u64, path: &std::path::Path) -> Result<()> {
        self.inner.put_blob_file(digest, size, path).await
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: bytes::Bytes) -> Result<()> {
        self.inner.put_manifest(reference, media_type, bytes).await
    }

    async fn stored_at(&self, digest: &Digest) -> Option<chrono::DateTime<chrono::Utc>> {
        self.inner.stored_at(digest).await
    }

    async fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.inner.referrers(subject, artifact_type).await
    }

    async fn ensure_blob(&self, digest: &Digest, size: u64, origin: &dyn ImageStore) -> Result<BlobCopy> {
        let done = self.inner.ensure_blob(digest, size, origin).await?;
        let written = matches!(done, BlobCopy::Written(_));
        (self.progress)(&self.image, &Event::Blob { bytes: size, written });
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_metered_copy_reports_every_blob_once_and_copies_as_before() {
        let source = MemoryStore::new("src");
        let image = crate::store::copy_tests::image_in(&source, "app", &[b"layer one", b"layer two"]);
        let target: Arc<dyn ImageStore> = Arc::new(MemoryStore::new("target"));
        let seen: Arc<Mutex<Vec<(String, Event)>>> = Arc::default();
        let sink = seen.clone();
        let progress: Progress =
            Arc::new(move |image: &str, e: &Event| sink.lock().unwrap().push((image.to_string(), e.clone())));
        let loc = metered(&Location::new(target.clone(), "v1"), "app", &progress);
        let stats = crate::store::copy(&image, &loc).await.unwrap();
        let events = seen.lock().unwrap().clone();
        assert_eq!(events.len(), image.blobs.len(), "{events:?}");
        let written: u64 =
            events.iter().map(|(_, e)| if let Event::Blob { bytes, written: true } = e { *bytes } else { 0 }).sum();
        assert_eq!(written, stats.bytes_uploaded);
        assert_eq!(written, total_size(&image));
        assert!(events.iter().all(|(name, _)| name == "app"));
        assert_eq!(target.resolve("v1").await.unwrap(), Some(image.digest.clone()));

        // A second copy finds everything there: the blobs are reported, none written.
        seen.lock().unwrap().clear();
        let again = metered(&Location::new(target, "v2"), "app", &progress);
        crate::store::copy(&image, &again).await.unwrap();
        assert!(seen.lock().unwrap().iter().all(|(_, e)| matches!(e, Event::Blob { written: false, .. })));
    }
}
