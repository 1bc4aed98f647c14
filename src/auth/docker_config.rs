//! Docker's `config.json`: `auths`, `credsStore`, `credHelpers`, and the credential-helper
//! protocol (`docker-credential-<name> get`, server URL on stdin, JSON on stdout).
//!
//! Keys in `auths` may be `host`, `https://host` or, for Docker Hub,
//! `https://index.docker.io/v1/`; they are normalised before matching. A helper that answers
//! "credentials not found" (the protocol's fixed reply) means "no credential", after which the
//! `auths` entry, if it holds one, is used.

use crate::auth::{Credential, CredentialSource, ResolvedCredential, normalise_host};
use crate::registry::error::{RegistryError, Result};
use crate::secret::Secret;
use crate::spec::reference::DOCKER_HUB;
use base64::Engine as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// The helper protocol's reply when it has nothing for a server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";
/// The username a helper returns for an identity token.
const TOKEN_USERNAME: &str = "<token>";

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: HashMap<String, RawAuth>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// A parsed Docker config, with keys normalised.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    path: PathBuf,
    auths: HashMap<String, Credential>,
    creds_store: Option<String>,
    cred_helpers: HashMap<String, String>,
}

#[derive(serde::Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl DockerConfig {
    /// Reads and parses `path`; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => Self::parse(path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RegistryError::Io { op: "read docker config", path: path.to_path_buf(), source }),
        }
    }

    /// Parses config bytes; `path` is used in messages and as the credential source.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self> {
        let err = |detail: String| RegistryError::DockerConfig { path: path.to_path_buf(), detail };
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let mut auths = HashMap::new();
        for (key, entry) in raw.auths {
            if let Some(credential) = decode_entry(&entry).map_err(|d| err(format!("auths[{key:?}]: {d}")))? {
                auths.insert(normalise_host(&key), credential);
            }
        }
        let cred_helpers = raw.cred_helpers.into_iter().map(|(k, v)| (normalise_host(&k), v)).collect();
        let creds_store = raw.creds_store.filter(|s| !s.is_empty());
        Ok(DockerConfig { path: path.to_path_buf(), auths, creds_store, cred_helpers })
    }

    /// The credential for `host` (normalised): helper for the host, default store, `auths`.
    pub async fn credential_for(&self, host: &str, helper_dir: Option<&Path>) -> Result<Option<ResolvedCredential>> {
        let helper = self.cred_helpers.get(host).or(self.creds_store.as_ref());
        if let Some(name) = helper
            && let Some(credential) = run_helper(name, host, helper_dir).await?
        {
            return Ok(Some(ResolvedCredential { credential, source: CredentialSource::Helper(name.clone()) }));
        }
        Ok(self.auths.get(host).map(|credential| ResolvedCredential {
            credential: credential.clone(),
            source: CredentialSource::DockerConfig(self.path.clone()),
        }))
    }
}

/// One `auths` entry: `identitytoken` wins, then `auth` (base64 `user:password`), then
/// `username`/`password`. An entry with none of them (helper placeholder) yields `None`.
fn decode_entry(entry: &RawAuth) -> std::result::Result<Option<Credential>, String> {
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(Secret::new(token))));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        // Never echo the field's content: it is a password.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| "`auth` is not valid base64".to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "`auth` does not decode to UTF-8".to_string())?;
        let (user, password) = text.split_once(':').ok_or("`auth` must decode to user:password")?;
        return Ok(Some(Credential::basic(user, password)));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::basic(u.clone(), p.as_str()))),
        _ => Ok(None),
    }
}

/// The server URL a helper is asked about, and the `auths` key docker writes (Docker Hub
/// keeps its legacy index URL).
pub(crate) fn helper_server_url(host: &str) -> String {
    if host == DOCKER_HUB { "https://index.docker.io/v1/".to_string() } else { host.to_string() }
}

/// What a helper answered: whether it succeeded, and its standard output.
pub(crate) struct HelperAnswer {
    pub success: bool,
    pub stdout: String,
}

impl HelperAnswer {
    /// The helper said it has nothing for the server (the protocol's fixed reply).
    pub fn not_found(&self) -> bool {
        !self.success && self.stdout.trim() == HELPER_NOT_FOUND
    }
}

/// Runs `docker-credential-<name> ACTION` (`get`, `store`, `erase`) with `input` on its
/// standard input, from `dir` when given (else `PATH`). Its output is never put in an error:
/// it may hold secrets.
pub(crate) async fn call_helper(
    name: &str,
    host: &str,
    dir: Option<&Path>,
    action: &str,
    input: &[u8],
) -> Result<HelperAnswer> {
    let fail = |detail: String| RegistryError::CredentialHelper {
        helper: name.to_string(),
        registry: host.to_string(),
        detail,
    };
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(fail("invalid helper name".to_string()));
    }
    let program = format!("docker-credential-{name}");
    let program = dir.map_or_else(|| PathBuf::from(&program), |d| d.join(&program));
    let mut child = tokio::process::Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", program.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin closes the pipe: its exit status and output
        // tell what happened, so a failed write is not an error by itself.
        if let Err(e) = stdin.write_all(input).await {
            tracing::debug!(helper = name, error = %e, "credential helper did not read its input");
        }
    }
    let output = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| fail(format!("no answer within {} s", HELPER_TIMEOUT.as_secs())))?
        .map_err(|e| fail(format!("helper failed: {e}")))?;
    Ok(HelperAnswer { success: output.status.success(), stdout: String::from_utf8_lossy(&output.stdout).into_owned() })
}

