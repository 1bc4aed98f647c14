//! `static rm` and `static gc`: a version goes out of `tags.json` first, then its
//! `release.json`, then the rest of its directory, so a reader never follows the list to a
//! version whose files are going.
//!
//! `gc` decides, then does: [`plan_gc`] ranks the published versions ([`names::rank`]) and
//! finds the directories of versions that are not published (an interrupted push or rm),
//! which go only once nothing in them was written for the grace period (a push may be
//! writing them); [`gc`] carries the plan out under the name's lock, re-reading `tags.json`
//! first so a version published since the plan was made is never touched. A version's files
//! are all below its own directory, so what a kept version lists is never deleted.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::dest::{Dest, version_dir};
use super::names::{Decision, rank, validate_name, validate_version};
use super::{FilesError, RELEASE_FILE, TagList};
use crate::static_registry::root::StaticRoot;

/// Files deleted at once.
const DELETE_CONCURRENCY: usize = 8;

/// One version removed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Removed {
    pub name: String,
    pub version: String,
    /// It was in `tags.json` (else only the files of an unpublished version were there).
    pub was_published: bool,
    pub files: usize,
    pub bytes: u64,
}

/// Removes `name:version` (`tags.json` first, then `release.json`, then its files).
pub async fn remove(root: &StaticRoot, name: &str, version: &str) -> Result<Removed, FilesError> {
    validate_name(name)?;
    validate_version(version)?;
    let dest = Dest::new(root);
    let _lock = dest.lock(name).await?;
    let removed = remove_locked(&dest, name, version).await?;
    if !removed.was_published && removed.files == 0 {
        return Err(FilesError::NotFound {
            dest: dest.describe(),
            name: name.into(),
            what: format!("version {version} of {name}"),
        });
    }
    Ok(removed)
}

async fn remove_locked(dest: &Dest<'_>, name: &str, version: &str) -> Result<Removed, FilesError> {
    let mut was_published = false;
    if let Some(mut tags) = dest.tags(name).await?
        && tags.tags.iter().any(|t| t == version)
    {
        tags.tags.retain(|t| t != version);
        dest.write_tags(&tags).await?;
        was_published = true;
    }
    let vdir = version_dir(name, version);
    let below = dest.list_tree(&vdir).await?;
    if below.iter().any(|e| e.name == RELEASE_FILE) {
        dest.delete(&format!("{vdir}/{RELEASE_FILE}")).await?;
    }
    let rest: Vec<String> =
        below.iter().filter(|e| e.name != RELEASE_FILE).map(|e| format!("{vdir}/{}", e.name)).collect();
    futures::stream::iter(rest.iter().map(|rel| dest.delete(rel)))
        .buffer_unordered(DELETE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    dest.prune(&vdir).await?;
    Ok(Removed {
        name: name.into(),
        version: version.into(),
        was_published,
        files: below.len(),
        bytes: below.iter().map(|e| e.size).sum(),
    })
}

/// What `static gc` will do.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GcPlan {
    pub destination: String,
    pub name: String,
    /// `--keep`: semver versions and the others are ranked apart, N kept of each.
    pub keep: usize,
    /// Files of unpublished versions written within this many seconds stay.
    pub grace_seconds: u64,
    /// Every published version, in version order.
    pub versions: Vec<GcVersion>,
    /// Directories of versions that are not in `tags.json`.
    pub unpublished: Vec<GcVersion>,
}

/// A version and what gc does with it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GcVersion {
    pub version: String,
    pub decision: Decision,
    pub reason: String,
}

impl GcPlan {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for v in self.versions.iter().chain(&self.unpublished) {
            let what = if v.decision == Decision::Keep { "keep" } else { "remove" };
            out.push_str(&format!("{what:7} {}:{}  {}\n", self.name, v.version, v.reason));
        }
        out
    }

    /// The versions (published or not) this plan removes.
    pub fn removals(&self) -> impl Iterator<Item = &GcVersion> {
        self.versions.iter().chain(&self.unpublished).filter(|v| v.decision == Decision::Remove)
    }
}

