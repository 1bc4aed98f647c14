//! Flag groups shared by several commands, and what they build: registry clients with
//! credentials, static roots, locks, tag strategies. (Drivers' flags: [`super::driver_args`].)

use clap::{Args, ValueEnum};
use std::io::Read;
use std::path::PathBuf;

use super::driver_args::DriverArgs;
use crate::error::Error;
use crate::gitinfo::GitInfo;
use crate::naming::TagOptions;
use crate::registry::{Client, ClientOptions, Credential, CredentialStore};
use crate::secret::Secret;
use crate::static_registry::root::{S3Root, StaticRoot};

/// Where the project is.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Project")]
pub struct ProjectArgs {
    /// Project directory.
    #[arg(long, default_value = ".", env = "WHARF_DIR")]
    pub dir: PathBuf,
    /// Project file (default: DIR/wharf.yaml, else DIR/werf.yaml).
    #[arg(long, env = "WHARF_CONFIG")]
    pub config: Option<PathBuf>,
    /// The deployment environment, `.Env` in the project file's templates (werf's `--env`).
    #[arg(long = "env", value_name = "ENV", env = "WHARF_ENV", default_value = "")]
    pub werf_env: String,
    /// Directory of template partials (`**/*.tmpl`), relative to DIR (default: .werf).
    #[arg(long, value_name = "DIR", env = "WHARF_CONFIG_TEMPLATES_DIR")]
    pub config_templates_dir: Option<PathBuf>,
    /// Let templates read any variable with `env`, whatever werf-giterminism.yaml allows
    /// (its secrets and contextAddFiles lists are lifted too), as werf's flag does.
    #[arg(long, env = "WHARF_LOOSE_GITERMINISM")]
    pub loose_giterminism: bool,
}

impl ProjectArgs {
    /// What the project file's templates read: the process environment (for `env`),
    /// `--env` and the git HEAD commit. Read here, at the edge, and nowhere else.
    pub fn render_inputs(&self) -> crate::config::RenderInputs {
        crate::config::RenderInputs {
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            werf_env: self.werf_env.clone(),
            commit: crate::config::CommitInfo::discover(&self.dir),
            templates_dir: self.config_templates_dir.clone(),
            work_tree: crate::config::discover_work_tree(&self.dir),
            loose_giterminism: self.loose_giterminism,
        }
    }

    /// Loads the project with [`ProjectArgs::render_inputs`].
    pub fn load(&self) -> Result<crate::config::Project, crate::config::ConfigError> {
        crate::config::load_with(&self.dir, self.config.as_deref(), &self.render_inputs())
    }
}

/// Where `tags` and `cleanup` work: a static root, or a registry through its driver.
#[derive(Args, Debug, Clone)]
pub struct SiteArgs {
    #[command(flatten)]
    pub statics: StaticArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

/// A static root to work on instead of a registry (`tags`, `cleanup`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Registry & credentials")]
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
    pub async fn driver(&self) -> Result<Option<crate::drivers::StaticDriver>, Error> {
        let Some(spec) = &self.static_root else { return Ok(None) };
        let grace = crate::config::parse_go_duration(&self.gc_grace)
            .map_err(|e| Error::Usage(format!("--gc-grace {:?}: {e} (e.g. 1h, 30m, 0)", self.gc_grace)))?;
        let root = existing_static_root(spec, "--static-root ").await?;
        Ok(Some(crate::drivers::StaticDriver::new(root, grace)))
    }
}

