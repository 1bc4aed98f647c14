//! A static registry: images laid out as the files a read-only distribution API would serve,
//! so a plain web server (or `wharf serve`) can serve them.
//!
//! ```text
//! ROOT/v2/<repo>/manifests/<tag>                 manifest bytes
//! ROOT/v2/<repo>/manifests/sha256:<hex>          the same, by digest
//! ROOT/v2/<repo>/blobs/sha256:<hex>              config and layers
//! ROOT/v2/<repo>/tags/list                       {"name": "<repo>", "tags": [...]}
//! ROOT/v2/<repo>/referrers/sha256:<hex>          the referrers index of a manifest
//! ROOT/v2/<repo>/_wharf/media-types.json         {"<tag or digest>": "<media type>"}
//! ROOT/v2/<repo>/_wharf/referrers/<subject>/<referrer>   one referrer's descriptor
//! ```
//!
//! Every file is written to a temporary name and renamed into place, so a reader never sees
//! half a file. The media-type map and `tags/list` are updated under a lock; a tag file is
//! written after its digest file and its media type, so whatever a tag names is complete.
//! A manifest with a `subject` updates its subject's referrers index after it is written
//! ([`static_referrers`](super::static_referrers)). `_wharf` cannot be a repository
//! component (those start with a letter or digit).
//!
//! Two backends: a directory ([`static_dir`](super::static_dir): reads never follow a
//! symbolic link below the root) and S3 ([`static_s3`](super::static_s3), where each
//! manifest's media type is its object's `Content-Type` instead of a sidecar entry).

use bytes::Bytes;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::io;
use std::path::{Path, PathBuf};

pub use super::objects::dir::MEDIA_TYPES;
use super::objects::dir::{self as dir_backend, Contained};
pub use super::objects::s3::{ObjectEntry, S3Root};
pub use inventory::Area;

mod inventory;
use crate::registry::{validate_path_component, validate_tag};
use crate::spec::digest::Digest;

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

/// An opened blob: its size, what identifies this version of it (a file's device, inode,
/// size and time; an object's ETag), and its bytes.
pub struct OpenBlob {
    pub size: u64,
    pub version: String,
    pub body: BlobSource,
}

