//! The Bearer token flow of the distribution spec, and the token cache.
//!
//! Anonymous and Basic credentials: `GET realm?service=S&scope=A&scope=B` (with Basic auth when
//! there is a credential). Identity tokens: `POST realm` with the form
//! `grant_type=refresh_token&refresh_token=…&service=S&scope=A B&client_id=wharf`. The answer's
//! `token` or `access_token` is cached per (registry, scope set) until shortly before its
//! `expires_in` runs out (60 s when the server does not say).

use crate::auth::{Credential, ResolvedCredential};
use crate::registry::error::{Context, RegistryError, Result, auth_hint};
use crate::registry::transport::transport_error;
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lifetime the spec assumes when the token answer has no `expires_in`.
const DEFAULT_EXPIRES_IN: u64 = 60;
/// Tokens are dropped this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Largest token answer read.
const MAX_TOKEN_BODY: usize = 1 << 20;

/// `repository:NAME:ACTIONS`.
pub fn repository_scope(path: &str, actions: &str) -> String {
    format!("repository:{path}:{actions}")
}

/// A bearer token and when to stop using it.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub valid_until: Instant,
}

/// Tokens per (registry, sorted scope set).
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<(String, String), Token>>,
}

/// The cache key for a scope set: sorted, deduplicated, space-joined.
pub fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

impl TokenCache {
    pub fn get(&self, registry: &str, scopes: &[String]) -> Option<Secret> {
        let key = (registry.to_string(), scope_key(scopes));
        let tokens = self.tokens.lock().ok()?;
        tokens.get(&key).filter(|t| t.valid_until > Instant::now()).map(|t| t.value.clone())
    }

    pub fn put(&self, registry: &str, scopes: &[String], token: Token) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, t| t.valid_until > Instant::now());
            tokens.insert((registry.to_string(), scope_key(scopes)), token);
        }
    }

    pub fn forget(&self, registry: &str, scopes: &[String]) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&(registry.to_string(), scope_key(scopes)));
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// What a token request needs besides the HTTP client.
pub struct TokenRequest<'a> {
    pub ctx: &'a Context,
    pub realm: &'a str,
    pub service: Option<&'a str>,
    pub scopes: &'a [String],
    pub credential: Option<&'a ResolvedCredential>,
}

/// Fetches a token from the realm. Refuses to send a credential to a plain-HTTP realm on a
/// non-loopback host.
pub async fn fetch(http: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token> {
    let fail = |status: Option<u16>, detail: String| {
        let hint = status.filter(|s| matches!(s, 401 | 403)).map(|s| {
            let used = req.credential.filter(|c| !c.credential.is_anonymous()).map(ResolvedCredential::info);
            auth_hint(&req.ctx.registry, s, used.as_ref(), req.scopes)
        });
        RegistryError::Token { ctx: req.ctx.clone().into(), realm: req.realm.to_string(), status, detail, hint }
    };
    let url = url::Url::parse(req.realm).map_err(|_| fail(None, "the realm is not a valid URL".into()))?;
    let credential = req.credential.map(|c| &c.credential).filter(|c| !c.is_anonymous());
    if credential.is_some() && url.scheme() != "https" && !crate::registry::transport::is_loopback(&url) {
        return Err(RegistryError::InsecureCredentials {
            ctx: req.ctx.clone().into(),
            host: url.host_str().unwrap_or_default().to_string(),
        });
    }
    let builder = match credential {
        Some(Credential::IdentityToken(refresh)) => refresh_request(http, url, req, refresh),
        Some(Credential::Basic { username, password }) => {
            get_request(http, url, req).basic_auth(username, Some(password.expose()))
        }
        Some(Credential::Anonymous) | None => get_request(http, url, req),
    };
    let realm_host = url_host(req.realm);
    let resp = builder.send().await.map_err(|e| transport_error(req.ctx, &realm_host, e))?;
    let status = resp.status().as_u16();
    let body = read_capped(resp).await.map_err(|d| fail(Some(status), d))?;
    if !(200..300).contains(&status) {
        let codes = crate::registry::error::parse_oci_errors(&body);
        let detail = codes.first().map_or_else(String::new, |e| format!(": {} {}", e.code, e.message));
        return Err(fail(Some(status), format!("HTTP {status}{detail}")));
    }
    parse_reply(&body).map_err(|d| fail(Some(status), d))
}

/// `host[:port]` of a URL, for messages.
fn url_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| u.port().map_or_else(|| h.to_string(), |p| format!("{h}:{p}"))))
        .unwrap_or_default()
}

