//! A name inside an OCI image layout (the embedded default target, the local stage cache):
//! its tags are the layout's `name:tag` references; blobs and manifests by digest are shared
//! by every name of the layout.

use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;

use super::{BlobFile, ImageStore, Manifest, Result, StoreError};
use crate::oci::layout::OciLayout;
use crate::spec::Digest;

#[derive(Debug, Clone)]
pub struct LayoutStore {
    layout: OciLayout,
    name: String,
}

impl LayoutStore {
    pub fn new(layout: OciLayout, name: impl Into<String>) -> LayoutStore {
        LayoutStore { layout, name: name.into() }
    }

    pub fn shared(layout: OciLayout, name: impl Into<String>) -> Arc<dyn ImageStore> {
        Arc::new(LayoutStore::new(layout, name))
    }

    fn reference(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name)
    }
}

/// The `mediaType` a manifest declares, or "" (the caller falls back to its descriptor's).
fn declared_media_type(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Declared {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Declared>(bytes).ok().and_then(|d| d.media_type).unwrap_or_default()
}

#[async_trait::async_trait]
impl ImageStore for LayoutStore {
    fn name(&self) -> String {
        format!("oci:{}:{}", self.layout.root().display(), self.name)
    }

    fn key(&self) -> String {
        format!("layout:{}", self.layout.root().display())
    }

    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>> {
        Ok(LayoutStore::shared(self.layout.clone(), format!("{}/{suffix}", self.name)))
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        if let Ok(digest) = reference.parse::<Digest>() {
            return Ok(self.layout.has_blob(&digest).then_some(digest));
        }
        Ok(self.layout.resolve(&self.reference(reference))?.map(|d| d.digest))
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>> {
        if let Ok(digest) = reference.parse::<Digest>() {
            if !self.layout.has_blob(&digest) {
                return Ok(None);
            }
            let bytes = self.layout.read_blob(&digest)?;
            return Ok(Some((bytes.clone(), declared_media_type(&bytes), digest)));
        }
        let Some(desc) = self.layout.resolve(&self.reference(reference))? else { return Ok(None) };
        let bytes = self.layout.read_blob(&desc.digest)?;
        Ok(Some((bytes, desc.media_type, desc.digest)))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.layout.has_blob(digest))
    }

    async fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Bytes> {
        let size = std::fs::metadata(self.layout.blob_path(digest)).map(|m| m.len()).unwrap_or(0);
        if size > limit {
            return Err(StoreError::Io {
                path: self.layout.blob_path(digest),
                source: std::io::Error::other(format!("larger than {limit} bytes")),
            });
        }
        Ok(self.layout.read_blob(digest)?)
    }

    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile> {
        Ok(BlobFile::kept(self.layout.blob_path(digest)))
    }

    async fn put_blob_file(&self, digest: &Digest, _size: u64, path: &Path) -> Result<()> {
        let (layout, digest, path) = (self.layout.clone(), digest.clone(), path.to_path_buf());
        tokio::task::spawn_blocking(move || layout.put_blob_file(&digest, &path))
            .await
            .map_err(|e| StoreError::Io { path: Default::default(), source: std::io::Error::other(e) })??;
        Ok(())
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<()> {
        if reference.parse::<Digest>().is_ok() {
            self.layout.put_blob_bytes(&bytes)?;
        } else {
            self.layout.put_manifest(&self.reference(reference), media_type, &bytes)?;
        }
        Ok(())
    }
}