/// A static root from `DIR` or `s3://BUCKET/PREFIX`; S3 settings from the AWS environment.
pub async fn static_root(spec: &str) -> Result<StaticRoot, Error> {
    if !spec.starts_with("s3://") {
        return Ok(StaticRoot::dir(std::path::Path::new(spec)));
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    S3Root::new(&sdk, spec).map(StaticRoot::s3).map_err(|e| Error::Usage(format!("--static-root {e}")))
}

/// The static root at `spec`, which must exist already (a directory needs its `v2`);
/// `flag` names where it was given, for the error.
pub async fn existing_static_root(spec: &str, flag: &str) -> Result<StaticRoot, Error> {
    let root = static_root(spec).await?;
    if let Some(dir) = root.local_dir()
        && !dir.join("v2").is_dir()
    {
        let hint = "hint: write one with `wharf push SRC REPO:TAG --static-root DIR`";
        return Err(Error::Usage(format!("{flag}{}: not a static root (no v2 directory)\n  {hint}", dir.display())));
    }
    Ok(root)
}

/// How to reach registries: transport, credentials, limits.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Registry & credentials")]
pub struct RegistryArgs {
    /// Registry host that may be reached over plain HTTP (loopback hosts always may); without
    /// a value (werf's boolean form, or `=true`), every registry the command names.
    /// Credentials never go over plain HTTP to a host that is not loopback.
    #[arg(long = "insecure-registry", value_name = "HOST", env = "WHARF_INSECURE_REGISTRY", value_delimiter = ',', num_args = 0..=1, default_missing_value = "true")]
    pub insecure_registries: Vec<String>,
    /// Do not verify the TLS certificates of the registries the command names (werf's flag;
    /// a warning names them). Prefer --ca-file for a private CA.
    #[arg(long, env = "WHARF_SKIP_TLS_VERIFY_REGISTRY")]
    pub skip_tls_verify_registry: bool,
    /// Registry username (the password is read from standard input with --password-stdin).
    #[arg(long, short = 'u', env = "WHARF_REGISTRY_USERNAME")]
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

/// Tag strategies.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Tags")]
pub struct TagArgs {
    /// A tag of your own (repeatable; with build and build-and-publish also werf 1.1's
    /// WERF_TAG_CUSTOM_*).
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
        branch: gh_branch
            .or_else(|| var("CI_COMMIT_BRANCH"))
            .or_else(|| var("CI_COMMIT_REF_NAME").filter(|_| var("CI_COMMIT_TAG").is_none())),
        tag: gh_tag.or_else(|| var("CI_COMMIT_TAG")),
    }
}

impl TagArgs {
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
            add_custom: Vec::new(),
        })
    }
}

impl RegistryArgs {
    /// A client with credentials from flags, env (declared above) and docker's config.
    pub fn client(&self, registries: &[&str]) -> Result<Client, Error> {
        let (store, _) = self.credentials(registries)?;
        self.client_with(store, registries)
    }

    /// `--insecure-registry` split: hosts allowed plain HTTP (werf's boolean form gives every
    /// one of `registries`), and values that are no host (no `.` or `:`, not `localhost`, as
    /// docker tells a registry host): werf's boolean flag followed by an argument of the
    /// command (`build --insecure-registry backend`), which `build` takes back as an image.
    pub fn insecure(&self, registries: &[&str]) -> (Vec<String>, Vec<String>) {
        let (mut hosts, mut strays) = (Vec::new(), Vec::new());
        for value in &self.insecure_registries {
            match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => hosts.extend(registries.iter().map(|r| r.to_string())),
                "false" | "0" | "no" | "off" | "" => {}
                v if v.contains(['.', ':']) || v == "localhost" => hosts.push(value.clone()),
                _ => strays.push(value.clone()),
            }
        }
        (hosts, strays)
    }

    /// Credentials from flags, env (declared above) and docker's config; `true` when the
    /// user gave some explicitly. Reads standard input once for --password-stdin.
    pub fn credentials(&self, registries: &[&str]) -> Result<(CredentialStore, bool), Error> {
        let mut store = CredentialStore::new();
        if let Ok(dir) = docker_config_dir(self.docker_config.as_deref()) {
            store = store.with_docker_config_dir(&dir).map_err(Error::Registry)?;
        }
        let password = self.password()?;
        let explicit = self.username.is_some() && password.is_some();
        if let (Some(user), Some(pass)) = (&self.username, password) {
            for r in registries {
                store = store.with_explicit(r, Credential::basic(user.clone(), Secret::new(pass.clone())));
            }
        }
        Ok((store, explicit))
    }

    /// The password: standard input with --password-stdin (one trailing newline dropped),
    /// else WHARF_REGISTRY_PASSWORD.
    pub fn password(&self) -> Result<Option<String>, Error> {
        if !self.password_stdin {
            return Ok(self.password.clone());
        }
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| Error::Usage(format!("--password-stdin: {e}")))?;
        Ok(Some(s.trim_end_matches(['\n', '\r']).to_string()))
    }

    /// A client over `credentials` for a command naming `registries` (what werf's boolean
    /// `--insecure-registry` and `--skip-tls-verify-registry` apply to).
    pub fn client_with(&self, credentials: CredentialStore, registries: &[&str]) -> Result<Client, Error> {
        let (mut insecure_hosts, strays) = self.insecure(registries);
        // Outside `build`, a value is a host as given.
        insecure_hosts.extend(strays);
        let skip_verify_hosts: Vec<String> = match self.skip_tls_verify_registry {
            true => registries.iter().map(|r| r.to_string()).collect(),
            false => Vec::new(),
        };
        warn_transport(&insecure_hosts, &skip_verify_hosts, self.skip_tls_verify_registry && registries.is_empty());
        let mut opts = ClientOptions {
            insecure_hosts,
            skip_verify_hosts,
            credentials,
            max_tags: self.max_tags,
            list_progress: super::progress::tag_listing(),
            ..ClientOptions::default()
        };
        if let Some(t) = &self.registry_timeout {
            let timeout = crate::config::parse_go_duration(t).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
                Error::Usage(format!("--registry-timeout {t:?}: expected a positive duration such as 30s or 5m"))
            })?;
            opts.read_timeout = timeout;
            opts.connect_timeout = opts.connect_timeout.min(timeout);
        }
        if let Some(path) = &self.ca_file {
            opts.extra_roots = read_ca_file(path)?;
        }
        Client::new(opts).map_err(Error::Registry)
    }
}

