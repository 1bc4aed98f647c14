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
//!
//! The same layout goes to S3 ([`static_s3`](super::static_s3)), where each manifest's media
//! type is its object's `Content-Type` instead of a sidecar entry.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use futures::stream::BoxStream;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use super::static_s3::{ObjectEntry, S3Root};
use crate::spec::digest::Digest;
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

/// Where a static registry is written: a directory or an S3 bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoot {
    backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Backend {
    Dir(PathBuf),
    S3(S3Root),
}

impl std::fmt::Display for StaticRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Dir(dir) => write!(f, "{}", dir.display()),
            Backend::S3(s3) => write!(f, "{s3}"),
        }
    }
}

/// Checks a repository path for a static root (`a/b/c`, distribution grammar).
pub fn validate_repo(repo: &str) -> Result<(), String> {
    repo.split('/').try_for_each(validate_path_component)
}

/// Paths inside a root, shared by both backends.
fn manifest_rel(repo: &str, reference: &str) -> String {
    format!("v2/{repo}/manifests/{reference}")
}

fn blob_rel(repo: &str, digest: &Digest) -> String {
    format!("v2/{repo}/blobs/{digest}")
}

fn tags_rel(repo: &str) -> String {
    format!("v2/{repo}/tags/list")
}

/// A blob's size and its bytes as they are read.
pub type BlobBody = (u64, BoxStream<'static, io::Result<Bytes>>);

impl StaticRoot {
    pub fn dir(dir: &Path) -> StaticRoot {
        StaticRoot { backend: Backend::Dir(dir.to_path_buf()) }
    }

    pub fn s3(root: S3Root) -> StaticRoot {
        StaticRoot { backend: Backend::S3(root) }
    }

    /// The directory, for a directory root.
    pub fn local_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Dir(dir) => Some(dir),
            Backend::S3(_) => None,
        }
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
        match &self.backend {
            Backend::Dir(dir) => Ok(tokio::fs::metadata(dir.join(blob_rel(repo, digest))).await.is_ok_and(|m| m.is_file())),
            Backend::S3(s3) => Ok(s3.head(&blob_rel(repo, digest)).await?.is_some()),
        }
    }

    /// Copies the verified blob file `src` into the repository.
    pub async fn put_blob_file(&self, repo: &str, digest: &Digest, src: &Path) -> Result<(), StaticError> {
        self.check(repo, None)?;
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::S3(s3) => return s3.put_file(&blob_rel(repo, digest), src, "application/octet-stream").await,
        };
        let dest = dir.join(blob_rel(repo, digest));
        let (src, err) = (src.to_path_buf(), self.io_err(&dest));
        blocking(move || {
            let mut from = std::fs::File::open(&src)?;
            write_atomic_with(&dest, |to| io::copy(&mut from, to).map(|_| ()))
        })
        .await
        .map_err(err)
    }

    /// Writes a manifest by digest (`reference` a digest) or under a tag. A tag also gets the
    /// digest file, its media type and its place in `tags/list`.
    pub async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &Bytes) -> Result<(), StaticError> {
        self.check(repo, Some(reference))?;
        let digest = Digest::of(bytes);
        let tag = match reference.parse::<Digest>() {
            Ok(d) if d != digest => {
                return Err(StaticError::Invalid { root: self.to_string(), message: format!("manifest bytes do not match {reference}") });
            }
            Ok(_) => None,
            Err(_) => Some(reference.to_string()),
        };
        match &self.backend {
            Backend::Dir(dir) => {
                let (dir, repo, media_type, bytes) = (dir.clone(), repo.to_string(), media_type.to_string(), bytes.clone());
                let err = self.io_err(&dir.join("v2").join(&repo));
                blocking(move || put_manifest_files(&dir, &repo, &digest, tag.as_deref(), &media_type, &bytes)).await.map_err(err)
            }
            Backend::S3(s3) => {
                s3.put_bytes(&manifest_rel(repo, digest.as_str()), bytes.clone(), media_type).await?;
                let Some(tag) = tag else { return Ok(()) };
                s3.put_bytes(&manifest_rel(repo, &tag), bytes.clone(), media_type).await?;
                self.write_s3_tag_list(s3, repo).await
            }
        }
    }

    /// A manifest and its media type (the sidecar's or the object's, else its own `mediaType`).
    pub async fn read_manifest(&self, repo: &str, reference: &str) -> Result<Option<(Bytes, String)>, StaticError> {
        self.check(repo, Some(reference))?;
        let rel = manifest_rel(repo, reference);
        let (bytes, media_type) = match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(&rel);
                let bytes = match tokio::fs::read(&path).await {
                    Ok(b) => Bytes::from(b),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(self.io_err(&path)(e)),
                };
                let repo_dir = dir.join("v2").join(repo);
                let types = blocking(move || read_media_types(&repo_dir)).await.map_err(self.io_err(&dir.join("v2").join(repo)))?;
                (bytes, types.get(reference).cloned())
            }
            Backend::S3(s3) => match s3.get_bytes(&rel, crate::spec::manifest::MAX_MANIFEST_SIZE).await? {
                Some((bytes, content_type)) => (bytes, content_type.filter(|c| c.contains("manifest") || c.contains("index"))),
                None => return Ok(None),
            },
        };
        let media_type = media_type.unwrap_or_else(|| sniff_media_type(&bytes));
        Ok(Some((bytes, media_type)))
    }

    /// The digest tagged `tag`, if any.
    pub async fn resolve(&self, repo: &str, tag: &str) -> Result<Option<Digest>, StaticError> {
        Ok(self.read_manifest(repo, tag).await?.map(|(b, _)| Digest::of(&b)))
    }

    /// A blob's size and bytes, streamed; `None` when the repository has no such blob.
    pub async fn open_blob(&self, repo: &str, digest: &Digest) -> Result<Option<BlobBody>, StaticError> {
        self.check(repo, None)?;
        let rel = blob_rel(repo, digest);
        match &self.backend {
            Backend::Dir(dir) => {
                let Ok(file) = tokio::fs::File::open(dir.join(&rel)).await else { return Ok(None) };
                let size = file.metadata().await.map_err(self.io_err(&dir.join(&rel)))?.len();
                Ok(Some((size, tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed())))
            }
            Backend::S3(s3) => Ok(s3.open(&rel).await?.map(|(size, _, body)| (size, body))),
        }
    }

    /// A local file holding the blob: the root's own file, or a verified download kept alive
    /// by the returned temporary path.
    pub async fn blob_file(&self, repo: &str, digest: &Digest) -> Result<(PathBuf, Option<tempfile::TempPath>), StaticError> {
        if let Backend::Dir(dir) = &self.backend {
            return Ok((dir.join(blob_rel(repo, digest)), None));
        }
        let missing = || StaticError::Invalid { root: self.to_string(), message: format!("{repo}: blob {digest} is missing") };
        let (_, mut body) = self.open_blob(repo, digest).await?.ok_or_else(missing)?;
        let tmp = tempfile::NamedTempFile::new().map_err(self.io_err(&std::env::temp_dir()))?.into_temp_path();
        let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&tmp).await.map_err(self.io_err(&tmp))?);
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(self.io_err(&tmp))?;
            sha2::Digest::update(&mut hasher, &chunk);
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await.map_err(self.io_err(&tmp))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(self.io_err(&tmp))?;
        if Digest::from_hasher(hasher) != *digest {
            return Err(StaticError::Invalid { root: self.to_string(), message: format!("{repo}: blob {digest} does not match its digest") });
        }
        Ok((tmp.to_path_buf(), Some(tmp)))
    }

    /// The repository's `tags/list` document, if it has one.
    pub async fn tags_list(&self, repo: &str) -> Result<Option<Bytes>, StaticError> {
        self.check(repo, None)?;
        match &self.backend {
            Backend::Dir(dir) => Ok(tokio::fs::read(dir.join(tags_rel(repo))).await.ok().map(Bytes::from)),
            Backend::S3(s3) => Ok(s3.get_bytes(&tags_rel(repo), 16 << 20).await?.map(|(b, _)| b)),
        }
    }
}

