//! Packing files into an artifact: each file a layer (its bytes as they are), each directory
//! one tar+gzip layer made deterministically (sorted entries, zero times and owners, modes
//! reduced to 0644/0755, a gzip header without time or name), so the same tree always gives
//! the same digest; then the manifest. Blobs go into a staging layout `wharf push` uploads from.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{
    ArtifactError, ArtifactSpec, CONTENT_DIGEST, DEFAULT_ARTIFACT_TYPE, DEFAULT_FILE_TYPE, DIRECTORY_TYPE, FileSpec,
    TITLE, UNPACK, helm,
};
use crate::oci::layout::OciLayout;
use crate::spec::Digest;
use crate::spec::manifest::{Descriptor, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST};

/// An artifact packed: its manifest and where its blobs are.
#[derive(Debug, Clone)]
pub struct Packed {
    pub manifest: Bytes,
    pub digest: Digest,
    /// The manifest's `artifactType`, else its config's media type (Helm).
    pub artifact_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub blobs: OciLayout,
}

/// Packs `spec` into `staging` (an OCI layout, created if needed).
pub fn pack(spec: &ArtifactSpec, staging: &Path) -> Result<Packed, ArtifactError> {
    let blobs = OciLayout::open(staging)?;
    if let ([only], None) = (spec.files.as_slice(), &spec.config)
        && only.media_type.is_none()
        && let Some(chart) = helm::detect(&only.path)?
    {
        return pack_chart(spec, &only.path, &chart, blobs);
    }
    if spec.files.is_empty() && spec.config.is_none() {
        return Err(ArtifactError::Usage("nothing to push: give at least one file or directory".into()));
    }
    let mut layers = Vec::new();
    let mut titles = BTreeMap::new();
    for file in &spec.files {
        let layer = layer(file, &blobs)?;
        let title = layer.annotations.as_ref().and_then(|a| a.get(TITLE)).cloned().unwrap_or_default();
        if let Some(first) = titles.insert(title.clone(), file.path.clone()) {
            return Err(ArtifactError::Usage(format!(
                "{} and {} would both be named {title:?} in the artifact",
                first.display(),
                file.path.display()
            )));
        }
        layers.push(layer);
    }
    let config = match &spec.config {
        Some(c) => {
            stored_file(&c.path, c.media_type.as_deref().unwrap_or("application/vnd.oci.image.config.v1+json"), &blobs)?
        }
        None => {
            blobs.put_blob_bytes(EMPTY_JSON)?;
            Descriptor::new(OCI_EMPTY, Digest::of(EMPTY_JSON), EMPTY_JSON.len() as u64)
        }
    };
    // image-spec 1.1: artifactType MUST be set when the config is the empty descriptor.
    let artifact_type = match (&spec.artifact_type, config.media_type.as_str()) {
        (Some(t), _) => Some(t.clone()),
        (None, OCI_EMPTY) => Some(DEFAULT_ARTIFACT_TYPE.to_string()),
        (None, _) => None,
    };
    let manifest = manifest_json(artifact_type.as_deref(), &config, &layers, spec.subject.as_ref(), &spec.annotations);
    let artifact_type = artifact_type.unwrap_or_else(|| config.media_type.clone());
    Ok(Packed { digest: Digest::of(&manifest), manifest, artifact_type, config, layers, blobs })
}

fn pack_chart(
    spec: &ArtifactSpec,
    path: &Path,
    chart: &helm::Chart,
    blobs: OciLayout,
) -> Result<Packed, ArtifactError> {
    let config_bytes = chart.config_json();
    let config_digest = blobs.put_blob_bytes(&config_bytes)?;
    let config = Descriptor::new(helm::CONFIG_TYPE, config_digest, config_bytes.len() as u64);
    let layer = stored_file(path, helm::CHART_TYPE, &blobs)?;
    let mut annotations = chart.annotations();
    annotations.extend(spec.annotations.clone());
    // Helm sets no artifactType: its config's media type says what this is.
    let manifest = manifest_json(
        spec.artifact_type.as_deref(),
        &config,
        std::slice::from_ref(&layer),
        spec.subject.as_ref(),
        &annotations,
    );
    let artifact_type = spec.artifact_type.clone().unwrap_or_else(|| helm::CONFIG_TYPE.to_string());
    Ok(Packed { digest: Digest::of(&manifest), manifest, artifact_type, config, layers: vec![layer], blobs })
}

fn manifest_json(
    artifact_type: Option<&str>,
    config: &Descriptor,
    layers: &[Descriptor],
    subject: Option<&Descriptor>,
    annotations: &BTreeMap<String, String>,
) -> Bytes {
    let mut m = serde_json::Map::new();
    m.insert("schemaVersion".into(), 2.into());
    m.insert("mediaType".into(), OCI_MANIFEST.into());
    if let Some(t) = artifact_type {
        m.insert("artifactType".into(), t.into());
    }
    m.insert("config".into(), serde_json::to_value(config).unwrap_or_default());
    m.insert("layers".into(), serde_json::to_value(layers).unwrap_or_default());
    if let Some(s) = subject {
        m.insert("subject".into(), serde_json::to_value(s).unwrap_or_default());
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), serde_json::to_value(annotations).unwrap_or_default());
    }
    Bytes::from(serde_json::Value::Object(m).to_string())
}

