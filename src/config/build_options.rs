//! werf's build options of a Dockerfile image: `secrets`, `ssh`, `network`,
//! `contextAddFiles` (or `contextAddFile`) and `cacheVersion`.
//!
//! Secrets follow werf: `- env: NAME` (id defaults to NAME), `- src: PATH` (id defaults to
//! the file name), `- id: ID` + `value: TEXT` (id required); ids are unique per image.
//! `secrets` and `ssh` need BuildKit, which wharf does not drive yet: they are read and
//! checked here, and refused when building.

use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::model::{BuildSecret, SecretSource};
use super::node::Node;
use super::source::At;

pub(crate) const SECRET_KEYS: &[&str] = &["id", "env", "src", "value"];

/// `secrets:`; each with where it is written.
pub(crate) fn secrets(rep: &mut Report<'_>, node: &Node) -> Vec<At<BuildSecret>> {
    let mut out: Vec<At<BuildSecret>> = Vec::new();
    for item in decode::list_items(rep, node, "`secrets`") {
        let Some(secret) = secret(rep, item) else { continue };
        if let Some(first) = out.iter().find(|s| s.value.id == secret.value.id) {
            rep.error(ErrorKind::InvalidValue, secret.pos, format!("duplicated secret {:?}", secret.value.id))
                .label("same id again")
                .note(first.pos, "first here")
                .hint("each secret of an image needs its own `id` (it names /run/secrets/<id>)");
            continue;
        }
        out.push(secret);
    }
    out
}

fn secret(rep: &mut Report<'_>, node: &Node) -> Option<At<BuildSecret>> {
    let what = "a secret";
    let fields = decode::fields(rep, node, what)?;
    decode::reject_unknown(rep, &fields, SECRET_KEYS, &[], what);
    let get = |rep: &mut Report<'_>, key: &str| {
        fields.value(key).and_then(|n| decode::non_empty_string(rep, n, &format!("`{key}`")))
    };
    let id = get(rep, "id");
    let sources: Vec<(&str, At<String>)> =
        ["env", "src", "value"].into_iter().filter_map(|k| get(rep, k).map(|v| (k, v))).collect();
    let hint = "a secret is one of `- env: NAME`, `- src: PATH` or `- id: ID` with `value: TEXT` (werf's syntax)";
    let (kind, source) = match sources.as_slice() {
        [one] => one.clone(),
        [] => {
            rep.error(ErrorKind::MissingKey, node.head(), "secret should be defined as `env`, `src` or `value`")
                .label("this secret")
                .hint(hint);
            return None;
        }
        [_, second, ..] => {
            rep.error(ErrorKind::InvalidValue, second.1.pos, "secret type could be ONLY `env`, `src` or `value`")
                .label("a second source")
                .hint(hint);
            return None;
        }
    };
    let id = match (id, kind) {
        (Some(id), _) => id.value,
        (None, "env") => source.value.clone(),
        (None, "src") => source.value.rsplit('/').next().unwrap_or(&source.value).to_string(),
        (None, _) => {
            rep.error(ErrorKind::MissingKey, source.pos, "a `value` secret needs an `id`")
                .label("no id")
                .hint("write `- id: NAME` next to `value:`; the secret is mounted at /run/secrets/NAME");
            return None;
        }
    };
    if id.contains('/') || id.contains(char::is_whitespace) {
        rep.error(ErrorKind::InvalidValue, node.head(), format!("invalid secret id {id:?}"))
            .label("invalid id")
            .hint("an id names a file under /run/secrets: no `/`, no spaces");
        return None;
    }
    let source_kind = match kind {
        "env" => SecretSource::Env(source.value),
        "src" => SecretSource::File(source.value),
        _ => SecretSource::Value(crate::secret::Secret::new(source.value)),
    };
    Some(At::new(node.head(), BuildSecret { id, source: source_kind }))
}

/// `ssh:` as werf (and `docker build --ssh`) take it: `default`, or `ID[=SOCKET|KEY[,KEY…]]`.
pub(crate) fn ssh(rep: &mut Report<'_>, node: &Node) -> Option<String> {
    let value = decode::non_empty_string(rep, node, "`ssh`")?;
    let id = value.value.split('=').next().unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid `ssh` value `{}`", value.value))
            .label("not ID[=SOCKET|KEY]")
            .hint("write `default` (the agent in SSH_AUTH_SOCK), or `ID=PATH` with an agent socket or key files (`,`-separated)");
        return None;
    }
    Some(value.value)
}

/// `network:`: `default`, `none`, `host` or the name of a network.
pub(crate) fn network(rep: &mut Report<'_>, node: &Node) -> Option<String> {
    let value = decode::non_empty_string(rep, node, "`network`")?;
    let ok = value.value.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && value.value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("invalid `network` `{}`", value.value))
            .label("not a network mode")
            .hint("the network of `RUN` steps: `default`, `none`, `host` or a network's name (as `docker build --network`)");
        return None;
    }
    Some(value.value)
}

/// `contextAddFiles` (or werf's older `contextAddFile`; not both), relative to the context.
pub(crate) fn context_add_files(rep: &mut Report<'_>, fields: &Fields<'_>) -> Vec<At<String>> {
    let (one, many) = (fields.value("contextAddFile"), fields.value("contextAddFiles"));
    if let (Some(_), Some(_)) = (one, many) {
        rep.error(
            ErrorKind::InvalidValue,
            fields.key_pos("contextAddFile").unwrap_or_default(),
            "only one out of contextAddFiles and contextAddFile directives can be used at a time",
        )
        .label("both given")
        .hint("move everything into `contextAddFiles: [...]` and remove `contextAddFile`");
        return Vec::new();
    }
    let Some(node) = one.or(many) else { return Vec::new() };
    let mut out = Vec::new();
    for path in decode::string_or_list(rep, node, "`contextAddFiles`") {
        let p = std::path::Path::new(&path.value);
        if p.has_root() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            rep.error(
                ErrorKind::PathEscape,
                path.pos,
                format!("`contextAddFiles` entry `{}` is not relative to the context", path.value),
            )
            .label("outside the context")
            .hint("each path is relative to `context` and stays inside it (no `/` at the start, no `..`)");
            continue;
        }
        out.push(path);
    }
    out
}

/// `cacheVersion` (of an image or `build:`): any scalar, as text.
pub(crate) fn cache_version(rep: &mut Report<'_>, fields: &Fields<'_>) -> Option<String> {
    fields.value("cacheVersion").and_then(|n| decode::string(rep, n, "`cacheVersion`")).map(|v| v.value)
}
