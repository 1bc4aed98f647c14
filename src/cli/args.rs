//! Flag groups shared by several commands, and what they build: registry clients with
//! credentials, drivers, the [`Site`] that `tags` and `cleanup` work on, tag strategies.

use clap::Args;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::push_serve::existing_static_root;
use crate::drivers::{ApiTokens, AzureServicePrincipal, DriverOptions};
use crate::error::Error;
use crate::gitinfo::GitInfo;
use crate::naming::TagOptions;
use crate::registry::{Client, ClientOptions, Credential, CredentialStore, Repository};
use crate::secret::Secret;



/// A static root to work on instead of a registry (`tags`, `cleanup`).
#[derive(Args, Debug, Clone)]
pub struct StaticArgs {
    /// Work on a static root (a directory or `s3://BUCKET/PREFIX`, as `wharf push
    /// --static-root` writes it) instead of a registry; repositories are then paths inside
    /// it. Manifests and blobs no tag reaches any more are deleted after the tags go.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub static_root: Option<String>,
    /// On a static root, unreferenced files younger than this stay (a `wharf push` may
    /// still be writing them); `0` collects everything unreferenced.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub gc_grace: String,
}

impl StaticArgs {
    /// The static driver and its root, when `--static-root` is given.
    pub async fn driver(&self) -> Result<Option<Arc<crate::drivers::StaticDriver>>, Error> {
        let Some(spec) = &self.static_root else { return Ok(None) };
        let grace = crate::config::parse_go_duration(&self.gc_grace)
            .map_err(|e| Error::Usage(format!("--gc-grace {:?}: {e} (e.g. 1h, 30m, 0)", self.gc_grace)))?;
        let root = existing_static_root(spec, "--static-root ").await?;
        Ok(Some(Arc::new(crate::drivers::StaticDriver::new(root, grace))))
    }
}

/// Where `tags` and `cleanup` work: a registry repository (its driver, and the distribution
/// client cleanup reads through) or a static root's.
pub struct Site {
    pub repo: Repository,
    pub driver: Arc<dyn crate::drivers::Driver>,
    pub store: Arc<dyn crate::store::Backend>,
}

/// `repo` as a [`Site`]: in the static root when `--static-root` is given, else in the
/// registry its host names (or `implementation`'s).
pub async fn target(repo: &str, statics: &StaticArgs, registry: &RegistryArgs, driver: &DriverArgs, implementation: Option<&str>) -> Result<Site, Error> {
    if let Some(found) = statics.driver().await? {
        let repo = crate::drivers::StaticDriver::repository(repo).map_err(|e| Error::Usage(format!("repository in --static-root: {e}")))?;
        let store: Arc<dyn crate::store::Backend> = Arc::new(found.root().clone());
        return Ok(Site { repo, driver: found, store });
    }
    let repo = crate::drivers::parse_repository(repo).map_err(|e| Error::Usage(e.to_string()))?;
    let (driver, client) = driver_and_client(&repo, registry, driver, implementation).await?;
    Ok(Site { repo, driver, store: Arc::new(client) })
}

/// Driver choice and the credentials of registries' native APIs.
#[derive(Args, Debug, Clone)]
pub struct DriverArgs {
    /// Use this driver instead of the one detected from the host (`wharf registry detect` lists them).
    #[arg(long, value_name = "NAME", env = "WHARF_IMPLEMENTATION")]
    pub implementation: Option<String>,
    /// Base URL of the registry's native API (self-hosted GitLab `https://gitlab.example.com/api/v4`, GitHub Enterprise, Harbor on another host).
    #[arg(long, value_name = "URL", env = "WHARF_API_URL")]
    pub api_url: Option<String>,
    /// GitHub token for the packages API (needs read:packages, and delete:packages to remove tags).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,
    /// GitLab personal, project or group access token (PRIVATE-TOKEN).
    #[arg(long, env = "GITLAB_TOKEN", hide_env_values = true)]
    pub gitlab_token: Option<String>,
    /// GitLab CI job token (JOB-TOKEN).
    #[arg(long, env = "CI_JOB_TOKEN", hide_env_values = true)]
    pub gitlab_job_token: Option<String>,
    /// Quay OAuth application token.
    #[arg(long, env = "QUAY_TOKEN", hide_env_values = true)]
    pub quay_token: Option<String>,
    /// Azure AD access token, exchanged for an ACR token (e.g. `az account get-access-token`).
    #[arg(long, env = "AZURE_ACCESS_TOKEN", hide_env_values = true)]
    pub azure_token: Option<String>,
    /// Azure AD application (service principal) id; with the secret and tenant, wharf gets the Azure AD token itself.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,
    /// Azure AD application (service principal) client secret.
    #[arg(long, env = "AZURE_CLIENT_SECRET", hide_env_values = true)]
    pub azure_client_secret: Option<String>,
    /// Azure AD tenant of the service principal.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub azure_tenant_id: Option<String>,
    /// Azure AD authority (sovereign clouds), default https://login.microsoftonline.com.
    #[arg(long, value_name = "URL", env = "AZURE_AUTHORITY_HOST")]
    pub azure_authority_host: Option<String>,
    /// Google OAuth access token (e.g. `gcloud auth print-access-token`).
    #[arg(long, env = "GOOGLE_OAUTH_ACCESS_TOKEN", hide_env_values = true)]
    pub google_token: Option<String>,
    /// Google application-default credentials file (service account key or `gcloud auth application-default login`); default: gcloud's well-known file when it exists.
    #[arg(long, value_name = "FILE", env = "GOOGLE_APPLICATION_CREDENTIALS")]
    pub google_application_credentials: Option<PathBuf>,
    /// Create missing repositories before pushing (registries that need it, e.g. ECR).
    #[arg(long)]
    pub create_repositories: bool,
}

