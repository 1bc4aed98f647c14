//! Tests of [`static_root`](super::static_root) on a directory root.

use super::root::*;
use crate::spec::digest::Digest;
use bytes::Bytes;

#[tokio::test]
async fn a_tag_writes_the_digest_file_the_media_type_and_the_tag_list() {
    let dir = tempfile::tempdir().unwrap();
    let root = StaticRoot::dir(dir.path());
    let bytes = Bytes::from_static(br#"{"schemaVersion":2}"#);
    let digest = Digest::of(&bytes);
    root.put_manifest("acme/app", "v1", "application/vnd.oci.image.index.v1+json", &bytes).await.unwrap();
    root.put_manifest("acme/app", "v2", "application/vnd.oci.image.index.v1+json", &bytes).await.unwrap();
    let repo = dir.path().join("v2/acme/app");
    assert_eq!(std::fs::read(repo.join("manifests").join(digest.as_str())).unwrap(), bytes);
    assert_eq!(std::fs::read(repo.join("manifests/v1")).unwrap(), bytes);
    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("tags/list")).unwrap()).unwrap();
    assert_eq!(list, serde_json::json!({"name": "acme/app", "tags": ["v1", "v2"]}));
    let (_, mt) = root.read_manifest("acme/app", digest.as_str()).await.unwrap().unwrap();
    assert_eq!(mt, "application/vnd.oci.image.index.v1+json");
    assert_eq!(root.resolve("acme/app", "v1").await.unwrap(), Some(digest));
    assert_eq!(root.resolve("acme/app", "nope").await.unwrap(), None);
    assert!(root.put_manifest("../escape", "v1", "x", &bytes).await.is_err());
    assert!(root.put_manifest("acme/app", "../../x", "x", &bytes).await.is_err());
    let other = Digest::of(b"other");
    assert!(
        root.put_manifest("acme/app", other.as_str(), "x", &bytes).await.is_err(),
        "bytes must match a digest reference"
    );
}

#[tokio::test]
async fn blobs_are_copied_into_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = StaticRoot::dir(dir.path());
    let src = dir.path().join("src");
    std::fs::write(&src, b"layer").unwrap();
    let d = Digest::of(b"layer");
    assert!(!root.has_blob("a", &d).await.unwrap());
    root.put_blob_file("a", &d, &src).await.unwrap();
    assert!(root.has_blob("a", &d).await.unwrap());
    assert_eq!(std::fs::read(root.blob_file("a", &d).await.unwrap().0).unwrap(), b"layer");
}
