//! Gathering what the decision needs: every tag of the project's repositories (one listing
//! per repository, through the driver), the publish records, push times where they matter,
//! index children, and the git history of the references the policies look at.
//!
//! Every listed tag's digest comes from the registry: from the driver's native listing where
//! it has one, else one manifest read per tag (a HEAD; a publish record's GET, which gives
//! its digest too). Two shortcuts were weighed for registries without digests in their tag
//! list (distribution) and left out:
//! - *Digests predicted from publish records* (a record names the manifest it published and
//!   its tags). A cleanup that deletes must read every kept tag (its digest protects index
//!   children, referrers and stages) and every deleted one (the executor re-checks it), so
//!   predictions save requests in a `--dry-run` only, and there a plan could show a deletion
//!   of a tag that has moved since. It would make the dry-run benchmark faster than any real
//!   cleanup, at the cost of a second digest source in the code that decides deletions.
//! - *No digest for tags no policy can delete* (kept by name or pattern). A kept tag's
//!   digest is what protects the children of an index it points at and the referrers of its
//!   image, so not reading it could let those go.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};

use super::history::{History, HistoryError};
use super::plan::{Broken, TagKind};
use super::policy::{Record, ReferenceHistory, Tag};
use crate::config::{KeepPolicy, Project};
use crate::drivers::{Digests, Driver, DriverError, TagListing};
use crate::naming::{self, Layout};
use crate::publish::meta;
use crate::registry::{ManifestContent, Repository, parse_manifest};
use crate::spec::digest::Digest;
use crate::spec::manifest::{is_image_manifest, is_index};
use crate::store::{Backend, StoreError};

/// How many manifest reads run at once.
const READ_CONCURRENCY: usize = 16;
/// Walks stop after this many commits per reference.
const MAX_WALK: usize = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("listing {repository}: {source}")]
    List { repository: String, source: Box<DriverError> },
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// The repositories a project's images, stages and records live in.
pub fn repositories(project: &Project, base: &Repository, layout: Layout) -> Result<Vec<(Repository, bool)>, String> {
    let mut out: Vec<(Repository, bool)> = Vec::new();
    let mut push = |r: Repository, stages: bool| {
        if !out.iter().any(|(o, _)| *o == r) {
            out.push((r, stages));
        }
    };
    for image in &project.images {
        match (layout, &image.name) {
            (Layout::Multirepo, Some(name)) => push(base.join(name).map_err(|e| e.to_string())?, false),
            _ => push(base.clone(), false),
        }
    }
    if layout == Layout::Multirepo {
        push(base.join(naming::STAGES_REPO).map_err(|e| e.to_string())?, true);
    }
    Ok(out)
}

/// The repository holding the stages of a stages storage `base` kept apart from the images,
/// and whether its tags are bare digests (multirepo's `wharf-stages`).
pub fn stage_repository(base: &Repository, layout: Layout) -> Result<(Repository, bool), String> {
    match naming::stage_place(layout, "").0 {
        Some(suffix) => Ok((base.join(&suffix).map_err(|e| e.to_string())?, true)),
        None => Ok((base.clone(), false)),
    }
}

/// A listed publish record whose digest is not known yet: [`records`] reads it by tag.
#[derive(Debug, Clone)]
pub struct Deferred {
    pub repository: String,
    pub tag: String,
}

/// Every tag of `repos`, classified; the tags whose manifest cannot be read; and publish
/// records listed without their digest (see [`Digests::Except`]).
pub async fn list(
    driver: &dyn Driver,
    repos: &[(Repository, bool)],
) -> Result<(Vec<Tag>, Vec<Broken>, Vec<Deferred>), InventoryError> {
    let mut tags = Vec::new();
    let mut broken = Vec::new();
    let mut deferred = Vec::new();
    let is_record = |t: &str| naming::parse_meta_tag(t).is_some();
    for (repo, stages_repo) in repos {
        let TagListing { tags: entries, undigested: later, broken: bad } = driver
            .list(repo, Digests::Except(&is_record))
            .await
            .map_err(|source| InventoryError::List { repository: repo.to_string(), source: Box::new(source) })?;
        broken.extend(bad.into_iter().map(|b| Broken { repository: repo.to_string(), tag: b.tag, problem: b.problem }));
        deferred.extend(later.into_iter().map(|tag| Deferred { repository: repo.to_string(), tag }));
        for e in entries {
            let kind = classify(&e.tag, *stages_repo);
            tags.push(Tag { repository: repo.to_string(), tag: e.tag, digest: e.digest, kind });
        }
    }
    Ok((tags, broken, deferred))
}

