//! Credentials and where they come from.
//!
//! A [`CredentialStore`] is built from explicit inputs only: credentials the caller passes for a
//! host (from flags or environment read in `cli/`) and the path of a Docker config directory.
//! Lookup order for a registry: explicit credential, then the Docker config (credential helper
//! for the host, the default store, the `auths` entry). Results are cached per registry, so a
//! credential helper runs at most once per host.
//!
//! - [`docker_config`]: docker's `config.json` (`auths`, `credsStore`, `credHelpers`) and the
//!   credential helpers it names;
//! - [`docker_login`]: storing and removing a login the way `docker login` does (`wharf login`).
//!
//! Vendor logins (ECR's token exchange, GitHub's and Quay's API tokens) belong to their
//! driver in `drivers/`, which reads its own settings.

pub mod docker_config;
pub mod docker_login;

use crate::registry::error::{CredentialInfo, Result};
use crate::secret::Secret;
use crate::spec::reference::DOCKER_HUB;
use docker_config::DockerConfig;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the client authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    Basic {
        username: String,
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in Docker's config), exchanged at the token realm.
    IdentityToken(Secret),
}

impl Credential {
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credential::Basic { username: username.into(), password: password.into() }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Credential::Anonymous)
    }
}

/// Where a credential was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Passed by the caller (flags or environment).
    Explicit,
    /// The `auths` section of a Docker config file.
    DockerConfig(PathBuf),
    /// A `docker-credential-<name>` helper.
    Helper(String),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Explicit => f.write_str("--username/--password-stdin or WHARF_REGISTRY_*"),
            CredentialSource::DockerConfig(p) => write!(f, "docker config {}", p.display()),
            CredentialSource::Helper(name) => write!(f, "credential helper docker-credential-{name}"),
        }
    }
}

/// A credential together with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCredential {
    pub credential: Credential,
    pub source: CredentialSource,
}

impl ResolvedCredential {
    /// "user alice from docker config …": safe to show, never contains the secret.
    pub fn info(&self) -> CredentialInfo {
        let who = match &self.credential {
            Credential::Anonymous => "anonymous".to_string(),
            Credential::Basic { username, .. } => format!("user {username}"),
            Credential::IdentityToken(_) => "identity token".to_string(),
        };
        CredentialInfo { description: format!("{who} from {}", self.source) }
    }
}

/// Looks up credentials per registry. Cheap to clone; clones share the cache.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    explicit: HashMap<String, Credential>,
    docker: Option<DockerConfig>,
    helper_dir: Option<PathBuf>,
    cache: Arc<Mutex<HashMap<String, Option<ResolvedCredential>>>>,
}

impl CredentialStore {
    /// An empty store: every registry is anonymous.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `credential` for `registry` (`host[:port]`; Docker Hub aliases are normalised).
    pub fn with_explicit(mut self, registry: &str, credential: Credential) -> Self {
        self.explicit.insert(normalise_host(registry), credential);
        self
    }

    /// Reads `<dir>/config.json`. A missing file is not an error (no credentials from it).
    pub fn with_docker_config_dir(mut self, dir: &Path) -> Result<Self> {
        self.docker = DockerConfig::load(&dir.join("config.json"))?;
        Ok(self)
    }

    /// Uses an already parsed Docker config.
    pub fn with_docker_config(mut self, config: DockerConfig) -> Self {
        self.docker = Some(config);
        self
    }

    /// Looks for `docker-credential-<name>` in `dir` instead of `PATH`.
    pub fn with_helper_dir(mut self, dir: &Path) -> Self {
        self.helper_dir = Some(dir.to_path_buf());
        self
    }

    /// The credential for `registry`, or `None` when there is none (anonymous access).
    pub async fn resolve(&self, registry: &str) -> Result<Option<ResolvedCredential>> {
        let host = normalise_host(registry);
        if let Some(hit) = self.cache_get(&host) {
            return Ok(hit);
        }
        let found = self.lookup(&host).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host, found.clone());
        }
        Ok(found)
    }

    fn cache_get(&self, host: &str) -> Option<Option<ResolvedCredential>> {
        self.cache.lock().ok().and_then(|c| c.get(host).cloned())
    }

    async fn lookup(&self, host: &str) -> Result<Option<ResolvedCredential>> {
        if let Some(credential) = self.explicit.get(host) {
            let credential = credential.clone();
            return Ok(Some(ResolvedCredential { credential, source: CredentialSource::Explicit }));
        }
        match &self.docker {
            Some(config) => config.credential_for(host, self.helper_dir.as_deref()).await,
            None => Ok(None),
        }
    }
}

/// Normalises a registry host or a Docker config key (`https://index.docker.io/v1/`) to the form
/// a [`Repository`](crate::registry::Repository) uses: no scheme, no path, `docker.io` for Hub.
pub fn normalise_host(key: &str) -> String {
    let key = key.trim();
    let no_scheme = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = no_scheme.split('/').next().unwrap_or(no_scheme);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => DOCKER_HUB.to_string(),
        other => other.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_docker_config_keys() {
        assert_eq!(normalise_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalise_host("registry-1.docker.io"), "docker.io");
        assert_eq!(normalise_host("https://ghcr.io"), "ghcr.io");
        assert_eq!(normalise_host("http://localhost:5000/v2/"), "localhost:5000");
        assert_eq!(normalise_host("Registry.Example.com:443"), "registry.example.com:443");
    }

    #[tokio::test]
    async fn explicit_wins_and_info_hides_secret() {
        let store = CredentialStore::new().with_explicit("index.docker.io", Credential::basic("bob", "pa55"));
        let found = store.resolve("docker.io").await.unwrap().unwrap();
        assert_eq!(found.source, CredentialSource::Explicit);
        let info = found.info().description;
        assert!(info.contains("user bob") && !info.contains("pa55"), "{info}");
        assert!(!format!("{found:?}").contains("pa55"));
        assert_eq!(store.resolve("ghcr.io").await.unwrap(), None);
    }
}
