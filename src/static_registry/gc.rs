//! Garbage collection of one repository of a static root: once tags go, the manifests no tag
//! reaches and the blobs no reached manifest names are deleted, so a bucket stops paying for
//! images nobody can pull.
//!
//! Mark, then sweep. Marked: every tag's manifest, and, recursively, an index's children,
//! a manifest's config and layers, and the referrers of every marked manifest (signatures,
//! SBOMs: they live as long as what they refer to). Files written within the grace period are marked
//! too (with what they name), whatever tags say: a `wharf push` writes blobs, then the
//! manifest, then the tag, and takes no lock, so a young unreferenced file may be a push in
//! flight. A reached manifest that cannot be read or parsed stops the collection before
//! anything is deleted: what it names is unknown.

use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use super::root::{Area, StaticError, StaticRoot};
use crate::registry::{ManifestContent, parse_manifest};
use crate::spec::digest::Digest;

/// What one collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Collected {
    pub manifests: usize,
    pub blobs: usize,
    /// Bytes of the removed blobs and manifests.
    pub bytes: u64,
    /// Unreferenced files left because they are younger than the grace period.
    pub young: usize,
}

/// Collects `repo`'s garbage; files modified after `now - grace` stay.
pub async fn collect(
    root: &StaticRoot,
    repo: &str,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<Collected, StaticError> {
    let manifests = root.entries(repo, Area::Manifests).await?;
    let blobs = root.entries(repo, Area::Blobs).await?;
    let cutoff = now - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let young = |e: &crate::static_registry::root::ObjectEntry| e.modified.is_none_or(|t| t > cutoff);

    let mut queue: VecDeque<String> = root.tag_names(repo).await?.into_iter().collect();
    queue.extend(manifests.iter().filter(|(_, e)| young(e)).map(|(d, _)| d.to_string()));
    let mut kept_manifests: BTreeSet<Digest> = BTreeSet::new();
    let mut kept_blobs: BTreeSet<Digest> = BTreeSet::new();
    while let Some(reference) = queue.pop_front() {
        let Some((bytes, media_type)) = root.read_manifest(repo, &reference).await? else {
            // A tag or a child that is not there: nothing of it to keep.
            continue;
        };
        let digest = Digest::of(&bytes);
        if !kept_manifests.insert(digest.clone()) {
            continue;
        }
        let referrers = crate::static_registry::referrers::read(root, repo, &digest).await?;
        queue.extend(
            referrers.into_iter().filter(|r| !kept_manifests.contains(&r.digest)).map(|r| r.digest.to_string()),
        );
        let content = parse_manifest(&bytes, &media_type).map_err(|e| StaticError::Invalid {
            root: root.to_string(),
            message: format!("{repo}: manifest {reference} cannot be parsed ({e}); nothing collected"),
        })?;
        match content {
            // Every entry of an index is a manifest, whatever its media type says.
            ManifestContent::Index { manifests } => {
                queue.extend(
                    manifests.into_iter().filter(|m| !kept_manifests.contains(&m.digest)).map(|m| m.digest.to_string()),
                );
            }
            ManifestContent::Image { config, layers } => {
                kept_blobs.extend(std::iter::once(config).chain(layers).map(|d| d.digest));
            }
        }
    }

    let mut out = Collected::default();
    let mut removed_manifests = BTreeSet::new();
    for (area, entries, kept) in [(Area::Manifests, &manifests, &kept_manifests), (Area::Blobs, &blobs, &kept_blobs)] {
        for (digest, entry) in entries {
            if kept.contains(digest) {
                continue;
            }
            if young(entry) {
                out.young += 1;
                continue;
            }
            root.remove_entry(repo, area, digest).await?;
            out.bytes += entry.size;
            match area {
                Area::Manifests => {
                    out.manifests += 1;
                    removed_manifests.insert(digest.clone());
                }
                Area::Blobs => out.blobs += 1,
            }
        }
    }
    crate::static_registry::referrers::forget(root, repo, &removed_manifests).await?;
    tracing::info!(
        repo,
        manifests = out.manifests,
        blobs = out.blobs,
        bytes = out.bytes,
        young = out.young,
        "static root: garbage collected"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::manifest::{OCI_EMPTY, OCI_MANIFEST};
    use bytes::Bytes;

    /// A manifest with `layer` as its one blob (written too), referring to `subject` if given.
    async fn put(
        root: &StaticRoot,
        dir: &std::path::Path,
        reference: Option<&str>,
        layer: &[u8],
        subject: Option<&Digest>,
    ) -> Digest {
        for blob in [&b"{}"[..], layer] {
            let path = dir.join("blob");
            std::fs::write(&path, blob).unwrap();
            root.put_blob_file("a", &Digest::of(blob), &path).await.unwrap();
        }
        let mut m = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x-test",
            "config": {"mediaType": OCI_EMPTY, "digest": Digest::of(b"{}"), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": Digest::of(layer), "size": layer.len()}]});
        if let Some(s) = subject {
            m["subject"] = serde_json::json!({"mediaType": OCI_MANIFEST, "digest": s, "size": 1});
        }
        let bytes = Bytes::from(m.to_string());
        let digest = Digest::of(&bytes);
        root.put_manifest("a", reference.unwrap_or(digest.as_str()), OCI_MANIFEST, &bytes).await.unwrap();
        digest
    }

    #[tokio::test]
    async fn referrers_live_as_long_as_their_subject() {
        let tmp = tempfile::tempdir().unwrap();
        let root = StaticRoot::dir(&tmp.path().join("root"));
        let kept = put(&root, tmp.path(), Some("v1"), b"kept", None).await;
        let gone = put(&root, tmp.path(), Some("v2"), b"gone", None).await;
        let sig_kept = put(&root, tmp.path(), None, b"sig of kept", Some(&kept)).await;
        let sig_gone = put(&root, tmp.path(), None, b"sig of gone", Some(&gone)).await;
        assert!(root.remove_tag("a", "v2").await.unwrap());
        let collected = collect(&root, "a", Duration::ZERO, Utc::now() + chrono::Duration::seconds(5)).await.unwrap();
        assert_eq!(
            (collected.manifests, collected.blobs),
            (2, 2),
            "the untagged image, its referrer, and their layers"
        );
        let manifests: Vec<Digest> =
            root.entries("a", Area::Manifests).await.unwrap().into_iter().map(|(d, _)| d).collect();
        assert!(manifests.contains(&kept) && manifests.contains(&sig_kept), "a referrer of a kept image stays");
        assert!(!manifests.contains(&gone) && !manifests.contains(&sig_gone));
        let referrers = |s: Digest| {
            let root = root.clone();
            async move { crate::static_registry::referrers::read(&root, "a", &s).await.unwrap() }
        };
        assert_eq!(referrers(kept).await.len(), 1);
        assert!(referrers(gone).await.is_empty(), "the referrers index of a collected image goes with it");
    }
}
