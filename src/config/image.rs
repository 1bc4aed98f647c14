//! Image documents: `image:`, `dockerfile`, `context`, `target`, `args`,
//! `dependencies`, `platform` — werf's Dockerfile-image syntax.
//!
//! Stapel images (`from:`, `git:`, `shell:`, …) are recognised and refused with one
//! clear error; werf's Dockerfile options wharf lacks are refused by name, and the
//! harmless ones (`final`, `staged`, `cacheVersion`) only warn.

use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::model::ImportKind;
use super::node::{Kind, Node};
use super::source::{At, Pos};

pub(crate) const IMAGE_KEYS: &[&str] = &[
    "image",
    "dockerfile",
    "context",
    "target",
    "args",
    "dependencies",
    "platform",
];
/// werf keys accepted with a warning: they do not change what is built.
pub(crate) const WERF_IGNORED_IMAGE_KEYS: &[&str] = &["final", "staged", "cacheVersion"];
/// werf Dockerfile-image keys wharf does not implement.
const WERF_UNSUPPORTED_IMAGE_KEYS: &[&str] = &[
    "contextAddFile",
    "contextAddFiles",
    "addHost",
    "network",
    "ssh",
    "secrets",
    "imageSpec",
];
/// Keys only werf's stapel images have.
pub(crate) const STAPEL_KEYS: &[&str] = &[
    "artifact",
    "from",
    "fromLatest",
    "fromImage",
    "fromArtifact",
    "fromCacheVersion",
    "git",
    "shell",
    "ansible",
    "mount",
    "import",
    "docker",
    "disableGitAfterPatch",
];
pub(crate) const DEPENDENCY_KEYS: &[&str] = &["image", "from", "imports"];
pub(crate) const IMPORT_KEYS: &[&str] = &["type", "targetBuildArg"];
const IMAGE_NAME_MAX: usize = 64;

/// One image document, read.
pub(crate) struct ImageDoc {
    /// Where the document starts.
    pub pos: Pos,
    pub names: Names,
    /// A stapel image: reported, and not checked further.
    pub stapel: bool,
    pub dockerfile: Option<At<String>>,
    pub context: Option<At<String>>,
    pub target: Option<String>,
    pub args: Vec<(At<String>, String)>,
    pub deps: Vec<DepDoc>,
    pub platforms: Vec<String>,
}

pub(crate) enum Names {
    /// `image: ~`, at this position.
    Nameless(Pos),
    /// One or more names sharing this definition (invalid ones already dropped).
    Named(Vec<At<String>>),
}

pub(crate) struct DepDoc {
    pub image: At<String>,
    pub imports: Vec<At<(ImportKind, String)>>,
}

/// Reads an image document (one that has an `image` key, or looks like one).
pub(crate) fn decode_image(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> ImageDoc {
    let what = "an image document";
    let stapel = report_stapel(rep, fields);
    report_werf_keys(rep, fields);
    let mut skip: Vec<&str> = STAPEL_KEYS.to_vec();
    skip.extend_from_slice(WERF_UNSUPPORTED_IMAGE_KEYS);
    skip.extend_from_slice(WERF_IGNORED_IMAGE_KEYS);
    skip.extend_from_slice(super::meta::META_KEYS); // reported by the document reader
    decode::reject_unknown(rep, fields, IMAGE_KEYS, &skip, what);
    let path = |rep: &mut Report<'_>, key: &str| {
        fields
            .value(key)
            .and_then(|v| decode::non_empty_string(rep, v, &format!("`{key}`")))
    };
    ImageDoc {
        pos: doc.head(),
        names: if stapel && !fields.has("image") {
            Names::Named(Vec::new())
        } else {
            image_names(rep, doc, fields)
        },
        stapel,
        dockerfile: path(rep, "dockerfile"),
        context: path(rep, "context"),
        target: path(rep, "target").map(|t| t.value),
        args: fields
            .value("args")
            .map(|a| build_args(rep, a))
            .unwrap_or_default(),
        deps: fields
            .value("dependencies")
            .map(|d| dependencies(rep, d))
            .unwrap_or_default(),
        platforms: fields
            .value("platform")
            .map(|p| platforms(rep, p))
            .unwrap_or_default(),
    }
}

