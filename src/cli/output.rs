//! What `--output json` prints: one Rust type per document, each with a JSON schema.
//!
//! The documents the commands print are the types below, or the reports the library already
//! has ([`crate::report::Report`], [`crate::push::PushReport`],
//! [`crate::config::Validation`], the cleanup
//! [`Plan`](crate::cleanup::plan::Plan), [`Report`](crate::cleanup::run::Report) and
//! [`Restored`](crate::cleanup::execute::Restored)). The tests list every one; they write
//! their schemas to `schemas/output/` and fails when a committed one differs, so a
//! change to a shape scripts rely on is always seen. Field names and shapes are what e2e tests
//! and users read: the types declare their fields in the order the output always had.

use schemars::JsonSchema;
use serde::Serialize;

use crate::drivers::{Capabilities, UntagMethod, UntagSemantics};
use crate::naming::Layout;
use crate::spec::digest::Digest;
use crate::static_registry::gc::Collected;

/// Prints `doc` as indented JSON on standard output.
pub fn print<T: Serialize>(doc: &T) {
    println!("{}", serde_json::to_string_pretty(doc).unwrap_or_default());
}

/// `wharf registry detect`.
#[derive(Debug, Serialize, JsonSchema)]
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

/// `wharf login`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoginDone {
    /// The registry host the login is for.
    pub registry: String,
    pub username: String,
    /// `credential-helper` (the configured `credsStore`/`credHelpers`) or `config-file`
    /// (`auths` in config.json).
    pub stored: &'static str,
    /// The helper (`docker-credential-NAME`) or the file.
    pub location: String,
    /// Whether the registry asked for the credential and accepted it (`false`: it lets anyone in).
    pub checked: bool,
}

/// `wharf logout`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogoutDone {
    pub registry: String,
    /// Whether there was a login to remove.
    pub removed: bool,
    /// The credential helper that held it.
    pub helper: Option<String>,
    /// The `auths` keys removed from config.json.
    pub entries: Vec<String>,
}

/// `wharf tags ls`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagList {
    pub driver: &'static str,
    /// As given (inside a static root: its path there).
    pub repository: String,
    pub tags: Vec<ListedTag>,
}

/// One tag of [`TagList`]; the digest with `--digests` only.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListedTag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    pub tag: String,
}

/// `wharf tags rm --dry-run`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RemovalPlanOutput<'a> {
    pub dry_run: bool,
    pub plan: &'a RemovalPlan,
}

/// Every removal `tags rm` will do, in order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RemovalPlan {
    pub removals: Vec<Removal>,
}

/// One tag to remove and how.
#[derive(Debug, Clone, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct Removals {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub garbage: Vec<Collection>,
    pub results: Vec<RemovalResult>,
}

/// One tag of [`Removals`]: removed with its digest and method, or not with the error.
#[derive(Debug, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct Collection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected: Option<Collected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub repository: String,
}

/// `wharf referrers REF`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Referrers {
    pub subject: Digest,
    pub referrers: Vec<crate::spec::manifest::Descriptor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::Schema;
    use std::path::Path;

    /// Makes one document's schema.
    type SchemaOf = fn() -> Schema;

    /// Every document `--output json` prints: the file its schema is kept in
    /// (`schemas/output/NAME.schema.json`) and its schema.
    const SCHEMAS: &[(&str, SchemaOf)] = &[
        ("build-and-publish", schema::<crate::report::Report>),
        ("push", schema::<crate::push::PushReport>),
        ("pull", schema::<crate::pull::Pulled>),
        ("referrers", schema::<Referrers>),
        ("config-validate", schema::<crate::config::Validation>),
        ("registry-detect", schema::<Detection>),
        ("login", schema::<LoginDone>),
        ("logout", schema::<LogoutDone>),
        ("tags-ls", schema::<TagList>),
        ("tags-rm-plan", schema::<RemovalPlanOutput<'static>>),
        ("tags-rm", schema::<Removals>),
        ("cleanup-plan", schema::<crate::cleanup::plan::Plan>),
        ("cleanup-report", schema::<crate::cleanup::run::Report>),
        ("cleanup-restore", schema::<crate::cleanup::execute::Restored>),
        ("static-push", schema::<crate::static_registry::files::Published>),
        ("static-ls", schema::<crate::static_registry::files::Listing>),
        ("static-rm", schema::<crate::static_registry::files::remove::Removed>),
        ("static-gc", schema::<crate::static_registry::files::GcReport>),
        // Not printed but written (`--save-build-report`): werf's build report.
        ("werf-build-report", schema::<crate::build_report::BuildReport>),
    ];

    /// The schema of what `T` serializes to (fields left out when empty are optional).
    fn schema<T: JsonSchema>() -> Schema {
        schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<T>()
    }

    /// A schema as its committed file holds it: pretty-printed, ending with a newline.
    fn schema_text(schema: &Schema) -> String {
        let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
        text.push('\n');
        text
    }

    /// `schemas/output/` holds exactly the current schemas; `WHARF_UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn committed_output_schemas_are_current() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/output");
        let update = std::env::var_os("WHARF_UPDATE_SCHEMA").is_some();
        let mut stale = Vec::new();
        for (name, of) in SCHEMAS {
            let path = dir.join(format!("{name}.schema.json"));
            let fresh = schema_text(&of());
            if update {
                std::fs::create_dir_all(&dir).expect("create schemas/output");
                std::fs::write(&path, &fresh).expect("write a schema");
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default().replace("\r\n", "\n");
            if committed != fresh {
                stale.push(path.display().to_string());
            }
        }
        let listed: Vec<String> = SCHEMAS.iter().map(|(n, _)| format!("{n}.schema.json")).collect();
        let extra: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !listed.contains(n))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "schemas/output is out of date with src/cli/output.rs (stale: {stale:?}, no longer printed: {extra:?}).\n\
             Regenerate it with `WHARF_UPDATE_SCHEMA=1 cargo test --lib cli::output` and commit the result."
        );
    }

    /// The documents keep the field names scripts read.
    #[test]
    fn documents_keep_their_field_names() {
        let tags = serde_json::to_value(TagList {
            driver: "default",
            repository: "r".into(),
            tags: vec![
                ListedTag { digest: None, tag: "v1".into() },
                ListedTag { digest: Some(Digest::of(b"x")), tag: "v2".into() },
            ],
        })
        .unwrap();
        assert_eq!(tags["tags"][0], serde_json::json!({"tag": "v1"}));
        assert_eq!(tags["tags"][1]["digest"], Digest::of(b"x").as_str());
        let removed = RemovalResult {
            digest: None,
            driver: "default",
            error: Some("gone".into()),
            method: None,
            reference: "r:t".into(),
            removed: false,
        };
        let doc = serde_json::to_string(&Removals { garbage: Vec::new(), results: vec![removed] }).unwrap();
        assert_eq!(doc, r#"{"results":[{"driver":"default","error":"gone","reference":"r:t","removed":false}]}"#);
    }
}
