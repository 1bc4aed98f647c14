//! OCI artifacts: anything that is not a container image — packs, Helm charts, SBOMs,
//! signatures, binaries — stored in registries and static roots the way oras and helm do, so
//! that they, regclient and crane read what wharf writes, and wharf reads what they write.
//!
//! Image-spec 1.1's artifact guidance: a manifest with `artifactType`, the empty config (or one
//! given with `--config`), one layer per file annotated with `org.opencontainers.image.title`,
//! an optional `subject` (which makes it a referrer of another manifest), and
//! `org.opencontainers.image.created`. Directories become one deterministic tar+gzip layer
//! (oras's `io.deis.oras.content.unpack` convention). Helm charts get Helm's own media types.
//!
//! - [`pack`]: files and directories into blobs of a staging layout, and the manifest;
//! - [`helm`]: recognising a chart and writing its config;
//! - [`unpack`]: writing an artifact's files out, every path checked.

pub mod helm;
pub mod pack;
pub mod unpack;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::spec::manifest::Descriptor;

/// oras's default artifact type when none is given.
pub const DEFAULT_ARTIFACT_TYPE: &str = "application/vnd.unknown.artifact.v1";
/// oras's default media type of a file layer.
pub const DEFAULT_FILE_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// The media type of a directory packed into a layer.
pub const DIRECTORY_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// A layer's file name.
pub const TITLE: &str = "org.opencontainers.image.title";
/// oras: the layer is a directory to unpack.
pub const UNPACK: &str = "io.deis.oras.content.unpack";
/// oras: the digest of the directory's uncompressed tar.
pub const CONTENT_DIGEST: &str = "io.deis.oras.content.digest";

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Layout(#[from] crate::oci::layout::LayoutError),
}

impl ArtifactError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            ArtifactError::Io { .. } | ArtifactError::Invalid { .. } => crate::error::Category::Input,
            ArtifactError::Usage(_) => crate::error::Category::Usage,
            ArtifactError::Layout(e) => e.category(),
        }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ArtifactError + use<> {
        let path = path.to_path_buf();
        move |source| ArtifactError::Io { path, source }
    }
}

/// One file or directory to push, with its layer media type when given (`--file-type`, or
/// `PATH:MEDIATYPE` as oras writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: PathBuf,
    pub media_type: Option<String>,
}

/// What to push as one artifact.
#[derive(Debug, Clone, Default)]
pub struct ArtifactSpec {
    pub files: Vec<FileSpec>,
    /// `--artifact-type`; Helm charts and a given config decide it otherwise.
    pub artifact_type: Option<String>,
    /// `--config FILE[:MEDIATYPE]`.
    pub config: Option<FileSpec>,
    /// Manifest annotations (`org.opencontainers.image.created` among them).
    pub annotations: BTreeMap<String, String>,
    /// The manifest this artifact refers to (`--subject`).
    pub subject: Option<Descriptor>,
}