/// The layer for one file or directory.
fn layer(file: &FileSpec, blobs: &OciLayout) -> Result<Descriptor, ArtifactError> {
    let meta = fs::symlink_metadata(&file.path).map_err(ArtifactError::io(&file.path))?;
    let title = title_of(&file.path)?;
    let mut d = if meta.is_dir() {
        let (tar_digest, desc) = packed_dir(&file.path, file.media_type.as_deref().unwrap_or(DIRECTORY_TYPE), blobs)?;
        let mut d = desc;
        d.annotations = Some(
            [(UNPACK.to_string(), "true".to_string()), (CONTENT_DIGEST.to_string(), tar_digest.to_string())].into(),
        );
        d
    } else if meta.is_file() {
        stored_file(&file.path, file.media_type.as_deref().unwrap_or(DEFAULT_FILE_TYPE), blobs)?
    } else {
        return Err(ArtifactError::Invalid {
            path: file.path.clone(),
            message: "neither a regular file nor a directory".into(),
        });
    };
    d.annotations.get_or_insert_with(BTreeMap::new).insert(TITLE.to_string(), title);
    Ok(d)
}

/// The name a file is stored under: its last path component.
fn title_of(path: &Path) -> Result<String, ArtifactError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
        .ok_or_else(|| ArtifactError::Invalid {
            path: path.to_path_buf(),
            message: "has no file name to store it under".into(),
        })
}

/// Stores a file's bytes as a blob (hashed once, then linked or copied into the layout).
fn stored_file(path: &Path, media_type: &str, blobs: &OciLayout) -> Result<Descriptor, ArtifactError> {
    let (digest, size) = hash_file(path)?;
    blobs.put_blob_file(&digest, path)?;
    Ok(Descriptor::new(media_type, digest, size))
}

fn hash_file(path: &Path) -> Result<(Digest, u64), ArtifactError> {
    let mut f = fs::File::open(path).map_err(ArtifactError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(ArtifactError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((Digest::from_hasher(h), size))
}

/// Packs directory `dir` into a deterministic tar+gzip blob; returns the uncompressed tar's
/// digest and the blob's descriptor.
fn packed_dir(dir: &Path, media_type: &str, blobs: &OciLayout) -> Result<(Digest, Descriptor), ArtifactError> {
    let tmp = tempfile::NamedTempFile::new_in(blobs.root()).map_err(ArtifactError::io(blobs.root()))?;
    let file = Hashing { inner: tmp.reopen().map_err(ArtifactError::io(tmp.path()))?, hasher: Sha256::new() };
    let gz = flate2::GzBuilder::new().mtime(0).write(file, flate2::Compression::default());
    // The uncompressed tar is hashed on its way into gzip, the blob on its way to the file.
    let mut tar = tar::Builder::new(Hashing { inner: gz, hasher: Sha256::new() });
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let name = title_of(dir)?;
    append_tree(&mut tar, dir, Path::new(&name))?;
    let tar_hashing = tar.into_inner().map_err(ArtifactError::io(dir))?;
    let tar_digest = Digest::from_hasher(tar_hashing.hasher);
    let mut file = tar_hashing.inner.finish().map_err(ArtifactError::io(dir))?;
    file.flush().map_err(ArtifactError::io(dir))?;
    let size = fs::metadata(tmp.path()).map_err(ArtifactError::io(tmp.path()))?.len();
    let digest = Digest::from_hasher(file.hasher);
    blobs.put_blob_file(&digest, tmp.path())?;
    Ok((tar_digest, Descriptor::new(media_type, digest, size)))
}

/// Appends `dir` as `at` and everything below it, sorted by name.
fn append_tree<W: Write>(tar: &mut tar::Builder<W>, dir: &Path, at: &Path) -> Result<(), ArtifactError> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    tar.append_data(&mut header, at, std::io::empty()).map_err(ArtifactError::io(dir))?;
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(ArtifactError::io(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(ArtifactError::io(dir))?;
    entries.sort();
    for path in entries {
        let name = at.join(path.file_name().unwrap_or_default());
        let meta = fs::symlink_metadata(&path).map_err(ArtifactError::io(&path))?;
        if meta.is_dir() {
            append_tree(tar, &path, &name)?;
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt as _;
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            let f = fs::File::open(&path).map_err(ArtifactError::io(&path))?;
            tar.append_data(&mut header, &name, f).map_err(ArtifactError::io(&path))?;
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(ArtifactError::io(&path))?;
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            tar.append_link(&mut header, &name, &target).map_err(ArtifactError::io(&path))?;
        } else {
            return Err(ArtifactError::Invalid {
                path,
                message: "a special file (device, FIFO or socket) cannot be packed".into(),
            });
        }
    }
    Ok(())
}

/// Hashes what is written through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
