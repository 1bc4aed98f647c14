//! An in-memory store for unit tests: repositories, tags, manifests and blobs in maps, shared
//! by every clone, with a count of what was written so tests can assert what a copy did.

use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{BlobFile, ImageStore, Manifest, Result, StoreError};
use crate::spec::Digest;

#[derive(Debug, Default)]
pub struct Space {
    /// Blobs and manifests by digest (shared by every repository, like a registry's storage).
    pub blobs: HashMap<Digest, Bytes>,
    /// (repository, tag) → (digest, media type).
    pub tags: BTreeMap<(String, String), (Digest, String)>,
    /// Manifests' media types by digest.
    pub media_types: HashMap<Digest, String>,
    /// Every write, in order: `blob <digest>`, `manifest <repo>:<reference>`.
    pub writes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MemoryStore {
    pub space: Arc<Mutex<Space>>,
    pub repo: String,
}

impl MemoryStore {
    pub fn new(repo: &str) -> MemoryStore {
        MemoryStore { space: Arc::default(), repo: repo.to_string() }
    }

    /// Another repository in the same space.
    pub fn sibling(&self, repo: &str) -> MemoryStore {
        MemoryStore { space: self.space.clone(), repo: repo.to_string() }
    }

    pub fn space(&self) -> std::sync::MutexGuard<'_, Space> {
        self.space.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a blob directly (test setup).
    pub fn add_blob(&self, bytes: &[u8]) -> Digest {
        let d = Digest::of(bytes);
        self.space().blobs.insert(d.clone(), Bytes::copy_from_slice(bytes));
        d
    }
}

#[async_trait::async_trait]
impl ImageStore for MemoryStore {
    fn name(&self) -> String {
        format!("memory:{}", self.repo)
    }

    fn key(&self) -> String {
        // One storage per space, like a layout's.
        format!("memory:{:p}", Arc::as_ptr(&self.space))
    }

    fn join(&self, suffix: &str) -> Result<Arc<dyn ImageStore>> {
        Ok(Arc::new(self.sibling(&format!("{}/{suffix}", self.repo))))
    }

    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        Ok(self.manifest(reference).await?.map(|(_, _, d)| d))
    }

    async fn manifest(&self, reference: &str) -> Result<Option<Manifest>> {
        let space = self.space();
        let (digest, media_type) = match reference.parse::<Digest>() {
            Ok(d) => match space.media_types.get(&d) {
                Some(mt) => (d, mt.clone()),
                None => return Ok(None),
            },
            Err(_) => match space.tags.get(&(self.repo.clone(), reference.to_string())) {
                Some(found) => found.clone(),
                None => return Ok(None),
            },
        };
        Ok(space.blobs.get(&digest).map(|b| (b.clone(), media_type, digest)))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.space().blobs.contains_key(digest))
    }

    async fn blob_bytes(&self, digest: &Digest, _limit: u64) -> Result<Bytes> {
        self.space().blobs.get(digest).cloned().ok_or_else(|| StoreError::Io {
            path: digest.to_string().into(),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    async fn blob_file(&self, digest: &Digest) -> Result<BlobFile> {
        let bytes = self.blob_bytes(digest, u64::MAX).await?;
        let tmp =
            tempfile::NamedTempFile::new().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
        std::fs::write(tmp.path(), &bytes).map_err(|source| StoreError::Io { path: tmp.path().into(), source })?;
        Ok(BlobFile::temporary(tmp.into_temp_path()))
    }

    async fn put_blob_file(&self, digest: &Digest, _size: u64, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|source| StoreError::Io { path: path.into(), source })?;
        assert_eq!(&Digest::of(&bytes), digest, "a copy stores what it claims");
        let mut space = self.space();
        space.writes.push(format!("blob {digest}"));
        space.blobs.insert(digest.clone(), bytes.into());
        Ok(())
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<()> {
        let digest = Digest::of(&bytes);
        let mut space = self.space();
        space.writes.push(format!("manifest {}:{reference}", self.repo));
        space.blobs.insert(digest.clone(), bytes);
        space.media_types.insert(digest.clone(), media_type.to_string());
        if reference.parse::<Digest>().is_err() {
            space.tags.insert((self.repo.clone(), reference.to_string()), (digest, media_type.to_string()));
        }
        Ok(())
    }
}
