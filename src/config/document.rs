//! Sorting the YAML documents into the project document and image documents.
//!
//! As in werf, the project document is recognised by its keys (`project`,
//! `configVersion`) wherever it is; images by `image` (or a stapel `artifact`).
//! A first document with neither is read as the project document so its
//! problems ("missing `project`", "did you mean `project`?") are reported.

use super::decode::{self, Fields};
use super::error::{ErrorKind, Report};
use super::image::{self, IMAGE_KEYS, ImageDoc, STAPEL_KEYS};
use super::meta::{self, META_KEYS, MetaDoc};
use super::node::{Kind, Node};
use super::source::Pos;

/// What the file holds, read but not yet cross-checked.
pub(crate) struct Documents {
    pub meta: Option<MetaDoc>,
    pub images: Vec<ImageDoc>,
}

const EXAMPLE: &str = "start the file with\n\nproject: my-project\nconfigVersion: 1\n---\nimage: app\n";

/// Reads every document, reporting empty, unrecognisable and repeated ones.
pub(crate) fn read_documents(rep: &mut Report<'_>, docs: &[Node]) -> Documents {
    let mut out = Documents { meta: None, images: Vec::new() };
    for (index, doc) in docs.iter().enumerate() {
        read_document(rep, doc, index, &mut out);
    }
    if out.meta.is_none() {
        let (pos, message) = match docs.first() {
            Some(first) => (first.head(), "no project document: `project` and `configVersion` are missing"),
            None => (Pos::default(), "the configuration file is empty"),
        };
        rep.error(ErrorKind::MissingProject, pos, message).label("expected `project:` here").hint(EXAMPLE);
    }
    if out.images.is_empty() && out.meta.is_some() {
        rep.warn(Pos::default(), "no images are defined: add a document with `image: NAME`");
    }
    out
}

fn read_document(rep: &mut Report<'_>, doc: &Node, index: usize, out: &mut Documents) {
    let class = classify(&top_keys(doc), index, out.meta.is_some());
    let what = match class {
        Class::Image => "an image document",
        Class::Meta => "the project document",
        Class::Unknown => "a document",
    };
    let Some(fields) = decode::fields(rep, doc, what) else {
        return;
    };
    if fields.iter().next().is_none() {
        rep.error(ErrorKind::EmptyDocument, doc.pos, "empty document")
            .label("no keys")
            .hint("a document is either the project document (`project:`, `configVersion:`) or an image (`image: NAME`); remove this one");
        return;
    }
    match class {
        Class::Image => {
            report_meta_keys_in_image(rep, &fields);
            out.images.push(image::decode_image(rep, doc, &fields));
        }
        Class::Meta => {
            let meta = meta::decode_meta(rep, doc, &fields);
            match &out.meta {
                Some(first) => {
                    rep.error(ErrorKind::DuplicateProject, meta.pos, "a second project document")
                        .label("second project document")
                        .note(first.pos, "first project document")
                        .hint("a file has one project document: merge them");
                }
                None => out.meta = Some(meta),
            }
        }
        Class::Unknown => {
            rep.error(ErrorKind::UnknownDocument, doc.head(), "cannot tell what this document is")
                .label("neither a project nor an image")
                .hint("a document is either the project document (`project:`, `configVersion:`) or an image (`image: NAME`)");
        }
    }
}

#[derive(Clone, Copy)]
enum Class {
    Meta,
    Image,
    Unknown,
}

/// The string keys of a mapping document (none for anything else).
fn top_keys(doc: &Node) -> Vec<&str> {
    match &doc.kind {
        Kind::Map(entries) => entries.iter().filter_map(|(k, _)| k.as_str()).collect(),
        _ => Vec::new(),
    }
}

fn classify(keys: &[&str], index: usize, have_meta: bool) -> Class {
    let has_any = |wanted: &[&str]| wanted.iter().any(|k| keys.contains(k));
    if has_any(&["image"]) || has_any(STAPEL_KEYS) {
        Class::Image
    } else if has_any(&["project", "configVersion"]) {
        Class::Meta
    } else if has_any(IMAGE_KEYS) {
        Class::Image
    } else if index == 0 && !have_meta {
        Class::Meta
    } else {
        Class::Unknown
    }
}

/// `project:` written into the first image document instead of a document of its own.
fn report_meta_keys_in_image(rep: &mut Report<'_>, fields: &Fields<'_>) {
    for key in META_KEYS {
        if let Some(pos) = fields.key_pos(key) {
            rep.error(ErrorKind::UnknownKey, pos, format!("`{key}` belongs in the project document, not in an image"))
                .label("project setting in an image document")
                .hint("put `project:` and `configVersion:` in a document of their own and separate it from the images with a `---` line");
        }
    }
}
