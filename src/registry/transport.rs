//! Sending one logical request: scheme choice, lazy authentication, bounded retries.
//!
//! - Scheme: HTTPS with verified TLS, except for loopback hosts and `insecure_hosts`, which try
//!   HTTPS once and fall back to plain HTTP; the choice is remembered per host. Certificates
//!   go unchecked only for `skip_verify_hosts`, and a redirect from those to another host is
//!   verified again.
//! - Auth: a request goes out with whatever the host's last challenge calls for (nothing when
//!   none is known yet). On 401 the challenge is read, a token is fetched for the request's
//!   scopes (or Basic is used), and the request is repeated once. Credentials never go to
//!   another origin than the registry's, nor over plain HTTP to a non-loopback host.
//! - Retries: connection failures, timeouts and 429/500/502/503/504 are retried with
//!   exponential backoff and jitter, honouring `Retry-After` up to a cap, but only for requests
//!   marked safe to repeat. Bodies are rebuilt for each attempt (files are reopened).

use crate::auth::{Credential, ResolvedCredential};
use crate::registry::challenge::{self, Challenge};
use crate::registry::client::Client;
use crate::registry::error::{
    Context, RegistryError, Result, TransportKind, auth_hint, is_retryable_status, parse_oci_errors, transport_kind,
};
use crate::registry::token::{self, TokenRequest};
use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio::sync::OnceCell;

/// Largest error body read to find OCI error codes.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// How long the "does it answer plain HTTP?" probe waits.
const PLAIN_HTTP_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A request body that can be rebuilt for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum ReqBody {
    None,
    Bytes(Bytes),
    /// `len` bytes of `path` from `offset`, streamed.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// Where a request goes: a path on the registry (`/v2/…?…`) or a URL the registry handed out.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Path(String),
    Url(url::Url),
}

/// One logical request, described so that it can be sent again.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub ctx: Context,
    /// The registry as written in the repository (credential lookup key).
    pub registry: String,
    /// The API host (`docker.io` → `registry-1.docker.io`).
    pub host: String,
    pub method: Method,
    pub target: Target,
    pub headers: HeaderMap,
    pub body: ReqBody,
    /// Token scopes this request needs (e.g. `repository:a/b:pull,push`).
    pub scopes: Vec<String>,
    /// Whether the request may be sent again after a transient failure.
    pub retry: bool,
}

impl Req {
    pub fn new(ctx: Context, registry: &str, host: &str, method: Method, target: Target) -> Self {
        Req {
            ctx,
            registry: registry.to_string(),
            host: host.to_string(),
            method,
            target,
            headers: HeaderMap::new(),
            body: ReqBody::None,
            scopes: Vec::new(),
            retry: true,
        }
    }

    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| RegistryError::protocol(&self.ctx, format!("invalid {name} header value")))?;
        self.headers.insert(name, value);
        Ok(self)
    }
}

