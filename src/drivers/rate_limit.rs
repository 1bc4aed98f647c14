//! Reading a native API's rate-limit answer: whether a refusal is a rate limit, and how long
//! the server asks to wait.
//!
//! - `Retry-After` (seconds or an HTTP date), the standard header.
//! - `X-Retry-After`: Docker Hub's API documented it as a Unix timestamp ("when you can call the
//!   API again") before docker/docs#22916 switched the text to `Retry-After` in seconds; both
//!   are honoured, and a small number is read as seconds.
//! - `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (UTC epoch seconds): GitHub's primary
//!   rate limit, answered with 403 or 429 ("Rate limits for the REST API",
//!   <https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
//!   GitHub's secondary limits answer 403 or 429 with `retry-after`.
//!
//! So a 429 is always a rate limit, and a 403 is one when it carries `retry-after`,
//! `x-retry-after` or `x-ratelimit-remaining: 0`; any other 403 is a permission failure.

use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A number above this is a Unix timestamp, not a count of seconds (2001-09-09).
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// Whether `status` with `headers` is a rate limit rather than a refusal.
pub(crate) fn is_rate_limit(status: u16, headers: &HeaderMap) -> bool {
    status == 429
        || (status == 403 && (has(headers, "retry-after") || has(headers, "x-retry-after") || exhausted(headers)))
}

/// How long the server asks to wait before the next request, when it says.
pub(crate) fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(w) = text(headers, "retry-after").and_then(|v| crate::registry::parse_retry_after(v, now)) {
        return Some(w);
    }
    if let Some(v) = text(headers, "x-retry-after") {
        if let Ok(n) = v.trim().parse::<u64>() {
            return Some(if n > EPOCH_THRESHOLD { until(n, now) } else { Duration::from_secs(n) });
        }
        if let Some(w) = crate::registry::parse_retry_after(v, now) {
            return Some(w);
        }
    }
    if exhausted(headers) {
        return text(headers, "x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|reset| until(reset, now));
    }
    None
}

fn exhausted(headers: &HeaderMap) -> bool {
    text(headers, "x-ratelimit-remaining").is_some_and(|v| v.trim() == "0")
}

fn has(headers: &HeaderMap, name: &str) -> bool {
    headers.contains_key(name)
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// From `now` to the epoch second `at` (zero when it has passed).
fn until(at: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    Duration::from_secs(at.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn github_primary_and_secondary_limits_are_rate_limits_plain_403s_are_not() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let primary = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000042")]);
        assert!(is_rate_limit(403, &primary));
        assert_eq!(server_wait(&primary, now), Some(Duration::from_secs(42)));
        let secondary = headers(&[("retry-after", "60"), ("x-ratelimit-remaining", "12")]);
        assert!(is_rate_limit(403, &secondary));
        assert_eq!(server_wait(&secondary, now), Some(Duration::from_secs(60)));
        let refused = headers(&[("x-ratelimit-remaining", "4999"), ("x-ratelimit-reset", "1700000042")]);
        assert!(!is_rate_limit(403, &refused));
        assert_eq!(server_wait(&refused, now), None);
        assert!(is_rate_limit(429, &HeaderMap::new()));
    }

    #[test]
    fn docker_hub_x_retry_after_is_a_timestamp_or_seconds() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(server_wait(&headers(&[("x-retry-after", "1700000030")]), now), Some(Duration::from_secs(30)));
        assert_eq!(server_wait(&headers(&[("x-retry-after", "5")]), now), Some(Duration::from_secs(5)));
        assert_eq!(server_wait(&headers(&[("x-retry-after", "1600000000")]), now), Some(Duration::ZERO), "in the past");
        assert_eq!(
            server_wait(&headers(&[("retry-after", "7"), ("x-retry-after", "1700000030")]), now),
            Some(Duration::from_secs(7))
        );
    }
}
