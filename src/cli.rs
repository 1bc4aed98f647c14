//! The command line: commands, flags, and every environment fallback (nowhere else reads
//! the environment). Turns flags into the explicit values the library takes.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::build::docker::DockerEngine;
use crate::build::engine::Engine;
use crate::build::schedule::{Connect, Log, StageStorage};
use crate::drivers::{ApiTokens, AzureServicePrincipal, DriverOptions};
use crate::error::Error;
use crate::gitinfo::{GitInfo, Head};
use crate::naming::{RepoMode, TagOptions};
use crate::oci::layout::OciLayout;
use crate::pipeline::BuildAndPublish;
use crate::publish::Target;
use crate::publish::static_root::{S3Root, StaticRoot};
use crate::push::annotate::{Annotation, AnnotationPlan, Provenance};
use crate::push::{self, Destination, PushOptions, PushReport};
use crate::registry::{Client, ClientOptions, Credential, CredentialStore, Reference, Repository};
use crate::secret::Secret;

#[derive(Parser, Debug)]
#[command(name = "wharf", version, about = "Build only what changed, publish to any registry, clean up safely")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// More log output (-v info, -vv debug, -vvv trace). `RUST_LOG` works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the project's images (only what changed) and publish them.
    BuildAndPublish(Box<BuildArgs>),
    /// Publish ready-made images (docker save archives, OCI layouts; gzipped or not) to a
    /// registry or a static root; several platforms become one image index.
    Push(Box<PushArgs>),
    /// Serve a static root (written by `push --static-root`) as a read-only registry.
    Serve(ServeArgs),
    /// Project configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What wharf knows about a registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// List and remove tags through the registry's driver.
    #[command(subcommand)]
    Tags(TagsCommand),
    /// Delete what git history and policies no longer keep (for a cron job).
    Cleanup(Box<CleanupCommand>),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CleanupCommand {
    #[command(subcommand)]
    pub action: Option<CleanupAction>,
    #[command(flatten)]
    pub run: CleanupArgs,
}

