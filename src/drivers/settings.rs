//! What drivers read from the command line and the environment, each declared by its driver.
//!
//! A driver lists its [`Setting`]s in its row of [`super::DRIVERS`] (`--github-token` /
//! `GITHUB_TOKEN`, the Azure service principal, `--create-repositories`, …); settings several
//! drivers share (`--api-url`) are declared here once. `cli/` turns every declared setting into
//! a flag with its environment variable, without knowing any driver, and hands the values over
//! as [`Settings`]; each driver reads its own when it is built. So a new driver with a new
//! credential touches its own file and its row, nothing in `cli/`.
//!
//! Values of [`Kind::Secret`] settings are kept as [`Secret`]s: they never print, and their
//! variables' values are hidden in `--help`. An empty value is no value (an exported but
//! empty variable sets nothing).

use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a setting's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A token, password or key.
    Secret,
    Text,
    Url,
    Path,
    /// A flag that takes no value.
    Switch,
}

/// Reads one environment variable (the caller's environment, or a test's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One setting a driver reads.
#[derive(Debug)]
pub struct Setting {
    /// The flag, without `--`; also the setting's key.
    pub name: &'static str,
    /// The environment variable read when the flag is not given.
    pub env: Option<&'static str>,
    pub kind: Kind,
    /// The value's placeholder in `--help` (`URL`, `FILE`, `TOKEN`).
    pub value_name: &'static str,
    pub help: &'static str,
    /// Where the value is found when neither the flag nor the variable gives one (gcloud's
    /// well-known credentials file); `cli/` passes it the environment.
    pub fallback: Option<fn(Env<'_>) -> Option<String>>,
}

impl Setting {
    /// A token, password or key, `--NAME TOKEN` or the variable `env`.
    pub const fn secret(name: &'static str, env: &'static str, help: &'static str) -> Self {
        Setting { name, env: Some(env), kind: Kind::Secret, value_name: "TOKEN", help, fallback: None }
    }

    /// Text, `--NAME VALUE_NAME` or the variable `env`.
    pub const fn text(name: &'static str, env: &'static str, value_name: &'static str, help: &'static str) -> Self {
        Setting { name, env: Some(env), kind: Kind::Text, value_name, help, fallback: None }
    }

    /// A URL, `--NAME URL` or the variable `env`.
    pub const fn url(name: &'static str, env: &'static str, help: &'static str) -> Self {
        Setting { name, env: Some(env), kind: Kind::Url, value_name: "URL", help, fallback: None }
    }

    /// A file, `--NAME FILE` or the variable `env`.
    pub const fn path(name: &'static str, env: &'static str, help: &'static str) -> Self {
        Setting { name, env: Some(env), kind: Kind::Path, value_name: "FILE", help, fallback: None }
    }

    /// A flag without a value and without a variable.
    pub const fn switch(name: &'static str, help: &'static str) -> Self {
        Setting { name, env: None, kind: Kind::Switch, value_name: "", help, fallback: None }
    }

    /// The same setting with another placeholder in `--help`.
    pub const fn value_name(mut self, value_name: &'static str) -> Self {
        self.value_name = value_name;
        self
    }

    /// The same setting, with where to look when no flag or variable gives a value.
    pub const fn fallback(mut self, fallback: fn(Env<'_>) -> Option<String>) -> Self {
        self.fallback = Some(fallback);
        self
    }
}

/// The base URL of a registry's native API, shared by every driver that has one.
pub const API_URL: Setting = Setting::url(
    "api-url",
    "WHARF_API_URL",
    "Base URL of the registry's native API (self-hosted GitLab `https://gitlab.example.com/api/v4`, GitHub Enterprise, Harbor on another host).",
);

/// A setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Secret(Secret),
    Url(url::Url),
    Path(PathBuf),
    On,
}

/// The values given for the drivers' settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, Value>,
}

