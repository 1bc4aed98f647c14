//! The result of `wharf config validate` for programs (`--output json`): the same shape
//! whether the file is valid or not, with every error and warning at its place.
//!
//! ```json
//! {"valid": false, "file": "werf.yaml", "project": null, "images": [], "stapel": [],
//!  "errors": [{"kind": "unknown-key", "message": "…", "file": "werf.yaml", "line": 7,
//!              "column": 1, "hint": "…", "rendered": false, "notes": []}],
//!  "omitted": 0, "warnings": [{"file": "werf.yaml", "line": 3, "column": 1, "message": "…"}]}
//! ```
//!
//! Fields are only ever added (`tests::the_shape_is_stable` pins them).

use super::{ConfigError, Project, Warning};
use serde::Serialize;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Validation {
    pub valid: bool,
    /// The project file, when it was found.
    pub file: Option<String>,
    pub project: Option<String>,
    /// The Dockerfile images wharf builds.
    pub images: Vec<ImageSummary>,
    /// werf's stapel images: valid, not built by wharf.
    pub stapel: Vec<StapelSummary>,
    pub errors: Vec<ErrorEntry>,
    /// Errors beyond those listed, counted but not kept.
    pub omitted: usize,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImageSummary {
    /// `null` for the nameless image.
    pub name: Option<String>,
    /// werf's `final`: published or only built for others.
    pub publish: bool,
    pub platforms: Vec<String>,
    pub dependencies: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StapelSummary {
    pub name: Option<String>,
    /// `file:line:col` of its document.
    pub location: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorEntry {
    /// A stable code (`unknown-key`, `template`, `missing-dockerfile`, …).
    pub kind: &'static str,
    pub message: String,
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub hint: Option<String>,
    /// The place is a template action that printed the faulty value.
    pub rendered: bool,
    pub notes: Vec<NoteEntry>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NoteEntry {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub label: String,
}

impl Validation {
    /// The report of loading a project (`file` names it when loading failed early).
    pub fn of(result: &Result<Project, ConfigError>) -> Validation {
        match result {
            Ok(p) => Validation {
                valid: true,
                file: Some(p.config_path.display().to_string()),
                project: Some(p.name.clone()),
                images: p
                    .images
                    .iter()
                    .map(|i| ImageSummary {
                        name: i.name.clone(),
                        publish: i.publish,
                        platforms: i.platforms.clone(),
                        dependencies: i.dependencies.iter().map(|d| d.image.clone()).collect(),
                    })
                    .collect(),
                stapel: p
                    .stapel
                    .iter()
                    .map(|s| StapelSummary { name: s.name.clone(), location: s.location.clone() })
                    .collect(),
                errors: Vec::new(),
                omitted: 0,
                warnings: p.warnings.clone(),
            },
            Err(e) => Validation {
                valid: false,
                file: match e {
                    ConfigError::Invalid { path, .. } | ConfigError::Read { path, .. } => {
                        Some(path.display().to_string())
                    }
                    ConfigError::NotFound { .. } => None,
                },
                project: None,
                images: Vec::new(),
                stapel: Vec::new(),
                errors: entries(e),
                omitted: match e {
                    ConfigError::Invalid { omitted, .. } => *omitted,
                    _ => 0,
                },
                warnings: e.warnings().to_vec(),
            },
        }
    }
}

fn entries(e: &ConfigError) -> Vec<ErrorEntry> {
    if e.errors().is_empty() {
        // Not found, unreadable: one error without a place.
        let file = match e {
            ConfigError::Read { path, .. } => path.display().to_string(),
            ConfigError::NotFound { dir } => dir.display().to_string(),
            ConfigError::Invalid { path, .. } => path.display().to_string(),
        };
        let hint = miette::Diagnostic::help(e).map(|h| h.to_string());
        let kind = if matches!(e, ConfigError::NotFound { .. }) { "not-found" } else { "read" };
        return vec![ErrorEntry {
            kind,
            message: e.to_string(),
            file,
            line: None,
            column: None,
            hint,
            rendered: false,
            notes: Vec::new(),
        }];
    }
    e.errors()
        .iter()
        .map(|err| ErrorEntry {
            kind: err.kind().code(),
            message: err.message().to_string(),
            file: err.file().to_string(),
            line: Some(err.line()),
            column: Some(err.column()),
            hint: err.hint().map(str::to_string),
            rendered: err.is_rendered(),
            notes: err
                .notes()
                .iter()
                .map(|n| NoteEntry {
                    file: n.file.clone().unwrap_or_else(|| err.file().to_string()),
                    line: n.line,
                    column: n.column,
                    label: n.label.clone(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    #[test]
    fn the_shape_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let text = "project: shop\nconfigVersion: 1\ndeploy: {}\n---\nimage: app\ndockerfil: x\n";
        let bad =
            serde_json::to_value(Validation::of(&super::super::parse_str(Path::new("werf.yaml"), dir.path(), text)))
                .unwrap();
        assert_eq!(keys(&bad), ["errors", "file", "images", "omitted", "project", "stapel", "valid", "warnings"]);
        assert_eq!(bad["valid"], false);
        assert_eq!(keys(&bad["errors"][0]), ["column", "file", "hint", "kind", "line", "message", "notes", "rendered"]);
        assert_eq!(bad["errors"][0]["kind"], "unknown-key");
        assert_eq!((bad["errors"][0]["line"].as_u64(), bad["errors"][0]["column"].as_u64()), (Some(6), Some(1)));
        assert_eq!(bad["warnings"][0]["message"], "werf's `deploy` settings are ignored by wharf");
        let good = serde_json::to_value(Validation::of(&super::super::parse_str(
            Path::new("werf.yaml"),
            dir.path(),
            "project: shop\nconfigVersion: 1\n---\nimage: app\nfinal: false\n",
        )))
        .unwrap();
        assert_eq!(good["valid"], true);
        assert_eq!(keys(&good["images"][0]), ["dependencies", "name", "platforms", "publish"]);
        assert_eq!(good["images"][0]["publish"], false);
        let missing =
            serde_json::to_value(Validation::of(&super::super::load(dir.path().join("nope").as_path(), None))).unwrap();
        assert_eq!(missing["errors"][0]["kind"], "not-found");
    }
}
