//! Typed reading of located nodes, reporting problems instead of stopping.
//!
//! Every helper records an error in the [`Report`] and returns `None` when the
//! value is unusable, so the caller can go on checking the rest of the file.

use super::error::{ErrorKind, Report};
use super::node::{Kind, Node};
use super::source::{At, Pos};
use std::collections::HashMap;

/// The string-keyed entries of one mapping, in file order.
pub(crate) struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, _, v)| *v)
    }

    /// The value of `key`, unless absent or `null` (werf treats both as unset).
    pub fn value(&self, key: &str) -> Option<&'n Node> {
        self.get(key).filter(|v| v.kind != Kind::Null)
    }

    /// The key node of `key`, if present.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, k, _)| k.pos)
    }

    /// `(key, key node, value node)` in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&'n str, &'n Node, &'n Node)> + '_ {
        self.entries.iter().copied()
    }
}

/// The entries of mapping `node`, or `None` (reported) if it is not a mapping.
/// Non-string keys and repeated keys are reported; the first of repeated keys wins.
pub(crate) fn fields<'n>(rep: &mut Report<'_>, node: &'n Node, what: &str) -> Option<Fields<'n>> {
    let Kind::Map(pairs) = &node.kind else {
        wrong_type(rep, node, what, "a mapping");
        return None;
    };
    let mut entries: Vec<(&'n str, &'n Node, &'n Node)> = Vec::with_capacity(pairs.len());
    let mut seen: HashMap<&str, Pos> = HashMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        let Some(name) = key.as_str() else {
            rep.error(
                ErrorKind::WrongType,
                key.pos,
                format!("keys of {what} must be strings, found {}", key.type_name()),
            )
            .label("not a string key")
            .hint("keys are plain names; quote the key if it looks like a number or a list");
            continue;
        };
        if let Some(&first) = seen.get(name) {
            rep.error(ErrorKind::DuplicateKey, key.pos, format!("duplicate key `{name}` in {what}"))
                .label("repeated here")
                .note(first, "first set here")
                .hint("YAML mappings cannot repeat a key: keep one of them");
            continue;
        }
        seen.insert(name, key.pos);
        entries.push((name, key, value));
    }
    Some(Fields { entries })
}

/// Reports every key of `fields` that is not in `known` (nor in `skip`),
/// suggesting the closest known key.
pub(crate) fn reject_unknown(rep: &mut Report<'_>, fields: &Fields<'_>, known: &[&str], skip: &[&str], what: &str) {
    for (key, key_node, _) in fields.iter() {
        if known.contains(&key) || skip.contains(&key) {
            continue;
        }
        let hint = match suggest(key, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("{what} accepts: {}", list(known)),
        };
        rep.error(ErrorKind::UnknownKey, key_node.pos, format!("unknown key `{key}` in {what}"))
            .label("unknown key")
            .hint(hint);
    }
}

/// Candidates compared at most when suggesting (keeps huge files fast).
const MAX_CANDIDATES: usize = 500;
/// Words listed at most in "expected one of" messages.
const MAX_LISTED: usize = 20;

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if known.len() > MAX_CANDIDATES || word.len() > 200 {
        return None;
    }
    let lower = word.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(&lower, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// `a`, `b`, `c` — for "expected one of" messages.
pub(crate) fn list(words: &[&str]) -> String {
    let mut out = words.iter().take(MAX_LISTED).map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ");
    if words.len() > MAX_LISTED {
        out.push_str(&format!(" and {} more", words.len() - MAX_LISTED));
    }
    out
}

pub(crate) fn wrong_type(rep: &mut Report<'_>, node: &Node, what: &str, expected: &str) {
    rep.error(ErrorKind::WrongType, node.pos, format!("{what} must be {expected}, found {}", node.type_name()))
        .label(format!("expected {expected}"))
        .hint(shape_hint(expected));
}

/// How to write a value of the `expected` shape in YAML.
fn shape_hint(expected: &str) -> &'static str {
    if expected.contains("mapping") {
        "write `key: value` pairs, indented under it (or `{key: value}`)"
    } else if expected.contains("list") {
        "write the items as `- item` lines indented under it (or `[a, b]`)"
    } else if expected.contains("number") {
        "write a number without quotes, e.g. `10`"
    } else if expected.contains("true") {
        "write `true` or `false` without quotes"
    } else {
        "write a single value; quote it (`\"…\"`) if it starts with a special character or contains `: `"
    }
}

/// A string, accepting numbers and booleans as written (`target: 2` is `"2"`).
pub(crate) fn string(rep: &mut Report<'_>, node: &Node, what: &str) -> Option<At<String>> {
    match node.scalar_text(rep.src) {
        Some(text) => Some(At::new(node.pos, text)),
        None => {
            wrong_type(rep, node, what, "a string");
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn non_empty_string(rep: &mut Report<'_>, node: &Node, what: &str) -> Option<At<String>> {
    let value = string(rep, node, what)?;
    if value.value.trim().is_empty() {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("{what} must not be empty"))
            .label("empty")
            .hint("give it a value, or remove the key to use the default");
        return None;
    }
    Some(value)
}

/// A string or a list of strings (`platform: linux/amd64` or `platform: [a, b]`).
pub(crate) fn string_or_list(rep: &mut Report<'_>, node: &Node, what: &str) -> Vec<At<String>> {
    match &node.kind {
        Kind::Seq(items) => items.iter().filter_map(|item| non_empty_string(rep, item, what)).collect(),
        Kind::Map(_) => {
            wrong_type(rep, node, what, "a string or a list of strings");
            Vec::new()
        }
        _ => non_empty_string(rep, node, what).into_iter().collect(),
    }
}

/// The items of a list.
pub(crate) fn list_items<'n>(rep: &mut Report<'_>, node: &'n Node, what: &str) -> &'n [Node] {
    match &node.kind {
        Kind::Seq(items) => items,
        _ => {
            wrong_type(rep, node, what, "a list");
            &[]
        }
    }
}

/// A boolean.
pub(crate) fn boolean(rep: &mut Report<'_>, node: &Node, what: &str) -> Option<bool> {
    match node.kind {
        Kind::Bool(b) => Some(b),
        _ => {
            wrong_type(rep, node, what, "`true` or `false`");
            None
        }
    }
}

/// A whole number in `min..=max`.
pub(crate) fn integer(rep: &mut Report<'_>, node: &Node, what: &str, min: i128, max: i128) -> Option<i128> {
    let Kind::Int(value) = node.kind else {
        wrong_type(rep, node, what, "a whole number");
        return None;
    };
    if value < min || value > max {
        rep.error(ErrorKind::InvalidValue, node.pos, format!("{what} must be between {min} and {max}, found {value}"))
            .label("out of range");
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_and_case() {
        let known = ["dockerfile", "context", "target", "args", "dependencies", "platform"];
        assert_eq!(suggest("dockerfil", &known), Some("dockerfile"));
        assert_eq!(suggest("Dockerfile", &known), Some("dockerfile"));
        assert_eq!(suggest("contxt", &known), Some("context"));
        assert_eq!(suggest("platforms", &known), Some("platform"));
        assert_eq!(suggest("dependancies", &known), Some("dependencies"));
        assert_eq!(suggest("zzz", &known), None);
    }
}
