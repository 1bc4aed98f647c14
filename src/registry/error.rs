//! Registry errors: what was attempted, where, what the registry said, and what to do next.
//!
//! Every variant carries the operation ("push blob", "list tags", …), the registry and the
//! repository. HTTP failures keep the status and the parsed OCI error body
//! (`{"errors":[{"code","message"}]}`). [`RegistryError::is_retryable`] classifies by kind and
//! status, never by message text. No variant ever holds a secret: credentials appear only as
//! "user NAME from SOURCE", and transport errors are stripped of their URL.

use crate::spec::digest::Digest;
use crate::spec::reference::ReferenceError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Where an error happened: operation, registry, repository, the object (tag or digest)
/// when there is one, and how many times the request was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub op: &'static str,
    pub registry: String,
    pub repository: Option<String>,
    /// The tag or digest the operation was about (`v1`, `sha256:…`).
    pub object: Option<String>,
    /// How many times the operation was tried before this error (1 = no retry).
    pub attempts: u32,
}

impl Context {
    pub fn new(op: &'static str, registry: &str, repository: Option<&str>) -> Self {
        Context {
            op,
            registry: registry.to_string(),
            repository: repository.map(str::to_string),
            object: None,
            attempts: 1,
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.registry)?;
        if let Some(repo) = &self.repository {
            write!(f, "/{repo}")?;
        }
        match self.object.as_deref() {
            Some(o) if o.contains(':') => write!(f, "@{o}")?,
            Some(o) => write!(f, ":{o}")?,
            None => {}
        }
        if self.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// One entry of an OCI error body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct OciError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(serde::Deserialize)]
struct OciErrorBody {
    #[serde(default)]
    errors: Vec<OciError>,
}

/// Parses an OCI error body; anything else yields no entries.
pub fn parse_oci_errors(body: &[u8]) -> Vec<OciError> {
    serde_json::from_slice::<OciErrorBody>(body).map(|b| b.errors).unwrap_or_default()
}

/// Why a request never got an HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// DNS, TCP or TLS failed before a request was sent.
    Connect,
    /// The server's TLS certificate was refused (unknown issuer, wrong name, expired…).
    Certificate,
    /// No answer in time.
    Timeout,
    /// The connection broke during the exchange.
    Reset,
    /// Anything else (e.g. a body that could not be read).
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "cannot connect (DNS, TCP or TLS failed)",
            TransportKind::Certificate => "TLS certificate not trusted",
            TransportKind::Timeout => "timed out",
            TransportKind::Reset => "connection broken",
            TransportKind::Other => "transport error",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{ctx}: HTTP {status}{}{}", fmt_codes(errors), fmt_hint(hint))]
    Status {
        ctx: Box<Context>,
        status: u16,
        errors: Vec<OciError>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        hint: Option<String>,
    },
    #[error("{ctx}: {host}: {kind}{}", fmt_hint(hint))]
    Transport {
        ctx: Box<Context>,
        host: String,
        kind: TransportKind,
        hint: Option<String>,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "{ctx}: refusing to send credentials to {host} over plain HTTP; only loopback registries may \
         use credentials without TLS (serve the registry over HTTPS)"
    )]
    InsecureCredentials { ctx: Box<Context>, host: String },
    #[error("{ctx}: digest mismatch: expected {expected}, received content has {actual}")]
    DigestMismatch { ctx: Box<Context>, expected: Digest, actual: Digest },
    #[error("{ctx}: {what} is larger than the limit of {limit} bytes")]
    TooLarge { ctx: Box<Context>, what: &'static str, limit: u64 },
    #[error(
        "{ctx}: more than {limit} tags; stopping rather than deciding on a partial list\n  \
         hint: raise --max-tags if the repository really holds that many"
    )]
    TooManyTags { ctx: Box<Context>, limit: usize },
    #[error("{ctx}: unexpected response: {detail}")]
    Protocol { ctx: Box<Context>, detail: String },
    #[error("{ctx}: token service {realm}: {detail}{}", fmt_hint(hint))]
    Token { ctx: Box<Context>, realm: String, status: Option<u16>, detail: String, hint: Option<String> },
    #[error("credential helper docker-credential-{helper} for {registry}: {detail}")]
    CredentialHelper { helper: String, registry: String, detail: String },
    #[error("docker config {}: {detail}", path.display())]
    DockerConfig { path: PathBuf, detail: String },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    #[error("cannot build the HTTP client: {0}")]
    Setup(#[source] reqwest::Error),
}

