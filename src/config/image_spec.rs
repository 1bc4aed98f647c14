//! werf's `imageSpec`: changes to the built image's configuration (labels, env, entry
//! point, …), per image and project-wide (`build.imageSpec`, a subset that applies to
//! every final image).
//!
//! Read and checked here with located errors; the canonical form goes into the stage
//! digest, so changing the spec publishes a different image.

use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::node::{Kind, Node};
use serde::Serialize;
use std::collections::BTreeMap;

/// An `imageSpec` as written (`None` / empty: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    pub author: Option<String>,
    pub clear_history: bool,
    pub keep_essential_werf_labels: bool,
    pub clear_werf_labels: bool,
    pub clear_cmd: bool,
    pub clear_entrypoint: bool,
    pub clear_user: bool,
    pub clear_working_dir: bool,
    /// Names or `/regex/`.
    pub remove_labels: Vec<String>,
    pub remove_volumes: Vec<String>,
    /// Names or `/regex/`.
    pub remove_env: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// `PORT[/PROTO]`.
    pub expose: Vec<String>,
    pub user: Option<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Healthcheck>,
}

/// `imageSpec.config.healthcheck` (intervals in seconds, as werf reads them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub retries: Option<i64>,
}

pub(crate) const SPEC_KEYS: &[&str] = &["author", "clearHistory", "config"];
pub(crate) const CONFIG_KEYS: &[&str] = &[
    "keepEssentialWerfLabels",
    "clearWerfLabels",
    "clearCmd",
    "clearEntrypoint",
    "clearUser",
    "clearWorkingDir",
    "removeLabels",
    "removeVolumes",
    "removeEnv",
    "volumes",
    "labels",
    "env",
    "expose",
    "user",
    "cmd",
    "entrypoint",
    "workingDir",
    "stopSignal",
    "healthcheck",
];
/// What `build.imageSpec.config` may hold.
pub(crate) const GLOBAL_CONFIG_KEYS: &[&str] =
    &["keepEssentialWerfLabels", "clearWerfLabels", "removeLabels", "labels"];
pub(crate) const HEALTHCHECK_KEYS: &[&str] = &["test", "interval", "timeout", "startPeriod", "retries"];

impl ImageSpec {
    /// The stable text hashed into the stage digest.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// werf's `mergeImageSpec`: the project-wide spec over an image's own.
    pub fn merged(global: &ImageSpec, own: Option<&ImageSpec>) -> ImageSpec {
        let mut out = own.cloned().unwrap_or_default();
        if global.author.is_some() {
            out.author = global.author.clone();
        }
        out.clear_history |= global.clear_history;
        out.keep_essential_werf_labels |= global.keep_essential_werf_labels;
        out.clear_werf_labels |= global.clear_werf_labels;
        out.labels.extend(global.labels.clone());
        for l in &global.remove_labels {
            if !out.remove_labels.contains(l) {
                out.remove_labels.push(l.clone());
            }
        }
        out
    }
}

/// Reads `imageSpec` (`global`: `build.imageSpec`, which allows less).
pub(crate) fn decode(rep: &mut Report<'_>, node: &Node, global: bool) -> Option<ImageSpec> {
    let what = if global { "`build.imageSpec`" } else { "`imageSpec`" };
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, SPEC_KEYS, &[], what);
    let mut spec = ImageSpec {
        author: text(rep, &fields, "author"),
        clear_history: flag(rep, &fields, "clearHistory"),
        ..ImageSpec::default()
    };
    let Some(config) = fields.value("config") else { return Some(spec) };
    let what = if global { "`build.imageSpec.config`" } else { "`imageSpec.config`" };
    let Some(c) = decode::fields(rep, config, what) else { return Some(spec) };
    decode::reject_unknown(rep, &c, if global { GLOBAL_CONFIG_KEYS } else { CONFIG_KEYS }, &[], what);
    spec.keep_essential_werf_labels = flag(rep, &c, "keepEssentialWerfLabels");
    spec.clear_werf_labels = flag(rep, &c, "clearWerfLabels");
    spec.clear_cmd = flag(rep, &c, "clearCmd");
    spec.clear_entrypoint = flag(rep, &c, "clearEntrypoint");
    spec.clear_user = flag(rep, &c, "clearUser");
    spec.clear_working_dir = flag(rep, &c, "clearWorkingDir");
    spec.remove_labels = patterns(rep, &c, "removeLabels");
    spec.remove_env = patterns(rep, &c, "removeEnv");
    spec.remove_volumes = strings(rep, &c, "removeVolumes");
    spec.volumes = strings(rep, &c, "volumes");
    spec.labels = mapping(rep, &c, "labels", false);
    spec.env = mapping(rep, &c, "env", true);
    spec.expose = strings(rep, &c, "expose");
    for (port, node) in spec.expose.iter().zip(c.value("expose").map(items).unwrap_or_default()) {
        if !valid_port(port) {
            rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid exposed port `{port}`"))
                .label("not PORT[/PROTO]")
                .hint("write a port from 1 to 65535, optionally with `/tcp`, `/udp` or `/sctp` (e.g. `8080/tcp`)");
        }
    }
    spec.user = text(rep, &c, "user");
    spec.cmd = c.value("cmd").map(|n| list(rep, n, "`cmd`"));
    spec.entrypoint = c.value("entrypoint").map(|n| list(rep, n, "`entrypoint`"));
    spec.working_dir = text(rep, &c, "workingDir");
    spec.stop_signal = text(rep, &c, "stopSignal");
    if let (Some(sig), Some(node)) = (&spec.stop_signal, c.value("stopSignal"))
        && !valid_signal(sig)
    {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid stop signal `{sig}`"))
            .label("not a signal")
            .hint("write a signal name (`SIGTERM`, `SIGQUIT`, `TERM`) or number (`15`)");
    }
    spec.healthcheck = c.value("healthcheck").and_then(|n| healthcheck(rep, n));
    Some(spec)
}

