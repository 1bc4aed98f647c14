//! Decision tests: plain values in, a plan out. Each pins a behaviour a user relies on.

use chrono::{Duration as CDuration, TimeZone, Utc};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::history::{Commit, Reference};
use super::plan::{Action, Entry, TagKind};
use super::policy::{Inputs, Mode, Options, Record, ReferenceHistory, Tag, decide};
use crate::config::{KeepPolicy, Limit, Operator, RefKind, RefPattern, References};
use crate::spec::digest::Digest;

fn d(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}
fn hex(s: &str) -> String {
    d(s).hex().to_string()
}
fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}
fn image(tag: &str, digest: &str) -> Tag {
    Tag { repository: "r/app".into(), tag: tag.into(), digest: d(digest), kind: TagKind::Image }
}
fn stage(s: &str) -> Tag {
    Tag { repository: "r/wharf-stages".into(), tag: hex(s), digest: d(s), kind: TagKind::Stage { stage: hex(s) } }
}
fn record(image: &str, commit: &str, s: &str, days_ago: i64) -> Record {
    Record {
        digest: d(&format!("record {commit} {s}")),
        image: image.into(),
        commit: commit.into(),
        stage: hex(s),
        manifest: Some(d(s)),
        created: Some(now() - CDuration::days(days_ago)),
    }
}
fn commit(id: &str, days_ago: i64) -> Commit {
    Commit { id: id.into(), time: now() - CDuration::days(days_ago) }
}
fn branch(name: &str, days_ago: i64) -> Reference {
    Reference { kind: RefKind::Branch, name: name.into(), tip: String::new(), time: now() - CDuration::days(days_ago) }
}
fn policy(kind: RefKind, pattern: &str, last: Option<u64>, within_days: Option<u64>, op: Operator) -> KeepPolicy {
    KeepPolicy {
        references: References { kind, pattern: RefPattern::parse(pattern).unwrap(), limit: None },
        images_per_reference: Some(Limit {
            last,
            within: within_days.map(|n| Duration::from_secs(n * 86400)),
            operator: op,
        }),
    }
}
fn opts(mode: Mode) -> Options {
    Options { mode, keep: vec![], artifact_type: None, fresh_window: None, include_unknown: false, now: now() }
}
fn run(tags: &[Tag], records: &[Record], o: &Options) -> Vec<Entry> {
    decide(
        &Inputs {
            tags,
            records,
            pushed_at: &HashMap::new(),
            children: &HashMap::new(),
            throwaways: &HashSet::new(),
            artifact_types: &HashMap::new(),
        },
        o,
    )
}
fn action(plan: &[Entry], tag: &str) -> Action {
    plan.iter().find(|e| e.tag == tag).unwrap_or_else(|| panic!("no {tag} in plan")).action
}

/// main has c3 → c2 → c1, each published with its own stage s3, s2, s1.
fn main_history() -> (Vec<Tag>, Vec<Record>, ReferenceHistory) {
    let tags = vec![image("c1", "s1"), image("c2", "s2"), image("c3", "s3"), stage("s1"), stage("s2"), stage("s3")];
    let records = vec![record("app", "c1", "s1", 30), record("app", "c2", "s2", 10), record("app", "c3", "s3", 1)];
    let history = vec![(branch("main", 1), vec![commit("c3", 1), commit("c2", 10), commit("c1", 30)])];
    (tags, records, history)
}

#[test]
fn last_n_images_per_reference() {
    let (tags, records, history) = main_history();
    let p = policy(RefKind::Branch, "main", Some(2), None, Operator::And);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![p], history }));
    assert_eq!(action(&plan, "c3"), Action::Keep);
    assert_eq!(action(&plan, "c2"), Action::Keep);
    assert_eq!(action(&plan, "c1"), Action::Delete);
    assert_eq!(action(&plan, &hex("s1")), Action::Delete, "the stage of a deleted image goes");
    assert_eq!(action(&plan, &hex("s2")), Action::Keep);
    assert!(plan.iter().find(|e| e.tag == "c3").unwrap().reason.contains("policy 1: branch main"));
}

