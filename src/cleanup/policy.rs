//! Deciding, purely: given every tag, every publish record, what git says and the options,
//! which tags stay and which go, each with its reason. No I/O here; the tests drive it with
//! plain values.

use chrono::{DateTime, Utc};
use globset::GlobMatcher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use super::history::{Commit, Reference};
use super::plan::{Action, Entry, TagKind};
use crate::config::{KeepPolicy, Limit, Operator, RefKind};
use crate::spec::digest::Digest;

/// A listed tag, classified.
#[derive(Debug, Clone)]
pub struct Tag {
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
    pub kind: TagKind,
}

/// A publish record, read from its annotations.
#[derive(Debug, Clone)]
pub struct Record {
    /// Digest of the record itself.
    pub digest: Digest,
    pub image: String,
    pub commit: String,
    pub stage: String,
    pub manifest: Option<Digest>,
    pub created: Option<DateTime<Utc>>,
}

/// Per reference, the commits reachable from it that have publish records, newest first.
pub type ReferenceHistory = Vec<(Reference, Vec<Commit>)>;

/// How images are chosen to stay.
#[derive(Debug, Clone)]
pub enum Mode {
    /// werf's keep policies over git history. `history` holds, per reference, the commits
    /// reachable from it that have publish records, newest first.
    Git { policies: Vec<KeepPolicy>, history: ReferenceHistory },
    /// No git: the newest N stages per image and/or those published within a period.
    Simple { keep_last: Option<usize>, keep_within: Option<Duration> },
    /// Everything of the project goes.
    Purge,
}

pub struct Options {
    pub mode: Mode,
    pub keep: Vec<(String, GlobMatcher)>,
    /// `--artifact-type`: only artifacts of this type are candidates; everything else stays.
    pub artifact_type: Option<String>,
    pub fresh_window: Option<Duration>,
    pub include_unknown: bool,
    pub now: DateTime<Utc>,
}

pub struct Inputs<'a> {
    pub tags: &'a [Tag],
    pub records: &'a [Record],
    /// When each manifest digest was pushed, where known (records, image configs).
    pub pushed_at: &'a HashMap<Digest, DateTime<Utc>>,
    /// Children of index manifests among the listed digests.
    pub children: &'a HashMap<Digest, Vec<Digest>>,
    /// Throwaway manifests an interrupted untag left tags on: those tags go.
    pub throwaways: &'a HashSet<Digest>,
    /// The artifact type of each artifact among the listed digests (its `artifactType`, or
    /// the config media type of an image-spec 1.0-style artifact such as a Helm chart).
    pub artifact_types: &'a HashMap<Digest, String>,
}

fn within(now: DateTime<Utc>, t: DateTime<Utc>, d: Duration) -> bool {
    chrono::Duration::from_std(d).is_ok_and(|d| now - t <= d)
}

/// Whether item `index` (0 = newest) at `time` passes `limit`.
fn passes(limit: Option<&Limit>, index: usize, time: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let Some(l) = limit else { return true };
    let by_count = l.last.map(|n| (index as u64) < n);
    let by_time = l.within.map(|d| within(now, time, d));
    match (by_count, by_time, l.operator) {
        (None, None, _) => true,
        (Some(c), None, _) => c,
        (None, Some(t), _) => t,
        (Some(c), Some(t), Operator::And) => c && t,
        (Some(c), Some(t), Operator::Or) => c || t,
    }
}