fn fmt_codes(errors: &[OciError]) -> String {
    errors
        .iter()
        .map(|e| if e.message.is_empty() { format!(" {}", e.code) } else { format!(" {}: {}", e.code, e.message) })
        .collect::<Vec<_>>()
        .join(";")
}

fn fmt_hint(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default()
}

impl RegistryError {
    /// Whether repeating the same request later may succeed: connection failures, timeouts,
    /// broken connections, 429 and 500/502/503/504.
    pub fn is_retryable(&self) -> bool {
        match self {
            RegistryError::Status { status, .. } => is_retryable_status(*status),
            RegistryError::Transport { kind, .. } => {
                matches!(kind, TransportKind::Connect | TransportKind::Timeout | TransportKind::Reset)
            }
            RegistryError::Token { status: Some(s), .. } => is_retryable_status(*s),
            _ => false,
        }
    }

    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            RegistryError::Token { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether the registry's error body holds `code` (e.g. `MANIFEST_UNKNOWN`).
    pub fn has_code(&self, code: &str) -> bool {
        matches!(self, RegistryError::Status { errors, .. } if errors.iter().any(|e| e.code == code))
    }

    /// 404, or an `*_UNKNOWN` code.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
            || ["NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"].iter().any(|c| self.has_code(c))
    }

    /// 401 or 403.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error's context, for the variants that have one.
    pub fn context(&self) -> Option<&Context> {
        match self {
            RegistryError::Status { ctx, .. }
            | RegistryError::Transport { ctx, .. }
            | RegistryError::InsecureCredentials { ctx, .. }
            | RegistryError::DigestMismatch { ctx, .. }
            | RegistryError::TooLarge { ctx, .. }
            | RegistryError::TooManyTags { ctx, .. }
            | RegistryError::Protocol { ctx, .. }
            | RegistryError::Token { ctx, .. } => Some(ctx),
            _ => None,
        }
    }

    /// Records that the operation was tried `attempts` times before this error.
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        match &mut self {
            RegistryError::Status { ctx, .. }
            | RegistryError::Transport { ctx, .. }
            | RegistryError::InsecureCredentials { ctx, .. }
            | RegistryError::DigestMismatch { ctx, .. }
            | RegistryError::TooLarge { ctx, .. }
            | RegistryError::TooManyTags { ctx, .. }
            | RegistryError::Protocol { ctx, .. }
            | RegistryError::Token { ctx, .. } => ctx.attempts = ctx.attempts.max(attempts),
            _ => {}
        }
        self
    }

    pub(crate) fn protocol(ctx: &Context, detail: impl Into<String>) -> Self {
        RegistryError::Protocol { ctx: ctx.clone().into(), detail: detail.into() }
    }
}

/// 429 and the 5xx statuses that usually pass.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Classifies a reqwest error by its kind and its `io::Error` sources, not by its text.
pub fn transport_kind(err: &reqwest::Error) -> TransportKind {
    if err.is_timeout() {
        return TransportKind::Timeout;
    }
    if certificate_error(err).is_some() {
        return TransportKind::Certificate;
    }
    if err.is_connect() {
        return TransportKind::Connect;
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                TimedOut => TransportKind::Timeout,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => TransportKind::Reset,
                _ => TransportKind::Other,
            };
        }
        source = s.source();
    }
    // A request that failed while being sent without a local cause is a broken exchange.
    if err.is_request() { TransportKind::Reset } else { TransportKind::Other }
}

/// The certificate problem behind a failed TLS handshake, if that is what failed. rustls's
/// error travels inside (possibly nested) `io::Error`s, whose `source()` skips the error they
/// wrap: they are looked into with `get_ref()`.
pub fn certificate_error(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
                .then(|| tls.to_string());
        }
        next = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Who holds the credential a request used, for hints (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// e.g. "user alice from docker config /home/a/.docker/config.json".
    pub description: String,
}

/// What to tell the user after a 401 or 403.
pub fn auth_hint(registry: &str, status: u16, used: Option<&CredentialInfo>, scopes: &[String]) -> String {
    let wanted = if scopes.is_empty() { String::from("access") } else { scopes.join(" ") };
    match (used, status) {
        (None, _) => format!(
            "no credentials for {registry} were found; run `wharf login {registry}` (or `docker login`), set \
             WHARF_REGISTRY_USERNAME and WHARF_REGISTRY_PASSWORD, or pass --username with --password-stdin"
        ),
        (Some(c), 403) => format!(
            "the credential ({}) was accepted but may not do {wanted}; grant that permission or use a \
             token that has it",
            c.description
        ),
        (Some(c), _) => format!(
            "the credential ({}) was rejected for {wanted}; check the password or token, or log in \
             again with `wharf login {registry}`",
            c.description
        ),
    }
}

