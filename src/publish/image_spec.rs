//! werf's `imageSpec`, applied to the published image's configuration.
//!
//! The built stage stays as it is (stages are shared and cached); what is published gets a
//! new config blob and so a new manifest (for a multi-platform image: each platform's, and a
//! new index over them). The spec is in the stage digest already, so a changed spec is a new
//! stage and a new image; an unchanged one gives the same bytes again (the edits below are
//! deterministic: the environment keeps its order, additions come in name order).
//!
//! What each key does follows werf's imageSpec stage:
//! - `removeLabels` / `removeEnv`: names, or `/regex/` matching the whole name; werf's
//!   essential labels (`werf`, `werf-stage-content-digest`, `werf.io/parent-stage-id`) are
//!   never removed (a warning says so, unless `keepEssentialWerfLabels`);
//!   `clearWerfLabels` removes every other `werf…` label;
//! - `labels`: added after removals, `%image%` and `%project%` replaced in names and values;
//! - `env`: added after removals, `$NAME` / `${NAME}` expanded from the image's environment;
//! - `volumes` / `removeVolumes`, `expose` (replaces the exposed ports; `PORT` means `PORT/tcp`),
//!   `healthcheck` (seconds), `user`, `workingDir`, `stopSignal`, `author`;
//! - `entrypoint` without `cmd` clears the inherited command (as a Dockerfile's `ENTRYPOINT`
//!   does); `clearCmd`, `clearEntrypoint`, `clearUser`, `clearWorkingDir`, `clearHistory`.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::io::Write as _;
use std::sync::Arc;

use crate::config::ImageSpec;
use crate::spec::Digest;
use crate::spec::manifest::MAX_MANIFEST_SIZE;
use crate::store::{Image, ImageStore, StoreError};

/// werf's labels that its cleanup needs: never removed by `removeLabels`.
const ESSENTIAL_LABELS: &[&str] = &["werf", "werf-stage-content-digest", "werf.io/parent-stage-id"];

/// Environment variables werf's own builds leave behind, always removed.
const WERF_COMMIT_ENV: &[&str] = &["WERF_COMMIT_HASH", "WERF_COMMIT_TIME_HUMAN", "WERF_COMMIT_TIME_UNIX"];

/// Names the spec refers to: `%project%` and `%image%` in labels.
pub struct Names<'a> {
    pub project: &'a str,
    pub image: &'a str,
}

/// `image` with `spec` applied to its configuration (each platform's, for an index). The new
/// config blobs are written into the image's own store, where its layers are.
pub async fn apply(image: &Image, spec: &ImageSpec, names: &Names<'_>) -> Result<Image, StoreError> {
    if image.children.is_empty() {
        return apply_one(image, spec, names).await;
    }
    let mut index: Value = serde_json::from_slice(&image.manifest).map_err(|e| broken(image, e.to_string()))?;
    let mut children = Vec::new();
    for child in &image.children {
        let new = apply_one(child, spec, names).await?;
        let entries = index["manifests"].as_array_mut().ok_or_else(|| broken(image, "an index without manifests"))?;
        for entry in entries.iter_mut().filter(|e| e["digest"].as_str() == Some(child.digest.as_str())) {
            entry["digest"] = json!(new.digest.as_str());
            entry["size"] = json!(new.manifest.len());
        }
        children.push(new);
    }
    let bytes = Bytes::from(serde_json::to_vec(&index).expect("a JSON value serializes"));
    let digest = Digest::of(&bytes);
    Ok(Image {
        manifest: bytes,
        media_type: image.media_type.clone(),
        digest,
        blobs: Vec::new(),
        children,
        origin: image.origin.clone(),
    })
}