/// One error for a stapel image, marking every stapel key.
fn report_stapel(rep: &mut Report<'_>, fields: &Fields<'_>) -> bool {
    let found: Vec<(&str, Pos)> = fields
        .iter()
        .filter(|(k, _, _)| STAPEL_KEYS.contains(k))
        .map(|(k, key, _)| (k, key.pos))
        .collect();
    let Some(((first, first_pos), rest)) = found.split_first() else {
        return false;
    };
    let mut error = rep
        .error(ErrorKind::Stapel, *first_pos, "stapel images are not supported; wharf builds Dockerfile images")
        .label(format!("`{first}` is a stapel directive"))
        .hint("describe this image in a Dockerfile and set `dockerfile:` (and `context:`): `from:` becomes `FROM`, `shell:`/`ansible:` steps become `RUN`, `git:` becomes `COPY`");
    for (key, pos) in rest {
        error = error.note(*pos, format!("`{key}` is a stapel directive too"));
    }
    true
}

fn report_werf_keys(rep: &mut Report<'_>, fields: &Fields<'_>) {
    for (key, key_node, _) in fields.iter() {
        if WERF_IGNORED_IMAGE_KEYS.contains(&key) {
            rep.warn(key_node.pos, format!("werf's `{key}` is ignored by wharf"));
        } else if WERF_UNSUPPORTED_IMAGE_KEYS.contains(&key) {
            rep.error(
                ErrorKind::Unsupported,
                key_node.pos,
                format!("werf's `{key}` is not supported by wharf"),
            )
            .label("not supported")
            .hint("remove it; wharf builds exactly what the Dockerfile and its context describe");
        }
    }
}

fn image_names(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> Names {
    let Some(node) = fields.get("image") else {
        rep.error(ErrorKind::MissingKey, doc.head(), "image document without `image`")
            .label("this document")
            .hint("name the image with `image: NAME` (or `image: ~` for a project's single nameless image)");
        return Names::Named(Vec::new());
    };
    match &node.kind {
        Kind::Null => Names::Nameless(if node.pos.len == 0 {
            fields.key_pos("image").unwrap_or(node.pos)
        } else {
            node.pos
        }),
        Kind::Seq(items) => {
            if items.is_empty() {
                rep.error(
                    ErrorKind::InvalidValue,
                    node.pos,
                    "`image` is an empty list",
                )
                .label("no names")
                .hint("list at least one name: `image: [backend, worker]`");
            }
            Names::Named(
                items
                    .iter()
                    .filter_map(|item| image_name(rep, item))
                    .collect(),
            )
        }
        _ => Names::Named(image_name(rep, node).into_iter().collect()),
    }
}

fn image_name(rep: &mut Report<'_>, node: &Node) -> Option<At<String>> {
    let name = decode::string(rep, node, "an image name")?;
    if let Err(why) = validate_image_name(&name.value) {
        let example = match super::meta::slug(&name.value, IMAGE_NAME_MAX) {
            s if s.is_empty() => "e.g. `backend` or `api-v2`".to_string(),
            s => format!("e.g. `{s}`"),
        };
        rep.error(ErrorKind::InvalidImageName, node.pos, format!("invalid image name `{}`: {why}", name.value))
            .label("invalid image name")
            .hint(format!("an image name becomes part of a registry repository path (`registry/project/NAME`) and of tags (`NAME-<digest>`), so it must be valid in both: lowercase letters and digits, separated by single `.`, `_` or `-`, at most 64 characters ({example}); werf also allows uppercase and `/`, wharf cannot"));
        return None;
    }
    Some(name)
}

/// `[a-z0-9]+([._-][a-z0-9]+)*`, at most 64 characters: valid as a repository
/// path component and inside a tag.
pub fn validate_image_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > IMAGE_NAME_MAX {
        return Err("it is longer than 64 characters");
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("it has uppercase letters");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !name
        .bytes()
        .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only lowercase letters, digits, `.`, `_` and `-` are allowed");
    }
    let bytes = name.as_bytes();
    let separators_ok = bytes.windows(2).all(|w| alnum(w[0]) || alnum(w[1]));
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) || !separators_ok {
        return Err(
            "it must start and end with a letter or digit, with single separators in between",
        );
    }
    Ok(())
}