/// Says once per run which registries go without verified TLS (`--skip-tls-verify-registry`)
/// or may use plain HTTP: the user asked for it, and must see where it applies.
fn warn_transport(insecure: &[String], unverified: &[String], unused: bool) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let plain: Vec<&String> = insecure.iter().filter(|h| !crate::registry::is_loopback_host(h)).collect();
        if !plain.is_empty() {
            let list: Vec<&str> = plain.iter().map(|h| h.as_str()).collect();
            eprintln!("warning: --insecure-registry: plain HTTP is allowed for {} (credentials are still never sent over plain HTTP)", list.join(", "));
        }
        if !unverified.is_empty() {
            eprintln!("warning: --skip-tls-verify-registry: the TLS certificates of {} are not verified", unverified.join(", "));
        }
        if unused {
            eprintln!("warning: --skip-tls-verify-registry: this command names no registry, so every certificate is verified");
        }
    });
}

/// Docker's configuration directory: `given` (--docker-config or DOCKER_CONFIG), else
/// `~/.docker`.
pub fn docker_config_dir(given: Option<&std::path::Path>) -> Result<PathBuf, Error> {
    match (given, std::env::var_os("HOME")) {
        (Some(dir), _) => Ok(dir.to_path_buf()),
        (None, Some(home)) => Ok(PathBuf::from(home).join(".docker")),
        (None, None) => Err(Error::Usage(
            "no docker config directory: HOME is not set\n  hint: pass --docker-config DIR or set DOCKER_CONFIG".into(),
        )),
    }
}

/// The certificates of a PEM file (one or more `BEGIN CERTIFICATE` blocks).
fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let usage = |detail: String| Error::Usage(format!("--ca-file {}: {detail}", path.display()));
    let pem = std::fs::read(path).map_err(|e| usage(e.to_string()))?;
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| usage(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(usage("no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)".into()));
    }
    Ok(certs)
}

/// Locks between wharf runs on this machine.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Locks")]
pub struct LockArgs {
    /// Directory of the lock files shared by wharf runs on this machine.
    #[arg(long, value_name = "DIR", env = "WHARF_LOCK_DIR", default_value = "/tmp/wharf-locks")]
    pub lock_dir: PathBuf,
    /// How long to wait for another run's lock (e.g. 30m, 90s).
    #[arg(long, value_name = "DURATION", env = "WHARF_LOCK_TIMEOUT", default_value = "1h")]
    pub lock_timeout: String,
    /// `local` (file locks: runs on this machine) or `kubernetes` (Lease objects: runners on
    /// many machines; the cluster comes from KUBECONFIG or the in-cluster service account).
    #[arg(long, value_enum, env = "WHARF_LOCK_BACKEND", default_value_t = LockBackend::Local)]
    pub lock_backend: LockBackend,
    /// Namespace of the Lease objects (with --lock-backend kubernetes).
    #[arg(long, env = "WHARF_LOCK_NAMESPACE", default_value = "default")]
    pub lock_namespace: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockBackend {
    Local,
    Kubernetes,
}

impl LockArgs {
    pub async fn locks(&self) -> Result<crate::lock::Locks, Error> {
        let timeout = crate::config::parse_go_duration(&self.lock_timeout)
            .map_err(|e| Error::Usage(format!("--lock-timeout {:?}: {e}", self.lock_timeout)))?;
        match self.lock_backend {
            LockBackend::Local => Ok(crate::lock::Locks::local(&self.lock_dir, timeout)),
            LockBackend::Kubernetes => {
                let client = kube::Client::try_default()
                    .await
                    .map_err(|e| Error::Usage(format!("--lock-backend kubernetes: no cluster to talk to ({e})\n  hint: set KUBECONFIG, or run in a pod with a service account allowed to get/create/update leases")))?;
                let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "wharf".into());
                let identity = format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>());
                let leases = crate::lock::lease::LeaseLocks::new(
                    client,
                    &self.lock_namespace,
                    identity,
                    std::time::Duration::from_secs(30),
                    timeout,
                );
                Ok(crate::lock::Locks::kubernetes(leases))
            }
        }
    }
}
