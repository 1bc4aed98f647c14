//! Reader tests: every source form, gzipped or not, and the archives that must be refused.

use super::source::{SourceKind, read};
use super::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::spec::digest::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn layer_tar(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "hello.txt", content).unwrap();
    b.into_inner().unwrap()
}

fn put(dir: &Path, bytes: &[u8]) -> (Digest, u64) {
    let d = Digest::of(bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    (d, bytes.len() as u64)
}

/// An OCI layout with one image for `arch`; returns the manifest digest.
fn oci_layout(dir: &Path, arch: &str, ref_name: &str) -> Digest {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let raw = layer_tar(b"hi");
    let (ld, ls) = put(dir, &gz(&raw));
    let config = serde_json::json!({"architecture": arch, "os": "linux", "config": {"Labels": {"org.opencontainers.image.description": "demo"}},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&raw)]}});
    let (cd, cs) = put(dir, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": ld, "size": ls}]});
    let (md, ms) = put(dir, &serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": ref_name}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    md
}

/// A tar entry: a file's bytes (`Ok`) or a symlink's target (`Err`).
type Entry<'a> = (&'a str, Result<Vec<u8>, &'a str>);

/// A tar of `entries`; file names are written as they are (`../x` and `/x` included).
fn tar_of(path: &Path, entries: &[Entry<'_>]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match data {
            Ok(data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                // Raw names: the tar crate refuses to *write* `..`, so set the bytes directly.
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, data.as_slice()).unwrap();
            }
            Err(target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).unwrap();
            }
        }
    }
    b.finish().unwrap();
}

fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

fn err(spec: &Path) -> String {
    let staging = tempfile::tempdir().unwrap();
    read(spec.to_str().unwrap(), staging.path()).unwrap_err().to_string()
}

#[test]
fn an_oci_directory_tar_and_gzipped_tar_give_the_same_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let digest = oci_layout(&dir, "arm64", "v1");
    let staging = tempfile::tempdir().unwrap();

    let from_dir = read(dir.to_str().unwrap(), staging.path()).unwrap();
    assert_eq!(from_dir.kind, SourceKind::OciLayoutDir);
    assert_eq!(from_dir.images.len(), 1);
    let image = &from_dir.images[0];
    assert_eq!(image.digest, digest);
    assert_eq!(image.platform.architecture, "arm64");
    assert_eq!(image.labels.get("org.opencontainers.image.description").map(String::as_str), Some("demo"));

    let tar = tmp.path().join("layout.tar");
    tar_dir(&dir, &tar);
    let from_tar = read(tar.to_str().unwrap(), staging.path()).unwrap();
    assert_eq!((from_tar.kind, from_tar.compressed), (SourceKind::OciLayoutTar, false));
    assert_eq!(from_tar.images[0].digest, digest);

    let gzipped = tmp.path().join("no-extension");
    std::fs::write(&gzipped, gz(&std::fs::read(&tar).unwrap())).unwrap();
    let from_gz = read(gzipped.to_str().unwrap(), staging.path()).unwrap();
    assert_eq!((from_gz.kind, from_gz.compressed), (SourceKind::OciLayoutTar, true));
    assert_eq!(from_gz.images[0].digest, digest);
    assert!(from_gz.images[0].blobs.has_blob(&from_gz.images[0].layers[0].digest), "blobs are staged");
}

#[test]
fn a_ref_picks_one_image_and_an_unknown_ref_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    oci_layout(&dir, "amd64", "v1");
    let staging = tempfile::tempdir().unwrap();
    assert_eq!(read(&format!("{}:v1", dir.display()), staging.path()).unwrap().images.len(), 1);
    let e = read(&format!("{}:v2", dir.display()), staging.path()).unwrap_err().to_string();
    assert!(e.contains("no manifest named \"v2\"") && e.contains("\"v1\""), "{e}");
}

#[test]
fn a_gzipped_docker_archive_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = layer_tar(b"hello");
    let config = serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[Digest::of(&raw)]}});
    let manifest = serde_json::json!([{"Config":"c.json","RepoTags":["app:1"],"Layers":["l/layer.tar"]}]);
    let tar = tmp.path().join("a.tar");
    tar_of(
        &tar,
        &[
            ("l/layer.tar", Ok(raw.clone())),
            ("c.json", Ok(serde_json::to_vec(&config).unwrap())),
            ("manifest.json", Ok(serde_json::to_vec(&manifest).unwrap())),
        ],
    );
    let gzipped = tmp.path().join("a.bin");
    std::fs::write(&gzipped, gz(&std::fs::read(&tar).unwrap())).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let plain = read(tar.to_str().unwrap(), staging.path()).unwrap();
    let packed = read(gzipped.to_str().unwrap(), staging.path()).unwrap();
    assert_eq!(packed.kind, SourceKind::DockerArchive);
    assert_eq!(plain.images[0].digest, packed.images[0].digest, "the import is deterministic");
    assert_eq!(packed.images[0].platform.os, "linux");
    assert_eq!(read(&format!("{}:app:1", gzipped.display()), staging.path()).unwrap().images.len(), 1);
    assert!(read(&format!("{}:app:2", gzipped.display()), staging.path()).is_err());
}

