//! Carrying out a plan: for each deletion, re-check that the tag still points where the plan
//! saw it (a tag that moved is skipped, not deleted), journal the manifest, then remove the
//! tag through the driver's safe single-tag delete. A failure or a broken tag is reported and
//! the rest go on; the report says what happened to every tag.

use futures::StreamExt;

use super::journal::Journal;
use super::plan::{Entry, Plan, TagKind};
use crate::drivers::Driver;
use crate::registry::{Client, Repository};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Done {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    pub deleted: Vec<Done>,
    pub skipped: Vec<Done>,
    pub failed: Vec<Done>,
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

/// Deletes what `plan` says, phase by phase (images, referrers, stages, records).
pub async fn execute(plan: &Plan, driver: &dyn Driver, client: &Client, journal: &Journal) -> Outcome {
    let mut out = Outcome::default();
    let ordered = plan.ordered_deletions();
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
                    done.push((e, delete_one(e, driver, client, journal).await));
                }
                done
            })
            .buffer_unordered(REPOSITORY_CONCURRENCY)
            .collect()
            .await;
        for (e, r) in results.into_iter().flatten() {
            let done = |reason: String| Done { repository: e.repository.clone(), tag: e.tag.clone(), digest: e.digest.to_string(), reason };
            match r {
                Result1::Deleted(how) => out.deleted.push(done(how)),
                Result1::Skipped(why) => out.skipped.push(done(why)),
                Result1::Failed(why) => out.failed.push(done(why)),
            }
        }
    }
    out
}

async fn delete_one(e: &Entry, driver: &dyn Driver, client: &Client, journal: &Journal) -> Result1 {
    let repo: Repository = match e.repository.parse() {
        Ok(r) => r,
        Err(err) => return Result1::Failed(format!("invalid repository: {err}")),
    };
    match client.head_manifest(&repo, &e.tag).await {
        Ok(None) => return Result1::Skipped("already gone".into()),
        Ok(Some(d)) if d.digest != e.digest => return Result1::Skipped(format!("tag moved to {} since the plan was made", d.digest)),
        Ok(Some(_)) => {}
        Err(err) => return Result1::Failed(format!("cannot check the tag: {err}")),
    }
    let (bytes, media_type) = match client.get_manifest(&repo, e.digest.as_str()).await {
        Ok((bytes, media_type, _)) => (bytes, media_type),
        Err(err) => return Result1::Skipped(format!("broken tag, left alone: {err}")),
    };
    if let Err(err) = journal.record(&e.repository, &e.tag, &e.digest, &media_type, &bytes) {
        return Result1::Failed(format!("not deleted, the journal cannot be written: {err}"));
    }
    match driver.untag(&repo, &e.tag).await {
        Ok(outcome) => Result1::Deleted(format!("{} ({:?})", e.reason, outcome.method)),
        Err(err) => Result1::Failed(err.to_string()),
    }
}

/// What `wharf cleanup restore` did with each journal line.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Restored {
    pub restored: Vec<Done>,
    pub skipped: Vec<Done>,
}

/// Puts journaled tags back where the registry still has everything they need. A tag that
/// now points at something else is left alone.
pub async fn restore(lines: &[super::journal::Line], client: &Client) -> Restored {
    let mut out = Restored::default();
    for l in lines {
        let done = |reason: String| Done { repository: l.repository.clone(), tag: l.tag.clone(), digest: l.digest.to_string(), reason };
        match restore_one(l, client).await {
            Ok(()) => out.restored.push(done("restored".into())),
            Err(why) => out.skipped.push(done(why)),
        }
    }
    out
}

async fn is_throwaway_at(client: &Client, repo: &Repository, digest: &crate::digest::Digest) -> bool {
    client.get_manifest(repo, digest.as_str()).await.is_ok_and(|(bytes, _, _)| crate::drivers::is_throwaway(&bytes))
}

async fn restore_one(l: &super::journal::Line, client: &Client) -> Result<(), String> {
    let repo: Repository = l.repository.parse().map_err(|e: crate::registry::ReferenceError| e.to_string())?;
    let bytes = l.manifest_bytes()?;
    if crate::drivers::is_throwaway(&bytes) {
        return Err("a throwaway manifest of an interrupted untag; nothing to restore".into());
    }
    match client.head_manifest(&repo, &l.tag).await.map_err(|e| e.to_string())? {
        Some(d) if d.digest == l.digest => return Err("already in place".into()),
        // An untag interrupted between its two steps left the tag on a throwaway: put it back.
        Some(d) if is_throwaway_at(client, &repo, &d.digest).await => {}
        Some(d) => return Err(format!("the tag now points at {}; left alone", d.digest)),
        None => {}
    }
    let content = crate::registry::parse_manifest(&bytes, &l.media_type).map_err(|e| e.to_string())?;
    for d in content.references() {
        let present = if crate::registry::manifest::is_index(&d.media_type) || crate::registry::manifest::is_image_manifest(&d.media_type) {
            client.head_manifest(&repo, d.digest.as_str()).await.map_err(|e| e.to_string())?.is_some()
        } else {
            client.blob_exists(&repo, &d.digest).await.map_err(|e| e.to_string())?.is_some()
        };
        if !present {
            return Err(format!("{} is gone from the registry (garbage-collected?)", d.digest));
        }
    }
    client.put_manifest(&repo, &l.tag, &l.media_type, bytes.into()).await.map_err(|e| e.to_string())?;
    Ok(())
}
