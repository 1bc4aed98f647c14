//! `wharf pull`: bring an artifact or an image from any store (a registry, a static root) to
//! this machine.
//!
//! - An artifact (a manifest with `artifactType`, or a config that is no image config): its
//!   titled layers become files in the output directory ([`crate::artifact::unpack`]: every
//!   path checked, every byte verified, nothing replaced without `--force`).
//! - An image: an OCI image layout (`--format oci`, the default; an index keeps every platform
//!   unless `--platform` picks one) or a `docker load` archive (`--format docker-archive`, one
//!   platform: `--platform`, else the only one, else linux/amd64).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::artifact::unpack::{UnpackError, Written, write_files};
use crate::oci::layout::OciLayout;
use crate::spec::Digest;
use crate::spec::manifest::{DOCKER_CONFIG, ManifestContent, OCI_CONFIG, Platform, is_index, parse_manifest};
use crate::store::{Image, ImageStore, LayoutStore, Location, StoreError, copy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// An OCI image layout directory.
    #[default]
    Oci,
    /// A `docker load` archive (one platform).
    DockerArchive,
}

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The directory (artifacts, OCI layout) or file (docker archive) to write.
    pub out: PathBuf,
    pub force: bool,
    pub format: Format,
    /// `os/arch[/variant]`.
    pub platform: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{reference}: nothing there")]
    NotFound { reference: String },
    #[error("{reference}: {message}")]
    Unusable { reference: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Archive(#[from] crate::oci::ArchiveError),
    #[error(transparent)]
    Layout(#[from] crate::oci::layout::LayoutError),
}

impl PullError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            PullError::NotFound { .. } => crate::error::Category::Registry,
            PullError::Unusable { .. } => crate::error::Category::Usage,
            PullError::Store(e) => e.category(),
            PullError::Unpack(e) => e.category(),
            PullError::Archive(_) | PullError::Layout(_) => crate::error::Category::Local,
        }
    }
}

/// What a pull wrote.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Pulled {
    Artifact { digest: Digest, artifact_type: Option<String>, files: Vec<Written> },
    Image { digest: Digest, format: Format, path: PathBuf, platforms: Vec<String> },
}

/// Whether a manifest is an artifact rather than a runnable image.
pub fn is_artifact(manifest: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        artifact_type: Option<String>,
        config: Option<crate::spec::manifest::Descriptor>,
    }
    let Ok(p) = serde_json::from_slice::<Probe>(manifest) else { return false };
    p.artifact_type.is_some() || p.config.is_some_and(|c| c.media_type != OCI_CONFIG && c.media_type != DOCKER_CONFIG)
}

