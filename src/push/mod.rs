//! `wharf push`: publish ready-made images (docker archives, OCI layouts) to a registry or a
//! static root, merging several platforms into one OCI image index.
//!
//! Decide, then do. [`source::read`](crate::oci::source::read) reads and checks every source (nothing is published if
//! one is bad); [`plan`] computes every manifest, the index, their digests and the tags, and
//! refuses two images of the same platform; [`execute`] hands the result to
//! [`store::copy_all`](crate::store::copy_all), which uploads blobs (skipping those
//! present), then child manifests by digest, and writes the tags last. The destination is any
//! [`ImageStore`]: a registry repository or a static root's.

pub mod annotate;

use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::naming::{self, Tag, TagOptions};
use crate::oci::source::{Source, SourceImage};
use crate::oci::{ArchiveError, MAX_MANIFEST_SIZE, OCI_INDEX};
use crate::registry::Descriptor;
use crate::spec::digest::Digest;
use crate::store::{self, CopyStats, Image, ImageStore, LayoutStore, Location, StoreError};
use annotate::{AnnotationPlan, IndexEntry, annotate_manifest, build_index, platform_key};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Source(#[from] ArchiveError),
    #[error(
        "two images for platform {platform}: {first} and {second}\n  hint: an index holds one image per platform; drop one of them"
    )]
    SamePlatform { platform: String, first: String, second: String },
    #[error("{0}")]
    Plan(String),
    #[error("publishing {location} failed: {source}")]
    Store { location: String, source: StoreError },
}

/// `REPO[:TAG]` for a static root: a repository path (no host) and an optional tag.
pub fn parse_static_dest(dest: &str) -> Result<(String, Option<String>), String> {
    let (repo, tag) = match dest.rfind(':') {
        Some(i) if !dest[i..].contains('/') => (&dest[..i], Some(&dest[i + 1..])),
        _ => (dest, None),
    };
    crate::static_registry::root::validate_repo(repo)
        .map_err(|e| format!("DEST {dest:?} (a repository path inside the static root): {e}"))?;
    if let Some(t) = tag {
        crate::registry::validate_tag(t).map_err(|e| format!("DEST {dest:?}: {e}"))?;
    }
    Ok((repo.to_string(), tag.map(str::to_string)))
}

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Tag strategies; `custom` holds DEST's tag and every `--tag`. No tag at all is an error.
    pub tags: TagOptions,
    pub annotations: AnnotationPlan,
}

/// One image of the push, for the report.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PlannedImage {
    pub source: PathBuf,
    pub platform: String,
    /// The digest published (after annotations).
    pub digest: Digest,
    /// The digest in the source.
    pub source_digest: Digest,
    pub layers: usize,
    pub layer_bytes: u64,
}

/// Everything decided before anything is written.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PushPlan {
    /// What the tags point at: the image manifest (one image) or the index.
    pub digest: Digest,
    pub media_type: String,
    pub images: Vec<PlannedImage>,
    pub annotations: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
    pub references: Vec<String>,
    #[serde(skip)]
    image: Image,
    #[serde(skip)]
    locations: Vec<Location>,
}

/// What a push did.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PushReport {
    #[serde(flatten)]
    pub plan: PushPlan,
    pub stats: CopyStats,
    /// Nothing was published (`--dry-run`).
    pub dry_run: bool,
}

/// Computes the manifests, the index (several images), their digests and the references.
pub fn plan(sources: &[Source], dest: &Arc<dyn ImageStore>, opts: &PushOptions) -> Result<PushPlan, PushError> {
    let images: Vec<(&Source, &SourceImage)> =
        sources.iter().flat_map(|s| s.images.iter().map(move |i| (s, i))).collect();
    if images.len() > 1 && images.iter().any(|(_, im)| im.artifact_type.is_some()) {
        return Err(PushError::Plan(
            "an artifact cannot go into an image index with other images; push it on its own".into(),
        ));
    }
    check_platforms(&images)?;
    let mut children = Vec::new();
    let mut planned = Vec::new();
    for (src, im) in &images {
        let extra = opts.annotations.for_manifest(&im.labels);
        let (manifest, media_type) = annotate_manifest(&im.manifest, &im.media_type, &extra)
            .map_err(|e| PushError::Plan(format!("{}: image {}: {e}", src.path.display(), im.digest)))?;
        check_size(&manifest, &format!("the manifest of {}", src.path.display()))?;
        let digest = Digest::of(&manifest);
        planned.push(PlannedImage {
            source: src.path.clone(),
            platform: im.artifact_type.clone().unwrap_or_else(|| platform_key(&im.platform)),
            digest: digest.clone(),
            source_digest: im.digest.clone(),
            layers: im.layers.len(),
            layer_bytes: im.layers.iter().map(|l| l.size).sum(),
        });
        children.push(source_image(manifest, media_type, digest, &im.config, &im.layers, &im.blobs));
    }
    let (image, annotations) = match children.len() {
        0 => return Err(PushError::Plan("no image to push".into())),
        1 => {
            let annotations = opts.annotations.for_manifest(&images[0].1.labels);
            (children.remove(0), annotations)
        }
        _ => {
            let entries: Vec<IndexEntry> = children
                .iter()
                .zip(&images)
                .map(|(c, (_, im))| IndexEntry {
                    media_type: c.media_type.clone(),
                    digest: c.digest.clone(),
                    size: c.manifest.len() as u64,
                    platform: im.platform.clone(),
                })
                .collect();
            let labels: Vec<&BTreeMap<String, String>> = images.iter().map(|(_, im)| &im.labels).collect();
            let annotations = opts.annotations.for_index(&labels);
            let manifest = build_index(&entries, &annotations).map_err(PushError::Plan)?;
            check_size(&manifest, "the index")?;
            let origin = children[0].origin.clone();
            let index = Image {
                digest: Digest::of(&manifest),
                manifest,
                media_type: OCI_INDEX.into(),
                blobs: Vec::new(),
                children,
                origin,
            };
            (index, annotations)
        }
    };
    finish_plan(image, planned, annotations, dest, opts, false)
}

