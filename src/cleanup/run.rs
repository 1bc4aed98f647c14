//! One cleanup run with explicit settings: gather, decide, and (unless it is a dry run)
//! carry out. The CLI turns flags into [`Settings`]; nothing here reads the environment.

use chrono::Utc;
use globset::GlobMatcher;
use std::time::Duration;

use super::execute::{self, Outcome};
use super::history::History;
use super::inventory::{self, InventoryError};
use super::journal::{Journal, JournalError};
use super::plan::{Action, PLAN_VERSION, Plan};
use super::policy::{self, Inputs, Mode, Options};
use crate::config::Project;
use crate::drivers::Driver;
use crate::naming::Layout;
use crate::registry::Repository;
use crate::store::Backend;

/// How images are chosen to stay.
#[derive(Debug, Clone)]
pub enum Keep {
    /// The project's keep policies over git history.
    GitPolicies,
    /// `--keep-last` / `--keep-within`.
    Simple { last: Option<usize>, within: Option<Duration> },
    /// `--purge`.
    Purge,
}

pub struct Settings {
    /// The project, when there is a project file. Without one (images published with
    /// `wharf push`), `--repo` is one repository of record-less images, and only
    /// `--keep-last` / `--keep-within` / `--purge` apply.
    pub project: Option<Project>,
    pub repo: Repository,
    pub layout: Layout,
    pub keep: Keep,
    pub keep_patterns: Vec<(String, GlobMatcher)>,
    pub fresh_window: Option<Duration>,
    pub include_unknown: bool,
    /// `--artifact-type`: only artifacts of this type are candidates.
    pub artifact_type: Option<String>,
    /// The static root cleaned, when it is one (recorded in the plan).
    pub static_root: Option<String>,
    /// Where stages were stored when not beside the images (`--stages-storage`, werf's
    /// `--repo` beside `--final-repo`): its stage tags are cleaned too.
    pub stages: Option<Repository>,
}

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Invalid(String),
}

/// Lists, reads and decides: the plan, without changing anything.
pub async fn make_plan(s: &Settings, driver: &dyn Driver, store: &dyn Backend) -> Result<Plan, CleanupError> {
    let mut repos = match &s.project {
        Some(project) => inventory::repositories(project, &s.repo, s.layout).map_err(CleanupError::Invalid)?,
        None => vec![(s.repo.clone(), false)],
    };
    if let (Some(stages), Some(_)) = (&s.stages, &s.project) {
        let place = inventory::stage_repository(stages, s.layout).map_err(CleanupError::Invalid)?;
        if !repos.iter().any(|(r, _)| *r == place.0) {
            repos.push(place);
        }
    }
    let (mut tags, mut broken, deferred) = inventory::list(driver, &repos).await?;
    let records = inventory::records(store, &mut tags, &mut broken, deferred).await;
    let manifests = inventory::manifests(store, &tags, &records).await;
    let (mode, policies) = match &s.keep {
        Keep::GitPolicies => {
            let project = s.project.as_ref().ok_or_else(|| {
                CleanupError::Invalid(
                    "git keep policies need the project file (wharf.yaml or werf.yaml in --dir)\n  hint: without one, use --keep-last N and/or --keep-within DURATION".into(),
                )
            })?;
            let history = History::open(&project.dir).map_err(InventoryError::from)?;
            let policies = project.cleanup.keep_policies.clone();
            let walked = inventory::history(&history, &policies, &records)?;
            (Mode::Git { policies, history: walked }, super::policy_lines(&project.cleanup))
        }
        Keep::Simple { last, within } => (
            Mode::Simple { keep_last: *last, keep_within: *within },
            vec![format!(
                "keep {}{}",
                last.map(|n| format!("the last {n} image(s) of each image")).unwrap_or_default(),
                within
                    .map(|d| format!(" and every image published within {}", super::human_duration(d)))
                    .unwrap_or_default()
            )],
        ),
        Keep::Purge => (Mode::Purge, vec!["purge: delete every tag of the project".into()]),
    };
    let mut policy_text = policies;
    if let Some(w) = s.fresh_window {
        policy_text.push(format!("fresh window: anything pushed within {} stays", super::human_duration(w)));
    }
    for (p, _) in &s.keep_patterns {
        policy_text.push(format!("--keep {p}"));
    }
    if let Some(t) = &s.artifact_type {
        policy_text.push(format!("--artifact-type {t}: only artifacts of this type may go; everything else stays"));
    }
    let opts = Options {
        mode,
        keep: s.keep_patterns.clone(),
        artifact_type: s.artifact_type.clone(),
        fresh_window: s.fresh_window,
        // Without a project nothing can have a publish record: the simple rules rank them all.
        include_unknown: s.include_unknown || s.project.is_none(),
        now: Utc::now(),
    };
    let inputs = Inputs {
        tags: &tags,
        records: &records,
        pushed_at: &manifests.pushed_at,
        children: &manifests.children,
        throwaways: &manifests.throwaways,
        artifact_types: &manifests.artifact_types,
    };
    let mut entries = policy::decide(&inputs, &opts);
    let repository_deletions =
        super::review::review(driver, store, &mut entries, matches!(s.keep, Keep::Purge)).await?;
    Ok(Plan {
        version: PLAN_VERSION,
        project: s.project.as_ref().map_or_else(|| s.repo.path.clone(), |p| p.name.clone()),
        driver: driver.info().name.to_string(),
        static_root: s.static_root.clone(),
        policies: policy_text,
        entries,
        broken,
        repository_deletions,
    })
}

