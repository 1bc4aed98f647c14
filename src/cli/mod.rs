//! The command line: commands, flags, and every environment fallback (nowhere else reads
//! the environment). Turns flags into the explicit values the library takes.
//!
//! - this file: the commands and their own flags;
//! - [`args`]: flag groups several commands share (registry, driver, static root, tags) and
//!   what they build (clients, drivers, the [`Site`] that `tags` and `cleanup` work on);
//! - [`build`]: `build-and-publish`; [`push_serve`]: `push` and `serve`.

mod args;
mod build;
mod progress;
mod push_serve;

pub use args::{DriverArgs, RegistryArgs, Site, StaticArgs, TagArgs, driver_and_client, target};
pub use build::{BuildArgs, build_and_publish};
pub use push_serve::{PushArgs, ServeArgs, push, serve, static_root};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use crate::error::Error;
use crate::naming::RepoMode;

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
    /// The project's repository, as given to build-and-publish (with --static-root, a path
    /// inside the root).
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
    /// Also delete images that have no publish record (not built by wharf, or before it
    /// recorded); with --keep-last / --keep-within, those rank by push time per repository.
    #[arg(long)]
    pub include_unknown: bool,
    /// No git: keep the newest N images of each image (without a project file: of the
    /// repository, ranked by push time).
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
    /// Also show the digest each tag points at (one manifest read per tag on registries whose
    /// listing has no digests; without it, one request per page of 1,000 names).
    #[arg(long, short = 'l')]
    pub digests: bool,
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
    pub locks: LockArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check the project file and print every problem with its location (`--output json`:
    /// errors and warnings for programs, on stdout, valid or not).
    Validate(ProjectArgs),
    /// Print the project file as rendered from its Go templates (not checked further).
    Render(ProjectArgs),
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
    /// The deployment environment, `.Env` in the project file's templates (werf's `--env`).
    #[arg(long = "env", value_name = "ENV", env = "WHARF_ENV", default_value = "")]
    pub werf_env: String,
    /// Directory of template partials (`**/*.tmpl`), relative to DIR (default: .werf).
    #[arg(long, value_name = "DIR", env = "WHARF_CONFIG_TEMPLATES_DIR")]
    pub config_templates_dir: Option<PathBuf>,
}

impl ProjectArgs {
    /// What the project file's templates read: the process environment (for `env`),
    /// `--env` and the git HEAD commit. Read here, at the edge, and nowhere else.
    pub fn render_inputs(&self) -> crate::config::RenderInputs {
        crate::config::RenderInputs {
            env: std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect(),
            werf_env: self.werf_env.clone(),
            commit: crate::config::CommitInfo::discover(&self.dir),
            templates_dir: self.config_templates_dir.clone(),
            work_tree: crate::config::discover_work_tree(&self.dir),
        }
    }

    /// Loads the project with [`ProjectArgs::render_inputs`].
    pub fn load(&self) -> Result<crate::config::Project, crate::config::ConfigError> {
        crate::config::load_with(&self.dir, self.config.as_deref(), &self.render_inputs())
    }
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