/// Runs `docker-credential-<name> get`. `Ok(None)` when the helper has nothing for `host`.
async fn run_helper(name: &str, host: &str, dir: Option<&Path>) -> Result<Option<Credential>> {
    let answer = call_helper(name, host, dir, "get", helper_server_url(host).as_bytes()).await?;
    let fail = |detail: String| RegistryError::CredentialHelper {
        helper: name.to_string(),
        registry: host.to_string(),
        detail,
    };
    if answer.not_found() {
        return Ok(None);
    }
    if !answer.success {
        return Err(fail("it failed (its output is not shown: it may hold secrets)".to_string()));
    }
    let reply: HelperReply = serde_json::from_str(&answer.stdout)
        .map_err(|_| fail("the helper's reply is not the expected JSON".to_string()))?;
    Ok(match (reply.username.as_str(), reply.secret.is_empty()) {
        (_, true) => None,
        (TOKEN_USERNAME, false) => Some(Credential::IdentityToken(Secret::new(reply.secret))),
        (user, false) => Some(Credential::basic(user, reply.secret)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        DockerConfig::parse(Path::new("/cfg/config.json"), json.as_bytes()).unwrap()
    }

    async fn cred(c: &DockerConfig, host: &str, dir: Option<&Path>) -> Option<ResolvedCredential> {
        c.credential_for(host, dir).await.unwrap()
    }

    #[tokio::test]
    async fn auths_in_all_key_forms() {
        // "alice:s3cret" and "bob:pw:with:colons"
        let c = config(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"YWxpY2U6czNjcmV0"},
                "https://ghcr.io":{"auth":"Ym9iOnB3OndpdGg6Y29sb25z"},
                "localhost:5000":{"username":"u","password":"p"},
                "quay.io":{"identitytoken":"refresh-me"},
                "empty.example.com":{}
            }}"#,
        );
        let hub = cred(&c, "docker.io", None).await.unwrap();
        assert_eq!(hub.credential, Credential::basic("alice", "s3cret"));
        assert_eq!(hub.source, CredentialSource::DockerConfig(PathBuf::from("/cfg/config.json")));
        assert_eq!(cred(&c, "ghcr.io", None).await.unwrap().credential, Credential::basic("bob", "pw:with:colons"));
        assert_eq!(cred(&c, "localhost:5000", None).await.unwrap().credential, Credential::basic("u", "p"));
        assert_eq!(
            cred(&c, "quay.io", None).await.unwrap().credential,
            Credential::IdentityToken(Secret::new("refresh-me"))
        );
        assert!(cred(&c, "empty.example.com", None).await.is_none());
        assert!(cred(&c, "other.io", None).await.is_none());
    }

    #[test]
    fn bad_entries_are_reported_without_their_content() {
        let e = DockerConfig::parse(Path::new("c.json"), br#"{"auths":{"x.io":{"auth":"%%%secret%%%"}}}"#).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("x.io") && text.contains("base64") && !text.contains("secret%"), "{text}");
        let e = DockerConfig::parse(Path::new("c.json"), b"{not json").unwrap_err();
        assert!(e.to_string().contains("invalid JSON"));
        // Unknown fields (as Docker writes them) are fine.
        config(r#"{"auths":{},"HttpHeaders":{"User-Agent":"x"},"psFormat":"table"}"#);
    }

    #[test]
    fn missing_file_is_no_config() {
        assert!(DockerConfig::load(Path::new("/nonexistent/dir/config.json")).unwrap().is_none());
    }

    #[cfg(unix)]
    fn write_helper(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn credential_helpers_per_host_and_store() {
        let dir = tempfile::tempdir().unwrap();
        // Echoes the server URL it was asked about as the username, so the test sees it.
        write_helper(
            dir.path(),
            "fake",
            r#"read url; printf '{"ServerURL":"%s","Username":"%s","Secret":"hs3cret"}' "$url" "$url""#,
        );
        write_helper(
            dir.path(),
            "tok",
            r#"read url; printf '{"ServerURL":"%s","Username":"<token>","Secret":"rt"}' "$url""#,
        );
        write_helper(dir.path(), "none", r#"echo "credentials not found in native keychain"; exit 1"#);
        write_helper(dir.path(), "broken", r#"echo "password=hunter2"; exit 3"#);
        let c = config(
            r#"{"credsStore":"fake","credHelpers":{"tok.example.com":"tok","none.example.com":"none","broken.io":"broken"},
                "auths":{"none.example.com":{"auth":"dTpw"},"ghcr.io":{}}}"#,
        );
        let d = Some(dir.path());
        let hub = cred(&c, "docker.io", d).await.unwrap();
        assert_eq!(hub.credential, Credential::basic("https://index.docker.io/v1/", "hs3cret"));
        assert_eq!(hub.source, CredentialSource::Helper("fake".into()));
        assert_eq!(cred(&c, "ghcr.io", d).await.unwrap().credential, Credential::basic("ghcr.io", "hs3cret"));
        assert_eq!(
            cred(&c, "tok.example.com", d).await.unwrap().credential,
            Credential::IdentityToken(Secret::new("rt"))
        );
        // Helper has nothing: the auths entry ("u:p") is used.
        let none = cred(&c, "none.example.com", d).await.unwrap();
        assert_eq!(none.credential, Credential::basic("u", "p"));
        let err = c.credential_for("broken.io", d).await.unwrap_err().to_string();
        assert!(err.contains("docker-credential-broken") && !err.contains("hunter2"), "{err}");
        let err = c.credential_for("docker.io", Some(Path::new("/nonexistent"))).await.unwrap_err();
        assert!(err.to_string().contains("cannot run"), "{err}");
    }
}
