//! Go `text/template`, as werf renders `werf.yaml` with it: the language, Go's built-in
//! functions, sprig's common functions and werf's own (`include`, `tpl`, `env`,
//! `required`, `toYaml`, `fromYaml`).
//!
//! Modelled on the language as documented at <https://pkg.go.dev/text/template> (not on
//! its code): [`lexer`] → [`parse`] → [`exec`], values in [`value`], functions in
//! [`funcs`] and the `sprig_*` modules. A [`Set`] holds the parsed templates of several
//! files (`define`s shared), executes one of them and returns the text together with a
//! source map, so a problem found later in the rendered text can be shown at the place
//! of the template that produced it. Every error names its file and byte offset.
//!
//! Execution is bounded (steps, output size, nesting), so no input hangs or exhausts
//! memory or the stack. Why our own: see README, "Design notes: dependencies".

mod ast;
mod exec;
mod funcs;
mod lexer;
mod literal;
mod parse;
mod printf;
mod semver;
mod sprig_coll;
mod sprig_enc;
mod sprig_str;
mod value;

#[cfg(test)]
mod tests;

pub use value::{Object, Value};

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// What a template may ask of its host: environment variables.
pub trait Host {
    /// The value of environment variable `name` (`None` when unset), or `Err` with the
    /// reason when the host does not allow templates to read it.
    fn env(&self, name: &str) -> Result<Option<String>, String>;
}

/// A template error at a byte offset of one of the set's sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub file: usize,
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The calls that led here (`include`, `template`, `tpl`), innermost first.
    pub trace: Vec<Frame>,
}

/// One call on the way to an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub file: usize,
    pub offset: usize,
    /// `include "name"`, `template "name"` or `tpl`.
    pub call: String,
}

impl Error {
    pub(crate) fn syntax(offset: usize, message: impl Into<String>) -> Error {
        Error { file: 0, offset, message: message.into(), hint: None, trace: Vec::new() }
    }
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
    pub(crate) fn in_file(mut self, file: usize) -> Error {
        self.file = file;
        self
    }
}

/// Where a source came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A file (the project file or a partial).
    File,
    /// Text given to `tpl` while rendering.
    Tpl,
}

/// A template source: its name in messages and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: Rc<str>,
    pub kind: SourceKind,
}

/// A byte range of the output and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub out_start: usize,
    pub out_end: usize,
    pub file: usize,
    pub src_start: usize,
    pub src_end: usize,
    /// Copied unchanged from the source (text), rather than printed by an action.
    pub verbatim: bool,
}

/// `(file, offset in that file, the span of the action when an action printed it)`.
pub type Place = (usize, usize, Option<(usize, usize)>);

/// Rendered text and its source map (segments in output order, not overlapping).
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub text: String,
    pub segments: Vec<Segment>,
}

impl Output {
    /// Where output byte `offset` came from: `(file, offset in that file, action)`; inside
    /// printed values, the start of the action that printed them and its span.
    pub fn origin(&self, offset: usize) -> Option<Place> {
        let i = self.segments.partition_point(|s| s.out_end <= offset);
        let seg = self.segments.get(i).filter(|s| s.out_start <= offset)?;
        Some(if seg.verbatim {
            (seg.file, seg.src_start + (offset - seg.out_start), None)
        } else {
            (seg.file, seg.src_start, Some((seg.src_start, seg.src_end)))
        })
    }
}

/// Bounds on one execution.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nodes and commands evaluated.
    pub steps: u64,
    /// Bytes of output (nested `include`/`tpl` results count too).
    pub output: usize,
    /// Nesting of control structures and template calls.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // 100 levels of nesting fit a 2 MiB thread stack even in a debug build.
        Limits { steps: 5_000_000, output: 32 << 20, depth: 100 }
    }
}

struct Template {
    file: usize,
    body: Rc<Vec<parse::Node>>,
}

/// Parsed templates, by name, sharing their `define`s.
#[derive(Default)]
pub struct Set {
    sources: RefCell<Vec<Source>>,
    templates: RefCell<HashMap<String, Template>>,
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    /// Parses `text` as template `name` (shown as `display` in messages); its `define`s
    /// join the set. A later definition of a name replaces an earlier one, unless it is
    /// empty (as Go does). Returns the source's index.
    pub fn add(&self, name: &str, display: &str, text: &str) -> Result<usize, Error> {
        self.add_source(name, display, text, SourceKind::File)
    }

    fn add_source(&self, name: &str, display: &str, text: &str, kind: SourceKind) -> Result<usize, Error> {
        let file = {
            let mut sources = self.sources.borrow_mut();
            sources.push(Source { name: display.to_string(), text: Rc::from(text), kind });
            sources.len() - 1
        };
        let tokens = lexer::lex(text).map_err(|e| e.in_file(file))?;
        let parsed = parse::parse(tokens, &funcs::exists).map_err(|e| e.in_file(file))?;
        let mut templates = self.templates.borrow_mut();
        for (def, body) in parsed.defines.into_iter().chain(std::iter::once((name.to_string(), parsed.body))) {
            let empty = body.iter().all(|n| matches!(n, parse::Node::Text { text, .. } if text.trim().is_empty()));
            if empty && templates.contains_key(&def) {
                continue;
            }
            templates.insert(def, Template { file, body: Rc::new(body) });
        }
        Ok(file)
    }

    /// Source `index` (files and `tpl` texts).
    pub fn source(&self, index: usize) -> Option<Source> {
        self.sources.borrow().get(index).cloned()
    }

    /// Executes template `name` with `data` as `.` and `$`.
    pub fn execute(&self, name: &str, data: Value, host: &dyn Host, limits: Limits) -> Result<Output, Error> {
        let mut ex = exec::Exec::new(self, host, limits);
        let mut out = Output::default();
        ex.run(name, None, data, &mut out)?;
        Ok(out)
    }

    fn lookup(&self, name: &str) -> Option<(usize, Rc<Vec<parse::Node>>)> {
        self.templates.borrow().get(name).map(|t| (t.file, t.body.clone()))
    }

    /// Template names, sorted (for "defined templates are …" hints).
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.templates.borrow().keys().cloned().collect();
        names.sort();
        names
    }
}