impl DriverArgs {
    /// The options drivers are built with, over `client`.
    pub fn options(&self, client: Client) -> Result<DriverOptions, Error> {
        let api_url = self
            .api_url
            .as_deref()
            .map(|u| url::Url::parse(u).map_err(|e| Error::Usage(format!("--api-url {u:?}: {e}"))))
            .transpose()?;
        let secret = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(Secret::new);
        let tokens = ApiTokens {
            github: secret(&self.github_token),
            gitlab: secret(&self.gitlab_token),
            gitlab_job: secret(&self.gitlab_job_token),
            quay: secret(&self.quay_token),
            azure: secret(&self.azure_token),
            azure_sp: self.azure_service_principal()?,
            google: secret(&self.google_token),
            google_credentials: self.google_credentials_file(),
        };
        Ok(DriverOptions { client, api_url, tokens, create_repositories: self.create_repositories })
    }

    /// The application-default credentials file: the flag or `GOOGLE_APPLICATION_CREDENTIALS`,
    /// else gcloud's `application_default_credentials.json` (in `CLOUDSDK_CONFIG`, default
    /// `~/.config/gcloud`) when it exists.
    fn google_credentials_file(&self) -> Option<PathBuf> {
        if let Some(p) = self.google_application_credentials.clone().filter(|p| !p.as_os_str().is_empty()) {
            return Some(p);
        }
        let dir = std::env::var_os("CLOUDSDK_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")))?;
        Some(dir.join("application_default_credentials.json")).filter(|p| p.is_file())
    }

    /// The service principal, when its id, secret and tenant are all given (the id alone is
    /// also used by managed and workload identities, so a partial set is not an error).
    fn azure_service_principal(&self) -> Result<Option<AzureServicePrincipal>, Error> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let (Some(client_id), Some(secret), Some(tenant_id)) =
            (given(&self.azure_client_id), given(&self.azure_client_secret), given(&self.azure_tenant_id))
        else {
            return Ok(None);
        };
        let authority = given(&self.azure_authority_host).unwrap_or_else(|| AzureServicePrincipal::DEFAULT_AUTHORITY.into());
        let authority = url::Url::parse(&authority).map_err(|e| Error::Usage(format!("--azure-authority-host {authority:?}: {e}")))?;
        Ok(Some(AzureServicePrincipal { tenant_id, client_id, client_secret: Secret::new(secret), authority }))
    }
}
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Registry host that may be reached over plain HTTP (loopback hosts always may).
    #[arg(long = "insecure-registry", value_name = "HOST", env = "WHARF_INSECURE_REGISTRY", value_delimiter = ',')]
    pub insecure_registries: Vec<String>,
    /// Registry username (the password is read from standard input with --password-stdin).
    #[arg(long, env = "WHARF_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Read the registry password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[arg(long, env = "WHARF_REGISTRY_PASSWORD", hide_env_values = true, hide = true)]
    pub password: Option<String>,
    /// Directory holding docker's config.json.
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub docker_config: Option<PathBuf>,
    /// Longest wait for a registry's answer, or for the next piece of one (e.g. `30s`, `5m`;
    /// default 5m). A request that times out is retried when it is safe to repeat.
    #[arg(long, value_name = "DURATION", env = "WHARF_REGISTRY_TIMEOUT")]
    pub registry_timeout: Option<String>,
    /// PEM file of CA certificates to trust besides the system's (a registry with a private CA).
    #[arg(long, value_name = "PATH", env = "WHARF_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Most tags one repository may list; past it wharf stops with an error rather than
    /// acting on a partial list.
    #[arg(long, value_name = "N", env = "WHARF_MAX_TAGS", default_value_t = crate::registry::DEFAULT_MAX_TAGS)]
    pub max_tags: usize,
}


