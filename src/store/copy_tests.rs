//! Copy, publish and cleanup execution against the in-memory store: what is written, in which
//! order, and what is never written.

use bytes::Bytes;
use std::sync::Arc;

use super::memory::MemoryStore;
use super::{ImageStore, Location, copy, copy_all};
use crate::spec::Digest;
use crate::spec::manifest::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};

/// An image of one config and `layers` layers in `origin` (blobs stored, manifest not tagged).
pub(crate) fn image_in(origin: &MemoryStore, name: &str, layers: &[&[u8]]) -> super::Image {
    let config = origin.add_blob(format!("{{\"created\":\"2024-01-01T00:00:00Z\",\"name\":\"{name}\"}}").as_bytes());
    let layer_descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": OCI_LAYER_GZIP, "digest": origin.add_blob(l).as_str(), "size": l.len()}))
        .collect();
    let config_size = origin.space().blobs[&config].len();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.as_str(), "size": config_size}, "layers": layer_descs});
    let bytes = Bytes::from(manifest.to_string());
    super::Image::from_manifest(&name, bytes.clone(), OCI_MANIFEST.into(), Digest::of(&bytes), Arc::new(origin.clone()))
        .unwrap()
}

pub(crate) fn index_of(children: Vec<super::Image>) -> super::Image {
    let entries: Vec<serde_json::Value> = children
        .iter()
        .map(|c| serde_json::json!({"mediaType": OCI_MANIFEST, "digest": c.digest.as_str(), "size": c.manifest.len()}))
        .collect();
    let bytes =
        Bytes::from(serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).to_string());
    let origin = children[0].origin.clone();
    super::Image {
        digest: Digest::of(&bytes),
        manifest: bytes,
        media_type: OCI_INDEX.into(),
        blobs: Vec::new(),
        children,
        origin,
    }
}

fn loc(store: &MemoryStore, tag: &str) -> Location {
    Location::new(Arc::new(store.clone()), tag)
}

#[tokio::test]
async fn an_index_goes_blobs_first_children_by_digest_then_the_tags_last() {
    let origin = MemoryStore::new("src");
    let shared_layer: &[u8] = b"base layer";
    let index = index_of(vec![
        image_in(&origin, "amd64", &[shared_layer, b"amd64 layer"]),
        image_in(&origin, "arm64", &[shared_layer, b"arm64 layer"]),
    ]);
    let dest = MemoryStore::new("dest");
    let stats = copy_all(&index, &[loc(&dest, "v1"), loc(&dest, "latest")]).await.unwrap();

    // 2 configs + 3 distinct layers, the shared one once (the second is found present).
    assert_eq!(stats.blobs_uploaded, 5, "{stats:?}");
    let writes = dest.space().writes.clone();
    let first_tag = writes.iter().position(|w| w.ends_with(":v1") || w.ends_with(":latest")).unwrap();
    assert!(
        writes[..first_tag].iter().filter(|w| w.starts_with("manifest")).count() == 2,
        "both children before any tag: {writes:?}"
    );
    assert!(
        writes[first_tag..].iter().all(|w| w.starts_with("manifest dest:")) && writes.len() - first_tag == 2,
        "tags last: {writes:?}"
    );
    for tag in ["v1", "latest"] {
        assert_eq!(dest.resolve(tag).await.unwrap(), Some(index.digest.clone()));
    }
    let read = super::Image::read(&loc(&dest, "v1")).await.unwrap().unwrap();
    assert_eq!(read.children.len(), 2, "the copy reads back whole");
}

#[tokio::test]
async fn a_second_copy_writes_nothing_and_a_new_tag_writes_only_the_tag() {
    let origin = MemoryStore::new("src");
    let image = image_in(&origin, "app", &[b"layer"]);
    let dest = MemoryStore::new("dest");
    copy(&image, &loc(&dest, "v1")).await.unwrap();
    let before = dest.space().writes.len();
    let again = copy(&image, &loc(&dest, "v1")).await.unwrap();
    assert_eq!((again.blobs_uploaded, again.manifest_written), (0, false));
    assert_eq!(dest.space().writes.len(), before, "a tag already on the image is not rewritten");
    let retag = copy(&image, &loc(&dest, "v2")).await.unwrap();
    assert_eq!((retag.blobs_uploaded, retag.manifest_written), (0, true));
    assert_eq!(dest.space().writes[before..], [String::from("manifest dest:v2")]);
}

