//! Reads a `docker save` archive (the legacy `manifest.json` form, and the OCI layout that
//! Docker 25+ writes beside it) and stores its images as OCI images in an [`OciLayout`].
//!
//! Layers are gzip-compressed on the way in, in parallel, streaming from the archive to a
//! temporary file: a layer is never held in memory whole. Compression is deterministic
//! (level 1, or stored blocks for a layer whose first MiB does not compress; no timestamp),
//! so the same engine image gives the same manifest digest on every machine, and a layer
//! already converted (known by its uncompressed `diff_id`) is not compressed again.

use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use super::layout::OciLayout;
use super::tar_index::{TarIndex, open_member, read_member};
use super::{Descriptor, MAX_CONFIG_SIZE, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::spec::digest::Digest;
use crate::spec::manifest::{ManifestContent, parse_manifest};

pub use super::ArchiveError;

/// One image read from the archive and stored in the layout.
#[derive(Debug, Clone)]
pub struct Imported {
    pub manifest: Descriptor,
    pub manifest_bytes: Vec<u8>,
    pub repo_tags: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ArchiveManifest {
    pub(crate) config: String,
    #[serde(default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    pub(crate) layers: Vec<String>,
}

#[derive(serde::Deserialize)]
pub(crate) struct ConfigRootfs {
    pub(crate) rootfs: Rootfs,
}

#[derive(serde::Deserialize)]
pub(crate) struct Rootfs {
    #[serde(default)]
    pub(crate) diff_ids: Vec<String>,
}

/// Imports every image of the `docker save` archive at `archive` into `layout`.
pub fn import(archive: &Path, layout: &OciLayout) -> Result<Vec<Imported>, ArchiveError> {
    let index = TarIndex::read(archive)?;
    let invalid = |message: String| ArchiveError::invalid(archive, message);
    let member = |name: &str| {
        index
            .find(name)
            .ok_or_else(|| invalid(format!("{name} is listed in manifest.json but missing from the archive")))
    };
    let manifest_loc =
        index.find("manifest.json").ok_or_else(|| invalid("no manifest.json: not a docker archive".into()))?;
    let manifests: Vec<ArchiveManifest> =
        serde_json::from_slice(&read_member(archive, "manifest.json", manifest_loc, MAX_CONFIG_SIZE)?)
            .map_err(|e| invalid(format!("manifest.json: {e}")))?;
    if manifests.is_empty() {
        return Err(invalid("manifest.json lists no image".into()));
    }
    let mut out = Vec::new();
    for m in manifests {
        let config_bytes = read_member(archive, &m.config, member(&m.config)?, MAX_CONFIG_SIZE)?;
        let rootfs: ConfigRootfs =
            serde_json::from_slice(&config_bytes).map_err(|e| invalid(format!("{}: {e}", m.config)))?;
        if rootfs.rootfs.diff_ids.len() != m.layers.len() {
            return Err(invalid(format!(
                "{} lists {} layers but the config has {} diff_ids",
                m.config,
                m.layers.len(),
                rootfs.rootfs.diff_ids.len()
            )));
        }
        let config_digest = layout.put_blob_bytes(&config_bytes)?;
        let layers: Vec<Descriptor> = m
            .layers
            .par_iter()
            .zip(rootfs.rootfs.diff_ids.par_iter())
            .map(|(name, diff_id)| convert_layer(archive, member(name)?, diff_id, layout))
            .collect::<Result<_, _>>()?;
        out.push(manifest_for(layout, archive, &m, config_digest, config_bytes.len() as u64, layers)?);
    }
    Ok(out)
}

/// The OCI manifest over a converted image's config and layers, stored in `layout`.
pub(crate) fn manifest_for(
    layout: &OciLayout,
    archive: &Path,
    m: &ArchiveManifest,
    config: Digest,
    config_size: u64,
    layers: Vec<Descriptor>,
) -> Result<Imported, ArchiveError> {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": Descriptor::new(OCI_CONFIG, config, config_size),
        "layers": layers,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| ArchiveError::invalid(archive, e.to_string()))?;
    let digest = layout.put_blob_bytes(&manifest_bytes)?;
    Ok(Imported {
        manifest: Descriptor::new(OCI_MANIFEST, digest, manifest_bytes.len() as u64),
        manifest_bytes,
        repo_tags: m.repo_tags.clone().unwrap_or_default(),
    })
}

/// Compresses one layer into the layout, or reuses the result of an earlier conversion of
/// the same uncompressed layer. A layer that is gzipped already is kept as it is. Either way
/// the uncompressed bytes must match the config's `diff_id`.
pub(crate) fn convert_layer(
    archive: &Path,
    loc: (u64, u64),
    diff_id: &str,
    layout: &OciLayout,
) -> Result<Descriptor, ArchiveError> {
    let io_err = ArchiveError::io(archive);
    let memo_dir = layout.root().join("wharf-diffids");
    let memo = diff_id.parse::<Digest>().ok().map(|d| memo_dir.join(d.hex()));
    if let Some(desc) =
        memo.as_ref().and_then(|p| fs::read(p).ok()).and_then(|b| serde_json::from_slice::<Descriptor>(&b).ok())
        && layout.has_blob(&desc.digest)
    {
        return Ok(desc);
    }
    let mut reader = open_member(archive, loc)?;
    let mut head = [0u8; 2];
    let got = reader.read(&mut head).map_err(ArchiveError::io(archive))?;
    let already_gzip = got == 2 && head == [0x1f, 0x8b];

    let blobs_dir = layout.root().join("blobs");
    let tmp = tempfile::NamedTempFile::new_in(&blobs_dir).map_err(ArchiveError::io(archive))?;
    let hashing = HashingWriter { inner: io::BufWriter::with_capacity(1 << 20, tmp), hasher: Sha256::new(), size: 0 };
    let (hashing, raw_digest) = if already_gzip {
        // Keep the compressed bytes; hash what they decompress to, to check the diff_id.
        let raw = HashingWriter { inner: io::sink(), hasher: Sha256::new(), size: 0 };
        let mut tee = Tee { a: hashing, b: flate2::write::GzDecoder::new(raw) };
        tee.write_all(&head[..got]).map_err(ArchiveError::io(archive))?;
        io::copy(&mut reader, &mut tee).map_err(|e| corrupt_layer(archive, diff_id, e))?;
        let raw = tee.b.finish().map_err(|e| corrupt_layer(archive, diff_id, e))?;
        (tee.a, Digest::from_hasher(raw.hasher))
    } else {
        let mut raw_hasher = Sha256::new();
        let mut buf = vec![0u8; SAMPLE_SIZE];
        buf[..got].copy_from_slice(&head[..got]);
        let filled = got + read_full(&mut reader, &mut buf[got..]).map_err(ArchiveError::io(archive))?;
        let mut gz = GzEncoder::new(hashing, level_for(&buf[..filled]));
        let mut n = filled;
        while n > 0 {
            raw_hasher.update(&buf[..n]);
            gz.write_all(&buf[..n]).map_err(ArchiveError::io(archive))?;
            n = reader.read(&mut buf).map_err(ArchiveError::io(archive))?;
        }
        (gz.finish().map_err(ArchiveError::io(archive))?, Digest::from_hasher(raw_hasher))
    };
    if raw_digest.as_str() != diff_id {
        return Err(ArchiveError::invalid(
            archive,
            format!(
                "a layer does not match its diff_id {diff_id} (its content is {raw_digest}): the archive is corrupt"
            ),
        ));
    }
    let HashingWriter { inner, hasher, size } = hashing;
    let tmp = inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    let digest = Digest::from_hasher(hasher);
    let dest = layout.blob_path(&digest);
    if !dest.exists() {
        tmp.persist(&dest).map_err(|e| ArchiveError::io(archive)(e.error))?;
    }
    let desc = Descriptor::new(OCI_LAYER_GZIP, digest, size);
    if let Some(memo) = memo {
        let _ = fs::create_dir_all(&memo_dir);
        let _ = fs::write(memo, serde_json::to_vec(&desc).unwrap_or_default());
    }
    Ok(desc)
}

fn corrupt_layer(archive: &Path, diff_id: &str, e: io::Error) -> ArchiveError {
    ArchiveError::invalid(archive, format!("the gzipped layer {diff_id} is corrupt or truncated: {e}"))
}

/// Writes everything to both writers.
struct Tee<A: Write, B: Write> {
    a: A,
    b: B,
}

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.a.write_all(buf)?;
        self.b.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.a.flush()?;
        self.b.flush()
    }
}