/// Carries out `plan`'s deletions, journaling each to `journal`.
pub async fn apply(
    plan: &Plan,
    driver: &dyn Driver,
    store: &dyn Backend,
    journal: &std::path::Path,
) -> Result<Outcome, CleanupError> {
    if plan.version != PLAN_VERSION {
        return Err(CleanupError::Invalid(format!(
            "plan format {} is not supported (this wharf writes {PLAN_VERSION})",
            plan.version
        )));
    }
    let journal = Journal::open(journal)?.in_static_root(plan.static_root.clone());
    Ok(execute::execute(plan, driver, store, &journal).await)
}

/// The report of a run.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    pub project: String,
    pub dry_run: bool,
    pub kept: Vec<super::plan::Entry>,
    pub planned_deletions: usize,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub journal: Option<String>,
    pub counts: Counts,
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub kept: usize,
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Report {
    pub fn new(plan: &Plan, mut outcome: Outcome, dry_run: bool, journal: Option<String>) -> Report {
        outcome.skipped.extend(plan.broken.iter().map(|b| execute::Done {
            repository: b.repository.clone(),
            tag: b.tag.clone(),
            digest: String::new(),
            reason: format!("broken tag, left alone: {}", b.problem),
        }));
        let kept: Vec<_> = plan.entries.iter().filter(|e| e.action == Action::Keep).cloned().collect();
        let counts = Counts {
            kept: kept.len(),
            deleted: outcome.deleted.len(),
            skipped: outcome.skipped.len(),
            failed: outcome.failed.len(),
        };
        Report {
            project: plan.project.clone(),
            dry_run,
            planned_deletions: plan.deletions().count(),
            kept,
            outcome,
            journal,
            counts,
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (what, list) in
            [("deleted", &self.outcome.deleted), ("skipped", &self.outcome.skipped), ("FAILED", &self.outcome.failed)]
        {
            for d in list {
                out.push_str(&format!("{what:8} {}:{}  {}\n", d.repository, d.tag, d.reason));
            }
        }
        for g in &self.outcome.garbage {
            let c = &g.collected;
            out.push_str(&format!(
                "garbage  {}: {} manifest(s) and {} blob(s) removed, {} bytes freed{}\n",
                g.repository,
                c.manifests,
                c.blobs,
                c.bytes,
                if c.young > 0 {
                    format!(" ({} unreferenced file(s) younger than the grace period left)", c.young)
                } else {
                    String::new()
                }
            ));
        }
        out.push_str(&format!(
            "{}: {} kept, {} deleted, {} skipped, {} failed{}\n",
            self.project,
            self.counts.kept,
            self.counts.deleted,
            self.counts.skipped,
            self.counts.failed,
            self.journal.as_ref().map(|j| format!(" (journal: {j})")).unwrap_or_default()
        ));
        out
    }
}

impl CleanupError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            CleanupError::Inventory(e) => e.category(),
            // A journal that cannot be written (a full disk) is the machine's problem.
            CleanupError::Journal(_) => crate::error::Category::Local,
            CleanupError::Invalid(_) => crate::error::Category::Usage,
        }
    }
}