#[test]
fn last_and_in_combine_with_and_or() {
    let (tags, records, history) = main_history();
    let and = policy(RefKind::Branch, "main", Some(3), Some(5), Operator::And);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![and], history: history.clone() }));
    assert_eq!(
        (action(&plan, "c3"), action(&plan, "c2")),
        (Action::Keep, Action::Delete),
        "And: in the last 3 *and* within 5 days"
    );
    let or = policy(RefKind::Branch, "main", Some(1), Some(15), Operator::Or);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![or], history }));
    assert_eq!(
        (action(&plan, "c3"), action(&plan, "c2"), action(&plan, "c1")),
        (Action::Keep, Action::Keep, Action::Delete),
        "Or: the last 1 *or* within 15 days"
    );
}

#[test]
fn references_the_policy_does_not_match_keep_nothing() {
    let (tags, records, history) = main_history();
    let p = policy(RefKind::Branch, "/release-.*/", None, None, Operator::And);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![p], history }));
    assert!(plan.iter().filter(|e| e.kind == TagKind::Image).all(|e| e.action == Action::Delete));
}

#[test]
fn a_tag_sharing_a_digest_with_a_kept_tag_is_decided_with_it_unless_kept_by_name() {
    let (mut tags, records, history) = main_history();
    tags.push(image("latest", "s1"));
    tags.push(image("release-1", "s1"));
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let mut o = opts(Mode::Git { policies: vec![p], history });
    o.keep = vec![("release-*".into(), globset::Glob::new("release-*").unwrap().compile_matcher())];
    let plan = run(&tags, &records, &o);
    assert_eq!(action(&plan, "release-1"), Action::Keep);
    assert_eq!(action(&plan, "latest"), Action::Delete);
    assert_eq!(action(&plan, &hex("s1")), Action::Keep, "release-1 keeps s1 alive");
}

#[test]
fn monorepo_look_alike_prefixes_are_told_apart_by_digest() {
    // One repository: `app-api-1` belongs to image app-api (kept), `app-1` to app (not kept).
    let tags = vec![image("app-api-1", "api"), image("app-1", "app"), stage("api"), stage("app")];
    let records = vec![record("app-api", "c1", "api", 1), record("app", "c0", "app", 20)];
    let history = vec![(branch("main", 1), vec![commit("c1", 1)])];
    let p = policy(RefKind::Branch, "main", None, None, Operator::And);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![p], history }));
    assert_eq!(action(&plan, "app-api-1"), Action::Keep);
    assert_eq!(action(&plan, "app-1"), Action::Delete);
}

#[test]
fn fresh_window_unknown_images_and_include_unknown() {
    let (mut tags, records, history) = main_history();
    tags.push(image("external", "not built by wharf"));
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let mut o = opts(Mode::Git { policies: vec![p.clone()], history: history.clone() });
    o.fresh_window = Some(Duration::from_secs(15 * 86400));
    let pushed: HashMap<Digest, _> =
        records.iter().map(|r| (r.manifest.clone().unwrap(), r.created.unwrap())).collect();
    let plan = decide(
        &Inputs {
            tags: &tags,
            records: &records,
            pushed_at: &pushed,
            children: &HashMap::new(),
            throwaways: &HashSet::new(),
            artifact_types: &HashMap::new(),
        },
        &o,
    );
    assert_eq!(action(&plan, "c2"), Action::Keep, "pushed 10 days ago, within the 15-day window");
    assert_eq!(action(&plan, "c1"), Action::Delete);
    assert_eq!(action(&plan, "external"), Action::Keep, "no record: kept by default");
    let mut o = opts(Mode::Git { policies: vec![p], history });
    o.include_unknown = true;
    assert_eq!(action(&run(&tags, &records, &o), "external"), Action::Delete);
}

/// Regression (a cleanup SIGKILLed between the two steps of an untag): the tag was left on a
/// throwaway manifest, which has no record; it must go, not stay as an unknown image.
#[test]
fn tags_left_on_a_throwaway_manifest_are_deleted_unless_kept_by_pattern() {
    let (mut tags, records, history) = main_history();
    tags.push(image("interrupted", "throwaway"));
    tags.push(image("release-1", "throwaway2"));
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let mut o = opts(Mode::Git { policies: vec![p], history });
    o.keep = vec![("release-*".into(), globset::Glob::new("release-*").unwrap().compile_matcher())];
    let throwaways = HashSet::from([d("throwaway"), d("throwaway2")]);
    let plan = decide(
        &Inputs {
            tags: &tags,
            records: &records,
            pushed_at: &HashMap::new(),
            children: &HashMap::new(),
            throwaways: &throwaways,
            artifact_types: &HashMap::new(),
        },
        &o,
    );
    assert_eq!(action(&plan, "interrupted"), Action::Delete);
    assert_eq!(action(&plan, "release-1"), Action::Keep, "--keep still wins");
    assert_eq!(action(&plan, "c3"), Action::Keep);
}

