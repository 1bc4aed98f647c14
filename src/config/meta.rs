//! The project document: `project`, `configVersion`, `cleanup`, `build`.
//!
//! `build` is werf's: `platform` (the default platforms), `cacheVersion`, `imageSpec`
//! (merged into final images) and `staged` (accepted with a warning). werf's other
//! project-level settings (`deploy`, `gitWorktree`) are accepted with a warning, so a
//! werf project can switch without editing them out.

use super::build_options;
use super::cleanup::{self, CleanupConfig};
use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::image_spec;
use super::model::BuildSettings;
use super::node::{Kind, Node};
use super::source::{At, Pos};

/// Keys of the project document wharf uses.
pub(crate) const META_KEYS: &[&str] = &["project", "configVersion", "cleanup", "build"];
/// werf keys accepted and ignored, with a warning.
pub(crate) const WERF_META_KEYS: &[&str] = &["deploy", "gitWorktree"];
/// Keys of `build:`.
pub(crate) const BUILD_KEYS: &[&str] = &["platform", "cacheVersion", "imageSpec", "staged"];

/// werf's rule (`slug.ValidateProject`): lowercase alphanumerics and inner dashes.
const PROJECT_MAX: usize = 50;

/// The project document, read.
pub(crate) struct MetaDoc {
    pub project: Option<At<String>>,
    pub cleanup: CleanupConfig,
    pub build: BuildSettings,
    /// Where the document starts, for "second project document" notes.
    pub pos: Pos,
}

/// Reads a project document; every problem is reported, what is usable is kept.
pub(crate) fn decode_meta(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> MetaDoc {
    let what = "the project document";
    let mut known: Vec<&str> = META_KEYS.to_vec();
    known.extend_from_slice(WERF_META_KEYS);
    decode::reject_unknown(rep, fields, &known, &[], what);
    for key in WERF_META_KEYS {
        if let Some(pos) = fields.key_pos(key) {
            rep.warn(pos, format!("werf's `{key}` settings are ignored by wharf"));
        }
    }
    check_config_version(rep, doc, fields);
    let project = project_name(rep, doc, fields);
    let cleanup = fields.value("cleanup").map(|c| cleanup::decode_cleanup(rep, c)).unwrap_or_default();
    let build = fields.value("build").map(|b| decode_build(rep, b)).unwrap_or_default();
    MetaDoc { project, cleanup, build, pos: doc.head() }
}

fn decode_build(rep: &mut Report<'_>, node: &Node) -> BuildSettings {
    let what = "`build`";
    let Some(fields) = decode::fields(rep, node, what) else {
        return Default::default();
    };
    decode::reject_unknown(rep, &fields, BUILD_KEYS, &[], what);
    if let Some(pos) = fields.key_pos("staged") {
        rep.warn(pos, "werf's `build.staged` is ignored by wharf");
    }
    let platforms = fields.value("platform").map(|p| super::image::platforms(rep, p)).unwrap_or_default();
    BuildSettings {
        platforms: platforms.into_iter().map(|p| p.value).collect(),
        cache_version: build_options::cache_version(rep, &fields),
        image_spec: fields.value("imageSpec").and_then(|s| image_spec::decode(rep, s, true)),
    }
}

fn check_config_version(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) {
    match fields.get("configVersion") {
        None => {
            rep.error(ErrorKind::MissingKey, doc.head(), "the project document has no `configVersion`")
                .label("project document")
                .hint("add `configVersion: 1` next to `project:`");
        }
        Some(Node { kind: Kind::Int(1), .. }) => {}
        // werf's YAML reader turns a whole float into an int: `configVersion: 1.0` is 1.
        Some(Node { kind: Kind::Float(f), .. }) if *f == 1.0 => {}
        Some(v) => {
            rep.error(ErrorKind::InvalidValue, v.pos, "`configVersion` must be 1")
                .label("expected 1")
                .hint("write `configVersion: 1`, the only version of this format (as in werf)");
        }
    }
}

fn project_name(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> Option<At<String>> {
    let Some(node) = fields.value("project") else {
        rep.error(ErrorKind::MissingProject, doc.head(), "the project document has no `project` name")
            .label("project document")
            .hint("add `project: my-project`; the name is part of every published repository and tag");
        return None;
    };
    let name = decode::string(rep, node, "`project`")?;
    if let Err(why) = validate_project_name(&name.value) {
        let hint = match slug(&name.value, PROJECT_MAX) {
            s if !s.is_empty() && s != name.value => format!("{why}; for example `{s}`"),
            _ => why.to_string(),
        };
        rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid project name `{}`", name.value))
            .label("invalid project name")
            .hint(hint);
        return None;
    }
    Some(name)
}

/// Checks werf's project name rule.
pub fn validate_project_name(name: &str) -> Result<(), &'static str> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > PROJECT_MAX || !ok_chars || name.starts_with('-') || name.ends_with('-') {
        return Err(
            "a project name has 1 to 50 lowercase letters, digits and `-`, and neither starts nor ends with `-` (werf's rule)",
        );
    }
    Ok(())
}

/// A name close to `name` that is valid both as a project name and as an image
/// name: lowercased, other characters → `-`, at most `max` characters.
pub(crate) fn slug(name: &str, max: usize) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_werf() {
        for ok in ["flant", "a", "my-app-2", "0", &"a".repeat(50)] {
            assert!(validate_project_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "My", "a_b", "a.b", "ä", &"a".repeat(51)] {
            assert!(validate_project_name(bad).is_err(), "{bad}");
        }
        assert_eq!(slug("My_App--X", 50), "my-app-x");
        assert_eq!(slug("base/vex", 50), "base-vex");
    }
}
