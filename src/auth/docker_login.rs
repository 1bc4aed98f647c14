//! Saving and removing a registry login where docker keeps it, so docker, skopeo, crane and
//! wharf all find it afterwards.
//!
//! Docker's rule (docker/cli `config/credentials`): the credential helper `config.json` names
//! for the registry (`credHelpers[host]`, else `credsStore`) stores the secret
//! (`docker-credential-<name> store`, a JSON `{ServerURL, Username, Secret}` on standard input)
//! and `auths` keeps an empty entry for the host; without a helper, `auths[host]` holds
//! `{"auth": base64(user:password)}`. The key is the host as docker writes it
//! (`https://index.docker.io/v1/` for Docker Hub). Logging out erases the helper's entry
//! (`erase`, the server URL on standard input) and every `auths` key naming the host.
//!
//! The file is rewritten whole: every other field stays as it was, the new file is written
//! beside the old one with mode 0600 and renamed over it, so a reader never sees half a file
//! and no other user can read the secret.

use crate::auth::docker_config::{call_helper, helper_server_url};
use crate::auth::normalise_host;
use crate::registry::error::{RegistryError, Result};
use crate::secret::Secret;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where a login was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// By `docker-credential-<name>`.
    Helper(String),
    /// In the `auths` section of this file (base64, not encrypted).
    File(PathBuf),
}

/// What [`remove`] found and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The helper that held a login for the host and erased it.
    pub helper: Option<String>,
    /// `auths` keys removed from the file.
    pub entries: Vec<String>,
}

impl Removed {
    pub fn anything(&self) -> bool {
        self.helper.is_some() || !self.entries.is_empty()
    }
}

/// Stores `username`/`password` for `registry` in the docker config directory `dir`, as
/// `docker login` does. `helper_dir`: where to find credential helpers (else `PATH`).
pub async fn save(
    dir: &Path,
    registry: &str,
    username: &str,
    password: &Secret,
    helper_dir: Option<&Path>,
) -> Result<Stored> {
    let host = normalise_host(registry);
    let path = dir.join("config.json");
    let mut config = read(&path)?;
    let key = helper_server_url(&host);
    let stored = match helper_for(&config, &host) {
        Some(helper) => {
            let request = serde_json::json!({"ServerURL": key, "Username": username, "Secret": password.expose()});
            let answer = call_helper(&helper, &host, helper_dir, "store", request.to_string().as_bytes()).await?;
            if !answer.success {
                return Err(RegistryError::CredentialHelper {
                    helper,
                    registry: host,
                    detail: "it refused to store the login (its output is not shown: it may hold secrets)".into(),
                });
            }
            set_entry(&mut config, &host, &key, Map::new());
            Stored::Helper(helper)
        }
        None => {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
            set_entry(&mut config, &host, &key, Map::from_iter([("auth".to_string(), Value::String(auth))]));
            Stored::File(path.clone())
        }
    };
    write(dir, &path, &config)?;
    Ok(stored)
}

/// Removes the login for `registry` from the docker config directory `dir`: the helper's
/// entry (when a helper is configured for it) and every `auths` key naming the host.
pub async fn remove(dir: &Path, registry: &str, helper_dir: Option<&Path>) -> Result<Removed> {
    let host = normalise_host(registry);
    let path = dir.join("config.json");
    let mut config = read(&path)?;
    let mut removed = Removed::default();
    if let Some(helper) = helper_for(&config, &host) {
        let answer = call_helper(&helper, &host, helper_dir, "erase", helper_server_url(&host).as_bytes()).await?;
        if answer.success {
            removed.helper = Some(helper);
        } else if !answer.not_found() {
            return Err(RegistryError::CredentialHelper {
                helper,
                registry: host,
                detail: "it failed to erase the login (its output is not shown: it may hold secrets)".into(),
            });
        }
    }
    if let Some(auths) = config.get_mut("auths").and_then(Value::as_object_mut) {
        removed.entries = auths.keys().filter(|k| normalise_host(k) == host).cloned().collect();
        auths.retain(|k, _| normalise_host(k) != host);
    }
    if !removed.entries.is_empty() {
        write(dir, &path, &config)?;
    }
    Ok(removed)
}

/// The file as a JSON object; an empty one when it does not exist.
fn read(path: &Path) -> Result<Map<String, Value>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(source) => {
            return Err(RegistryError::Io { op: "read docker config", path: path.to_path_buf(), source });
        }
    };
    let invalid = |detail: String| RegistryError::DockerConfig { path: path.to_path_buf(), detail };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("not a JSON object; fix or move the file, then log in again".into())),
        Err(e) => Err(invalid(format!("invalid JSON ({e}); fix or move the file, then log in again"))),
    }
}