async fn apply_one(image: &Image, spec: &ImageSpec, names: &Names<'_>) -> Result<Image, StoreError> {
    let mut manifest: Value = serde_json::from_slice(&image.manifest).map_err(|e| broken(image, e.to_string()))?;
    let old: Digest = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| broken(image, "a manifest without a config digest"))?;
    let bytes = image.origin.blob_bytes(&old, MAX_MANIFEST_SIZE).await?;
    let mut config: Value = serde_json::from_slice(&bytes).map_err(|e| broken(image, format!("its config: {e}")))?;
    for warning in edit_config(&mut config, spec, names) {
        tracing::warn!("{warning}");
    }
    let new_config = Bytes::from(serde_json::to_vec(&config).expect("a JSON value serializes"));
    let new_digest = Digest::of(&new_config);
    put_blob(&image.origin, &new_digest, &new_config).await?;
    manifest["config"]["digest"] = json!(new_digest.as_str());
    manifest["config"]["size"] = json!(new_config.len());
    let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("a JSON value serializes"));
    let digest = Digest::of(&bytes);
    Image::from_manifest(&image.digest, bytes, image.media_type.clone(), digest, image.origin.clone())
}

async fn put_blob(store: &Arc<dyn ImageStore>, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |path: std::path::PathBuf| move |source| StoreError::Io { path, source };
    let mut file = tempfile::NamedTempFile::new().map_err(io(std::env::temp_dir()))?;
    let path = file.path().to_path_buf();
    file.write_all(bytes).and_then(|()| file.flush()).map_err(io(path))?;
    store.put_blob_file(digest, bytes.len() as u64, file.path()).await
}

fn broken(image: &Image, message: impl Into<String>) -> StoreError {
    StoreError::Manifest {
        location: format!("imageSpec of {}", image.digest),
        digest: image.digest.clone(),
        message: message.into(),
        from_registry: image.origin.registry().is_some(),
    }
}

/// Applies `spec` to an image config document (`config`, `history`, `author`); returns the
/// warnings to show. Pure.
pub fn edit_config(doc: &mut Value, spec: &ImageSpec, names: &Names<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    if !doc.is_object() {
        *doc = json!({});
    }
    if let Some(author) = &spec.author {
        doc["author"] = json!(author);
    }
    if spec.clear_history {
        doc["history"] = json!([]);
    }
    if !doc["config"].is_object() {
        doc["config"] = json!({});
    }
    let config = doc["config"].as_object_mut().expect("made an object above");
    labels(config, spec, names, &mut warnings);
    env(config, spec);
    let volumes = object(config, "Volumes");
    for v in &spec.remove_volumes {
        volumes.remove(v);
    }
    for v in &spec.volumes {
        volumes.insert(v.clone(), json!({}));
    }
    if !spec.expose.is_empty() {
        let ports =
            spec.expose.iter().map(|p| (if p.contains('/') { p.clone() } else { format!("{p}/tcp") }, json!({})));
        config.insert("ExposedPorts".into(), Value::Object(ports.collect()));
    }
    if let Some(h) = &spec.healthcheck {
        let seconds = |s: Option<i64>| s.map(|s| s.saturating_mul(1_000_000_000));
        let mut check = Map::new();
        check.insert("Test".into(), json!(h.test));
        for (key, value) in [
            ("Interval", seconds(h.interval)),
            ("Timeout", seconds(h.timeout)),
            ("StartPeriod", seconds(h.start_period)),
            ("Retries", h.retries),
        ] {
            if let Some(v) = value {
                check.insert(key.into(), json!(v));
            }
        }
        config.insert("Healthcheck".into(), Value::Object(check));
    }
    let set = |config: &mut Map<String, Value>, key: &str, clear: bool, value: Option<Value>| {
        if clear {
            config.remove(key);
        }
        if let Some(v) = value {
            config.insert(key.into(), v);
        }
    };
    // An entry point of its own drops the command it inherited, as `ENTRYPOINT` does.
    let clear_cmd = spec.clear_cmd || (spec.entrypoint.is_some() && spec.cmd.is_none());
    set(config, "Cmd", clear_cmd, spec.cmd.as_ref().map(|c| json!(c)));
    set(config, "Entrypoint", spec.clear_entrypoint, spec.entrypoint.as_ref().map(|e| json!(e)));
    set(config, "User", spec.clear_user, spec.user.as_ref().map(|u| json!(u)));
    set(config, "WorkingDir", spec.clear_working_dir, spec.working_dir.as_ref().map(|w| json!(w)));
    set(config, "StopSignal", false, spec.stop_signal.as_ref().map(|s| json!(s)));
    warnings
}