fn get_request(http: &reqwest::Client, mut url: url::Url, req: &TokenRequest<'_>) -> reqwest::RequestBuilder {
    {
        let mut q = url.query_pairs_mut();
        if let Some(service) = req.service {
            q.append_pair("service", service);
        }
        for scope in req.scopes {
            q.append_pair("scope", scope);
        }
    }
    http.get(url)
}

fn refresh_request(
    http: &reqwest::Client,
    url: url::Url,
    req: &TokenRequest<'_>,
    refresh: &Secret,
) -> reqwest::RequestBuilder {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token");
    form.append_pair("refresh_token", refresh.expose());
    form.append_pair("client_id", "wharf");
    if let Some(service) = req.service {
        form.append_pair("service", service);
    }
    if !req.scopes.is_empty() {
        form.append_pair("scope", &req.scopes.join(" "));
    }
    http.post(url).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form.finish())
}

async fn read_capped(resp: reqwest::Response) -> std::result::Result<Vec<u8>, String> {
    use futures::StreamExt as _;
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the answer failed: {}", e.without_url()))?;
        if body.len() + chunk.len() > MAX_TOKEN_BODY {
            return Err(format!("the answer is larger than {MAX_TOKEN_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a token answer: `token` or `access_token`, optional `expires_in`.
pub fn parse_reply(body: &[u8]) -> std::result::Result<Token, String> {
    let reply: TokenReply = serde_json::from_slice(body).map_err(|_| "the answer is not token JSON".to_string())?;
    let value = reply
        .token
        .filter(|t| !t.is_empty())
        .or(reply.access_token.filter(|t| !t.is_empty()))
        .ok_or("the answer has neither `token` nor `access_token`")?;
    let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(DEFAULT_EXPIRES_IN).max(1));
    let valid_for = lifetime.saturating_sub(EXPIRY_MARGIN).max(lifetime / 2);
    Ok(Token { value: Secret::new(value), valid_until: Instant::now() + valid_for })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_or_access_token() {
        let t = parse_reply(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.value.expose(), "abc");
        assert!(t.valid_until > Instant::now() + Duration::from_secs(280));
        let t = parse_reply(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(t.value.expose(), "xyz");
        assert!(t.valid_until < Instant::now() + Duration::from_secs(61));
        assert!(parse_reply(br#"{"token":""}"#).is_err());
        assert!(parse_reply(b"nope").is_err());
        // A tiny lifetime still yields a usable (short) token.
        assert!(parse_reply(br#"{"token":"a","expires_in":0}"#).is_ok());
    }

    #[test]
    fn cache_is_keyed_by_scope_set() {
        let cache = TokenCache::default();
        let a = vec![repository_scope("x", "pull"), repository_scope("y", "pull,push")];
        let b: Vec<String> = a.iter().rev().cloned().collect();
        let token = Token { value: Secret::new("t"), valid_until: Instant::now() + Duration::from_secs(60) };
        cache.put("reg", &a, token);
        assert_eq!(cache.get("reg", &b).map(|s| s.expose().to_string()).as_deref(), Some("t"));
        assert!(cache.get("reg", &a[..1]).is_none());
        assert!(cache.get("other", &a).is_none());
        cache.forget("reg", &a);
        assert!(cache.get("reg", &a).is_none());
        let expired = Token { value: Secret::new("old"), valid_until: Instant::now() };
        cache.put("reg", &a, expired);
        assert!(cache.get("reg", &a).is_none());
    }
}