#[test]
fn children_of_a_kept_index_and_referrers_of_kept_images_stay() {
    let (mut tags, records, history) = main_history();
    tags.push(image("multiarch", "index"));
    tags.push(image("arm64-only", "child"));
    tags.push(Tag {
        repository: "r/app".into(),
        tag: format!("sha256-{}.sig", d("s3").hex()),
        digest: d("sig3"),
        kind: TagKind::Referrer { subject: d("s3") },
    });
    tags.push(Tag {
        repository: "r/app".into(),
        tag: format!("sha256-{}.sig", d("s1").hex()),
        digest: d("sig1"),
        kind: TagKind::Referrer { subject: d("s1") },
    });
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let mut o = opts(Mode::Git { policies: vec![p], history });
    o.include_unknown = true;
    o.keep = vec![("multiarch".into(), globset::Glob::new("multiarch").unwrap().compile_matcher())];
    let children = HashMap::from([(d("index"), vec![d("child")])]);
    let plan = decide(
        &Inputs {
            tags: &tags,
            records: &records,
            pushed_at: &HashMap::new(),
            children: &children,
            throwaways: &HashSet::new(),
            artifact_types: &HashMap::new(),
        },
        &o,
    );
    assert_eq!(action(&plan, "multiarch"), Action::Keep);
    assert_eq!(action(&plan, "arm64-only"), Action::Keep, "a child of a kept index is never deleted");
    assert_eq!(action(&plan, &format!("sha256-{}.sig", d("s3").hex())), Action::Keep);
    assert_eq!(action(&plan, &format!("sha256-{}.sig", d("s1").hex())), Action::Delete);
}

#[test]
fn records_follow_their_stage() {
    let (mut tags, records, history) = main_history();
    tags.push(Tag {
        repository: "r/app".into(),
        tag: "rec1".into(),
        digest: d("r1"),
        kind: TagKind::Record { commit: "c1".into(), stage: hex("s1") },
    });
    tags.push(Tag {
        repository: "r/app".into(),
        tag: "rec3".into(),
        digest: d("r3"),
        kind: TagKind::Record { commit: "c3".into(), stage: hex("s3") },
    });
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let plan = run(&tags, &records, &opts(Mode::Git { policies: vec![p], history }));
    assert_eq!(action(&plan, "rec1"), Action::Delete);
    assert_eq!(action(&plan, "rec3"), Action::Keep);
    let deletions = super::plan::Plan {
        version: 1,
        project: "p".into(),
        driver: "default".into(),
        static_root: None,
        policies: vec![],
        entries: plan,
        broken: vec![],
        repository_deletions: vec![],
    };
    let order: Vec<&str> = deletions.ordered_deletions().iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(order.last(), Some(&"rec1"), "records are deleted last: {order:?}");
}

#[test]
fn simple_mode_keeps_the_newest_per_image_and_purge_deletes_all() {
    let (tags, records, _) = main_history();
    let plan = run(
        &tags,
        &records,
        &opts(Mode::Simple { keep_last: Some(1), keep_within: Some(Duration::from_secs(15 * 86400)) }),
    );
    assert_eq!(
        (action(&plan, "c3"), action(&plan, "c2"), action(&plan, "c1")),
        (Action::Keep, Action::Keep, Action::Delete)
    );
    let plan = run(&tags, &records, &opts(Mode::Purge));
    assert!(plan.iter().all(|e| e.action == Action::Delete));
}