/// The helper that stores logins for `host`: `credHelpers[host]`, else `credsStore`.
fn helper_for(config: &Map<String, Value>, host: &str) -> Option<String> {
    let per_host = config
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| normalise_host(k) == host))
        .and_then(|(_, v)| v.as_str());
    per_host.or_else(|| config.get("credsStore").and_then(Value::as_str)).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Sets `auths[key]` to `entry`, dropping other keys that name the same host (`https://host`,
/// `host/v2/`), so exactly one entry answers for it.
fn set_entry(config: &mut Map<String, Value>, host: &str, key: &str, entry: Map<String, Value>) {
    let auths = config.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Some(auths) = auths.as_object_mut() {
        auths.retain(|k, _| normalise_host(k) != host);
        auths.insert(key.to_string(), Value::Object(entry));
    }
}

/// Writes `config` to `path` atomically, mode 0600; creates `dir` (mode 0700) when missing.
fn write(dir: &Path, path: &Path, config: &Map<String, Value>) -> Result<()> {
    fn io(op: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + use<> {
        let path = p.to_path_buf();
        move |source| RegistryError::Io { op, path, source }
    }
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io("create docker config directory", dir))?;
    }
    let mut text = serde_json::to_string_pretty(config).unwrap_or_default();
    text.push('\n');
    // NamedTempFile creates the file with mode 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("write docker config", path))?;
    tmp.write_all(text.as_bytes()).map_err(io("write docker config", path))?;
    tmp.as_file().sync_all().map_err(io("write docker config", path))?;
    tmp.persist(path).map_err(|e| io("write docker config", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credential, CredentialStore};

    fn config_of(dir: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap()
    }

    async fn credential(dir: &Path, host: &str, helper_dir: Option<&Path>) -> Option<Credential> {
        let mut store = CredentialStore::new().with_docker_config_dir(dir).unwrap();
        if let Some(h) = helper_dir {
            store = store.with_helper_dir(h);
        }
        store.resolve(host).await.unwrap().map(|r| r.credential)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_login_goes_to_auths_with_mode_0600_keeping_the_rest_of_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"https://localhost:5000":{"auth":"b2xkOm9sZA=="},"ghcr.io":{"auth":"dTpw"}},"psFormat":"table {{.ID}}","HttpHeaders":{"X-A":"b"}}"#,
        )
        .unwrap();
        let stored = save(dir.path(), "localhost:5000", "alice", &Secret::new("s3cret"), None).await.unwrap();
        assert_eq!(stored, Stored::File(dir.path().join("config.json")));
        let c = config_of(dir.path());
        assert_eq!(c["auths"]["localhost:5000"]["auth"], "YWxpY2U6czNjcmV0", "base64 of alice:s3cret");
        assert!(c["auths"].get("https://localhost:5000").is_none(), "one entry per host: {c}");
        assert_eq!(c["auths"]["ghcr.io"]["auth"], "dTpw");
        assert_eq!(c["psFormat"], "table {{.ID}}");
        assert_eq!(c["HttpHeaders"]["X-A"], "b");
        let mode = std::fs::metadata(dir.path().join("config.json")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(credential(dir.path(), "localhost:5000", None).await, Some(Credential::basic("alice", "s3cret")));

        // Docker Hub gets docker's legacy key.
        save(dir.path(), "docker.io", "bob", &Secret::new("pw"), None).await.unwrap();
        assert!(config_of(dir.path())["auths"]["https://index.docker.io/v1/"]["auth"].is_string());

        let removed = remove(dir.path(), "localhost:5000", None).await.unwrap();
        assert_eq!(removed.entries, vec!["localhost:5000".to_string()]);
        assert_eq!(credential(dir.path(), "localhost:5000", None).await, None);
        assert!(!remove(dir.path(), "localhost:5000", None).await.unwrap().anything());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_config_directory_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("docker");
        save(&dir, "localhost:5000", "alice", &Secret::new("pw"), None).await.unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[tokio::test]
    async fn a_broken_file_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let e = save(dir.path(), "localhost:5000", "a", &Secret::new("pw"), None).await.unwrap_err().to_string();
        assert!(e.contains("invalid JSON") && e.contains("config.json"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.path().join("config.json")).unwrap(), "{not json");
    }

    /// `docker-credential-NAME` in `dir`: the test helper of `tests/fixtures`, which keeps
    /// each login in a file, so the test sees what it was told.
    #[cfg(unix)]
    fn file_helper(dir: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, include_str!("../../tests/fixtures/docker-credential-file.sh")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn with_a_credential_store_the_secret_goes_to_the_helper_and_auths_keeps_an_empty_entry() {
        let (dir, helpers) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        file_helper(helpers.path(), "file");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credsStore":"file","auths":{"localhost:5000":{"auth":"b2xkOm9sZA=="}}}"#,
        )
        .unwrap();
        let stored =
            save(dir.path(), "localhost:5000", "alice", &Secret::new("s3cret"), Some(helpers.path())).await.unwrap();
        assert_eq!(stored, Stored::Helper("file".into()));
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("YWxpY2U6czNjcmV0"), "{text}");
        assert_eq!(config_of(dir.path())["auths"]["localhost:5000"], serde_json::json!({}));
        assert_eq!(
            credential(dir.path(), "localhost:5000", Some(helpers.path())).await,
            Some(Credential::basic("alice", "s3cret"))
        );

        let removed = remove(dir.path(), "localhost:5000", Some(helpers.path())).await.unwrap();
        assert_eq!(removed.helper.as_deref(), Some("file"));
        assert_eq!(credential(dir.path(), "localhost:5000", Some(helpers.path())).await, None);
        // Nothing left: the helper's "not found" is no error.
        assert!(!remove(dir.path(), "localhost:5000", Some(helpers.path())).await.unwrap().anything());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_per_host_helper_wins_over_the_store() {
        let (dir, helpers) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        file_helper(helpers.path(), "file");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credsStore":"absent","credHelpers":{"localhost:5000":"file"}}"#,
        )
        .unwrap();
        let stored =
            save(dir.path(), "localhost:5000", "alice", &Secret::new("pw"), Some(helpers.path())).await.unwrap();
        assert_eq!(stored, Stored::Helper("file".into()));
        let e = save(dir.path(), "other.example.com", "alice", &Secret::new("hunter2-secret"), Some(helpers.path()))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("docker-credential-absent") && !e.contains("hunter2"), "{e}");
    }
}
