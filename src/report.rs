//! The run's report: a table for people, JSON (`--output json`) for machines.

use crate::naming::Tag;
use crate::store::CopyStats;

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    pub project: String,
    pub images: Vec<ImageReport>,
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ImageReport {
    /// `null` for the nameless image.
    pub name: Option<String>,
    pub stage_digest: String,
    pub manifest_digest: String,
    pub built: bool,
    pub references: Vec<String>,
    pub tags: Vec<Tag>,
    pub stats: CopyStats,
    /// A multi-platform image's platforms, each with its own stage digest (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformReport>,
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PlatformReport {
    pub platform: String,
    pub stage_digest: String,
}

impl Report {
    /// A summary table: image, stage digest, built or reused, references.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = self.images.iter().map(|i| i.name.as_deref().unwrap_or("~").len()).max().unwrap_or(1).max(5);
        out.push_str(&format!("{:width$}  {:12}  {:7}  {}\n", "IMAGE", "STAGE", "STATUS", "PUBLISHED"));
        for img in &self.images {
            let status = if img.built { "built" } else { "reused" };
            let mut refs = img.references.iter();
            let first = refs.next().map(String::as_str).unwrap_or("-");
            out.push_str(&format!("{:width$}  {:12}  {:7}  {}\n", img.name.as_deref().unwrap_or("~"), &img.stage_digest[..12], status, first));
            for r in refs {
                out.push_str(&format!("{:width$}  {:12}  {:7}  {}\n", "", "", "", r));
            }
            for t in img.tags.iter().filter(|t| t.value != t.original) {
                out.push_str(&format!("{:width$}  {:12}  {:7}  (tag {:?} slugged to {:?})\n", "", "", "", t.original, t.value));
            }
        }
        let uploaded: u64 = self.images.iter().map(|i| i.stats.bytes_uploaded).sum();
        let built = self.images.iter().filter(|i| i.built).count();
        out.push_str(&format!(
            "{} image(s): {built} built, {} reused; {} uploaded\n",
            self.images.len(),
            self.images.len() - built,
            human_bytes(uploaded)
        ));
        out
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}
