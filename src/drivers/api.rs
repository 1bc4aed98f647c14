//! A small HTTP layer for the registries' native REST APIs.
//!
//! [`Api::send`] builds the request anew for every attempt, retries 429/500/502/503/504 and
//! rate-limit 403s (see [`super::rate_limit`]) with the server's wait honoured (up to the
//! client's cap) or exponential backoff with jitter, retries
//! connection failures only for requests that are safe to repeat, and turns any other failure
//! into a [`DriverError`] naming the driver, the operation and the target. 401/403 carry what
//! the credential needs. Bodies are read with a size limit; error bodies are cut short and
//! never echo request headers, so tokens stay out of messages.

use super::error::{ApiError, DriverError};
use super::rate_limit::{is_rate_limit, server_wait};
use super::{DriverInfo, Result};
use crate::registry::ClientOptions;
use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime};

/// Largest JSON answer read from a native API.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How much of an error body goes into a message.
const MAX_DETAIL: usize = 300;

/// A client for one driver's native API.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub http: reqwest::Client,
    pub info: &'static DriverInfo,
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

/// Whether a request may be sent again after the connection failed mid-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads: always safe.
    Safe,
    /// Writes: repeated only when the server answered 429/5xx (it did not act).
    OnStatusOnly,
}

impl Api {
    pub fn new(info: &'static DriverInfo, opts: &ClientOptions) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .tls_certs_merge(opts.extra_roots.clone())
            .build()
            .map_err(|e| DriverError::Transport {
                driver: info.name,
                op: "set up",
                target: String::new(),
                detail: "cannot build the HTTP client".into(),
                source: Some(e),
            })?;
        Ok(Api {
            http,
            info,
            max_retries: opts.max_retries,
            initial_backoff: opts.initial_backoff,
            max_backoff: opts.max_backoff,
            max_retry_after: opts.max_retry_after,
        })
    }

