//! Moving images between stores, written once for every pair of backends: blobs first
//! (skipping those already there, mounting where the backend can), child manifests by digest,
//! and the tags last, so no tag ever points at a partial image.

use futures::{StreamExt, TryStreamExt};

use super::{BlobCopy, Image, Location, Result};
use crate::spec::Digest;
use crate::spec::manifest::Descriptor;

/// How many blobs go up at once.
const BLOB_CONCURRENCY: usize = 4;

/// What a copy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CopyStats {
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    pub blobs_mounted: usize,
    pub manifest_written: bool,
}

impl CopyStats {
    pub fn add(&mut self, o: CopyStats) {
        self.blobs_uploaded += o.blobs_uploaded;
        self.bytes_uploaded += o.bytes_uploaded;
        self.blobs_mounted += o.blobs_mounted;
        self.manifest_written |= o.manifest_written;
    }
}

/// The manifest digest tagged at `loc`, if any.
pub async fn resolve(loc: &Location) -> Result<Option<Digest>> {
    loc.store.resolve(&loc.tag).await
}

/// Makes `loc` point at `image`: blobs first (skipping those already there, mounting
/// across repositories of the same registry), the tag last. Nothing is written when the
/// tag already points at the image.
pub async fn copy(image: &Image, loc: &Location) -> Result<CopyStats> {
    copy_all(image, std::slice::from_ref(loc)).await
}

/// Makes every location point at `image`. The content (child manifests, blobs) goes to each
/// distinct store once; the tags are written only after all of it is everywhere, so a failure
/// leaves no tag pointing at a partial image.
pub async fn copy_all(image: &Image, locs: &[Location]) -> Result<CopyStats> {
    let mut pending = Vec::new();
    for loc in locs {
        if resolve(loc).await?.as_ref() != Some(&image.digest) {
            pending.push(loc);
        }
    }
    let mut stats = CopyStats::default();
    let mut done: Vec<String> = Vec::new();
    for loc in &pending {
        let key = loc.store.key();
        if !done.contains(&key) {
            stats.add(copy_content(image, loc).await?);
            done.push(key);
        }
    }
    for loc in pending {
        match put_manifest(image, loc, true).await {
            // Another writer in the same repository at the same moment (a concurrent publish)
            // can leave a blob unlinked: check the content again, once, and retry the tag.
            Err(super::StoreError::Registry(e)) if e.has_code("MANIFEST_BLOB_UNKNOWN") => {
                tracing::info!(%loc, "the registry lost a blob under a concurrent writer; checking the content again");
                stats.add(copy_content(image, loc).await?);
                put_manifest(image, loc, true).await?;
            }
            other => other?,
        }
        stats.manifest_written = true;
    }
    Ok(stats)
}

/// Everything `image` needs at `loc` except its own manifest: each child (its content, then
/// its manifest, by digest) and the blobs.
fn copy_content<'a>(image: &'a Image, loc: &'a Location) -> futures::future::BoxFuture<'a, Result<CopyStats>> {
    Box::pin(async move {
        let mut stats = CopyStats::default();
        for child in &image.children {
            stats.add(copy_content(child, loc).await?);
            put_manifest(child, loc, false).await?;
        }
        let copies: Vec<futures::future::BoxFuture<'_, Result<CopyStats>>> =
            image.blobs.iter().map(|b| Box::pin(copy_blob(image, b, loc)) as _).collect();
        let blobs = futures::stream::iter(copies)
            .buffer_unordered(BLOB_CONCURRENCY)
            .try_fold(CopyStats::default(), |mut acc, s| async move {
                acc.add(s);
                Ok(acc)
            })
            .await?;
        stats.add(blobs);
        Ok(stats)
    })
}

/// Writes `image`'s manifest at `loc`: under the location's tag, or by digest only (a child
/// already there by digest is left alone).
async fn put_manifest(image: &Image, loc: &Location, tagged: bool) -> Result<()> {
    let reference = if tagged { loc.tag.clone() } else { image.digest.to_string() };
    if !tagged && loc.store.resolve(&reference).await?.is_some() {
        return Ok(());
    }
    loc.store.put_manifest(&reference, &image.media_type, image.manifest.clone()).await
}

async fn copy_blob(image: &Image, blob: &Descriptor, loc: &Location) -> Result<CopyStats> {
    let mut stats = CopyStats::default();
    match loc.store.ensure_blob(&blob.digest, blob.size, image.origin.as_ref()).await? {
        BlobCopy::Present => {}
        BlobCopy::Mounted => stats.blobs_mounted = 1,
        BlobCopy::Written(bytes) => {
            stats.blobs_uploaded = 1;
            stats.bytes_uploaded = bytes;
        }
    }
    Ok(stats)
}
