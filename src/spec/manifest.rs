//! Media types, descriptors, and just enough manifest parsing to walk an image.
//!
//! [`parse_manifest`] reads an OCI or Docker v2 manifest (config + layers) or an OCI index /
//! Docker manifest list (children) through oci-spec's types and returns plain
//! [`Descriptor`]s with validated digests.

use crate::spec::digest::Digest;
use std::collections::BTreeMap;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The manifest types the client asks for, in order of preference.
pub const ACCEPTED_MANIFESTS: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// Largest manifest the client reads or writes (the limit distribution and most registries use).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// The empty JSON object the OCI empty descriptor points at.
pub const EMPTY_JSON: &[u8] = b"{}";

/// The artifact type of wharf's publish records (`wharf-meta-…` tags).
pub const WHARF_RECORD_TYPE: &str = "application/vnd.wharf.publish-record.v1+json";
/// The artifact type of the throwaway manifests a tag is moved onto before a digest delete.
pub const WHARF_THROWAWAY_TYPE: &str = "application/vnd.wharf.untag.v1+json";

/// A tiny OCI artifact manifest that carries only `annotations`: the empty config, the empty
/// blob as its one layer (some registries refuse manifests without layers), and
/// `artifact_type` (image-spec 1.1: MUST be set when the config is the empty descriptor; it
/// also tells clients and cleanup that this is no image). Distinct annotations give distinct
/// digests, so such a manifest can be deleted by digest without touching anything else. Its
/// blob must be pushed first (`Digest::of(EMPTY_JSON)`).
pub fn annotated_empty_manifest(artifact_type: &str, annotations: &BTreeMap<String, String>) -> bytes::Bytes {
    let empty = Digest::of(EMPTY_JSON);
    let descriptor = serde_json::json!({"mediaType": OCI_EMPTY, "digest": empty.as_str(), "size": EMPTY_JSON.len()});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": descriptor,
        "layers": [descriptor],
        "annotations": annotations,
    });
    bytes::Bytes::from(manifest.to_string())
}

/// A manifest's (or index's) annotations; empty when it has none.
pub fn annotations(bytes: &[u8]) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Annotated {
        #[serde(default)]
        annotations: BTreeMap<String, String>,
    }
    serde_json::from_slice::<Annotated>(bytes).map(|a| a.annotations).unwrap_or_default()
}

/// A manifest's `artifactType`, or for an image-spec 1.0-style artifact its config's media
/// type when that is not an image config; `None` for images and indexes without one.
pub fn artifact_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        artifact_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(bytes).ok()?.artifact_type.filter(|t| !t.is_empty())
}

/// The `subject` a manifest (or index) declares, with the `artifactType` its referrer
/// descriptor carries: its own, else its config's media type (OCI distribution spec 1.1,
/// "Listing Referrers"); `None` without a subject. Registries and static roots both read
/// referrers with this.
pub fn subject_of(bytes: &[u8]) -> Option<(Digest, Option<String>)> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        media_type: String,
    }
    #[derive(serde::Deserialize)]
    struct Subject {
        digest: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WithSubject {
        subject: Option<Subject>,
        artifact_type: Option<String>,
        config: Option<Typed>,
    }
    let m: WithSubject = serde_json::from_slice(bytes).ok()?;
    let subject = m.subject?.digest.parse().ok()?;
    let artifact_type =
        m.artifact_type.filter(|t| !t.is_empty()).or_else(|| m.config.map(|c| c.media_type).filter(|t| !t.is_empty()));
    Some((subject, artifact_type))
}

/// Whether `media_type` is an index / manifest list.
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Whether `media_type` is a single-image manifest.
pub fn is_image_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// A content descriptor: what a manifest says about a blob or a child manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// In a referrers index: the referrer's artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            annotations: None,
            artifact_type: None,
        }
    }
}

/// The platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// What a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestContent {
    Image { config: Descriptor, layers: Vec<Descriptor> },
    Index { manifests: Vec<Descriptor> },
}

