//! Whatever the inputs, `--keep-last` / `--keep-within` never delete an image newer than
//! one they keep of the same image (records are ranked per image name, record-less images
//! per repository). Times come from a handful of values so that ties and unknown times are
//! common; the digests are random, so no ordering can hide behind them.

use super::*;
use proptest::prelude::*;

/// (image group, time in seconds or unknown, has a publish record)
type Item = (u8, Option<i64>, bool);

fn items() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec((0u8..2, prop::option::weighted(0.85, 0i64..6), any::<bool>()), 1..14)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn never_deletes_an_image_newer_than_one_it_keeps(
        items in items(),
        keep_last in prop::option::of(0usize..4),
        keep_within in prop::option::of(0u64..8),
        fresh in prop::option::of(0u64..3),
        include_unknown in any::<bool>(),
        salt in any::<u64>(),
    ) {
        let base = now() - CDuration::seconds(10);
        let mut tags = Vec::new();
        let mut records = Vec::new();
        let mut pushed_at = HashMap::new();
        let mut group_of = HashMap::new();
        for (i, (group, secs, recorded)) in items.iter().enumerate() {
            let name = format!("{salt} {i}");
            let time = secs.map(|s| base + CDuration::seconds(s));
            let image_name = if *group == 0 { "app" } else { "app-api" };
            tags.push(Tag { repository: "r".into(), tag: format!("t{i}"), digest: d(&name), kind: TagKind::Image });
            if let Some(t) = time {
                pushed_at.insert(d(&name), t);
            }
            if *recorded {
                tags.push(stage(&name));
                records.push(Record { digest: d(&format!("record {name}")), image: image_name.into(), commit: format!("c{i}"), stage: hex(&name), manifest: Some(d(&name)), created: time });
                group_of.insert(format!("t{i}"), image_name.to_string());
            } else {
                group_of.insert(format!("t{i}"), "record-less".to_string());
            }
        }
        let o = Options {
            mode: Mode::Simple { keep_last, keep_within: keep_within.map(Duration::from_secs) },
            keep: vec![],
            artifact_type: None,
            fresh_window: fresh.map(Duration::from_secs),
            include_unknown,
            now: now(),
        };
        let plan = decide(&Inputs { tags: &tags, records: &records, pushed_at: &pushed_at, children: &HashMap::new(), throwaways: &HashSet::new(), artifact_types: &HashMap::new() }, &o);
        let time_of = |tag: &str| items[tag[1..].parse::<usize>().unwrap()].1;
        for deleted in plan.iter().filter(|e| e.kind == TagKind::Image && e.action == Action::Delete) {
            for kept in plan.iter().filter(|e| e.kind == TagKind::Image && e.action == Action::Keep && group_of[&e.tag] == group_of[&deleted.tag]) {
                if let (Some(td), Some(tk)) = (time_of(&deleted.tag), time_of(&kept.tag)) {
                    prop_assert!(td < tk, "{} (t={td}) deleted but {} (t={tk}) kept: {plan:#?}", deleted.tag, kept.tag);
                }
            }
            // With a rule to rank by, an unknown time is kept (without one, nothing is ranked).
            if keep_last.is_some() || keep_within.is_some() {
                prop_assert!(time_of(&deleted.tag).is_some(), "{} has no known time and was deleted: {plan:#?}", deleted.tag);
            }
            // Images of unknown time never take a dated image's place in --keep-last.
            let kept_dated = plan
                .iter()
                .filter(|e| e.kind == TagKind::Image && e.action == Action::Keep && group_of[&e.tag] == group_of[&deleted.tag] && time_of(&e.tag).is_some())
                .count();
            prop_assert!(kept_dated >= keep_last.unwrap_or(0), "{} deleted while only {kept_dated} dated image(s) are kept: {plan:#?}", deleted.tag);
        }
    }
}