#[tokio::test]
async fn a_missing_blob_fails_the_copy_before_any_tag_is_written() {
    let origin = MemoryStore::new("src");
    let image = image_in(&origin, "app", &[b"layer one", b"layer two"]);
    let lost = image.blobs[2].digest.clone();
    origin.space().blobs.remove(&lost);
    let dest = MemoryStore::new("dest");
    assert!(copy(&image, &loc(&dest, "v1")).await.is_err());
    assert_eq!(dest.resolve("v1").await.unwrap(), None, "no tag on a partial image");
    assert!(dest.space().writes.iter().all(|w| w.starts_with("blob")));
}

#[tokio::test]
async fn publish_plans_locations_per_repo_mode_and_copies_to_each() {
    use crate::naming::{Layout, TagOptions};
    let origin = MemoryStore::new("src");
    let image = image_in(&origin, "backend", &[b"layer"]);
    let acme = origin.sibling("acme");
    let base: Arc<dyn ImageStore> = Arc::new(acme.clone());
    let opts = TagOptions { custom: vec!["v1".into()], ..TagOptions::default() };
    let images = vec![
        (Some("backend".to_string()), "a".repeat(64), true),
        (Some("backend-api".to_string()), "b".repeat(64), true),
    ];
    let multi = crate::publish::plan(&base, Layout::Multirepo, &images, &opts).unwrap();
    assert_eq!(multi[0].locations[0].to_string(), "memory:acme/backend:v1");
    let mono = crate::publish::plan(&base, Layout::Monorepo, &images, &opts).unwrap();
    assert_eq!(mono[1].locations[0].to_string(), "memory:acme:backend-api-v1");
    let stats = crate::publish::execute(&image, &mono[0]).await.unwrap();
    assert!(stats.manifest_written);
    assert_eq!(acme.resolve("backend-v1").await.unwrap(), Some(image.digest.clone()), "published where the plan said");
}

#[tokio::test]
async fn werf_custom_tags_are_placed_as_written_and_a_shared_one_is_werfs_error() {
    use crate::naming::custom_tag::CustomTag;
    use crate::naming::{Layout, TagOptions};
    let base: Arc<dyn ImageStore> = Arc::new(MemoryStore::new("acme"));
    let custom = |t: &str| TagOptions {
        by_signature: true,
        add_custom: vec![CustomTag::parse(t).unwrap()],
        ..TagOptions::default()
    };
    let images =
        vec![(Some("api".to_string()), "a".repeat(64), true), (Some("base".to_string()), "b".repeat(64), false)];
    let mono = crate::publish::plan(&base, Layout::Monorepo, &images, &custom("%image%-v1")).unwrap();
    let refs: Vec<String> = mono[0].locations.iter().map(|l| l.to_string()).collect();
    assert_eq!(
        refs,
        [format!("memory:acme:api-{}", "a".repeat(64)), "memory:acme:api-v1".to_string()],
        "no second `api-` prefix"
    );
    assert!(mono[1].locations.is_empty() && mono[1].tags.is_empty(), "final: false gets no reference");
    let multi = crate::publish::plan(&base, Layout::Multirepo, &images, &custom("%image%-v1")).unwrap();
    assert_eq!(multi[0].locations[1].to_string(), "memory:acme/api:api-v1");
    // One published image may take a tag without its name; two may not share it.
    assert!(crate::publish::plan(&base, Layout::Monorepo, &images, &custom("latest")).is_ok());
    let two = vec![(Some("api".to_string()), "a".repeat(64), true), (Some("web".to_string()), "b".repeat(64), true)];
    let err = crate::publish::plan(&base, Layout::Monorepo, &two, &custom("latest")).unwrap_err().to_string();
    assert!(err.contains("gives every image the same tag") && err.contains("%image%-latest"), "{err}");
    assert!(
        crate::publish::plan(&base, Layout::Multirepo, &two, &custom("latest")).is_ok(),
        "multirepo: each in its own repository"
    );
}
