//! The cleanup plan: every tag of the project's repositories with the decision taken and
//! why. `--dry-run` prints it, `--plan-out` saves it, `wharf cleanup apply` carries out a
//! saved one.

use crate::spec::digest::Digest;

/// What a tag is to wharf.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum TagKind {
    /// A published image tag.
    Image,
    /// A stage, keyed by its stage digest.
    Stage { stage: String },
    /// A publish record linking a commit to a stage.
    Record { commit: String, stage: String },
    /// A signature, attestation or SBOM tag (`sha256-<hex>[.sig|.att|.sbom]`).
    Referrer { subject: Digest },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Keep,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Entry {
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
    #[serde(flatten)]
    pub kind: TagKind,
    pub action: Action,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Plan format version.
    pub version: u32,
    pub project: String,
    /// The driver that lists and deletes (`default`, `ecr`, …, `static`).
    pub driver: String,
    /// The static root, for the `static` driver (`cleanup apply` works on it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_root: Option<String>,
    /// The policies in force, as text, for the record.
    pub policies: Vec<String>,
    pub entries: Vec<Entry>,
    /// Listed tags whose manifest cannot be read: reported, never touched.
    #[serde(default)]
    pub broken: Vec<Broken>,
    /// Repositories deleted as a whole instead of tag by tag (`--purge` where the registry
    /// cannot delete the last tag, GitHub): every tag of them is a deletion of this plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repository_deletions: Vec<RepositoryDeletion>,
}

/// A repository the plan deletes as a whole, and why not tag by tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RepositoryDeletion {
    pub repository: String,
    pub reason: String,
}

/// A tag that is listed but whose manifest is missing or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Broken {
    pub repository: String,
    pub tag: String,
    pub problem: String,
}

pub const PLAN_VERSION: u32 = 1;

impl Plan {
    pub fn deletions(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.action == Action::Delete)
    }

    /// The order deletions run in: image tags and referrers first, then stages, records
    /// last, so an interrupted run leaves records that still describe what remains.
    pub fn ordered_deletions(&self) -> Vec<&Entry> {
        let rank = |e: &Entry| match e.kind {
            TagKind::Image => 0,
            TagKind::Referrer { .. } => 1,
            TagKind::Stage { .. } => 2,
            TagKind::Record { .. } => 3,
        };
        let mut d: Vec<&Entry> = self.deletions().collect();
        d.sort_by_key(|e| rank(e));
        d
    }

    /// A table for people: one line per tag, deletions first.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        out.push_str("policies:\n");
        for p in &self.policies {
            out.push_str(&format!("  {p}\n"));
        }
        let mut rows: Vec<&Entry> = self.entries.iter().collect();
        rows.sort_by(|a, b| {
            (b.action == Action::Delete)
                .cmp(&(a.action == Action::Delete))
                .then(a.repository.cmp(&b.repository))
                .then(a.tag.cmp(&b.tag))
        });
        let width = rows.iter().map(|e| e.repository.len() + e.tag.len() + 1).max().unwrap_or(10).min(90);
        out.push_str(&format!("{:6}  {:width$}  {:8}  REASON\n", "ACTION", "TAG", "KIND"));
        for e in rows {
            let kind = match e.kind {
                TagKind::Image => "image",
                TagKind::Stage { .. } => "stage",
                TagKind::Record { .. } => "record",
                TagKind::Referrer { .. } => "referrer",
            };
            let action = if e.action == Action::Delete { "delete" } else { "keep" };
            out.push_str(&format!(
                "{action:6}  {:width$}  {kind:8}  {}\n",
                format!("{}:{}", e.repository, e.tag),
                e.reason
            ));
        }
        for r in &self.repository_deletions {
            out.push_str(&format!("{:6}  {:width$}  {:8}  {}\n", "delete", r.repository, "repo", r.reason));
        }
        for b in &self.broken {
            out.push_str(&format!(
                "{:6}  {:width$}  {:8}  {}\n",
                "skip",
                format!("{}:{}", b.repository, b.tag),
                "broken",
                b.problem
            ));
        }
        let deletes = self.deletions().count();
        out.push_str(&format!(
            "{} tag(s): {} kept, {deletes} to delete\n",
            self.entries.len(),
            self.entries.len() - deletes
        ));
        out
    }
}
