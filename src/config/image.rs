//! Image documents: werf's Dockerfile-image syntax (`image:`, `dockerfile`, `context`,
//! `target`, `args`, `dependencies`, `platform`, `final`, `cacheVersion`, `secrets`,
//! `ssh`, `network`, `contextAddFiles`, `imageSpec`).
//!
//! Stapel images (`from:`, `git:`, `shell:`, …) are read by [`super::stapel`]: checked as
//! documents, reported as not built. werf's `addHost` is refused by name, `staged` only
//! warns (it changes how werf caches, not what is built).

use super::build_options;
use super::decode::{self, Fields};
pub(crate) use super::dependency::dependencies;
use super::error::{ErrorKind, Report};
use super::image_spec::{self, ImageSpec};
use super::model::BuildSecret;
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
    "final",
    "cacheVersion",
    "secrets",
    "ssh",
    "network",
    "contextAddFile",
    "contextAddFiles",
    "imageSpec",
];
/// werf keys accepted with a warning: they do not change what is built.
pub(crate) const WERF_IGNORED_IMAGE_KEYS: &[&str] = &["staged"];
/// werf Dockerfile-image keys wharf does not implement.
const WERF_UNSUPPORTED_IMAGE_KEYS: &[&str] = &["addHost"];
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
const IMAGE_NAME_MAX: usize = 64;

/// One image document, read.
pub(crate) struct ImageDoc {
    /// Where the document starts.
    pub pos: Pos,
    pub names: Names,
    /// A stapel image: checked as a document, not built.
    pub stapel: bool,
    pub dockerfile: Option<At<String>>,
    pub context: Option<At<String>>,
    pub target: Option<String>,
    pub args: Vec<(At<String>, String)>,
    pub deps: Vec<DepDoc>,
    pub platforms: Vec<At<String>>,
    /// werf's `final` (default true).
    pub publish: bool,
    pub cache_version: Option<String>,
    pub secrets: Vec<At<BuildSecret>>,
    pub ssh: Option<String>,
    pub network: Option<String>,
    pub context_add_files: Vec<At<String>>,
    pub image_spec: Option<ImageSpec>,
}

pub(crate) enum Names {
    /// `image: ~`, at this position.
    Nameless(Pos),
    /// One or more names sharing this definition (invalid ones already dropped).
    Named(Vec<At<String>>),
}

pub(crate) use super::dependency::DepDoc;

/// Reads an image document (one that has an `image` key, or looks like one).
pub(crate) fn decode_image(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> ImageDoc {
    if fields.iter().any(|(k, _, _)| STAPEL_KEYS.contains(&k)) {
        return super::stapel::decode(rep, doc, fields);
    }
    let what = "an image document";
    report_werf_keys(rep, fields);
    let mut skip: Vec<&str> = WERF_UNSUPPORTED_IMAGE_KEYS.to_vec();
    skip.extend_from_slice(WERF_IGNORED_IMAGE_KEYS);
    skip.extend_from_slice(super::meta::META_KEYS); // reported by the document reader
    decode::reject_unknown(rep, fields, IMAGE_KEYS, &skip, what);
    let path = |rep: &mut Report<'_>, key: &str| {
        fields.value(key).and_then(|v| decode::non_empty_string(rep, v, &format!("`{key}`")))
    };
    ImageDoc {
        pos: doc.head(),
        names: image_names(rep, doc, fields),
        stapel: false,
        dockerfile: path(rep, "dockerfile"),
        context: path(rep, "context"),
        target: path(rep, "target").map(|t| t.value),
        args: fields.value("args").map(|a| build_args(rep, a)).unwrap_or_default(),
        deps: fields.value("dependencies").map(|d| dependencies(rep, d, false)).unwrap_or_default(),
        platforms: fields.value("platform").map(|p| platforms(rep, p)).unwrap_or_default(),
        publish: final_flag(rep, fields),
        cache_version: build_options::cache_version(rep, fields),
        secrets: fields.value("secrets").map(|s| build_options::secrets(rep, s)).unwrap_or_default(),
        ssh: fields.value("ssh").and_then(|s| build_options::ssh(rep, s)),
        network: fields.value("network").and_then(|n| build_options::network(rep, n)),
        context_add_files: build_options::context_add_files(rep, fields),
        image_spec: fields.value("imageSpec").and_then(|s| image_spec::decode(rep, s, false)),
    }
}

/// werf's `final` (default `true`).
pub(crate) fn final_flag(rep: &mut Report<'_>, fields: &Fields<'_>) -> bool {
    fields.value("final").and_then(|f| decode::boolean(rep, f, "`final`")).unwrap_or(true)
}

