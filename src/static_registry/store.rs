//! A repository of a static registry (a directory or an S3 prefix laid out as `v2/…`).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;

use crate::spec::Digest;
use crate::static_registry::root::StaticRoot;
use crate::store::{BlobFile, ImageStore, Manifest, Result};

#[derive(Debug, Clone)]
pub struct StaticStore {
    root: StaticRoot,
    repo: String,
}

impl StaticStore {
    pub fn new(root: StaticRoot, repo: impl Into<String>) -> StaticStore {
        StaticStore { root, repo: repo.into() }
    }

    pub fn shared(root: StaticRoot, repo: impl Into<String>) -> Arc<dyn ImageStore> {
        Arc::new(StaticStore::new(root, repo))
    }
}

#[async_trait::async_trait]
impl ImageStore for StaticStore {
    fn name(&self) -> String {
        format!("static:{}/{}", self.root, self.repo)
    }

    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>> {
        Ok(StaticStore::shared(self.root.clone(), format!("{}/{suffix}", self.repo)))
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        Ok(self.root.resolve(&self.repo, reference).await?)
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>> {
        Ok(self.root.read_manifest(&self.repo, reference).await?.map(|(bytes, media_type)| {
            let digest = Digest::of(&bytes);
            (bytes, media_type, digest)
        }))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.root.has_blob(&self.repo, digest).await?)
    }

    async fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Bytes> {
        Ok(self.root.read_blob(&self.repo, digest, limit).await?)
    }

    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile> {
        Ok(match self.root.blob_file(&self.repo, digest).await? {
            (path, None) => BlobFile::kept(path),
            (_, Some(temp)) => BlobFile::temporary(temp),
        })
    }

    async fn put_blob_file(&self, digest: &Digest, _size: u64, path: &Path) -> Result<()> {
        Ok(self.root.put_blob_file(&self.repo, digest, path).await?)
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<()> {
        Ok(self.root.put_manifest(&self.repo, reference, media_type, &bytes).await?)
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<crate::spec::manifest::Descriptor>> {
        let found = crate::static_registry::referrers::read(&self.root, &self.repo, subject).await?;
        let found = match artifact_type {
            Some(t) => crate::static_registry::referrers::filter(found, t),
            None => found,
        };
        Ok(found
            .into_iter()
            .map(|r| crate::spec::manifest::Descriptor {
                artifact_type: r.artifact_type,
                annotations: r.annotations,
                ..crate::spec::manifest::Descriptor::new(r.media_type, r.digest, r.size)
            })
            .collect())
    }

    async fn stored_at(&self, digest: &Digest) -> Option<DateTime<Utc>> {
        self.root.manifest_time(&self.repo, digest).await.ok().flatten()
    }
}