/// The two stores of a repository that garbage collection sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `manifests/sha256:<hex>` (tag files are not listed here).
    Manifests,
    Blobs,
}

impl Area {
    fn rel(self, repo: &str) -> String {
        match self {
            Area::Manifests => format!("v2/{repo}/manifests"),
            Area::Blobs => format!("v2/{repo}/blobs"),
        }
    }
}

impl StaticRoot {
    /// The tags of `repo`, sorted; empty when the repository does not exist.
    pub async fn tag_names(&self, repo: &str) -> Result<Vec<String>, StaticError> {
        self.check(repo, None)?;
        let mut tags: Vec<String> = match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(format!("v2/{repo}"));
                match blocking(move || list_tags(&path)).await {
                    Ok(t) => t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(self.io_err(&dir.join(format!("v2/{repo}/manifests")))(e)),
                }
            }
            Backend::S3(s3) => s3.list(&format!("v2/{repo}/manifests")).await?.into_iter().filter(|n| is_tag_name(n)).collect(),
        };
        tags.sort();
        Ok(tags)
    }

    /// Rewrites an S3 root's `tags/list` for `repo` from its tag objects.
    async fn write_s3_tag_list(&self, s3: &S3Root, repo: &str) -> Result<(), StaticError> {
        let list = serde_json::json!({"name": repo, "tags": self.tag_names(repo).await?}).to_string();
        s3.put_bytes(&tags_rel(repo), Bytes::from(list), "application/json").await
    }

    /// The digest-named entries of one area of `repo`, with size and time.
    pub async fn entries(&self, repo: &str, area: Area) -> Result<Vec<(Digest, ObjectEntry)>, StaticError> {
        self.check(repo, None)?;
        let rel = area.rel(repo);
        let listed = match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(&rel);
                blocking(move || list_dir(&path)).await.map_err(self.io_err(&dir.join(&rel)))?
            }
            Backend::S3(s3) => s3.list_entries(&rel).await?,
        };
        Ok(listed.into_iter().filter_map(|e| Some((e.name.parse::<Digest>().ok()?, e))).collect())
    }

    /// A small blob whole, refused past `limit` bytes or when its bytes do not match `digest`.
    pub async fn read_blob(&self, repo: &str, digest: &Digest, limit: u64) -> Result<Bytes, StaticError> {
        let invalid = |message: String| StaticError::Invalid { root: self.to_string(), message: format!("{repo}: blob {digest}: {message}") };
        let (size, body) = self.open_blob(repo, digest).await?.ok_or_else(|| invalid("missing".into()))?;
        if size > limit {
            return Err(invalid(format!("{size} bytes, more than {limit}")));
        }
        let chunks: Vec<Bytes> = body.try_collect().await.map_err(|e| invalid(e.to_string()))?;
        let bytes = Bytes::from(chunks.concat());
        if Digest::of(&bytes) != *digest {
            return Err(invalid("its bytes do not match its digest".into()));
        }
        Ok(bytes)
    }

    /// When the manifest `digest` was written (its file's or object's time).
    pub async fn manifest_time(&self, repo: &str, digest: &Digest) -> Result<Option<DateTime<Utc>>, StaticError> {
        self.check(repo, None)?;
        let rel = manifest_rel(repo, digest.as_str());
        match &self.backend {
            Backend::Dir(dir) => Ok(tokio::fs::metadata(dir.join(rel)).await.ok().and_then(|m| m.modified().ok()).map(DateTime::<Utc>::from)),
            Backend::S3(s3) => s3.modified(&rel).await,
        }
    }

    /// Removes `tag` (its file, its media type, its place in `tags/list`); the manifest stays
    /// by digest. `false` when there was no such tag.
    pub async fn remove_tag(&self, repo: &str, tag: &str) -> Result<bool, StaticError> {
        self.check(repo, Some(tag))?;
        if tag.parse::<Digest>().is_ok() {
            return Err(StaticError::Invalid { root: self.to_string(), message: format!("{tag} is a digest, not a tag") });
        }
        match &self.backend {
            Backend::Dir(dir) => {
                let (root, repo_s, tag) = (dir.clone(), repo.to_string(), tag.to_string());
                blocking(move || remove_tag_files(&root, &repo_s, &tag)).await.map_err(self.io_err(&dir.join("v2").join(repo)))
            }
            Backend::S3(s3) => {
                if s3.head(&manifest_rel(repo, tag)).await?.is_none() {
                    return Ok(false);
                }
                s3.delete(&manifest_rel(repo, tag)).await?;
                self.write_s3_tag_list(s3, repo).await?;
                Ok(true)
            }
        }
    }

    /// Deletes a digest-named manifest or blob (garbage collection; absent is fine).
    pub async fn remove_entry(&self, repo: &str, area: Area, digest: &Digest) -> Result<(), StaticError> {
        self.check(repo, None)?;
        let rel = format!("{}/{digest}", area.rel(repo));
        match &self.backend {
            Backend::Dir(dir) => {
                let (root, repo_s, digest) = (dir.clone(), repo.to_string(), digest.clone());
                let path = dir.join(&rel);
                blocking(move || {
                    if area == Area::Manifests {
                        let repo_dir = root.join("v2").join(&repo_s);
                        let _lock = lock_repo(&repo_dir)?;
                        forget_media_type(&repo_dir, digest.as_str())?;
                    }
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    }
                })
                .await
                .map_err(self.io_err(&dir.join(&rel)))
            }
            Backend::S3(s3) => s3.delete(&rel).await,
        }
    }
}

