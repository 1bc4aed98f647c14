//! Pushing blobs: skip when present, else one upload session, monolithic or chunked.
//!
//! `POST /v2/<name>/blobs/uploads/` opens a session. Blobs up to
//! [`ClientOptions::monolithic_limit`](crate::registry::ClientOptions) go in a single
//! `PUT <location>?digest=…`; larger ones go as `PATCH` chunks with `Content-Range`, then an
//! empty `PUT ?digest=`. `Location` may be relative or absolute, with or without a query.
//! Files stream from disk in slices, never whole in memory. A transient failure anywhere
//! restarts the upload in a fresh session (the individual requests are not repeated, since a
//! repeated PATCH would corrupt the session).

use crate::registry::client::Client;
use crate::registry::error::{Context, RegistryError, Result};
use crate::registry::transport::{Req, ReqBody, Target, backoff, status_error};
use crate::spec::digest::Digest;
use crate::spec::reference::Repository;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, RANGE};
use std::path::{Path, PathBuf};

/// Whether a push sent bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    /// The repository already had the blob; nothing was uploaded.
    Exists,
    Uploaded,
}

/// Where a blob's bytes come from.
#[derive(Debug, Clone)]
enum Source {
    Bytes(Bytes),
    File { path: PathBuf, size: u64 },
}

impl Source {
    fn size(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { size, .. } => *size,
        }
    }

    fn slice(&self, offset: u64, len: u64) -> ReqBody {
        match self {
            Source::Bytes(b) => {
                let (start, end) = (offset as usize, (offset + len) as usize);
                ReqBody::Bytes(b.slice(start..end))
            }
            Source::File { path, .. } => ReqBody::File { path: path.clone(), offset, len },
        }
    }
}

impl Client {
    /// Pushes an in-memory blob unless the repository has it already.
    pub async fn push_blob_bytes(&self, repo: &Repository, digest: &Digest, bytes: Bytes) -> Result<PushStatus> {
        self.push_blob(repo, digest, Source::Bytes(bytes)).await
    }

    /// Pushes `size` bytes from the file at `path`, streamed, unless the repository has the blob.
    pub async fn push_blob_file(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        path: &Path,
    ) -> Result<PushStatus> {
        let meta = tokio::fs::metadata(path).await.map_err(|source| RegistryError::Io {
            op: "push blob",
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() != size {
            let detail = format!("the file has {} bytes, the blob {size}", meta.len());
            let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, detail);
            return Err(RegistryError::Io { op: "push blob", path: path.to_path_buf(), source });
        }
        self.push_blob(repo, digest, Source::File { path: path.to_path_buf(), size }).await
    }

    async fn push_blob(&self, repo: &Repository, digest: &Digest, source: Source) -> Result<PushStatus> {
        if self.blob_exists(repo, digest).await?.is_some() {
            return Ok(PushStatus::Exists);
        }
        let opts = self.options();
        let mut attempt = 0;
        loop {
            match self.upload_once(repo, digest, &source).await {
                Ok(()) => return Ok(PushStatus::Uploaded),
                Err(e)
                    if e.is_retryable()
                        && attempt < opts.max_retries
                        && e.retry_after().is_none_or(|w| w <= opts.max_retry_after) =>
                {
                    let delay =
                        e.retry_after().unwrap_or_else(|| backoff(attempt, opts.initial_backoff, opts.max_backoff));
                    tracing::debug!(%digest, attempt, error = %e, "blob upload failed, restarting");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.with_attempts(attempt + 1)),
            }
        }
    }

    async fn upload_once(&self, repo: &Repository, digest: &Digest, source: &Source) -> Result<()> {
        let path = format!("/v2/{}/blobs/uploads/", repo.path);
        let mut start = self.repo_req("push blob", repo, Method::POST, path, "pull,push");
        start.ctx.object = Some(digest.to_string());
        // Upload-session requests are never repeated as such (a repeated PATCH or PUT could
        // corrupt the session); `push_blob` restarts the whole upload instead.
        start.retry = false;
        start.headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self.send(&start).await?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(&start.ctx, resp, None).await);
        }
        let mut location = next_location(&start.ctx, &resp)?;
        let size = source.size();
        let opts = self.options();
        if size <= opts.monolithic_limit {
            return self.finish_upload(&start, location, digest, source.slice(0, size), size).await;
        }
        let chunk = opts.chunk_size.max(1);
        let mut offset = 0;
        while offset < size {
            let len = chunk.min(size - offset);
            location = self.patch_chunk(&start, location, source.slice(offset, len), offset, len).await?;
            offset += len;
        }
        self.finish_upload(&start, location, digest, ReqBody::Bytes(Bytes::new()), 0).await
    }

    /// Sends one chunk; returns the session's next location.
    async fn patch_chunk(
        &self,
        start: &Req,
        location: url::Url,
        body: ReqBody,
        offset: u64,
        len: u64,
    ) -> Result<url::Url> {
        let end = offset + len - 1;
        let mut req = upload_req(start, Method::PATCH, location, body, len);
        req.headers.insert("content-range", header_value(&req.ctx, &format!("{offset}-{end}"))?);
        let resp = self.send(&req).await?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        check_range(&req.ctx, &resp, end)?;
        next_location(&req.ctx, &resp)
    }

    /// The closing `PUT ?digest=`, with the whole blob (monolithic) or nothing (chunked).
    async fn finish_upload(
        &self,
        start: &Req,
        mut location: url::Url,
        digest: &Digest,
        body: ReqBody,
        len: u64,
    ) -> Result<()> {
        location.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = upload_req(start, Method::PUT, location, body, len);
        let resp = self.send(&req).await?;
        if resp.status().as_u16() != 201 {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        Ok(())
    }
}

fn upload_req(start: &Req, method: Method, location: url::Url, body: ReqBody, len: u64) -> Req {
    let mut req = start.clone();
    req.method = method;
    req.target = Target::Url(location);
    req.body = body;
    req.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    req
}

fn header_value(ctx: &Context, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| RegistryError::protocol(ctx, "invalid header value"))
}

/// The session URL from `Location`, resolved against the URL that answered.
fn next_location(ctx: &Context, resp: &reqwest::Response) -> Result<url::Url> {
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| RegistryError::protocol(ctx, "the upload answer has no Location header"))?;
    resp.url()
        .join(location)
        .map_err(|_| RegistryError::protocol(ctx, "the upload answer's Location is not a valid URL"))
}

/// When the registry reports the received range (`Range: 0-<end>`), it must cover the chunk.
fn check_range(ctx: &Context, resp: &reqwest::Response, end: u64) -> Result<()> {
    let Some(range) = resp.headers().get(RANGE).and_then(|r| r.to_str().ok()) else { return Ok(()) };
    let reported = range.trim().trim_start_matches("bytes=").split_once('-').and_then(|(_, e)| e.parse::<u64>().ok());
    match reported {
        Some(r) if r != end => {
            Err(RegistryError::protocol(ctx, format!("the registry holds bytes up to {r}, expected {end}")))
        }
        _ => Ok(()),
    }
}
