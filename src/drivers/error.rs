//! Driver errors: which driver, which operation, on what, and what to do next.
//!
//! Auth failures (401/403) carry what the credential needs, taken from the driver's row in
//! the table, so a refused delete says e.g. that Docker Hub tokens need the Delete scope.
//! No variant holds a secret: tokens live in [`crate::secret::Secret`] and request URLs are
//! stripped from transport errors.

use crate::registry::RegistryError;
use std::fmt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the {driver} driver cannot {op}: the registry has no API for it")]
    Unsupported { driver: &'static str, op: &'static str },
    #[error("unknown registry implementation {name:?}{}; valid values: {valid}", fmt_suggestion(suggestion))]
    UnknownImplementation { name: String, valid: String, suggestion: Option<&'static str> },
    #[error("{driver} driver: {source}{}", fmt_needs(*needs))]
    Registry {
        driver: &'static str,
        /// What the credential needs, shown on auth failures.
        needs: Option<&'static str>,
        #[source]
        source: RegistryError,
    },
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error("{driver} driver: {op} {target}: {detail}")]
    Transport {
        driver: &'static str,
        op: &'static str,
        target: String,
        detail: String,
        #[source]
        source: Option<reqwest::Error>,
    },
    #[error("{driver} driver: {op} {target}: unexpected response: {detail}")]
    Protocol { driver: &'static str, op: &'static str, target: String, detail: String },
    #[error("{driver} driver: {op} {target}: no credential for the {driver} API\n  hint: {needs}")]
    MissingCredential { driver: &'static str, op: &'static str, target: String, needs: String },
    /// A credential source is there but unusable (an unreadable or malformed key file, a key
    /// that cannot sign); the detail never holds the secret.
    #[error("{driver} driver: {op} {target}: {detail}")]
    BadCredential { driver: &'static str, op: &'static str, target: String, detail: String },
    #[error("static driver: {0}")]
    Static(#[from] crate::static_registry::root::StaticError),
    /// A removal that could not be confirmed: the tag is still there (what the registry did,
    /// and whether the tag was put back, is in `detail`) or cannot be read back.
    #[error("{driver} driver: untag {target}: not removed: {detail}")]
    UntagNotVerified { driver: &'static str, target: String, detail: String },
    #[error("{driver} driver: tag {tag:?} does not exist in {repo}")]
    TagNotFound { driver: &'static str, repo: String, tag: String },
    #[error("{driver} driver: {op} {target}: {detail}")]
    Refused {
        driver: &'static str,
        op: &'static str,
        target: String,
        /// The registry's error code, when it gave one (e.g. ECR's `failureCode`).
        code: Option<String>,
        /// What happened and what to do.
        detail: String,
    },
}

/// A native API answered with an error status.
#[derive(Debug, thiserror::Error)]
#[error("{driver} driver: {op} {target}: HTTP {status}{}{}", fmt_detail(detail), fmt_hint(hint))]
pub struct ApiError {
    pub driver: &'static str,
    pub op: &'static str,
    pub target: String,
    pub status: u16,
    /// What the API said (bounded, without secrets).
    pub detail: String,
    pub retry_after: Option<Duration>,
    /// The refusal was a rate limit (429, or GitHub's 403 with `x-ratelimit-remaining: 0` or
    /// `retry-after`), not a permission failure.
    pub rate_limited: bool,
    pub hint: Option<String>,
}

fn fmt_suggestion(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default()
}

fn fmt_needs(needs: Option<&'static str>) -> String {
    needs.map(|n| format!("\n  the credential needs: {n}")).unwrap_or_default()
}

fn fmt_detail(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

fn fmt_hint(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default()
}

impl DriverError {
    /// Wraps a distribution-client error, adding what the credential needs on 401/403.
    pub fn registry(driver: &'static super::DriverInfo, source: RegistryError) -> Self {
        let needs = source.is_auth().then_some(driver.needs);
        DriverError::Registry { driver: driver.name, needs, source }
    }

    /// 401 or 403, from the registry or the native API; or no credential at all.
    pub fn is_auth(&self) -> bool {
        match self {
            DriverError::Registry { source, .. } => source.is_auth(),
            DriverError::Api(a) => matches!(a.status, 401 | 403) && !a.rate_limited,
            DriverError::MissingCredential { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            DriverError::Registry { source, .. } => source.status(),
            DriverError::Api(a) => Some(a.status),
            _ => None,
        }
    }

    /// 404 from the registry or its API, or a missing tag.
    pub fn is_not_found(&self) -> bool {
        match self {
            DriverError::Registry { source, .. } => source.is_not_found(),
            DriverError::Api(a) => a.status == 404,
            DriverError::TagNotFound { .. } => true,
            _ => false,
        }
    }

    /// The server's `Retry-After` on a refused request, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DriverError::Api(a) => a.retry_after,
            DriverError::Registry { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// A 429, or a 403 the API marks as a rate limit: wait, do not fix the credential.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, DriverError::Api(a) if a.rate_limited)
    }

    pub fn is_unsupported(&self) -> bool {
        matches!(self, DriverError::Unsupported { .. })
    }
}

/// `repo:tag` or `repo` for messages.
pub(crate) fn target(repo: &impl fmt::Display, tag: Option<&str>) -> String {
    match tag {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    }
}

impl DriverError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            DriverError::UnknownImplementation { .. } => crate::error::Category::Usage,
            DriverError::Static(e) => e.category(),
            DriverError::Registry { source, .. } => source.category(),
            _ => crate::error::Category::Registry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_driver_op_target_and_hint() {
        let e = DriverError::Api(Box::new(ApiError {
            driver: "dockerhub",
            op: "delete tag",
            target: "docker.io/acme/app:v1".into(),
            status: 403,
            detail: "forbidden".into(),
            retry_after: None,
            rate_limited: false,
            hint: Some("personal access tokens need the Delete scope".into()),
        }));
        let text = e.to_string();
        assert_eq!(
            text,
            "dockerhub driver: delete tag docker.io/acme/app:v1: HTTP 403: forbidden\n  hint: personal access tokens need the Delete scope"
        );
        assert!(e.is_auth());
        let u = DriverError::Unsupported { driver: "quay", op: "create repository" };
        assert!(u.is_unsupported() && u.to_string().contains("quay driver cannot create repository"));
    }
}
