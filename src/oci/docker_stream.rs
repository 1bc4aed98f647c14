//! A `docker save` archive read as the engine streams it: export, conversion and upload
//! overlap instead of following one another.
//!
//! The tar is read once, front to back. Each layer is copied to a staging file as it
//! arrives (hashing its uncompressed bytes, its `diff_id`) and handed to a worker that
//! compresses it into the layout exactly as [`docker_archive::import`] does (same levels,
//! same memo of converted layers), while the next layer is still arriving; each finished
//! blob is announced through `on_blob`, so its upload can start before the export ends.
//! `manifest.json` and the configs come last in an engine's archive: the manifests are built
//! then, after every layer has been checked against its config's `diff_id`.
//!
//! [`docker_archive::import`]: super::docker_archive::import

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Mutex;

use super::docker_archive::{ArchiveManifest, ConfigRootfs, Imported, convert_layer, manifest_for};
use super::layout::OciLayout;
use super::tar_index::safe_tar_path;
use super::{ArchiveError, Descriptor, MAX_CONFIG_SIZE, OCI_CONFIG};
use crate::spec::digest::Digest;

/// A layer converted while the archive streamed: its uncompressed digest and its blob.
type Converted = HashMap<String, (Digest, Descriptor)>;

/// Imports every image of the `docker save` archive `reader` streams into `layout`; `shown`
/// names the archive in errors. `on_blob` hears of each layer and config blob once stored.
pub fn import_stream(
    reader: impl Read + Send,
    layout: &OciLayout,
    shown: &Path,
    on_blob: &(dyn Fn(&Descriptor) + Sync),
) -> Result<Vec<Imported>, ArchiveError> {
    let invalid = |message: String| ArchiveError::invalid(shown, message);
    let staging = tempfile::tempdir_in(layout.root().join("blobs")).map_err(ArchiveError::io(shown))?;
    let converted: Mutex<Converted> = Mutex::new(HashMap::new());
    let failed: Mutex<Option<ArchiveError>> = Mutex::new(None);
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    let read = rayon::scope(|scope| -> Result<(), ArchiveError> {
        let mut archive = tar::Archive::new(reader);
        for (n, entry) in archive.entries().map_err(ArchiveError::io(shown))?.enumerate() {
            let mut entry = entry.map_err(ArchiveError::io(shown))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name =
                safe_tar_path(&entry.path_bytes()).ok_or_else(|| invalid("an unsafe path in the archive".into()))?;
            let is_layer_like = name.ends_with("/layer.tar") || name.starts_with("blobs/sha256/");
            if !is_layer_like {
                if name.ends_with(".json") {
                    small.insert(name, read_limited(&mut entry, shown)?);
                }
                continue;
            }
            let path = staging.path().join(n.to_string());
            let (size, raw, head) = stage(&mut entry, &path).map_err(ArchiveError::io(shown))?;
            if head == Some(b'{') && size <= MAX_CONFIG_SIZE {
                // A config (or an OCI manifest) among the blobs of a Docker 25+ archive.
                small.insert(name, std::fs::read(&path).map_err(ArchiveError::io(&path))?);
                continue;
            }
            let (converted, failed) = (&converted, &failed);
            scope.spawn(move |_| match convert_layer(&path, (0, size), raw.as_str(), layout) {
                Ok(desc) => {
                    on_blob(&desc);
                    let _ = std::fs::remove_file(&path);
                    converted.lock().unwrap_or_else(|p| p.into_inner()).insert(name, (raw, desc));
                }
                Err(e) => {
                    failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                }
            });
        }
        Ok(())
    });
    read?;
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let converted = converted.into_inner().unwrap_or_else(|p| p.into_inner());
    let manifests: Vec<ArchiveManifest> = serde_json::from_slice(
        small.get("manifest.json").ok_or_else(|| invalid("no manifest.json: not a docker archive".into()))?,
    )
    .map_err(|e| invalid(format!("manifest.json: {e}")))?;
    if manifests.is_empty() {
        return Err(invalid("manifest.json lists no image".into()));
    }
    manifests
        .into_par_iter()
        .map(|m| {
            let config = small.get(&m.config).ok_or_else(|| {
                invalid(format!("{} is listed in manifest.json but missing from the archive", m.config))
            })?;
            let rootfs: ConfigRootfs =
                serde_json::from_slice(config).map_err(|e| invalid(format!("{}: {e}", m.config)))?;
            if rootfs.rootfs.diff_ids.len() != m.layers.len() {
                return Err(invalid(format!(
                    "{} lists {} layers but the config has {} diff_ids",
                    m.config,
                    m.layers.len(),
                    rootfs.rootfs.diff_ids.len()
                )));
            }
            let mut layers = Vec::new();
            for (name, diff_id) in m.layers.iter().zip(&rootfs.rootfs.diff_ids) {
                let (raw, desc) = converted.get(name).ok_or_else(|| {
                    invalid(format!("{name} is listed in manifest.json but missing from the archive"))
                })?;
                if raw.as_str() != diff_id {
                    return Err(invalid(format!(
                        "a layer does not match its diff_id {diff_id} (its content is {raw}): the archive is corrupt"
                    )));
                }
                layers.push(desc.clone());
            }
            let config_digest = layout.put_blob_bytes(config)?;
            on_blob(&Descriptor::new(OCI_CONFIG, config_digest.clone(), config.len() as u64));
            manifest_for(layout, shown, &m, config_digest, config.len() as u64, layers)
        })
        .collect()
}

