//! Reads a ready-made image from disk, whatever its form: a `docker save` archive (legacy
//! `manifest.json`, and the OCI layout Docker 25+ writes beside it), an OCI image-layout
//! directory, or an OCI layout tar; each file form gzipped or not. The form is recognised by
//! content (magic bytes, then the members of the tar), never by the file name.
//!
//! Everything is checked before anything is returned: paths in tars, digests and sizes of
//! every blob, the config of every image (its platform comes from there). Blobs stay on disk:
//! in the layout directory itself, or in a staging directory that lives as long as the
//! [`Source`]. A `SRC:REF` picks one image of a source that holds several (an OCI
//! `org.opencontainers.image.ref.name`, or a docker archive's `RepoTags` entry).

use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::docker_archive;
use super::layout::OciLayout;
use super::tar_index::TarIndex;
use super::{ArchiveError, Descriptor, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Platform};
use crate::registry::{ManifestContent, parse_manifest};
use crate::spec::digest::Digest;

/// The form a source was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    DockerArchive,
    OciLayoutDir,
    OciLayoutTar,
}

/// One image of a source: its manifest, config, platform, and the layout holding its blobs.
#[derive(Debug, Clone)]
pub struct SourceImage {
    pub manifest: Bytes,
    pub media_type: String,
    pub digest: Digest,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub platform: Platform,
    /// The config's `Labels` (where `org.opencontainers.image.description` often is).
    pub labels: BTreeMap<String, String>,
    /// Where every blob of the image can be read, by digest.
    pub blobs: OciLayout,
    /// An OCI artifact (an oras-made layout): its type; such a manifest has no platform and is
    /// pushed as it is.
    pub artifact_type: Option<String>,
}

/// A source read and checked.
#[derive(Debug)]
pub struct Source {
    /// The path as the user gave it (without `:REF`).
    pub path: PathBuf,
    pub kind: SourceKind,
    pub compressed: bool,
    pub images: Vec<SourceImage>,
    /// Staged blobs (archives); removed when the source is dropped.
    _staging: Option<tempfile::TempDir>,
}

/// Reads `spec` (`PATH` or `PATH:REF`), staging what must be unpacked under `staging_parent`.
pub fn read(spec: &str, staging_parent: &Path) -> Result<Source, ArchiveError> {
    let (path, reference) = split_ref(spec)?;
    let meta = fs::metadata(&path).map_err(ArchiveError::io(&path))?;
    if !meta.is_dir() && !meta.is_file() {
        let hint = "hint: write the stream to a file first (a pipe or FIFO cannot be read twice)";
        return Err(ArchiveError::invalid(
            &path,
            format!("not a regular file or directory (a FIFO, socket or device)\n  {hint}"),
        ));
    }
    if meta.is_dir() {
        let images = super::oci_dir::read(&path, &path, reference.as_deref(), true)?;
        return Ok(Source { path, kind: SourceKind::OciLayoutDir, compressed: false, images, _staging: None });
    }
    let staging = tempfile::Builder::new()
        .prefix("wharf-push-")
        .tempdir_in(staging_parent)
        .map_err(ArchiveError::io(staging_parent))?;
    let compressed = match sniff(&path)? {
        Magic::Gzip => true,
        Magic::Other => false,
        Magic::Unsupported(what) => {
            return Err(ArchiveError::invalid(
                &path,
                format!("{what}-compressed archives are not read; decompress it first, or use gzip"),
            ));
        }
    };
    if !starts_like_tar(&path, compressed)? {
        return Err(ArchiveError::NotAnImage {
            path,
            why: "not a tar archive (nor a gzipped one), so neither a docker archive nor an OCI image layout".into(),
        });
    }
    let tar = if compressed { gunzip(&path, staging.path(), gunzip_limit(meta.len()))? } else { path.clone() };
    let index = TarIndex::read(&tar).map_err(|e| rename(e, &tar, &path))?;
    let (kind, images) = if index.contains("manifest.json") {
        let layout = OciLayout::open(&staging.path().join("layout"))?;
        let imported = docker_archive::import(&tar, &layout).map_err(|e| rename(e, &tar, &path))?;
        let mut images = Vec::new();
        for im in imported {
            if reference.as_deref().is_some_and(|r| !im.repo_tags.iter().any(|t| t == r)) {
                continue;
            }
            let bytes = Bytes::from(im.manifest_bytes);
            images.push(image_from_manifest(&layout, &path, bytes, im.manifest.media_type, im.manifest.digest, false)?);
        }
        if images.is_empty() {
            let r = reference.unwrap_or_default();
            return Err(ArchiveError::invalid(
                &path,
                format!("no image tagged {r:?} in the archive (see RepoTags in its manifest.json)"),
            ));
        }
        (SourceKind::DockerArchive, images)
    } else if index.contains("index.json") {
        let dir = staging.path().join("layout");
        super::oci_tar::extract(&tar, &index, &dir).map_err(|e| rename(e, &tar, &path))?;
        if compressed {
            let _ = fs::remove_file(&tar);
        }
        (SourceKind::OciLayoutTar, super::oci_dir::read(&dir, &path, reference.as_deref(), false)?)
    } else {
        let why = "neither a docker archive (no manifest.json) nor an OCI image layout (no index.json)";
        return Err(ArchiveError::NotAnImage { path, why: why.into() });
    };
    Ok(Source { path, kind, compressed, images, _staging: Some(staging) })
}

