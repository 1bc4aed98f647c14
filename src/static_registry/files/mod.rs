//! Static file distribution (`wharf static push|ls|rm|gc`): per-platform files published as
//! plain, human-downloadable URLs in a directory or an S3 bucket, beside (or without) a static
//! registry, and served by `wharf serve` or any web server.
//!
//! ```text
//! DEST/<name>/tags.json                                   {"name": …, "tags": [versions…]}
//! DEST/<name>/<version>/release.json                      the version's document (Release)
//! DEST/<name>/<version>/<os>/<arch>[/<variant>]/<file>    the files
//! DEST/<name>/_wharf/lock                                 a directory root's lock for <name>
//! ```
//!
//! **A version is published when it is in `tags.json`**, and that list is written last: a
//! push copies every file, then writes `release.json`, then adds the version to `tags.json`,
//! so a reader that starts from the list never finds a version whose files are not all
//! there. Removing goes the other way: the list first, then `release.json`, then the files.
//! A version's files are all below its own directory (the paths in `release.json` are
//! relative to it), so removing one version never touches a file another version lists.
//!
//! Every name is checked before anything is read or written ([`names`]): a name is one
//! lowercase path component (not `v2`, the registry's), a version starts with a letter or a
//! digit, platform directories and file names use a small URL-safe alphabet, so no path has
//! `..`, a leading `.` or `_`, or anything a URL must escape. The source directory is read
//! without following links ([`source`]); the destination through the static root's object
//! layers ([`dest`]): atomic renames of files created `0644` in a directory, S3 objects with
//! their `Content-Type` by extension.
//!
//! - [`names`]: the grammar of names, versions, platforms and files, and version order;
//! - [`source`]: reading `DIR/<os>/<arch>[/<variant>]/<files>` into flavours (hashed);
//! - [`dest`]: the destination's files, and the lock of a name;
//! - [`publish`]: `static push` and `static ls`;
//! - [`remove`]: `static rm` and `static gc` (plan, then do).

pub mod dest;
pub mod names;
pub mod publish;
pub mod remove;
pub mod source;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::static_registry::root::StaticError;

pub use publish::{Listing, Published, list, push};
pub use remove::{GcReport, gc, plan_gc, remove};

/// A name's list of published versions, relative to `DEST/<name>/`.
pub const TAGS_FILE: &str = "tags.json";
/// A version's document, relative to `DEST/<name>/<version>/`.
pub const RELEASE_FILE: &str = "release.json";

/// `DEST/<name>/tags.json`: the versions of a name, in version order (see
/// [`names::sort_versions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagList {
    pub name: String,
    pub tags: Vec<String>,
}

/// `DEST/<name>/<version>/release.json`: what one version holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Release {
    pub name: String,
    pub version: String,
    /// When it was pushed (RFC 3339; what `static gc` ranks versions that are not semver by).
    #[schemars(with = "String")]
    pub created: DateTime<Utc>,
    pub flavours: Vec<Flavour>,
}

/// One platform's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Flavour {
    pub platform: Platform,
    pub files: Vec<FileEntry>,
}

/// An OCI-style platform: `os`, `architecture` and, where there is one, `variant`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`: the platform's directory below the version's.
    pub fn dir(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.dir())
    }
}

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    pub name: String,
    /// Below the version's directory: `<os>/<arch>[/<variant>]/<name>`.
    pub path: String,
    pub size: u64,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

/// What can go wrong; each says where.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A name, version or option that is not valid.
    #[error("{0}")]
    Usage(String),
    /// The source directory holds something that cannot be published.
    #[error("{path}: {problem}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Source { path: String, problem: String, hint: Option<String> },
    #[error(
        "{name}:{version} is already published in {dest}\n  hint: publish another version, or replace it with --force"
    )]
    Exists { name: String, version: String, dest: String },
    #[error("{dest} has no {what}\n  hint: `wharf static ls {name} {dest}` lists what is there")]
    NotFound { dest: String, name: String, what: String },
    /// A document in the destination that cannot be read.
    #[error("{dest}: {path}: {problem}")]
    Document { dest: String, path: String, problem: String },
    #[error(transparent)]
    Static(#[from] StaticError),
}

impl FilesError {
    pub fn category(&self) -> crate::error::Category {
        use crate::error::Category;
        match self {
            FilesError::Usage(_) | FilesError::Exists { .. } | FilesError::NotFound { .. } => Category::Usage,
            FilesError::Source { .. } | FilesError::Document { .. } => Category::Input,
            FilesError::Static(e) => e.category(),
        }
    }
}
