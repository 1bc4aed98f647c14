//! Reading blobs: existence checks, cross-repository mounts and verified downloads.
//!
//! Downloads stream: [`BlobStream`] hashes the bytes as they pass and ends with an error if
//! the digest or the announced size does not match. Blob GETs usually redirect to storage on
//! another host; the reqwest redirect policy drops the Authorization header there.

use crate::registry::client::{Client, header_u64};
use crate::registry::error::{Context, RegistryError, Result};
use crate::registry::token::repository_scope;
use crate::registry::transport::{Req, Target, status_error, transport_error};
use crate::spec::digest::Digest;
use crate::spec::reference::Repository;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, LOCATION};
use sha2::Digest as _;
use std::pin::Pin;
use std::task::{Poll, ready};

/// A blob's bytes as they arrive, verified against the digest at the end.
pub struct BlobStream {
    /// The size the registry announced, if it did.
    pub size: Option<u64>,
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    hasher: Option<sha2::Sha256>,
    received: u64,
    expected: Digest,
    ctx: Context,
    host: String,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream").field("expected", &self.expected).field("size", &self.size).finish()
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(hasher) = this.hasher.as_mut() else { return Poll::Ready(None) };
        match ready!(this.inner.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                this.received += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                this.hasher = None;
                Poll::Ready(Some(Err(transport_error(&this.ctx, &this.host, e))))
            }
            None => {
                let Some(hasher) = this.hasher.take() else { return Poll::Ready(None) };
                Poll::Ready(this.finish(hasher).err().map(Err))
            }
        }
    }
}

impl BlobStream {
    fn finish(&self, hasher: sha2::Sha256) -> Result<()> {
        let actual = Digest::from_hasher(hasher);
        if actual != self.expected {
            return Err(RegistryError::DigestMismatch {
                ctx: self.ctx.clone().into(),
                expected: self.expected.clone(),
                actual,
            });
        }
        match self.size {
            Some(size) if size != self.received => {
                Err(RegistryError::protocol(&self.ctx, format!("announced {size} bytes but sent {}", self.received)))
            }
            _ => Ok(()),
        }
    }
}

impl Client {
    /// The blob's size if the repository has it, `None` if not.
    pub async fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<Option<u64>> {
        let path = format!("/v2/{}/blobs/{digest}", repo.path);
        let req = self.repo_req("check blob", repo, Method::HEAD, path, "pull");
        let resp = self.send(&req).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(header_u64(resp.headers(), CONTENT_LENGTH.as_str()).unwrap_or(0))),
            404 => Ok(None),
            _ => Err(status_error(&req.ctx, resp, None).await),
        }
    }

    /// Mounts a blob from `from` (same registry) into `repo`. `true` when mounted; `false` when
    /// the registry would not mount it (the upload session it opened instead is cancelled).
    pub async fn mount_blob(&self, repo: &Repository, from: &Repository, digest: &Digest) -> Result<bool> {
        if from.registry != repo.registry {
            return Ok(false);
        }
        let path = format!("/v2/{}/blobs/uploads/?mount={digest}&from={}", repo.path, from.path);
        let mut req = self.repo_req("mount blob", repo, Method::POST, path, "pull,push");
        req.scopes.push(repository_scope(&from.path, "pull"));
        req.headers.insert(CONTENT_LENGTH, reqwest::header::HeaderValue::from_static("0"));
        let resp = self.send(&req).await?;
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                self.cancel_upload(&req, &resp).await;
                Ok(false)
            }
            _ => Err(status_error(&req.ctx, resp, None).await),
        }
    }

    /// Best-effort DELETE of an upload session that will not be used.
    async fn cancel_upload(&self, origin: &Req, resp: &reqwest::Response) {
        let Some(location) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok()) else { return };
        let Ok(url) = resp.url().join(location) else { return };
        let mut req = Req::new(origin.ctx.clone(), &origin.registry, &origin.host, Method::DELETE, Target::Url(url));
        req.ctx.op = "cancel upload";
        req.scopes = origin.scopes.clone();
        req.retry = false;
        if let Err(e) = self.send(&req).await {
            tracing::debug!(error = %e, "could not cancel an unused upload session");
        }
    }

    /// Streams a blob; the stream's last item is an error if the bytes do not match `digest`.
    pub async fn get_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream> {
        let path = format!("/v2/{}/blobs/{digest}", repo.path);
        let req = self.repo_req("get blob", repo, Method::GET, path, "pull");
        let resp = self.send(&req).await?;
        if !resp.status().is_success() {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        let size = header_u64(resp.headers(), CONTENT_LENGTH.as_str());
        Ok(BlobStream {
            size,
            inner: Box::pin(resp.bytes_stream()),
            hasher: Some(sha2::Sha256::new()),
            received: 0,
            expected: digest.clone(),
            ctx: req.ctx,
            host: req.host,
        })
    }

    /// A whole blob in memory, refusing more than `max_size` bytes; verified.
    pub async fn get_blob_bytes(&self, repo: &Repository, digest: &Digest, max_size: u64) -> Result<Bytes> {
        let mut stream = self.get_blob(repo, digest).await?;
        let too_large =
            |ctx: &Context| RegistryError::TooLarge { ctx: ctx.clone().into(), what: "the blob", limit: max_size };
        if stream.size.is_some_and(|s| s > max_size) {
            return Err(too_large(&stream.ctx));
        }
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (out.len() + chunk.len()) as u64 > max_size {
                return Err(too_large(&stream.ctx));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}
