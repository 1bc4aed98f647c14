//! Carrying out a plan: for each deletion, re-check that the tag still points where the plan
//! saw it (a tag that moved is skipped, not deleted), journal the manifest, then remove the
//! tag through the driver's safe single-tag delete. A failure or a broken tag is reported and
//! the rest go on; the report says what happened to every tag. A repository the plan deletes
//! as a whole (`--purge` on GitHub) is deleted once all its tags passed those checks.

use futures::StreamExt;

use super::journal::Journal;
use super::plan::{Entry, Plan, RepositoryDeletion, TagKind};
use crate::drivers::Driver;
use crate::registry::Repository;
use crate::static_registry::gc::Collected;
use crate::store::Backend;

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Done {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Outcome {
    pub deleted: Vec<Done>,
    pub skipped: Vec<Done>,
    pub failed: Vec<Done>,
    /// What garbage collection removed, where the driver collects (static roots).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub garbage: Vec<Garbage>,
}

/// One repository's garbage collection after its deletions.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Garbage {
    pub repository: String,
    #[serde(flatten)]
    pub collected: Collected,
}

enum Result1 {
    Deleted(String),
    Skipped(String),
    Failed(String),
}

/// How many repositories are worked on at once. Within one repository deletions run one
/// after the other: distribution's manifest deletes race with concurrent manifest writes in
/// the same repository (a throwaway manifest just written can answer 404 to its delete),
/// and registries rate-limit deletes anyway.
pub const REPOSITORY_CONCURRENCY: usize = 4;

/// Deletes what `plan` says: repositories deleted as a whole first, then the rest phase by
/// phase (images, referrers, stages, records).
pub async fn execute(plan: &Plan, driver: &dyn Driver, store: &dyn Backend, journal: &Journal) -> Outcome {
    let mut out = Outcome::default();
    for whole in &plan.repository_deletions {
        delete_repository(plan, whole, driver, store, journal, &mut out).await;
    }
    let ordered: Vec<&Entry> = plan
        .ordered_deletions()
        .into_iter()
        .filter(|e| !plan.repository_deletions.iter().any(|w| w.repository == e.repository))
        .collect();
    let phase = |e: &Entry| match e.kind {
        TagKind::Image => 0,
        TagKind::Referrer { .. } => 1,
        TagKind::Stage { .. } => 2,
        TagKind::Record { .. } => 3,
    };
    for p in 0..4 {
        let mut by_repo: std::collections::BTreeMap<&str, Vec<&Entry>> = Default::default();
        for e in ordered.iter().copied().filter(|e| phase(e) == p) {
            by_repo.entry(e.repository.as_str()).or_default().push(e);
        }
        let results: Vec<Vec<(&Entry, Result1)>> = futures::stream::iter(by_repo.into_values())
            .map(|entries| async move {
                let mut done = Vec::with_capacity(entries.len());
                for e in entries {
                    done.push((e, delete_one(e, driver, store, journal).await));
                }
                done
            })
            .buffer_unordered(REPOSITORY_CONCURRENCY)
            .collect()
            .await;
        for (e, r) in results.into_iter().flatten() {
            let done = |reason: String| Done {
                repository: e.repository.clone(),
                tag: e.tag.clone(),
                digest: e.digest.to_string(),
                reason,
            };
            match r {
                Result1::Deleted(how) => out.deleted.push(done(how)),
                Result1::Skipped(why) => out.skipped.push(done(why)),
                Result1::Failed(why) => out.failed.push(done(why)),
            }
        }
    }
    collect_garbage(plan, driver, store, &mut out).await;
    out
}

/// After the deletions, each repository of the plan gets the driver's garbage collection (a
/// no-op for registries, which collect their own), also when nothing was deleted this time:
/// files left young by an earlier run, or by a push that died before its tag, go once they
/// are old enough. A failure is a failure of the run, reported under the repository.
async fn collect_garbage(plan: &Plan, driver: &dyn Driver, store: &dyn Backend, out: &mut Outcome) {
    let repositories: std::collections::BTreeSet<String> = plan.entries.iter().map(|e| e.repository.clone()).collect();
    for repository in repositories {
        let Ok(repo) = store.repository(&repository) else { continue };
        match driver.collect_garbage(&repo).await {
            Ok(Some(collected)) => out.garbage.push(Garbage { repository, collected }),
            Ok(None) => {}
            Err(e) => out.failed.push(Done {
                repository,
                tag: String::new(),
                digest: String::new(),
                reason: format!("garbage collection: {e}"),
            }),
        }
    }
}