impl ManifestContent {
    /// Every descriptor the manifest refers to (config first, then layers; or the children).
    pub fn references(&self) -> Vec<&Descriptor> {
        match self {
            ManifestContent::Image { config, layers } => std::iter::once(config).chain(layers).collect(),
            ManifestContent::Index { manifests } => manifests.iter().collect(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot read manifest ({media_type}): {detail}")]
pub struct ManifestError {
    pub media_type: String,
    pub detail: String,
}

/// Parses a manifest or index. `media_type` comes from the registry (Content-Type); when it is
/// not a known manifest type, the JSON's own `mediaType` or shape decides.
pub fn parse_manifest(bytes: &[u8], media_type: &str) -> Result<ManifestContent, ManifestError> {
    let err = |detail: String| ManifestError { media_type: media_type.to_string(), detail };
    let kind = if is_index(media_type) || is_image_manifest(media_type) {
        media_type.to_string()
    } else {
        sniff(bytes).map_err(err)?
    };
    if is_index(&kind) {
        let index = oci_spec::image::ImageIndex::from_reader(bytes).map_err(|e| err(e.to_string()))?;
        let manifests = index.manifests().iter().map(convert).collect::<Result<_, _>>().map_err(err)?;
        Ok(ManifestContent::Index { manifests })
    } else {
        let manifest = oci_spec::image::ImageManifest::from_reader(bytes).map_err(|e| err(e.to_string()))?;
        let config = convert(manifest.config()).map_err(err)?;
        let layers = manifest.layers().iter().map(convert).collect::<Result<_, _>>().map_err(err)?;
        Ok(ManifestContent::Image { config, layers })
    }
}

/// The manifest kind from the JSON: its `mediaType`, else `manifests` (index) or `layers`.
fn sniff(bytes: &[u8]) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(mt) = value.get("mediaType").and_then(|m| m.as_str())
        && (is_index(mt) || is_image_manifest(mt))
    {
        return Ok(mt.to_string());
    }
    if value.get("manifests").is_some() {
        Ok(OCI_INDEX.to_string())
    } else if value.get("layers").is_some() {
        Ok(OCI_MANIFEST.to_string())
    } else {
        Err("neither an image manifest nor an index".to_string())
    }
}

fn convert(d: &oci_spec::image::Descriptor) -> Result<Descriptor, String> {
    let digest: Digest = d.digest().to_string().parse().map_err(|e| format!("{e}"))?;
    let platform = d.platform().as_ref().map(|p| Platform {
        architecture: p.architecture().to_string(),
        os: p.os().to_string(),
        variant: p.variant().clone(),
    });
    let annotations = d.annotations().as_ref().map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let artifact_type = d.artifact_type().as_ref().map(|t| t.to_string());
    Ok(Descriptor {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
        platform,
        annotations,
        artifact_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn docker_manifest() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",
                "config":{{"mediaType":"{DOCKER_CONFIG}","size":7023,"digest":"{D1}"}},
                "layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","size":32654,"digest":"{D2}"}}]}}"#
        )
    }

    #[test]
    fn parses_docker_and_oci_manifests() {
        let m = parse_manifest(docker_manifest().as_bytes(), DOCKER_MANIFEST).unwrap();
        let ManifestContent::Image { config, layers } = &m else { panic!("{m:?}") };
        assert_eq!(config.media_type, DOCKER_CONFIG);
        assert_eq!(config.size, 7023);
        assert_eq!(layers[0].digest.as_str(), D2);
        assert_eq!(m.references().len(), 2);
        let oci = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","size":2,"digest":"{D1}"}},"layers":[],
                "annotations":{{"a":"b"}}}}"#
        );
        // Unknown content type: the shape decides.
        let m = parse_manifest(oci.as_bytes(), "application/octet-stream").unwrap();
        assert!(matches!(m, ManifestContent::Image { ref layers, .. } if layers.is_empty()));
    }

    #[test]
    fn parses_indexes_and_manifest_lists() {
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
                {{"mediaType":"{DOCKER_MANIFEST}","size":1,"digest":"{D1}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
                {{"mediaType":"{DOCKER_MANIFEST}","size":2,"digest":"{D2}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        );
        let m = parse_manifest(list.as_bytes(), "").unwrap();
        let ManifestContent::Index { manifests } = m else { panic!() };
        assert_eq!(manifests.len(), 2);
        let p = manifests[0].platform.as_ref().unwrap();
        assert_eq!((p.architecture.as_str(), p.os.as_str(), p.variant.as_deref()), ("arm64", "linux", Some("v8")));
    }

    #[test]
    fn rejects_bad_manifests() {
        assert!(parse_manifest(b"{}", "").is_err());
        assert!(parse_manifest(b"[", OCI_MANIFEST).is_err());
        let bad = r#"{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"sha512:00"},"layers":[]}"#;
        assert!(parse_manifest(bad.as_bytes(), OCI_MANIFEST).is_err());
    }

    #[test]
    fn descriptor_serde_uses_oci_field_names() {
        let d = Descriptor::new(OCI_LAYER_GZIP, D1.parse().unwrap(), 5);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!(r#"{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{D1}","size":5}}"#));
        assert_eq!(serde_json::from_str::<Descriptor>(&json).unwrap(), d);
    }
}
