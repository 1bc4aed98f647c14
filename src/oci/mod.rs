//! OCI image building blocks shared by the stores: the image layout on disk, the conversion
//! of engine exports into OCI images, and the readers of ready-made archives.
//!
//! Media types and [`Descriptor`] are the registry's ([`crate::spec::manifest`]); they are
//! re-exported here so the readers and the layout speak the same types as the client.
//!
//! - [`layout`]: an OCI image-layout directory that wharf writes (cache, embedded target).
//! - [`docker_archive`]: `docker save` archives → OCI images (and back, for `docker load`).
//! - [`oci_dir`] / [`oci_tar`]: OCI image layouts made elsewhere, as a directory or a tar.
//! - [`source`]: one entry point that recognises any of them (gzipped or not, by magic).

pub mod docker_archive;
pub(crate) mod docker_stream;
pub mod layout;
pub(crate) mod oci_dir;
pub(crate) mod oci_tar;
pub mod source;
#[cfg(test)]
mod source_tests;
mod tar_index;

use std::io;
use std::path::{Path, PathBuf};

use layout::LayoutError;

pub use crate::spec::manifest::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Descriptor, MAX_MANIFEST_SIZE, OCI_CONFIG,
    OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST, Platform,
};

/// Largest image config read into memory (configs of real images are a few KiB).
pub const MAX_CONFIG_SIZE: u64 = 16 * 1024 * 1024;

/// Why an archive or layout cannot be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Readable, but no image: neither a docker archive nor an OCI image layout (`wharf push`
    /// then publishes it as an artifact).
    #[error("{path}: {why}")]
    NotAnImage { path: PathBuf, why: String },
}

/// Opens `path` for reading if it is a regular file. A FIFO, socket or device is refused
/// (opening a FIFO for reading would wait for a writer forever); a symbolic link to a regular
/// file is fine (the user chose the source).
pub(crate) fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let file = std::fs::File::options().read(true).custom_flags(nonblock).open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "not a regular file (a FIFO, socket or device)" };
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{what}; only regular files are read")));
    }
    Ok(file)
}

impl ArchiveError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> ArchiveError {
        ArchiveError::Invalid { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + use<> {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    }
}

impl ArchiveError {
    pub fn category(&self) -> crate::error::Category {
        crate::error::Category::Input
    }
}
