//! Reads an OCI image-layout directory made elsewhere (buildx `type=oci`, skopeo `oci:`,
//! Nix, umoci): `oci-layout`, `index.json`, `blobs/sha256/…`. Nothing in the directory is
//! written.
//!
//! Every manifest `index.json` lists is read; nested indexes (a multi-platform build) are
//! walked down to their image manifests. Attestation manifests (buildx's provenance and
//! SBOM, platform `unknown/unknown`) are left out: they refer to the image manifest by
//! digest, which changes once wharf annotates it.

use bytes::Bytes;
use std::collections::HashSet;
use std::path::Path;

use super::layout::{OciLayout, ref_name};
use super::source::{MANIFEST_LIMIT, SourceImage, image_from_manifest, read_blob};
use super::{ArchiveError, Descriptor, OCI_INDEX};
use crate::registry::{ManifestContent, parse_manifest};
use crate::spec::manifest::{is_image_manifest, is_index};

/// How deep indexes may nest.
const MAX_DEPTH: usize = 4;

/// Reads the images of the layout at `root`; errors name `shown`. `reference` keeps only the
/// entries of `index.json` with that `org.opencontainers.image.ref.name`. With `hash`, every
/// layer's digest is checked (a staged layout was checked while it was unpacked).
pub fn read(root: &Path, shown: &Path, reference: Option<&str>, hash: bool) -> Result<Vec<SourceImage>, ArchiveError> {
    let marker = root.join("oci-layout");
    if !marker.exists() {
        return Err(ArchiveError::NotAnImage {
            path: shown.to_path_buf(),
            why: "a directory without oci-layout, so no OCI image layout".into(),
        });
    }
    let marker_bytes = read_regular(&marker, 4096).map_err(|e| {
        ArchiveError::invalid(shown, format!("not an OCI image layout (oci-layout cannot be read: {e})"))
    })?;
    let version: serde_json::Value = serde_json::from_slice(&marker_bytes)
        .map_err(|e| ArchiveError::invalid(shown, format!("oci-layout is not valid JSON: {e}")))?;
    if version.get("imageLayoutVersion").and_then(|v| v.as_str()).is_none() {
        return Err(ArchiveError::invalid(shown, "oci-layout has no imageLayoutVersion"));
    }
    let index = read_regular(&root.join("index.json"), MANIFEST_LIMIT)
        .map_err(|e| ArchiveError::invalid(shown, format!("index.json: {e}")))?;
    let entries = match parse_manifest(&index, OCI_INDEX) {
        Ok(ManifestContent::Index { manifests }) => manifests,
        Ok(_) => return Err(ArchiveError::invalid(shown, "index.json is not an image index")),
        Err(e) => return Err(ArchiveError::invalid(shown, format!("index.json: {e}"))),
    };
    let selected: Vec<Descriptor> = match reference {
        None => entries,
        Some(r) => {
            let names: Vec<&str> = entries.iter().filter_map(ref_name).collect();
            let found: Vec<Descriptor> = entries.iter().filter(|d| ref_name(d) == Some(r)).cloned().collect();
            if found.is_empty() {
                return Err(ArchiveError::invalid(
                    shown,
                    format!("no manifest named {r:?} in index.json (names: {names:?})"),
                ));
            }
            found
        }
    };
    if selected.is_empty() {
        return Err(ArchiveError::invalid(shown, "index.json lists no manifest"));
    }
    let blobs = OciLayout::existing(root);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for d in &selected {
        walk(&blobs, shown, d, 0, hash, &mut seen, &mut out)?;
    }
    if out.is_empty() {
        return Err(ArchiveError::invalid(
            shown,
            "the layout holds no container image (only attestations or artifacts)",
        ));
    }
    Ok(out)
}

fn walk(
    blobs: &OciLayout,
    shown: &Path,
    d: &Descriptor,
    depth: usize,
    hash: bool,
    seen: &mut HashSet<crate::spec::digest::Digest>,
    out: &mut Vec<SourceImage>,
) -> Result<(), ArchiveError> {
    if !seen.insert(d.digest.clone()) {
        return Ok(());
    }
    if is_attestation(d) {
        tracing::info!(digest = %d.digest, "{}: leaving out an attestation manifest", shown.display());
        return Ok(());
    }
    if is_index(&d.media_type) {
        if depth >= MAX_DEPTH {
            return Err(ArchiveError::invalid(shown, format!("indexes nest deeper than {MAX_DEPTH} levels")));
        }
        let bytes = read_blob(blobs, shown, d, MANIFEST_LIMIT, "index")?;
        let children = match parse_manifest(&bytes, &d.media_type) {
            Ok(ManifestContent::Index { manifests }) => manifests,
            Ok(_) => return Err(ArchiveError::invalid(shown, format!("index {} is not an index", d.digest))),
            Err(e) => return Err(ArchiveError::invalid(shown, format!("index {}: {e}", d.digest))),
        };
        for c in &children {
            walk(blobs, shown, c, depth + 1, hash, seen, out)?;
        }
        return Ok(());
    }
    if !is_image_manifest(&d.media_type) {
        return Err(ArchiveError::invalid(
            shown,
            format!("{} has media type {:?}, not an image manifest or index", d.digest, d.media_type),
        ));
    }
    let bytes: Bytes = read_blob(blobs, shown, d, MANIFEST_LIMIT, "manifest")?;
    out.push(image_from_manifest(blobs, shown, bytes, d.media_type.clone(), d.digest.clone(), hash)?);
    Ok(())
}

/// A small file of the layout, refused when it is not a regular file or has more than `limit`
/// bytes.
fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    super::open_regular(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} bytes or more, more than the {limit} allowed", limit + 1),
        ));
    }
    Ok(bytes)
}

/// buildx marks its attestation manifests `vnd.docker.reference.type: attestation-manifest`
/// and gives them the platform `unknown/unknown`.
fn is_attestation(d: &Descriptor) -> bool {
    let typed = d
        .annotations
        .as_ref()
        .and_then(|a| a.get("vnd.docker.reference.type"))
        .is_some_and(|t| t == "attestation-manifest");
    let unknown = d.platform.as_ref().is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
    typed || unknown
}
