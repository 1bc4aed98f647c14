//! One function per fuzz target. Each takes arbitrary bytes and must return without panicking
//! or hanging: bad input gets an error, never a crash. Some also check a property (a parsed
//! reference prints back to itself, an error renders).
//!
//! This file is compiled twice: by the fuzz crate (`cargo fuzz run NAME`) and, on stable, by
//! the main crate's `tests/fuzz_corpus.rs`, which replays the committed corpus through it.

use std::path::Path;
use std::sync::OnceLock;
use wharf::oci::docker_archive;
use wharf::oci::layout::OciLayout;
use wharf::registry::{Reference, Repository, challenge, parse_manifest};
use wharf::spec::manifest::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

/// An empty project directory, made once (the config checks relative paths against it).
fn project_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path()
}

/// `wharf.yaml` text: parsed and validated, errors rendered.
pub fn config_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = wharf::config::parse_str(Path::new("wharf.yaml"), project_dir(), text) {
        let _ = (e.to_string(), e.plain());
    }
}

/// Image references and repositories; a reference that parses prints to text that parses
/// to the same reference.
pub fn reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = text.parse::<Reference>() {
        let printed = r.to_string();
        match printed.parse::<Reference>() {
            Ok(again) => assert_eq!(again, r, "{text:?} prints as {printed:?}, which parses differently"),
            Err(e) => panic!("{text:?} parses, but its printed form {printed:?} does not: {e}"),
        }
        let _ = r.manifest_ref();
    }
    if let Ok(repo) = text.parse::<Repository>() {
        let _ = (repo.api_host(), repo.join("x"), repo.tag("latest"));
    }
    let _ = wharf::drivers::parse_repository(text);
}

/// `WWW-Authenticate` values; a Bearer challenge the client acts on has a realm.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = challenge::parse(&text);
    if let Some(challenge::Challenge::Bearer { realm, .. }) = challenge::select(text.split('\n')) {
        assert!(!realm.is_empty(), "a Bearer challenge without a realm was selected: {text:?}");
    }
}

/// Manifests and indexes, with the media type picked by the first byte (including none,
/// which makes the reader sniff).
pub fn manifest(data: &[u8]) {
    const TYPES: [&str; 6] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, "", "text/plain"];
    let Some((pick, bytes)) = data.split_first() else { return };
    let media_type = TYPES[usize::from(*pick) % TYPES.len()];
    if let Ok(content) = parse_manifest(bytes, media_type) {
        for d in content.references() {
            let _ = (d.digest.to_string(), d.size);
        }
    }
}

/// A `docker save` archive, imported into a fresh OCI layout.
pub fn docker_archive(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("archive.tar");
    std::fs::write(&archive, data).expect("write the archive");
    let layout = OciLayout::open(&dir.path().join("layout")).expect("layout");
    if let Err(e) = docker_archive::import(&archive, &layout) {
        let _ = e.to_string();
    }
}

/// Any ready-made image file `wharf push` reads (`oci::source::read`): a docker archive or an
/// OCI layout tar, gzipped or not.
pub fn oci_source(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("image.tar");
    std::fs::write(&path, data).expect("write the image file");
    let Some(spec) = path.to_str() else { return };
    if let Err(e) = wharf::oci::source::read(spec, dir.path()) {
        let _ = e.to_string();
    }
}

/// An OCI layout's `index.json` (the bytes before the first NUL) with one blob (the bytes
/// after it); `@BLOB@` in the index stands for the blob's digest, so that inputs can point at
/// it. Every reference is resolved and what it points at is read as a manifest.
pub fn oci_layout(data: &[u8]) {
    let (index, blob) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let Ok(layout) = OciLayout::open(dir.path()) else { return };
    let Ok(digest) = layout.put_blob_bytes(blob) else { return };
    let index = String::from_utf8_lossy(index).replace("@BLOB@", digest.as_str());
    std::fs::write(dir.path().join("index.json"), index).expect("write index.json");
    let Ok(refs) = layout.refs() else { return };
    for (name, desc) in refs {
        let _ = layout.resolve(&name);
        if let Ok(bytes) = layout.read_blob(&desc.digest) {
            let _ = parse_manifest(&bytes, &desc.media_type);
        }
    }
}

/// A target's name and body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, for replaying a corpus.
pub const ALL: [Target; 7] = [
    ("config_yaml", config_yaml),
    ("reference", reference),
    ("www_authenticate", www_authenticate),
    ("manifest", manifest),
    ("docker_archive", docker_archive),
    ("oci_source", oci_source),
    ("oci_layout", oci_layout),
];
