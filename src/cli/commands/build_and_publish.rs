//! `wharf build-and-publish` (and `wharf build`, werf 1.2's name for it, see
//! [`super::build`]): flags → [`BuildAndPublish`], run with progress on standard error (see
//! `cli/progress`), report.

use clap::Args;
use clap::builder::BoolishValueParser;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::Output;
use super::super::args::{LockArgs, ProjectArgs, RegistryArgs, TagArgs, ci_git_info};
use super::super::connect::Connector;
use super::super::driver_args::DriverArgs;
use super::super::output;
use super::super::progress::BuildProgress;
use super::super::werf::ignored::{self, WerfIgnored};
use super::super::werf::{names, report};
use crate::build::buildkit::transport::{Address, Daemon, TlsFiles};
use crate::build::docker::DockerEngine;
use crate::build::engine::{Builder, Engine};
use crate::build::remote::RemoteBuildKit;
use crate::build::schedule::{Connect, LOCAL_STAGE_REPO_PREFIX, StageStorage};
use crate::build::secrets::{SecretSpec, SshSpec};
use crate::build::sources::StageSources;
use crate::error::Error;
use crate::gitinfo::GitInfo;
use crate::naming::custom_tag::CustomTag;
use crate::naming::{Layout, RepoMode};
use crate::oci::layout::OciLayout;
use crate::pipeline::BuildAndPublish;
use crate::registry::Repository;
use crate::store::{ImageStore, LayoutStore, RegistryStore};

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// Images to build, with the images they depend on (default: every image).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Repository to publish to (default: the OCI layout in --oci-dir, no registry needed).
    #[arg(long, short = 'i', visible_alias = "images-repo", env = "WHARF_REPO", help_heading = "Project")]
    pub repo: Option<String>,
    /// Repository final images are published to, while stages stay in --repo (werf's flag).
    #[arg(long, value_name = "REPO", env = "WHARF_FINAL_REPO", help_heading = "Project")]
    pub final_repo: Option<String>,
    /// How images map to repositories (default: `auto`; with `wharf build`, `monorepo`:
    /// werf 1.2 keeps every image in the one --repo).
    #[arg(long, visible_alias = "images-repo-mode", value_enum, env = "WHARF_REPO_MODE", help_heading = "Project")]
    pub repo_mode: Option<RepoMode>,
    #[command(flatten)]
    pub tags: TagArgs,
    /// Where built stages are kept: `:local` (the engine) or a repository (default: --repo).
    #[arg(long, short = 's', value_name = "REPO|:local", env = "WHARF_STAGES_STORAGE", help_heading = "Project")]
    pub stages_storage: Option<String>,
    /// A repository stages are also read from, never written (werf's flag; repeatable; also
    /// WERF_SECONDARY_REPO_*).
    #[arg(long, value_name = "REPO", help_heading = "Build")]
    pub secondary_repo: Vec<String>,
    /// A repository stages are read from first and every built stage is copied to (werf's
    /// flag; repeatable; also WERF_CACHE_REPO_*).
    #[arg(long, value_name = "REPO", help_heading = "Build")]
    pub cache_repo: Vec<String>,
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
    /// Build images in parallel (werf's flag; `--parallel=false`: one at a time).
    #[arg(short = 'p', long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = BoolishValueParser::new(), help_heading = "Build")]
    pub parallel: Option<bool>,
    /// Most builds at once (-1: no limit; default: the number of cores).
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        env = "WHARF_PARALLEL_TASKS_LIMIT",
        help_heading = "Build"
    )]
    pub parallel_tasks_limit: Option<i64>,
    /// Build every image for this platform, OS/ARCH[/VARIANT] (werf's flag; replaces the
    /// project file's `platform`).
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',', help_heading = "Build")]
    pub platform: Vec<String>,
    /// Build only final images (not `final: false`) and what they depend on (werf's flag).
    #[arg(long, help_heading = "Build")]
    pub final_images_only: bool,
    /// werf's custom tag, published as written in each image's repository: `%image%`,
    /// `%image_slug%`, `%image_safe_slug%` and `%image_content_based_tag%` are replaced
    /// (e.g. `%image%-v1`; repeatable; also WERF_ADD_CUSTOM_TAG_*).
    #[arg(long, value_name = "TEMPLATE", help_heading = "Tags")]
    pub add_custom_tag: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
    #[command(flatten)]
    pub locks: LockArgs,
    /// Write werf's build report (to --build-report-path, default .werf-build-report.json).
    #[arg(long, help_heading = "Output")]
    pub save_build_report: bool,
    /// Where --save-build-report writes: `.json` (JSON) or `.env` (an env file).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub build_report_path: Option<PathBuf>,
    #[command(flatten)]
    pub werf: WerfIgnored<ignored::Build>,
}