fn build_args(rep: &mut Report<'_>, node: &Node) -> Vec<(At<String>, String)> {
    let Some(fields) = decode::fields(rep, node, "`args`") else {
        return Vec::new();
    };
    let mut args = Vec::new();
    for (name, key, value) in fields.iter() {
        if name.is_empty() || name.contains(|c: char| c == '=' || c.is_whitespace()) {
            rep.error(
                ErrorKind::InvalidValue,
                key.pos,
                format!("invalid build argument name `{name}`"),
            )
            .label("invalid name")
            .hint("build argument names are the names of Dockerfile `ARG`s: no spaces, no `=`");
            continue;
        }
        match value.scalar_text(rep.src) {
            Some(text) => args.push((At::new(key.pos, name.to_string()), text)),
            None if value.kind == Kind::Null => {
                rep.error(ErrorKind::InvalidValue, key.pos, format!("build argument `{name}` has no value"))
                    .label("no value")
                    .hint(format!("write `{name}: \"\"` for an empty value, or remove it to use the Dockerfile's default"));
            }
            None => decode::wrong_type(
                rep,
                value,
                &format!("build argument `{name}`"),
                "a string, number or boolean",
            ),
        }
    }
    args
}

fn dependencies(rep: &mut Report<'_>, node: &Node) -> Vec<DepDoc> {
    decode::list_items(rep, node, "`dependencies`")
        .iter()
        .filter_map(|d| dependency(rep, d))
        .collect()
}

fn dependency(rep: &mut Report<'_>, node: &Node) -> Option<DepDoc> {
    let what = "a dependency";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, DEPENDENCY_KEYS, &[], what);
    let imports = fields
        .value("imports")
        .map(|i| imports(rep, i))
        .unwrap_or_default();
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
            rep.error(
                ErrorKind::MissingKey,
                node.head(),
                "a dependency without `image`",
            )
            .label("this dependency")
            .hint("name the image depended on: `- image: NAME`");
            return None;
        }
    };
    let image = decode::non_empty_string(rep, target, "the dependency's image")?;
    Some(DepDoc { image, imports })
}

fn imports(rep: &mut Report<'_>, node: &Node) -> Vec<At<(ImportKind, String)>> {
    decode::list_items(rep, node, "`imports`")
        .iter()
        .filter_map(|i| import(rep, i))
        .collect()
}

fn import(rep: &mut Report<'_>, node: &Node) -> Option<At<(ImportKind, String)>> {
    let what = "an import";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, IMPORT_KEYS, &["targetEnv"], what);
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

fn required<'n>(
    rep: &mut Report<'_>,
    node: &Node,
    fields: &Fields<'n>,
    key: &str,
) -> Option<&'n Node> {
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
    rep.error(
        ErrorKind::InvalidValue,
        node.pos,
        format!("unknown import type `{}`", text.value),
    )
    .label("unknown type")
    .hint(hint);
    None
}

fn platforms(rep: &mut Report<'_>, node: &Node) -> Vec<String> {
    let mut seen: Vec<At<String>> = Vec::new();
    for platform in decode::string_or_list(rep, node, "`platform`") {
        if !valid_platform(&platform.value) {
            rep.error(ErrorKind::InvalidValue, platform.pos, format!("invalid platform `{}`", platform.value))
                .label("not os/arch")
                .hint("a platform is `os/arch` or `os/arch/variant`, e.g. `linux/amd64`, `linux/arm64` or `linux/arm/v7`");
        } else if let Some(first) = seen.iter().find(|p| p.value == platform.value) {
            rep.error(
                ErrorKind::InvalidValue,
                platform.pos,
                format!("platform `{}` is listed twice", platform.value),
            )
            .label("repeated")
            .note(first.pos, "first listed here")
            .hint("list each platform once");
        } else {
            seen.push(platform);
        }
    }
    seen.into_iter().map(|p| p.value).collect()
}

fn valid_platform(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        for ok in ["backend", "a", "api-v2", "a.b_c-d", "0", &"a".repeat(64)] {
            assert!(validate_image_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Backend",
            "a--b",
            "-a",
            "a-",
            "a/b",
            "a b",
            "é",
            "a..b",
            &"a".repeat(65),
        ] {
            assert!(validate_image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platforms() {
        for ok in [
            "linux/amd64",
            "linux/arm/v7",
            "windows/amd64",
            "linux/arm64/v8",
        ] {
            assert!(valid_platform(ok), "{ok}");
        }
        for bad in [
            "linux",
            "linux-amd64",
            "Linux/amd64",
            "linux//amd64",
            "a/b/c/d",
            "",
        ] {
            assert!(!valid_platform(bad), "{bad}");
        }
    }
}
