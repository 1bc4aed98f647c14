//! A bearer token kept until shortly before it expires, and dropped when the API says it no
//! longer works.
//!
//! Native APIs hand out short-lived tokens: Docker Hub's `/v2/auth/token` access token expires
//! after 10 minutes, Google's and Azure AD's after their `expires_in`. A cleanup run can last
//! longer than that, so a token is fetched again once it is close to its end, and after a 401
//! (a token revoked or expired early) through [`TokenCache::invalidate`]. Concurrent callers
//! share one fetch.

use super::Result;
use crate::secret::Secret;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Refresh at most this long before the end of a token's life …
const MAX_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    /// When to fetch a new one; `None`: the token does not expire (as far as we know).
    refresh_at: Option<Instant>,
}

impl TokenCache {
    /// The cached token while it is fresh, else the one `fetch` gives: the token and its
    /// lifetime from now, when known. A token just fetched is returned even if its lifetime
    /// is very short.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Option<Duration>)>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.refresh_at.is_none_or(|at| Instant::now() < at)) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let refresh_at = lifetime.map(|l| Instant::now() + l.saturating_sub(margin(l)));
        *slot = Some(Cached { token: token.clone(), refresh_at });
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token (a 401 said it no longer works), so the
    /// next [`TokenCache::get`] fetches a new one.
    pub async fn invalidate(&self, used: &Secret) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token.expose() == used.expose()) {
            *slot = None;
        }
    }
}

/// How long before its end a token of `lifetime` is replaced: a quarter of its life, at most
/// a minute (so a 10-minute Docker Hub token is replaced after 9 minutes).
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(MAX_MARGIN)
}

/// The `exp` claim of a JWT, as a lifetime from now; `None` when `token` is not a JWT with one.
/// The signature is not checked: this only decides when to ask for a new token.
pub(crate) fn jwt_lifetime(token: &str) -> Option<Duration> {
    use base64::Engine as _;
    let claims = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims.trim_end_matches('=')).ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("exp")?.as_u64()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(exp.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn fetch_counting(n: &AtomicUsize, lifetime: Option<Duration>) -> Result<(Secret, Option<Duration>)> {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Ok((Secret::new(format!("token-{i}")), lifetime))
    }

    #[tokio::test]
    async fn a_token_is_reused_until_close_to_its_end_then_fetched_again() {
        let (cache, n) = (TokenCache::default(), AtomicUsize::new(0));
        let ten_minutes = Some(Duration::from_secs(600));
        assert_eq!(cache.get(|| fetch_counting(&n, ten_minutes)).await.unwrap().expose(), "token-0");
        assert_eq!(cache.get(|| fetch_counting(&n, ten_minutes)).await.unwrap().expose(), "token-0");
        let short = Some(Duration::from_millis(80));
        let (cache, n) = (TokenCache::default(), AtomicUsize::new(0));
        assert_eq!(cache.get(|| fetch_counting(&n, short)).await.unwrap().expose(), "token-0");
        tokio::time::sleep(Duration::from_millis(70)).await;
        assert_eq!(
            cache.get(|| fetch_counting(&n, short)).await.unwrap().expose(),
            "token-1",
            "refreshed before its end"
        );
    }

    #[tokio::test]
    async fn invalidate_forgets_only_the_token_that_failed() {
        let (cache, n) = (TokenCache::default(), AtomicUsize::new(0));
        let first = cache.get(|| fetch_counting(&n, None)).await.unwrap();
        cache.invalidate(&Secret::new("some-other")).await;
        assert_eq!(cache.get(|| fetch_counting(&n, None)).await.unwrap().expose(), "token-0");
        cache.invalidate(&first).await;
        assert_eq!(cache.get(|| fetch_counting(&n, None)).await.unwrap().expose(), "token-1");
    }

    #[test]
    fn jwt_lifetimes() {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let jwt =
            format!("{}.{}.sig", b64(serde_json::json!({"alg": "RS256"})), b64(serde_json::json!({"exp": now + 600})));
        let l = jwt_lifetime(&jwt).unwrap();
        assert!(l <= Duration::from_secs(600) && l >= Duration::from_secs(590), "{l:?}");
        assert_eq!(jwt_lifetime("opaque-token"), None);
        assert_eq!(margin(Duration::from_secs(600)), Duration::from_secs(60));
        assert_eq!(margin(Duration::from_secs(8)), Duration::from_secs(2));
    }
}
