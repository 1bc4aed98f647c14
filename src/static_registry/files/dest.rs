//! The destination's files, through the static root's object layers
//! ([`objects`](crate::static_registry::objects)): a directory (files renamed into place,
//! created `0644` and read without following links) or an S3 prefix (objects with their
//! `Content-Type`).
//!
//! A file copied into a directory is hashed while it is copied and must match what the
//! source reading found, or it is not renamed into place (a file changed under a push is
//! caught). To S3 a file goes by its path, after a check that it is still a regular file of
//! the size found: the source is expected not to change while it is published.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io;

use super::source::{SourceFile, hash_copy, open_regular};
use super::{FilesError, RELEASE_FILE, Release, TAGS_FILE, TagList};
use crate::static_registry::objects::dir as dir_backend;
use crate::static_registry::root::{ObjectEntry, Objects, StaticError, StaticRoot, blocking};

/// Largest `tags.json` or `release.json` read.
const DOCUMENT_LIMIT: u64 = 16 << 20;

/// The `Content-Type` of a published file, by its extension (`application/octet-stream`
/// when unknown).
pub fn content_type(path: &str) -> &'static str {
    mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream")
}

/// `<name>/<version>`: a version's directory below DEST.
pub fn version_dir(name: &str, version: &str) -> String {
    format!("{name}/{version}")
}

/// A file whose bytes are not what the source reading found.
#[derive(Debug, thiserror::Error)]
#[error("changed while it was being published")]
struct Changed;

/// The held lock of a name (a directory root's file lock; nothing on S3).
pub struct NameLock(#[allow(dead_code)] Option<std::fs::File>);

/// A static root seen as the place of published files.
pub struct Dest<'a> {
    root: &'a StaticRoot,
}

impl<'a> Dest<'a> {
    pub fn new(root: &'a StaticRoot) -> Dest<'a> {
        Dest { root }
    }

    pub fn describe(&self) -> String {
        self.root.to_string()
    }

    fn io(&self, rel: &str) -> impl FnOnce(io::Error) -> FilesError + use<> {
        let (root, path) = (self.root.to_string(), rel.into());
        move |source| FilesError::Static(StaticError::Io { root, path, source })
    }

    /// Takes the lock of `name`: `DEST/<name>/_wharf/lock` on a directory root, held until
    /// dropped. (S3 has no lock: the command line takes wharf's run lock.)
    pub async fn lock(&self, name: &str) -> Result<NameLock, FilesError> {
        match self.root.objects() {
            Objects::Dir(dir) => {
                let path = dir.join(name);
                let err = self.io(name);
                Ok(NameLock(Some(blocking(move || dir_backend::lock_repo(&path)).await.map_err(err)?)))
            }
            Objects::S3(_) => Ok(NameLock(None)),
        }
    }

    /// The JSON document `rel`, or `None` when it is not there.
    async fn read_json<T: DeserializeOwned>(&self, rel: &str) -> Result<Option<T>, FilesError> {
        let Some(bytes) = self.root.read_small(rel, DOCUMENT_LIMIT).await? else {
            return Ok(None);
        };
        let doc = serde_json::from_slice(&bytes).map_err(|e| FilesError::Document {
            dest: self.describe(),
            path: rel.into(),
            problem: e.to_string(),
        })?;
        Ok(Some(doc))
    }

    async fn write_json<T: Serialize>(&self, rel: &str, doc: &T) -> Result<(), FilesError> {
        let bytes = serde_json::to_vec_pretty(doc).map_err(|e| self.io(rel)(io::Error::other(e)))?;
        Ok(self.root.write_small(rel, Bytes::from(bytes), "application/json").await?)
    }

    /// `<name>/tags.json`, or `None` when the name has none.
    pub async fn tags(&self, name: &str) -> Result<Option<TagList>, FilesError> {
        self.read_json(&format!("{name}/{TAGS_FILE}")).await
    }

    pub async fn write_tags(&self, tags: &TagList) -> Result<(), FilesError> {
        self.write_json(&format!("{}/{TAGS_FILE}", tags.name), tags).await
    }

    /// `<name>/<version>/release.json`, or `None` when it is not there.
    pub async fn release(&self, name: &str, version: &str) -> Result<Option<Release>, FilesError> {
        self.read_json(&format!("{}/{RELEASE_FILE}", version_dir(name, version))).await
    }

    pub async fn write_release(&self, release: &Release) -> Result<(), FilesError> {
        self.write_json(&format!("{}/{RELEASE_FILE}", version_dir(&release.name, &release.version)), release).await
    }

    /// Copies `file` to `<version_dir>/<file.rel>`.
    pub async fn put_file(&self, version_dir: &str, file: &SourceFile) -> Result<(), FilesError> {
        let rel = format!("{version_dir}/{}", file.rel);
        let src = file.local.clone();
        let (from, meta) = blocking(move || Ok(open_regular(&src))).await.map_err(self.io(&rel))??;
        let changed = || FilesError::Source {
            path: file.local.display().to_string(),
            problem: "changed while it was being published".into(),
            hint: Some("publish from a directory nothing writes to meanwhile".into()),
        };
        match self.root.objects() {
            Objects::Dir(dir) => {
                let (path, want) = (dir.join(&rel), (file.size, file.sha256.clone()));
                let copied = blocking(move || {
                    dir_backend::write_atomic_with(&path, |to| match hash_copy(from, to)? {
                        got if got == want => Ok(()),
                        _ => Err(io::Error::other(Changed)),
                    })
                })
                .await;
                match copied {
                    Err(e) if e.get_ref().is_some_and(|inner| inner.is::<Changed>()) => Err(changed()),
                    other => other.map_err(self.io(&rel)),
                }
            }
            Objects::S3(_) if meta.len() != file.size => Err(changed()),
            Objects::S3(s3) => Ok(s3.put_file(&rel, &file.local, content_type(&file.name)).await?),
        }
    }

    /// Everything below `rel_dir`, at any depth, named by its path below it.
    pub async fn list_tree(&self, rel_dir: &str) -> Result<Vec<ObjectEntry>, FilesError> {
        match self.root.objects() {
            Objects::Dir(dir) => {
                let path = dir.join(rel_dir);
                Ok(blocking(move || dir_backend::list_tree(&path)).await.map_err(self.io(rel_dir))?)
            }
            Objects::S3(s3) => Ok(s3.list_tree(rel_dir).await?),
        }
    }

    /// Deletes `rel` (absent is fine).
    pub async fn delete(&self, rel: &str) -> Result<(), FilesError> {
        Ok(self.root.delete_small(rel).await?)
    }

    /// Removes the empty directories left below (and at) `rel_dir` of a directory root.
    pub async fn prune(&self, rel_dir: &str) -> Result<(), FilesError> {
        if let Objects::Dir(dir) = self.root.objects() {
            let path = dir.join(rel_dir);
            blocking(move || dir_backend::remove_empty_dirs(&path)).await.map_err(self.io(rel_dir))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("alba/1.0/release.json"), "application/json");
        assert_eq!(content_type("alba/tags.json"), "application/json");
        assert_eq!(content_type("linux/amd64/alba-1.0.tar.gz"), "application/gzip");
        assert_eq!(content_type("windows/amd64/alba.zip"), "application/zip");
        assert_eq!(content_type("linux/amd64/NOTES.txt"), "text/plain");
        assert_eq!(content_type("linux/amd64/alba"), "application/octet-stream", "no extension");
        assert_eq!(content_type("linux/amd64/alba.sha256"), "application/octet-stream", "unknown extension");
    }
}
