//! An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`), readable by
//! skopeo (`oci:DIR:REF`) and umoci.
//!
//! Each tagged manifest is an entry of `index.json` carrying the annotation
//! `org.opencontainers.image.ref.name`. Blobs are written to a temporary file, checked
//! against their digest and renamed into place, so a reader never sees a partial blob;
//! `index.json` is rewritten atomically under a lock, so concurrent runs do not lose
//! each other's entries.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::spec::digest::Digest;
use crate::spec::manifest::{Descriptor, OCI_INDEX};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("OCI layout {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("OCI layout {path}: index.json is not valid: {message}")]
    Index { path: PathBuf, message: String },
    #[error("OCI layout {path}: blob {expected} has digest {actual}; refusing to store it")]
    DigestMismatch { path: PathBuf, expected: Digest, actual: Digest },
    #[error("OCI layout {path}: no manifest tagged {reference:?}")]
    NotFound { path: PathBuf, reference: String },
}

#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The `org.opencontainers.image.ref.name` of an index entry.
pub fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.as_ref()?.get(REF_NAME).map(String::as_str)
}

impl OciLayout {
    /// A layout at `root` that is only read from (nothing is created or checked).
    pub fn existing(root: &Path) -> OciLayout {
        OciLayout { root: root.to_path_buf() }
    }

    /// Opens the layout at `root`, creating an empty one if the directory has none.
    pub fn open(root: &Path) -> Result<OciLayout, LayoutError> {
        let layout = OciLayout { root: root.to_path_buf() };
        let io_err = layout.io_err(root);
        fs::create_dir_all(root.join("blobs/sha256")).map_err(io_err)?;
        let marker = root.join("oci-layout");
        if !marker.exists() {
            fs::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(layout.io_err(&marker))?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            layout.write_index(&Index { schema_version: 2, media_type: Some(OCI_INDEX.into()), manifests: vec![] })?;
        }
        Ok(layout)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores a blob from a reader, verifying its digest. Returns its size.
    pub fn put_blob_reader(&self, digest: &Digest, mut reader: impl Read) -> Result<u64, LayoutError> {
        let dest = self.blob_path(digest);
        if let Ok(meta) = fs::metadata(&dest) {
            return Ok(meta.len());
        }
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("blobs")).map_err(self.io_err(&dest))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(self.io_err(&dest))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(self.io_err(&dest))?;
            size += n as u64;
        }
        let actual = Digest::from_hasher(hasher);
        if &actual != digest {
            return Err(LayoutError::DigestMismatch { path: self.root.clone(), expected: digest.clone(), actual });
        }
        tmp.persist(&dest).map_err(|e| self.io_err(&dest)(e.error))?;
        Ok(size)
    }

    pub fn put_blob_bytes(&self, bytes: &[u8]) -> Result<Digest, LayoutError> {
        let digest = Digest::of(bytes);
        self.put_blob_reader(&digest, bytes)?;
        Ok(digest)
    }

    /// Links (or copies) a blob file that is already verified, e.g. from another layout.
    pub fn put_blob_file(&self, digest: &Digest, src: &Path) -> Result<(), LayoutError> {
        let dest = self.blob_path(digest);
        if dest.exists() {
            return Ok(());
        }
        if fs::hard_link(src, &dest).is_ok() {
            return Ok(());
        }
        let f = fs::File::open(src).map_err(self.io_err(src))?;
        self.put_blob_reader(digest, f).map(|_| ())
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Bytes, LayoutError> {
        let p = self.blob_path(digest);
        fs::read(&p).map(Bytes::from).map_err(self.io_err(&p))
    }

    /// The descriptor tagged `reference`, if any.
    pub fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, LayoutError> {
        Ok(self.read_index()?.manifests.into_iter().find(|d| ref_name(d) == Some(reference)))
    }

    /// Every reference name in the layout with its descriptor.
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>, LayoutError> {
        Ok(self
            .read_index()?
            .manifests
            .into_iter()
            .filter_map(|d| ref_name(&d).map(str::to_string).map(|r| (r, d)))
            .collect())
    }

    /// Stores manifest bytes as a blob and tags them `reference` (replacing an older entry
    /// with the same name). The blobs it points at must already be stored.
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Digest, LayoutError> {
        let digest = self.put_blob_bytes(bytes)?;
        let mut desc = Descriptor::new(media_type, digest.clone(), bytes.len() as u64);
        desc.annotations = Some([(REF_NAME.to_string(), reference.to_string())].into());
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        index.manifests.retain(|d| ref_name(d) != Some(reference));
        index.manifests.push(desc);
        self.write_index(&index)?;
        Ok(digest)
    }

    /// Removes the tag `reference` (the blobs stay until a garbage collection).
    pub fn remove_ref(&self, reference: &str) -> Result<bool, LayoutError> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| ref_name(d) != Some(reference));
        let removed = index.manifests.len() != before;
        if removed {
            self.write_index(&index)?;
        }
        Ok(removed)
    }

    fn lock(&self) -> Result<fs::File, LayoutError> {
        let p = self.root.join(".wharf.lock");
        let f = fs::File::options().create(true).truncate(false).write(true).open(&p).map_err(self.io_err(&p))?;
        f.lock().map_err(self.io_err(&p))?;
        Ok(f)
    }

    fn read_index(&self) -> Result<Index, LayoutError> {
        let p = self.root.join("index.json");
        let bytes = fs::read(&p).map_err(self.io_err(&p))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LayoutError::Index { path: self.root.clone(), message: e.to_string() })
    }

    fn write_index(&self, index: &Index) -> Result<(), LayoutError> {
        let p = self.root.join("index.json");
        let bytes = serde_json::to_vec(index)
            .map_err(|e| LayoutError::Index { path: self.root.clone(), message: e.to_string() })?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root).map_err(self.io_err(&p))?;
        tmp.write_all(&bytes).map_err(self.io_err(&p))?;
        tmp.persist(&p).map_err(|e| self.io_err(&p)(e.error))?;
        Ok(())
    }

    fn io_err(&self, path: &Path) -> impl FnOnce(io::Error) -> LayoutError + use<> {
        let path = path.to_path_buf();
        move |source| LayoutError::Io { path, source }
    }
}

