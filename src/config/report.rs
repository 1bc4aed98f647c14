//! The collector of one file's errors and warnings while it is checked: [`Report`].
//!
//! With an [`Origin`] (the file was rendered from templates), every position of the
//! rendered text is reported at the template file, line and column it came from.

use super::error::{ConfigError, ErrorKind, LocatedError, MAX_ERRORS, MAX_NOTES, MAX_WARNINGS, Note, Warning};
use super::render::Origin;
use super::source::{Pos, SourceFile};
use miette::{NamedSource, SourceSpan};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Collects the errors and warnings of one file while it is checked.
///
/// With an [`Origin`], `src` is rendered text and every position is reported at the place
/// of the template file it came from.
pub(crate) struct Report<'s> {
    pub src: &'s SourceFile,
    origin: Option<&'s Origin>,
    errors: Vec<LocatedError>,
    omitted: usize,
    warnings: Vec<(usize, Warning)>,
}

impl<'s> Report<'s> {
    pub fn new(src: &'s SourceFile) -> Self {
        Self::with_origin(src, None)
    }

    pub fn with_origin(src: &'s SourceFile, origin: Option<&'s Origin>) -> Self {
        Report { src, origin, errors: Vec::new(), omitted: 0, warnings: Vec::new() }
    }

    /// The file and range to show for `pos` of `src`, and whether an action printed it.
    fn place(&self, pos: Pos) -> (&'s SourceFile, Pos, bool) {
        let pos = self.src.clamp(pos);
        match self.origin.and_then(|o| o.locate(pos)) {
            Some((file, at, rendered)) => (file, file.clamp(at), rendered),
            None => (self.src, pos, false),
        }
    }

    /// Records an error at `pos`; the returned builder adds a label, notes and a hint.
    pub fn error(&mut self, kind: ErrorKind, pos: Pos, message: impl Into<String>) -> ErrorBuilder<'_> {
        if self.errors.len() >= MAX_ERRORS {
            self.omitted += 1;
            return ErrorBuilder { src: self.src, origin: self.origin, error: None };
        }
        let (file, pos, rendered) = self.place(pos);
        let (line, column) = file.line_col(pos.start);
        self.errors.push(LocatedError {
            kind,
            message: message.into(),
            line,
            column,
            span: SourceSpan::new(pos.start.into(), pos.len),
            label: None,
            hint: None,
            notes: Vec::new(),
            source: NamedSource::new(&file.name, Arc::clone(&file.text)).with_language("yaml"),
            rendered,
        });
        ErrorBuilder { src: self.src, origin: self.origin, error: self.errors.last_mut() }
    }

    /// `file:line:col` of `pos` (in the template file it came from).
    pub fn location(&self, pos: Pos) -> String {
        let (file, at, _) = self.place(pos);
        let (line, column) = file.line_col(at.start);
        format!("{}:{line}:{column}", file.name)
    }

    /// Records a warning, prefixed with `file:line:col` (warnings end up in file order).
    pub fn warn(&mut self, pos: Pos, message: impl fmt::Display) {
        if self.warnings.len() >= MAX_WARNINGS {
            return;
        }
        let (file, at, _) = self.place(pos);
        let (line, column) = file.line_col(at.start);
        let order = if file.name == self.src.name { at.start } else { usize::MAX / 2 + at.start };
        self.warnings.push((order, Warning { file: file.name.clone(), line, column, message: message.to_string() }));
    }

    /// The errors (sorted by position) or, if there are none, the warnings.
    pub fn finish(mut self, path: PathBuf) -> Result<Vec<Warning>, ConfigError> {
        self.warnings.sort_by_key(|(start, _)| *start);
        let warnings: Vec<Warning> = self.warnings.into_iter().map(|(_, w)| w).collect();
        if self.errors.is_empty() {
            return Ok(warnings);
        }
        let main = self.src.name.clone();
        self.errors.sort_by(|a, b| {
            let key = |e: &LocatedError| (e.file() != main, e.file().to_string(), e.line, e.column);
            key(a).cmp(&key(b))
        });
        Err(ConfigError::Invalid { path, errors: self.errors, omitted: self.omitted, warnings })
    }
}

/// Adds details to the error just recorded (a no-op past [`MAX_ERRORS`]).
pub(crate) struct ErrorBuilder<'r> {
    src: &'r SourceFile,
    origin: Option<&'r Origin>,
    error: Option<&'r mut LocatedError>,
}

impl ErrorBuilder<'_> {
    /// The text shown under the marked span.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let Some(error) = self.error.as_deref_mut() {
            error.label = Some(label.into());
        }
        self
    }

    /// What the user can do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        if let Some(error) = self.error.as_deref_mut() {
            error.hint = Some(hint.into());
        }
        self
    }

    /// A second place that is part of the problem (at most ten are kept).
    pub fn note(mut self, pos: Pos, label: impl Into<String>) -> Self {
        let Some(error) = self.error.as_deref_mut().filter(|e| e.notes.len() < MAX_NOTES) else {
            return self;
        };
        let pos = self.src.clamp(pos);
        let (file, pos) = match self.origin.and_then(|o| o.locate(pos)) {
            Some((file, at, _)) => (file, file.clamp(at)),
            None => (self.src, pos),
        };
        let (line, column) = file.line_col(pos.start);
        let other = (file.name != error.source.name()).then(|| file.name.clone());
        error.notes.push(Note {
            file: other,
            line,
            column,
            label: label.into(),
            span: SourceSpan::new(pos.start.into(), pos.len),
        });
        self
    }
}
