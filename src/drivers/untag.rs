//! Removing one tag through the distribution API without touching its siblings, and proving
//! it went.
//!
//! Registries differ here (see README, "Registry behaviours"):
//! - distribution 2.8 refuses `DELETE /v2/<name>/manifests/<tag>` (400) and a digest delete
//!   removes every tag on that digest;
//! - go-containerregistry's registry deletes a tag with `DELETE …/manifests/<tag>` (202), as
//!   OCI distribution 1.1 says, but a digest delete leaves the tags that pointed at it
//!   (dangling).
//!
//! So the tag delete is used where the registry does it safely, and the throwaway manifest
//! (as regclient does: move the tag onto a tiny manifest nobody else refers to, then delete
//! that digest) everywhere else. Which one applies is probed once per registry and run
//! ([`probe_tag_delete`]) on scratch tags of wharf's own, never on the user's: a registry
//! whose tag delete also removed a sibling tag is recorded as unsafe and never gets one.
//! Whatever the strategy, the caller reads the tag back before reporting it removed.
//!
//! Before moving anything, [`probe_delete`] checks that the registry allows deletes by
//! deleting a digest that cannot exist: 404 means deletes work (and the credential may delete),
//! 405 / `UNSUPPORTED` means they are switched off, 401/403 means the credential lacks the right.

use crate::registry::{Client, RegistryError, Repository};
use crate::spec::digest::Digest;
use crate::spec::manifest::{EMPTY_JSON, OCI_MANIFEST, WHARF_THROWAWAY_TYPE, annotated_empty_manifest, artifact_type};
use bytes::Bytes;

/// The annotation that makes each throwaway manifest unique.
pub const UNTAG_ANNOTATION: &str = "dev.wharf.untag";

/// A manifest unique to this call, for `tag`: empty config, the empty blob as its one layer
/// (for registries that refuse manifests without layers), wharf's throwaway artifact type and
/// a unique annotation.
pub fn throwaway_manifest(tag: &str) -> Bytes {
    let nonce = format!(
        "{tag} {} {:016x}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        rand::random::<u64>()
    );
    annotated_empty_manifest(WHARF_THROWAWAY_TYPE, &[(UNTAG_ANNOTATION.to_string(), nonce)].into())
}

/// Whether `manifest` is one of the throwaway manifests [`throwaway_manifest`] makes (also
/// those of wharf versions before the artifact type). A tag on one is what an untag
/// interrupted between its two steps leaves behind (e.g. a killed run).
pub fn is_throwaway(manifest: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Annotated {
        #[serde(default)]
        annotations: std::collections::HashMap<String, serde_json::Value>,
    }
    artifact_type(manifest).is_some_and(|t| t == WHARF_THROWAWAY_TYPE)
        || serde_json::from_slice::<Annotated>(manifest).is_ok_and(|m| m.annotations.contains_key(UNTAG_ANNOTATION))
}

