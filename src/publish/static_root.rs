//! A static registry: images laid out as the files a read-only distribution API would serve,
//! so a plain web server (or `wharf serve`) can serve them.
//!
//! ```text
//! ROOT/v2/<repo>/manifests/<tag>                 manifest bytes
//! ROOT/v2/<repo>/manifests/sha256:<hex>          the same, by digest
//! ROOT/v2/<repo>/blobs/sha256:<hex>              config and layers
//! ROOT/v2/<repo>/tags/list                       {"name": "<repo>", "tags": [...]}
//! ROOT/v2/<repo>/_wharf/media-types.json         {"<tag or digest>": "<media type>"}
//! ```
//!
//! Every file is written to a temporary name and renamed into place, so a reader never sees
//! half a file. The media-type map and `tags/list` are updated under a lock; a tag file is
//! written after its digest file and its media type, so whatever a tag names is complete.
//! `_wharf` cannot be a repository component (those start with a letter or digit).

use bytes::Bytes;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::registry::{validate_path_component, validate_tag};

/// The sidecar holding each manifest's media type, relative to `v2/<repo>/`.
pub const MEDIA_TYPES: &str = "_wharf/media-types.json";

#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    #[error("static root {root}: {path}: {source}")]
    Io { root: String, path: PathBuf, source: io::Error },
    #[error("static root {root}: {message}")]
    Invalid { root: String, message: String },
}

/// Where a static registry is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoot {
    dir: PathBuf,
}

impl std::fmt::Display for StaticRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dir.display())
    }
}

/// Checks a repository path for a static root (`a/b/c`, distribution grammar).
pub fn validate_repo(repo: &str) -> Result<(), String> {
    repo.split('/').try_for_each(validate_path_component)
}

impl StaticRoot {
    pub fn dir(dir: &Path) -> StaticRoot {
        StaticRoot { dir: dir.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.dir
    }

    /// `ROOT/v2/<repo>`.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.dir.join("v2").join(repo)
    }

    pub fn manifest_path(&self, repo: &str, reference: &str) -> PathBuf {
        self.repo_dir(repo).join("manifests").join(reference)
    }

    pub fn blob_path(&self, repo: &str, digest: &Digest) -> PathBuf {
        self.repo_dir(repo).join("blobs").join(digest.as_str())
    }

    fn io_err(&self, path: &Path) -> impl FnOnce(io::Error) -> StaticError + use<> {
        let (root, path) = (self.to_string(), path.to_path_buf());
        move |source| StaticError::Io { root, path, source }
    }

    fn check(&self, repo: &str, reference: Option<&str>) -> Result<(), StaticError> {
        let invalid = |message: String| StaticError::Invalid { root: self.to_string(), message };
        validate_repo(repo).map_err(|e| invalid(format!("repository {repo:?}: {e}")))?;
        if let Some(r) = reference
            && r.parse::<Digest>().is_err()
        {
            validate_tag(r).map_err(invalid)?;
        }
        Ok(())
    }

    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, StaticError> {
        self.check(repo, None)?;
        Ok(tokio::fs::metadata(self.blob_path(repo, digest)).await.is_ok_and(|m| m.is_file()))
    }

    /// Copies the verified blob file `src` into the repository.
    pub async fn put_blob_file(&self, repo: &str, digest: &Digest, src: &Path) -> Result<(), StaticError> {
        self.check(repo, None)?;
        let dest = self.blob_path(repo, digest);
        let (src, err) = (src.to_path_buf(), self.io_err(&dest));
        blocking(move || {
            let mut from = std::fs::File::open(&src)?;
            write_atomic_with(&dest, |to| io::copy(&mut from, to).map(|_| ()))
        })
        .await
        .map_err(err)
    }