impl LayoutError {
    /// wharf's own layouts (the embedded target, the stage cache) are local state; a layout
    /// given as input is read through [`ArchiveError`](super::ArchiveError) instead.
    pub fn category(&self) -> crate::error::Category {
        crate::error::Category::Local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_verified_and_manifests_tagged() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open(dir.path()).unwrap();
        let d = layout.put_blob_bytes(b"hello").unwrap();
        assert!(layout.has_blob(&d));
        let wrong = Digest::of(b"other");
        assert!(matches!(layout.put_blob_reader(&wrong, &b"hello"[..]), Err(LayoutError::DigestMismatch { .. })));
        assert!(!layout.has_blob(&wrong));

        let m1 = layout.put_manifest("app:v1", crate::spec::manifest::OCI_MANIFEST, b"{\"a\":1}").unwrap();
        let m2 = layout.put_manifest("app:v1", crate::spec::manifest::OCI_MANIFEST, b"{\"a\":2}").unwrap();
        layout.put_manifest("app:v2", crate::spec::manifest::OCI_MANIFEST, b"{\"a\":1}").unwrap();
        assert_ne!(m1, m2);
        assert_eq!(layout.resolve("app:v1").unwrap().unwrap().digest, m2, "retagging replaces the entry");
        assert_eq!(layout.refs().unwrap().len(), 2);
        assert!(layout.remove_ref("app:v2").unwrap());
        assert!(layout.resolve("app:v2").unwrap().is_none());

        let reopened = OciLayout::open(dir.path()).unwrap();
        assert_eq!(reopened.resolve("app:v1").unwrap().unwrap().digest, m2, "open keeps an existing index");
    }
}
