//! Where images live: a repository on a registry, or an OCI layout directory (the embedded
//! default target and the local stage cache). [`copy`] and [`copy_all`] move one image (a
//! manifest, or an index with its child manifests) between them and are the only places that
//! write a tag, after every blob and child manifest it needs is in place.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

use crate::spec::digest::Digest;
use super::static_root::{StaticError, StaticRoot};
use crate::oci::layout::{LayoutError, OciLayout};
use crate::registry::{Client, Descriptor, RegistryError, Repository, parse_manifest};

/// A place one manifest can be tagged.
#[derive(Debug, Clone)]
pub enum Location {
    Registry { client: Client, repo: Repository, tag: String },
    Layout { layout: OciLayout, name: String, tag: String },
    /// A static registry: files a plain web server can serve.
    Static { root: StaticRoot, repo: String, tag: String },
}

impl Location {
    /// Locations with the same key share blobs and manifests (they differ only by tag).
    fn store_key(&self) -> String {
        match self {
            Location::Registry { repo, .. } => format!("registry:{repo}"),
            Location::Layout { layout, .. } => format!("layout:{}", layout.root().display()),
            Location::Static { root, repo, .. } => format!("static:{root}/{repo}"),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Registry { repo, tag, .. } => write!(f, "{repo}:{tag}"),
            Location::Layout { layout, name, tag } => write!(f, "oci:{}:{name}:{tag}", layout.root().display()),
            Location::Static { root, repo, tag } => write!(f, "static:{root}/{repo}:{tag}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Static(#[from] StaticError),
    #[error("{location}: manifest {digest} cannot be read: {message}")]
    Manifest {
        location: String,
        digest: Digest,
        message: String,
        /// A registry served it (a registry problem, exit 5), rather than local storage.
        from_registry: bool,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// An image ready to be copied: its manifest and where its blobs can be read. An index has
/// no blobs of its own; its child manifests are `children`, each with its own origin.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Bytes,
    pub media_type: String,
    pub digest: Digest,
    pub blobs: Vec<Descriptor>,
    pub children: Vec<Image>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Origin {
    Layout(OciLayout),
    Registry { client: Client, repo: Repository },
    Static { root: StaticRoot, repo: String },
}

/// What a copy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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
                let mut image = Image::from_manifest(loc, bytes, media_type, digest, origin)?;
                image.read_children(loc).await?;
                Ok(Some(image))
            }
            Location::Layout { layout, name, tag } => {
                let Some(desc) = layout.resolve(&format!("{name}:{tag}"))? else { return Ok(None) };
                let bytes = layout.read_blob(&desc.digest)?;
                let mut image = Image::from_manifest(loc, bytes, desc.media_type, desc.digest, Origin::Layout(layout.clone()))?;
                image.read_children(loc).await?;
                Ok(Some(image))
            }
            Location::Static { root, repo, tag } => {
                let Some((bytes, media_type)) = root.read_manifest(repo, tag).await? else { return Ok(None) };
                let origin = Origin::Static { root: root.clone(), repo: repo.clone() };
                let mut image = Image::from_manifest(loc, bytes.clone(), media_type, Digest::of(&bytes), origin)?;
                image.read_children(loc).await?;
                Ok(Some(image))
            }
        }
    }

    /// For an index: reads each child manifest (one level; nested indexes are rare) and moves
    /// it from `blobs` to `children`.
    async fn read_children(&mut self, loc: &Location) -> Result<(), StoreError> {
        if !crate::spec::manifest::is_index(&self.media_type) || !self.children.is_empty() {
            return Ok(());
        }
        for child in std::mem::take(&mut self.blobs) {
            let (bytes, media_type) = match &self.origin {
                Origin::Registry { client, repo } => {
                    let (bytes, media_type, _) = client.get_manifest(repo, child.digest.as_str()).await?;
                    (bytes, media_type)
                }
                Origin::Layout(layout) => (layout.read_blob(&child.digest)?, child.media_type.clone()),
                Origin::Static { root, repo } => root.read_manifest(repo, child.digest.as_str()).await?.ok_or_else(|| StoreError::Manifest {
                    location: loc.to_string(),
                    digest: child.digest.clone(),
                    message: "child manifest is missing".into(),
                    from_registry: false,
                })?,
            };
            if Digest::of(&bytes) != child.digest {
                let message = "child manifest does not match its digest".to_string();
                let from_registry = matches!(self.origin, Origin::Registry { .. });
                return Err(StoreError::Manifest { location: loc.to_string(), digest: child.digest, message, from_registry });
            }
            self.children.push(Image::from_manifest(loc, bytes, media_type, child.digest, self.origin.clone())?);
        }
        Ok(())
    }

    pub fn from_manifest(loc: &impl std::fmt::Display, manifest: Bytes, media_type: String, digest: Digest, origin: Origin) -> Result<Image, StoreError> {
        let content = parse_manifest(&manifest, &media_type).map_err(|e| StoreError::Manifest {
            location: loc.to_string(),
            digest: digest.clone(),
            message: e.to_string(),
            from_registry: matches!(origin, Origin::Registry { .. }),
        })?;
        let blobs = content.references().into_iter().cloned().collect();
        Ok(Image { manifest, media_type, digest, blobs, children: Vec::new(), origin })
    }
}

/// The manifest digest tagged at `loc`, if any.
pub async fn resolve(loc: &Location) -> Result<Option<Digest>, StoreError> {
    Ok(match loc {
        Location::Registry { client, repo, tag } => client.head_manifest(repo, tag).await?.map(|d| d.digest),
        Location::Layout { layout, name, tag } => layout.resolve(&format!("{name}:{tag}"))?.map(|d| d.digest),
        Location::Static { root, repo, tag } => root.resolve(repo, tag).await?,
    })
}

/// How many blobs go up at once.
const BLOB_CONCURRENCY: usize = 4;

/// Makes `loc` point at `image`: blobs first (skipping those already there, mounting
/// across repositories of the same registry), the tag last. Nothing is written when the
/// tag already points at the image.
pub async fn copy(image: &Image, loc: &Location) -> Result<CopyStats, StoreError> {
    copy_all(image, std::slice::from_ref(loc)).await
}

/// Makes every location point at `image`. The content (child manifests, blobs) goes to each
/// distinct store once; the tags are written only after all of it is everywhere, so a failure
/// leaves no tag pointing at a partial image.
pub async fn copy_all(image: &Image, locs: &[Location]) -> Result<CopyStats, StoreError> {
    let mut pending = Vec::new();
    for loc in locs {
        if resolve(loc).await?.as_ref() != Some(&image.digest) {
            pending.push(loc);
        }
    }
    let mut stats = CopyStats::default();
    let mut done: Vec<String> = Vec::new();
    for loc in &pending {
        let key = loc.store_key();
        if !done.contains(&key) {
            stats.add(copy_content(image, loc).await?);
            done.push(key);
        }
    }
    for loc in pending {
        match put_manifest(image, loc, true).await {
            // Another writer in the same repository at the same moment (a concurrent publish)
            // can leave a blob unlinked: check the content again, once, and retry the tag.
            Err(StoreError::Registry(e)) if e.has_code("MANIFEST_BLOB_UNKNOWN") => {
                tracing::info!(%loc, "the registry lost a blob under a concurrent writer; checking the content again");
                stats.add(copy_content(image, loc).await?);
                put_manifest(image, loc, true).await?;
            }
            other => other?,
        }
        stats.manifest_written = true;
    }
    Ok(stats)
}

/// Everything `image` needs at `loc` except its own manifest: each child (its content, then
/// its manifest, by digest) and the blobs.
fn copy_content<'a>(image: &'a Image, loc: &'a Location) -> futures::future::BoxFuture<'a, Result<CopyStats, StoreError>> {
    Box::pin(async move {
        let mut stats = CopyStats::default();
        for child in &image.children {
            stats.add(copy_content(child, loc).await?);
            put_manifest(child, loc, false).await?;
        }
        let copies: Vec<futures::future::BoxFuture<'_, Result<CopyStats, StoreError>>> =
            image.blobs.iter().map(|b| Box::pin(copy_blob(image, b, loc)) as _).collect();
        let blobs = futures::stream::iter(copies)
            .buffer_unordered(BLOB_CONCURRENCY)
            .try_fold(CopyStats::default(), |mut acc, s| async move {
                acc.add(s);
                Ok(acc)
            })
            .await?;
        stats.add(blobs);
        Ok(stats)
    })
}

/// Writes `image`'s manifest at `loc`: under the location's tag, or by digest only.
async fn put_manifest(image: &Image, loc: &Location, tagged: bool) -> Result<(), StoreError> {
    match loc {
        Location::Registry { client, repo, tag } => {
            let reference = if tagged { tag.clone() } else { image.digest.to_string() };
            if !tagged && client.head_manifest(repo, &reference).await?.is_some() {
                return Ok(());
            }
            client.put_manifest(repo, &reference, &image.media_type, image.manifest.clone()).await?;
        }
        Location::Layout { layout, name, tag } => {
            if tagged {
                layout.put_manifest(&format!("{name}:{tag}"), &image.media_type, &image.manifest)?;
            } else {
                layout.put_blob_bytes(&image.manifest)?;
            }
        }
        Location::Static { root, repo, tag } => {
            let reference = if tagged { tag.clone() } else { image.digest.to_string() };
            root.put_manifest(repo, &reference, &image.media_type, &image.manifest).await?;
        }
    }
    Ok(())
}

async fn copy_blob(image: &Image, blob: &Descriptor, loc: &Location) -> Result<CopyStats, StoreError> {
    let mut stats = CopyStats::default();
    match (loc, &image.origin) {
        (Location::Registry { client, repo, .. }, origin) => {
            // One upload per blob and registry at a time: two stages sharing a base layer
            // must not both send it.
            let slot = client.upload_slot(&repo.registry, &blob.digest);
            let mut uploaded_to = slot.lock().await;
            if client.blob_exists(repo, &blob.digest).await?.is_some() {
                return Ok(stats);
            }
            let mount_from = match origin {
                Origin::Registry { repo: from, .. } if from.registry == repo.registry && from != repo => Some(from),
                _ => uploaded_to.as_ref().filter(|from| *from != repo),
            };
            if let Some(from) = mount_from
                && client.mount_blob(repo, from, &blob.digest).await?
            {
                stats.blobs_mounted = 1;
                return Ok(stats);
            }
            let (path, _tmp) = local_blob(image, blob).await?;
            client.push_blob_file(repo, &blob.digest, blob.size, &path).await?;
            *uploaded_to = Some(repo.clone());
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
        (Location::Static { root, repo, .. }, _) => {
            if root.has_blob(repo, &blob.digest).await? {
                return Ok(stats);
            }
            let (path, _tmp) = local_blob(image, blob).await?;
            root.put_blob_file(repo, &blob.digest, &path).await?;
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
        Origin::Static { root, repo } => Ok(root.blob_file(repo, &blob.digest).await?),
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