/// Stages kept by git keep policies, each with the first policy that keeps it.
fn git_kept(
    policies: &[KeepPolicy],
    history: &[(Reference, Vec<Commit>)],
    records: &[Record],
    now: DateTime<Utc>,
) -> BTreeMap<String, String> {
    let mut by_commit: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in records {
        by_commit.entry(r.commit.as_str()).or_default().push(r);
    }
    let mut kept = BTreeMap::new();
    for (i, policy) in policies.iter().enumerate() {
        let refs: Vec<&(Reference, Vec<Commit>)> = history
            .iter()
            .filter(|(r, _)| r.kind == policy.references.kind && policy.references.pattern.matches(&r.name))
            .collect();
        for (k, (reference, commits)) in refs.iter().enumerate() {
            if !passes(policy.references.limit.as_ref(), k, reference.time, now) {
                continue;
            }
            let mut per_image: BTreeMap<&str, Vec<(&str, DateTime<Utc>)>> = BTreeMap::new();
            for c in commits {
                for r in by_commit.get(c.id.as_str()).into_iter().flatten() {
                    let seen = per_image.entry(r.image.as_str()).or_default();
                    if !seen.iter().any(|(s, _)| *s == r.stage) {
                        seen.push((r.stage.as_str(), c.time));
                    }
                }
            }
            let kind = if reference.kind == RefKind::Branch { "branch" } else { "tag" };
            for stages in per_image.values() {
                for (n, (stage, time)) in stages.iter().enumerate() {
                    if passes(policy.images_per_reference.as_ref(), n, *time, now) {
                        kept.entry(stage.to_string())
                            .or_insert_with(|| format!("policy {}: {kind} {}", i + 1, reference.name));
                    }
                }
            }
        }
    }
    kept
}

/// Ranks `items` (each with its push time, where known) for `--keep-last` / `--keep-within`
/// and returns why each kept one stays; the rest go. Honest by construction:
/// - the newest `keep_last` by time stay, and so does everything tied with the last of them
///   (a tie is never broken by digest or name);
/// - an item whose time is unknown stays (when there is a rule to rank by) and never takes
///   the place of a dated one;
/// - so nothing that goes is newer than anything dated that stays.
fn rank<K: Ord + Clone>(
    items: Vec<(K, Option<DateTime<Utc>>)>,
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
    now: DateTime<Utc>,
    what: &str,
) -> BTreeMap<K, String> {
    let mut kept = BTreeMap::new();
    if keep_last.is_none() && keep_within.is_none() {
        return kept;
    }
    let mut dated: Vec<(K, DateTime<Utc>)> = Vec::new();
    for (k, t) in items {
        match t {
            Some(t) => dated.push((k, t)),
            None => {
                kept.insert(k, "push time unknown: kept, never ranked".to_string());
            }
        }
    }
    dated.sort_by_key(|d| std::cmp::Reverse(d.1));
    // The time of the last one --keep-last keeps; ties with it stay too.
    let cutoff =
        keep_last.filter(|n| *n > 0).and_then(|n| dated.get(n.min(dated.len()).saturating_sub(1)).map(|d| d.1));
    for (k, t) in dated {
        if let Some(n) = keep_last.filter(|_| cutoff.is_some_and(|c| t >= c)) {
            kept.insert(k, format!("one of the last {n} {what}"));
        } else if keep_within.is_some_and(|d| within(now, t, d)) {
            kept.insert(k, "published within --keep-within".to_string());
        }
    }
    kept
}

/// Stages kept by `--keep-last` / `--keep-within`: each image's stages ranked by their newest
/// publish record.
fn simple_kept(
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
    records: &[Record],
    now: DateTime<Utc>,
) -> BTreeMap<String, String> {
    let mut per_image: BTreeMap<&str, BTreeMap<&str, Option<DateTime<Utc>>>> = BTreeMap::new();
    for r in records {
        let newest = per_image.entry(r.image.as_str()).or_default().entry(r.stage.as_str()).or_insert(r.created);
        // An unknown time on any record of the stage leaves it unranked (kept).
        *newest = newest.zip(r.created).map(|(a, b)| a.max(b));
    }
    let mut kept = BTreeMap::new();
    for (image, stages) in per_image {
        let what = format!("of {image}");
        for (stage, why) in rank(stages.into_iter().collect(), keep_last, keep_within, now, &what) {
            kept.insert(stage.to_string(), why);
        }
    }
    kept
}

/// Whether `digest` is one of what `--artifact-type` selects (everything, without it).
fn selected(inputs: &Inputs<'_>, opts: &Options, digest: &Digest) -> bool {
    opts.artifact_type.as_ref().is_none_or(|want| inputs.artifact_types.get(digest) == Some(want))
}