/// `wharf push` writes no publish records: `--keep-last N --include-unknown` keeps each
/// repository's N newest record-less images by push time, and only deletes older ones.
#[test]
fn simple_mode_ranks_images_without_records_by_push_time_per_repository() {
    let other = |tag: &str, digest: &str| Tag { repository: "r/other".into(), ..image(tag, digest) };
    let tags = vec![
        image("v1", "p1"),
        image("v2", "p2"),
        image("v2-alias", "p2"),
        image("v3", "p3"),
        other("x1", "o1"),
        image("undated", "p0"),
    ];
    let pushed: HashMap<Digest, _> = [("p1", 30), ("p2", 20), ("p3", 10), ("o1", 40)]
        .into_iter()
        .map(|(p, days)| (d(p), now() - CDuration::days(days)))
        .collect();
    let mut o = opts(Mode::Simple { keep_last: Some(2), keep_within: None });
    let decide_with = |o: &Options| {
        decide(
            &Inputs {
                tags: &tags,
                records: &[],
                pushed_at: &pushed,
                children: &HashMap::new(),
                throwaways: &HashSet::new(),
                artifact_types: &HashMap::new(),
            },
            o,
        )
    };
    let plan = decide_with(&o);
    assert!(plan.iter().all(|e| e.action == Action::Keep), "without --include-unknown nothing record-less goes");
    o.include_unknown = true;
    let plan = decide_with(&o);
    // Issue 11: an unknown push time is kept but never takes a dated image's place (it used
    // to count as newest, and pushed the real newest image out).
    assert_eq!(action(&plan, "undated"), Action::Keep, "an unknown push time is kept");
    assert!(plan.iter().find(|e| e.tag == "undated").unwrap().reason.contains("unknown"));
    assert_eq!(action(&plan, "v3"), Action::Keep);
    assert_eq!(action(&plan, "v2"), Action::Keep, "second newest dated image of r/app");
    assert_eq!(action(&plan, "v2-alias"), Action::Keep, "decided with its digest");
    assert_eq!(action(&plan, "v1"), Action::Delete, "third newest of r/app");
    assert_eq!(action(&plan, "x1"), Action::Keep, "ranked within its own repository");
    assert!(plan.iter().find(|e| e.tag == "v3").unwrap().reason.contains("last 2 images of r/app"));
}

/// `--artifact-type T`: only artifacts of type T are candidates, ranked among themselves
/// (`--keep-last` counts T's artifacts, not the repository's images); images, artifacts of
/// other types and the referrers of what stays are kept with a reason.
#[test]
fn artifact_type_selects_the_artifacts_of_one_type_and_keeps_the_rest() {
    const SBOM: &str = "application/spdx+json";
    const PACK: &str = "application/vnd.sherpack.pack.v1";
    // Newest first: an image, then packs and SBOMs interleaved.
    let tags = vec![
        image("img", "i1"),
        image("pack-3", "k3"),
        image("sbom-2", "b2"),
        image("pack-2", "k2"),
        image("sbom-1", "b1"),
        image("pack-1", "k1"),
    ];
    let referrer = Tag {
        repository: "r/app".into(),
        tag: format!("sha256-{}", hex("k1")),
        digest: d("ref k1"),
        kind: TagKind::Referrer { subject: d("k1") },
    };
    let tags = [tags, vec![referrer.clone()]].concat();
    let pushed: HashMap<Digest, _> = ["i1", "k3", "b2", "k2", "b1", "k1"]
        .iter()
        .enumerate()
        .map(|(n, p)| (d(p), now() - CDuration::days(n as i64 + 1)))
        .collect();
    let types: HashMap<Digest, String> = [("k3", PACK), ("k2", PACK), ("k1", PACK), ("b2", SBOM), ("b1", SBOM)]
        .iter()
        .map(|(p, t)| (d(p), t.to_string()))
        .collect();
    let mut o = opts(Mode::Simple { keep_last: Some(1), keep_within: None });
    o.include_unknown = true;
    o.artifact_type = Some(PACK.into());
    let inputs = Inputs {
        tags: &tags,
        records: &[],
        pushed_at: &pushed,
        children: &HashMap::new(),
        throwaways: &HashSet::new(),
        artifact_types: &types,
    };
    let plan = decide(&inputs, &o);
    let actions: Vec<(&str, Action)> = plan.iter().map(|e| (e.tag.as_str(), e.action)).collect();
    assert_eq!(
        actions[..6],
        [
            ("img", Action::Keep),
            ("pack-3", Action::Keep),
            ("sbom-2", Action::Keep),
            ("pack-2", Action::Delete),
            ("sbom-1", Action::Keep),
            ("pack-1", Action::Delete)
        ],
        "the newest pack stays although an image and an SBOM are newer"
    );
    let reason = |tag: &str| plan.iter().find(|e| e.tag == tag).unwrap().reason.clone();
    assert!(reason("img").contains("not an artifact of type application/vnd.sherpack.pack.v1"), "{}", reason("img"));
    assert!(reason("sbom-1").contains("--artifact-type"), "{}", reason("sbom-1"));
    assert!(
        reason("pack-3").contains("artifacts of type application/vnd.sherpack.pack.v1 in r/app"),
        "{}",
        reason("pack-3")
    );
    assert_eq!(action(&plan, &referrer.tag), Action::Delete, "a referrer goes with its subject");
    // --purge with a type deletes only that type; what the others need stays.
    o.mode = Mode::Purge;
    let plan = decide(&inputs, &o);
    let deleted: Vec<&str> = plan.iter().filter(|e| e.action == Action::Delete).map(|e| e.tag.as_str()).collect();
    assert_eq!(deleted, ["pack-3", "pack-2", "pack-1", referrer.tag.as_str()]);
    // Without the flag every record-less image is ranked together.
    o.mode = Mode::Simple { keep_last: Some(1), keep_within: None };
    o.artifact_type = None;
    let plan = decide(&inputs, &o);
    assert_eq!((action(&plan, "img"), action(&plan, "pack-3")), (Action::Keep, Action::Delete));
}

