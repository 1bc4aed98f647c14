//! `wharf cleanup` (plan, print, apply), `cleanup apply PLAN` and `cleanup restore JOURNAL`:
//! flags → [`cleanup::run::Settings`](crate::cleanup::run::Settings), then the cleanup.

use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::super::Output;
use super::super::args::{LockArgs, ProjectArgs, RegistryArgs, SiteArgs, static_root};
use super::super::connect::{Site, site};
use super::super::output;
use super::super::werf::ignored::{self, WerfIgnored};
use crate::cleanup::execute;
use crate::cleanup::inventory::InventoryError;
use crate::cleanup::journal;
use crate::cleanup::plan::Plan;
use crate::cleanup::run::{self, Keep, Report, Settings};
use crate::config::parse_go_duration;
use crate::drivers;
use crate::error::Error;
use crate::naming::{self, Layout, RepoMode};
use crate::registry::Repository;

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
    #[arg(
        long,
        short = 'i',
        visible_alias = "images-repo",
        env = "WHARF_REPO",
        required = true,
        help_heading = "Project"
    )]
    pub repo: Option<String>,
    /// How images map to repositories.
    #[arg(long, visible_alias = "images-repo-mode", value_enum, default_value_t = RepoMode::Auto, env = "WHARF_REPO_MODE", help_heading = "Project")]
    pub repo_mode: RepoMode,
    /// Where the images were published when not in --repo, which then holds only their
    /// stages (werf's flag, as given to the build).
    #[arg(long, value_name = "REPO", env = "WHARF_FINAL_REPO", help_heading = "Project")]
    pub final_repo: Option<String>,
    /// Where the build kept its stages when not beside the images (werf 1.1's flag;
    /// `:local`: in the engine, nothing to clean there); same registry as the images.
    #[arg(long, short = 's', value_name = "REPO|:local", env = "WHARF_STAGES_STORAGE", help_heading = "Project")]
    pub stages_storage: Option<String>,
    /// Never delete tags matching this glob (repeatable), e.g. `release-*`.
    #[arg(long = "keep", value_name = "PATTERN", help_heading = "Policies")]
    pub keep: Vec<String>,
    /// Anything pushed within this period stays (`0` disables; default: the project's
    /// keepImagesBuiltWithinLastNHours, 2h).
    #[arg(long, value_name = "DURATION", help_heading = "Policies")]
    pub fresh_window: Option<String>,
    /// werf's name for the fresh window in hours (used when --fresh-window is not given).
    #[arg(long, value_name = "N", help_heading = "Policies")]
    pub keep_stages_built_within_last_n_hours: Option<u64>,
    /// Also delete images that have no publish record (not built by wharf, or before it
    /// recorded); with --keep-last / --keep-within, those rank by push time per repository.
    #[arg(long, help_heading = "Policies")]
    pub include_unknown: bool,
    /// No git: keep the newest N images of each image (without a project file: of the
    /// repository, ranked by push time).
    #[arg(long, value_name = "N", help_heading = "Policies")]
    pub keep_last: Option<usize>,
    /// Only artifacts of this type (their `artifactType`, or a Helm chart's config media
    /// type) may be deleted; images and other artifacts stay, with the reason.
    #[arg(long, value_name = "TYPE", help_heading = "Policies")]
    pub artifact_type: Option<String>,
    /// No git: keep every image published within DURATION (e.g. 168h).
    #[arg(long, value_name = "DURATION", help_heading = "Policies")]
    pub keep_within: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long, help_heading = "Cleanup")]
    pub dry_run: bool,
    /// Write the plan as JSON to FILE (with --dry-run, to apply later with `wharf cleanup apply FILE`).
    #[arg(long, value_name = "FILE", help_heading = "Cleanup")]
    pub plan_out: Option<PathBuf>,
    /// Journal of deletions (default: DIR/.wharf/cleanup-journal.jsonl).
    #[arg(long, value_name = "FILE", help_heading = "Cleanup")]
    pub journal: Option<PathBuf>,
    /// Delete every tag of the project (asks first unless --yes).
    #[arg(long, help_heading = "Cleanup")]
    pub purge: bool,
    /// Do not ask before a purge.
    #[arg(long, help_heading = "Cleanup")]
    pub yes: bool,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub locks: LockArgs,
    #[command(flatten)]
    pub werf: WerfIgnored<ignored::Cleanup>,
}