/// Whether the file (gunzipped on the fly when `compressed`) begins with a POSIX or GNU tar
/// header (`ustar` at byte 257); reads 512 bytes at most.
fn starts_like_tar(path: &Path, compressed: bool) -> Result<bool, ArchiveError> {
    let file = fs::File::open(path).map_err(ArchiveError::io(path))?;
    let mut reader: Box<dyn Read> =
        if compressed { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
    let mut head = [0u8; 512];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if compressed && e.kind() == io::ErrorKind::InvalidInput => return Ok(false),
            Err(e) => return Err(ArchiveError::Io { path: path.to_path_buf(), source: e }),
        }
    }
    Ok(filled == head.len() && &head[257..262] == b"ustar")
}

/// `PATH` or `PATH:REF`: the longest prefix ending before a `:` that exists wins, so paths
/// with colons still work.
fn split_ref(spec: &str) -> Result<(PathBuf, Option<String>), ArchiveError> {
    if Path::new(spec).exists() {
        return Ok((PathBuf::from(spec), None));
    }
    for (i, _) in spec.match_indices(':').collect::<Vec<_>>().into_iter().rev() {
        let (path, reference) = (&spec[..i], &spec[i + 1..]);
        if !path.is_empty() && Path::new(path).exists() && !reference.is_empty() {
            return Ok((PathBuf::from(path), Some(reference.to_string())));
        }
    }
    let err = io::Error::new(io::ErrorKind::NotFound, "no such file or directory");
    Err(ArchiveError::Io { path: PathBuf::from(spec), source: err })
}

enum Magic {
    Gzip,
    Unsupported(&'static str),
    Other,
}

fn sniff(path: &Path) -> Result<Magic, ArchiveError> {
    let mut head = [0u8; 6];
    let mut f = fs::File::open(path).map_err(ArchiveError::io(path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(ArchiveError::io(path))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Magic::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Magic::Unsupported("zstd"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Magic::Unsupported("xz"),
        [b'B', b'Z', b'h', ..] => Magic::Unsupported("bzip2"),
        _ => Magic::Other,
    })
}

/// A gzipped source may decompress to this many times its size (image tars rarely pass 10×)…
const MAX_GZIP_RATIO: u64 = 100;
/// …or to this much, whichever is more; beyond that it is refused as a decompression bomb.
const MIN_GZIP_LIMIT: u64 = 1 << 30;

/// How many bytes a gzip of `compressed` bytes may decompress to.
pub(crate) fn gunzip_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(MAX_GZIP_RATIO).max(MIN_GZIP_LIMIT)
}

/// Decompresses `path` into `dir/source.tar`, streaming, refusing more than `limit` bytes.
pub(crate) fn gunzip(path: &Path, dir: &Path, limit: u64) -> Result<PathBuf, ArchiveError> {
    let out = dir.join("source.tar");
    let f = fs::File::open(path).map_err(ArchiveError::io(path))?;
    let gz = flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(1 << 20, f));
    let mut w = io::BufWriter::with_capacity(1 << 20, fs::File::create(&out).map_err(ArchiveError::io(&out))?);
    let written = io::copy(&mut gz.take(limit.saturating_add(1)), &mut w)
        .map_err(|e| ArchiveError::invalid(path, format!("corrupt or truncated gzip: {e}")))?;
    if written > limit {
        drop(w);
        let _ = fs::remove_file(&out);
        return Err(ArchiveError::invalid(
            path,
            format!(
                "decompresses to more than {limit} bytes (over {MAX_GZIP_RATIO} times its size): refused as a likely \
                 decompression bomb; if it is genuine, decompress it first and pass the tar"
            ),
        ));
    }
    io::Write::flush(&mut w).map_err(ArchiveError::io(&out))?;
    Ok(out)
}

/// Errors about the decompressed copy name the file the user gave.
fn rename(e: ArchiveError, from: &Path, to: &Path) -> ArchiveError {
    match e {
        ArchiveError::Invalid { path, message } if path == from => {
            ArchiveError::Invalid { path: to.to_path_buf(), message }
        }
        ArchiveError::Io { path, source } if path == from => ArchiveError::Io { path: to.to_path_buf(), source },
        other => other,
    }
}

