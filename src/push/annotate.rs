//! Annotations for `wharf push`: what the user gave, what the git checkout and the image
//! labels fill in, and the manifests and index rewritten to carry them. Pure functions.
//!
//! `--annotation KEY=VALUE` goes on every manifest and on the index; `manifest:KEY=VALUE` and
//! `index:KEY=VALUE` (buildx's prefixes) on one of them only. A key nobody gave is filled,
//! unless defaults are off, from the image config's label of the same name (what the build
//! knew), else from the checkout (`source`, `revision`, `created`). GitHub reads a multi-arch
//! package's description and licence from its index, so every default lands there too.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::str::FromStr;

use crate::spec::digest::Digest;
use crate::spec::manifest::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, Descriptor, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP,
    OCI_MANIFEST, Platform,
};

pub const SOURCE: &str = "org.opencontainers.image.source";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const CREATED: &str = "org.opencontainers.image.created";
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
pub const LICENSES: &str = "org.opencontainers.image.licenses";

/// Config labels copied into annotations of the same name when not given.
const FROM_LABELS: [&str; 10] = [
    SOURCE,
    REVISION,
    CREATED,
    DESCRIPTION,
    LICENSES,
    "org.opencontainers.image.title",
    "org.opencontainers.image.url",
    "org.opencontainers.image.documentation",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.version",
];

/// Where an annotation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Both,
    Manifest,
    Index,
}

/// One `--annotation [manifest:|index:]KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub scope: Scope,
    pub key: String,
    pub value: String,
}

impl FromStr for Annotation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (scope, rest) = if let Some(r) = s.strip_prefix("manifest:") {
            (Scope::Manifest, r)
        } else if let Some(r) = s.strip_prefix("index:") {
            (Scope::Index, r)
        } else {
            (Scope::Both, s)
        };
        let (key, value) = rest.split_once('=').ok_or_else(|| format!("annotation {s:?}: expected KEY=VALUE"))?;
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("annotation {s:?}: the key must be non-empty, without spaces"));
        }
        Ok(Annotation { scope, key: key.to_string(), value: value.to_string() })
    }
}

/// What the checkout says, for `source`, `revision` and `created`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    pub source: Option<String>,
    pub revision: Option<String>,
    /// RFC 3339, the commit's time (so the same commit gives the same digests).
    pub created: Option<String>,
}

/// The annotations to apply: given ones, and whether and from what to fill the rest.
#[derive(Debug, Clone, Default)]
pub struct AnnotationPlan {
    pub given: Vec<Annotation>,
    pub provenance: Provenance,
    /// Fill keys nobody gave from labels and provenance.
    pub defaults: bool,
}

impl AnnotationPlan {
    fn given(&self, scope: Scope) -> BTreeMap<String, String> {
        self.given
            .iter()
            .filter(|a| a.scope == Scope::Both || a.scope == scope)
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect()
    }

    fn provenance(&self) -> BTreeMap<String, String> {
        let p = &self.provenance;
        [(SOURCE, &p.source), (REVISION, &p.revision), (CREATED, &p.created)]
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
            .collect()
    }

    /// The annotations of one image manifest whose config has `labels`.
    pub fn for_manifest(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = self.given(Scope::Manifest);
        if self.defaults {
            let from_labels = FROM_LABELS.iter().filter_map(|k| labels.get(*k).map(|v| (k.to_string(), v.clone())));
            for (k, v) in from_labels.chain(self.provenance()) {
                out.entry(k).or_insert(v);
            }
        }
        out
    }

    /// The annotations of the index over images with these labels: a label counts when every
    /// image that has it agrees on its value.
    pub fn for_index(&self, labels: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
        let mut out = self.given(Scope::Index);
        if self.defaults {
            for key in FROM_LABELS {
                let mut values = labels.iter().filter_map(|l| l.get(key));
                if let Some(first) = values.next()
                    && values.all(|v| v == first)
                {
                    out.entry(key.to_string()).or_insert_with(|| first.clone());
                }
            }
            for (k, v) in self.provenance() {
                out.entry(k).or_insert(v);
            }
        }
        out
    }
}

/// `manifest` with `extra` annotations merged in (given values win over the manifest's own).
/// Unchanged bytes when there is nothing to add, so an image pushed as it is keeps its digest.
/// A Docker manifest that gets annotations becomes an OCI manifest (Docker's schema has no
/// annotations); the blobs stay the same.
pub fn annotate_manifest(
    manifest: &Bytes,
    media_type: &str,
    extra: &BTreeMap<String, String>,
) -> Result<(Bytes, String), String> {
    let mut v: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let obj = v.as_object_mut().ok_or("manifest is not a JSON object")?;
    let mut annotations: BTreeMap<String, String> = match obj.get("annotations") {
        Some(a) => serde_json::from_value(a.clone()).map_err(|e| format!("manifest annotations: {e}"))?,
        None => BTreeMap::new(),
    };
    let before = annotations.clone();
    annotations.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    if annotations == before {
        return Ok((manifest.clone(), media_type.to_string()));
    }
    if media_type == DOCKER_MANIFEST {
        to_oci(obj);
    }
    obj.insert("annotations".into(), serde_json::to_value(&annotations).map_err(|e| e.to_string())?);
    let media_type = obj.get("mediaType").and_then(|m| m.as_str()).unwrap_or(media_type).to_string();
    let bytes = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
    Ok((Bytes::from(bytes), media_type))
}