#[derive(Args, Debug, Clone)]
pub struct TagArgs {
    /// A tag of your own (repeatable).
    #[arg(long = "tag-custom", value_name = "TAG")]
    pub custom: Vec<String>,
    /// Tag with the git branch (value from the CI environment or the local repository when omitted).
    #[arg(long = "tag-git-branch", value_name = "BRANCH", num_args = 0..=1, default_missing_value = "")]
    pub git_branch: Option<String>,
    /// Tag with the git tag (value from CI or git when omitted).
    #[arg(long = "tag-git-tag", value_name = "TAG", num_args = 0..=1, default_missing_value = "")]
    pub git_tag: Option<String>,
    /// Tag with the git commit (value from CI or git when omitted).
    #[arg(long = "tag-git-commit", value_name = "SHA", num_args = 0..=1, default_missing_value = "")]
    pub git_commit: Option<String>,
    /// Tag with the stage digest (the default when no other tag is asked for).
    #[arg(long = "tag-by-signature")]
    pub by_signature: bool,
    /// Tag VERSION and its aliases (v1.2.3 → v1.2.3, 1.2.3, 1.2, 1).
    #[arg(long = "tag-semver", value_name = "VERSION")]
    pub semver: Option<String>,
    /// Also tag `latest`.
    #[arg(long = "tag-latest")]
    pub latest: bool,
}

/// Values the CI system gives about the checkout.
pub(super) fn ci_git_info() -> GitInfo {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let github_ref = var("GITHUB_REF_NAME");
    let github_type = var("GITHUB_REF_TYPE");
    let (gh_branch, gh_tag) = match github_type.as_deref() {
        Some("tag") => (None, github_ref),
        Some("branch") => (var("GITHUB_HEAD_REF").or(github_ref), None),
        _ => (None, None),
    };
    GitInfo {
        commit: var("GITHUB_SHA").or_else(|| var("CI_COMMIT_SHA")),
        branch: gh_branch.or_else(|| var("CI_COMMIT_BRANCH")).or_else(|| var("CI_COMMIT_REF_NAME").filter(|_| var("CI_COMMIT_TAG").is_none())),
        tag: gh_tag.or_else(|| var("CI_COMMIT_TAG")),
    }
}

impl TagArgs {
    /// The strategies asked for; `--tag-by-signature` when none is.
    pub(super) fn resolve(&self, project_dir: &std::path::Path) -> Result<TagOptions, Error> {
        let mut opts = self.resolve_given(project_dir)?;
        if opts.is_empty() {
            opts.by_signature = true;
        }
        Ok(opts)
    }

    /// The strategies asked for, with values filled from CI or git.
    pub(super) fn resolve_given(&self, project_dir: &std::path::Path) -> Result<TagOptions, Error> {
        let git = ci_git_info().or(GitInfo::discover(project_dir));
        let fill = |flag: &str, given: &Option<String>, found: &Option<String>| -> Result<Option<String>, Error> {
            match given.as_deref() {
                None => Ok(None),
                Some("") => found.clone().map(Some).ok_or_else(|| {
                    Error::Usage(format!("--{flag} has no value and none was found in the CI environment or the git repository\n  hint: pass it explicitly, e.g. --{flag}=VALUE"))
                }),
                Some(v) => Ok(Some(v.to_string())),
            }
        };
        Ok(TagOptions {
            custom: self.custom.clone(),
            git_branch: fill("tag-git-branch", &self.git_branch, &git.branch)?,
            git_tag: fill("tag-git-tag", &self.git_tag, &git.tag)?,
            git_commit: fill("tag-git-commit", &self.git_commit, &git.commit)?,
            by_signature: self.by_signature,
            semver: self.semver.clone(),
            latest: self.latest,
        })
    }
}


impl RegistryArgs {
    /// A client with credentials from flags, env (declared above) and docker's config.
    pub fn client(&self, registries: &[&str]) -> Result<Client, Error> {
        let (store, _) = self.credentials(registries)?;
        self.client_with(store)
    }