/// Checks an image whose manifest is `manifest` and whose blobs are in `blobs`: the config is
/// read (digest checked) for the platform; every layer must be there with the right size and,
/// with `check_layers` (blobs that were not checked while they were staged), the right digest.
pub(crate) fn image_from_manifest(
    blobs: &OciLayout,
    shown: &Path,
    manifest: Bytes,
    media_type: String,
    digest: Digest,
    check_layers: bool,
) -> Result<SourceImage, ArchiveError> {
    let content = parse_manifest(&manifest, &media_type)
        .map_err(|e| ArchiveError::invalid(shown, format!("manifest {digest}: {e}")))?;
    let ManifestContent::Image { config, layers } = content else {
        return Err(ArchiveError::invalid(shown, format!("{digest} is an index where an image manifest was expected")));
    };
    if crate::pull::is_artifact(&manifest) {
        for blob in std::iter::once(&config).chain(&layers) {
            check_blob(blobs, shown, blob, check_layers)?;
        }
        let artifact_type =
            crate::spec::manifest::artifact_type(&manifest).unwrap_or_else(|| config.media_type.clone());
        let platform = Platform { architecture: String::new(), os: String::new(), variant: None };
        return Ok(SourceImage {
            manifest,
            media_type,
            digest,
            config,
            layers,
            platform,
            labels: BTreeMap::new(),
            blobs: blobs.clone(),
            artifact_type: Some(artifact_type),
        });
    }
    let config_bytes = read_blob(blobs, shown, &config, MAX_CONFIG_SIZE, "config")?;
    let parsed: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        ArchiveError::invalid(shown, format!("config {} of image {digest} is not an image config: {e}", config.digest))
    })?;
    let (Some(os), Some(architecture)) =
        (parsed.os.filter(|s| !s.is_empty()), parsed.architecture.filter(|s| !s.is_empty()))
    else {
        return Err(ArchiveError::invalid(
            shown,
            format!("config {} of image {digest} names no os and architecture", config.digest),
        ));
    };
    let platform = Platform { architecture, os, variant: parsed.variant.filter(|v| !v.is_empty()) };
    for layer in &layers {
        check_blob(blobs, shown, layer, check_layers)?;
    }
    let labels = parsed.config.and_then(|c| c.labels).unwrap_or_default();
    Ok(SourceImage {
        manifest,
        media_type,
        digest,
        config,
        layers,
        platform,
        labels,
        blobs: blobs.clone(),
        artifact_type: None,
    })
}

#[derive(serde::Deserialize)]
struct ImageConfig {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(serde::Deserialize)]
struct RunConfig {
    #[serde(default, rename = "Labels")]
    labels: Option<BTreeMap<String, String>>,
}

/// A small blob (manifest, index, config) read whole, size and digest checked.
pub(crate) fn read_blob(
    blobs: &OciLayout,
    shown: &Path,
    d: &Descriptor,
    limit: u64,
    what: &str,
) -> Result<Bytes, ArchiveError> {
    if d.size > limit {
        return Err(ArchiveError::invalid(
            shown,
            format!("{what} {} has {} bytes, more than the {limit} allowed", d.digest, d.size),
        ));
    }
    let path = blobs.blob_path(&d.digest);
    let f = super::open_regular(&path).map_err(|e| missing(shown, what, d, e))?;
    let mut bytes = Vec::new();
    f.take(limit + 1).read_to_end(&mut bytes).map_err(ArchiveError::io(&path))?;
    let actual = Digest::of(&bytes);
    if bytes.len() as u64 != d.size || actual != d.digest {
        let detail = format!(
            "{what} {} is corrupt: {} bytes with digest {actual}, expected {} bytes",
            d.digest,
            bytes.len(),
            d.size
        );
        return Err(ArchiveError::invalid(shown, detail));
    }
    Ok(Bytes::from(bytes))
}

/// A layer must be present with its size; with `hash`, its digest is checked too (streaming).
fn check_blob(blobs: &OciLayout, shown: &Path, d: &Descriptor, hash: bool) -> Result<(), ArchiveError> {
    let path = blobs.blob_path(&d.digest);
    let f = super::open_regular(&path).map_err(|e| missing(shown, "layer", d, e))?;
    let len = f.metadata().map_err(ArchiveError::io(&path))?.len();
    if len != d.size {
        return Err(ArchiveError::invalid(
            shown,
            format!("layer {} has {len} bytes, the manifest says {}", d.digest, d.size),
        ));
    }
    if hash {
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        io::copy(&mut io::BufReader::with_capacity(1 << 20, f), &mut hasher).map_err(ArchiveError::io(&path))?;
        let actual = Digest::from_hasher(hasher);
        if actual != d.digest {
            return Err(ArchiveError::invalid(
                shown,
                format!("layer {} is corrupt: its content has digest {actual}", d.digest),
            ));
        }
    }
    Ok(())
}

fn missing(shown: &Path, what: &str, d: &Descriptor, e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::NotFound {
        ArchiveError::invalid(shown, format!("{what} {} is missing (no blobs/sha256/{})", d.digest, d.digest.hex()))
    } else {
        ArchiveError::invalid(shown, format!("{what} {} cannot be read: {e}", d.digest))
    }
}

/// Largest manifest or index read from a source.
pub(crate) const MANIFEST_LIMIT: u64 = MAX_MANIFEST_SIZE;
