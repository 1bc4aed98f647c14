//! Multi-platform images: each platform is a stage of its own (its own stage digest, built
//! and stored like any stage); the image is the OCI index over them, written with the index
//! code of `wharf push` ([`crate::push::annotate::build_index`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::push::annotate::{IndexEntry, build_index};
use crate::spec::Digest;
use crate::spec::manifest::{OCI_INDEX, Platform};
use crate::store::{Image, ImageStore};

/// `os/arch[/variant]` as an index entry's platform.
pub fn parse(platform: &str) -> Result<Platform, String> {
    let mut parts = platform.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() && variant != Some("") => {
            Ok(Platform { os: os.to_string(), architecture: arch.to_string(), variant: variant.map(str::to_string) })
        }
        _ => Err(format!("platform {platform:?}: expected os/arch or os/arch/variant (linux/arm64, linux/arm/v7)")),
    }
}

/// The index over `children` (one image per platform, in the given order).
pub fn index(children: Vec<(String, Image)>, origin: Arc<dyn ImageStore>) -> Result<Image, String> {
    let entries = children
        .iter()
        .map(|(platform, image)| {
            Ok(IndexEntry {
                media_type: image.media_type.clone(),
                digest: image.digest.clone(),
                size: image.manifest.len() as u64,
                platform: parse(platform)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let manifest = build_index(&entries, &BTreeMap::new())?;
    Ok(Image {
        digest: Digest::of(&manifest),
        manifest,
        media_type: OCI_INDEX.to_string(),
        blobs: Vec::new(),
        children: children.into_iter().map(|(_, image)| image).collect(),
        origin,
    })
}

/// The child of `image` for `platform` (an index's entry, or the image itself when it is a
/// single manifest), for a dependency imported by a build of that platform.
pub fn child_for<'a>(image: &'a Image, platform: Option<&str>) -> Option<&'a Image> {
    if image.children.is_empty() {
        return Some(image);
    }
    let wanted = platform.and_then(|p| parse(p).ok());
    let entries: Vec<crate::spec::manifest::Descriptor> = serde_json::from_slice::<serde_json::Value>(&image.manifest)
        .ok()
        .and_then(|v| serde_json::from_value(v["manifests"].clone()).ok())
        .unwrap_or_default();
    let key = |p: &Platform| crate::push::annotate::platform_key(p);
    let digest = match &wanted {
        Some(w) => {
            entries.iter().find(|d| d.platform.as_ref().is_some_and(|p| key(p) == key(w))).map(|d| d.digest.clone())
        }
        None => entries.first().map(|d| d.digest.clone()),
    }?;
    image.children.iter().find(|c| c.digest == digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn image(n: u8) -> Image {
        let manifest = bytes::Bytes::from(format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":{n}}}"#
        ));
        Image {
            digest: Digest::of(&manifest),
            manifest,
            media_type: crate::spec::manifest::OCI_MANIFEST.into(),
            blobs: Vec::new(),
            children: Vec::new(),
            origin: std::sync::Arc::new(MemoryStore::new("m")),
        }
    }

    #[test]
    fn platforms_parse() {
        assert_eq!(
            parse("linux/arm/v7").unwrap(),
            Platform { os: "linux".into(), architecture: "arm".into(), variant: Some("v7".into()) }
        );
        assert_eq!(parse("linux/amd64").unwrap().variant, None);
        for bad in ["linux", "linux/", "/amd64", "linux/arm/", "a/b/c/d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_index_lists_each_platform_and_finds_its_child() {
        let (amd, arm) = (image(1), image(2));
        let idx = index(
            vec![("linux/amd64".into(), amd.clone()), ("linux/arm64".into(), arm.clone())],
            std::sync::Arc::new(MemoryStore::new("m")),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&idx.manifest).unwrap();
        assert_eq!(v["mediaType"], OCI_INDEX);
        assert_eq!(v["manifests"][1]["platform"]["architecture"], "arm64");
        assert_eq!(v["manifests"][1]["digest"], arm.digest.to_string());
        assert_eq!(child_for(&idx, Some("linux/arm64")).unwrap().digest, arm.digest);
        assert_eq!(
            child_for(&idx, Some("linux/arm64/v8")).unwrap().digest,
            arm.digest,
            "the default variant is the same platform"
        );
        assert!(child_for(&idx, Some("linux/s390x")).is_none());
        assert_eq!(
            child_for(&amd, Some("linux/s390x")).unwrap().digest,
            amd.digest,
            "a single image serves every platform"
        );
    }
}
