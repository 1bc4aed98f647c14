//! Where images live: a repository on a registry, or an OCI layout directory (the embedded
//! default target and the local stage cache). [`copy`] moves one image between them and is
//! the only place that writes a tag, after every blob the manifest needs is in place.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

use crate::digest::Digest;
use crate::oci::layout::{LayoutError, OciLayout};
use crate::registry::{Client, Descriptor, RegistryError, Repository, parse_manifest};

/// A place one manifest can be tagged.
#[derive(Debug, Clone)]
pub enum Location {
    Registry { client: Client, repo: Repository, tag: String },
    Layout { layout: OciLayout, name: String, tag: String },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Registry { repo, tag, .. } => write!(f, "{repo}:{tag}"),
            Location::Layout { layout, name, tag } => write!(f, "oci:{}:{name}:{tag}", layout.root().display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{location}: manifest {digest} cannot be read: {message}")]
    Manifest { location: String, digest: Digest, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// An image ready to be copied: its manifest and where its blobs can be read.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Bytes,
    pub media_type: String,
    pub digest: Digest,
    pub blobs: Vec<Descriptor>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Origin {
    Layout(OciLayout),
    Registry { client: Client, repo: Repository },
}

/// What a copy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyStats {
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    pub blobs_mounted: usize,
    pub manifest_written: bool,
}

impl CopyStats {
    pub fn add(&mut self, o: CopyStats) {
        self.blobs_uploaded += o.blobs_uploaded;
        self.bytes_uploaded += o.bytes_uploaded;
        self.blobs_mounted += o.blobs_mounted;
        self.manifest_written |= o.manifest_written;
    }
}

impl Image {
    /// Reads the image tagged at `loc`, or `None` when nothing is tagged there.
    pub async fn read(loc: &Location) -> Result<Option<Image>, StoreError> {
        match loc {
            Location::Registry { client, repo, tag } => {
                // One GET, no HEAD first: a missing tag answers 404.
                let (bytes, media_type, digest) = match client.get_manifest(repo, tag).await {
                    Ok(found) => found,
                    Err(RegistryError::Status { status: 404, .. }) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let origin = Origin::Registry { client: client.clone(), repo: repo.clone() };
                Image::from_manifest(loc, bytes, media_type, digest, origin).map(Some)
            }
            Location::Layout { layout, name, tag } => {
                let Some(desc) = layout.resolve(&format!("{name}:{tag}"))? else { return Ok(None) };
                let bytes = layout.read_blob(&desc.digest)?;
                Image::from_manifest(loc, bytes, desc.media_type, desc.digest, Origin::Layout(layout.clone())).map(Some)
            }
        }
    }

    pub fn from_manifest(loc: &impl std::fmt::Display, manifest: Bytes, media_type: String, digest: Digest, origin: Origin) -> Result<Image, StoreError> {
        let content = parse_manifest(&manifest, &media_type).map_err(|e| StoreError::Manifest {
            location: loc.to_string(),
            digest: digest.clone(),
            message: e.to_string(),
        })?;
        let blobs = content.references().into_iter().cloned().collect();
        Ok(Image { manifest, media_type, digest, blobs, origin })
    }
}

/// The manifest digest tagged at `loc`, if any.
pub async fn resolve(loc: &Location) -> Result<Option<Digest>, StoreError> {
    Ok(match loc {
        Location::Registry { client, repo, tag } => client.head_manifest(repo, tag).await?.map(|d| d.digest),
        Location::Layout { layout, name, tag } => layout.resolve(&format!("{name}:{tag}"))?.map(|d| d.digest),
    })
}

/// How many blobs go up at once.
const BLOB_CONCURRENCY: usize = 4;

/// Makes `loc` point at `image`: blobs first (skipping those already there, mounting
/// across repositories of the same registry), the tag last. Nothing is written when the
/// tag already points at the image.
pub async fn copy(image: &Image, loc: &Location) -> Result<CopyStats, StoreError> {
    if resolve(loc).await?.as_ref() == Some(&image.digest) {
        return Ok(CopyStats::default());
    }
    let copies: Vec<futures::future::BoxFuture<'_, Result<CopyStats, StoreError>>> =
        image.blobs.iter().map(|b| Box::pin(copy_blob(image, b, loc)) as _).collect();
    let mut stats = futures::stream::iter(copies)
        .buffer_unordered(BLOB_CONCURRENCY)
        .try_fold(CopyStats::default(), |mut acc, s| async move {
            acc.add(s);
            Ok(acc)
        })
        .await?;
    match loc {
        Location::Registry { client, repo, tag } => {
            client.put_manifest(repo, tag, &image.media_type, image.manifest.clone()).await?;
        }
        Location::Layout { layout, name, tag } => {
            layout.put_manifest(&format!("{name}:{tag}"), &image.media_type, &image.manifest)?;
        }
    }
    stats.manifest_written = true;
    Ok(stats)
}

async fn copy_blob(image: &Image, blob: &Descriptor, loc: &Location) -> Result<CopyStats, StoreError> {
    let mut stats = CopyStats::default();
    match (loc, &image.origin) {
        (Location::Registry { client, repo, .. }, origin) => {
            if client.blob_exists(repo, &blob.digest).await?.is_some() {
                return Ok(stats);
            }
            if let Origin::Registry { repo: from, .. } = origin
                && from.registry == repo.registry && from != repo && client.mount_blob(repo, from, &blob.digest).await? {
                    stats.blobs_mounted = 1;
                    return Ok(stats);
                }
            let (path, _tmp) = local_blob(image, blob).await?;
            client.push_blob_file(repo, &blob.digest, blob.size, &path).await?;
            stats.blobs_uploaded = 1;
            stats.bytes_uploaded = blob.size;
        }
        (Location::Layout { layout, .. }, _) => {
            if layout.has_blob(&blob.digest) {
                return Ok(stats);
            }
            let (path, _tmp) = local_blob(image, blob).await?;
            let (layout, digest) = (layout.clone(), blob.digest.clone());
            tokio::task::spawn_blocking(move || layout.put_blob_file(&digest, &path))
                .await
                .map_err(|e| StoreError::Io { path: PathBuf::new(), source: std::io::Error::other(e) })??;
            stats.blobs_uploaded = 1;
            stats.bytes_uploaded = blob.size;
        }
    }
    Ok(stats)
}

/// A file holding the blob: the origin layout's own file, or a verified download kept
/// alive by the returned temp file.
async fn local_blob(image: &Image, blob: &Descriptor) -> Result<(PathBuf, Option<tempfile::TempPath>), StoreError> {
    match &image.origin {
        Origin::Layout(layout) => Ok((layout.blob_path(&blob.digest), None)),
        Origin::Registry { client, repo } => {
            let tmp = tempfile::NamedTempFile::new().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
            let path = tmp.into_temp_path();
            let io = |source| StoreError::Io { path: path.to_path_buf(), source };
            let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.map_err(io)?);
            let mut stream = client.get_blob(repo, &blob.digest).await?;
            while let Some(chunk) = stream.next().await {
                file.write_all(&chunk?).await.map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
            }
            file.flush().await.map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
            Ok((path.to_path_buf(), Some(path)))
        }
    }
}
