//! werf's side files next to the project file: `werf-giterminism.yaml` (read, and the
//! parts that apply to wharf honoured) and `werf-includes.yaml` (refused when it lists
//! includes: they are other git repositories, which wharf does not fetch).
//!
//! From `werf-giterminism.yaml` wharf applies the allow-lists of templates' `env`
//! (`config.goTemplateRendering.allowEnvVariables`, names or `/regex/`), of build secrets
//! (`config.secrets.*`) and of `contextAddFiles` (`config.dockerfile.allowContextAddFiles`).
//! With the file, anything not listed is refused, as werf does; without it, wharf allows
//! them (werf refuses them unless run with `--loose-giterminism`). The `allowUncommitted…`
//! settings have nothing to do: wharf always reads the working tree. `cli` and `helm`
//! settings belong to commands wharf does not have.

use super::error::{ConfigError, ErrorKind, Report};
use super::source::{Pos, SourceFile};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub(crate) const GITERMINISM_FILE: &str = "werf-giterminism.yaml";
pub(crate) const INCLUDES_FILE: &str = "werf-includes.yaml";

/// What `werf-giterminism.yaml` allows; `None` lists (no file) allow everything.
#[derive(Debug, Clone, Default)]
pub struct Giterminism {
    /// The file, when the project has one.
    pub path: Option<PathBuf>,
    env: Option<Vec<String>>,
    secret_env: Option<Vec<String>>,
    secret_files: Option<Vec<String>>,
    secret_values: Option<Vec<String>>,
    context_add_files: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Raw {
    giterminism_config_version: Option<serde_json::Value>,
    #[serde(default)]
    config: RawConfig,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    go_template_rendering: RawTemplates,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    dockerfile: RawDockerfile,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawTemplates {
    #[serde(default)]
    allow_env_variables: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSecrets {
    #[serde(default)]
    allow_env_variables: Vec<String>,
    #[serde(default)]
    allow_files: Vec<String>,
    #[serde(default)]
    allow_value_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawDockerfile {
    #[serde(default)]
    allow_context_add_files: Vec<String>,
}

impl Giterminism {
    /// Reads `dir/werf-giterminism.yaml`, if there is one.
    pub fn load(dir: &Path) -> Result<Giterminism, ConfigError> {
        let path = dir.join(GITERMINISM_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Giterminism::default());
        };
        let raw: Raw = match serde_saphyr::from_str::<Option<Raw>>(&text) {
            Ok(raw) => raw.unwrap_or_default(),
            Err(e) => {
                let src = SourceFile::new(path.display().to_string(), &text);
                let mut rep = Report::new(&src);
                let pos = e.location().map_or(Pos::default(), |l| {
                    src.clamp(Pos::new(src.offset_of(l.line() as usize, l.column() as usize), 1))
                });
                let message = e.to_string().lines().next().unwrap_or("invalid YAML").to_string();
                rep.error(ErrorKind::InvalidValue, pos, format!("cannot read {GITERMINISM_FILE}: {message}"))
                    .label("here")
                    .hint("werf's giterminism file: `giterminismConfigVersion: 1`, then `config:` with `goTemplateRendering.allowEnvVariables`, `secrets`, `dockerfile.allowContextAddFiles` lists");
                return Err(rep.finish(path).expect_err("an error was reported"));
            }
        };
        if raw.giterminism_config_version.is_none() {
            tracing::warn!("{}: `giterminismConfigVersion: 1` is missing (werf requires it)", path.display());
        }
        let c = raw.config;
        Ok(Giterminism {
            path: Some(path),
            env: Some(c.go_template_rendering.allow_env_variables),
            secret_env: Some(c.secrets.allow_env_variables),
            secret_files: Some(c.secrets.allow_files),
            secret_values: Some(c.secrets.allow_value_ids),
            context_add_files: Some(c.dockerfile.allow_context_add_files),
        })
    }

    /// Whether templates may read environment variable `name`; `Err` explains a refusal.
    pub fn check_env(&self, name: &str) -> Result<(), String> {
        let Some(allowed) = &self.env else { return Ok(()) };
        let matched = allowed.iter().any(|p| match p.strip_prefix('/').and_then(|p| p.strip_suffix('/')) {
            Some(re) => regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|r| r.is_match(name)),
            None => p == name,
        });
        if matched {
            return Ok(());
        }
        Err(format!(
            "env name {name:?} not allowed by giterminism: add it to `config.goTemplateRendering.allowEnvVariables` in {GITERMINISM_FILE} (the value of the variable changes the configuration, and with it the stage digests)"
        ))
    }

    /// Whether a build secret is allowed (`kind` is `env`, `src` or `value`).
    pub(crate) fn check_secret(&self, kind: &str, what: &str) -> Result<(), String> {
        let (list, key) = match kind {
            "env" => (&self.secret_env, "allowEnvVariables"),
            "src" => (&self.secret_files, "allowFiles"),
            _ => (&self.secret_values, "allowValueIds"),
        };
        match list {
            Some(list) if !list.iter().any(|p| p == what || (kind == "src" && glob_match(p, what))) => Err(format!(
                "secret {what:?} is not allowed by giterminism: add it to `config.secrets.{key}` in {GITERMINISM_FILE}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `contextAddFiles` may add `rel` (relative to the project directory).
    pub(crate) fn check_context_add_file(&self, rel: &str) -> Result<(), String> {
        match &self.context_add_files {
            Some(list)
                if !list
                    .iter()
                    .any(|p| glob_match(p, rel) || rel.starts_with(p.trim_end_matches('/')) && p.ends_with('/')) =>
            {
                Err(format!(
                    "contextAddFiles {rel:?} is not allowed by giterminism: add it to `config.dockerfile.allowContextAddFiles` in {GITERMINISM_FILE}"
                ))
            }
            _ => Ok(()),
        }
    }
}

fn glob_match(pattern: &str, path: &str) -> bool {
    pattern == path
        || globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .is_ok_and(|g| g.compile_matcher().is_match(path))
}

/// `werf-includes.yaml` with includes is refused (an empty one is fine).
pub(crate) fn check_includes(dir: &Path) -> Result<(), ConfigError> {
    let path = dir.join(INCLUDES_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let value: serde_json::Value =
        serde_saphyr::from_str::<Option<serde_json::Value>>(&text).ok().flatten().unwrap_or(serde_json::Value::Null);
    let listed = value.get("includes").and_then(|i| i.as_array()).is_some_and(|a| !a.is_empty());
    let unreadable = !value.is_null() && !value.is_object();
    if !listed && !unreadable {
        return Ok(());
    }
    let src = SourceFile::new(path.display().to_string(), &text);
    let mut rep = Report::new(&src);
    let start = text.find("includes").unwrap_or(0);
    rep.error(ErrorKind::Unsupported, Pos::new(start, if listed { 8 } else { 0 }), "werf-includes.yaml is not supported: wharf does not fetch configuration from other git repositories")
        .label("includes")
        .hint("copy the files this project includes into it (`werf includes ls-files` lists them, `werf includes get-file` prints one) and remove werf-includes.yaml");
    Err(rep.finish(path).expect_err("an error was reported"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_allow_list_names_and_regexes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Giterminism::load(dir.path()).unwrap().check_env("ANY").is_ok(), "no file: everything allowed");
        std::fs::write(
            dir.path().join(GITERMINISM_FILE),
            "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [APP_VERSION, /CI_.*/]\n  secrets:\n    allowEnvVariables: [TOKEN]\n",
        )
        .unwrap();
        let g = Giterminism::load(dir.path()).unwrap();
        assert!(g.check_env("APP_VERSION").is_ok() && g.check_env("CI_COMMIT_TAG").is_ok());
        assert!(g.check_env("HOME").unwrap_err().starts_with("env name \"HOME\" not allowed by giterminism"));
        assert!(g.check_secret("env", "TOKEN").is_ok());
        assert!(g.check_secret("value", "x").is_err());
        assert!(g.check_context_add_file("app/file1").is_err());
    }

    #[test]
    fn includes_are_refused_with_a_location() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_includes(dir.path()).is_ok());
        std::fs::write(dir.path().join(INCLUDES_FILE), "includes: []\n").unwrap();
        assert!(check_includes(dir.path()).is_ok());
        std::fs::write(
            dir.path().join(INCLUDES_FILE),
            "includes:\n- git: https://example.com/x.git\n  branch: main\n  add: /\n  to: /\n",
        )
        .unwrap();
        let err = check_includes(dir.path()).unwrap_err();
        let e = &err.errors()[0];
        assert_eq!((e.line(), e.column(), e.kind()), (1, 1, ErrorKind::Unsupported));
    }
}
