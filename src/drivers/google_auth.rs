//! Google application-default credentials → an OAuth access token.
//!
//! The file is the `--google-application-credentials` setting (`GOOGLE_APPLICATION_CREDENTIALS`),
//! else gcloud's well-known `~/.config/gcloud/application_default_credentials.json` when it
//! exists ([`well_known_file`], which `cli/` calls with the environment); it is read when a
//! token is first needed, and the token is kept until shortly before its `expires_in` runs
//! out (an hour, usually), then obtained again.
//!
//! - `type: service_account`: a JWT signed RS256 with the file's key (`iss` = `client_email`,
//!   `scope` = cloud-platform, `aud` = `token_uri`, one hour), sent as
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT` to `token_uri`.
//! - `type: authorized_user` (`gcloud auth application-default login`): the refresh-token grant
//!   with the file's `client_id`, `client_secret` and `refresh_token` to `token_uri`
//!   (Google's `https://oauth2.googleapis.com/token` unless the file names another).
//!
//! Signing is jsonwebtoken's (aws-lc-rs). Errors name the file and what is wrong with it, never
//! a value from it.

use super::api::{Api, Repeat, form};
use super::token_cache::TokenCache;
use super::{DriverError, Result};
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Google's OAuth token endpoint, for files that do not name one.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The scope asked for: Artifact Registry accepts cloud-platform.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion (Google's maximum).
const ASSERTION_SECONDS: u64 = 3600;

#[derive(serde::Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: Secret,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(serde::Deserialize)]
struct AuthorizedUser {
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(serde::Deserialize)]
struct TokenReply {
    access_token: Secret,
    /// Seconds the token is valid for.
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Application-default credentials from one file, and the token they gave.
#[derive(Debug)]
pub(crate) struct Adc {
    path: PathBuf,
    token: TokenCache,
}

impl Adc {
    pub fn new(path: PathBuf) -> Self {
        Adc { path, token: TokenCache::default() }
    }

    /// The access token, obtained on first use and again when it is about to expire.
    pub async fn token(&self, api: &Api, target: &str) -> Result<Secret> {
        self.token.get(|| self.fetch(api, target)).await
    }

    async fn fetch(&self, api: &Api, target: &str) -> Result<(Secret, Option<Duration>)> {
        let op = "get a Google access token from application-default credentials";
        let bad = |detail: String| DriverError::BadCredential {
            driver: api.info.name,
            op,
            target: target.to_string(),
            detail,
        };
        let text =
            tokio::fs::read(&self.path).await.map_err(|e| bad(format!("cannot read {}: {e}", self.path.display())))?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            bad(format!("{} is not JSON (line {}, column {})", self.path.display(), e.line(), e.column()))
        })?;
        let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string();
        // Field errors are reported without serde's message, which could quote a value.
        let fields = |needs: &str| bad(format!("{}: a {kind} credentials file needs {needs}", self.path.display()));
        let (token_uri, body) = match kind.as_str() {
            "service_account" => {
                let sa: ServiceAccount =
                    serde_json::from_value(value).map_err(|_| fields("client_email and private_key (strings)"))?;
                let token_uri = sa.token_uri.clone().unwrap_or_else(|| DEFAULT_TOKEN_URI.into());
                let assertion = sign_assertion(&sa, &token_uri, now())
                    .map_err(|why| bad(format!("{}: {why}", self.path.display())))?;
                (token_uri, vec![("grant_type", JWT_BEARER.to_string()), ("assertion", assertion.expose().to_string())])
            }
            "authorized_user" => {
                let user: AuthorizedUser = serde_json::from_value(value)
                    .map_err(|_| fields("client_id, client_secret and refresh_token (strings)"))?;
                let token_uri = user.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.into());
                let body = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("client_id", user.client_id),
                    ("client_secret", user.client_secret.expose().to_string()),
                    ("refresh_token", user.refresh_token.expose().to_string()),
                ];
                (token_uri, body)
            }
            other => {
                return Err(bad(format!(
                    "{}: credentials of type {other:?} are not supported (service_account and authorized_user are); use --google-token",
                    self.path.display()
                )));
            }
        };
        let pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sent = api.send(op, target, Repeat::Safe, false, |h| form(h.post(&token_uri), &pairs)).await;
        let resp = match sent {
            Err(DriverError::Api(mut e)) if (400..500).contains(&e.status) && e.status != 429 => {
                e.hint = Some(format!(
                    "Google refused the {kind} credentials in {} (revoked, expired or deleted key?)",
                    self.path.display()
                ));
                return Err(DriverError::Api(e));
            }
            other => other?,
        };
        let reply = api.json::<TokenReply>(op, target, resp).await?;
        Ok((reply.access_token, reply.expires_in.map(Duration::from_secs)))
    }
}

/// gcloud's application-default credentials file, `application_default_credentials.json` in
/// `CLOUDSDK_CONFIG` (default `~/.config/gcloud`), when it exists.
pub(crate) fn well_known_file(env: super::settings::Env<'_>) -> Option<String> {
    let dir = env("CLOUDSDK_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")))?;
    let file = dir.join("application_default_credentials.json");
    file.is_file().then(|| file.to_string_lossy().into_owned())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The service account's signed JWT assertion for `token_uri`, issued at `iat`.
fn sign_assertion(sa: &ServiceAccount, token_uri: &str, iat: u64) -> std::result::Result<Secret, String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = EncodingKey::from_rsa_pem(sa.private_key.expose().as_bytes())
        .map_err(|_| "private_key is not an RSA key in PEM form".to_string())?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = sa.private_key_id.clone();
    let claims = Claims { iss: &sa.client_email, scope: SCOPE, aud: token_uri, iat, exp: iat + ASSERTION_SECONDS };
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Secret::new)
        .map_err(|e| format!("cannot sign with private_key: {}", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_file_is_in_cloudsdk_config_else_under_home() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("application_default_credentials.json");
        let cloudsdk = |k: &str| (k == "CLOUDSDK_CONFIG").then(|| dir.path().to_string_lossy().into_owned());
        assert_eq!(well_known_file(&cloudsdk), None, "no file, no fallback");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(well_known_file(&cloudsdk).map(PathBuf::from), Some(file));
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".config/gcloud")).unwrap();
        std::fs::write(home.path().join(".config/gcloud/application_default_credentials.json"), "{}").unwrap();
        let env = |k: &str| (k == "HOME").then(|| home.path().to_string_lossy().into_owned());
        assert_eq!(
            well_known_file(&env).map(PathBuf::from),
            Some(home.path().join(".config/gcloud/application_default_credentials.json"))
        );
    }
}
