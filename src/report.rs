//! The run's report: a table for people, JSON (`--output json`) for machines.

use crate::naming::Tag;
use crate::store::{CopyStats, Image};

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
    /// The image ID (its config digest; for a multi-platform index, the index digest); absent
    /// when the run did not read the image (published already, unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The layers' compressed size in bytes (every platform's), when the image was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A multi-platform image's platforms, each with its own stage digest (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformReport>,
}

impl ImageReport {
    /// The image ID and size of `image`, as [`ImageReport::image_id`] and [`ImageReport::size`] hold them.
    pub fn identity(image: &Image) -> (String, u64) {
        let layers = |i: &Image| i.blobs.iter().skip(1).map(|b| b.size).sum::<u64>();
        match image.children.is_empty() {
            true => {
                (image.blobs.first().map_or_else(|| image.digest.to_string(), |c| c.digest.to_string()), layers(image))
            }
            false => (image.digest.to_string(), image.children.iter().map(layers).sum()),
        }
    }
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
            out.push_str(&format!(
                "{:width$}  {:12}  {:7}  {}\n",
                img.name.as_deref().unwrap_or("~"),
                &img.stage_digest[..12],
                status,
                first
            ));
            for r in refs {
                out.push_str(&format!("{:width$}  {:12}  {:7}  {}\n", "", "", "", r));
            }
            for t in img.tags.iter().filter(|t| t.value != t.original) {
                out.push_str(&format!(
                    "{:width$}  {:12}  {:7}  (tag {:?} slugged to {:?})\n",
                    "", "", "", t.original, t.value
                ));
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
