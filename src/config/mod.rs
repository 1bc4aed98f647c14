//! Project configuration: `wharf.yaml` / `werf.yaml` → validated [`Project`].
//!
//! The file is werf's format for Dockerfile images, so a werf project works
//! unchanged: a project document (`project`, `configVersion`, `cleanup`, `build`) and one
//! document per image (`image`, `dockerfile`, `context`, `target`, `args`,
//! `dependencies`, `platform`, `final`, `cacheVersion`, `secrets`, `ssh`, `network`,
//! `contextAddFiles`, `imageSpec`), separated by `---`. As in werf, the file is first
//! rendered as a Go template ([`render`], with partials from `.werf/**/*.tmpl`).
//!
//! Reading goes text → rendered text (`render.rs`) → located YAML nodes (`node.rs`) →
//! documents (`document.rs`, `meta.rs`, `image.rs`, `stapel.rs`, `cleanup.rs`) →
//! cross-checks and paths (`validate.rs`, `paths.rs`). Every step records problems in
//! one report instead of stopping, so a broken file yields all its errors at once, each
//! with `file:line:col` of the template line it came from, a snippet and a hint
//! ([`ConfigError`]). [`schema_json`] is the JSON schema of the format, generated from
//! the types in `schema.rs`.
//!
//! Differences from werf, all reported clearly: stapel images are checked but not
//! built, image names are limited to what fits both a repository path and a tag,
//! `werf-includes.yaml` is refused, and `addHost` is refused.

mod build_options;
mod cleanup;
mod cycles;
mod decode;
mod dependency;
mod document;
mod duration;
mod error;
mod files;
mod giterminism;
mod image;
mod image_spec;
mod meta;
mod model;
mod node;
mod paths;
mod render;
mod report;
mod schema;
mod select;
mod source;
mod stapel;
mod state;
mod validate;
mod validation;

#[cfg(test)]
mod tests;

pub use cleanup::{CleanupConfig, KeepPolicy, Limit, Operator, RefKind, RefPattern, References};
pub use duration::parse_go_duration;
pub use error::{ConfigError, ErrorKind, LocatedError, MAX_ERRORS, Note, Warning};
pub use giterminism::Giterminism;
pub use image::{valid_platform, validate_image_name};
pub use image_spec::{Healthcheck, ImageSpec};
pub use meta::validate_project_name;
pub use model::{
    BuildSecret, BuildSettings, Dependency, Image, Import, ImportKind, Project, SecretSource, StapelImage,
};
pub use render::{CommitInfo, RenderInputs, TEMPLATES_DIR, discover_work_tree};
pub use schema::schema_json;
pub use select::SelectError;
pub use state::{STATE_DIR, state_dir, user_cache_dir};
pub use validation::Validation;

/// The known word closest to `word`, if it is a likely typo (for other modules' hints).
pub(crate) use decode::suggest as suggest_word;

use error::Report;
use source::SourceFile;
use std::path::{Path, PathBuf};

/// File names tried in `dir`, in order: wharf's own first, then werf's.
pub const FILE_NAMES: [&str; 4] = ["wharf.yaml", "wharf.yml", "werf.yaml", "werf.yml"];

/// The configuration file to read: `explicit` if given (relative to `dir`, as
/// werf's `--config` is), else the first of [`FILE_NAMES`] that exists in `dir`.
pub fn locate(dir: &Path, explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        let path = dir.join(path);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(ConfigError::Read { path, source: std::io::Error::other("not a regular file") }),
            Err(source) => Err(ConfigError::Read { path, source }),
        };
    }
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| ConfigError::NotFound { dir: dir.to_path_buf() })
}

/// [`locate`]s, reads, renders, parses and validates the project configuration in `dir`,
/// with no environment, `.Env` or commit for its templates (see [`load_with`]).
pub fn load(dir: &Path, explicit: Option<&Path>) -> Result<Project, ConfigError> {
    load_with(dir, explicit, &RenderInputs::default())
}

