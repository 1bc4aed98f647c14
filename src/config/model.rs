//! The validated project model the rest of wharf works with.
//!
//! Everything here has been checked: names are valid, dependencies exist and form
//! no cycle, paths are absolute and inside the project directory, durations are
//! parsed and reference patterns compiled.

use super::cleanup::CleanupConfig;
use super::image_spec::ImageSpec;
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
    /// werf's `build` settings of the project document.
    pub build: BuildSettings,
    /// werf's stapel images: checked as documents, not built by wharf.
    pub stapel: Vec<StapelImage>,
    /// Things worth telling the user that do not stop the build (werf settings
    /// wharf ignores, stapel images, …), each at its place (shown as `file:line:col: …`).
    pub warnings: Vec<super::error::Warning>,
}

/// werf's project-wide `build:` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// `build.platform`: the platforms of every image that names none itself.
    pub platforms: Vec<String>,
    /// `build.cacheVersion`: the cache version of every image that sets none itself.
    pub cache_version: Option<String>,
    /// `build.imageSpec`: merged into every final image's `imageSpec`.
    pub image_spec: Option<ImageSpec>,
}

/// A werf stapel image (`from:`, `git:`, `shell:`, …): wharf builds Dockerfile images only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StapelImage {
    pub name: Option<String>,
    /// `file:line:col` of the document, for messages.
    pub location: String,
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
    /// Target platforms (`linux/amd64`, …), the image's own or `build.platform`; empty
    /// means the engine's default.
    pub platforms: Vec<String>,
    /// werf's `final`: `false` builds the image (for images that depend on it) without
    /// publishing it.
    pub publish: bool,
    /// `cacheVersion` (else `build.cacheVersion`): changing it changes the stage digest.
    pub cache_version: Option<String>,
    /// Build secrets (`RUN --mount=type=secret,id=…`); never in the image or the digest.
    pub secrets: Vec<BuildSecret>,
    /// werf's `ssh`: agent sockets or keys for `RUN --mount=type=ssh`.
    pub ssh: Option<String>,
    /// The network mode of `RUN` steps (`default`, `none`, `host`).
    pub network: Option<String>,
    /// werf's `contextAddFiles`: paths relative to the context that are part of it even
    /// when `.dockerignore` leaves them out.
    pub context_add_files: Vec<String>,
    /// werf's `imageSpec` (merged with `build.imageSpec` for a final image).
    pub image_spec: Option<ImageSpec>,
}

/// One build secret: its id (`/run/secrets/<id>`) and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSecret {
    pub id: String,
    pub source: SecretSource,
}

/// Where a build secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable, read when building.
    Env(String),
    /// A file (`~` is the home directory), read when building.
    File(String),
    /// The value written in the file (prints as `***`).
    Value(crate::secret::Secret),
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
