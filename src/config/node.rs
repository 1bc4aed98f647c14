//! YAML text → a tree of located nodes, one per document.
//!
//! serde-saphyr does the YAML work (anchors, merges, budgets against alias bombs,
//! nesting limits); we read every document through `deserialize_any` into
//! [`Node`]s that remember their position. Duplicate keys are passed through so
//! the checker can report them (pointing at both) alongside every other problem,
//! instead of failing on the first one.

use super::error::{ErrorKind, Report};
use super::source::{Pos, SourceFile};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Location, Spanned};
use std::fmt;

/// A YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Where the node is used (for an alias: the `*name` token).
    pub pos: Pos,
    /// Where the node's value is written (for an alias: the anchored node).
    pub def: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// How the node's type is named in messages ("a list", …).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The position to mark for the node as a whole: for a mapping or list that
    /// is its first entry (a zero-width mark at the start is easy to miss).
    pub fn head(&self) -> Pos {
        match &self.kind {
            Kind::Map(entries) => entries.first().map_or(self.pos, |(k, _)| k.pos),
            Kind::Seq(items) => items.first().map_or(self.pos, |i| i.pos),
            _ => self.pos,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as the text a Dockerfile would see: strings as they are,
    /// numbers and booleans exactly as written (`1.10` stays `1.10`).
    pub fn scalar_text(&self, src: &SourceFile) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                let written = src.slice(self.def).trim();
                Some(if written.is_empty() { self.fallback_text() } else { written.to_string() })
            }
            _ => None,
        }
    }

    fn fallback_text(&self) -> String {
        match self.kind {
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            _ => String::new(),
        }
    }
}

/// Parses every non-empty document of `src`. A YAML syntax error is reported and
/// ends parsing: nothing after it can be trusted.
pub(crate) fn parse_documents(rep: &mut Report<'_>) -> Option<Vec<Node>> {
    let src = rep.src;
    let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::PassThrough };
    match serde_saphyr::from_multiple_with_options::<Spanned<Raw>>(&src.text, options) {
        Ok(docs) => Some(docs.into_iter().map(|d| convert(src, d)).collect()),
        Err(e) => {
            let pos = e.location().map_or(Pos::default(), |l| pos_of(src, &l));
            rep.error(ErrorKind::Syntax, pos, syntax_message(&e))
                .label("here")
                .hint("fix the YAML syntax first; the other checks run once the file parses");
            None
        }
    }
}

/// The first line of serde-saphyr's message, without its own location prefix
/// (our diagnostics add `file:line:col`).
fn syntax_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    let first = first.strip_prefix("error:").unwrap_or(first).trim();
    let without_loc = match first.split_once(": ") {
        Some((loc, rest)) if loc.starts_with("line ") => rest,
        _ => first,
    };
    format!("invalid YAML: {without_loc}")
}

fn pos_of(src: &SourceFile, loc: &Location) -> Pos {
    if loc.line() == 0 {
        return Pos::default();
    }
    let span = loc.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(start), Some(len)) => src.clamp(Pos::new(to_usize(start), to_usize(len))),
        _ => {
            let start = src.offset_of(to_usize(loc.line()), to_usize(loc.column()));
            let chars = to_usize(span.len());
            let len = src.text[start..].char_indices().nth(chars).map_or(src.text.len() - start, |(i, _)| i);
            Pos::new(start, len)
        }
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn convert(src: &SourceFile, node: Spanned<Raw>) -> Node {
    let pos = pos_of(src, &node.referenced);
    let def = pos_of(src, &node.defined);
    let kind = match node.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|n| convert(src, n)).collect()),
        Raw::Map(entries) => Kind::Map(entries.into_iter().map(|(k, v)| (convert(src, k), convert(src, v))).collect()),
    };
    Node { pos, def, kind }
}

/// The tree as serde hands it over, before positions are turned into byte ranges.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(i128::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Node>, Vec<String>> {
        let src = SourceFile::new("t.yaml".into(), text);
        let mut rep = Report::new(&src);
        let docs = parse_documents(&mut rep);
        match rep.finish("t.yaml".into()) {
            Ok(_) => Ok(docs.unwrap_or_default()),
            Err(e) => Err(e.errors().iter().map(|e| format!("{}:{} {}", e.line(), e.column(), e.message())).collect()),
        }
    }

    #[test]
    fn keeps_positions_and_duplicate_keys() {
        let docs = parse("a: 1\nb: [x, 'y']\na: 2\n").unwrap();
        let Kind::Map(entries) = &docs[0].kind else { panic!("not a map") };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].0.pos, Pos::new(17, 1));
        assert_eq!(
            entries[1].1.kind,
            Kind::Seq(vec![
                Node { pos: Pos::new(9, 1), def: Pos::new(9, 1), kind: Kind::Str("x".into()) },
                Node { pos: Pos::new(12, 3), def: Pos::new(12, 3), kind: Kind::Str("y".into()) },
            ])
        );
    }

    #[test]
    fn numbers_keep_their_spelling() {
        let text = "v: 1.10\nw: &a 0x1F\nx: *a\n";
        let src = SourceFile::new("t".into(), text);
        let docs = parse(text).unwrap();
        let Kind::Map(entries) = &docs[0].kind else { panic!("not a map") };
        let texts: Vec<_> = entries.iter().map(|(_, v)| v.scalar_text(&src).unwrap()).collect();
        assert_eq!(texts, ["1.10", "0x1F", "0x1F"]);
    }

    #[test]
    fn syntax_errors_are_located() {
        let errors = parse("a: [1\nb: 2\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("2:2 invalid YAML:"), "{errors:?}");
    }

    #[test]
    fn empty_and_null_documents_are_skipped() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# only a comment\n---\n~\n").unwrap().is_empty());
    }
}