fn platform_key(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// Pulls `reference` (a tag or digest) of `store` as `opts` says.
pub async fn pull(store: Arc<dyn ImageStore>, reference: &str, opts: &PullOptions) -> Result<Pulled, PullError> {
    let shown = format!("{}:{reference}", store.name());
    let loc = Location::new(store.clone(), reference);
    let image = Image::read(&loc).await?.ok_or_else(|| PullError::NotFound { reference: shown.clone() })?;
    if !is_index(&image.media_type) && is_artifact(&image.manifest) {
        let ManifestContent::Image { layers, .. } = parse_manifest(&image.manifest, &image.media_type)
            .map_err(|e| PullError::Unusable { reference: shown.clone(), message: e.to_string() })?
        else {
            return Err(PullError::Unusable { reference: shown, message: "not an artifact manifest".into() });
        };
        let files = write_files(store.as_ref(), &layers, &opts.out, opts.force).await?;
        return Ok(Pulled::Artifact {
            digest: image.digest.clone(),
            artifact_type: crate::spec::manifest::artifact_type(&image.manifest),
            files,
        });
    }
    let (picked, platforms) = choose(image, opts, &shown)?;
    let tag = if reference.parse::<Digest>().is_ok() { "pulled".to_string() } else { reference.to_string() };
    match opts.format {
        Format::Oci => {
            let layout = LayoutStore::shared(OciLayout::open(&opts.out)?, repo_name(&store));
            if layout.resolve(&tag).await?.is_some_and(|d| d != picked.digest) && !opts.force {
                return Err(UnpackError::Exists {
                    path: opts.out.join(format!("index.json ({}:{tag})", repo_name(&store))),
                }
                .into());
            }
            copy(&picked, &Location::new(layout, &tag)).await?;
            Ok(Pulled::Image { digest: picked.digest.clone(), format: Format::Oci, path: opts.out.clone(), platforms })
        }
        Format::DockerArchive => {
            if is_index(&picked.media_type) {
                return Err(PullError::Unusable {
                    reference: shown,
                    message: "a docker archive holds one platform: pass --platform OS/ARCH".into(),
                });
            }
            refuse_existing(&opts.out, opts.force)?;
            let staging =
                tempfile::tempdir().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
            let layout = OciLayout::open(staging.path())?;
            copy(&picked, &Location::new(LayoutStore::shared(layout.clone(), "x"), "pulled")).await?;
            let (manifest, out, name) =
                (picked.manifest.clone(), opts.out.clone(), format!("{}:{tag}", repo_name(&store)));
            tokio::task::spawn_blocking(move || crate::oci::docker_archive::write(&layout, &manifest, &name, &out))
                .await
                .map_err(|e| StoreError::Io { path: opts.out.clone(), source: std::io::Error::other(e) })??;
            Ok(Pulled::Image {
                digest: picked.digest.clone(),
                format: Format::DockerArchive,
                path: opts.out.clone(),
                platforms,
            })
        }
    }
}

/// The image a pull takes, and its platforms: `--platform`'s, else everything (OCI) or the only
/// / the linux/amd64 image (docker archive).
fn choose(image: Image, opts: &PullOptions, shown: &str) -> Result<(Image, Vec<String>), PullError> {
    if !is_index(&image.media_type) {
        return Ok((image, Vec::new()));
    }
    let keyed = children_platforms(&image);
    let wanted = match (&opts.platform, opts.format) {
        (Some(p), _) => p.clone(),
        (None, Format::Oci) => {
            let all = keyed.into_iter().map(|(k, _)| k).collect();
            return Ok((image, all));
        }
        (None, Format::DockerArchive) if keyed.len() == 1 => keyed[0].0.clone(),
        (None, Format::DockerArchive) => "linux/amd64".to_string(),
    };
    let available: Vec<String> = keyed.iter().map(|(k, _)| k.clone()).collect();
    keyed.into_iter().find(|(k, _)| *k == wanted).map(|(k, i)| (i.clone(), vec![k])).ok_or_else(|| {
        PullError::Unusable {
            reference: shown.to_string(),
            message: format!("no image for platform {wanted} (it has {})", available.join(", ")),
        }
    })
}

fn children_platforms(image: &Image) -> Vec<(String, &Image)> {
    let Ok(ManifestContent::Index { manifests }) = parse_manifest(&image.manifest, &image.media_type) else {
        return Vec::new();
    };
    manifests
        .iter()
        .filter_map(|d| {
            let child = image.children.iter().find(|c| c.digest == d.digest)?;
            Some((d.platform.as_ref().map(platform_key).unwrap_or_else(|| "unknown".into()), child))
        })
        .collect()
}

fn repo_name(store: &Arc<dyn ImageStore>) -> String {
    store
        .registry()
        .map(|(_, r)| r.path.clone())
        .unwrap_or_else(|| store.name().rsplit('/').next().unwrap_or("image").to_string())
}

fn refuse_existing(path: &Path, force: bool) -> Result<(), PullError> {
    if path.exists() && !force {
        return Err(UnpackError::Exists { path: path.to_path_buf() }.into());
    }
    Ok(())
}