fn labels(config: &mut Map<String, Value>, spec: &ImageSpec, names: &Names<'_>, warnings: &mut Vec<String>) {
    let remove = Patterns::new(&spec.remove_labels);
    let labels = object(config, "Labels");
    let mut kept_essential = false;
    labels.retain(|key, _| {
        let werf = spec.clear_werf_labels && key.starts_with("werf");
        if !(werf || remove.matches(key)) {
            return true;
        }
        if ESSENTIAL_LABELS.contains(&key.as_str()) {
            kept_essential |= !spec.keep_essential_werf_labels;
            return true;
        }
        false
    });
    if kept_essential {
        warnings.push(format!(
            "imageSpec: the labels {} are kept: werf's cleanup needs them (set keepEssentialWerfLabels to keep them without this warning)",
            ESSENTIAL_LABELS.join(", ")
        ));
    }
    let fill = |s: &str| s.replace("%project%", names.project).replace("%image%", names.image);
    for (key, value) in &spec.labels {
        labels.insert(fill(key), json!(fill(value)));
    }
}

fn env(config: &mut Map<String, Value>, spec: &ImageSpec) {
    let before: Vec<(String, String)> = config
        .get("Env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let mut removals = spec.remove_env.clone();
    removals.extend(WERF_COMMIT_ENV.iter().map(|s| s.to_string()));
    let remove = Patterns::new(&removals);
    let mut after: Vec<(String, String)> = before.iter().filter(|(k, _)| !remove.matches(k)).cloned().collect();
    for (key, value) in &spec.env {
        let value = expand(value, &before);
        match after.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => after.push((key.clone(), value)),
        }
    }
    if after.is_empty() && !config.contains_key("Env") {
        return;
    }
    config.insert("Env".into(), json!(after.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()));
}

/// `$NAME` and `${NAME}` replaced by their value in `env` (empty when unset); `$$` is `$`.
fn expand(value: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(end) = braced.find('}')
        {
            out.push_str(lookup(&braced[..end]));
            rest = &braced[end + 1..];
            continue;
        }
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        match len {
            0 if after.starts_with('$') => {
                out.push('$');
                rest = &after[1..];
            }
            0 => {
                out.push('$');
                rest = after;
            }
            n => {
                out.push_str(lookup(&after[..n]));
                rest = &after[n..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The object at `key` of `config`, made empty when absent or not an object.
fn object<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = config.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("made an object above")
}

/// Names, and `/regex/` patterns matching a whole name (checked when the file was read).
struct Patterns {
    exact: Vec<String>,
    regexes: Vec<regex::Regex>,
}

impl Patterns {
    fn new(patterns: &[String]) -> Patterns {
        let mut out = Patterns { exact: Vec::new(), regexes: Vec::new() };
        for p in patterns {
            match p.strip_prefix('/').and_then(|p| p.strip_suffix('/')) {
                Some(re) => out.regexes.extend(regex::Regex::new(&format!("^(?:{re})$")).ok()),
                None => out.exact.push(p.clone()),
            }
        }
        out
    }

    fn matches(&self, name: &str) -> bool {
        self.exact.iter().any(|e| e == name) || self.regexes.iter().any(|r| r.is_match(name))
    }
}

#[cfg(test)]
#[path = "image_spec_tests.rs"]
mod tests;
