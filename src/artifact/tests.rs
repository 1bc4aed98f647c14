//! Packing and unpacking artifacts: determinism, round trips, Helm charts, and what unpacking
//! refuses.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::pack::pack;
use super::unpack::{UnpackError, write_files};
use super::{ArtifactSpec, FileSpec, TITLE, helm};
use crate::store::{ImageStore, LayoutStore};

fn files(paths: &[&Path]) -> Vec<FileSpec> {
    paths.iter().map(|p| FileSpec { path: p.to_path_buf(), media_type: None }).collect()
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/tool"), b"#!/bin/sh\necho tool\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(root.join("bin/tool"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::write(root.join("README"), b"read me\n").unwrap();
    std::os::unix::fs::symlink("bin/tool", root.join("tool")).unwrap();
}

#[test]
fn the_same_tree_packs_to_the_same_digest_whatever_its_times_and_owners() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    tree(&a.path().join("dist"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    tree(&b.path().join("dist"));
    let spec = |root: &Path| ArtifactSpec { files: files(&[&root.join("dist")]), ..Default::default() };
    let pa = pack(&spec(a.path()), &a.path().join("staging")).unwrap();
    let pb = pack(&spec(b.path()), &b.path().join("staging")).unwrap();
    assert_eq!(pa.digest, pb.digest, "same bytes, same digest");
    assert_eq!(pa.artifact_type, super::DEFAULT_ARTIFACT_TYPE);
    let m: serde_json::Value = serde_json::from_slice(&pa.manifest).unwrap();
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    assert_eq!(m["layers"][0]["annotations"][TITLE], "dist");
    assert_eq!(m["layers"][0]["annotations"]["io.deis.oras.content.unpack"], "true");
}

#[tokio::test]
async fn files_and_directories_come_back_byte_identical() {
    let src = tempfile::tempdir().unwrap();
    tree(&src.path().join("dist"));
    std::fs::write(src.path().join("pack-1.0.0.tar.gz"), b"\x1f\x8bnot really gzip").unwrap();
    let spec = ArtifactSpec {
        files: files(&[&src.path().join("pack-1.0.0.tar.gz"), &src.path().join("dist")]),
        artifact_type: Some("application/vnd.example.pack".into()),
        ..Default::default()
    };
    let packed = pack(&spec, &src.path().join("staging")).unwrap();
    let store: Arc<dyn ImageStore> = LayoutStore::shared(packed.blobs.clone(), "x");
    let out = tempfile::tempdir().unwrap();
    let written = write_files(store.as_ref(), &packed.layers, out.path(), false).await.unwrap();
    assert_eq!(written.len(), 2);
    assert_eq!(std::fs::read(out.path().join("pack-1.0.0.tar.gz")).unwrap(), b"\x1f\x8bnot really gzip");
    assert_eq!(std::fs::read(out.path().join("dist/bin/tool")).unwrap(), b"#!/bin/sh\necho tool\n");
    assert_eq!(std::fs::read_link(out.path().join("dist/tool")).unwrap(), Path::new("bin/tool"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(out.path().join("dist/bin/tool")).unwrap().permissions().mode() & 0o777, 0o755);

    // Existing files stay unless forced.
    let again = write_files(store.as_ref(), &packed.layers, out.path(), false).await;
    assert!(matches!(again, Err(UnpackError::Exists { .. })), "{again:?}");
    write_files(store.as_ref(), &packed.layers, out.path(), true).await.unwrap();
}

#[tokio::test]
async fn hostile_titles_and_links_are_refused_before_anything_is_written() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"x").unwrap();
    let packed = pack(
        &ArtifactSpec { files: files(&[&src.path().join("f")]), ..Default::default() },
        &src.path().join("staging"),
    )
    .unwrap();
    let store: Arc<dyn ImageStore> = LayoutStore::shared(packed.blobs.clone(), "x");
    for title in ["../escape", "/etc/passwd", "a/../../b"] {
        let mut layers = packed.layers.clone();
        layers[0].annotations = Some(BTreeMap::from([(TITLE.to_string(), title.to_string())]));
        let out = tempfile::tempdir().unwrap();
        let r = write_files(store.as_ref(), &layers, out.path(), true).await;
        assert!(matches!(r, Err(UnpackError::Unsafe { .. })), "{title}: {r:?}");
    }
    // A symbolic link already in the output directory is never written through.
    let out = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), out.path().join("sub")).unwrap();
    let mut layers = packed.layers.clone();
    layers[0].annotations = Some(BTreeMap::from([(TITLE.to_string(), "sub/f".to_string())]));
    assert!(matches!(write_files(store.as_ref(), &layers, out.path(), true).await, Err(UnpackError::Unsafe { .. })));
    assert!(!elsewhere.path().join("f").exists());
}

#[test]
fn a_helm_chart_is_pushed_with_helm_s_media_types() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("app-0.3.1.tgz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&chart).unwrap(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in [
        ("app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.3.1\ndescription: demo\n"),
        ("app/values.yaml", "replicas: 1\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    assert_eq!(helm::detect(&chart).unwrap().unwrap().version, "0.3.1");
    let packed =
        pack(&ArtifactSpec { files: files(&[&chart]), ..Default::default() }, &dir.path().join("staging")).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&packed.manifest).unwrap();
    assert_eq!(m["config"]["mediaType"], helm::CONFIG_TYPE);
    assert_eq!(m["layers"][0]["mediaType"], helm::CHART_TYPE);
    assert!(m.get("artifactType").is_none(), "helm sets none");
    assert_eq!(m["annotations"]["org.opencontainers.image.version"], "0.3.1");
    // Not a chart: a plain gzip file.
    std::fs::write(dir.path().join("x.tgz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    assert!(helm::detect(&dir.path().join("x.tgz")).unwrap().is_none());
}