#[derive(Args, Debug, Clone)]
pub struct CleanupApplyArgs {
    pub plan: PathBuf,
    /// Journal of deletions (default: .wharf/cleanup-journal.jsonl).
    #[arg(long, value_name = "FILE", default_value = ".wharf/cleanup-journal.jsonl", help_heading = "Cleanup")]
    pub journal: PathBuf,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CleanupRestoreArgs {
    pub journal: PathBuf,
    /// The static root the journal's lines belong to (each line names it too).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", help_heading = "Registry & credentials")]
    pub static_root: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub async fn run(command: &CleanupCommand, out: Output) -> Result<(), Error> {
    match &command.action {
        None => cleanup(&command.run, out).await,
        Some(CleanupAction::Apply(args)) => apply(args, out).await,
        Some(CleanupAction::Restore(args)) => restore(args, out).await,
    }
}

fn duration(flag: &str, v: &str) -> Result<std::time::Duration, Error> {
    parse_go_duration(v).map_err(|e| Error::Usage(format!("--{flag} {v:?}: {e} (e.g. 2h, 30m, 168h)")))
}

/// `wharf cleanup …`: plan, and unless --dry-run, delete.
async fn cleanup(args: &CleanupArgs, out: Output) -> Result<(), Error> {
    args.werf.notify();
    let keep = if args.purge {
        Keep::Purge
    } else if args.keep_last.is_some() || args.keep_within.is_some() {
        Keep::Simple {
            last: args.keep_last,
            within: args.keep_within.as_deref().map(|v| duration("keep-within", v)).transpose()?,
        }
    } else {
        Keep::GitPolicies
    };
    // Git policies need the project; the simple rules also work on a repository of images
    // `wharf push` published, with no project file at all.
    let project = match args.project.load() {
        Ok(p) => Some(p),
        Err(crate::config::ConfigError::NotFound { .. })
            if !matches!(keep, Keep::GitPolicies) && args.project.config.is_none() =>
        {
            None
        }
        Err(e) => return Err(Error::Config(e)),
    };
    let given_repo = args.repo.as_deref().ok_or_else(|| Error::Usage("--repo is required".into()))?;
    // With --final-repo the images are there and --repo holds the stages, as werf builds them.
    let repo_text = args.final_repo.as_deref().unwrap_or(given_repo);
    let flag = if args.final_repo.is_some() { "--final-repo" } else { "--repo" };
    let Site { repo, driver, store } = site(repo_text, &args.site, None).await.map_err(|e| match e {
        Error::Usage(m) => Error::Usage(format!("{flag}: {m}")),
        other => other,
    })?;
    let stages = stages_repository(args, given_repo, &repo)?;
    let layout = drivers::resolve_layout(args.repo_mode, &repo, driver.info()).map_err(Error::Usage)?;
    let layout = match (args.repo_mode, layout) {
        (RepoMode::Auto, Layout::Multirepo) if holds_monorepo_tags(driver.as_ref(), &repo).await? => Layout::Monorepo,
        (_, found) => found,
    };
    let policy = project.as_ref().map(|p| p.cleanup.clone()).unwrap_or_default();
    let fresh_window = match args.fresh_window.as_deref() {
        Some(v) => Some(duration("fresh-window", v)?),
        None if args.keep_stages_built_within_last_n_hours.is_some() => {
            args.keep_stages_built_within_last_n_hours.map(|h| std::time::Duration::from_secs(h.saturating_mul(3600)))
        }
        None if policy.disable_built_within_last_n_hours_policy => None,
        None => Some(std::time::Duration::from_secs(policy.keep_images_built_within_last_n_hours * 3600)),
    }
    .filter(|d| !d.is_zero());
    let project_dir = project.as_ref().map_or_else(|| args.project.dir.clone(), |p| p.dir.clone());
    let keep_patterns = args
        .keep
        .iter()
        .map(|p| {
            globset::Glob::new(p)
                .map(|g| (p.clone(), g.compile_matcher()))
                .map_err(|e| Error::Usage(format!("--keep {p:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let journal_path = match &args.journal {
        Some(j) => j.clone(),
        // The state dir (ignored by git) is made only when something will be journaled.
        None if args.dry_run => project_dir.join(crate::config::STATE_DIR).join("cleanup-journal.jsonl"),
        None => crate::config::state_dir(&project_dir)
            .map_err(|source| Error::Io {
                what: project_dir.join(crate::config::STATE_DIR).display().to_string(),
                source,
            })?
            .join("cleanup-journal.jsonl"),
    };
    let locks = args.locks.locks().await?;
    let _lock = locks.exclusive(&crate::lock::repository(&repo)).await?;
    let settings = Settings {
        project,
        repo,
        layout,
        keep,
        keep_patterns,
        fresh_window,
        include_unknown: args.include_unknown,
        artifact_type: args.artifact_type.clone(),
        static_root: args.site.statics.static_root.clone(),
        stages,
    };
    let plan = run::make_plan(&settings, driver.as_ref(), store.as_ref()).await.map_err(cleanup_error)?;
    if let Some(path) = &args.plan_out {
        write_plan(&plan, path)?;
    }
    if args.dry_run {
        match out {
            Output::Json => output::print(&plan),
            Output::Text => print!("{}", plan.to_table()),
        }
        return Ok(());
    }
    if args.purge && !args.yes && !confirm(&plan)? {
        return Err(Error::Usage("purge cancelled".into()));
    }
    let outcome = run::apply(&plan, driver.as_ref(), store.as_ref(), &journal_path).await.map_err(cleanup_error)?;
    let report = Report::new(&plan, outcome, false, Some(journal_path.display().to_string()));
    print_report(&report, out);
    all_done(&report)
}

/// The repository the build kept stages in when not beside the images: `--stages-storage`,
/// or `--repo` when `--final-repo` holds the images; `None` when they are beside the images
/// (or local). It must be on the images' registry: one driver serves a cleanup.
fn stages_repository(args: &CleanupArgs, given_repo: &str, images: &Repository) -> Result<Option<Repository>, Error> {
    let (flag, text) = match (args.stages_storage.as_deref(), &args.final_repo) {
        (Some(":local"), _) | (None, None) => return Ok(None),
        (Some(s), _) => ("--stages-storage", s),
        (None, Some(_)) => ("--repo", given_repo),
    };
    if args.site.statics.static_root.is_some() {
        return Err(Error::Usage(format!("{flag}: a static root holds no stages; leave it out with --static-root")));
    }
    let stages = drivers::parse_repository(text).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
    if stages.registry != images.registry {
        return Err(Error::Usage(format!(
            "{flag} {stages}: stages on another registry than the images ({})\n  hint: clean that registry with its own `wharf cleanup --repo {stages}`",
            images.registry
        )));
    }
    Ok(Some(stages).filter(|s| s != images))
}

/// Whether `repo` holds wharf's monorepo tags (stages or publish records at its top):
/// `auto` then means monorepo, which `wharf build` (werf 1.2's one repository) publishes, so
/// that `cleanup --repo R` after `build --repo R` needs no `--repo-mode`. One listing.
async fn holds_monorepo_tags(driver: &dyn drivers::Driver, repo: &Repository) -> Result<bool, Error> {
    let listing = driver.list(repo, drivers::Digests::None).await;
    let listing = listing.map_err(|e| {
        Error::Cleanup(run::CleanupError::Inventory(InventoryError::List {
            repository: repo.to_string(),
            source: Box::new(e),
        }))
    })?;
    let mut names = listing.tags.iter().map(|t| t.tag.as_str()).chain(listing.undigested.iter().map(String::as_str));
    Ok(names.any(|t| naming::parse_stage_tag(t, false).is_some() || naming::parse_meta_tag(t).is_some()))
}

/// `wharf cleanup apply PLAN`.
async fn apply(args: &CleanupApplyArgs, out: Output) -> Result<(), Error> {
    let text =
        std::fs::read_to_string(&args.plan).map_err(|e| Error::Usage(format!("{}: {e}", args.plan.display())))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a wharf cleanup plan: {e}", args.plan.display())))?;
    let first =
        plan.entries.first().ok_or_else(|| Error::Usage(format!("{}: the plan is empty", args.plan.display())))?;
    let mut site_args = args.site.clone();
    if plan.driver == drivers::StaticDriver::NAME {
        site_args.statics.static_root = site_args.statics.static_root.or_else(|| plan.static_root.clone());
        if site_args.statics.static_root.is_none() {
            return Err(Error::Usage(format!("{}: a plan of a static root needs --static-root", args.plan.display())));
        }
    }
    let repo_text = match &site_args.statics.static_root {
        Some(_) => first
            .repository
            .strip_prefix(crate::static_registry::driver::LEGACY_PREFIX)
            .unwrap_or(&first.repository)
            .to_string(),
        None => first.repository.clone(),
    };
    let implementation = site_args.driver.implementation.clone().unwrap_or_else(|| plan.driver.clone());
    let Site { repo, driver, store } = site(&repo_text, &site_args, Some(&implementation)).await?;
    let _lock = args.locks.locks().await?.exclusive(&crate::lock::repository(&repo)).await?;
    let outcome = run::apply(&plan, driver.as_ref(), store.as_ref(), &args.journal).await.map_err(cleanup_error)?;
    let report = Report::new(&plan, outcome, false, Some(args.journal.display().to_string()));
    print_report(&report, out);
    all_done(&report)
}

/// `wharf cleanup restore JOURNAL`.
async fn restore(args: &CleanupRestoreArgs, out: Output) -> Result<(), Error> {
    let lines = journal::read(&args.journal).map_err(|e| Error::Usage(e.to_string()))?;
    let registries: Vec<String> =
        lines.iter().filter_map(|l| l.repository.parse::<Repository>().ok()).map(|r| r.registry).collect();
    let registries: Vec<&str> = registries.iter().map(String::as_str).collect();
    // Lines of a static root go back into it, the others into their registries.
    let legacy = crate::static_registry::driver::LEGACY_PREFIX;
    let (statics, registry_lines): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|l| l.static_root.is_some() || l.repository.starts_with(legacy));
    let mut restored = execute::Restored::default();
    if !statics.is_empty() {
        // Named explicitly: restoring writes into it (the lines say which root they came from).
        let root = args.static_root.as_deref().ok_or_else(|| {
            Error::Usage(format!(
                "{}: {} line(s) are of a static root; give it with --static-root",
                args.journal.display(),
                statics.len()
            ))
        })?;
        restored = execute::restore(&statics, &static_root(root).await?).await;
    }
    if !registry_lines.is_empty() {
        let more = execute::restore(&registry_lines, &args.registry.client(&registries)?).await;
        restored.restored.extend(more.restored);
        restored.skipped.extend(more.skipped);
    }
    match out {
        Output::Json => output::print(&restored),
        Output::Text => {
            for d in &restored.restored {
                println!("restored {}:{} → {}", d.repository, d.tag, d.digest);
            }
            for d in &restored.skipped {
                println!("skipped  {}:{}  {}", d.repository, d.tag, d.reason);
            }
            println!("{} restored, {} skipped", restored.restored.len(), restored.skipped.len());
        }
    }
    Ok(())
}

/// The exit status says whether every deletion went through.
fn all_done(report: &Report) -> Result<(), Error> {
    match report.counts.failed {
        0 => Ok(()),
        failed => Err(Error::Partial { failed, total: report.planned_deletions }),
    }
}

fn cleanup_error(e: run::CleanupError) -> Error {
    Error::Cleanup(e)
}

fn write_plan(plan: &Plan, path: &Path) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(plan).map_err(|e| Error::Usage(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| Error::Usage(format!("--plan-out {}: {e}", path.display())))
}

fn print_report(report: &Report, out: Output) {
    match out {
        Output::Json => output::print(report),
        Output::Text => print!("{}", report.to_text()),
    }
}

/// Asks before a purge; without a terminal, --yes is required.
fn confirm(plan: &Plan) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage("--purge deletes every tag of the project; confirm with --yes".into()));
    }
    eprint!("delete all {} tag(s) of project {}? [y/N] ", plan.deletions().count(), plan.project);
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::Usage(e.to_string()))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