#[test]
fn a_wrong_digest_or_missing_config_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let digest = oci_layout(&dir, "amd64", "v1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(digest.hex())).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let config = manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();

    let mut bytes = std::fs::read(dir.join("blobs/sha256").join(&layer)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(dir.join("blobs/sha256").join(&layer), &bytes).unwrap();
    let e = err(&dir);
    assert!(e.contains(&dir.display().to_string()) && e.contains("corrupt"), "{e}");

    // As a tar, the same corruption is caught while unpacking.
    let tar = tmp.path().join("bad.tar");
    tar_dir(&dir, &tar);
    let e = err(&tar);
    assert!(e.starts_with(&tar.display().to_string()) && e.contains("corrupt"), "{e}");

    std::fs::remove_file(dir.join("blobs/sha256").join(&config)).unwrap();
    let e = err(&dir);
    assert!(e.contains("config") && e.contains("missing"), "{e}");
}

#[test]
fn unsafe_tar_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<Entry<'_>>, &str)> = vec![
        ("traversal", vec![("../evil", Ok(b"x".to_vec())), ("index.json", Ok(b"{}".to_vec()))], "unsafe path"),
        ("absolute", vec![("/etc/evil", Ok(b"x".to_vec())), ("index.json", Ok(b"{}".to_vec()))], "unsafe path"),
        ("symlink", vec![("index.json", Err("../../etc/passwd"))], "points outside"),
        ("abs-symlink", vec![("blobs/sha256/x", Err("/etc/passwd"))], "points outside"),
    ];
    for (name, entries, want) in cases {
        let tar = tmp.path().join(format!("{name}.tar"));
        tar_of(&tar, &entries);
        let e = err(&tar);
        assert!(e.starts_with(&tar.display().to_string()) && e.contains(want), "{name}: {e}");
    }
}

#[test]
fn truncated_oversized_and_foreign_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    oci_layout(&dir, "amd64", "v1");
    let tar = tmp.path().join("full.tar");
    tar_dir(&dir, &tar);
    let bytes = std::fs::read(&tar).unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 100]).unwrap();
    let e = err(&cut);
    assert!(e.starts_with(&cut.display().to_string()) && (e.contains("truncated") || e.contains("missing")), "{e}");
    let cut_gz = tmp.path().join("cut.tgz");
    let packed = gz(&bytes);
    std::fs::write(&cut_gz, &packed[..packed.len() / 2]).unwrap();
    let e = err(&cut_gz);
    assert!(e.contains("gzip"), "{e}");

    let big: PathBuf = tmp.path().join("big");
    oci_layout(&big, "amd64", "v1");
    let huge = format!(r#"{{"schemaVersion":2,"manifests":[],"annotations":{{"x":"{}"}}}}"#, "a".repeat(5 << 20));
    std::fs::write(big.join("index.json"), huge).unwrap();
    let e = err(&big);
    assert!(e.contains("more than the 4194304 allowed"), "{e}");

    let other = tmp.path().join("other.tar");
    tar_of(&other, &[("hello", Ok(b"x".to_vec()))]);
    assert!(err(&other).contains("neither a docker archive"));
    let zst = tmp.path().join("z");
    std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap();
    assert!(err(&zst).contains("zstd"));
    assert!(err(&tmp.path().join("nope")).contains("no such file"));
}

#[test]
fn a_multi_platform_layout_is_walked_down_to_its_images_without_attestations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("buildx");
    let amd = oci_layout(&dir, "amd64", "a");
    let arm = oci_layout(&tmp.path().join("other"), "arm64", "b");
    let attestation = oci_layout(&tmp.path().join("other"), "s390x", "c");
    // Bring the other images' blobs over, then make index.json point at one nested index.
    for entry in std::fs::read_dir(tmp.path().join("other/blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("blobs/sha256").join(entry.file_name())).unwrap();
    }
    let size = |d: &Digest| std::fs::metadata(dir.join("blobs/sha256").join(d.hex())).unwrap().len();
    let nested = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd, "size": size(&amd), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": arm, "size": size(&arm), "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": OCI_MANIFEST, "digest": attestation, "size": size(&attestation), "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]});
    let (nd, ns) = put(&dir, &serde_json::to_vec(&nested).unwrap());
    let index =
        serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX, "digest": nd, "size": ns}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let source = read(dir.to_str().unwrap(), staging.path()).unwrap();
    let platforms: Vec<&str> = source.images.iter().map(|i| i.platform.architecture.as_str()).collect();
    assert_eq!(platforms, vec!["amd64", "arm64"]);
}

/// Regression (decompression bombs): a gzip that inflates past its limit is refused, and the
/// partial output is removed; the limit grows with the file and never drops under 1 GiB.
#[test]
fn a_gzip_that_inflates_past_its_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    std::fs::write(&bomb, gz(&vec![0u8; 4 << 20])).unwrap();
    let err = super::source::gunzip(&bomb, dir.path(), 1 << 20).unwrap_err().to_string();
    assert!(err.contains("decompression bomb") && err.contains("bomb.tar.gz"), "{err}");
    assert!(!dir.path().join("source.tar").exists(), "the partial output is removed");
    assert!(super::source::gunzip(&bomb, dir.path(), 4 << 20).is_ok(), "exactly at the limit is fine");
    assert_eq!(super::source::gunzip_limit(10), 1 << 30);
    assert_eq!(super::source::gunzip_limit(100 << 20), 100 * (100 << 20));
    assert_eq!(super::source::gunzip_limit(u64::MAX), u64::MAX);
}