/// Where an opened blob's bytes come from.
pub enum BlobSource {
    /// A regular file below a directory root, opened without following links: read it at
    /// any offset ([`std::os::unix::fs::FileExt::read_at`]).
    File(std::sync::Arc<std::fs::File>),
    /// An object's bytes as they arrive.
    Stream(BoxStream<'static, io::Result<Bytes>>),
}

/// A root's backend, seen directly.
pub(crate) enum Objects<'a> {
    Dir(&'a Path),
    S3(&'a S3Root),
}

/// The held lock of a repository (a file lock for a directory root; nothing on S3).
pub struct RepoLock(#[allow(dead_code)] Option<std::fs::File>);

impl StaticRoot {
    pub fn dir(dir: &Path) -> StaticRoot {
        StaticRoot { backend: Backend::Dir(dir.to_path_buf()) }
    }

    pub fn s3(root: S3Root) -> StaticRoot {
        StaticRoot { backend: Backend::S3(root) }
    }

    /// Where the root's files are, for what lays out files of its own beside `v2/` (static
    /// file distribution, [`files`](super::files)).
    pub(crate) fn objects(&self) -> Objects<'_> {
        match &self.backend {
            Backend::Dir(dir) => Objects::Dir(dir),
            Backend::S3(s3) => Objects::S3(s3),
        }
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

    fn invalid(&self, message: String) -> StaticError {
        StaticError::Invalid { root: self.to_string(), message }
    }

    fn check(&self, repo: &str, reference: Option<&str>) -> Result<(), StaticError> {
        validate_repo(repo).map_err(|e| self.invalid(format!("repository {repo:?}: {e}")))?;
        if let Some(r) = reference
            && r.parse::<Digest>().is_err()
        {
            validate_tag(r).map_err(|e| self.invalid(e))?;
        }
        Ok(())
    }

    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, StaticError> {
        self.check(repo, None)?;
        match &self.backend {
            Backend::Dir(dir) => {
                Ok(tokio::fs::metadata(dir.join(blob_rel(repo, digest))).await.is_ok_and(|m| m.is_file()))
            }
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
            dir_backend::write_atomic_with(&dest, |to| io::copy(&mut from, to).map(|_| ()))
        })
        .await
        .map_err(err)
    }

    /// Writes a manifest by digest (`reference` a digest) or under a tag. A tag also gets the
    /// digest file, its media type and its place in `tags/list`; a manifest with a `subject`
    /// is added to its subject's referrers.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &Bytes,
    ) -> Result<(), StaticError> {
        self.check(repo, Some(reference))?;
        let digest = Digest::of(bytes);
        let tag = match reference.parse::<Digest>() {
            Ok(d) if d != digest => return Err(self.invalid(format!("manifest bytes do not match {reference}"))),
            Ok(_) => None,
            Err(_) => Some(reference.to_string()),
        };
        match &self.backend {
            Backend::Dir(dir) => {
                let (dir, repo, media_type, bytes, digest) =
                    (dir.clone(), repo.to_string(), media_type.to_string(), bytes.clone(), digest.clone());
                let err = self.io_err(&dir.join("v2").join(&repo));
                blocking(move || {
                    dir_backend::put_manifest_files(&dir, &repo, &digest, tag.as_deref(), &media_type, &bytes)
                })
                .await
                .map_err(err)?;
            }
            Backend::S3(s3) => {
                s3.put_bytes(&manifest_rel(repo, digest.as_str()), bytes.clone(), media_type).await?;
                if let Some(tag) = tag {
                    s3.put_bytes(&manifest_rel(repo, &tag), bytes.clone(), media_type).await?;
                    self.write_s3_tag_list(s3, repo).await?;
                }
            }
        }
        crate::static_registry::referrers::record(self, repo, &digest, media_type, bytes).await
    }

    /// A manifest and its media type (the sidecar's or the object's, else its own `mediaType`).
    pub async fn read_manifest(&self, repo: &str, reference: &str) -> Result<Option<(Bytes, String)>, StaticError> {
        self.check(repo, Some(reference))?;
        let rel = manifest_rel(repo, reference);
        let (bytes, media_type) = match &self.backend {
            Backend::Dir(dir) => {
                let Some(bytes) = self.read_small(&rel, crate::spec::manifest::MAX_MANIFEST_SIZE).await? else {
                    return Ok(None);
                };
                let (root, repo_s) = (dir.clone(), repo.to_string());
                let types = blocking(move || dir_backend::read_media_types(&root, &repo_s))
                    .await
                    .map_err(self.io_err(&dir.join("v2").join(repo)))?;
                (bytes, types.get(reference).cloned())
            }
            Backend::S3(s3) => match s3.get_bytes(&rel, crate::spec::manifest::MAX_MANIFEST_SIZE).await? {
                Some((bytes, content_type)) => {
                    (bytes, content_type.filter(|c| c.contains("manifest") || c.contains("index")))
                }
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

    /// A blob, ready to be read; `None` when the repository has no such blob (or, on a
    /// directory root, only a link or a special file where it should be).
    pub async fn open_blob(&self, repo: &str, digest: &Digest) -> Result<Option<OpenBlob>, StaticError> {
        self.check(repo, None)?;
        let rel = blob_rel(repo, digest);
        match &self.backend {
            Backend::Dir(dir) => {
                let (root, rel_s) = (dir.clone(), rel.clone());
                match blocking(move || dir_backend::open_contained(&root, &rel_s))
                    .await
                    .map_err(self.io_err(&dir.join(&rel)))?
                {
                    Contained::File(file, meta) => {
                        use std::os::unix::fs::MetadataExt;
                        let version = format!(
                            "{}:{}:{}:{}.{}",
                            meta.dev(),
                            meta.ino(),
                            meta.len(),
                            meta.mtime(),
                            meta.mtime_nsec()
                        );
                        Ok(Some(OpenBlob {
                            size: meta.len(),
                            version,
                            body: BlobSource::File(std::sync::Arc::new(file)),
                        }))
                    }
                    Contained::Missing => Ok(None),
                    Contained::Refused(why) => {
                        tracing::warn!(root = %self, path = rel, "refused to serve {why}");
                        Ok(None)
                    }
                }
            }
            Backend::S3(s3) => Ok(s3.open_ranged(&rel, None).await?.map(|o| OpenBlob {
                size: o.size,
                version: o.etag.unwrap_or_default(),
                body: BlobSource::Stream(o.body),
            })),
        }
    }

    /// A blob's size and version without reading it (`HEAD`); `None` as for [`Self::open_blob`].
    pub async fn stat_blob(&self, repo: &str, digest: &Digest) -> Result<Option<(u64, String)>, StaticError> {
        match &self.backend {
            Backend::Dir(_) => Ok(self.open_blob(repo, digest).await?.map(|b| (b.size, b.version))),
            Backend::S3(s3) => {
                self.check(repo, None)?;
                Ok(s3.stat(&blob_rel(repo, digest)).await?.map(|(size, etag)| (size, etag.unwrap_or_default())))
            }
        }
    }

    /// Bytes `range` (inclusive) of the blob of an S3 root: one ranged GET.
    pub async fn blob_range(
        &self,
        repo: &str,
        digest: &Digest,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<BoxStream<'static, io::Result<Bytes>>>, StaticError> {
        self.check(repo, None)?;
        match &self.backend {
            Backend::Dir(_) => Err(self.invalid("ranged reads of a directory root go through its file".into())),
            Backend::S3(s3) => Ok(s3.open_ranged(&blob_rel(repo, digest), Some(range)).await?.map(|o| o.body)),
        }
    }

    /// A blob's bytes as a stream (a directory root's file read in 256 KiB pieces).
    async fn blob_stream(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<(u64, BoxStream<'static, io::Result<Bytes>>)>, StaticError> {
        let Some(blob) = self.open_blob(repo, digest).await? else { return Ok(None) };
        let body = match blob.body {
            BlobSource::Stream(s) => s,
            BlobSource::File(file) => {
                let file = std::sync::Arc::try_unwrap(file).or_else(|shared| shared.try_clone());
                let file = file.map_err(self.io_err(Path::new(&blob_rel(repo, digest))))?;
                tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024).boxed()
            }
        };
        Ok(Some((blob.size, body)))
    }

    /// A local file holding the blob: the root's own file, or a verified download kept alive
    /// by the returned temporary path.
    pub async fn blob_file(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<(PathBuf, Option<tempfile::TempPath>), StaticError> {
        if let Backend::Dir(dir) = &self.backend {
            return Ok((dir.join(blob_rel(repo, digest)), None));
        }
        let missing = || self.invalid(format!("{repo}: blob {digest} is missing"));
        let (_, mut body) = self.blob_stream(repo, digest).await?.ok_or_else(missing)?;
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
            return Err(self.invalid(format!("{repo}: blob {digest} does not match its digest")));
        }
        Ok((tmp.to_path_buf(), Some(tmp)))
    }

    /// The repository's `tags/list` document, if it has one.
    pub async fn tags_list(&self, repo: &str) -> Result<Option<Bytes>, StaticError> {
        self.check(repo, None)?;
        self.read_small(&tags_rel(repo), 16 << 20).await
    }
}

/// Small files and the repository lock, the same on both backends (the referrers data is
/// kept with these).
impl StaticRoot {
    /// The file or object `rel` whole; `None` when absent. More than `limit` bytes is an error.
    pub(crate) async fn read_small(&self, rel: &str, limit: u64) -> Result<Option<Bytes>, StaticError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let (root, rel_s) = (dir.clone(), rel.to_string());
                let read = blocking(move || dir_backend::read_contained(&root, &rel_s, limit)).await;
                Ok(read.map_err(self.io_err(&dir.join(rel)))?.map(Bytes::from))
            }
            Backend::S3(s3) => Ok(s3.get_bytes(rel, limit).await?.map(|(b, _)| b)),
        }
    }

    /// Writes the file or object `rel` (atomically; `content_type` for S3).
    pub(crate) async fn write_small(&self, rel: &str, bytes: Bytes, content_type: &str) -> Result<(), StaticError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(rel);
                let err = self.io_err(&path);
                blocking(move || dir_backend::write_atomic(&path, &bytes)).await.map_err(err)
            }
            Backend::S3(s3) => s3.put_bytes(rel, bytes, content_type).await,
        }
    }

    /// The files or objects directly below `rel_dir` (none when it does not exist).
    pub(crate) async fn list_files(&self, rel_dir: &str) -> Result<Vec<ObjectEntry>, StaticError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(rel_dir);
                let err = self.io_err(&path);
                blocking(move || dir_backend::list_dir(&path)).await.map_err(err)
            }
            Backend::S3(s3) => s3.list_entries(rel_dir).await,
        }
    }

    /// Deletes the file or object `rel` (absent is fine).
    pub(crate) async fn delete_small(&self, rel: &str) -> Result<(), StaticError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join(rel);
                let err = self.io_err(&path);
                blocking(move || match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                })
                .await
                .map_err(err)
            }
            Backend::S3(s3) => s3.delete(rel).await,
        }
    }

    /// Takes `repo`'s lock (a directory root's file lock; S3 has none), held until dropped.
    pub(crate) async fn lock_repo(&self, repo: &str) -> Result<RepoLock, StaticError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let path = dir.join("v2").join(repo);
                let err = self.io_err(&path);
                Ok(RepoLock(Some(blocking(move || dir_backend::lock_repo(&path)).await.map_err(err)?)))
            }
            Backend::S3(_) => Ok(RepoLock(None)),
        }
    }
}

/// The media type a manifest names itself, else an OCI image manifest.
pub fn sniff_media_type(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| crate::spec::manifest::OCI_MANIFEST.to_string())
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
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