/// An image read from a layout, ready to copy.
fn source_image(
    manifest: Bytes,
    media_type: String,
    digest: Digest,
    config: &Descriptor,
    layers: &[Descriptor],
    blobs: &crate::oci::layout::OciLayout,
) -> Image {
    let blobs_needed: Vec<Descriptor> = std::iter::once(config.clone()).chain(layers.iter().cloned()).collect();
    Image {
        manifest,
        media_type,
        digest,
        blobs: blobs_needed,
        children: Vec::new(),
        origin: LayoutStore::shared(blobs.clone(), "source"),
    }
}

/// Tags and locations of the plan. `by_digest_only`: with no tag, the manifest goes by its
/// digest (a referrer, found through its subject).
fn finish_plan(
    image: Image,
    planned: Vec<PlannedImage>,
    annotations: BTreeMap<String, String>,
    dest: &Arc<dyn ImageStore>,
    opts: &PushOptions,
    by_digest_only: bool,
) -> Result<PushPlan, PushError> {
    let tags = naming::tags(&opts.tags, image.digest.hex(), naming::MAX_TAG).map_err(PushError::Plan)?;
    let locations: Vec<Location> = match (tags.is_empty(), by_digest_only) {
        (true, true) => vec![Location::new(dest.clone(), image.digest.as_str())],
        (true, false) => {
            return Err(PushError::Plan(
                "no tag to publish\n  hint: give DEST a tag (HOST/REPO:TAG) or pass --tag".into(),
            ));
        }
        (false, _) => tags.iter().map(|t| Location::new(dest.clone(), &t.value)).collect(),
    };
    Ok(PushPlan {
        digest: image.digest.clone(),
        media_type: image.media_type.clone(),
        images: planned,
        annotations,
        references: locations.iter().map(|l| l.to_string()).collect(),
        tags,
        image,
        locations,
    })
}

/// Plans the push of an artifact packed from files (see [`crate::artifact`]). With a subject
/// and no tag, it goes by digest: a referrer is found through its subject.
pub fn plan_artifact(
    packed: crate::artifact::pack::Packed,
    sources: &[PathBuf],
    dest: &Arc<dyn ImageStore>,
    opts: &PushOptions,
    has_subject: bool,
) -> Result<PushPlan, PushError> {
    check_size(&packed.manifest, "the artifact's manifest")?;
    let planned = vec![PlannedImage {
        source: sources.first().cloned().unwrap_or_default(),
        platform: packed.artifact_type.clone(),
        digest: packed.digest.clone(),
        source_digest: packed.digest.clone(),
        layers: packed.layers.len(),
        layer_bytes: packed.layers.iter().map(|l| l.size).sum(),
    }];
    let annotations = crate::spec::manifest::annotations(&packed.manifest);
    let image = source_image(
        packed.manifest,
        crate::spec::manifest::OCI_MANIFEST.into(),
        packed.digest,
        &packed.config,
        &packed.layers,
        &packed.blobs,
    );
    finish_plan(image, planned, annotations, dest, opts, has_subject)
}

/// Publishes the plan: blobs and child manifests first, every tag last.
pub async fn execute(plan: PushPlan) -> Result<PushReport, PushError> {
    let location = plan.references.first().cloned().unwrap_or_default();
    let stats =
        store::copy_all(&plan.image, &plan.locations).await.map_err(|source| PushError::Store { location, source })?;
    Ok(PushReport { plan, stats, dry_run: false })
}

fn check_platforms(images: &[(&Source, &SourceImage)]) -> Result<(), PushError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (src, im) in images {
        let key = platform_key(&im.platform);
        let name = format!("{} ({})", src.path.display(), im.digest);
        if let Some(first) = seen.insert(key.clone(), name.clone()) {
            return Err(PushError::SamePlatform { platform: key, first, second: name });
        }
    }
    Ok(())
}

fn check_size(manifest: &Bytes, what: &str) -> Result<(), PushError> {
    if manifest.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(PushError::Plan(format!(
            "{what} would have {} bytes, more than the {MAX_MANIFEST_SIZE} registries accept",
            manifest.len()
        )));
    }
    Ok(())
}

impl PushReport {
    /// A few lines for people.
    pub fn to_text(&self) -> String {
        let p = &self.plan;
        let mut out = String::new();
        for im in &p.images {
            out.push_str(&format!("{:16} {}  from {}\n", im.platform, im.digest, im.source.display()));
        }
        let kind = if p.media_type == OCI_INDEX { "index" } else { "manifest" };
        let verb = if self.dry_run { "would push" } else { "pushed" };
        for r in &p.references {
            out.push_str(&format!("{verb} {r} ({kind} {})\n", p.digest));
        }
        if self.dry_run {
            return out;
        }
        out.push_str(&format!(
            "{} blob(s) uploaded ({}), {} mounted\n",
            self.stats.blobs_uploaded,
            crate::report::human_bytes(self.stats.bytes_uploaded),
            self.stats.blobs_mounted
        ));
        out
    }
}

impl PushError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            PushError::Source(e) => e.category(),
            PushError::SamePlatform { .. } | PushError::Plan(_) => crate::error::Category::Usage,
            PushError::Store { source, .. } => source.category(),
        }
    }
}

#[cfg(test)]
mod tests;