/// Docker schema 2 media types → their OCI equivalents (same blobs).
fn to_oci(obj: &mut serde_json::Map<String, serde_json::Value>) {
    let map = |mt: &str| -> Option<&'static str> {
        match mt {
            DOCKER_CONFIG => Some(OCI_CONFIG),
            DOCKER_LAYER_GZIP => Some(OCI_LAYER_GZIP),
            "application/vnd.docker.image.rootfs.diff.tar" => Some(OCI_LAYER),
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
            }
            _ => None,
        }
    };
    obj.insert("mediaType".into(), OCI_MANIFEST.into());
    let fix = |d: &mut serde_json::Value| {
        if let Some(new) = d.get("mediaType").and_then(|m| m.as_str()).and_then(map) {
            d["mediaType"] = new.into();
        }
    };
    if let Some(config) = obj.get_mut("config") {
        fix(config);
    }
    for layer in obj.get_mut("layers").and_then(|l| l.as_array_mut()).into_iter().flatten() {
        fix(layer);
    }
}

/// One entry of an index being built.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platform: Platform,
}

/// An OCI image index over `entries`, in their order, with `annotations`.
pub fn build_index(entries: &[IndexEntry], annotations: &BTreeMap<String, String>) -> Result<Bytes, String> {
    let manifests: Vec<Descriptor> = entries
        .iter()
        .map(|e| Descriptor {
            platform: Some(e.platform.clone()),
            ..Descriptor::new(e.media_type.clone(), e.digest.clone(), e.size)
        })
        .collect();
    let mut index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    if !annotations.is_empty() {
        index["annotations"] = serde_json::to_value(annotations).map_err(|e| e.to_string())?;
    }
    serde_json::to_vec(&index).map(Bytes::from).map_err(|e| e.to_string())
}

/// `os/arch[/variant]`, with the variants that mean "the default" dropped (`arm64/v8`,
/// `amd64/v1`), so the same platform written two ways is recognised.
pub fn platform_key(p: &Platform) -> String {
    let variant = match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", Some("v8")) | ("amd64", Some("v1")) | (_, None) => None,
        (_, Some(v)) => Some(v),
    };
    match variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn annotation_flags_parse_with_scopes() {
        let a: Annotation = "index:org.opencontainers.image.description=a = b".parse().unwrap();
        assert_eq!((a.scope, a.key.as_str(), a.value.as_str()), (Scope::Index, DESCRIPTION, "a = b"));
        assert_eq!("k=".parse::<Annotation>().unwrap().scope, Scope::Both);
        assert_eq!("manifest:k=v".parse::<Annotation>().unwrap().scope, Scope::Manifest);
        assert!("novalue".parse::<Annotation>().is_err());
        assert!("=v".parse::<Annotation>().is_err());
    }

    #[test]
    fn given_beats_labels_beat_git() {
        let plan = AnnotationPlan {
            given: vec![
                "a=1".parse().unwrap(),
                "index:only-index=x".parse().unwrap(),
                "manifest:only-manifest=y".parse().unwrap(),
            ],
            provenance: Provenance { source: Some("https://git".into()), revision: Some("abc".into()), created: None },
            defaults: true,
        };
        let labels = map(&[(REVISION, "from-label"), (DESCRIPTION, "d"), ("other", "z")]);
        let m = plan.for_manifest(&labels);
        assert_eq!(
            m,
            map(&[
                ("a", "1"),
                ("only-manifest", "y"),
                (REVISION, "from-label"),
                (DESCRIPTION, "d"),
                (SOURCE, "https://git")
            ])
        );
        let other = map(&[(DESCRIPTION, "different")]);
        let i = plan.for_index(&[&labels, &other]);
        assert_eq!(
            i,
            map(&[("a", "1"), ("only-index", "x"), (REVISION, "from-label"), (SOURCE, "https://git")]),
            "disagreeing labels stay off the index"
        );
        let off = AnnotationPlan { defaults: false, ..plan };
        assert_eq!(off.for_manifest(&labels), map(&[("a", "1"), ("only-manifest", "y")]));
    }

    #[test]
    fn nothing_to_add_keeps_the_bytes_and_docker_manifests_become_oci() {
        let oci = Bytes::from_static(br#"{"schemaVersion":2, "layers":[], "annotations":{"k":"v"}}"#);
        let (same, _) = annotate_manifest(&oci, OCI_MANIFEST, &map(&[("k", "v")])).unwrap();
        assert_eq!(same, oci);
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"x","size":1}},"layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","digest":"y","size":2}}]}}"#
        );
        let (bytes, mt) = annotate_manifest(&Bytes::from(docker), DOCKER_MANIFEST, &map(&[("k", "v")])).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(mt, OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], OCI_CONFIG);
        assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_GZIP);
        assert_eq!(v["annotations"]["k"], "v");
    }

    #[test]
    fn platforms_compare_by_their_meaning() {
        let p = |a: &str, v: Option<&str>| Platform {
            architecture: a.into(),
            os: "linux".into(),
            variant: v.map(String::from),
        };
        assert_eq!(platform_key(&p("arm64", Some("v8"))), platform_key(&p("arm64", None)));
        assert_eq!(platform_key(&p("arm", Some("v6"))), "linux/arm/v6");
        assert_ne!(platform_key(&p("arm", Some("v6"))), platform_key(&p("arm", Some("v7"))));
    }
}
