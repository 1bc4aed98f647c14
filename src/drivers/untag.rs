//! Removing one tag on a registry that deletes only by digest, without touching its siblings.
//!
//! A digest delete removes every tag on that digest. So, as regclient does, the tag is first
//! moved onto a tiny manifest nobody else refers to (an empty OCI config, the empty descriptor
//! as its one layer, and an annotation unique to this call), and that manifest's digest is
//! deleted. The original image and all its other tags stay.
//!
//! Before moving anything, [`probe_delete`] checks that the registry allows deletes by
//! deleting a digest that cannot exist: 404 means deletes work (and the credential may delete),
//! 405 / `UNSUPPORTED` means they are switched off, 401/403 means the credential lacks the right.

use crate::digest::Digest;
use crate::registry::manifest::{EMPTY_JSON, OCI_MANIFEST, annotated_empty_manifest};
use crate::registry::{Client, RegistryError, Repository};
use bytes::Bytes;

/// The annotation that makes each throwaway manifest unique.
pub const UNTAG_ANNOTATION: &str = "dev.wharf.untag";

/// A manifest unique to this call, for `tag`: empty config, the empty blob as its one layer
/// (for registries that refuse manifests without layers) and a unique annotation.
pub fn throwaway_manifest(tag: &str) -> Bytes {
    let nonce = format!(
        "{tag} {} {:016x}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        rand::random::<u64>()
    );
    annotated_empty_manifest(&[(UNTAG_ANNOTATION.to_string(), nonce)].into())
}

/// Whether `manifest` is one of the throwaway manifests [`throwaway_manifest`] makes. A tag on
/// one is what an untag interrupted between its two steps leaves behind (e.g. a killed run).
pub fn is_throwaway(manifest: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Annotated {
        #[serde(default)]
        annotations: std::collections::HashMap<String, serde_json::Value>,
    }
    serde_json::from_slice::<Annotated>(manifest).is_ok_and(|m| m.annotations.contains_key(UNTAG_ANNOTATION))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::manifest::{OCI_EMPTY, annotated_empty_manifest};
    use crate::registry::{ManifestContent, parse_manifest};

    #[test]
    fn throwaway_manifests_are_valid_and_unique() {
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
        assert!(is_throwaway(&a));
        let record = annotated_empty_manifest(&[("dev.wharf.commit".to_string(), "x".to_string())].into());
        assert!(!is_throwaway(&record));
        assert!(!is_throwaway(b"not json"));
    }
}
