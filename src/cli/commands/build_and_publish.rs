//! `wharf build-and-publish`: flags → [`BuildAndPublish`], run with progress on standard error
//! (see `cli/progress`), report.

use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::Output;
use super::super::args::{LockArgs, ProjectArgs, RegistryArgs, TagArgs, ci_git_info};
use super::super::connect::Connector;
use super::super::driver_args::DriverArgs;
use super::super::output;
use super::super::progress::BuildProgress;
use crate::build::docker::DockerEngine;
use crate::build::engine::{Builder, Engine};
use crate::build::buildkit::transport::{Address, Daemon, TlsFiles};
use crate::build::remote::RemoteBuildKit;
use crate::build::secrets::{SecretSpec, SshSpec};
use crate::build::schedule::{Connect, StageStorage};
use crate::error::Error;
use crate::gitinfo::GitInfo;
use crate::naming::RepoMode;
use crate::oci::layout::OciLayout;
use crate::pipeline::BuildAndPublish;
use crate::store::{ImageStore, LayoutStore, RegistryStore};
use crate::registry::Repository;

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Repository to publish to (default: the OCI layout in --oci-dir, no registry needed).
    #[arg(long, short = 'i', visible_alias = "images-repo", env = "WHARF_REPO", help_heading = "Project")]
    pub repo: Option<String>,
    /// How images map to repositories.
    #[arg(long, visible_alias = "images-repo-mode", value_enum, default_value_t = RepoMode::Auto, env = "WHARF_REPO_MODE", help_heading = "Project")]
    pub repo_mode: RepoMode,
    #[command(flatten)]
    pub tags: TagArgs,
    /// Where built stages are kept: `:local` (the engine) or a repository (default: --repo).
    #[arg(long, short = 's', env = "WHARF_STAGES_STORAGE", help_heading = "Build")]
    pub stages_storage: Option<String>,
    /// OCI layout directory used when no --repo is given (default: DIR/.wharf/oci).
    #[arg(long, value_name = "DIR", help_heading = "Build")]
    pub oci_dir: Option<PathBuf>,
    /// Local cache of converted stages (default: $XDG_CACHE_HOME/wharf/stages or
    /// ~/.cache/wharf/stages; DIR/.wharf/cache when neither is set).
    #[arg(long, value_name = "DIR", env = "WHARF_CACHE_DIR", help_heading = "Build")]
    pub cache_dir: Option<PathBuf>,
    /// Docker engine endpoint (`unix:///var/run/docker.sock`, `tcp://…`).
    #[arg(long, env = "DOCKER_HOST", help_heading = "Build")]
    pub docker_host: Option<String>,
    /// The engine's builder: `buildkit` (BuildKit through the engine), `legacy` (the classic
    /// builder), `auto` (BuildKit when the engine has it).
    #[arg(long, value_enum, default_value_t = Builder::Auto, env = "WHARF_BUILDER", help_heading = "Build")]
    pub builder: Builder,
    /// A build secret for `RUN --mount=type=secret,id=NAME`: `id=NAME,env=VARIABLE` or
    /// `id=NAME,src=FILE` (repeatable). The value never reaches the image, logs or report.
    #[arg(long = "secret", value_name = "id=NAME,env=VAR|src=FILE", help_heading = "Build")]
    pub secrets: Vec<SecretSpec>,
    /// An ssh agent for `RUN --mount=type=ssh`: `default` (the agent at SSH_AUTH_SOCK) or
    /// `ID=SOCKET` (repeatable).
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET]", help_heading = "Build")]
    pub ssh: Vec<SshSpec>,
    /// Build on a BuildKit daemon instead of the engine: `unix:///run/buildkit/buildkitd.sock`
    /// or `tcp://HOST:PORT` (results come back as OCI layouts; no engine needed).
    #[arg(long, value_name = "ADDRESS", env = "BUILDKIT_HOST", help_heading = "Build")]
    pub buildkit_host: Option<String>,
    /// CA certificate (PEM) the BuildKit daemon's certificate must chain to; turns on TLS.
    #[arg(long, value_name = "FILE", requires = "buildkit_host", help_heading = "Build")]
    pub buildkit_tlscacert: Option<PathBuf>,
    /// Client certificate (PEM) for a BuildKit daemon that checks its clients; turns on TLS.
    #[arg(long, value_name = "FILE", requires_all = ["buildkit_host", "buildkit_tlskey"], help_heading = "Build")]
    pub buildkit_tlscert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "buildkit_tlscert", help_heading = "Build")]
    pub buildkit_tlskey: Option<PathBuf>,
    /// The name the daemon's certificate is checked against (default: the address's host).
    #[arg(long, value_name = "NAME", requires = "buildkit_host", help_heading = "Build")]
    pub buildkit_tlsservername: Option<String>,
    /// Builds at once (default: number of cores).
    #[arg(long, help_heading = "Build")]
    pub parallel: Option<usize>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

/// Runs `build-and-publish`: progress on standard error, the report on standard output.
pub async fn run(args: &BuildArgs, out: Output) -> Result<(), Error> {
    // `-v` turns on info logging, and with it the engine's full log.
    let verbose = tracing::level_filters::LevelFilter::current() >= tracing::level_filters::LevelFilter::INFO;
    let progress = BuildProgress::stderr(out == Output::Text && std::io::stderr().is_terminal(), verbose);
    let report = match build_and_publish(args, &progress).await {
        Ok(report) => report,
        Err(e) => {
            progress.failed(failed_image(&e));
            return Err(e);
        }
    };
    progress.finish(&report);
    drop(progress);
    match out {
        Output::Json => output::print(&report),
        Output::Text => print!("{}", report.to_text()),
    }
    Ok(())
}

