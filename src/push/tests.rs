//! `wharf push` against the in-memory store: docker archives read as users make them (a
//! `docker save` layout), planned into one index per platform set, written blobs first and
//! tags last; a bad set writes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{PushError, PushOptions, execute, plan};
use crate::naming::TagOptions;
use crate::oci::source;
use crate::spec::manifest::OCI_INDEX;
use crate::store::ImageStore;
use crate::store::memory::MemoryStore;

/// A `docker save`-style archive of one image for `arch` whose one layer holds `content`.
fn archive(dir: &Path, arch: &str, content: &[u8]) -> PathBuf {
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    layer.append_data(&mut header, "hello.txt", content).unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = crate::spec::Digest::of(&layer);
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.description": format!("hello for {arch}")}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.as_str()]},
    })
    .to_string();
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": [format!("hello:{arch}")], "Layers": ["layer.tar"]}]);
    let path = dir.join(format!("{arch}.tar"));
    let mut out = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("config.json", config.as_bytes()),
        ("layer.tar", &layer[..]),
        ("manifest.json", manifest.to_string().as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, name, bytes).unwrap();
    }
    out.finish().unwrap();
    path
}

fn options(tags: &[&str]) -> PushOptions {
    PushOptions {
        tags: TagOptions { custom: tags.iter().map(|t| t.to_string()).collect(), ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test]
async fn two_platforms_become_one_index_written_children_first_and_tags_last() {
    let dir = tempfile::tempdir().unwrap();
    let sources = ["amd64", "arm64"]
        .map(|arch| source::read(&archive(dir.path(), arch, arch.as_bytes()).to_string_lossy(), dir.path()).unwrap());
    let store = MemoryStore::new("hello");
    let dest: Arc<dyn ImageStore> = Arc::new(store.clone());
    let planned = plan(&sources, &dest, &options(&["1.0", "latest"])).unwrap();
    assert_eq!(planned.media_type, OCI_INDEX);
    let platforms: Vec<&str> = planned.images.iter().map(|i| i.platform.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert!(store.space().writes.is_empty(), "planning writes nothing");

    let report = execute(planned).await.unwrap();
    let space = store.space();
    for tag in ["1.0", "latest"] {
        let (digest, media_type) = &space.tags[&("hello".to_string(), tag.to_string())];
        assert_eq!((digest, media_type.as_str()), (&report.plan.digest, OCI_INDEX));
    }
    let index: serde_json::Value = serde_json::from_slice(&space.blobs[&report.plan.digest]).unwrap();
    let children: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    let planned_children: Vec<&str> = report.plan.images.iter().map(|i| i.digest.as_str()).collect();
    assert_eq!(children, planned_children, "the index names the manifests that were written");
    assert_eq!(index["manifests"][1]["platform"]["architecture"], "arm64");
    let first_tag =
        space.writes.iter().position(|w| w.starts_with("manifest hello:1.0") || w.starts_with("manifest hello:latest"));
    let last_other = space
        .writes
        .iter()
        .rposition(|w| !(w.starts_with("manifest hello:1.0") || w.starts_with("manifest hello:latest")));
    assert!(first_tag > last_other, "tags come after every blob and child: {:?}", space.writes);
    assert_eq!(report.stats.blobs_uploaded, 4, "two configs and two layers: {:?}", report.stats);
}

#[tokio::test]
async fn two_images_of_one_platform_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir_in(dir.path()).unwrap();
    let b = tempfile::tempdir_in(dir.path()).unwrap();
    let sources = [archive(a.path(), "amd64", b"one"), archive(b.path(), "amd64", b"two")]
        .map(|p| source::read(&p.to_string_lossy(), dir.path()).unwrap());
    let store = MemoryStore::new("hello");
    let dest: Arc<dyn ImageStore> = Arc::new(store.clone());
    let err = plan(&sources, &dest, &options(&["1.0"])).unwrap_err();
    assert!(matches!(err, PushError::SamePlatform { ref platform, .. } if platform == "linux/amd64"), "{err}");
    assert!(store.space().writes.is_empty());
}
