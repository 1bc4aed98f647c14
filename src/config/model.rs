//! The validated project model the rest of wharf works with.
//!
//! Everything here has been checked: names are valid, dependencies exist and form
//! no cycle, paths are absolute and inside the project directory, durations are
//! parsed and reference patterns compiled.

use super::cleanup::CleanupConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A loaded `wharf.yaml` / `werf.yaml`.
#[derive(Debug, Clone)]
pub struct Project {
    /// `project:` — names the project's repositories and tags.
    pub name: String,
    /// The absolute project directory; `context` paths are relative to it.
    pub dir: PathBuf,
    /// The file the configuration was read from.
    pub config_path: PathBuf,
    /// The images, in file order (a document listing several names gives one
    /// image per name, in list order).
    pub images: Vec<Image>,
    pub cleanup: CleanupConfig,
    /// Things worth telling the user that do not stop the build (werf settings
    /// wharf ignores, …), each prefixed with `file:line:col`.
    pub warnings: Vec<String>,
}

impl Project {
    /// The image called `name` (the nameless image has no name to find it by).
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name.as_deref() == Some(name))
    }
}

/// One image built from a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `None` for the single nameless image (`image: ~`).
    pub name: Option<String>,
    /// The absolute build context directory.
    pub context: PathBuf,
    /// The absolute path of the Dockerfile (werf resolves it relative to `context`).
    pub dockerfile: PathBuf,
    /// The Dockerfile stage to build (`--target`).
    pub target: Option<String>,
    /// Build arguments written in the file; numbers and booleans as written.
    pub args: BTreeMap<String, String>,
    pub dependencies: Vec<Dependency>,
    /// Target platforms (`linux/amd64`, …); empty means the engine's default.
    pub platforms: Vec<String>,
}

impl Image {
    /// The name, or `~` for the nameless image (werf's spelling).
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("~")
    }
}

/// Another image this one needs, and how its identity is passed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The name of the image depended on (always defined in the project).
    pub image: String,
    pub imports: Vec<Import>,
}

/// One fact about a dependency, handed to the build as a build argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub kind: ImportKind,
    /// The `ARG` that receives the value (`targetBuildArg`).
    pub build_arg: String,
}

/// What an [`Import`] passes (werf's `type:` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImportKind {
    /// The full reference, `repo:tag`.
    ImageName,
    /// The image ID (config digest).
    ImageId,
    /// The repository, without tag.
    ImageRepo,
    /// The tag.
    ImageTag,
    /// The manifest digest.
    ImageDigest,
}

impl ImportKind {
    pub const ALL: [ImportKind; 5] = [
        ImportKind::ImageName,
        ImportKind::ImageId,
        ImportKind::ImageRepo,
        ImportKind::ImageTag,
        ImportKind::ImageDigest,
    ];

    /// werf's spelling, as written in the file (`ImageID`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::ImageName => "ImageName",
            ImportKind::ImageId => "ImageID",
            ImportKind::ImageRepo => "ImageRepo",
            ImportKind::ImageTag => "ImageTag",
            ImportKind::ImageDigest => "ImageDigest",
        }
    }

    /// Parses werf's spelling (exact, as werf does).
    pub fn from_werf(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_kinds_round_trip() {
        for kind in ImportKind::ALL {
            assert_eq!(ImportKind::from_werf(kind.as_str()), Some(kind));
        }
        assert_eq!(ImportKind::from_werf("ImageId"), None);
    }
}
