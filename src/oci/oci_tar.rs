//! Unpacks an OCI image layout stored as a tar (buildx `type=oci`, `skopeo copy oci-archive:`)
//! into a staging directory that [`oci_dir`](super::oci_dir) then reads.
//!
//! Only `oci-layout`, `index.json` and `blobs/sha256/<hex>` are taken; nothing is written at
//! a path from the archive (the staged names are rebuilt from the digest), and every blob is
//! checked against its digest as it is copied. Unsafe paths, links that leave the archive and
//! truncated members were refused already when the tar was indexed.

use rayon::prelude::*;
use std::fs;
use std::path::Path;

use super::ArchiveError;
use super::layout::{LayoutError, OciLayout};
use super::source::MANIFEST_LIMIT;
use super::tar_index::{TarIndex, open_member, read_member};
use crate::spec::digest::Digest;

/// Copies the layout in the tar at `tar` into `dir` (which must not exist yet).
pub(crate) fn extract(tar: &Path, index: &TarIndex, dir: &Path) -> Result<(), ArchiveError> {
    fs::create_dir_all(dir.join("blobs/sha256")).map_err(ArchiveError::io(dir))?;
    for name in ["oci-layout", "index.json"] {
        if let Some(loc) = index.find(name) {
            let bytes = read_member(tar, name, loc, MANIFEST_LIMIT)?;
            let dest = dir.join(name);
            fs::write(&dest, bytes).map_err(ArchiveError::io(&dest))?;
        }
    }
    let blobs: Vec<(Digest, (u64, u64))> = index
        .names()
        .filter_map(|name| {
            let hex = name.strip_prefix("blobs/sha256/")?;
            let digest = format!("sha256:{hex}").parse::<Digest>().ok()?;
            Some((digest, index.find(name)?))
        })
        .collect();
    let layout = OciLayout::existing(dir);
    blobs.par_iter().try_for_each(|(digest, loc)| {
        let reader = open_member(tar, *loc)?;
        match layout.put_blob_reader(digest, reader) {
            Ok(_) => Ok(()),
            Err(LayoutError::DigestMismatch { actual, .. }) => Err(ArchiveError::invalid(
                tar,
                format!("blobs/sha256/{} is corrupt: its content has digest {actual}", digest.hex()),
            )),
            Err(e) => Err(e.into()),
        }
    })
}
