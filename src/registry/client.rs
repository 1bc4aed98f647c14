//! The distribution client: options, construction, ping and manifest operations.
//!
//! [`Client`] is cheap to clone: clones share one reqwest client, the token cache, the
//! per-host scheme choice and the per-host auth challenge. Blob operations live in
//! `blob.rs` and `upload.rs`, tag listing in `tags.rs`; all go through `transport.rs`.

use crate::auth::CredentialStore;
use crate::registry::challenge::Challenge;
use crate::registry::error::{Context, RegistryError, Result, delete_hint};
use crate::registry::token::{TokenCache, repository_scope};
use crate::registry::transport::{Req, ReqBody, Target, status_error};
use crate::spec::digest::Digest;
use crate::spec::manifest::{self, ACCEPTED_MANIFESTS, Descriptor, MAX_MANIFEST_SIZE};
use crate::spec::reference::{Repository, api_host, validate_tag};
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The header registries put a content digest in.
pub const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// How the client behaves. `Default` suits public registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP after HTTPS fails.
    pub insecure_hosts: Vec<String>,
    pub credentials: CredentialStore,
    pub user_agent: String,
    /// Retries after the first attempt, for requests that are safe to repeat.
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned.
    pub max_retry_after: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for an answer or for the next piece of a body being read. With reqwest this
    /// also bounds sending a request body, so keep `chunk_size / read_timeout` below the slowest
    /// upload rate to expect (the default allows ~220 KB/s with 64 MiB chunks).
    pub read_timeout: Duration,
    /// Blobs up to this size go in one PUT; larger ones in chunks.
    pub monolithic_limit: u64,
    /// Size of each PATCH in a chunked upload.
    pub chunk_size: u64,
    /// CA certificates trusted besides the system's roots (`--ca-file`).
    pub extra_roots: Vec<reqwest::Certificate>,
    /// Hosts (`host` or `host:port`) whose TLS certificates are not verified
    /// (`--skip-tls-verify-registry`); every other host, and every redirect away from these,
    /// is verified.
    pub skip_verify_hosts: Vec<String>,
    /// A repository with more tags than this is an error, not a partial list (`--max-tags`).
    pub max_tags: usize,
    /// Told the number of tags listed so far after each page (a progress line on a terminal).
    pub list_progress: Option<ListProgress>,
}

/// Told the repository and how many of its tags are listed so far.
pub type ListProgressFn = dyn Fn(&Repository, usize) + Send + Sync;

/// Callback for tag-listing progress.
#[derive(Clone)]
pub struct ListProgress(pub Arc<ListProgressFn>);

impl std::fmt::Debug for ListProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListProgress")
    }
}

/// The default for [`ClientOptions::max_tags`].
pub const DEFAULT_MAX_TAGS: usize = 100_000;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_hosts: Vec::new(),
            credentials: CredentialStore::new(),
            user_agent: format!("wharf/{}", env!("CARGO_PKG_VERSION")),
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(300),
            monolithic_limit: 64 * 1024 * 1024,
            chunk_size: 64 * 1024 * 1024,
            extra_roots: Vec::new(),
            skip_verify_hosts: Vec::new(),
            max_tags: DEFAULT_MAX_TAGS,
            list_progress: None,
        }
    }
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    /// For `skip_verify_hosts` only: certificates unchecked, redirects followed only to those
    /// hosts (others come back to the transport, which follows them with `http`).
    pub http_unverified: Option<reqwest::Client>,
    pub opts: ClientOptions,
    pub tokens: TokenCache,
    pub schemes: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<&'static str>>>>,
    pub challenges: Mutex<HashMap<String, Challenge>>,
    pub uploads: Mutex<HashMap<(String, Digest), UploadSlot>>,
}

/// One blob's uploads to one registry through this client: held while the blob goes up, so a
/// second copy of it waits and then finds it (same repository) or mounts it from where it
/// went (`Some(repository)`), instead of uploading it again.
pub type UploadSlot = Arc<tokio::sync::Mutex<Option<Repository>>>;