    /// Sends the request `build` makes, retrying transient failures. Returns responses with a
    /// 2xx status, and 404 when `allow_404`; everything else is an error.
    pub async fn send(
        &self,
        op: &'static str,
        target: &str,
        repeat: Repeat,
        allow_404: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response> {
        let mut attempt = 0u32;
        // After retries, the target says how many tries were made.
        let tried = |attempt: u32| {
            if attempt == 0 { target.to_string() } else { format!("{target} (gave up after {} attempts)", attempt + 1) }
        };
        loop {
            let wait = match build(&self.http).send().await {
                Ok(resp) if resp.status().is_success() || (allow_404 && resp.status().as_u16() == 404) => {
                    return Ok(resp);
                }
                Ok(resp)
                    if crate::registry::error::is_retryable_status(resp.status().as_u16())
                        || is_rate_limit(resp.status().as_u16(), resp.headers()) =>
                {
                    let server_wait = server_wait(resp.headers(), SystemTime::now());
                    let too_long = server_wait.is_some_and(|w| w > self.max_retry_after);
                    if attempt >= self.max_retries || too_long {
                        return Err(self.status_error(op, &tried(attempt), resp).await);
                    }
                    server_wait.unwrap_or_else(|| self.backoff(attempt))
                }
                Ok(resp) => return Err(self.status_error(op, &tried(attempt), resp).await),
                Err(e) => {
                    let certificate = crate::registry::error::certificate_error(&e).is_some();
                    let transient = (e.is_connect() && !certificate) || e.is_timeout();
                    let may_repeat = repeat == Repeat::Safe || e.is_connect();
                    if !transient || !may_repeat || attempt >= self.max_retries {
                        return Err(self.transport_error(op, &tried(attempt), e));
                    }
                    self.backoff(attempt)
                }
            };
            tracing::debug!(driver = self.info.name, op, target, attempt, ?wait, "transient failure, retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Reads a JSON body (bounded).
    pub async fn json<T: DeserializeOwned>(&self, op: &'static str, target: &str, resp: Response) -> Result<T> {
        let bytes = self.body(op, target, resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(op, target, format!("invalid JSON: {e}")))
    }

    /// Reads a whole body, refusing more than 32 MiB.
    pub async fn body(&self, op: &'static str, target: &str, mut resp: Response) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(op, target, e))? {
            if out.len() + chunk.len() > MAX_BODY {
                return Err(self.protocol(op, target, format!("the answer is larger than {MAX_BODY} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    pub fn protocol(&self, op: &'static str, target: &str, detail: impl Into<String>) -> DriverError {
        DriverError::Protocol { driver: self.info.name, op, target: target.to_string(), detail: detail.into() }
    }

    pub fn missing_credential(&self, op: &'static str, target: &str) -> DriverError {
        DriverError::MissingCredential {
            driver: self.info.name,
            op,
            target: target.to_string(),
            needs: self.info.needs.into(),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        crate::registry::backoff(attempt, self.initial_backoff, self.max_backoff)
    }

    fn transport_error(&self, op: &'static str, target: &str, e: reqwest::Error) -> DriverError {
        let detail = if let Some(problem) = crate::registry::error::certificate_error(&e) {
            format!("TLS certificate not trusted ({problem}); for a private CA pass --ca-file CA.pem")
        } else if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "cannot connect (DNS, TCP or TLS failed)".to_string()
        } else {
            "transport error".to_string()
        };
        DriverError::Transport {
            driver: self.info.name,
            op,
            target: target.to_string(),
            detail,
            source: Some(e.without_url()),
        }
    }

    async fn status_error(&self, op: &'static str, target: &str, resp: Response) -> DriverError {
        let status = resp.status().as_u16();
        let rate_limited = is_rate_limit(status, resp.headers());
        let retry_after = server_wait(resp.headers(), SystemTime::now());
        let body = self.body(op, target, resp).await.unwrap_or_default();
        let hint = match status {
            _ if rate_limited => Some(match retry_after {
                Some(w) => format!("rate limited; the registry asks to wait {}s", w.as_secs()),
                None => "rate limited; retry later or lower the concurrency".into(),
            }),
            401 | 403 => Some(format!("the credential needs {}", self.info.needs)),
            _ => None,
        };
        DriverError::Api(Box::new(ApiError {
            driver: self.info.name,
            op,
            target: target.to_string(),
            status,
            detail: detail(&body),
            retry_after,
            rate_limited,
            hint,
        }))
    }

    /// A 404 that may mean "no permission" as well as "no such thing", as an error saying so.
    pub fn hidden(
        &self,
        op: &'static str,
        target: &str,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> DriverError {
        DriverError::Api(Box::new(ApiError {
            driver: self.info.name,
            op,
            target: target.to_string(),
            status: 404,
            detail: detail.into(),
            retry_after: None,
            rate_limited: false,
            hint: Some(hint.into()),
        }))
    }
}

/// A short, single-line excerpt of an error body: a JSON `message`/`detail`/`error` when there
/// is one, else the text itself.
fn detail(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => ["message", "detail", "error_description", "error", "errors"]
            .iter()
            .find_map(|k| v.get(k).map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string())))
            .unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).to_string(),
    };
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_DETAIL) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub(crate) fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base` joined with `path` (which starts with `/`), keeping any path prefix `base` has.
pub(crate) fn join(base: &url::Url, path_and_query: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path_and_query)
}

/// Whether a pagination URL stays on the API's origin (tokens go nowhere else).
pub(crate) fn same_origin(base: &url::Url, next: &str) -> bool {
    url::Url::parse(next).is_ok_and(|u| u.origin() == base.origin())
}

/// `Authorization: Bearer TOKEN` (marked sensitive) when there is a token.
pub(crate) fn bearer(builder: reqwest::RequestBuilder, token: Option<&crate::secret::Secret>) -> RequestBuilder {
    match token.and_then(|t| secret_header(&format!("Bearer {}", t.expose()))) {
        Some(h) => builder.header(reqwest::header::AUTHORIZATION, h),
        None => builder,
    }
}

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form(builder: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    builder.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body)
}

/// A header value for a secret, marked sensitive so it never shows in debug output.
pub(crate) fn secret_header(value: &str) -> Option<HeaderValue> {
    let mut h = HeaderValue::from_str(value).ok()?;
    h.set_sensitive(true);
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("a/b"), "a%2Fb");
        assert_eq!(encode(&encode("a/b")), "a%252Fb");
        assert_eq!(encode("v1.2_x-y~"), "v1.2_x-y~");
    }

    #[test]
    fn details_are_short_single_lines() {
        assert_eq!(detail(br#"{"message":"tag not\nfound"}"#), "tag not found");
        assert_eq!(detail(b"plain text"), "plain text");
        assert!(detail("x".repeat(1000).as_bytes()).chars().count() <= MAX_DETAIL + 1);
    }

    #[test]
    fn joins_keep_base_prefixes() {
        let base = url::Url::parse("https://gitlab.example.com/api/v4/").unwrap();
        assert_eq!(join(&base, "/projects/1"), "https://gitlab.example.com/api/v4/projects/1");
    }
}
