//! The stage digest: sha256 over the canonical inputs of a build.
//!
//! Inputs, each written as a labelled line in a fixed order: a format version, the
//! instructions of the stages the target needs, target, platforms, sorted build args, the
//! digest of the context files those stages copy, the identity of every external base
//! image, the stage digest of every dependency, the ids (never the values) of the build
//! secrets and ssh agents the build gets, and werf's `cacheVersion` and `imageSpec` when set
//! (a field that is absent adds nothing, so digests of images without them stay what they
//! were). Each platform of a multi-platform image has its own stage digest; the image is
//! named by [`index_digest`] over them. Nothing machine-specific (paths, mtimes, engine IDs of
//! locally built images) goes in, so another runner computes the same digest.

use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Bump when the canonical form changes: every stage is rebuilt once.
pub const FORMAT: &str = "wharf-stage-v1";

pub struct Inputs<'a> {
    pub instructions: &'a str,
    pub target: Option<&'a str>,
    pub platforms: &'a [String],
    pub args: &'a BTreeMap<String, String>,
    pub context_digest: &'a str,
    pub bases: &'a BTreeMap<String, String>,
    pub dependencies: &'a BTreeMap<String, String>,
    /// Build args filled from dependencies (`arg → image:kind`).
    pub dependency_args: &'a BTreeMap<String, String>,
    /// `secret:ID` / `ssh:ID` of the secrets and agents the build gets (never their values).
    pub secret_ids: &'a [String],
    /// werf's `cacheVersion` (the image's, else `build.cacheVersion`).
    pub cache_version: Option<&'a str>,
    /// The canonical form of the image's `imageSpec`.
    pub image_spec: Option<&'a str>,
}

/// The 64-hex stage digest of `inputs`.
pub fn stage_digest(inputs: &Inputs<'_>) -> String {
    let mut h = Sha256::new();
    let mut field = |label: &str, value: &str| {
        h.update(label.as_bytes());
        h.update(b"\0");
        h.update((value.len() as u64).to_be_bytes());
        h.update(value.as_bytes());
    };
    field("format", FORMAT);
    field("instructions", inputs.instructions);
    field("target", inputs.target.unwrap_or(""));
    for p in inputs.platforms {
        field("platform", p);
    }
    for (k, v) in inputs.args {
        field("arg", &format!("{k}={v}"));
    }
    field("context", inputs.context_digest);
    for (reference, id) in inputs.bases {
        field("base", &format!("{reference}@{id}"));
    }
    for (name, digest) in inputs.dependencies {
        field("dependency", &format!("{name}={digest}"));
    }
    for (arg, source) in inputs.dependency_args {
        field("dependency-arg", &format!("{arg}={source}"));
    }
    for id in inputs.secret_ids {
        field("build-secret", id);
    }
    if let Some(v) = inputs.cache_version {
        field("cache-version", v);
    }
    if let Some(spec) = inputs.image_spec {
        field("image-spec", spec);
    }
    hex::encode(h.finalize())
}

/// The digest naming a multi-platform image: over each platform and its stage digest, so
/// it changes exactly when one platform's stage does.
pub fn index_digest(platforms: &[super::PlatformStage]) -> String {
    let mut h = Sha256::new();
    let mut sorted: Vec<(&str, &str)> =
        platforms.iter().map(|p| (p.platform.as_deref().unwrap_or(""), p.digest.as_str())).collect();
    sorted.sort();
    h.update(b"wharf-index-v1\0");
    for (platform, digest) in sorted {
        h.update((platform.len() as u64).to_be_bytes());
        h.update(platform.as_bytes());
        h.update(digest.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_inputs<'a>(args: &'a BTreeMap<String, String>, empty: &'a BTreeMap<String, String>) -> Inputs<'a> {
        Inputs {
            instructions: "FROM a\n",
            target: None,
            platforms: &[],
            args,
            context_digest: "c",
            bases: empty,
            dependencies: empty,
            dependency_args: empty,
            secret_ids: &[],
            cache_version: None,
            image_spec: None,
        }
    }

    #[test]
    fn every_input_changes_the_digest() {
        let empty = BTreeMap::new();
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let d0 = stage_digest(&base_inputs(&args, &empty));
        assert_eq!(d0.len(), 64);
        assert_eq!(d0, stage_digest(&base_inputs(&args, &empty)), "deterministic");
        let other_args = BTreeMap::from([("A".to_string(), "2".to_string())]);
        assert_ne!(d0, stage_digest(&base_inputs(&other_args, &empty)));
        assert_ne!(d0, stage_digest(&Inputs { target: Some("x"), ..base_inputs(&args, &empty) }));
        assert_ne!(d0, stage_digest(&Inputs { context_digest: "d", ..base_inputs(&args, &empty) }));
        assert_ne!(d0, stage_digest(&Inputs { instructions: "FROM b\n", ..base_inputs(&args, &empty) }));
        let bases = BTreeMap::from([("a".to_string(), "sha256:1".to_string())]);
        assert_ne!(d0, stage_digest(&Inputs { bases: &bases, ..base_inputs(&args, &empty) }));
        let deps = BTreeMap::from([("backend".to_string(), "ff".to_string())]);
        assert_ne!(d0, stage_digest(&Inputs { dependencies: &deps, ..base_inputs(&args, &empty) }));
        let ids = ["secret:npm".to_string()];
        assert_ne!(d0, stage_digest(&Inputs { secret_ids: &ids, ..base_inputs(&args, &empty) }), "secret ids count");
        let v1 = stage_digest(&Inputs { cache_version: Some("1"), ..base_inputs(&args, &empty) });
        assert_ne!(d0, v1, "setting cacheVersion rebuilds");
        assert_ne!(
            v1,
            stage_digest(&Inputs { cache_version: Some("2"), ..base_inputs(&args, &empty) }),
            "bumping it rebuilds again"
        );
        assert_ne!(d0, stage_digest(&Inputs { image_spec: Some("{}"), ..base_inputs(&args, &empty) }));
    }

    /// Images without the werf keys added later keep the digests they had (no rebuild of
    /// every existing stage when upgrading wharf).
    #[test]
    fn absent_werf_keys_leave_digests_unchanged() {
        let empty = BTreeMap::new();
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(
            stage_digest(&base_inputs(&args, &empty)),
            "1892b34c519367ff7370a4cc2bd2b096c7561a4d1f319b606f946aeabe33dd2c"
        );
    }

    #[test]
    fn each_platform_counts_in_the_index_digest() {
        use crate::build::PlatformStage;
        let p = |platform: &str, digest: &str| PlatformStage { platform: Some(platform.into()), digest: digest.into() };
        let a = index_digest(&[p("linux/amd64", "1"), p("linux/arm64", "2")]);
        assert_eq!(a, index_digest(&[p("linux/arm64", "2"), p("linux/amd64", "1")]), "order does not matter");
        assert_ne!(a, index_digest(&[p("linux/amd64", "1"), p("linux/arm64", "3")]));
        assert_ne!(a, index_digest(&[p("linux/amd64", "1")]));
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let empty = BTreeMap::new();
        let a = BTreeMap::from([("A".to_string(), "1\0arg\0B=2".to_string())]);
        let b = BTreeMap::from([("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())]);
        assert_ne!(stage_digest(&base_inputs(&a, &empty)), stage_digest(&base_inputs(&b, &empty)));
    }
}
