//! `dependencies:` of an image: the image depended on (`image`, or werf's newer `from`),
//! its `imports` (facts passed as build arguments), and werf's rules for `before:` /
//! `after:`, which only stapel images have.

use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::model::ImportKind;
use super::node::Node;
use super::source::At;

pub(crate) const DEPENDENCY_KEYS: &[&str] = &["image", "from", "imports", "before", "after"];
pub(crate) const IMPORT_KEYS: &[&str] = &["type", "targetBuildArg"];

pub(crate) struct DepDoc {
    pub image: At<String>,
    pub imports: Vec<At<(ImportKind, String)>>,
}

/// `dependencies:` of a Dockerfile image, or of a stapel image (`stapel`), where werf
/// requires `before:` or `after:` (`install` or `setup`) and refuses them otherwise.
pub(crate) fn dependencies(rep: &mut Report<'_>, node: &Node, stapel: bool) -> Vec<DepDoc> {
    decode::list_items(rep, node, "`dependencies`").iter().filter_map(|d| dependency(rep, d, stapel)).collect()
}

fn dependency(rep: &mut Report<'_>, node: &Node, stapel: bool) -> Option<DepDoc> {
    let what = "a dependency";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, DEPENDENCY_KEYS, &[], what);
    dependency_stage(rep, node, &fields, stapel);
    let imports = fields.value("imports").map(|i| imports(rep, i, stapel)).unwrap_or_default();
    let target = match (fields.value("image"), fields.value("from")) {
        (Some(v), None) | (None, Some(v)) => v,
        (Some(_), Some(v)) => {
            rep.error(
                ErrorKind::InvalidValue,
                fields.key_pos("from").unwrap_or(v.pos),
                "a dependency with both `image` and `from`",
            )
            .label("second name")
            .hint("`from` is werf's newer spelling of `image`: keep one");
            return None;
        }
        (None, None) => {
            rep.error(ErrorKind::MissingKey, node.head(), "a dependency without `image`")
                .label("this dependency")
                .hint("name the image depended on: `- image: NAME`");
            return None;
        }
    };
    let image = decode::non_empty_string(rep, target, "the dependency's image")?;
    Some(DepDoc { image, imports })
}

/// werf's rules for `before:` / `after:`.
fn dependency_stage(rep: &mut Report<'_>, node: &Node, fields: &Fields<'_>, stapel: bool) {
    let stages: Vec<(&str, &Node)> =
        ["before", "after"].into_iter().filter_map(|k| fields.value(k).map(|v| (k, v))).collect();
    if !stapel {
        for (key, _) in &stages {
            rep.error(ErrorKind::InvalidValue, fields.key_pos(key).unwrap_or(node.pos), format!("`{key}:` directive is not supported for dockerfile dependencies"))
                .label("stapel only")
                .hint("`before:`/`after:` place a dependency between stapel stages; a Dockerfile image receives its dependencies as build arguments (`imports`): remove it");
        }
        return;
    }
    match stages.as_slice() {
        [] => {
            rep.error(
                ErrorKind::MissingKey,
                node.head(),
                "dependency stage is not specified with `before: install|setup` or `after: install|setup`",
            )
            .label("this dependency")
            .hint("werf needs the stage of a stapel image's dependency: add `after: install` (or `before: setup`, …)");
        }
        [(key, value)] => {
            if let Some(v) = decode::string(rep, value, &format!("`{key}`"))
                && !matches!(v.value.as_str(), "install" | "setup")
            {
                rep.error(
                    ErrorKind::InvalidValue,
                    value.pos,
                    format!("invalid dependency stage `{key}: {}`: expected install or setup", v.value),
                )
                .label("not install or setup")
                .hint(format!("write `{key}: install` or `{key}: setup`"));
            }
        }
        [_, (key, _)] => {
            rep.error(ErrorKind::InvalidValue, fields.key_pos(key).unwrap_or(node.pos), "only one dependency stage can be specified with `before: install|setup` or `after: install|setup`, but not both")
                .label("second stage")
                .hint("keep either `before:` or `after:`");
        }
        _ => {}
    }
}

fn imports(rep: &mut Report<'_>, node: &Node, stapel: bool) -> Vec<At<(ImportKind, String)>> {
    decode::list_items(rep, node, "`imports`").iter().filter_map(|i| import(rep, i, stapel)).collect()
}

/// One import; a stapel image's (`targetEnv` allowed there) is checked and dropped.
fn import(rep: &mut Report<'_>, node: &Node, stapel: bool) -> Option<At<(ImportKind, String)>> {
    let what = "an import";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, IMPORT_KEYS, &["targetEnv"], what);
    if stapel {
        required(rep, node, &fields, "type").and_then(|v| import_kind(rep, v));
        return None;
    }
    if let Some(pos) = fields.key_pos("targetEnv") {
        rep.error(ErrorKind::Unsupported, pos, "`targetEnv` is for werf's stapel images")
            .label("not for Dockerfile images")
            .hint("Dockerfile images receive imports as build arguments: use `targetBuildArg: NAME` and declare `ARG NAME`");
    }
    let kind = required(rep, node, &fields, "type").and_then(|v| import_kind(rep, v));
    let arg = required(rep, node, &fields, "targetBuildArg")
        .and_then(|v| decode::non_empty_string(rep, v, "`targetBuildArg`"));
    let (kind, arg) = (kind?, arg?);
    Some(At::new(arg.pos, (kind, arg.value)))
}

fn required<'n>(rep: &mut Report<'_>, node: &Node, fields: &Fields<'n>, key: &str) -> Option<&'n Node> {
    let value = fields.value(key);
    if value.is_none() {
        rep.error(ErrorKind::MissingKey, node.head(), format!("an import without `{key}`"))
            .label("this import")
            .hint("an import needs `type: ImageName|ImageID|ImageRepo|ImageTag|ImageDigest` and `targetBuildArg: ARG`");
    }
    value
}

fn import_kind(rep: &mut Report<'_>, node: &Node) -> Option<ImportKind> {
    let text = decode::string(rep, node, "`type`")?;
    if let Some(kind) = ImportKind::from_werf(&text.value) {
        return Some(kind);
    }
    let names: Vec<&str> = ImportKind::ALL.iter().map(|k| k.as_str()).collect();
    let hint = match decode::suggest(&text.value, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of {}", decode::list(&names)),
    };
    rep.error(ErrorKind::InvalidValue, node.pos, format!("unknown import type `{}`", text.value))
        .label("unknown type")
        .hint(hint);
    None
}
