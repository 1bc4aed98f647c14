//! Project configuration: `wharf.yaml` / `werf.yaml` → validated [`Project`].
//!
//! The file is werf's format for Dockerfile images, so a werf project works
//! unchanged: a project document (`project`, `configVersion`, `cleanup`) and one
//! document per image (`image`, `dockerfile`, `context`, `target`, `args`,
//! `dependencies`, `platform`), separated by `---`.
//!
//! Reading goes text → located YAML nodes (`node.rs`) → documents
//! (`document.rs`, `meta.rs`, `image.rs`, `cleanup.rs`) → cross-checks and paths
//! (`validate.rs`, `paths.rs`). Every step records problems in one report instead
//! of stopping, so a broken file yields all its errors at once, each with
//! `file:line:col`, a snippet and a hint ([`ConfigError`]). [`schema_json`] is the
//! JSON schema of the format, generated from the types in `schema.rs`.
//!
//! Differences from werf, all reported clearly: no Go templates, no stapel
//! images, image names limited to what fits both a repository path and a tag,
//! and werf's build options wharf lacks (`ssh`, `secrets`, `network`, …) refused.

mod cleanup;
mod cycles;
mod decode;
mod document;
mod duration;
mod error;
mod image;
mod meta;
mod model;
mod node;
mod paths;
mod schema;
mod source;
mod validate;

#[cfg(test)]
mod tests;

pub use cleanup::{CleanupConfig, KeepPolicy, Limit, Operator, RefKind, RefPattern, References};
pub use duration::parse_go_duration;
pub use error::{ConfigError, ErrorKind, LocatedError, MAX_ERRORS, Note};
pub use image::validate_image_name;
pub use meta::validate_project_name;
pub use model::{Dependency, Image, Import, ImportKind, Project};
pub use schema::schema_json;

/// The known word closest to `word`, if it is a likely typo (for other modules' hints).
pub(crate) use decode::suggest as suggest_word;

use error::Report;
use source::{Pos, SourceFile};
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
            Ok(_) => Err(ConfigError::Read {
                path,
                source: std::io::Error::other("not a regular file"),
            }),
            Err(source) => Err(ConfigError::Read { path, source }),
        };
    }
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| ConfigError::NotFound {
            dir: dir.to_path_buf(),
        })
}

/// [`locate`]s, reads, parses and validates the project configuration in `dir`.
pub fn load(dir: &Path, explicit: Option<&Path>) -> Result<Project, ConfigError> {
    let path = locate(dir, explicit)?;
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse_str(&path, dir, &text)
}

/// Parses and validates configuration `text`. `path` names the file in messages
/// (and becomes [`Project::config_path`]); relative paths in the file are
/// resolved against `project_dir` and checked on disk.
pub fn parse_str(path: &Path, project_dir: &Path, text: &str) -> Result<Project, ConfigError> {
    let src = SourceFile::new(path.display().to_string(), text);
    let mut rep = Report::new(&src);
    let dir = std::path::absolute(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    let parts = check(&mut rep, &dir);
    let warnings = rep.finish(path.to_path_buf())?;
    Ok(Project {
        // Without errors the project name is always there.
        name: parts.name.unwrap_or_default(),
        dir,
        config_path: path.to_path_buf(),
        images: parts.images,
        cleanup: parts.cleanup,
        warnings,
    })
}

/// What the checks produce; complete whenever no error was reported.
#[derive(Default)]
struct Parts {
    name: Option<String>,
    images: Vec<Image>,
    cleanup: CleanupConfig,
}

fn check(rep: &mut Report<'_>, dir: &Path) -> Parts {
    if reject_templates(rep) {
        return Parts::default();
    }
    let Some(nodes) = node::parse_documents(rep) else {
        return Parts::default();
    };
    let docs = document::read_documents(rep, &nodes);
    let images = validate::images(
        rep,
        &docs.images,
        &paths::ProjectDir::new(dir.to_path_buf()),
    );
    let (name, cleanup) = match docs.meta {
        Some(meta) => (meta.project.map(|p| p.value), meta.cleanup),
        None => (None, CleanupConfig::default()),
    };
    Parts {
        name,
        images,
        cleanup,
    }
}

/// werf renders werf.yaml as a Go template first; wharf reads plain YAML. Any
/// `{{` is reported (once, marking up to ten places) and stops the checks, since
/// the YAML around a template rarely parses.
fn reject_templates(rep: &mut Report<'_>) -> bool {
    let text = rep.src.text.clone();
    let spans: Vec<Pos> = text
        .match_indices("{{")
        .map(|(start, _)| {
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let len = text[start..line_end].find("}}").map_or(2, |i| i + 2);
            Pos::new(start, len)
        })
        .take(10)
        .collect();
    let Some((first, rest)) = spans.split_first() else {
        return false;
    };
    let count = text.matches("{{").count();
    let message = if count == 1 {
        "Go templates are not supported: wharf reads the configuration as plain YAML".to_string()
    } else {
        format!(
            "Go templates are not supported: wharf reads the configuration as plain YAML ({count} template expressions)"
        )
    };
    let mut error = rep.error(ErrorKind::Template, *first, message).label("template").hint(
        "werf renders werf.yaml as a Go template; wharf does not. Render it once (`werf config render > wharf.yaml`) and keep the result, or write the values out by hand",
    );
    for pos in rest {
        error = error.note(*pos, "template");
    }
    true
}
