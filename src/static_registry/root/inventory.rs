//! What a root holds and how it shrinks: tag names, the manifests and blobs of a repository
//! with their times (for garbage collection and ranking), and removing tags and entries.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::io;

use super::*;

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
                match blocking(move || dir_backend::list_tags(&path)).await {
                    Ok(t) => t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(self.io_err(&dir.join(format!("v2/{repo}/manifests")))(e)),
                }
            }
            Backend::S3(s3) => s3
                .list(&format!("v2/{repo}/manifests"))
                .await?
                .into_iter()
                .filter(|n| dir_backend::is_tag_name(n))
                .collect(),
        };
        tags.sort();
        Ok(tags)
    }

    /// Rewrites an S3 root's `tags/list` for `repo` from its tag objects.
    pub(super) async fn write_s3_tag_list(&self, s3: &S3Root, repo: &str) -> Result<(), StaticError> {
        let list = serde_json::json!({"name": repo, "tags": self.tag_names(repo).await?}).to_string();
        s3.put_bytes(&tags_rel(repo), Bytes::from(list), "application/json").await
    }

    /// The digest-named entries of one area of `repo`, with size and time.
    pub async fn entries(&self, repo: &str, area: Area) -> Result<Vec<(Digest, ObjectEntry)>, StaticError> {
        self.check(repo, None)?;
        let listed = self.list_files(&area.rel(repo)).await?;
        Ok(listed.into_iter().filter_map(|e| Some((e.name.parse::<Digest>().ok()?, e))).collect())
    }

    /// A small blob whole, refused past `limit` bytes or when its bytes do not match `digest`.
    pub async fn read_blob(&self, repo: &str, digest: &Digest, limit: u64) -> Result<Bytes, StaticError> {
        let invalid = |message: String| self.invalid(format!("{repo}: blob {digest}: {message}"));
        let (size, body) = self.blob_stream(repo, digest).await?.ok_or_else(|| invalid("missing".into()))?;
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
            Backend::Dir(dir) => Ok(tokio::fs::metadata(dir.join(rel))
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .map(DateTime::<Utc>::from)),
            Backend::S3(s3) => s3.modified(&rel).await,
        }
    }

    /// Removes `tag` (its file, its media type, its place in `tags/list`); the manifest stays
    /// by digest. `false` when there was no such tag.
    pub async fn remove_tag(&self, repo: &str, tag: &str) -> Result<bool, StaticError> {
        self.check(repo, Some(tag))?;
        if tag.parse::<Digest>().is_ok() {
            return Err(self.invalid(format!("{tag} is a digest, not a tag")));
        }
        match &self.backend {
            Backend::Dir(dir) => {
                let (root, repo_s, tag) = (dir.clone(), repo.to_string(), tag.to_string());
                blocking(move || dir_backend::remove_tag_files(&root, &repo_s, &tag))
                    .await
                    .map_err(self.io_err(&dir.join("v2").join(repo)))
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
                let (root, repo_s, rel_s) = (dir.clone(), repo.to_string(), rel.clone());
                let manifest = (area == Area::Manifests).then(|| digest.clone());
                blocking(move || dir_backend::remove_file(&root, &repo_s, &rel_s, manifest.as_ref()))
                    .await
                    .map_err(self.io_err(&dir.join(&rel)))
            }
            Backend::S3(s3) => s3.delete(&rel).await,
        }
    }
}