    /// Credentials from flags, env (declared above) and docker's config; `true` when the
    /// user gave some explicitly. Reads standard input once for --password-stdin.
    pub fn credentials(&self, registries: &[&str]) -> Result<(CredentialStore, bool), Error> {
        let mut store = CredentialStore::new();
        let config_dir = self.docker_config.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        if let Some(dir) = &config_dir {
            store = store.with_docker_config_dir(dir).map_err(Error::Registry)?;
        }
        let password = if self.password_stdin {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| Error::Usage(format!("--password-stdin: {e}")))?;
            Some(s.trim_end_matches(['\n', '\r']).to_string())
        } else {
            self.password.clone()
        };
        let explicit = self.username.is_some() && password.is_some();
        if let (Some(user), Some(pass)) = (&self.username, password) {
            for r in registries {
                store = store.with_explicit(r, Credential::basic(user.clone(), Secret::new(pass.clone())));
            }
        }
        Ok((store, explicit))
    }

    pub fn client_with(&self, credentials: CredentialStore) -> Result<Client, Error> {
        let mut opts = ClientOptions {
            insecure_hosts: self.insecure_registries.clone(),
            credentials,
            max_tags: self.max_tags,
            list_progress: super::progress::tag_listing(),
            ..ClientOptions::default()
        };
        if let Some(t) = &self.registry_timeout {
            let timeout = crate::config::parse_go_duration(t)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| Error::Usage(format!("--registry-timeout {t:?}: expected a positive duration such as 30s or 5m")))?;
            opts.read_timeout = timeout;
            opts.connect_timeout = opts.connect_timeout.min(timeout);
        }
        if let Some(path) = &self.ca_file {
            opts.extra_roots = read_ca_file(path)?;
        }
        Client::new(opts).map_err(Error::Registry)
    }
}

/// The certificates of a PEM file (one or more `BEGIN CERTIFICATE` blocks).
fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let usage = |detail: String| Error::Usage(format!("--ca-file {}: {detail}", path.display()));
    let pem = std::fs::read(path).map_err(|e| usage(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| usage(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(usage("no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)".into()));
    }
    Ok(certs)
}

/// The driver for `repo` and a client that carries the driver's own registry login (ECR's
/// GetAuthorizationToken) unless the user gave credentials.
pub async fn driver_and_client(
    repo: &Repository,
    registry: &RegistryArgs,
    driver: &DriverArgs,
    implementation: Option<&str>,
) -> Result<(Arc<dyn crate::drivers::Driver>, Client), Error> {
    let info = crate::drivers::select(implementation.or(driver.implementation.as_deref()), repo)?;
    let (store, explicit) = registry.credentials(&[repo.registry.as_str()])?;
    let client = registry.client_with(store.clone())?;
    let built: Arc<dyn crate::drivers::Driver> = Arc::from(crate::drivers::build(info, &driver.options(client.clone())?, repo)?);
    if explicit {
        return Ok((built, client));
    }
    match built.registry_credential().await? {
        Some(login) => {
            let client = registry.client_with(store.with_explicit(&repo.registry, login))?;
            let rebuilt = Arc::from(crate::drivers::build(info, &driver.options(client.clone())?, repo)?);
            Ok((rebuilt, client))
        }
        None => Ok((built, client)),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        driver: DriverArgs,
    }

    fn driver_args(args: &[&str]) -> DriverArgs {
        Wrap::try_parse_from(std::iter::once("wharf").chain(args.iter().copied())).unwrap().driver
    }

    #[test]
    fn a_service_principal_needs_id_secret_and_tenant() {
        let partial = driver_args(&["--azure-client-id", "app", "--azure-tenant-id", "t"]);
        assert!(partial.azure_service_principal().unwrap().is_none(), "a lone client id (managed identity) is not a service principal");
        let full = driver_args(&["--azure-client-id", "app", "--azure-client-secret", "s3cret", "--azure-tenant-id", "t"]);
        let sp = full.azure_service_principal().unwrap().unwrap();
        assert_eq!((sp.client_id.as_str(), sp.tenant_id.as_str(), sp.client_secret.expose()), ("app", "t", "s3cret"));
        assert_eq!(sp.authority.as_str(), "https://login.microsoftonline.com/");
        let bad = driver_args(&["--azure-client-id", "a", "--azure-client-secret", "s", "--azure-tenant-id", "t", "--azure-authority-host", "nope"]);
        assert!(bad.azure_service_principal().is_err());
    }

    #[test]
    fn the_google_credentials_flag_wins() {
        let args = driver_args(&["--google-application-credentials", "/tmp/key.json"]);
        assert_eq!(args.google_credentials_file(), Some(PathBuf::from("/tmp/key.json")));
    }
}
