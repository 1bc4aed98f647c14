//! A repository on a registry, through the distribution client.

use bytes::Bytes;
use futures::StreamExt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

use super::{BlobCopy, BlobFile, ImageStore, Manifest, Result, StoreError};
use crate::registry::{Client, Repository};
use crate::spec::Digest;
use crate::spec::manifest::Descriptor;

#[derive(Debug, Clone)]
pub struct RegistryStore {
    client: Client,
    repo: Repository,
}

impl RegistryStore {
    pub fn new(client: Client, repo: Repository) -> RegistryStore {
        RegistryStore { client, repo }
    }

    pub fn shared(client: Client, repo: Repository) -> Arc<dyn ImageStore> {
        Arc::new(RegistryStore::new(client, repo))
    }
}

/// A manifest's annotations, carried by its referrer descriptor.
fn manifest_annotations(bytes: &[u8]) -> Option<std::collections::BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Annotated {
        annotations: Option<std::collections::BTreeMap<String, String>>,
    }
    serde_json::from_slice::<Annotated>(bytes).ok()?.annotations.filter(|a| !a.is_empty())
}

#[async_trait::async_trait]
impl ImageStore for RegistryStore {
    fn name(&self) -> String {
        self.repo.to_string()
    }

    fn key(&self) -> String {
        format!("registry:{}", self.repo)
    }

    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>> {
        Ok(RegistryStore::shared(self.client.clone(), self.repo.join(suffix)?))
    }

    fn registry(&self) -> Option<(&Client, &Repository)> {
        Some((&self.client, &self.repo))
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        Ok(self.client.head_manifest(&self.repo, reference).await?.map(|d| d.digest))
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>> {
        match self.client.get_manifest(&self.repo, reference).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.client.blob_exists(&self.repo, digest).await?.is_some())
    }

    async fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Bytes> {
        Ok(self.client.get_blob_bytes(&self.repo, digest, limit).await?)
    }

    /// A verified download into a temporary file.
    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile> {
        let tmp =
            tempfile::NamedTempFile::new().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
        let path = tmp.into_temp_path();
        let io = |source| StoreError::Io { path: path.to_path_buf(), source };
        let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.map_err(io)?);
        let mut stream = self.client.get_blob(&self.repo, digest).await?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await.map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        }
        file.flush().await.map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        Ok(BlobFile::temporary(path))
    }

    async fn put_blob_file(&self, digest: &Digest, size: u64, path: &Path) -> Result<()> {
        self.client.push_blob_file(&self.repo, digest, size, path).await?;
        Ok(())
    }

    /// A manifest with a `subject` on a registry without the referrers API (no `OCI-Subject`
    /// in the answer) is also added to the subject's referrers tag (`sha256-<hex>`).
    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<()> {
        let subject = crate::spec::manifest::subject_of(&bytes);
        let (size, annotations) = (bytes.len() as u64, manifest_annotations(&bytes));
        let (digest, acked) = self.client.put_manifest_acked(&self.repo, reference, media_type, bytes).await?;
        if let (Some((subject, artifact_type)), None) = (subject, acked) {
            let mut referrer = Descriptor::new(media_type, digest, size);
            referrer.artifact_type = artifact_type;
            referrer.annotations = annotations;
            self.client.add_fallback_referrer(&self.repo, &subject, referrer).await?;
        }
        Ok(())
    }

    async fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        Ok(self.client.referrers(&self.repo, subject, artifact_type).await?.descriptors)
    }

    /// One upload per blob and registry at a time: two stages sharing a base layer must not
    /// both send it. A blob another repository of the same registry has (the origin, or where
    /// this run uploaded it) is mounted instead.
    async fn ensure_blob(&self, digest: &Digest, size: u64, origin: &dyn ImageStore) -> Result<BlobCopy> {
        let slot = self.client.upload_slot(&self.repo.registry, digest);
        let mut uploaded_to = slot.lock().await;
        if self.has_blob(digest).await? {
            return Ok(BlobCopy::Present);
        }
        let mount_from = match origin.registry() {
            Some((_, from)) if from.registry == self.repo.registry && *from != self.repo => Some(from),
            _ => uploaded_to.as_ref().filter(|from| **from != self.repo),
        };
        if let Some(from) = mount_from
            && self.client.mount_blob(&self.repo, from, digest).await?
        {
            return Ok(BlobCopy::Mounted);
        }
        let file = origin.blob_file(digest).await?;
        self.put_blob_file(digest, size, &file.path).await?;
        *uploaded_to = Some(self.repo.clone());
        Ok(BlobCopy::Written(size))
    }
}