fn report_werf_keys(rep: &mut Report<'_>, fields: &Fields<'_>) {
    for (key, key_node, _) in fields.iter() {
        if WERF_IGNORED_IMAGE_KEYS.contains(&key) {
            rep.warn(key_node.pos, format!("werf's `{key}` is ignored by wharf"));
        } else if WERF_UNSUPPORTED_IMAGE_KEYS.contains(&key) {
            rep.error(ErrorKind::Unsupported, key_node.pos, format!("werf's `{key}` is not supported by wharf"))
                .label("not supported")
                .hint("remove it; wharf builds exactly what the Dockerfile and its context describe");
        }
    }
}

pub(crate) fn image_names(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> Names {
    let Some(node) = fields.get("image") else {
        rep.error(ErrorKind::MissingKey, doc.head(), "image document without `image`")
            .label("this document")
            .hint("name the image with `image: NAME` (or `image: ~` for a project's single nameless image)");
        return Names::Named(Vec::new());
    };
    match &node.kind {
        Kind::Null => {
            Names::Nameless(if node.pos.len == 0 { fields.key_pos("image").unwrap_or(node.pos) } else { node.pos })
        }
        Kind::Seq(items) => {
            if items.is_empty() {
                rep.error(ErrorKind::InvalidValue, node.pos, "`image` is an empty list")
                    .label("no names")
                    .hint("list at least one name: `image: [backend, worker]`");
            }
            Names::Named(items.iter().filter_map(|item| image_name(rep, item)).collect())
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
    if !name.bytes().all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-')) {
        return Err("only lowercase letters, digits, `.`, `_` and `-` are allowed");
    }
    let bytes = name.as_bytes();
    let separators_ok = bytes.windows(2).all(|w| alnum(w[0]) || alnum(w[1]));
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) || !separators_ok {
        return Err("it must start and end with a letter or digit, with single separators in between");
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
            rep.error(ErrorKind::InvalidValue, key.pos, format!("invalid build argument name `{name}`"))
                .label("invalid name")
                .hint("build argument names are the names of Dockerfile `ARG`s: no spaces, no `=`");
            continue;
        }
        match value.scalar_text(rep.src) {
            Some(text) => args.push((At::new(key.pos, name.to_string()), text)),
            None if value.kind == Kind::Null => {
                // werf prints a null with Go's `%v`: the build argument is the text `<nil>`.
                rep.warn(key.pos, format!("build argument `{name}` has no value: werf passes the text `<nil>`, and so does wharf; write `{name}: \"\"` for an empty value, or remove it to use the Dockerfile's default"));
                args.push((At::new(key.pos, name.to_string()), NIL_ARG.to_string()));
            }
            None => decode::wrong_type(rep, value, &format!("build argument `{name}`"), "a string, number or boolean"),
        }
    }
    args
}

/// What werf passes for a build argument written without a value.
pub(crate) const NIL_ARG: &str = "<nil>";

pub(crate) fn platforms(rep: &mut Report<'_>, node: &Node) -> Vec<At<String>> {
    let mut seen: Vec<At<String>> = Vec::new();
    for platform in decode::string_or_list(rep, node, "`platform`") {
        if !valid_platform(&platform.value) {
            rep.error(ErrorKind::InvalidValue, platform.pos, format!("invalid platform `{}`", platform.value))
                .label("not os/arch")
                .hint(
                    "a platform is `os/arch` or `os/arch/variant`, e.g. `linux/amd64`, `linux/arm64` or `linux/arm/v7`",
                );
        } else if let Some(first) = seen.iter().find(|p| p.value == platform.value) {
            rep.error(ErrorKind::InvalidValue, platform.pos, format!("platform `{}` is listed twice", platform.value))
                .label("repeated")
                .note(first.pos, "first listed here")
                .hint("list each platform once");
        } else {
            seen.push(platform);
        }
    }
    seen
}

/// Whether `p` is a platform: `os/arch` or `os/arch/variant`, lower case.
pub fn valid_platform(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
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
        for bad in ["", "Backend", "a--b", "-a", "a-", "a/b", "a b", "é", "a..b", &"a".repeat(65)] {
            assert!(validate_image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platforms() {
        for ok in ["linux/amd64", "linux/arm/v7", "windows/amd64", "linux/arm64/v8"] {
            assert!(valid_platform(ok), "{ok}");
        }
        for bad in ["linux", "linux-amd64", "Linux/amd64", "linux//amd64", "a/b/c/d", ""] {
            assert!(!valid_platform(bad), "{bad}");
        }
    }
}