/// A repository the plan deletes as a whole: every tag is re-checked and journaled as a
/// single delete would be; if any changed, nothing is deleted. Then the driver deletes the
/// repository, after checking it holds exactly those tags.
async fn delete_repository(
    plan: &Plan,
    whole: &RepositoryDeletion,
    driver: &dyn Driver,
    store: &dyn Backend,
    journal: &Journal,
    out: &mut Outcome,
) {
    let entries: Vec<&Entry> = plan.deletions().filter(|e| e.repository == whole.repository).collect();
    let done = |e: &Entry, reason: String| Done {
        repository: e.repository.clone(),
        tag: e.tag.clone(),
        digest: e.digest.to_string(),
        reason,
    };
    let mut checked = Vec::with_capacity(entries.len());
    for e in &entries {
        checked.push(prepare(e, store, journal).await);
    }
    let repo = checked.iter().find_map(|c| c.as_ref().ok().cloned()).filter(|_| checked.iter().all(Result::is_ok));
    let Some(repo) = repo else {
        for (e, c) in entries.iter().zip(checked) {
            match c {
                Err(Result1::Failed(why)) => out.failed.push(done(e, why)),
                Err(Result1::Skipped(why)) | Err(Result1::Deleted(why)) => out.skipped.push(done(e, why)),
                Ok(_) => out.skipped.push(done(e, "left alone: another tag of the repository changed since the plan was made, so it is not deleted as a whole".into())),
            }
        }
        return;
    };
    let expected: Vec<crate::drivers::TagEntry> =
        entries.iter().map(|e| crate::drivers::TagEntry::new(e.tag.clone(), e.digest.clone())).collect();
    match driver.delete_repository(&repo, &expected).await {
        Ok(()) => out.deleted.extend(
            entries.iter().map(|e| done(e, format!("{} (repository deleted as a whole: {})", e.reason, whole.reason))),
        ),
        Err(err) => out.failed.extend(entries.iter().map(|e| done(e, err.to_string()))),
    }
}

async fn delete_one(e: &Entry, driver: &dyn Driver, store: &dyn Backend, journal: &Journal) -> Result1 {
    let repo = match prepare(e, store, journal).await {
        Ok(repo) => repo,
        Err(r) => return r,
    };
    match driver.untag(&repo, &e.tag).await {
        Ok(outcome) => match confirm_removed(driver, store, &repo, &e.tag, &e.digest).await {
            Ok(()) => Result1::Deleted(format!("{} ({})", e.reason, outcome.method.describe())),
            Err(why) => Result1::Failed(why),
        },
        Err(err) => Result1::Failed(err.to_string()),
    }
}

/// Read-backs of a removed tag before it counts as still there (registries behind caches
/// show a delete late).
const CONFIRM_ATTEMPTS: u32 = 4;