/// Removes a directory root's tag under the repository lock: the tag file, its media type,
/// and its line in `tags/list`.
fn remove_tag_files(root: &Path, repo: &str, tag: &str) -> io::Result<bool> {
    let dir = root.join("v2").join(repo);
    if !dir.join("manifests").join(tag).is_file() {
        return Ok(false);
    }
    let _lock = lock_repo(&dir)?;
    match std::fs::remove_file(dir.join("manifests").join(tag)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        other => other?,
    }
    forget_media_type(&dir, tag)?;
    write_tag_list(root, repo)?;
    Ok(true)
}

/// The files of `dir` (none when it does not exist), skipping temporaries.
fn list_dir(dir: &Path) -> io::Result<Vec<ObjectEntry>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        out.push(ObjectEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            size: meta.len(),
            modified: meta.modified().ok().map(DateTime::<Utc>::from),
        });
    }
    Ok(out)
}

/// A directory root's files for one manifest, in an order that never shows a tag before what
/// it names: media types, the digest file, then the tag and `tags/list`.
fn put_manifest_files(root: &Path, repo: &str, digest: &Digest, tag: Option<&str>, media_type: &str, bytes: &[u8]) -> io::Result<()> {
    let dir = root.join("v2").join(repo);
    let _lock = lock_repo(&dir)?;
    let mut types = read_media_types(&dir)?;
    types.insert(digest.to_string(), media_type.to_string());
    if let Some(tag) = tag {
        types.insert(tag.to_string(), media_type.to_string());
    }
    write_media_types(&dir, &types)?;
    write_atomic(&root.join(manifest_rel(repo, digest.as_str())), bytes)?;
    if let Some(tag) = tag {
        write_atomic(&root.join(manifest_rel(repo, tag)), bytes)?;
        write_tag_list(root, repo)?;
    }
    Ok(())
}