    /// Writes a manifest by digest (`reference` a digest) or under a tag. A tag also gets the
    /// digest file, its media type in the sidecar and its place in `tags/list`.
    pub async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &Bytes) -> Result<(), StaticError> {
        self.check(repo, Some(reference))?;
        let digest = Digest::of(bytes);
        let by_digest = reference.parse::<Digest>().ok();
        if by_digest.as_ref().is_some_and(|d| *d != digest) {
            return Err(StaticError::Invalid { root: self.to_string(), message: format!("manifest bytes do not match {reference}") });
        }
        let (root, repo, reference, media_type, bytes) = (self.clone(), repo.to_string(), reference.to_string(), media_type.to_string(), bytes.clone());
        let err = self.io_err(&self.repo_dir(&repo));
        blocking(move || {
            let dir = root.repo_dir(&repo);
            std::fs::create_dir_all(dir.join("_wharf"))?;
            let _lock = lock(&dir.join("_wharf/lock"))?;
            let mut types = read_media_types(&dir)?;
            types.insert(digest.to_string(), media_type.clone());
            if by_digest.is_none() {
                types.insert(reference.clone(), media_type);
            }
            write_atomic(&dir.join(MEDIA_TYPES), &serde_json::to_vec_pretty(&types).map_err(io::Error::other)?)?;
            write_atomic(&root.manifest_path(&repo, digest.as_str()), &bytes)?;
            if by_digest.is_none() {
                write_atomic(&root.manifest_path(&repo, &reference), &bytes)?;
                let list = serde_json::json!({"name": repo, "tags": list_tags(&dir)?});
                write_atomic(&dir.join("tags/list"), &serde_json::to_vec(&list).map_err(io::Error::other)?)?;
            }
            Ok(())
        })
        .await
        .map_err(err)
    }

    /// A manifest and its media type (from the sidecar, else its own `mediaType`).
    pub async fn read_manifest(&self, repo: &str, reference: &str) -> Result<Option<(Bytes, String)>, StaticError> {
        self.check(repo, Some(reference))?;
        let path = self.manifest_path(repo, reference);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => Bytes::from(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_err(&path)(e)),
        };
        let dir = self.repo_dir(repo);
        let types = blocking(move || read_media_types(&dir)).await.map_err(self.io_err(&self.repo_dir(repo)))?;
        let media_type = types.get(reference).cloned().unwrap_or_else(|| sniff_media_type(&bytes));
        Ok(Some((bytes, media_type)))
    }

    /// The digest tagged `tag`, if any.
    pub async fn resolve(&self, repo: &str, tag: &str) -> Result<Option<Digest>, StaticError> {
        Ok(self.read_manifest(repo, tag).await?.map(|(b, _)| Digest::of(&b)))
    }
}

/// The media type a manifest names itself, else an OCI image manifest.
pub fn sniff_media_type(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| crate::registry::manifest::OCI_MANIFEST.to_string())
}

/// The sidecar of the repository directory `dir` (empty when absent).
pub fn read_media_types(dir: &Path) -> io::Result<BTreeMap<String, String>> {
    match std::fs::read(dir.join(MEDIA_TYPES)) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{MEDIA_TYPES}: {e}"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Tags with a manifest file in `dir/manifests`, sorted.
fn list_tags(dir: &Path) -> io::Result<Vec<String>> {
    let mut tags = Vec::new();
    for entry in std::fs::read_dir(dir.join("manifests"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if validate_tag(&name).is_ok() && !name.starts_with("sha256:") {
            tags.push(name);
        }
    }
    tags.sort();
    Ok(tags)
}

fn lock(path: &Path) -> io::Result<std::fs::File> {
    let f = std::fs::File::options().create(true).truncate(false).write(true).open(path)?;
    f.lock()?;
    Ok(f)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes through `fill` into a temporary file beside `path`, then renames it into place.
fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>) -> io::Result<()> {
    let parent = path.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let mut tmp = tempfile::Builder::new().prefix(".wharf-tmp-").tempfile_in(parent)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tag_writes_the_digest_file_the_media_type_and_the_tag_list() {
        let dir = tempfile::tempdir().unwrap();
        let root = StaticRoot::dir(dir.path());
        let bytes = Bytes::from_static(br#"{"schemaVersion":2}"#);
        let digest = Digest::of(&bytes);
        root.put_manifest("acme/app", "v1", "application/vnd.oci.image.index.v1+json", &bytes).await.unwrap();
        root.put_manifest("acme/app", "v2", "application/vnd.oci.image.index.v1+json", &bytes).await.unwrap();
        let repo = dir.path().join("v2/acme/app");
        assert_eq!(std::fs::read(repo.join("manifests").join(digest.as_str())).unwrap(), bytes);
        assert_eq!(std::fs::read(repo.join("manifests/v1")).unwrap(), bytes);
        let list: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("tags/list")).unwrap()).unwrap();
        assert_eq!(list, serde_json::json!({"name": "acme/app", "tags": ["v1", "v2"]}));
        let (_, mt) = root.read_manifest("acme/app", digest.as_str()).await.unwrap().unwrap();
        assert_eq!(mt, "application/vnd.oci.image.index.v1+json");
        assert_eq!(root.resolve("acme/app", "v1").await.unwrap(), Some(digest));
        assert_eq!(root.resolve("acme/app", "nope").await.unwrap(), None);
        assert!(root.put_manifest("../escape", "v1", "x", &bytes).await.is_err());
        assert!(root.put_manifest("acme/app", "../../x", "x", &bytes).await.is_err());
        let other = Digest::of(b"other");
        assert!(root.put_manifest("acme/app", other.as_str(), "x", &bytes).await.is_err(), "bytes must match a digest reference");
    }

    #[tokio::test]
    async fn blobs_are_copied_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let root = StaticRoot::dir(dir.path());
        let src = dir.path().join("src");
        std::fs::write(&src, b"layer").unwrap();
        let d = Digest::of(b"layer");
        assert!(!root.has_blob("a", &d).await.unwrap());
        root.put_blob_file("a", &d, &src).await.unwrap();
        assert!(root.has_blob("a", &d).await.unwrap());
        assert_eq!(std::fs::read(root.blob_path("a", &d)).unwrap(), b"layer");
    }
}
