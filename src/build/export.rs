//! A stage out of the engine and into wharf's cache, with its blobs already on their way to
//! where the image goes.
//!
//! `docker save` streams from the engine into the converter
//! ([`docker_stream`](crate::oci::docker_stream)), which compresses each layer as it arrives;
//! each blob, once in the cache, is uploaded to the registries the image will be published
//! to (and its stages' registry) while the export goes on. Export, conversion and upload
//! overlap; the copies that follow find the blobs there and write the manifests. An upload
//! that fails here is left to those copies, which report it.

use futures::StreamExt;
use std::path::Path;
use std::sync::Arc;

use super::engine::{Engine, EngineError};
use crate::oci::docker_archive::Imported;
use crate::oci::docker_stream::{ChannelReader, import_stream};
use crate::oci::layout::OciLayout;
use crate::oci::{ArchiveError, Descriptor};
use crate::store::{BlobCopy, CopyStats, ImageStore, LayoutStore};

/// Blobs uploaded at once while exporting.
const UPLOADS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the engine exported no image")]
    Empty,
}

/// Exports `reference` from `engine` into `cache`, uploading each blob to `destinations` as
/// soon as it is converted. Returns the image and what the uploads did.
pub async fn export(
    engine: &dyn Engine,
    reference: &str,
    cache: &OciLayout,
    destinations: &[Arc<dyn ImageStore>],
) -> Result<(Imported, CopyStats), ExportError> {
    let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    let (blobs_tx, blobs_rx) = tokio::sync::mpsc::unbounded_channel::<Descriptor>();
    let (layout, shown) = (cache.clone(), format!("docker save {reference}"));
    let convert = tokio::task::spawn_blocking(move || {
        let on_blob = move |d: &Descriptor| {
            let _ = blobs_tx.send(d.clone());
        };
        import_stream(ChannelReader::new(chunks_rx), &layout, Path::new(&shown), &on_blob)
    });
    let origin = LayoutStore::shared(cache.clone(), "export");
    let uploads = upload_all(blobs_rx, destinations.to_vec(), origin);
    let (saved, converted, stats) = tokio::join!(engine.save_stream(reference, chunks_tx), convert, uploads);
    // The engine's failure explains a truncated archive better than the converter can.
    saved?;
    let imported = converted.map_err(|e| ArchiveError::invalid(Path::new(reference), e.to_string()))??;
    let first = imported.into_iter().next().ok_or(ExportError::Empty)?;
    Ok((first, stats))
}

/// Uploads each announced blob to every destination, a few at a time, until the converter
/// is done; failures are left to the copies that follow.
async fn upload_all(
    mut blobs: tokio::sync::mpsc::UnboundedReceiver<Descriptor>,
    destinations: Vec<Arc<dyn ImageStore>>,
    origin: Arc<dyn ImageStore>,
) -> CopyStats {
    let mut stats = CopyStats::default();
    let mut running = futures::stream::FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = blobs.recv(), if open && running.len() < UPLOADS => match next {
                Some(d) => {
                    for store in &destinations {
                        running.push(upload(store.clone(), origin.clone(), d.clone()));
                    }
                }
                None => open = false,
            },
            Some(done) = running.next(), if !running.is_empty() => match done {
                Ok(BlobCopy::Written(bytes)) => {
                    stats.blobs_uploaded += 1;
                    stats.bytes_uploaded += bytes;
                }
                Ok(BlobCopy::Mounted) => stats.blobs_mounted += 1,
                Ok(BlobCopy::Present) => {}
                Err(e) => tracing::debug!("an upload while exporting failed (the copy after it retries): {e}"),
            },
            else => break,
        }
    }
    stats
}

async fn upload(
    store: Arc<dyn ImageStore>,
    origin: Arc<dyn ImageStore>,
    blob: Descriptor,
) -> Result<BlobCopy, crate::store::StoreError> {
    store.ensure_blob(&blob.digest, blob.size, origin.as_ref()).await
}

/// Where a stage's blobs go besides the cache: each registry store once.
pub fn registries(stores: impl IntoIterator<Item = Arc<dyn ImageStore>>) -> Vec<Arc<dyn ImageStore>> {
    let mut out: Vec<Arc<dyn ImageStore>> = Vec::new();
    for s in stores {
        if s.registry().is_some() && !out.iter().any(|o| o.key() == s.key()) {
            out.push(s);
        }
    }
    out
}