/// How much of a layer's start decides its compression level.
const SAMPLE_SIZE: usize = 1 << 20;

/// Gzip level 1, unless the sample does not compress (already compressed or random data: at
/// level 1 zlib-rs then writes ~5 % *more* than it reads, slowly). Such layers are written at
/// level 0: stored blocks, still gzip, so every client reads them, at the cost of a CRC.
/// Decided from the content alone, so the result stays the same on every machine.
fn level_for(sample: &[u8]) -> Compression {
    let mut probe = GzEncoder::new(Vec::with_capacity(sample.len() + 1024), Compression::new(1));
    let compressed = probe.write_all(sample).and_then(|()| probe.finish()).map(|v| v.len()).unwrap_or(0);
    if sample.len() >= 4096 && compressed * 100 >= sample.len() * 98 {
        Compression::none()
    } else {
        Compression::new(1)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes the image whose manifest is `manifest` (blobs in `layout`) as a `docker load`
/// archive tagged `reference`: `manifest.json`, the config and the (compressed) layers.
pub fn write(layout: &OciLayout, manifest: &[u8], reference: &str, out: &Path) -> Result<(), ArchiveError> {
    let invalid = |message: String| ArchiveError::Invalid { path: out.to_path_buf(), message };
    let io_err = |source| ArchiveError::Io { path: out.to_path_buf(), source };
    let ManifestContent::Image { config, layers } =
        parse_manifest(manifest, OCI_MANIFEST).map_err(|e| invalid(format!("manifest: {e}")))?
    else {
        return Err(invalid("an index cannot be loaded into the engine; pick one of its images".into()));
    };
    let name = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let archive_manifest = serde_json::json!([{
        "Config": name(&config.digest),
        "RepoTags": [reference],
        "Layers": layers.iter().map(|l| name(&l.digest)).collect::<Vec<_>>(),
    }]);
    let mut tar = tar::Builder::new(io::BufWriter::new(fs::File::create(out).map_err(io_err)?));
    for blob in std::iter::once(&config).chain(layers.iter()) {
        let path = layout.blob_path(&blob.digest);
        let mut f = fs::File::open(&path).map_err(|source| ArchiveError::Io { path: path.clone(), source })?;
        let mut header = tar::Header::new_gnu();
        header.set_size(f.metadata().map_err(io_err)?.len());
        header.set_mode(0o644);
        tar.append_data(&mut header, name(&blob.digest), &mut f).map_err(io_err)?;
    }
    let bytes = serde_json::to_vec(&archive_manifest).map_err(|e| invalid(e.to_string()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "manifest.json", bytes.as_slice()).map_err(io_err)?;
    tar.into_inner().map_err(io_err)?.flush().map_err(io_err)?;
    Ok(())
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_tar(content: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "file", content).unwrap();
        b.into_inner().unwrap()
    }

    fn archive(entries: &[(&str, Vec<u8>)]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut b = tar::Builder::new(f.reopen().unwrap());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.finish().unwrap();
        f
    }

    fn legacy_archive(layer: &[u8], diff_id: &str) -> tempfile::NamedTempFile {
        let config =
            serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[diff_id]}});
        let config = serde_json::to_vec(&config).unwrap();
        let manifest =
            serde_json::to_vec(&serde_json::json!([{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]))
                .unwrap();
        archive(&[("l/layer.tar", layer.to_vec()), ("c.json", config), ("manifest.json", manifest)])
    }

    #[test]
    fn legacy_archive_becomes_an_oci_image_deterministically() {
        let layer = layer_tar(b"hello");
        let diff_id = Digest::of(&layer).to_string();
        let ar = legacy_archive(&layer, &diff_id);
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = import(ar.path(), &OciLayout::open(d1.path()).unwrap()).unwrap();
        let b = import(ar.path(), &OciLayout::open(d2.path()).unwrap()).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].manifest.digest, b[0].manifest.digest, "same archive, same digest");
        assert_eq!(a[0].repo_tags, vec!["a:b"]);
        let ManifestContent::Image { layers, .. } = parse_manifest(&a[0].manifest_bytes, OCI_MANIFEST).unwrap() else {
            panic!("an image manifest")
        };
        assert_eq!(layers[0].media_type, OCI_LAYER_GZIP);
        let layout = OciLayout::open(d1.path()).unwrap();
        let mut gz = flate2::read::GzDecoder::new(fs::File::open(layout.blob_path(&layers[0].digest)).unwrap());
        let mut raw = Vec::new();
        gz.read_to_end(&mut raw).unwrap();
        assert_eq!(raw, layer);
    }

    /// Imports a one-layer archive of `content`; returns (layer blob size, decompressed blob).
    fn import_layer(content: &[u8]) -> (u64, Vec<u8>, Vec<u8>) {
        let layer = layer_tar(content);
        let ar = legacy_archive(&layer, &Digest::of(&layer).to_string());
        let d = tempfile::tempdir().unwrap();
        let layout = OciLayout::open(d.path()).unwrap();
        let imported = import(ar.path(), &layout).unwrap();
        let ManifestContent::Image { layers, .. } = parse_manifest(&imported[0].manifest_bytes, OCI_MANIFEST).unwrap()
        else {
            panic!("an image manifest")
        };
        assert_eq!(layers[0].media_type, OCI_LAYER_GZIP);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(layout.blob_path(&layers[0].digest)).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        (layers[0].size, raw, layer)
    }

    #[test]
    fn incompressible_layers_are_stored_not_inflated() {
        let noise: Vec<u8> = (0..3 << 20).map(|_| rand::random::<u8>()).collect();
        let (size, raw, layer) = import_layer(&noise);
        assert_eq!(raw, layer, "still a gzip of the layer");
        assert!(
            size <= layer.len() as u64 + layer.len() as u64 / 500,
            "stored: {size} bytes for {} (level 1 writes ~5 % more)",
            layer.len()
        );
        let text = b"compressible text, compressible text. ".repeat(100_000);
        let (size, raw, layer) = import_layer(&text);
        assert_eq!(raw, layer);
        assert!(size * 10 < layer.len() as u64, "compressible layers are still compressed: {size} of {}", layer.len());
    }

    #[test]
    fn corrupt_layer_is_refused() {
        let layer = layer_tar(b"hello");
        let ar = legacy_archive(&layer, &Digest::of(b"something else").to_string());
        let d = tempfile::tempdir().unwrap();
        let err = import(ar.path(), &OciLayout::open(d.path()).unwrap()).unwrap_err();
        assert!(err.to_string().contains("diff_id"), "{err}");
    }

    #[test]
    fn missing_member_and_traversal_are_refused() {
        let manifest = serde_json::to_vec(&serde_json::json!([{"Config":"c.json","Layers":[]}])).unwrap();
        let ar = archive(&[("manifest.json", manifest)]);
        let d = tempfile::tempdir().unwrap();
        let err = import(ar.path(), &OciLayout::open(d.path()).unwrap()).unwrap_err();
        assert!(err.to_string().contains("c.json"), "{err}");
    }
}
