//! `static push` (read and check the source, copy the files, write `release.json`, then the
//! version into `tags.json`) and `static ls`.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

use super::dest::{Dest, version_dir};
use super::names::{sort_versions, validate_name, validate_version};
use super::source::{self, SourceFlavour};
use super::{FileEntry, FilesError, Flavour, Release, TagList};
use crate::static_registry::root::{StaticError, StaticRoot};

/// Files copied at once.
const COPY_CONCURRENCY: usize = 4;

/// What `static push` published.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Published {
    /// The directory or `s3://BUCKET/PREFIX`.
    pub destination: String,
    /// The version was there before and was replaced (`--force`).
    pub replaced: bool,
    pub files: usize,
    pub bytes: u64,
    /// The version's `release.json`.
    pub release: Release,
}

impl Published {
    pub fn to_text(&self) -> String {
        let r = &self.release;
        let mut out = format!(
            "published {}:{} to {} ({} file(s), {} bytes{})\n",
            r.name,
            r.version,
            self.destination,
            self.files,
            self.bytes,
            if self.replaced { ", replaced" } else { "" }
        );
        for f in r.flavours.iter().flat_map(|f| &f.files) {
            out.push_str(&format!("  {}/{}/{}  {}  sha256:{}\n", r.name, r.version, f.path, f.size, f.sha256));
        }
        out
    }
}

/// Runs the blocking `f` on tokio's blocking pool.
pub(super) async fn on_pool<T: Send + 'static>(
    root: &StaticRoot,
    f: impl FnOnce() -> Result<T, FilesError> + Send + 'static,
) -> Result<T, FilesError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FilesError::Static(StaticError::Invalid { root: root.to_string(), message: e.to_string() }))?
}

/// Publishes `dir` as `name:version` in `root`; `force` replaces a version already there.
pub async fn push(
    root: &StaticRoot,
    name: &str,
    version: &str,
    dir: &Path,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Published, FilesError> {
    validate_name(name)?;
    validate_version(version)?;
    let src = dir.to_path_buf();
    let flavours = on_pool(root, move || source::read(&src)).await?;
    let dest = Dest::new(root);
    let _lock = dest.lock(name).await?;
    let mut tags = dest.tags(name).await?.unwrap_or_else(|| TagList { name: name.into(), tags: Vec::new() });
    let replaced = tags.tags.iter().any(|t| t == version);
    if replaced && !force {
        return Err(FilesError::Exists { name: name.into(), version: version.into(), dest: dest.describe() });
    }
    if replaced {
        // Out of the list first: no reader takes the version while its files change.
        tags.tags.retain(|t| t != version);
        dest.write_tags(&tags).await?;
    }
    let vdir = version_dir(name, version);
    // Whatever is there already (a replaced version, or an interrupted push) and is not about
    // to be written goes; `release.json` too, until the new one is written.
    let planned: HashSet<&str> = flavours.iter().flat_map(|f| &f.files).map(|f| f.rel.as_str()).collect();
    for stale in dest.list_tree(&vdir).await? {
        if !planned.contains(stale.name.as_str()) {
            dest.delete(&format!("{vdir}/{}", stale.name)).await?;
        }
    }
    dest.prune(&vdir).await?;
    let files: Vec<_> = flavours.iter().flat_map(|f| &f.files).collect();
    futures::stream::iter(files.iter().map(|f| dest.put_file(&vdir, f)))
        .buffer_unordered(COPY_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let release = release_of(name, version, now, &flavours);
    dest.write_release(&release).await?;
    // Read again: on S3 no lock in the root keeps out another push of this name meanwhile.
    let mut tags = dest.tags(name).await?.unwrap_or_else(|| TagList { name: name.into(), tags: Vec::new() });
    tags.tags.push(version.into());
    sort_versions(&mut tags.tags);
    dest.write_tags(&tags).await?;
    Ok(Published {
        destination: dest.describe(),
        replaced,
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
        release,
    })
}

fn release_of(name: &str, version: &str, created: DateTime<Utc>, flavours: &[SourceFlavour]) -> Release {
    let flavours = flavours
        .iter()
        .map(|f| Flavour {
            platform: f.platform.clone(),
            files: f
                .files
                .iter()
                .map(|s| FileEntry {
                    name: s.name.clone(),
                    path: s.rel.clone(),
                    size: s.size,
                    sha256: s.sha256.clone(),
                })
                .collect(),
        })
        .collect();
    Release { name: name.into(), version: version.into(), created, flavours }
}

/// What `static ls` prints.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Listing {
    pub destination: String,
    pub name: String,
    /// In version order (as `tags.json` lists them).
    pub versions: Vec<ListedVersion>,
}

/// One published version.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListedVersion {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub created: Option<DateTime<Utc>>,
    pub files: usize,
    pub bytes: u64,
    pub flavours: Vec<Flavour>,
    /// Why the version's `release.json` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Listing {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for v in &self.versions {
            let platforms: Vec<String> = v.flavours.iter().map(|f| f.platform.dir()).collect();
            let created =
                v.created.map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| "-".into());
            let detail = v
                .problem
                .clone()
                .unwrap_or_else(|| format!("{} file(s), {} bytes  {}", v.files, v.bytes, platforms.join(" ")));
            out.push_str(&format!("{}:{}  {created}  {detail}\n", self.name, v.version));
        }
        if self.versions.is_empty() {
            out.push_str(&format!("{}: no version published in {}\n", self.name, self.destination));
        }
        out
    }
}

/// The published versions of `name`, each with what its `release.json` says.
pub async fn list(root: &StaticRoot, name: &str) -> Result<Listing, FilesError> {
    validate_name(name)?;
    let dest = Dest::new(root);
    let tags = dest.tags(name).await?.ok_or_else(|| FilesError::NotFound {
        dest: dest.describe(),
        name: name.into(),
        what: format!("files named {name}"),
    })?;
    let dest = &dest;
    let versions = futures::stream::iter(tags.tags)
        .map(|version| async move {
            let read = dest.release(name, &version).await;
            let mut listed =
                ListedVersion { version, created: None, files: 0, bytes: 0, flavours: Vec::new(), problem: None };
            match read {
                Ok(Some(r)) => {
                    let files = || r.flavours.iter().flat_map(|f| &f.files);
                    (listed.files, listed.bytes) = (files().count(), files().map(|f| f.size).sum());
                    (listed.created, listed.flavours) = (Some(r.created), r.flavours);
                }
                Ok(None) => listed.problem = Some(format!("{} is missing", super::RELEASE_FILE)),
                Err(e) => listed.problem = Some(e.to_string()),
            }
            listed
        })
        .buffered(8)
        .collect()
        .await;
    Ok(Listing { destination: root.to_string(), name: name.into(), versions })
}