/// The image a failed run names, if any.
fn failed_image(e: &Error) -> Option<&str> {
    use crate::build::schedule::ScheduleError as S;
    use crate::pipeline::PipelineError as P;
    let Error::Pipeline(p) = e else { return None };
    match p.as_ref() {
        P::Schedule(S::Build { image, .. } | S::Engine { image, .. } | S::Store { image, .. } | S::Archive { image, .. } | S::Other { image, .. }) => {
            Some(image)
        }
        P::Publish { image, .. } => Some(image),
        _ => None,
    }
}

async fn build_and_publish(args: &BuildArgs, progress: &BuildProgress) -> Result<crate::report::Report, Error> {
    let project = args.project.load().map_err(Error::Config)?;
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
            let (d, c) = Connector::new(&args.registry, &args.driver, &[r.registry.as_str()])?.connect(r, None).await?;
            (Some(d), c)
        }
        None => (None, args.registry.client(&[])?),
    };
    let state = || crate::config::state_dir(&project.dir).map_err(|e| Error::Other(format!("{}: {e}", project.dir.join(crate::config::STATE_DIR).display())));
    let target: Arc<dyn ImageStore> = match &repo {
        Some(r) => RegistryStore::shared(client.clone(), r.clone()),
        None => {
            let dir = match &args.oci_dir {
                Some(d) => d.clone(),
                None => state()?.join("oci"),
            };
            let layout = OciLayout::open(&dir).map_err(|e| Error::Usage(e.to_string()))?;
            LayoutStore::shared(layout, project.name.clone())
        }
    };
    let storage = match (args.stages_storage.as_deref(), &repo) {
        (Some(":local"), _) | (None, None) => StageStorage::Local,
        (Some(s), _) => {
            let base: Repository = s.parse().map_err(|e| Error::Usage(format!("--stages-storage: {e}")))?;
            StageStorage::Repo { base: RegistryStore::shared(client.clone(), base), layout }
        }
        (None, Some(r)) => StageStorage::Repo { base: RegistryStore::shared(client.clone(), r.clone()), layout },
    };
    // Converted stages are no project output: the user's cache, else the state dir.
    let cache_dir = match (&args.cache_dir, user_cache_dir()) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.join("stages"),
        (None, None) => state()?.join("cache"),
    };
    let cache = OciLayout::open(&cache_dir).map_err(|e| Error::Usage(e.to_string()))?;
    let tags = args.tags.resolve(&project.dir)?;
    let commit = ci_git_info().or(GitInfo::discover(&project.dir)).commit;
    let connect = engine_connect(args)?;
    // Secret values and agent sockets are read here, at the edge: each image gets the
    // project file's (werf's `secrets:`/`ssh:`) and the command line's, which win.
    let env = |k: &str| std::env::var(k).ok();
    let secrets = project
        .images
        .iter()
        .map(|image| {
            let (mut specs, mut ssh) = crate::build::secrets::from_project(image);
            specs.extend(args.secrets.iter().cloned());
            ssh.extend(args.ssh.iter().cloned());
            let resolved = crate::build::secrets::resolve(&specs, &ssh, &env).map_err(|e| Error::Usage(format!("image {}: {e}", image.display_name())))?;
            Ok(Arc::new(resolved))
        })
        .collect::<Result<Vec<_>, Error>>()?;
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
        log: progress.log(),
        progress: progress.events(),
        client,
        commit,
        locks: args.locks.locks().await?,
        driver,
        secrets,
    };
    run.run().await.map_err(|e| Error::Pipeline(Box::new(e)))
}

/// How builds reach their builder: a BuildKit daemon (`--buildkit-host`), else the engine.
fn engine_connect(args: &BuildArgs) -> Result<Connect, Error> {
    let Some(host) = &args.buildkit_host else {
        let (host, builder) = (args.docker_host.clone(), args.builder);
        return Ok(Arc::new(move || {
            let host = host.clone();
            Box::pin(async move { DockerEngine::connect(host.as_deref(), builder).await.map(|e| Arc::new(e) as Arc<dyn Engine>) })
        }));
    };
    if args.builder == Builder::Legacy {
        return Err(Error::Usage("--builder legacy builds on the engine; it cannot be combined with --buildkit-host".into()));
    }
    let address = Address::parse(host).map_err(|e| Error::Usage(e.to_string()))?;
    let tls = (args.buildkit_tlscacert.is_some() || args.buildkit_tlscert.is_some()).then(|| {
        Arc::new(TlsFiles {
            ca: args.buildkit_tlscacert.clone(),
            cert: args.buildkit_tlscert.clone(),
            key: args.buildkit_tlskey.clone(),
            server_name: args.buildkit_tlsservername.clone(),
        })
    });
    let daemon = Daemon::BuildKit { address, tls };
    Ok(Arc::new(move || {
        let engine: Arc<dyn Engine> = Arc::new(RemoteBuildKit::new(daemon.clone()));
        Box::pin(async move { Ok(engine) })
    }))
}

/// `$XDG_CACHE_HOME/wharf` or `~/.cache/wharf` (the environment is read here, at the edge).
fn user_cache_dir() -> Option<std::path::PathBuf> {
    let var = |k: &str| std::env::var(k).ok();
    crate::config::user_cache_dir(var("XDG_CACHE_HOME").as_deref(), var("HOME").as_deref())
}

