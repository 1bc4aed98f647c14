//! The `cleanup` section: typed policies, durations, patterns and their errors.

use super::*;
use crate::config::{CleanupConfig, Limit, Operator, RefKind};
use ErrorKind::*;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn policies_are_typed() {
    let cleanup = parse_ok(FULL).cleanup;
    assert!(!cleanup.default_keep_policies);
    let [tags, branches, main] = &cleanup.keep_policies[..] else { panic!("three policies: {cleanup:?}") };
    assert_eq!(tags.references.kind, RefKind::Tag);
    assert!(tags.references.pattern.matches("v1.2") && !tags.references.pattern.matches("1.2"));
    assert_eq!(tags.references.limit, Some(Limit { last: Some(5), within: None, operator: Operator::And }));
    assert_eq!(tags.images_per_reference, None);
    assert_eq!(
        branches.references.limit,
        Some(Limit { last: Some(10), within: Some(168 * HOUR), operator: Operator::Or })
    );
    assert_eq!(
        branches.images_per_reference,
        Some(Limit { last: Some(2), within: Some(HOUR + HOUR / 2), operator: Operator::And })
    );
    assert_eq!(main.references.kind, RefKind::Branch);
    assert_eq!(main.references.pattern.as_str(), "main");
    assert_eq!(main.images_per_reference, Some(Limit { last: None, within: None, operator: Operator::And }));
}

#[test]
fn absent_or_empty_policies_mean_werfs_defaults() {
    assert_eq!(parse_ok(NAMELESS).cleanup, CleanupConfig::default());
    let project = parse_ok(
        "project: x\nconfigVersion: 1\ncleanup:\n  keepPolicies: []\n  disableKubernetesBasedPolicy: true\n---\nimage: ~\n",
    );
    assert!(project.cleanup.default_keep_policies && project.cleanup.disable_kubernetes_based_policy);
    assert!(
        project.warnings[0].to_string().starts_with("wharf.yaml:4:17: `keepPolicies` is empty"),
        "{:?}",
        project.warnings
    );
}

fn cleanup_text(policies: &str) -> String {
    format!("project: x\nconfigVersion: 1\ncleanup:\n  keepPolicies:\n{policies}---\nimage: ~\n")
}

#[test]
fn durations_are_go_durations() {
    let text = cleanup_text("  - references:\n      branch: main\n      limit:\n        in: 7d\n");
    let (line, col, kind, message) = only_error(&text);
    assert_eq!((line, col, kind), (8, 13, InvalidValue));
    assert_eq!(
        message,
        "invalid duration for `in`: `7d`: Go durations have no `d` unit; write days as hours (7 days = `168h`)"
    );
    let (.., message) =
        only_error(&cleanup_text("  - references:\n      branch: main\n      limit:\n        in: 30\n"));
    assert!(message.contains("needs a unit"), "{message}");
}

#[test]
fn reference_errors() {
    assert_eq!(
        only_error(&cleanup_text("  - references:\n      branch: /(/\n")),
        (6, 15, InvalidValue, "`/(/` is not a valid regular expression".to_string())
    );
    assert_eq!(
        only_error(&cleanup_text("  - references:\n      branch: main\n      tag: v1\n")),
        (7, 7, InvalidValue, "`references` has both `branch` and `tag`".to_string())
    );
    assert_eq!(
        only_error(&cleanup_text("  - references:\n      limit: {last: 1}\n")),
        (6, 7, MissingKey, "`references` needs `branch` or `tag`".to_string())
    );
    assert_eq!(
        only_error(&cleanup_text("  - imagesPerReference: {last: 1}\n")),
        (5, 5, MissingKey, "keep policy without `references`".to_string())
    );
}

#[test]
fn limit_errors() {
    let text = cleanup_text(
        "  - references:\n      branch: main\n    imagesPerReference:\n      last: -2\n      operator: and\n      lats: 1\n",
    );
    assert_eq!(
        errors(&text),
        [
            (8, 13, InvalidValue, "`last` must be between -1 and 4294967295, found -2".to_string()),
            (9, 17, InvalidValue, "unknown operator `and`: expected `And` or `Or`".to_string()),
            (10, 7, UnknownKey, "unknown key `lats` in `imagesPerReference`".to_string()),
        ]
    );
    let out = plain(&text);
    assert!(out.contains("did you mean `And`?") && out.contains("did you mean `last`?"), "{out}");
}

#[test]
fn cleanup_keys_are_checked() {
    let text = "project: x\nconfigVersion: 1\ncleanup:\n  keepPolicy: []\n  keepImagesBuiltWithinLastNHours: many\n---\nimage: ~\n";
    assert_eq!(
        errors(text),
        [
            (4, 3, UnknownKey, "unknown key `keepPolicy` in `cleanup`".to_string()),
            (
                5,
                36,
                WrongType,
                "`cleanup.keepImagesBuiltWithinLastNHours` must be a whole number, found a string".to_string()
            ),
        ]
    );
}

#[test]
fn tag_policies_keep_one_image_per_tag() {
    let project = parse_ok(&cleanup_text("  - references:\n      tag: /.*/\n    imagesPerReference:\n      last: 3\n"));
    assert_eq!(project.warnings.len(), 1);
    assert!(project.warnings[0].to_string().contains("has no effect for tags"), "{:?}", project.warnings);
}