fn items(node: &Node) -> Vec<&Node> {
    match &node.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    }
}

fn text(rep: &mut Report<'_>, fields: &Fields<'_>, key: &str) -> Option<String> {
    fields.value(key).and_then(|n| decode::string(rep, n, &format!("`{key}`"))).map(|s| s.value)
}

fn flag(rep: &mut Report<'_>, fields: &Fields<'_>, key: &str) -> bool {
    fields.value(key).and_then(|n| decode::boolean(rep, n, &format!("`{key}`"))).unwrap_or(false)
}

fn list(rep: &mut Report<'_>, node: &Node, what: &str) -> Vec<String> {
    decode::list_items(rep, node, what).iter().filter_map(|i| decode::string(rep, i, what)).map(|s| s.value).collect()
}

fn strings(rep: &mut Report<'_>, fields: &Fields<'_>, key: &str) -> Vec<String> {
    fields.value(key).map(|n| list(rep, n, &format!("`{key}`"))).unwrap_or_default()
}

/// Names or `/regex/` (the regex must compile).
fn patterns(rep: &mut Report<'_>, fields: &Fields<'_>, key: &str) -> Vec<String> {
    let Some(node) = fields.value(key) else { return Vec::new() };
    let mut out = Vec::new();
    for item in decode::list_items(rep, node, &format!("`{key}`")) {
        let Some(s) = decode::non_empty_string(rep, item, &format!("an entry of `{key}`")) else { continue };
        if let Some(re) = s.value.strip_prefix('/').and_then(|r| r.strip_suffix('/'))
            && let Err(e) = regex::Regex::new(re)
        {
            rep.error(
                ErrorKind::InvalidValue,
                item.pos,
                format!("invalid regular expression in `{key}`: {}", e.to_string().lines().last().unwrap_or_default()),
            )
            .label("invalid /regex/")
            .hint("a name, or a regular expression between slashes (RE2 syntax), e.g. `/^org\\.opencontainers\\./`");
            continue;
        }
        out.push(s.value);
    }
    out
}

/// `labels` / `env`: string keys to scalar values.
fn mapping(rep: &mut Report<'_>, fields: &Fields<'_>, key: &str, env: bool) -> BTreeMap<String, String> {
    let Some(node) = fields.value(key) else { return BTreeMap::new() };
    let Some(entries) = decode::fields(rep, node, &format!("`{key}`")) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (name, key_node, value) in entries.iter() {
        if name.is_empty() || (env && name.contains(|c: char| c == '=' || c.is_whitespace())) {
            rep.error(ErrorKind::InvalidValue, key_node.pos, format!("invalid name `{name}` in `{key}`"))
                .label("invalid name")
                .hint(if env {
                    "environment variable names are not empty and have no `=` or spaces"
                } else {
                    "label names are not empty"
                });
            continue;
        }
        match value.scalar_text(rep.src) {
            Some(v) => {
                out.insert(name.to_string(), v);
            }
            None if value.kind == Kind::Null => {
                out.insert(name.to_string(), String::new());
            }
            None => decode::wrong_type(rep, value, &format!("`{key}.{name}`"), "a string"),
        }
    }
    out
}

fn healthcheck(rep: &mut Report<'_>, node: &Node) -> Option<Healthcheck> {
    let fields = decode::fields(rep, node, "`healthcheck`")?;
    decode::reject_unknown(rep, &fields, HEALTHCHECK_KEYS, &[], "`healthcheck`");
    let number = |rep: &mut Report<'_>, key: &str| {
        fields
            .value(key)
            .and_then(|n| decode::integer(rep, n, &format!("`healthcheck.{key}`"), 0, i64::MAX.into()))
            .map(|v| v as i64)
    };
    let test = fields.value("test").map(|n| list(rep, n, "`healthcheck.test`")).unwrap_or_default();
    if let (Some(first), Some(node)) = (test.first(), fields.value("test"))
        && !matches!(first.as_str(), "NONE" | "CMD" | "CMD-SHELL")
    {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("`healthcheck.test` starts with `{first}`"))
            .label("expected NONE, CMD or CMD-SHELL first")
            .hint(
                "write `[CMD, curl, -f, http://localhost/]`, `[CMD-SHELL, \"curl -f http://localhost/\"]` or `[NONE]`",
            );
    }
    Some(Healthcheck {
        test,
        interval: number(rep, "interval"),
        timeout: number(rep, "timeout"),
        start_period: number(rep, "startPeriod"),
        retries: number(rep, "retries"),
    })
}

fn valid_port(p: &str) -> bool {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    matches!(proto, "tcp" | "udp" | "sctp") && port.parse::<u16>().is_ok_and(|n| n > 0)
}

fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
}