/// Reads a tag back after the driver reported it removed — through the driver's own API
/// where it has one, else the distribution API (`store`): gone, or moved by another writer
/// meanwhile, is done; still on `planned` or on a throwaway manifest is a failure, whatever
/// the registry answered. A delete is reported only when this holds.
pub async fn confirm_removed(
    driver: &dyn Driver,
    store: &dyn Backend,
    repo: &Repository,
    tag: &str,
    planned: &crate::spec::digest::Digest,
) -> Result<(), String> {
    let mut attempt = 0;
    loop {
        let now = match driver.tag_digest(repo, tag).await {
            Err(crate::drivers::DriverError::Unsupported { .. }) => {
                async { store.open(repo)?.resolve(tag).await }.await.map_err(|e| e.to_string())
            }
            other => other.map_err(|e| e.to_string()),
        }
        .map_err(|e| format!("the registry reported the tag removed, but it cannot be read back to confirm: {e}"))?;
        let stuck = match &now {
            None => return Ok(()),
            Some(d) if d == planned => format!("the registry reported the tag removed, but it still points at {d}"),
            Some(d) if is_throwaway_at(store, repo, d).await => {
                format!("the tag was left on the throwaway manifest {d}")
            }
            Some(_) => return Ok(()),
        };
        attempt += 1;
        if attempt >= CONFIRM_ATTEMPTS {
            return Err(stuck);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
    }
}

/// Re-checks that the tag still points where the plan saw it, and journals its manifest.
async fn prepare(e: &Entry, store: &dyn Backend, journal: &Journal) -> Result<Repository, Result1> {
    let repo = store.repository(&e.repository).map_err(|err| Result1::Failed(format!("invalid repository: {err}")))?;
    let store = store.open(&repo).map_err(|err| Result1::Failed(format!("cannot check the tag: {err}")))?;
    match store.resolve(&e.tag).await {
        Ok(None) => return Err(Result1::Skipped("already gone".into())),
        Ok(Some(d)) if d != e.digest => {
            return Err(Result1::Skipped(format!("tag moved to {d} since the plan was made")));
        }
        Ok(Some(_)) => {}
        Err(err) => return Err(Result1::Failed(format!("cannot check the tag: {err}"))),
    }
    let (bytes, media_type) = match crate::store::tagged_manifest(store.as_ref(), &e.tag, &e.digest).await {
        Ok(Some((bytes, media_type, _))) => (bytes, media_type),
        Ok(None) => return Err(Result1::Skipped("broken tag, left alone: its manifest is missing".into())),
        Err(err) => return Err(Result1::Skipped(format!("broken tag, left alone: {err}"))),
    };
    journal
        .record(&e.repository, &e.tag, &e.digest, &media_type, &bytes)
        .map_err(|err| Result1::Failed(format!("not deleted, the journal cannot be written: {err}")))?;
    Ok(repo)
}

/// What `wharf cleanup restore` did with each journal line.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Restored {
    pub restored: Vec<Done>,
    pub skipped: Vec<Done>,
}

/// Puts journaled tags back where the registry still has everything they need. A tag that
/// now points at something else is left alone.
pub async fn restore(lines: &[super::journal::Line], store: &dyn Backend) -> Restored {
    let mut out = Restored::default();
    for l in lines {
        let done = |reason: String| Done {
            repository: l.repository.clone(),
            tag: l.tag.clone(),
            digest: l.digest.to_string(),
            reason,
        };
        match restore_one(l, store).await {
            Ok(()) => out.restored.push(done("restored".into())),
            Err(why) => out.skipped.push(done(why)),
        }
    }
    out
}

async fn is_throwaway_at(store: &dyn Backend, repo: &Repository, digest: &crate::spec::digest::Digest) -> bool {
    let Ok(store) = store.open(repo) else { return false };
    store
        .manifest(digest.as_str())
        .await
        .is_ok_and(|m| m.is_some_and(|(bytes, _, _)| crate::drivers::is_throwaway(&bytes)))
}

async fn restore_one(l: &super::journal::Line, store: &dyn Backend) -> Result<(), String> {
    let repo = store.repository(&l.repository).map_err(|e| e.to_string())?;
    let bytes = l.manifest_bytes()?;
    if crate::drivers::is_throwaway(&bytes) {
        return Err("a throwaway manifest of an interrupted untag; nothing to restore".into());
    }
    let backend = store;
    let store = backend.open(&repo).map_err(|e| e.to_string())?;
    match store.resolve(&l.tag).await.map_err(|e| e.to_string())? {
        Some(d) if d == l.digest => return Err("already in place".into()),
        // An untag interrupted between its two steps left the tag on a throwaway: put it back.
        Some(d) if is_throwaway_at(backend, &repo, &d).await => {}
        Some(d) => return Err(format!("the tag now points at {d}; left alone")),
        None => {}
    }
    let content = crate::registry::parse_manifest(&bytes, &l.media_type).map_err(|e| e.to_string())?;
    for d in content.references() {
        let present = if crate::spec::manifest::is_index(&d.media_type)
            || crate::spec::manifest::is_image_manifest(&d.media_type)
        {
            store.resolve(d.digest.as_str()).await.map_err(|e| e.to_string())?.is_some()
        } else {
            store.has_blob(&d.digest).await.map_err(|e| e.to_string())?
        };
        if !present {
            return Err(format!("{} is gone from the registry (garbage-collected?)", d.digest));
        }
    }
    store.put_manifest(&l.tag, &l.media_type, bytes.into()).await.map_err(|e| e.to_string())?;
    Ok(())
}