/// Issue 11: two generations published within one second used to tie on their (whole-second)
/// record times and the tie was broken by digest, deleting the newer one. Ties now stay.
#[test]
fn ties_at_the_keep_last_boundary_are_kept_never_broken_by_digest() {
    let tags = vec![image("old", "s1"), image("a", "s2"), image("b", "s3"), stage("s1"), stage("s2"), stage("s3")];
    let mut records = vec![record("app", "c1", "s1", 3), record("app", "c2", "s2", 1), record("app", "c3", "s3", 1)];
    let plan = run(&tags, &records, &opts(Mode::Simple { keep_last: Some(1), keep_within: None }));
    assert_eq!(
        (action(&plan, "a"), action(&plan, "b"), action(&plan, "old")),
        (Action::Keep, Action::Keep, Action::Delete)
    );
    // With sub-second record times the newer generation wins alone.
    records[2].created = records[2].created.map(|t| t + CDuration::milliseconds(300));
    let plan = run(&tags, &records, &opts(Mode::Simple { keep_last: Some(1), keep_within: None }));
    assert_eq!((action(&plan, "b"), action(&plan, "a")), (Action::Keep, Action::Delete));
}

/// A stage whose publish record has no readable time is kept and does not count toward
/// `--keep-last`.
#[test]
fn records_without_a_time_are_kept_and_not_ranked() {
    let tags = vec![image("a", "s1"), image("b", "s2"), image("c", "s3"), stage("s1"), stage("s2"), stage("s3")];
    let mut records = vec![record("app", "c1", "s1", 3), record("app", "c2", "s2", 2), record("app", "c3", "s3", 1)];
    records[2].created = None;
    let plan = run(&tags, &records, &opts(Mode::Simple { keep_last: Some(1), keep_within: None }));
    assert_eq!(
        (action(&plan, "c"), action(&plan, "b"), action(&plan, "a")),
        (Action::Keep, Action::Keep, Action::Delete)
    );
}

#[path = "policy_ranking_tests.rs"]
mod ranking_property;

#[test]
fn the_platform_stages_of_a_kept_multi_platform_stage_stay() {
    // c3 and c1 published multi-platform images: their stages are indexes over a stage per
    // platform (amd3/arm3, amd1/arm1), which no record names.
    let (mut tags, records, history) = main_history();
    for s in ["amd3", "arm3", "amd1", "arm1"] {
        tags.push(stage(s));
    }
    let children = HashMap::from([(d("s3"), vec![d("amd3"), d("arm3")]), (d("s1"), vec![d("amd1"), d("arm1")])]);
    let p = policy(RefKind::Branch, "main", Some(1), None, Operator::And);
    let o = opts(Mode::Git { policies: vec![p], history });
    let plan = decide(
        &Inputs {
            tags: &tags,
            records: &records,
            pushed_at: &HashMap::new(),
            children: &children,
            throwaways: &HashSet::new(),
            artifact_types: &HashMap::new(),
        },
        &o,
    );
    assert_eq!(action(&plan, &hex("s3")), Action::Keep);
    for (s, want) in
        [("amd3", Action::Keep), ("arm3", Action::Keep), ("amd1", Action::Delete), ("arm1", Action::Delete)]
    {
        assert_eq!(action(&plan, &hex(s)), want, "{s}");
    }
    let why = &plan.iter().find(|e| e.tag == hex("arm3")).unwrap().reason;
    assert!(why.contains("platform stage of kept multi-platform stage"), "{why}");
}
