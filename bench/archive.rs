//! A `docker save` archive written without an engine: the legacy form Docker 20.10 saves
//! (`<id>/layer.tar` per layer, `<id>.json` the config, `manifest.json`, `repositories`),
//! each layer one file of incompressible bytes. The push case's archive tools (wharf push,
//! crane, regctl, skopeo) read it at sizes an engine with vfs storage could not hold (vfs
//! keeps a full tree per layer: 8 layers of 512 MiB would take 18 GiB).
//!
//! Deterministic: the same sizes give the same bytes, so the layers' digests are the same
//! in every run.

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::support::Noise;

/// Writes `layers` layers of `layer_bytes` noise each as `path` (a temporary file renamed
/// into place, so an interrupted run leaves no half archive behind).
pub fn write(path: &Path, layers: usize, layer_bytes: u64) -> Result<()> {
    let tmp = path.with_extension("partial");
    let mut out = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    let mut diff_ids = Vec::new();
    let mut names = Vec::new();
    for i in 0..layers {
        let id = hex::encode(Sha256::digest(format!("bench layer {i} of {layer_bytes}").as_bytes()));
        let name = format!("{id}/layer.tar");
        // The layer: one tar of one file, written through a hasher (its diff_id).
        let layer_size = 512 + padded(layer_bytes) + 1024;
        append_header(&mut out, &name, layer_size)?;
        let mut hashing = Hashing { inner: &mut out, hasher: Sha256::new() };
        let mut inner = tar::Header::new_gnu();
        inner.set_path(format!("layer{i}.bin"))?;
        inner.set_size(layer_bytes);
        inner.set_mode(0o644);
        inner.set_mtime(0);
        inner.set_cksum();
        hashing.write_all(inner.as_bytes())?;
        let mut noise = Noise::new(1000 + i as u64 + layer_bytes);
        let mut buf = vec![0u8; 1 << 20];
        let mut left = layer_bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            noise.fill(&mut buf[..n]);
            hashing.write_all(&buf[..n])?;
            left -= n as u64;
        }
        hashing.write_all(&vec![0u8; (padded(layer_bytes) - layer_bytes) as usize + 1024])?;
        diff_ids.push(format!("sha256:{}", hex::encode(hashing.hasher.finalize())));
        pad(&mut out, layer_size)?;
        append_small(&mut out, &format!("{id}/VERSION"), b"1.0")?;
        names.push(name);
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))?;
    let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
    append_small(&mut out, &config_name, &config)?;
    let manifest = serde_json::to_vec(
        &serde_json::json!([{ "Config": config_name, "RepoTags": ["wharf-bench/archive:1"], "Layers": names }]),
    )?;
    append_small(&mut out, "manifest.json", &manifest)?;
    append_small(&mut out, "repositories", br#"{"wharf-bench/archive":{"1":""}}"#)?;
    out.write_all(&[0u8; 1024])?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

fn append_header(out: &mut impl Write, name: &str, size: u64) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    out.write_all(h.as_bytes())?;
    Ok(())
}

fn pad(out: &mut impl Write, size: u64) -> Result<()> {
    out.write_all(&vec![0u8; (padded(size) - size) as usize])?;
    Ok(())
}

fn append_small(out: &mut impl Write, name: &str, data: &[u8]) -> Result<()> {
    append_header(out, name, data.len() as u64)?;
    out.write_all(data)?;
    pad(out, data.len() as u64)
}

struct Hashing<'a, W: Write> {
    inner: &'a mut W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