/// Simple mode for images without a publish record (pushed by `wharf push` or another
/// tool): each repository's record-less images ranked by push time (see [`rank`]), kept by
/// the same `--keep-last` / `--keep-within`.
fn simple_kept_unknown(
    inputs: &Inputs<'_>,
    opts: &Options,
    stage_of: &HashMap<Digest, &str>,
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
) -> HashMap<Digest, String> {
    let mut per_repo: BTreeMap<&str, BTreeMap<&Digest, Option<DateTime<Utc>>>> = BTreeMap::new();
    let ranked = |t: &&Tag| {
        t.kind == TagKind::Image
            && !stage_of.contains_key(&t.digest)
            && !inputs.throwaways.contains(&t.digest)
            && selected(inputs, opts, &t.digest)
    };
    for t in inputs.tags.iter().filter(ranked) {
        per_repo.entry(t.repository.as_str()).or_default().insert(&t.digest, inputs.pushed_at.get(&t.digest).copied());
    }
    let mut kept = HashMap::new();
    for (repo, digests) in per_repo {
        let what = match &opts.artifact_type {
            Some(t) => format!("artifacts of type {t} in {repo}"),
            None => format!("images of {repo}"),
        };
        for (digest, why) in rank(digests.into_iter().collect(), keep_last, keep_within, opts.now, &what) {
            kept.insert(digest.clone(), why);
        }
    }
    kept
}