/// Checks that `repo`'s registry accepts manifest deletes from this credential, without
/// deleting anything: a delete of a digest that does not exist must answer 404.
pub async fn probe_delete(client: &Client, repo: &Repository) -> Result<(), RegistryError> {
    let nonce = format!("wharf delete probe {:032x}", rand::random::<u128>());
    let absent = Digest::of(nonce.as_bytes());
    match client.delete_manifest(repo, &absent).await {
        // 202 for a digest nobody pushed would be odd, but proves deletes work.
        Ok(()) => Ok(()),
        Err(e) if e.status() == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Points `tag` at a fresh throwaway manifest and returns that manifest's digest.
pub async fn move_to_throwaway(client: &Client, repo: &Repository, tag: &str) -> Result<Digest, RegistryError> {
    client.push_blob_bytes(repo, &Digest::of(EMPTY_JSON), Bytes::from_static(EMPTY_JSON)).await?;
    client.put_manifest(repo, tag, OCI_MANIFEST, throwaway_manifest(tag)).await
}

/// What a registry's `DELETE /v2/<name>/manifests/<tag>` does, as probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagDelete {
    /// The tag goes, and only the tag.
    Works,
    /// Refused, or answered success and kept the tag: the throwaway manifest is used.
    Refused(String),
    /// The delete took another tag of the same manifest with it: never used again.
    Unsafe(String),
}

/// The scratch tags of one probe.
fn probe_tags() -> (String, String) {
    let nonce = format!("{:016x}", rand::random::<u64>());
    (format!("wharf-probe-{nonce}-a"), format!("wharf-probe-{nonce}-b"))
}

/// Learns what a tag delete does on `repo`'s registry, on two scratch tags of one throwaway
/// manifest: delete the first by tag, then read both back. The scratch manifest is deleted
/// afterwards. A 401/403 is an error (the credential cannot delete at all).
pub async fn probe_tag_delete(client: &Client, repo: &Repository) -> Result<TagDelete, RegistryError> {
    let (a, b) = probe_tags();
    client.push_blob_bytes(repo, &Digest::of(EMPTY_JSON), Bytes::from_static(EMPTY_JSON)).await?;
    let scratch = throwaway_manifest(&a);
    let digest = client.put_manifest(repo, &a, OCI_MANIFEST, scratch.clone()).await?;
    client.put_manifest(repo, &b, OCI_MANIFEST, scratch).await?;
    let verdict = match client.delete_tag(repo, &a).await {
        Err(e) if e.is_auth() => {
            discard_scratch(client, repo, &digest, &[&a, &b], false).await;
            return Err(e);
        }
        Err(e) => TagDelete::Refused(format!(
            "the registry refuses tag deletes ({})",
            e.status().map_or_else(|| e.to_string(), |s| format!("HTTP {s}"))
        )),
        Ok(()) => {
            let (left, sibling) = (client.head_manifest(repo, &a).await?, client.head_manifest(repo, &b).await?);
            match (left, sibling) {
                (_, None) => TagDelete::Unsafe("a tag delete also removed another tag of the same manifest".into()),
                (Some(_), _) => {
                    TagDelete::Refused("the registry answers tag deletes with success but keeps the tag".into())
                }
                (None, Some(_)) => TagDelete::Works,
            }
        }
    };
    discard_scratch(client, repo, &digest, &[&a, &b], verdict == TagDelete::Works).await;
    Ok(verdict)
}

/// Removes a probe's scratch tags and manifest; what cannot be removed is logged (its tags
/// start with `wharf-probe-` and point at a throwaway, which cleanup finishes).
async fn discard_scratch(client: &Client, repo: &Repository, digest: &Digest, tags: &[&str], tag_delete_works: bool) {
    if tag_delete_works {
        for t in tags {
            let _ = client.delete_tag(repo, t).await;
        }
    }
    if let Err(e) = client.delete_manifest(repo, digest).await
        && !e.is_not_found()
    {
        tracing::warn!(%repo, %digest, "could not delete the scratch manifest of the tag-delete probe: {e}");
    }
    for t in tags {
        if let Ok(Some(_)) = client.head_manifest(repo, t).await {
            tracing::warn!(%repo, tag = t, "the tag-delete probe left a scratch tag behind (the registry keeps tags of deleted manifests)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ManifestContent, parse_manifest};
    use crate::spec::manifest::{OCI_EMPTY, WHARF_RECORD_TYPE, annotated_empty_manifest};

    #[test]
    fn throwaway_manifests_are_valid_unique_artifacts() {
        let a = throwaway_manifest("v1");
        let b = throwaway_manifest("v1");
        assert_ne!(Digest::of(&a), Digest::of(&b));
        let ManifestContent::Image { config, layers } = parse_manifest(&a, OCI_MANIFEST).unwrap() else { panic!() };
        assert_eq!(config.media_type, OCI_EMPTY);
        assert_eq!(config.digest, Digest::of(b"{}"));
        assert_eq!(config.size, 2);
        assert_eq!(layers, vec![config]);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert!(v["annotations"][UNTAG_ANNOTATION].as_str().unwrap().starts_with("v1 "));
        // image-spec 1.1: artifactType MUST be set when the config is the empty descriptor.
        assert_eq!(v["artifactType"], WHARF_THROWAWAY_TYPE);
        assert!(is_throwaway(&a));
        let record =
            annotated_empty_manifest(WHARF_RECORD_TYPE, &[("dev.wharf.commit".to_string(), "x".to_string())].into());
        assert!(!is_throwaway(&record));
        assert!(!is_throwaway(b"not json"));
    }

    #[test]
    fn throwaways_of_earlier_versions_are_recognised_by_their_annotation() {
        let old =
            serde_json::json!({"schemaVersion": 2, "annotations": {UNTAG_ANNOTATION: "v1 2026-01-01T00:00:00Z 1"}});
        assert!(is_throwaway(old.to_string().as_bytes()));
    }

    #[test]
    fn probe_tags_are_distinct_valid_tags() {
        let (a, b) = probe_tags();
        assert_ne!(a, b);
        for t in [&a, &b] {
            crate::registry::validate_tag(t).unwrap();
            assert!(t.starts_with("wharf-probe-"));
        }
    }
}
