//! Images for `wharf push`: OCI layouts written blob by blob by hand (independently of
//! wharf's own code), tars and gzips of them, archives that must be refused, `docker save`
//! of engine images; and reading what was published back with skopeo.

use super::engine::docker;
use super::wharf::{Run, run, skopeo, wharf};
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A layer: a tar holding `files` (path, content).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, *content).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// What a hand-made image is: its platform and uncompressed layers.
pub struct Spec<'a> {
    pub architecture: &'a str,
    pub variant: Option<&'a str>,
    pub layers: Vec<Vec<u8>>,
    pub labels: serde_json::Value,
}

/// Writes `spec` into the OCI layout at `dir` (created, or added to) under `ref_name`;
/// returns the manifest digest.
pub fn write_image(dir: &Path, spec: &Spec<'_>, ref_name: &str) -> String {
    write_image_created(dir, spec, ref_name, None)
}

/// Like [`write_image`], with the config's `created` time (RFC 3339) when given.
pub fn write_image_created(dir: &Path, spec: &Spec<'_>, ref_name: &str, created: Option<&str>) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(dir.join("blobs/sha256").join(&d[7..]), bytes).expect("blob");
        (d, bytes.len())
    };
    let mut layers = Vec::new();
    for raw in &spec.layers {
        let (d, size) = put(&gzip(raw));
        layers.push(serde_json::json!({"mediaType": OCI_LAYER_GZIP, "digest": d, "size": size}));
    }
    let mut config = serde_json::json!({
        "architecture": spec.architecture, "os": "linux",
        "config": {"Labels": spec.labels, "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": spec.layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
    });
    if let Some(v) = spec.variant {
        config["variant"] = v.into();
    }
    if let Some(c) = created {
        config["created"] = c.into();
    }
    let (cd, cs) = put(&serde_json::to_vec(&config).expect("json"));
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs}, "layers": layers});
    let manifest = serde_json::to_vec(&manifest).expect("json");
    let (md, ms) = put(&manifest);
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}));
    index["manifests"].as_array_mut().expect("manifests").push(serde_json::json!({
        "mediaType": OCI_MANIFEST, "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": ref_name}}));
    std::fs::write(index_path, serde_json::to_vec(&index).expect("json")).expect("index.json");
    md
}

/// The uncompressed layers of the first image of a legacy `docker save` archive.
pub fn docker_save_layers(archive: &Path) -> Vec<Vec<u8>> {
    let mut members = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(archive).expect("archive"));
    for entry in ar.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        members.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).expect("manifest.json");
    manifest[0]["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| members[l.as_str().expect("layer")].clone())
        .collect()
}

/// A tar of the directory `dir` (its content at the archive's root).
pub fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).expect("create tar"));
    b.append_dir_all(".", dir).expect("tar dir");
    b.finish().expect("finish tar");
}

/// A tar with raw entries: `Ok(data)` a file whose name is written as is (`../x` and `/x`
/// included, which the tar crate would refuse), `Err(target)` a symlink.
pub fn raw_tar(out: &Path, entries: &[(&str, Result<Vec<u8>, &str>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).expect("create tar"));
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match data {
            Ok(data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                h.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, data.as_slice()).expect("entry");
            }
            Err(target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).expect("link");
            }
        }
    }
    b.finish().expect("finish tar");
}

/// The manifest of `digest` in the layout at `dir`, parsed.
pub fn blob_json(dir: &Path, digest: &str) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).expect("blob");
    serde_json::from_slice(&bytes).expect("json blob")
}

/// `wharf push ARGS… --output json` run from `cwd` (not a git checkout unless made one).
pub fn push(cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["push", "--output", "json"];
    all.extend_from_slice(args);
    let mut cmd = wharf(&all);
    cmd.current_dir(cwd);
    run(cmd)
}

pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `docker save IMAGE` into `dir/name`.
pub fn docker_save(image: &str, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    docker(&["save", "-o", &s(&out), image]);
    out
}

pub fn write_gz(src: &Path, out: &Path) {
    std::fs::write(out, gzip(&std::fs::read(src).expect("read"))).expect("write gz");
}

/// The raw manifest at `reference` (docker://…), parsed.
pub fn raw_manifest(reference: &str) -> serde_json::Value {
    serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", "--raw", reference])).expect("manifest json")
}

/// Copies `reference` into an OCI layout with skopeo and checks every blob the manifest
/// names is there with its digest; returns the layout's manifest digest and blob digests.
pub fn pull_back(reference: &str) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    skopeo(&["copy", "-q", "--src-tls-verify=false", "--all", reference, &format!("oci:{}:x", dir.path().display())]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).expect("index")).expect("json");
    let top = index["manifests"][0]["digest"].as_str().expect("digest").to_string();
    let mut blobs = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("blobs/sha256")).expect("blobs") {
        let path = entry.expect("entry").path();
        let digest = format!("sha256:{}", path.file_name().expect("name").to_string_lossy());
        assert_eq!(sha256(&std::fs::read(&path).expect("blob")), digest, "blob pulled back intact");
        blobs.push(digest);
    }
    blobs.sort();
    (top, blobs)
}

/// The digests an image consists of: its manifest's, its config's and its layers', sorted.
pub fn image_blobs(manifest: &serde_json::Value, manifest_digest: &str) -> Vec<String> {
    let layers = manifest["layers"].as_array().expect("layers");
    let mut all: Vec<String> = std::iter::once(&manifest["config"])
        .chain(layers)
        .map(|d| d["digest"].as_str().expect("digest").to_string())
        .collect();
    all.push(manifest_digest.to_string());
    all.sort();
    all
}
