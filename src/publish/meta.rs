//! Publish records: the small artifact `build-and-publish` leaves beside each image so that
//! `wharf cleanup` can tell which git commit produced which stage.
//!
//! A record is a tag `wharf-meta-<commit>-<stage digest>` in the image's repository,
//! pointing at an annotated empty manifest (a few hundred bytes). Cleanup learns commit and
//! stage from the tag name alone, so one tag listing per repository is all it reads; the
//! annotations (image, publish time, tags) are there for people and for restores.

use bytes::Bytes;
use std::collections::BTreeMap;

use crate::naming::{self, Layout};
use crate::registry::{Client, RegistryError, Repository};
use crate::spec::digest::Digest;
use crate::spec::manifest::{EMPTY_JSON, OCI_MANIFEST, WHARF_RECORD_TYPE, annotated_empty_manifest};

pub const ANNOTATION_IMAGE: &str = "dev.wharf.image";
pub const ANNOTATION_COMMIT: &str = "dev.wharf.commit";
pub const ANNOTATION_STAGE: &str = "dev.wharf.stage-digest";
pub const ANNOTATION_MANIFEST: &str = "dev.wharf.manifest-digest";
pub const ANNOTATION_TAGS: &str = "dev.wharf.tags";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// What one record says.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub image: Option<&'a str>,
    pub commit: &'a str,
    pub stage: &'a str,
    pub manifest: &'a Digest,
    pub tags: Vec<String>,
    pub created: chrono::DateTime<chrono::Utc>,
}

impl Record<'_> {
    fn manifest_bytes(&self) -> Bytes {
        let annotations: BTreeMap<String, String> = [
            (ANNOTATION_IMAGE, self.image.unwrap_or("~").to_string()),
            (ANNOTATION_COMMIT, self.commit.to_string()),
            (ANNOTATION_STAGE, self.stage.to_string()),
            (ANNOTATION_MANIFEST, self.manifest.to_string()),
            (ANNOTATION_TAGS, self.tags.join(",")),
            // Sub-second: two generations published within one second must still rank.
            (ANNOTATION_CREATED, self.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        annotated_empty_manifest(WHARF_RECORD_TYPE, &annotations)
    }
}

/// Writes the record for `record.image` under `base` (REPO), unless one is there already.
/// Returns whether it wrote one.
pub async fn write(
    client: &Client,
    base: &Repository,
    layout: Layout,
    record: &Record<'_>,
) -> Result<bool, RegistryError> {
    if !is_commit(record.commit) {
        return Ok(false);
    }
    let (repo, tag) = location(base, layout, record.image, record.commit, record.stage)?;
    if client.head_manifest(&repo, &tag).await?.is_some() {
        return Ok(false);
    }
    client.push_blob_bytes(&repo, &Digest::of(EMPTY_JSON), Bytes::from_static(EMPTY_JSON)).await?;
    client.put_manifest(&repo, &tag, OCI_MANIFEST, record.manifest_bytes()).await?;
    Ok(true)
}

/// The repository and tag of the record of `image`'s stage `stage` published at `commit`.
pub fn location(
    base: &Repository,
    layout: Layout,
    image: Option<&str>,
    commit: &str,
    stage: &str,
) -> Result<(Repository, String), RegistryError> {
    let (suffix, tag) = naming::meta_place(layout, image, commit, stage);
    let repo = match suffix {
        Some(s) => base.join(&s).map_err(RegistryError::Reference)?,
        None => base.clone(),
    };
    Ok((repo, tag))
}

/// The manifest digest the record at `repo:tag` names (what its image was published as);
/// `None` when there is no record there, or it names none.
pub async fn read_manifest_digest(
    client: &Client,
    repo: &Repository,
    tag: &str,
) -> Result<Option<Digest>, RegistryError> {
    let bytes = match client.get_manifest(repo, tag).await {
        Ok((bytes, _, _)) => bytes,
        Err(RegistryError::Status { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    #[derive(serde::Deserialize)]
    struct WithAnnotations {
        #[serde(default)]
        annotations: BTreeMap<String, String>,
    }
    let annotations = serde_json::from_slice::<WithAnnotations>(&bytes).map(|w| w.annotations).unwrap_or_default();
    Ok(annotations.get(ANNOTATION_MANIFEST).and_then(|d| d.parse().ok()))
}

/// A full 40-hex git commit id (records are keyed by it).
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