/// Which command runs: the two differ only in their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `build-and-publish`: `--repo-mode auto`; the content-based tag only when no other tag
    /// is asked for.
    BuildAndPublish,
    /// `build` (werf 1.2): one repository (`monorepo`), and the content-based tag always.
    Build,
}

/// Runs the build: progress on standard error, the report on standard output.
pub async fn run(args: &BuildArgs, out: Output, flavor: Flavor) -> Result<(), Error> {
    // `-v` turns on info logging, and with it the engine's full log.
    let verbose = tracing::level_filters::LevelFilter::current() >= tracing::level_filters::LevelFilter::INFO;
    let progress = BuildProgress::stderr(out == Output::Text && std::io::stderr().is_terminal(), verbose);
    let report = match build_and_publish(args, &progress, flavor).await {
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

/// A repository flag's value, parsed.
fn repository(flag: &str, value: &str) -> Result<Repository, Error> {
    crate::drivers::parse_repository(value).map_err(|e| Error::Usage(format!("--{flag}: {e}")))
}

/// The image a failed run names, if any.
fn failed_image(e: &Error) -> Option<&str> {
    use crate::build::schedule::ScheduleError as S;
    use crate::pipeline::PipelineError as P;
    let Error::Pipeline(p) = e else { return None };
    match p.as_ref() {
        P::Schedule(
            S::Build { image, .. }
            | S::Engine { image, .. }
            | S::Store { image, .. }
            | S::Archive { image, .. }
            | S::Other { image, .. },
        ) => Some(image),
        P::Publish { image, .. } => Some(image),
        _ => None,
    }
}

async fn build_and_publish(
    args: &BuildArgs,
    progress: &BuildProgress,
    flavor: Flavor,
) -> Result<crate::report::Report, Error> {
    args.werf.notify();
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let report_to =
        args.save_build_report.then(|| report::destination(args.build_report_path.as_deref())).transpose()?;
    let project = args.project.load().map_err(Error::Config)?;
    // `--insecure-registry backend`: werf's boolean flag, then an image.
    let (_, strays) = args.registry.insecure(&[]);
    let names: Vec<String> = args.images.iter().chain(&strays).cloned().collect();
    let mut registry_args = args.registry.clone();
    registry_args.insecure_registries.retain(|v| !strays.contains(v));
    let project = super::build::choose_images(project, &names, args.final_images_only, &args.platform)?;
    let mode = args.repo_mode.unwrap_or(match flavor {
        Flavor::Build => RepoMode::Monorepo,
        Flavor::BuildAndPublish => RepoMode::Auto,
    });
    let repo = args.repo.as_deref().map(|r| repository("repo", r)).transpose()?;
    let final_repo = args.final_repo.as_deref().map(|r| repository("final-repo", r)).transpose()?;
    // Final images go to --final-repo when given; stages stay in --repo.
    let target_repo = final_repo.clone().or_else(|| repo.clone());
    let stages_repo = match args.stages_storage.as_deref() {
        Some(":local") => None,
        Some(s) => Some(s.parse::<Repository>().map_err(|e| Error::Usage(format!("--stages-storage: {e}")))?),
        None => repo.clone(),
    };
    let secondary = args
        .secondary_repo
        .iter()
        .chain(&names::list("secondary-repo", &vars))
        .map(|r| repository("secondary-repo", r))
        .collect::<Result<Vec<_>, _>>()?;
    let caches = args
        .cache_repo
        .iter()
        .chain(&names::list("cache-repo", &vars))
        .map(|r| repository("cache-repo", r))
        .collect::<Result<Vec<_>, _>>()?;
    // `auto` and impossible combinations depend on each registry's driver (no network).
    let layout_of = |r: &Repository| -> Result<Layout, Error> {
        let info = crate::drivers::select(args.driver.implementation.as_deref(), r)?;
        crate::drivers::resolve_layout(mode, r, info).map_err(|e| Error::Usage(format!("--repo-mode: {e}")))
    };
    let layout = match &target_repo {
        Some(r) => layout_of(r)?,
        None => mode.resolve_generic(),
    };
    let mut registries: Vec<&str> = Vec::new();
    for r in target_repo.iter().chain(&stages_repo).chain(&secondary).chain(&caches) {
        if !registries.contains(&r.registry.as_str()) {
            registries.push(&r.registry);
        }
    }
    let (driver, client) = match &target_repo {
        Some(r) => {
            let (d, c) = Connector::new(&registry_args, &args.driver, &registries)?.connect(r, None).await?;
            (Some(d), c)
        }
        None => (None, registry_args.client(&registries)?),
    };
    let state = || {
        crate::config::state_dir(&project.dir).map_err(|source| Error::Io {
            what: project.dir.join(crate::config::STATE_DIR).display().to_string(),
            source,
        })
    };
    let target: Arc<dyn ImageStore> = match &target_repo {
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
    let stage_storage = |r: &Repository| -> Result<StageStorage, Error> {
        Ok(StageStorage::Repo { base: RegistryStore::shared(client.clone(), r.clone()), layout: layout_of(r)? })
    };
    let storage = match &stages_repo {
        Some(r) if Some(r) == target_repo.as_ref() => StageStorage::Repo { base: target.clone(), layout },
        Some(r) => stage_storage(r)?,
        None => StageStorage::Local,
    };
    let sources = StageSources {
        caches: caches.iter().map(stage_storage).collect::<Result<_, _>>()?,
        secondary: secondary.iter().map(stage_storage).collect::<Result<_, _>>()?,
    };
    // Converted stages are no project output: the user's cache, else the state dir.
    let cache_dir = match (&args.cache_dir, user_cache_dir()) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.join("stages"),
        (None, None) => state()?.join("cache"),
    };
    let cache = OciLayout::open(&cache_dir).map_err(|e| Error::Usage(e.to_string()))?;
    let mut tag_args = args.tags.clone();
    tag_args.custom.extend(names::list("tag-custom", &vars));
    let mut tags = tag_args.resolve_given(&project.dir)?;
    let templates = names::list("add-custom-tag", &vars).into_iter().chain(args.add_custom_tag.iter().cloned());
    tags.add_custom = templates.map(|t| CustomTag::parse(&t)).collect::<Result<_, _>>().map_err(Error::Usage)?;
    tags.by_signature |= flavor == Flavor::Build || tags.is_empty();
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
            let resolved = crate::build::secrets::resolve(&specs, &ssh, &env)
                .map_err(|e| Error::Usage(format!("image {}: {e}", image.display_name())))?;
            Ok(Arc::new(resolved))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    for w in &project.warnings {
        tracing::warn!("{w}");
    }
    let report_inputs = (project.clone(), storage.clone(), client.clone(), commit.clone());
    let run = BuildAndPublish {
        project,
        target,
        layout,
        storage,
        tags,
        parallel: parallelism(args.parallel, args.parallel_tasks_limit),
        cache,
        connect,
        log: progress.log(),
        progress: progress.events(),
        client,
        commit,
        locks: args.locks.locks().await?,
        driver,
        sources,
        secrets,
    };
    let mut report = run.run().await.map_err(|e| Error::Pipeline(Box::new(e)))?;
    if let Some((path, form)) = report_to {
        let (project, storage, client, commit) = report_inputs;
        report::fill_identities(&mut report, &client).await?;
        let stage_name = |digest: &str| match storage.location(digest) {
            Some(loc) => loc.to_string(),
            None => format!("{LOCAL_STAGE_REPO_PREFIX}{}:{digest}", project.name),
        };
        let inputs = crate::build_report::Inputs {
            project: &project,
            stage_name: &stage_name,
            commit: commit.as_deref(),
            runtime: report::runtime(),
        };
        report::write(&report, inputs, &path, form)?;
    }
    Ok(report)
}

/// Builds at once: one with `--parallel=false`, else `--parallel-tasks-limit` (-1 or 0: no
/// limit), else the number of cores.
fn parallelism(parallel: Option<bool>, limit: Option<i64>) -> usize {
    match (parallel, limit) {
        (Some(false), _) => 1,
        (_, Some(n)) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        (_, Some(_)) => usize::MAX,
        (_, None) => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
    }
}

/// How builds reach their builder: a BuildKit daemon (`--buildkit-host`), else the engine.
fn engine_connect(args: &BuildArgs) -> Result<Connect, Error> {
    let Some(host) = &args.buildkit_host else {
        let (host, builder) = (args.docker_host.clone(), args.builder);
        return Ok(Arc::new(move || {
            let host = host.clone();
            Box::pin(async move {
                DockerEngine::connect(host.as_deref(), builder).await.map(|e| Arc::new(e) as Arc<dyn Engine>)
            })
        }));
    };
    if args.builder == Builder::Legacy {
        return Err(Error::Usage(
            "--builder legacy builds on the engine; it cannot be combined with --buildkit-host".into(),
        ));
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