#[derive(Subcommand, Debug)]
pub enum CleanupAction {
    /// Carry out a plan saved with --plan-out; a tag that moved since is skipped.
    Apply(Box<CleanupApplyArgs>),
    /// Put back the tags a journal recorded, while the registry still holds their blobs.
    Restore(CleanupRestoreArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The project's repository, as given to build-and-publish.
    #[arg(long, short = 'i', visible_alias = "images-repo", env = "WHARF_REPO", required = true)]
    pub repo: Option<String>,
    #[arg(long, visible_alias = "images-repo-mode", value_enum, default_value_t = RepoMode::Auto, env = "WHARF_REPO_MODE")]
    pub repo_mode: RepoMode,
    /// Never delete tags matching this glob (repeatable), e.g. `release-*`.
    #[arg(long = "keep", value_name = "PATTERN")]
    pub keep: Vec<String>,
    /// Anything pushed within this period stays (`0` disables; default: the project's
    /// keepImagesBuiltWithinLastNHours, 2h).
    #[arg(long, value_name = "DURATION")]
    pub fresh_window: Option<String>,
    /// Also delete images that have no publish record (not built by wharf, or before it recorded).
    #[arg(long)]
    pub include_unknown: bool,
    /// No git: keep the newest N images of each image.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// No git: keep every image published within DURATION (e.g. 168h).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the plan as JSON to FILE (with --dry-run, to apply later with `wharf cleanup apply FILE`).
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
    /// Journal of deletions (default: DIR/.wharf/cleanup-journal.jsonl).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Delete every tag of the project (asks first unless --yes).
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub locks: LockArgs,
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub statics: StaticArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CleanupApplyArgs {
    pub plan: PathBuf,
    #[command(flatten)]
    pub locks: LockArgs,
    /// Journal of deletions (default: .wharf/cleanup-journal.jsonl).
    #[arg(long, value_name = "FILE", default_value = ".wharf/cleanup-journal.jsonl")]
    pub journal: PathBuf,
    #[command(flatten)]
    pub statics: StaticArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CleanupRestoreArgs {
    pub journal: PathBuf,
    /// The static root the journal's `static.invalid/…` lines belong to.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub static_root: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Print the driver chosen for REPO, its capabilities and what `--repo-mode` resolves to (no network).
    Detect(DetectArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Repository, e.g. `ghcr.io/acme`, `flant/project`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app`.
    pub repo: String,
    /// Use this driver instead of the one detected from the host.
    #[arg(long, value_name = "NAME", env = "WHARF_IMPLEMENTATION")]
    pub implementation: Option<String>,
    /// The mode to resolve (`auto` shows what auto means for REPO).
    #[arg(long, value_enum, default_value_t = RepoMode::Auto)]
    pub repo_mode: RepoMode,
}

#[derive(Subcommand, Debug)]
pub enum TagsCommand {
    /// List every tag of REPO with its digest.
    Ls(Box<TagsLsArgs>),
    /// Remove single tags (REPO:TAG…); other tags on the same image stay.
    Rm(Box<TagsRmArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct TagsLsArgs {
    pub repo: String,
    #[command(flatten)]
    pub statics: StaticArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct TagsRmArgs {
    /// Tags to remove, as REPO:TAG.
    #[arg(required = true, value_name = "REPO:TAG")]
    pub references: Vec<String>,
    /// Print what would be removed, and how, without removing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub statics: StaticArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

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
        Ok(Some(Arc::new(crate::drivers::StaticDriver::new(static_root(spec).await?, grace))))
    }
}

/// Where `tags` and `cleanup` work: a registry repository (its driver, and the distribution
/// client cleanup reads through) or a static root's.
pub struct Site {
    pub repo: Repository,
    pub driver: Arc<dyn crate::drivers::Driver>,
    pub store: Arc<dyn crate::cleanup::store::Store>,
}

/// `repo` as a [`Site`]: in the static root when `--static-root` is given, else in the
/// registry its host names (or `implementation`'s).
pub async fn target(repo: &str, statics: &StaticArgs, registry: &RegistryArgs, driver: &DriverArgs, implementation: Option<&str>) -> Result<Site, Error> {
    if let Some(found) = statics.driver().await? {
        let repo = crate::drivers::StaticDriver::repository(repo).map_err(|e| Error::Usage(format!("repository in --static-root: {e}")))?;
        let store: Arc<dyn crate::cleanup::store::Store> = Arc::new(found.root().clone());
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

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check the project file and print every problem with its location.
    Validate(ProjectArgs),
    /// Print the JSON schema of the project file.
    Schema,
}

#[derive(Args, Debug, Clone)]
pub struct ProjectArgs {
    /// Project directory.
    #[arg(long, default_value = ".", env = "WHARF_DIR")]
    pub dir: PathBuf,
    /// Project file (default: DIR/wharf.yaml, else DIR/werf.yaml).
    #[arg(long, env = "WHARF_CONFIG")]
    pub config: Option<PathBuf>,
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
}

/// Locks between wharf runs on this machine.
#[derive(Args, Debug, Clone)]
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
                let leases = crate::lock::lease::LeaseLocks::new(client, &self.lock_namespace, identity, std::time::Duration::from_secs(30), timeout);
                Ok(crate::lock::Locks::kubernetes(leases))
            }
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
    /// Repository to publish to (default: the OCI layout in --oci-dir, no registry needed).
    #[arg(long, short = 'i', visible_alias = "images-repo", env = "WHARF_REPO")]
    pub repo: Option<String>,
    /// How images map to repositories.
    #[arg(long, visible_alias = "images-repo-mode", value_enum, default_value_t = RepoMode::Auto, env = "WHARF_REPO_MODE")]
    pub repo_mode: RepoMode,
    /// Where built stages are kept: `:local` (the engine) or a repository (default: --repo).
    #[arg(long, short = 's', env = "WHARF_STAGES_STORAGE")]
    pub stages_storage: Option<String>,
    /// OCI layout directory used when no --repo is given (default: DIR/.wharf/oci).
    #[arg(long, value_name = "DIR")]
    pub oci_dir: Option<PathBuf>,
    /// Local cache of converted stages (default: DIR/.wharf/cache).
    #[arg(long, value_name = "DIR", env = "WHARF_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Docker engine endpoint (`unix:///var/run/docker.sock`, `tcp://…`).
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Builds at once (default: number of cores).
    #[arg(long)]
    pub parallel: Option<usize>,
    #[command(flatten)]
    pub tags: TagArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// Images to publish: `docker save` archives, OCI layout directories or tars (gzipped or
    /// not); `SRC:REF` picks one image of a source that holds several.
    #[arg(required = true, num_args = 1.., value_name = "SRC")]
    pub sources: Vec<String>,
    /// `[oci://]HOST/REPO[:TAG]`, or `REPO[:TAG]` inside --static-root.
    #[arg(required = true, value_name = "DEST")]
    pub dest: String,
    /// A tag to publish (repeatable; DEST's own tag is one too).
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tag: Vec<String>,
    #[command(flatten)]
    pub tags: TagArgs,
    /// `KEY=VALUE` on every manifest and the index; `manifest:KEY=VALUE` or `index:KEY=VALUE`
    /// on one of them (repeatable).
    #[arg(long = "annotation", value_name = "[manifest:|index:]KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<Annotation>,
    /// Do not fill `org.opencontainers.image.*` annotations from image labels and git.
    #[arg(long)]
    pub no_default_annotations: bool,
    /// Publish into a static registry (files any web server can serve; see `wharf serve`)
    /// under a directory or `s3://BUCKET/PREFIX` instead of a registry. DEST is then
    /// `REPO[:TAG]`. S3 credentials, region and endpoint come from the AWS environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, profiles).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub static_root: Option<String>,
    /// Print what would be published (digests, references) and publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where archives are unpacked while pushing (default: the system's temporary directory).
    #[arg(long, value_name = "DIR", env = "WHARF_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The static root: a directory, or `s3://BUCKET/PREFIX` (read with the AWS environment).
    #[arg(value_name = "ROOT")]
    pub root: String,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:5000", env = "WHARF_SERVE_ADDR")]
    pub addr: std::net::SocketAddr,
}

/// A static root from `DIR` or `s3://BUCKET/PREFIX`; S3 settings from the AWS environment.
pub async fn static_root(spec: &str) -> Result<StaticRoot, Error> {
    if !spec.starts_with("s3://") {
        return Ok(StaticRoot::dir(std::path::Path::new(spec)));
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    S3Root::new(&sdk, spec).map(StaticRoot::s3).map_err(|e| Error::Usage(format!("--static-root {e}")))
}

/// Runs `serve` until Ctrl-C.
pub async fn serve(args: &ServeArgs) -> Result<(), Error> {
    let root = static_root(&args.root).await?;
    if let Some(dir) = root.local_dir()
        && !dir.join("v2").is_dir()
    {
        let hint = "hint: write one with `wharf push SRC REPO:TAG --static-root DIR`";
        return Err(Error::Usage(format!("{}: not a static root (no v2 directory)\n  {hint}", dir.display())));
    }
    let shown = root.to_string();
    crate::serve::serve(root, args.addr, |addr| {
        use std::io::Write as _;
        println!("serving {shown} on http://{addr}");
        let _ = std::io::stdout().flush();
    })
    .await
    .map_err(|e| Error::Other(format!("serve {}: {e}", args.addr)))
}

fn parse_annotation(s: &str) -> Result<Annotation, String> {
    s.parse()
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
fn ci_git_info() -> GitInfo {
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
    fn resolve(&self, project_dir: &std::path::Path) -> Result<TagOptions, Error> {
        let mut opts = self.resolve_given(project_dir)?;
        if opts.is_empty() {
            opts.by_signature = true;
        }
        Ok(opts)
    }

    /// The strategies asked for, with values filled from CI or git.
    fn resolve_given(&self, project_dir: &std::path::Path) -> Result<TagOptions, Error> {
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

/// Provenance of what is pushed: the CI environment first, then the checkout at `dir`.
fn provenance(dir: &std::path::Path) -> Provenance {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let head = Head::discover(dir);
    let ci_source = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
        _ => var("CI_PROJECT_URL"),
    };
    Provenance {
        source: ci_source.or(head.remote),
        revision: ci_git_info().commit.or(head.commit),
        created: head.time,
    }
}

/// Runs `push`: reads and checks every source, plans, and (unless `--dry-run`) publishes.
pub async fn push(args: &PushArgs) -> Result<PushReport, Error> {
    let (dest, specs) = (&args.dest, &args.sources);
    let mut driver = None;
    let (destination, dest_tag) = match &args.static_root {
        Some(root) => {
            let (repo, tag) = push::parse_static_dest(dest).map_err(Error::Usage)?;
            (Destination::Static { root: static_root(root).await?, repo }, tag)
        }
        None => {
            let reference: Reference = dest.parse().map_err(|e| Error::Usage(format!("DEST: {e}")))?;
            if reference.digest.is_some() {
                return Err(Error::Usage(format!("DEST {dest}: a destination takes a tag, not a digest")));
            }
            let (found, client) = driver_and_client(&reference.repo, &args.registry, &args.driver, None).await?;
            driver = Some(found);
            (Destination::Registry { client, repo: reference.repo }, reference.tag)
        }
    };
    let cwd = PathBuf::from(".");
    let mut tags = args.tags.resolve_given(&cwd)?;
    tags.custom = dest_tag.iter().chain(&args.tag).chain(&tags.custom).cloned().collect();
    let annotations = AnnotationPlan {
        given: args.annotations.clone(),
        provenance: if args.no_default_annotations { Provenance::default() } else { provenance(&cwd) },
        defaults: !args.no_default_annotations,
    };
    let staging = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let specs = specs.to_vec();
    let sources = tokio::task::spawn_blocking(move || push::read_sources(&specs, &staging))
        .await
        .map_err(|e| Error::Usage(format!("reading the sources failed: {e}")))?
        .map_err(Error::Push)?;
    let plan = push::plan(&sources, &destination, &PushOptions { tags, annotations }).map_err(Error::Push)?;
    if args.dry_run {
        return Ok(PushReport { plan, stats: Default::default(), dry_run: true });
    }
    if let (Some(driver), Destination::Registry { repo, .. }) = (&driver, &destination) {
        driver.ensure_repository(repo).await?;
    }
    let report = push::execute(plan).await.map_err(Error::Push)?;
    drop(sources);
    Ok(report)
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
        let mut opts = ClientOptions { insecure_hosts: self.insecure_registries.clone(), credentials, ..ClientOptions::default() };
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

/// Runs `build-and-publish`.
pub async fn build_and_publish(args: &BuildArgs, output: Output) -> Result<crate::report::Report, Error> {
    let project = crate::config::load(&args.project.dir, args.project.config.as_deref()).map_err(Error::Config)?;
    let repo: Option<Repository> =
        args.repo.as_deref().map(|r| crate::drivers::parse_repository(r).map_err(|e| Error::Usage(format!("--repo: {e}")))).transpose()?;
    // `auto` and impossible combinations depend on the registry's driver (no network).
    let layout = match &repo {
        Some(r) => {
            let info = crate::drivers::select(args.driver.implementation.as_deref(), r)?;
            crate::drivers::resolve_layout(args.repo_mode, r, info).map_err(|e| Error::Usage(format!("--repo-mode: {e}")))?
        }
        None => args.repo_mode.resolve_generic(),
    };
    let (driver, client) = match &repo {
        Some(r) => {
            let (d, c) = driver_and_client(r, &args.registry, &args.driver, None).await?;
            (Some(d), c)
        }
        None => (None, args.registry.client(&[])?),
    };
    let dot_wharf = project.dir.join(crate::build::STATE_DIR);
    let target = match &repo {
        Some(r) => Target::Registry { client: client.clone(), repo: r.clone() },
        None => {
            let dir = args.oci_dir.clone().unwrap_or_else(|| dot_wharf.join("oci"));
            let layout = OciLayout::open(&dir).map_err(|e| Error::Usage(e.to_string()))?;
            Target::Layout { layout, name: project.name.clone() }
        }
    };
    let storage = match (args.stages_storage.as_deref(), &repo) {
        (Some(":local"), _) | (None, None) => StageStorage::Local,
        (Some(s), _) => {
            let base: Repository = s.parse().map_err(|e| Error::Usage(format!("--stages-storage: {e}")))?;
            StageStorage::Repo { client: client.clone(), base, layout }
        }
        (None, Some(r)) => StageStorage::Repo { client: client.clone(), base: r.clone(), layout },
    };
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| dot_wharf.join("cache"));
    let cache = OciLayout::open(&cache_dir).map_err(|e| Error::Usage(e.to_string()))?;
    let tags = args.tags.resolve(&project.dir)?;
    let commit = ci_git_info().or(GitInfo::discover(&project.dir)).commit;
    let host = args.docker_host.clone();
    let connect: Connect = Arc::new(move || {
        let host = host.clone();
        Box::pin(async move { DockerEngine::connect(host.as_deref()).await.map(|e| Arc::new(e) as Arc<dyn Engine>) })
    });
    let log = build_log(output);
    for w in &project.warnings {
        tracing::warn!("{w}");
    }
    let run = BuildAndPublish {
        project,
        target,
        layout,
        storage,
        tags,
        parallel: args.parallel.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        cache,
        connect,
        log,
        client,
        commit,
        locks: args.locks.locks().await?,
        driver,
    };
    run.run().await.map_err(|e| Error::Pipeline(Box::new(e)))
}

/// Build output: prefixed lines on stderr, or a progress line per image on a terminal.
fn build_log(output: Output) -> Log {
    if output == Output::Text && std::io::stderr().is_terminal() {
        let bars = Bars { multi: indicatif::MultiProgress::new(), bars: Default::default() };
        Arc::new(move |image: &str, line: &str| bars.show(image, line))
    } else {
        Arc::new(|image: &str, line: &str| eprintln!("[{image}] {line}"))
    }
}

/// One spinner per image showing its latest build line; cleared when the run ends.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    fn show(&self, image: &str, line: &str) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let bar = bars.entry(image.to_string()).or_insert_with(|| {
            let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            let b = self.multi.add(indicatif::ProgressBar::new_spinner().with_style(style).with_prefix(image.to_string()));
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        bar.set_message(line.to_string());
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        for bar in self.bars.get_mut().unwrap_or_else(|p| p.into_inner()).values() {
            bar.finish_and_clear();
        }
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