/// An OCI distribution client.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("opts", &self.inner.opts).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                // TLS is verified against the system's roots plus --ca-file.
                .tls_certs_merge(opts.extra_roots.clone())
        };
        // reqwest drops Authorization on redirects to another host, port or scheme.
        let http = builder().redirect(reqwest::redirect::Policy::limited(10)).build().map_err(RegistryError::Setup)?;
        let http_unverified = match opts.skip_verify_hosts.is_empty() {
            true => None,
            false => {
                let hosts = opts.skip_verify_hosts.clone();
                let policy = reqwest::redirect::Policy::custom(move |attempt| {
                    let host = attempt.url().host_str().map(str::to_string).unwrap_or_default();
                    let port = attempt.url().port().map(|p| format!("{host}:{p}"));
                    let unverified = hosts.iter().any(|h| *h == host || Some(h) == port.as_ref());
                    match (attempt.previous().len() >= 10, unverified) {
                        (true, _) => attempt.error("too many redirects"),
                        (false, true) => attempt.follow(),
                        (false, false) => attempt.stop(),
                    }
                });
                Some(
                    builder()
                        .redirect(policy)
                        .tls_danger_accept_invalid_certs(true)
                        .build()
                        .map_err(RegistryError::Setup)?,
                )
            }
        };
        let inner = Inner {
            http,
            http_unverified,
            opts,
            tokens: TokenCache::default(),
            schemes: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
        };
        Ok(Client { inner: Arc::new(inner) })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// The single-flight slot of `digest` on `registry` (see [`UploadSlot`]).
    pub fn upload_slot(&self, registry: &str, digest: &Digest) -> UploadSlot {
        let mut slots = self.inner.uploads.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry((registry.to_string(), digest.clone())).or_default().clone()
    }

    /// A request on `repo` needing `actions` (`pull`, `pull,push`, `delete`).
    pub(crate) fn repo_req(
        &self,
        op: &'static str,
        repo: &Repository,
        method: Method,
        path: String,
        actions: &str,
    ) -> Req {
        let mut ctx = Context::new(op, &repo.registry, Some(&repo.path));
        ctx.object = object_of(&path);
        let mut req = Req::new(ctx, &repo.registry, repo.api_host(), method, Target::Path(path));
        req.scopes = vec![repository_scope(&repo.path, actions)];
        req
    }

    /// Checks that the registry answers the distribution API (authenticating when asked to).
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let ctx = Context::new("ping", registry, None);
        let req = Req::new(ctx.clone(), registry, api_host(registry), Method::GET, Target::Path("/v2/".into()));
        let resp = self.send(&req).await?;
        if resp.status().is_success() { Ok(()) } else { Err(status_error(&ctx, resp, None).await) }
    }

    /// The descriptor of a manifest by tag or digest; `None` when it does not exist.
    pub async fn head_manifest(&self, repo: &Repository, reference: &str) -> Result<Option<Descriptor>> {
        let path = manifest_path(repo, reference)?;
        let req = self.repo_req("head manifest", repo, Method::HEAD, path, "pull").header(ACCEPT, &accept())?;
        let resp = self.send(&req).await?;
        match resp.status().as_u16() {
            404 => return Ok(None),
            200..=299 => {}
            _ => return Err(status_error(&req.ctx, resp, None).await),
        }
        let headers = resp.headers();
        let media_type = content_type(headers).unwrap_or_default();
        let size = header_u64(headers, CONTENT_LENGTH.as_str());
        let digest = header_digest(headers).or_else(|| reference.parse::<Digest>().ok());
        match (digest, size) {
            (Some(digest), Some(size)) if !media_type.is_empty() => Ok(Some(Descriptor::new(media_type, digest, size))),
            // Incomplete HEAD answer (some registries): fetch the manifest instead.
            _ => {
                let (bytes, media_type, digest) = self.get_manifest(repo, reference).await?;
                Ok(Some(Descriptor::new(media_type, digest, bytes.len() as u64)))
            }
        }
    }

    /// A manifest's bytes, media type and digest (verified). Refuses manifests over 4 MiB.
    pub async fn get_manifest(&self, repo: &Repository, reference: &str) -> Result<(Bytes, String, Digest)> {
        let path = manifest_path(repo, reference)?;
        let req = self.repo_req("get manifest", repo, Method::GET, path, "pull").header(ACCEPT, &accept())?;
        let resp = self.send(&req).await?;
        if !resp.status().is_success() {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        let header_media_type = content_type(resp.headers());
        let claimed = header_digest(resp.headers());
        let bytes = read_capped(&req.ctx, resp, MAX_MANIFEST_SIZE, "the manifest").await?;
        let actual = Digest::of(&bytes);
        let expected = reference.parse::<Digest>().ok().or(claimed);
        if let Some(expected) = expected.filter(|e| *e != actual) {
            return Err(RegistryError::DigestMismatch { ctx: req.ctx.into(), expected, actual });
        }
        let media_type = match header_media_type {
            Some(mt) if manifest::is_index(&mt) || manifest::is_image_manifest(&mt) => mt,
            other => embedded_media_type(&bytes).or(other).unwrap_or_default(),
        };
        Ok((bytes, media_type, actual))
    }

    /// Uploads a manifest under a tag or its digest; returns its digest.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest> {
        Ok(self.put_manifest_acked(repo, reference, media_type, bytes).await?.0)
    }

    /// Like [`Client::put_manifest`], also returning the registry's `OCI-Subject` header: a
    /// registry with the referrers API names there the subject of a manifest that has one
    /// (distribution spec 1.1); without it, the client keeps the referrers tag itself.
    pub async fn put_manifest_acked(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<(Digest, Option<String>)> {
        let path = manifest_path(repo, reference)?;
        let mut req =
            self.repo_req("put manifest", repo, Method::PUT, path, "pull,push").header(CONTENT_TYPE, media_type)?;
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(RegistryError::TooLarge {
                ctx: req.ctx.into(),
                what: "the manifest",
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let digest = Digest::of(&bytes);
        if let Ok(wanted) = reference.parse::<Digest>()
            && wanted != digest
        {
            return Err(RegistryError::DigestMismatch { ctx: req.ctx.into(), expected: wanted, actual: digest });
        }
        req.body = ReqBody::Bytes(bytes);
        let resp = self.send(&req).await?;
        if !resp.status().is_success() {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        let subject = resp.headers().get("oci-subject").and_then(|v| v.to_str().ok()).map(str::to_string);
        match header_digest(resp.headers()) {
            Some(claimed) if claimed != digest => {
                Err(RegistryError::DigestMismatch { ctx: req.ctx.into(), expected: digest, actual: claimed })
            }
            _ => Ok((digest, subject)),
        }
    }

    /// Deletes a manifest by digest. On most registries this removes every tag pointing at it.
    pub async fn delete_manifest(&self, repo: &Repository, digest: &Digest) -> Result<()> {
        let path = format!("/v2/{}/manifests/{digest}", repo.path);
        let req = self.repo_req("delete manifest", repo, Method::DELETE, path, "delete");
        let resp = self.send(&req).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let err = status_error(&req.ctx, resp, None).await;
        Err(match err {
            RegistryError::Status { ctx, status, errors, retry_after, hint: None } => {
                let hint = delete_hint(status, &errors);
                RegistryError::Status { ctx, status, errors, retry_after, hint }
            }
            other => other,
        })
    }
}

impl Client {
    /// `DELETE /v2/<name>/manifests/<tag>` (OCI distribution 1.1): removes the tag alone where
    /// the registry supports it. Registries differ (distribution 2.8 answers 400); see
    /// `drivers::untag` for how wharf learns what a registry does before relying on it.
    pub async fn delete_tag(&self, repo: &Repository, tag: &str) -> Result<()> {
        validate_tag(tag)
            .map_err(|problem| crate::spec::reference::ReferenceError { input: format!("{repo}:{tag}"), problem })?;
        let path = format!("/v2/{}/manifests/{tag}", repo.path);
        let req = self.repo_req("delete tag", repo, Method::DELETE, path, "delete");
        let resp = self.send(&req).await?;
        if resp.status().is_success() { Ok(()) } else { Err(status_error(&req.ctx, resp, None).await) }
    }
}

/// The tag or digest a `/v2/<name>/manifests/<ref>` or `/v2/<name>/blobs/<digest>` path is
/// about, for error messages.
fn object_of(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let (_, object) = path.rsplit_once("/manifests/").or_else(|| path.rsplit_once("/blobs/"))?;
    (!object.is_empty() && !object.starts_with("uploads")).then(|| object.to_string())
}

/// `/v2/<name>/manifests/<tag|digest>`, validating the reference.
fn manifest_path(repo: &Repository, reference: &str) -> Result<String> {
    if reference.parse::<Digest>().is_err() {
        validate_tag(reference).map_err(|problem| crate::spec::reference::ReferenceError {
            input: format!("{repo}:{reference}"),
            problem,
        })?;
    }
    Ok(format!("/v2/{}/manifests/{reference}", repo.path))
}

fn accept() -> String {
    ACCEPTED_MANIFESTS.join(", ")
}

/// Content-Type without parameters, if present and not empty.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mt = raw.split(';').next().unwrap_or_default().trim();
    (!mt.is_empty()).then(|| mt.to_string())
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

pub(crate) fn header_digest(headers: &HeaderMap) -> Option<Digest> {
    headers.get(DOCKER_CONTENT_DIGEST)?.to_str().ok()?.trim().parse().ok()
}

fn embedded_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.media_type
}

/// Reads a whole body, refusing more than `limit` bytes (checked before and while reading).
pub(crate) async fn read_capped(ctx: &Context, resp: Response, limit: u64, what: &'static str) -> Result<Bytes> {
    use futures::StreamExt as _;
    let too_large = || RegistryError::TooLarge { ctx: ctx.clone().into(), what, limit };
    if header_u64(resp.headers(), CONTENT_LENGTH.as_str()).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let host = resp.url().host_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| crate::registry::transport::transport_error(ctx, &host, e))?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}