/// Takes the lock of a directory root's repository `dir` (held while the file lives).
fn lock_repo(dir: &Path) -> io::Result<std::fs::File> {
    std::fs::create_dir_all(dir.join("_wharf"))?;
    lock(&dir.join("_wharf/lock"))
}

fn write_media_types(dir: &Path, types: &BTreeMap<String, String>) -> io::Result<()> {
    write_atomic(&dir.join(MEDIA_TYPES), &serde_json::to_vec_pretty(types).map_err(io::Error::other)?)
}

/// Drops `key` (a tag or digest) from the sidecar of the repository `dir`, if it is there.
fn forget_media_type(dir: &Path, key: &str) -> io::Result<()> {
    let mut types = read_media_types(dir)?;
    if types.remove(key).is_some() {
        write_media_types(dir, &types)?;
    }
    Ok(())
}

/// Rewrites a directory root's `tags/list` for `repo` from its tag files.
fn write_tag_list(root: &Path, repo: &str) -> io::Result<()> {
    let list = serde_json::json!({"name": repo, "tags": list_tags(&root.join("v2").join(repo))?});
    write_atomic(&root.join(tags_rel(repo)), &serde_json::to_vec(&list).map_err(io::Error::other)?)
}

fn is_tag_name(name: &str) -> bool {
    validate_tag(name).is_ok() && !name.starts_with("sha256:")
}

/// The media type a manifest names itself, else an OCI image manifest.
pub fn sniff_media_type(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| crate::spec::manifest::OCI_MANIFEST.to_string())
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
        if is_tag_name(&name) {
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

impl StaticError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            StaticError::Io { .. } => crate::error::Category::Local,
            StaticError::Invalid { .. } => crate::error::Category::Usage,
        }
    }
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
        assert_eq!(std::fs::read(root.blob_file("a", &d).await.unwrap().0).unwrap(), b"layer");
    }
}