impl Settings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the setting called `name` from text, as its declaration says (a switch takes
    /// `true` or `false`). An empty value sets nothing; an unknown name or a value of the
    /// wrong form is an error naming the flag.
    pub fn set(&mut self, name: &str, raw: &str) -> Result<(), String> {
        let setting = find(name).ok_or_else(|| format!("--{name}: no driver has this setting"))?;
        if raw.is_empty() {
            return Ok(());
        }
        let value = match setting.kind {
            Kind::Secret => Value::Secret(Secret::new(raw)),
            Kind::Text => Value::Text(raw.to_string()),
            Kind::Path => Value::Path(PathBuf::from(raw)),
            Kind::Url => Value::Url(url::Url::parse(raw).map_err(|e| format!("--{name} {raw:?}: {e}"))?),
            Kind::Switch => match raw {
                "true" => Value::On,
                "false" => return Ok(()),
                _ => return Err(format!("--{name} takes no value (got {raw:?})")),
            },
        };
        self.values.insert(setting.name, value);
        Ok(())
    }

    /// [`Settings::set`], chained.
    pub fn with(mut self, name: &str, raw: &str) -> Result<Self, String> {
        self.set(name, raw)?;
        Ok(self)
    }

    pub fn secret(&self, s: &Setting) -> Option<&Secret> {
        match self.values.get(s.name) {
            Some(Value::Secret(v)) => Some(v),
            _ => None,
        }
    }

    pub fn text(&self, s: &Setting) -> Option<&str> {
        match self.values.get(s.name) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }

    pub fn url(&self, s: &Setting) -> Option<&url::Url> {
        match self.values.get(s.name) {
            Some(Value::Url(v)) => Some(v),
            _ => None,
        }
    }

    pub fn path(&self, s: &Setting) -> Option<&Path> {
        match self.values.get(s.name) {
            Some(Value::Path(v)) => Some(v),
            _ => None,
        }
    }

    pub fn is_on(&self, s: &Setting) -> bool {
        matches!(self.values.get(s.name), Some(Value::On))
    }
}

/// Every setting of the drivers in [`super::DRIVERS`], each once (shared ones at their first
/// row), in table order: what `cli/` offers as flags.
pub fn all() -> Vec<&'static Setting> {
    let mut out: Vec<&'static Setting> = Vec::new();
    for s in super::DRIVERS.iter().flat_map(|d| d.settings) {
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    out
}

/// The setting called `name`.
pub fn find(name: &str) -> Option<&'static Setting> {
    super::DRIVERS.iter().flat_map(|d| d.settings).find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_settings_are_declared_alike_and_offered_once() {
        let all = all();
        for s in &all {
            for d in super::super::DRIVERS {
                for other in d.settings.iter().filter(|o| o.name == s.name) {
                    assert!(
                        (other.env, other.kind, other.help) == (s.env, s.kind, s.help),
                        "{} declares --{} unlike another driver",
                        d.name,
                        s.name
                    );
                }
            }
        }
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        let mut vars: Vec<&str> = all.iter().filter_map(|s| s.env).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), all.iter().filter(|s| s.env.is_some()).count(), "one variable per setting");
    }

    #[test]
    fn values_follow_their_kind_and_secrets_never_print() {
        let s = Settings::new()
            .with("github-token", "ghp_supersecret")
            .and_then(|s| s.with("api-url", "https://ghe.example.com/api/v3"))
            .and_then(|s| s.with("create-repositories", "true"))
            .and_then(|s| s.with("quay-token", ""))
            .unwrap();
        assert_eq!(s.secret(find("github-token").unwrap()).map(Secret::expose), Some("ghp_supersecret"));
        assert_eq!(s.url(&API_URL).map(url::Url::as_str), Some("https://ghe.example.com/api/v3"));
        assert!(s.is_on(find("create-repositories").unwrap()));
        assert_eq!(s.secret(find("quay-token").unwrap()), None, "an empty value is no value");
        assert!(!format!("{s:?}").contains("supersecret"));
        let bad = Settings::new().with("api-url", "nope").unwrap_err();
        assert!(bad.starts_with("--api-url \"nope\""), "{bad}");
        assert!(Settings::new().with("no-such-setting", "x").is_err());
    }
}