/// [`load`] with what the templates may read.
pub fn load_with(dir: &Path, explicit: Option<&Path>, inputs: &RenderInputs) -> Result<Project, ConfigError> {
    let (path, text) = read(dir, explicit)?;
    parse_with(&path, dir, &text, inputs)
}

/// The project file of `dir` rendered as werf renders it (for `wharf config render`),
/// without checking the result; and the file it was read from.
pub fn render(dir: &Path, explicit: Option<&Path>, inputs: &RenderInputs) -> Result<(PathBuf, String), ConfigError> {
    let (path, text) = read(dir, explicit)?;
    let shown = dir;
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    giterminism::check_includes(shown)?;
    let giterminism = giterminism_of(shown, inputs)?;
    let rendered = render::render(&path, &dir, shown, &text, inputs, &giterminism)?;
    Ok((path, rendered.text))
}

/// What `werf-giterminism.yaml` allows, or everything with `--loose-giterminism` (the file
/// is still read, so a broken one is still reported).
fn giterminism_of(dir: &Path, inputs: &RenderInputs) -> Result<Giterminism, ConfigError> {
    let found = Giterminism::load(dir)?;
    Ok(if inputs.loose_giterminism { Giterminism::default() } else { found })
}

fn read(dir: &Path, explicit: Option<&Path>) -> Result<(PathBuf, String), ConfigError> {
    let path = locate(dir, explicit)?;
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
    Ok((path, text))
}

/// Renders, parses and validates configuration `text`, with no environment for its
/// templates. `path` names the file in messages (and becomes [`Project::config_path`]);
/// relative paths in the file are resolved against `project_dir` and checked on disk.
pub fn parse_str(path: &Path, project_dir: &Path, text: &str) -> Result<Project, ConfigError> {
    parse_with(path, project_dir, text, &RenderInputs::default())
}

/// [`parse_str`] with what the templates may read.
pub fn parse_with(path: &Path, project_dir: &Path, text: &str, inputs: &RenderInputs) -> Result<Project, ConfigError> {
    let dir = std::path::absolute(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    giterminism::check_includes(project_dir)?;
    let giterminism = giterminism_of(project_dir, inputs)?;
    let rendered = render::render(path, &dir, project_dir, text, inputs, &giterminism)?;
    let src = SourceFile::new(path.display().to_string(), &rendered.text);
    let mut rep = Report::with_origin(&src, Some(&rendered.origin));
    let parts = check(&mut rep, &dir, &giterminism);
    let warnings = rep.finish(path.to_path_buf())?;
    Ok(Project {
        // Without errors the project name is always there.
        name: parts.name.unwrap_or_default(),
        dir,
        config_path: path.to_path_buf(),
        images: parts.images,
        cleanup: parts.cleanup,
        build: parts.build,
        stapel: parts.stapel,
        warnings,
    })
}

/// What the checks produce; complete whenever no error was reported.
#[derive(Default)]
struct Parts {
    name: Option<String>,
    images: Vec<Image>,
    cleanup: CleanupConfig,
    build: BuildSettings,
    stapel: Vec<StapelImage>,
}

fn check(rep: &mut Report<'_>, dir: &Path, giterminism: &Giterminism) -> Parts {
    let Some(nodes) = node::parse_documents(rep) else {
        return Parts::default();
    };
    let docs = document::read_documents(rep, &nodes);
    let (name, cleanup, build) = match docs.meta {
        Some(meta) => (meta.project.map(|p| p.value), meta.cleanup, meta.build),
        None => (None, CleanupConfig::default(), BuildSettings::default()),
    };
    let project_dir = paths::ProjectDir::new(dir.to_path_buf());
    let cx = validate::Context { dir: &project_dir, build: &build, giterminism };
    let (images, stapel) = validate::images(rep, &docs.images, &cx);
    Parts { name, images, cleanup, build, stapel }
}
