//! What `--output json` prints: one Rust type per document, each with a JSON schema.
//!
//! The documents the commands print are the types below, or the reports the library already
//! has ([`crate::report::Report`], [`crate::push::PushReport`], the cleanup
//! [`Plan`](crate::cleanup::plan::Plan), [`Report`](crate::cleanup::run::Report) and
//! [`Restored`](crate::cleanup::execute::Restored)). The tests list every one; they write
//! their schemas to `schemas/output/` and fails when a committed one differs, so a
//! change to a shape scripts rely on is always seen. Field names and shapes are what e2e tests
//! and users read: the types declare their fields in the order the output always had.

use serde::Serialize;

use crate::drivers::{Capabilities, UntagMethod, UntagSemantics};
use crate::naming::Layout;
use crate::publish::static_gc::Collected;
use crate::spec::digest::Digest;

/// Prints `doc` as indented JSON on standard output.
pub fn print<T: Serialize>(doc: &T) {
    println!("{}", serde_json::to_string_pretty(doc).unwrap_or_default());
}

/// `wharf config validate`.
#[derive(Debug, Serialize)]
pub struct ConfigValidation {
    /// Image names, `null` for the nameless image.
    pub images: Vec<Option<String>>,
    pub project: String,
    /// Always `true`: an invalid project file is an error (exit code 3).
    pub valid: bool,
}

/// `wharf registry detect`.
#[derive(Debug, Serialize)]
pub struct Detection {
    pub repository: String,
    /// The `--implementation` value.
    pub driver: &'static str,
    pub title: &'static str,
    pub capabilities: Capabilities,
    /// What `--repo-mode` resolves to for the repository.
    pub repo_mode: Layout,
    pub docs: &'static str,
    /// What the credential needs.
    pub needs: &'static str,
}

/// `wharf tags ls`.
#[derive(Debug, Serialize)]
pub struct TagList {
    pub driver: &'static str,
    /// As given (inside a static root: its path there).
    pub repository: String,
    pub tags: Vec<ListedTag>,
}

/// One tag of [`TagList`]; the digest with `--digests` only.
#[derive(Debug, Serialize)]
pub struct ListedTag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    pub tag: String,
}

/// `wharf tags rm --dry-run`.
#[derive(Debug, Serialize)]
pub struct RemovalPlanOutput<'a> {
    pub dry_run: bool,
    pub plan: &'a RemovalPlan,
}

/// Every removal `tags rm` will do, in order.
#[derive(Debug, Clone, Serialize)]
pub struct RemovalPlan {
    pub removals: Vec<Removal>,
}

/// One tag to remove and how.
#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    pub driver: &'static str,
    /// `REPO:TAG` as given.
    pub reference: String,
    pub repository: String,
    pub tag: String,
    pub untag: UntagSemantics,
}

/// `wharf tags rm`: what happened to each tag, and the garbage collections that followed
/// (static roots only).
#[derive(Debug, Serialize)]
pub struct Removals {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub garbage: Vec<Collection>,
    pub results: Vec<RemovalResult>,
}

/// One tag of [`Removals`]: removed with its digest and method, or not with the error.
#[derive(Debug, Serialize)]
pub struct RemovalResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    pub driver: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<UntagMethod>,
    pub reference: String,
    pub removed: bool,
}

/// One repository's garbage collection after `tags rm`: what went, or why it failed.
#[derive(Debug, Serialize)]
pub struct Collection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected: Option<Collected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub repository: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documents keep the field names scripts read.
    #[test]
    fn documents_keep_their_field_names() {
        let tags = serde_json::to_value(TagList {
            driver: "default",
            repository: "r".into(),
            tags: vec![ListedTag { digest: None, tag: "v1".into() }, ListedTag { digest: Some(Digest::of(b"x")), tag: "v2".into() }],
        })
        .unwrap();
        assert_eq!(tags["tags"][0], serde_json::json!({"tag": "v1"}));
        assert_eq!(tags["tags"][1]["digest"], Digest::of(b"x").as_str());
        let removed = RemovalResult { digest: None, driver: "default", error: Some("gone".into()), method: None, reference: "r:t".into(), removed: false };
        let doc = serde_json::to_string(&Removals { garbage: Vec::new(), results: vec![removed] }).unwrap();
        assert_eq!(doc, r#"{"results":[{"driver":"default","error":"gone","reference":"r:t","removed":false}]}"#);
        let valid = serde_json::to_string(&ConfigValidation { images: vec![Some("a".into()), None], project: "p".into(), valid: true }).unwrap();
        assert_eq!(valid, r#"{"images":["a",null],"project":"p","valid":true}"#);
    }
}