/// The plan's entries: one per tag.
pub fn decide(inputs: &Inputs<'_>, opts: &Options) -> Vec<Entry> {
    let kept_stages = match &opts.mode {
        Mode::Git { policies, history } => git_kept(policies, history, inputs.records, opts.now),
        Mode::Simple { keep_last, keep_within } => simple_kept(*keep_last, *keep_within, inputs.records, opts.now),
        Mode::Purge => BTreeMap::new(),
    };
    let purge = matches!(opts.mode, Mode::Purge);
    // What follows the image tags (children, stages, records, referrers) goes with --purge
    // only when every image goes: with --artifact-type the images not selected stay.
    let purge_all = purge && opts.artifact_type.is_none();
    let stage_of = stage_index(inputs);
    let unknown_kept = match &opts.mode {
        Mode::Simple { keep_last, keep_within } => {
            Some(simple_kept_unknown(inputs, opts, &stage_of, *keep_last, *keep_within))
        }
        _ => None,
    };
    let fresh =
        |d: &Digest| opts.fresh_window.zip(inputs.pushed_at.get(d)).is_some_and(|(w, t)| within(opts.now, *t, w));

    // First image tags: they decide which stages stay alive.
    let mut decisions: Vec<Option<(Action, String)>> = vec![None; inputs.tags.len()];
    let mut alive: BTreeSet<String> = kept_stages.keys().cloned().collect();
    let mut kept_digests: BTreeSet<Digest> = BTreeSet::new();
    for (i, t) in inputs.tags.iter().enumerate() {
        if t.kind != TagKind::Image {
            continue;
        }
        let stage = stage_of.get(&t.digest);
        let decision = if let Some((pattern, _)) = opts.keep.iter().find(|(_, g)| g.is_match(&t.tag)) {
            (Action::Keep, format!("matches --keep {pattern}"))
        } else if let Some(want) = opts.artifact_type.as_ref().filter(|_| !selected(inputs, opts, &t.digest)) {
            (Action::Keep, format!("not an artifact of type {want} (--artifact-type)"))
        } else if purge {
            (Action::Delete, "--purge".into())
        } else if inputs.throwaways.contains(&t.digest) {
            (Action::Delete, "left on a throwaway manifest by an interrupted untag (a run was killed)".into())
        } else if fresh(&t.digest) {
            (Action::Keep, "pushed within the fresh window".into())
        } else {
            match stage.map(|s| (s, kept_stages.get(*s))) {
                Some((_, Some(reason))) => (Action::Keep, reason.clone()),
                Some((_, None)) => (Action::Delete, "no keep policy keeps its stage".into()),
                None => match unknown_kept.as_ref().map(|k| k.get(&t.digest)) {
                    Some(Some(reason)) => (Action::Keep, format!("{reason} (no publish record)")),
                    Some(None) if opts.include_unknown => {
                        (Action::Delete, "no publish record, older than what --keep-last / --keep-within keep".into())
                    }
                    _ if opts.include_unknown => (Action::Delete, "no publish record (--include-unknown)".into()),
                    _ => (Action::Keep, "no publish record: kept (use --include-unknown to delete)".into()),
                },
            }
        };
        if decision.0 == Action::Keep {
            kept_digests.insert(t.digest.clone());
            if let Some(s) = stage {
                alive.insert(s.to_string());
            }
        }
        decisions[i] = Some(decision);
    }
    // Children of kept indexes stay, and so do the tags on them.
    let mut protected: BTreeMap<Digest, Digest> = BTreeMap::new();
    for d in &kept_digests {
        for c in inputs.children.get(d).into_iter().flatten() {
            protected.insert(c.clone(), d.clone());
        }
    }
    for (i, t) in inputs.tags.iter().enumerate() {
        if let (Some((Action::Delete, _)), Some(parent)) = (&decisions[i], protected.get(&t.digest))
            && !purge_all
        {
            decisions[i] = Some((Action::Keep, format!("child of kept index {parent}")));
            kept_digests.insert(t.digest.clone());
        }
    }
    // A kept multi-platform stage (an index) keeps its platforms' stages.
    let platform_stages: BTreeMap<Digest, &str> = inputs
        .tags
        .iter()
        .filter_map(|t| match &t.kind {
            TagKind::Stage { stage } if alive.contains(stage) => Some((t, stage.as_str())),
            _ => None,
        })
        .flat_map(|(t, stage)| inputs.children.get(&t.digest).into_iter().flatten().map(move |c| (c.clone(), stage)))
        .collect();
    // Then stages, records and referrers follow what stays.
    for (i, t) in inputs.tags.iter().enumerate() {
        if decisions[i].is_some() {
            continue;
        }
        let keep_glob = opts.keep.iter().find(|(_, g)| g.is_match(&t.tag)).map(|(p, _)| format!("matches --keep {p}"));
        let decision = match (&t.kind, keep_glob) {
            (_, Some(reason)) => (Action::Keep, reason),
            (_, None) if purge_all => (Action::Delete, "--purge".into()),
            (TagKind::Stage { stage }, None) if alive.contains(stage) => (Action::Keep, "stage of a kept image".into()),
            (TagKind::Stage { .. }, None) if platform_stages.contains_key(&t.digest) => {
                (Action::Keep, format!("platform stage of kept multi-platform stage {}", platform_stages[&t.digest]))
            }
            (TagKind::Stage { .. }, None) if fresh(&t.digest) => {
                (Action::Keep, "pushed within the fresh window".into())
            }
            (TagKind::Stage { .. }, None) => (Action::Delete, "no kept image uses this stage".into()),
            (TagKind::Record { stage, .. }, None) if alive.contains(stage) => {
                (Action::Keep, "record of a kept stage".into())
            }
            (TagKind::Record { .. }, None) if fresh(&t.digest) => {
                (Action::Keep, "written within the fresh window".into())
            }
            (TagKind::Record { .. }, None) => (Action::Delete, "its stage is deleted".into()),
            (TagKind::Referrer { subject }, None)
                if kept_digests.contains(subject) || !inputs.tags.iter().any(|o| &o.digest == subject) =>
            {
                (Action::Keep, format!("refers to {subject}, which stays"))
            }
            (TagKind::Referrer { subject }, None) => (Action::Delete, format!("refers to {subject}, which is deleted")),
            // Image tags were all decided in the first pass and skipped above.
            (TagKind::Image, None) => continue,
        };
        decisions[i] = Some(decision);
    }
    inputs
        .tags
        .iter()
        .zip(decisions)
        .map(|(t, d)| {
            let (action, reason) = d.unwrap_or((Action::Keep, "undecided".into()));
            Entry {
                repository: t.repository.clone(),
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                kind: t.kind.clone(),
                action,
                reason,
            }
        })
        .collect()
}

/// Manifest digest → stage digest, from stage tags and records.
fn stage_index<'a>(inputs: &'a Inputs<'a>) -> HashMap<Digest, &'a str> {
    let mut map = HashMap::new();
    for t in inputs.tags {
        if let TagKind::Stage { stage } = &t.kind {
            map.insert(t.digest.clone(), stage.as_str());
        }
    }
    for r in inputs.records {
        if let Some(m) = &r.manifest {
            map.entry(m.clone()).or_insert(r.stage.as_str());
        }
    }
    map
}