/// Ranks the versions of `name` and finds what is not published; changes nothing.
pub async fn plan_gc(
    root: &StaticRoot,
    name: &str,
    keep: usize,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<GcPlan, FilesError> {
    validate_name(name)?;
    if keep == 0 {
        return Err(FilesError::Usage(
            "--keep must be at least 1\n  hint: `wharf static rm NAME:VERSION DEST` removes one version".into(),
        ));
    }
    let dest = Dest::new(root);
    let TagList { tags, .. } = dest.tags(name).await?.ok_or_else(|| FilesError::NotFound {
        dest: dest.describe(),
        name: name.into(),
        what: format!("files named {name}"),
    })?;
    let dest = &dest;
    // A release.json that cannot be read gives no time: the version is kept, never ranked.
    let times: Vec<(String, Option<DateTime<Utc>>)> = futures::stream::iter(tags.iter())
        .map(|v| async move { (v.clone(), dest.release(name, v).await.ok().flatten().map(|r| r.created)) })
        .buffered(8)
        .collect()
        .await;
    let versions = rank(&times, keep)
        .into_iter()
        .map(|(version, decision, reason)| GcVersion { version, decision, reason })
        .collect();

    // The newest file of each directory below the name that is a version but not published.
    let mut newest: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
    for entry in dest.list_tree(name).await? {
        let Some((dir, _)) = entry.name.split_once('/') else {
            continue;
        };
        if validate_version(dir).is_err() || tags.iter().any(|t| t == dir) {
            continue;
        }
        let slot = newest.entry(dir.to_string()).or_insert(entry.modified);
        *slot = slot.zip(entry.modified).map(|(a, b)| a.max(b));
    }
    let grace_text = crate::cleanup::human_duration(grace);
    let unpublished = newest
        .into_iter()
        .map(|(version, time)| {
            let settled = time.is_some_and(|t| chrono::Duration::from_std(grace).is_ok_and(|g| now - t >= g));
            let (decision, reason) = match settled {
                true => (
                    Decision::Remove,
                    format!("not published (not in tags.json); nothing in it written for {grace_text}"),
                ),
                false => (
                    Decision::Keep,
                    format!(
                        "not published (not in tags.json), but written within {grace_text}: a push may be writing it"
                    ),
                ),
            };
            GcVersion { version, decision, reason }
        })
        .collect();
    Ok(GcPlan {
        destination: root.to_string(),
        name: name.into(),
        keep,
        grace_seconds: grace.as_secs(),
        versions,
        unpublished,
    })
}

/// What `static gc` prints: the plan and what went.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GcReport {
    pub dry_run: bool,
    pub plan: GcPlan,
    /// What was removed (nothing on a dry run).
    pub removed: Vec<Removed>,
}

impl GcReport {
    pub fn to_text(&self) -> String {
        let mut text = self.plan.to_text();
        match self.dry_run {
            true => text.push_str(&format!("dry run: {} version(s) would be removed\n", self.plan.removals().count())),
            false => {
                let bytes: u64 = self.removed.iter().map(|v| v.bytes).sum();
                text.push_str(&format!("{} version(s) removed, {bytes} bytes freed\n", self.removed.len()));
            }
        }
        text
    }
}

/// Carries out `plan` under the name's lock: a published version is removed only while it
/// is still published, an unpublished one only while it is still not.
pub async fn gc(root: &StaticRoot, plan: &GcPlan) -> Result<Vec<Removed>, FilesError> {
    let dest = Dest::new(root);
    let _lock = dest.lock(&plan.name).await?;
    let published = dest.tags(&plan.name).await?.map(|t| t.tags).unwrap_or_default();
    let mut removed = Vec::new();
    for v in plan.removals() {
        let planned_published = plan.versions.iter().any(|p| p.version == v.version);
        if published.contains(&v.version) == planned_published {
            removed.push(remove_locked(&dest, &plan.name, &v.version).await?);
        }
    }
    Ok(removed)
}