/// Whether `url` points at a loopback host.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `host[:port]` of `url`, as hosts are written in repositories.
fn url_host(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Whether `host[:port]` is a loopback host.
pub fn is_loopback_host(host: &str) -> bool {
    url::Url::parse(&format!("http://{host}/")).is_ok_and(|u| is_loopback(&u))
}

impl Client {
    /// Sends `req`, retrying transient failures when `req.retry` allows. Returns the response
    /// for every status except 401/403, which become errors with a hint.
    pub(crate) async fn send(&self, req: &Req) -> Result<Response> {
        let opts = &self.inner.opts;
        let mut attempt = 0u32;
        loop {
            let outcome = self.send_once(req).await;
            let server_wait = match &outcome {
                Ok(resp) if is_retryable_status(resp.status().as_u16()) => retry_after(resp.headers()),
                Err(e) if e.is_retryable() => e.retry_after(),
                Ok(_) => return outcome,
                Err(_) => return outcome.map_err(|e| e.with_attempts(attempt + 1)),
            };
            let too_long = server_wait.filter(|w| *w > opts.max_retry_after);
            if !req.retry || attempt >= opts.max_retries || too_long.is_some() {
                return self.give_up(req, outcome, attempt + 1, too_long).await;
            }
            let delay = server_wait.unwrap_or_else(|| backoff(attempt, opts.initial_backoff, opts.max_backoff));
            tracing::debug!(op = req.ctx.op, host = %req.host, attempt, ?delay, "transient failure, retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// The error for a transient failure that is not retried any more: a retryable status
    /// becomes an error here (so that it carries the attempts), a connection failure gets
    /// the plain-HTTP hint, and a `Retry-After` beyond the cap is said.
    async fn give_up(
        &self,
        req: &Req,
        outcome: Result<Response>,
        attempts: u32,
        too_long: Option<Duration>,
    ) -> Result<Response> {
        let wait_hint = too_long.map(|w| {
            format!(
                "the registry asks to wait {}s before retrying, longer than wharf waits ({}s); run again later",
                w.as_secs(),
                self.inner.opts.max_retry_after.as_secs()
            )
        });
        let err = match outcome {
            Ok(resp) => status_error(&req.ctx, resp, wait_hint).await,
            Err(RegistryError::Transport { ctx, host, kind, hint: None, source }) => {
                let hint = self.transport_hint(&host, kind).await;
                RegistryError::Transport { ctx, host, kind, hint, source }
            }
            Err(RegistryError::Status { ctx, status, errors, retry_after, hint: None }) => {
                RegistryError::Status { ctx, status, errors, retry_after, hint: wait_hint }
            }
            Err(e) => e,
        };
        Err(err.with_attempts(attempts))
    }

    async fn send_once(&self, req: &Req) -> Result<Response> {
        let base = self.base_url(&req.ctx, &req.host).await?;
        let url = match &req.target {
            Target::Path(p) => base.join(p).map_err(|_| RegistryError::protocol(&req.ctx, "invalid request path"))?,
            Target::Url(u) => u.clone(),
        };
        // Credentials go only to the registry's own origin.
        let same_origin = url.origin() == base.origin();
        let credential = if same_origin { self.inner.opts.credentials.resolve(&req.registry).await? } else { None };
        let mut scopes = req.scopes.clone();
        let known = self.known_challenge(&req.host);
        let auth = match (&known, same_origin) {
            (Some(ch), true) => self.authorization(req, &base, ch, credential.as_ref(), &scopes).await?,
            _ => None,
        };
        let resp = self.execute(req, &url, auth.as_ref()).await?;
        if resp.status().as_u16() != 401 || !same_origin {
            return self.check_denied(req, resp, credential.as_ref(), &scopes).await;
        }
        let headers = resp.headers().get_all(WWW_AUTHENTICATE);
        let Some(ch) = challenge::select(headers.iter().filter_map(|v| v.to_str().ok())) else {
            return self.check_denied(req, resp, credential.as_ref(), &scopes).await;
        };
        if let Challenge::Bearer { scope: Some(extra), .. } = &ch {
            scopes.extend(extra.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        }
        self.remember_challenge(&req.host, ch.clone());
        // The token that was just refused (if any) must not be reused.
        self.inner.tokens.forget(&req.host, &req.scopes);
        self.inner.tokens.forget(&req.host, &scopes);
        let Some(auth) = self.authorization(req, &base, &ch, credential.as_ref(), &scopes).await? else {
            return self.check_denied(req, resp, credential.as_ref(), &scopes).await;
        };
        let resp = self.execute(req, &url, Some(&auth)).await?;
        self.check_denied(req, resp, credential.as_ref(), &scopes).await
    }

    /// The Authorization header `challenge` calls for, or `None` when there is nothing to send.
    async fn authorization(
        &self,
        req: &Req,
        base: &url::Url,
        challenge: &Challenge,
        credential: Option<&ResolvedCredential>,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>> {
        let has_secret = credential.is_some_and(|c| !c.credential.is_anonymous());
        if has_secret && base.scheme() != "https" && !is_loopback(base) {
            return Err(RegistryError::InsecureCredentials { ctx: req.ctx.clone().into(), host: req.host.clone() });
        }
        let value = match challenge {
            Challenge::Basic { .. } => match credential.map(|c| &c.credential) {
                Some(Credential::Basic { username, password }) => {
                    let raw = format!("{username}:{}", password.expose());
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
                }
                _ => return Ok(None),
            },
            Challenge::Bearer { realm, service, .. } => {
                let token = match self.inner.tokens.get(&req.host, scopes) {
                    Some(t) => t,
                    None => {
                        let token_req =
                            TokenRequest { ctx: &req.ctx, realm, service: service.as_deref(), scopes, credential };
                        let realm_host = url::Url::parse(realm).map(|u| url_host(&u)).unwrap_or_default();
                        let token = token::fetch(self.http_for(&realm_host), &token_req).await?;
                        let value = token.value.clone();
                        self.inner.tokens.put(&req.host, scopes, token);
                        value
                    }
                };
                format!("Bearer {}", token.expose())
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            RegistryError::protocol(&req.ctx, "the credential contains characters HTTP headers cannot carry")
        })?;
        header.set_sensitive(true);
        Ok(Some(header))
    }

    /// Turns a final 401/403 into an error that says which credential is missing.
    async fn check_denied(
        &self,
        req: &Req,
        resp: Response,
        credential: Option<&ResolvedCredential>,
        scopes: &[String],
    ) -> Result<Response> {
        let status = resp.status().as_u16();
        if !matches!(status, 401 | 403) {
            return Ok(resp);
        }
        let used = credential.filter(|c| !c.credential.is_anonymous()).map(ResolvedCredential::info);
        let hint = auth_hint(&req.registry, status, used.as_ref(), scopes);
        Err(status_error(&req.ctx, resp, Some(hint)).await)
    }

    async fn execute(&self, req: &Req, url: &url::Url, auth: Option<&HeaderValue>) -> Result<Response> {
        let unverified = self.skips_verify(&url_host(url));
        let mut builder =
            self.http_for(&url_host(url)).request(req.method.clone(), url.clone()).headers(req.headers.clone());
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        builder = match &req.body {
            ReqBody::None => builder,
            ReqBody::Bytes(b) => builder.body(b.clone()),
            ReqBody::File { path, offset, len } => builder.body(file_body(&req.ctx, path, *offset, *len).await?),
        };
        let resp = builder.send().await.map_err(|e| transport_error(&req.ctx, &req.host, e))?;
        // A redirect away from a host whose certificate is not checked (blob storage on
        // another host) is followed here, with verified TLS and without credentials.
        let next =
            resp.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| url.join(l).ok());
        match next {
            Some(next)
                if unverified && resp.status().is_redirection() && matches!(req.method, Method::GET | Method::HEAD) =>
            {
                tracing::debug!(from = %url_host(url), to = %url_host(&next), "redirect to a verified host");
                let verified = self.inner.http.request(req.method.clone(), next).headers(req.headers.clone());
                verified.send().await.map_err(|e| transport_error(&req.ctx, &req.host, e))
            }
            _ => Ok(resp),
        }
    }

    /// The HTTP client for `host[:port]`: certificates go unchecked only for the hosts
    /// `--skip-tls-verify-registry` names.
    fn http_for(&self, host: &str) -> &reqwest::Client {
        match &self.inner.http_unverified {
            Some(unverified) if self.skips_verify(host) => unverified,
            _ => &self.inner.http,
        }
    }

    /// Whether `host[:port]` is one whose TLS certificate is not verified.
    pub(crate) fn skips_verify(&self, host: &str) -> bool {
        let bare =
            host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
        self.inner.opts.skip_verify_hosts.iter().any(|h| h == host || h == bare)
    }

    /// `scheme://host/` for `host`, probing HTTPS then HTTP once for hosts that allow HTTP.
    async fn base_url(&self, ctx: &Context, host: &str) -> Result<url::Url> {
        let scheme = if self.allows_http(host) {
            // One probe per host, even when many requests start at once.
            let cell = self.scheme_cell(host);
            *cell.get_or_try_init(|| self.probe_scheme(ctx, host)).await?
        } else {
            "https"
        };
        url::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|_| RegistryError::protocol(ctx, format!("{host:?} is not a valid host")))
    }

    async fn probe_scheme(&self, ctx: &Context, host: &str) -> Result<&'static str> {
        let https = self.http_for(host).get(format!("https://{host}/v2/")).send().await;
        let https_err = match https {
            Ok(_) => return Ok("https"),
            // The host speaks TLS but its certificate is not trusted: plain HTTP would only
            // hide that (and send credentials in the clear).
            Err(e) if transport_kind(&e) == TransportKind::Certificate => return Err(transport_error(ctx, host, e)),
            Err(e) => e,
        };
        match self.inner.http.get(format!("http://{host}/v2/")).send().await {
            Ok(_) => {
                tracing::debug!(%host, "no HTTPS, using plain HTTP");
                Ok("http")
            }
            Err(_) => Err(transport_error(ctx, host, https_err)),
        }
    }

    fn scheme_cell(&self, host: &str) -> Arc<OnceCell<&'static str>> {
        match self.inner.schemes.lock() {
            Ok(mut map) => map.entry(host.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// Loopback hosts and hosts listed in `insecure_hosts` (with or without their port).
    pub(crate) fn allows_http(&self, host: &str) -> bool {
        let bare =
            host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
        is_loopback_host(host) || self.inner.opts.insecure_hosts.iter().any(|h| h == host || h == bare)
    }

    fn known_challenge(&self, host: &str) -> Option<Challenge> {
        self.inner.challenges.lock().ok()?.get(host).cloned()
    }

    fn remember_challenge(&self, host: &str, ch: Challenge) {
        if let Ok(mut map) = self.inner.challenges.lock() {
            map.insert(host.to_string(), ch);
        }
    }

    /// What to suggest after a connection failure; `--insecure-registry` only for a host that
    /// really answers plain HTTP.
    async fn transport_hint(&self, host: &str, kind: TransportKind) -> Option<String> {
        match kind {
            TransportKind::Connect if !self.allows_http(host) && self.answers_plain_http(host).await => Some(format!(
                "{host} answers plain HTTP, not HTTPS; if you trust the network to it, pass --insecure-registry {host}"
            )),
            TransportKind::Connect => Some(format!("check that {host} is the right host and port and is reachable")),
            TransportKind::Timeout => {
                Some("the registry did not answer in time; retry later or check the network".into())
            }
            TransportKind::Certificate => None,
            TransportKind::Reset | TransportKind::Other => None,
        }
    }

    async fn answers_plain_http(&self, host: &str) -> bool {
        let probe = self.inner.http.get(format!("http://{host}/v2/")).timeout(PLAIN_HTTP_PROBE_TIMEOUT);
        probe.send().await.is_ok()
    }
}

async fn file_body(ctx: &Context, path: &std::path::Path, offset: u64, len: u64) -> Result<reqwest::Body> {
    let io_err = |source| RegistryError::Io { op: ctx.op, path: path.to_path_buf(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(io_err)?;
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io_err)?;
    let reader = file.take(len);
    Ok(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)))
}

/// A reqwest failure as a transport error, without its URL (URLs may carry upload state).
pub(crate) fn transport_error(ctx: &Context, host: &str, err: reqwest::Error) -> RegistryError {
    let kind = transport_kind(&err);
    let hint = crate::registry::error::certificate_error(&err).map(|problem| {
        format!("{problem}; if {host} uses a private CA, pass its certificate with --ca-file CA.pem (the system's roots stay trusted)")
    });
    RegistryError::Transport { ctx: ctx.clone().into(), host: host.to_string(), kind, hint, source: err.without_url() }
}

/// Builds the error for an unexpected status, reading (a bounded part of) the OCI error body.
pub(crate) async fn status_error(ctx: &Context, resp: Response, hint: Option<String>) -> RegistryError {
    use futures::StreamExt as _;
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            break;
        }
    }
    RegistryError::Status { ctx: ctx.clone().into(), status, errors: parse_oci_errors(&body), retry_after, hint }
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with jitter: a random delay in [d/2, d], d = initial · 2^attempt ≤ max.
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let d = initial.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(max);
    let half = d / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::random_range(0..=jitter_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 2015-10-21 07:27:50 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let (i, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 0..40 {
            let d = backoff(attempt, i, max);
            let full = i.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(max);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn loopback_detection() {
        for h in ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:5000", "LOCALHOST"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1:5000", "localhost.example.com", "[::2]", "128.0.0.1"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