fn read_limited(entry: &mut impl Read, shown: &Path) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = Vec::new();
    entry.take(MAX_CONFIG_SIZE + 1).read_to_end(&mut bytes).map_err(ArchiveError::io(shown))?;
    if bytes.len() as u64 > MAX_CONFIG_SIZE {
        return Err(ArchiveError::invalid(shown, format!("a JSON member is larger than {MAX_CONFIG_SIZE} bytes")));
    }
    Ok(bytes)
}

/// Copies `entry` to `path`: its size, the digest of its bytes and its first byte.
fn stage(entry: &mut impl Read, path: &Path) -> io::Result<(u64, Digest, Option<u8>)> {
    let mut out = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut size, mut head) = (0u64, None);
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head = head.or(Some(buf[0]));
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    out.flush()?;
    Ok((size, Digest::from_hasher(hasher), head))
}

/// Chunks sent from async code, read as a blocking [`Read`] (the export stream → the tar).
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> ChannelReader {
        ChannelReader { rx, buf: bytes::Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buf = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        bytes::Buf::advance(&mut self.buf, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }

    /// A legacy `docker save` archive in the engine's order (layer directories, then the
    /// config, then manifest.json), with `diff` as the config's one diff_id.
    fn archive(layer: &[u8], diff: &str) -> Vec<u8> {
        let config =
            format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#);
        let config_name = format!("{}.json", Digest::of(config.as_bytes()).hex());
        let mut b = tar::Builder::new(Vec::new());
        member(&mut b, "0a1b/VERSION", b"1.0");
        member(&mut b, "0a1b/layer.tar", layer);
        member(&mut b, &config_name, config.as_bytes());
        member(
            &mut b,
            "manifest.json",
            format!(r#"[{{"Config":"{config_name}","RepoTags":["x:1"],"Layers":["0a1b/layer.tar"]}}]"#).as_bytes(),
        );
        b.into_inner().unwrap()
    }

    fn layer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        member(&mut b, "hello", &vec![7u8; 100_000]);
        b.into_inner().unwrap()
    }

    #[test]
    fn a_streamed_archive_imports_like_a_saved_one_and_announces_its_blobs() {
        let layer = layer_tar();
        let bytes = archive(&layer, Digest::of(&layer).as_str());
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (OciLayout::open(&dir.path().join("a")).unwrap(), OciLayout::open(&dir.path().join("b")).unwrap());
        let heard = Mutex::new(Vec::new());
        let streamed =
            import_stream(&bytes[..], &a, Path::new("stream"), &|d| heard.lock().unwrap().push(d.clone())).unwrap();
        let file = dir.path().join("saved.tar");
        std::fs::write(&file, &bytes).unwrap();
        let saved = super::super::docker_archive::import(&file, &b).unwrap();
        assert_eq!(streamed[0].manifest_bytes, saved[0].manifest_bytes, "the same manifest, byte for byte");
        assert_eq!(streamed[0].repo_tags, ["x:1"]);
        let heard: Vec<Digest> = heard.into_inner().unwrap().into_iter().map(|d| d.digest).collect();
        let manifest: serde_json::Value = serde_json::from_slice(&streamed[0].manifest_bytes).unwrap();
        let wanted: Vec<Digest> = [&manifest["layers"][0]["digest"], &manifest["config"]["digest"]]
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(heard, wanted, "each layer, then the config");
        assert!(wanted.iter().all(|d| a.has_blob(d)));
    }

    #[test]
    fn a_layer_that_is_not_its_diff_id_is_refused() {
        let bytes = archive(&layer_tar(), Digest::of(b"something else").as_str());
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open(dir.path()).unwrap();
        let err = import_stream(&bytes[..], &layout, Path::new("stream"), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("does not match its diff_id"), "{err}");
    }
}