fn classify(tag: &str, stages_repo: bool) -> TagKind {
    if let Some(stage) = naming::parse_stage_tag(tag, stages_repo) {
        return TagKind::Stage { stage: stage.to_string() };
    }
    if let Some((commit, stage)) = naming::parse_meta_tag(tag) {
        return TagKind::Record { commit: commit.to_string(), stage: stage.to_string() };
    }
    if let Some(subject) = referrer_subject(tag) {
        return TagKind::Referrer { subject };
    }
    TagKind::Image
}

/// `sha256-<hex>` (OCI referrers tag schema) and cosign's `sha256-<hex>.sig|.att|.sbom`.
fn referrer_subject(tag: &str) -> Option<Digest> {
    let rest = tag.strip_prefix("sha256-")?;
    let hex = rest.split_once('.').map(|(h, _)| h).unwrap_or(rest);
    format!("sha256:{hex}").parse().ok()
}

/// Reads every publish record's annotations: those listed with a digest by digest, the
/// deferred ones by tag (added to `tags` with the digest the GET gives, or to `broken` when
/// they cannot be read). A listed record that cannot be read still counts, by its tag name
/// (commit and stage), with the image unknown.
pub async fn records(
    store: &dyn Backend,
    tags: &mut Vec<Tag>,
    broken: &mut Vec<Broken>,
    deferred: Vec<Deferred>,
) -> Vec<Record> {
    let reads = tags.iter().filter_map(|t| match &t.kind {
        TagKind::Record { commit, stage } => Some((t, commit.clone(), stage.clone())),
        _ => None,
    });
    let mut out: Vec<Record> = futures::stream::iter(reads)
        .map(|(t, commit, stage)| async move {
            let annotations = read_annotations(store, &t.repository, t.digest.as_str())
                .await
                .ok()
                .flatten()
                .map(|(a, _)| a)
                .unwrap_or_default();
            record(&t.repository, t.digest.clone(), commit, stage, &annotations)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    let mut read: Vec<(Deferred, Result<Option<Annotated>, StoreError>)> = futures::stream::iter(deferred)
        .map(|d| async move {
            let found = read_annotations(store, &d.repository, &d.tag).await;
            (d, found)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    read.sort_by(|(a, _), (b, _)| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    for (d, found) in read {
        let Some((commit, stage)) = naming::parse_meta_tag(&d.tag).map(|(c, s)| (c.to_string(), s.to_string())) else {
            continue;
        };
        match found {
            Ok(Some((annotations, digest))) => {
                out.push(record(&d.repository, digest.clone(), commit.clone(), stage.clone(), &annotations));
                tags.push(Tag {
                    repository: d.repository,
                    tag: d.tag,
                    digest,
                    kind: TagKind::Record { commit, stage },
                });
            }
            Ok(None) => broken.push(Broken {
                repository: d.repository,
                tag: d.tag,
                problem: "listed, but its manifest is missing".into(),
            }),
            Err(e) => broken.push(Broken { repository: d.repository, tag: d.tag, problem: e.to_string() }),
        }
    }
    out
}

fn record(
    repository: &str,
    digest: Digest,
    commit: String,
    stage: String,
    annotations: &HashMap<String, String>,
) -> Record {
    Record {
        digest,
        image: annotations.get(meta::ANNOTATION_IMAGE).cloned().unwrap_or_else(|| repository.to_string()),
        commit,
        stage,
        manifest: annotations.get(meta::ANNOTATION_MANIFEST).and_then(|d| d.parse().ok()),
        created: annotations
            .get(meta::ANNOTATION_CREATED)
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc)),
    }
}

/// A manifest's annotations and its digest.
type Annotated = (HashMap<String, String>, Digest);

/// The annotations of the manifest `reference` (a tag or digest) in `repository`, and its
/// digest; `None` when there is no such manifest.
async fn read_annotations(
    store: &dyn Backend,
    repository: &str,
    reference: &str,
) -> Result<Option<Annotated>, StoreError> {
    let repo = store.repository(repository)?;
    let Some((bytes, _, digest)) = store.open(&repo)?.manifest(reference).await? else { return Ok(None) };
    #[derive(serde::Deserialize)]
    struct WithAnnotations {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    Ok(Some((serde_json::from_slice::<WithAnnotations>(&bytes).map(|w| w.annotations).unwrap_or_default(), digest)))
}

/// What the manifests of image digests wharf did not build say.
#[derive(Debug, Default)]
pub struct Manifests {
    /// Push times (from records, else the store's or the config's time).
    pub pushed_at: HashMap<Digest, DateTime<Utc>>,
    /// Index children.
    pub children: HashMap<Digest, Vec<Digest>>,
    /// Throwaway manifests a tag was left on by an interrupted untag (a killed run).
    pub throwaways: HashSet<Digest>,
    /// The artifact type of each artifact.
    pub artifact_types: HashMap<Digest, String>,
}

/// Push times (from records) and, for image digests wharf did not build, what their
/// manifests say: index children, the config's creation time, and whether it is a throwaway.
pub async fn manifests(store: &dyn Backend, tags: &[Tag], records: &[Record]) -> Manifests {
    let mut pushed: HashMap<Digest, DateTime<Utc>> = HashMap::new();
    let mut known: HashSet<Digest> = HashSet::new();
    for r in records {
        if let Some(t) = r.created {
            pushed.insert(r.digest.clone(), t);
            if let Some(m) = &r.manifest {
                let e = pushed.entry(m.clone()).or_insert(t);
                *e = (*e).max(t);
            }
        }
        if let Some(m) = &r.manifest {
            known.insert(m.clone());
        }
    }
    known.extend(tags.iter().filter(|t| matches!(t.kind, TagKind::Stage { .. })).map(|t| t.digest.clone()));
    let mut seen = HashSet::new();
    let mut unknown: Vec<&Tag> = tags
        .iter()
        .filter(|t| t.kind == TagKind::Image && !known.contains(&t.digest) && seen.insert(t.digest.clone()))
        .collect();
    // A multi-platform image's stage is an index over its platforms' stages, which no record
    // names: when there are such stages, the stages records name are read for their children.
    let recorded: HashSet<&str> = records.iter().map(|r| r.stage.as_str()).collect();
    fn stage_of(t: &Tag) -> Option<&str> {
        match &t.kind {
            TagKind::Stage { stage } => Some(stage.as_str()),
            _ => None,
        }
    }
    if tags.iter().filter_map(stage_of).any(|s| !recorded.contains(s)) {
        unknown.extend(
            tags.iter().filter(|t| stage_of(t).is_some_and(|s| recorded.contains(s)) && seen.insert(t.digest.clone())),
        );
    }
    let read: Vec<(Digest, Inspected)> = futures::stream::iter(unknown)
        .map(|t| async move { (t.digest.clone(), inspect(store, t).await.unwrap_or_default()) })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    let mut out = Manifests { pushed_at: pushed, ..Manifests::default() };
    for (d, Inspected { created, children, throwaway, artifact_type }) in read {
        if let Some(c) = created {
            out.pushed_at.entry(d.clone()).or_insert(c);
        }
        if let Some(t) = artifact_type {
            out.artifact_types.insert(d.clone(), t);
        }
        if throwaway {
            out.throwaways.insert(d.clone());
        }
        if !children.is_empty() {
            out.children.insert(d, children);
        }
    }
    out
}

#[derive(Default)]
struct Inspected {
    created: Option<DateTime<Utc>>,
    children: Vec<Digest>,
    throwaway: bool,
    artifact_type: Option<String>,
}

async fn inspect(store: &dyn Backend, t: &Tag) -> Result<Inspected, StoreError> {
    let repo = store.repository(&t.repository)?;
    let store = store.open(&repo)?;
    // A dangling tag (see `tagged_manifest`) must still be recognised, e.g. as a throwaway.
    let Some((bytes, media_type, _)) = crate::store::tagged_manifest(store.as_ref(), &t.tag, &t.digest).await? else {
        return Ok(Inspected::default());
    };
    if crate::drivers::is_throwaway(&bytes) {
        return Ok(Inspected { throwaway: true, ..Inspected::default() });
    }
    // The manifest's own creation time (oras and `wharf push` set it), else when the store
    // got it, else the image config's.
    let mut created = match annotated_created(&bytes) {
        Some(c) => Some(c),
        None => store.stored_at(&t.digest).await,
    };
    let artifact_type = crate::spec::manifest::artifact_type(&bytes);
    match parse_manifest(&bytes, &media_type) {
        Ok(ManifestContent::Index { manifests }) => {
            let children = manifests
                .into_iter()
                .filter(|m| is_index(&m.media_type) || is_image_manifest(&m.media_type))
                .map(|m| m.digest)
                .collect();
            Ok(Inspected { children, created, artifact_type, ..Inspected::default() })
        }
        Ok(ManifestContent::Image { config, .. }) => {
            // An image-spec 1.0-style artifact (a Helm chart) is typed by its config.
            let artifact_type =
                artifact_type.or_else(|| (!is_image_config(&config.media_type)).then(|| config.media_type.clone()));
            if created.is_none() && config.media_type != crate::spec::manifest::OCI_EMPTY {
                let blob = store.blob_bytes(&config.digest, 4 << 20).await?;
                #[derive(serde::Deserialize)]
                struct Created {
                    created: Option<DateTime<Utc>>,
                }
                created = serde_json::from_slice::<Created>(&blob).ok().and_then(|c| c.created);
            }
            Ok(Inspected { created, artifact_type, ..Inspected::default() })
        }
        Err(_) => Ok(Inspected { created, artifact_type, ..Inspected::default() }),
    }
}

/// Whether a config media type is an image's (or the empty config, which says nothing).
fn is_image_config(media_type: &str) -> bool {
    use crate::spec::manifest::{DOCKER_CONFIG, OCI_CONFIG, OCI_EMPTY};
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG | OCI_EMPTY)
}

/// `org.opencontainers.image.created` of a manifest or index, when it is a valid RFC 3339 time.
fn annotated_created(manifest: &[u8]) -> Option<DateTime<Utc>> {
    #[derive(serde::Deserialize)]
    struct WithAnnotations {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    let a = serde_json::from_slice::<WithAnnotations>(manifest).ok()?.annotations;
    DateTime::parse_from_rfc3339(a.get(meta::ANNOTATION_CREATED)?).ok().map(|c| c.with_timezone(&Utc))
}

/// For each reference a policy looks at, the commits reachable from it that have records.
pub fn history(
    history: &History,
    policies: &[KeepPolicy],
    records: &[Record],
) -> Result<ReferenceHistory, InventoryError> {
    let recorded: HashSet<&str> = records.iter().map(|r| r.commit.as_str()).collect();
    let mut out = Vec::new();
    for reference in history.references()? {
        let wanted = policies
            .iter()
            .any(|p| p.references.kind == reference.kind && p.references.pattern.matches(&reference.name));
        if !wanted {
            continue;
        }
        let mut commits = Vec::new();
        let mut walked = 0;
        history.walk(&reference.tip, |c| {
            walked += 1;
            if recorded.contains(c.id.as_str()) {
                commits.push(c.clone());
            }
            walked < MAX_WALK && commits.len() < recorded.len()
        })?;
        out.push((reference, commits));
    }
    Ok(out)
}

impl InventoryError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            InventoryError::List { source, .. } => source.category(),
            InventoryError::History(_) => crate::error::Category::Usage,
        }
    }
}