/// The hint for a refused delete (405 or `UNSUPPORTED`).
pub fn delete_hint(status: u16, errors: &[OciError]) -> Option<String> {
    let unsupported = status == 405 || errors.iter().any(|e| e.code == "UNSUPPORTED");
    unsupported.then(|| {
        "the registry refuses deletes (distribution: set storage.delete.enabled: true; some registries \
         delete only through their own API)"
            .to_string()
    })
}

impl RegistryError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            RegistryError::Reference(_) | RegistryError::DockerConfig { .. } => crate::error::Category::Usage,
            RegistryError::Io { .. } | RegistryError::Setup(_) => crate::error::Category::Local,
            _ => crate::error::Category::Registry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new("put manifest", "ghcr.io", Some("org/app"))
    }

    fn status(status: u16, errors: Vec<OciError>) -> RegistryError {
        RegistryError::Status { ctx: ctx().into(), status, errors, retry_after: None, hint: None }
    }

    #[test]
    fn parses_oci_error_bodies() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"DENIED"}]}"#;
        let errs = parse_oci_errors(body);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].code, "MANIFEST_UNKNOWN");
        assert_eq!(errs[1].message, "");
        assert!(parse_oci_errors(b"<html>bad gateway</html>").is_empty());
        assert!(parse_oci_errors(b"").is_empty());
    }

    #[test]
    fn display_names_op_target_status_and_codes() {
        let e = status(404, vec![OciError { code: "MANIFEST_UNKNOWN".into(), message: "manifest unknown".into() }]);
        assert_eq!(e.to_string(), "put manifest ghcr.io/org/app: HTTP 404 MANIFEST_UNKNOWN: manifest unknown");
        assert!(e.is_not_found());
        assert!(e.has_code("MANIFEST_UNKNOWN"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn display_names_the_object_and_the_attempts() {
        let mut c = ctx();
        c.object = Some("v1".into());
        let e =
            RegistryError::Status { ctx: c.clone().into(), status: 503, errors: vec![], retry_after: None, hint: None };
        assert_eq!(e.to_string(), "put manifest ghcr.io/org/app:v1: HTTP 503");
        assert_eq!(
            e.with_attempts(5).to_string(),
            "put manifest ghcr.io/org/app:v1 (gave up after 5 attempts): HTTP 503"
        );
        c.object = Some(format!("sha256:{}", "a".repeat(64)));
        let e = RegistryError::Status { ctx: c.into(), status: 500, errors: vec![], retry_after: None, hint: None };
        assert!(
            e.with_attempts(1)
                .to_string()
                .starts_with(&format!("put manifest ghcr.io/org/app@sha256:{}: HTTP 500", "a".repeat(64)))
        );
    }

    #[test]
    fn retry_classification_uses_status() {
        for s in [429, 500, 502, 503, 504] {
            assert!(status(s, vec![]).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409, 416, 501] {
            assert!(!status(s, vec![]).is_retryable(), "{s}");
        }
    }

    #[test]
    fn certificate_errors_are_found_inside_nested_io_errors() {
        use std::io::{Error as IoError, ErrorKind};
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = IoError::other(IoError::new(ErrorKind::InvalidData, tls));
        assert!(certificate_error(&nested).is_some_and(|m| m.contains("UnknownIssuer")), "{nested:?}");
        let other = IoError::new(ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(certificate_error(&other), None, "not a certificate problem");
        assert_eq!(certificate_error(&IoError::new(ErrorKind::ConnectionRefused, "refused")), None);
    }

    #[test]
    fn auth_hints_say_what_is_missing() {
        let h = auth_hint("ghcr.io", 401, None, &["repository:org/app:pull,push".into()]);
        assert!(
            h.contains("wharf login ghcr.io")
                && h.contains("WHARF_REGISTRY_USERNAME")
                && h.contains("--password-stdin")
        );
        let used = CredentialInfo { description: "user alice from docker config".into() };
        assert!(auth_hint("ghcr.io", 401, Some(&used), &[]).contains("rejected"));
        let h = auth_hint("ghcr.io", 403, Some(&used), &["repository:org/app:delete".into()]);
        assert!(h.contains("repository:org/app:delete") && h.contains("alice"));
    }

    #[test]
    fn delete_hint_for_405_and_unsupported() {
        assert!(delete_hint(405, &[]).is_some_and(|h| h.contains("storage.delete.enabled")));
        assert!(delete_hint(400, &[OciError { code: "UNSUPPORTED".into(), message: String::new() }]).is_some());
        assert!(delete_hint(404, &[]).is_none());
    }
}
