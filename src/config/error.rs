//! Configuration errors: every problem found in a file, each with its location.
//!
//! [`ConfigError::Invalid`] carries all [`LocatedError`]s of one file. Each is a
//! `miette` diagnostic with the source snippet, labels and a hint, so the CLI can
//! render them graphically; [`ConfigError::plain`] renders the same information as
//! plain text with `file:line:col` prefixes for logs, CI and tests.

pub(crate) use super::report::Report;
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

/// What kind of problem a [`LocatedError`] reports; stable, for programs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not valid YAML (or repeats a key in a way YAML itself rejects).
    Syntax,
    /// The project file could not be rendered as a Go template (syntax, a failing
    /// function, a missing template or variable).
    Template,
    /// A document that is not a mapping or has no keys.
    EmptyDocument,
    /// A document that is neither the project document nor an image.
    UnknownDocument,
    /// No project document (`project:` / `configVersion:`).
    MissingProject,
    /// More than one project document.
    DuplicateProject,
    /// A key this format does not know.
    UnknownKey,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type (a list where a string belongs, …).
    WrongType,
    /// A value of the right type that is not allowed (bad project name, bad duration, …).
    InvalidValue,
    /// A werf feature wharf does not implement.
    Unsupported,
    /// An image name unusable in a repository path or a tag.
    InvalidImageName,
    /// Two images with the same name.
    DuplicateImage,
    /// A nameless image (`image: ~`) next to named images.
    NamelessWithNamed,
    /// More than one nameless image.
    MultipleNameless,
    /// A dependency on an image that is not defined.
    UnknownDependency,
    /// Images that depend on each other in a circle.
    DependencyCycle,
    /// Two imports (or an import and `args`) setting the same build argument.
    DuplicateBuildArg,
    /// `context` or `dockerfile` pointing outside the project directory.
    PathEscape,
    /// The `context` directory does not exist.
    MissingContext,
    /// The Dockerfile does not exist.
    MissingDockerfile,
}

impl ErrorKind {
    /// The diagnostic code, e.g. `unknown-key`.
    pub fn code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Syntax => "syntax",
            Template => "template",
            EmptyDocument => "empty-document",
            UnknownDocument => "unknown-document",
            MissingProject => "missing-project",
            DuplicateProject => "duplicate-project",
            UnknownKey => "unknown-key",
            DuplicateKey => "duplicate-key",
            MissingKey => "missing-key",
            WrongType => "wrong-type",
            InvalidValue => "invalid-value",
            Unsupported => "unsupported",
            InvalidImageName => "invalid-image-name",
            DuplicateImage => "duplicate-image",
            NamelessWithNamed => "nameless-with-named",
            MultipleNameless => "multiple-nameless",
            UnknownDependency => "unknown-dependency",
            DependencyCycle => "dependency-cycle",
            DuplicateBuildArg => "duplicate-build-arg",
            PathEscape => "path-escape",
            MissingContext => "missing-context",
            MissingDockerfile => "missing-dockerfile",
        }
    }
}

/// A secondary place an error points at ("first defined here").
#[derive(Clone, Debug)]
pub struct Note {
    /// The file, when it is not the error's own (a partial the text came from).
    pub file: Option<String>,
    pub line: usize,
    pub column: usize,
    pub label: String,
    pub(super) span: SourceSpan,
}

/// One problem at one place in a configuration file.
#[derive(Clone)]
pub struct LocatedError {
    pub(super) kind: ErrorKind,
    pub(super) message: String,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) span: SourceSpan,
    pub(super) label: Option<String>,
    pub(super) hint: Option<String>,
    pub(super) notes: Vec<Note>,
    pub(super) source: NamedSource<Arc<str>>,
    /// The place is a template action that printed the faulty value.
    pub(super) rendered: bool,
}

/// Added to the hint of an error found in text a template action printed.
const RENDERED_NOTE: &str =
    "(the value is printed by this template action; `wharf config render` shows the rendered file)";

impl LocatedError {
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }
    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// The full hint as shown, with the note on rendered values.
    fn full_hint(&self) -> Option<String> {
        match (&self.hint, self.rendered) {
            (Some(h), true) => Some(format!("{h}\n{RENDERED_NOTE}")),
            (None, true) => Some(RENDERED_NOTE.to_string()),
            (h, false) => h.clone(),
        }
    }
    /// Whether the place is a template action (the value was rendered).
    pub fn is_rendered(&self) -> bool {
        self.rendered
    }
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// The file name as shown in messages.
    pub fn file(&self) -> &str {
        self.source.name()
    }

    /// `file:line:col: message`, the source line with a marker, notes and the hint.
    pub fn plain(&self) -> String {
        let mut out = format!("{}:{}:{}: {}\n", self.file(), self.line, self.column, self.message);
        let text = self.source.inner();
        if let Some(line) = text.lines().nth(self.line.saturating_sub(1)) {
            let width = self.span.len().max(1);
            let marker_len = line.chars().skip(self.column - 1).take(width).count().max(1);
            let gutter = self.line.to_string().len();
            let _ = writeln!(out, "  {} | {}", self.line, line.trim_end_matches('\r'));
            let _ = write!(out, "  {} | {}{}", " ".repeat(gutter), " ".repeat(self.column - 1), "^".repeat(marker_len));
            match &self.label {
                Some(label) => {
                    let _ = writeln!(out, " {label}");
                }
                None => out.push('\n'),
            }
        }
        for note in &self.notes {
            let _ = writeln!(
                out,
                "  note: {}:{}:{}: {}",
                note.file.as_deref().unwrap_or(self.file()),
                note.line,
                note.column,
                note.label
            );
        }
        if let Some(hint) = self.full_hint() {
            let _ = writeln!(out, "  hint: {}", indent(&hint, "        "));
        }
        out
    }
}

impl fmt::Debug for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: [{}] {}", self.file(), self.line, self.column, self.kind.code(), self.message)
    }
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LocatedError {}

impl Diagnostic for LocatedError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("wharf::config::{}", self.kind.code())))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.full_hint().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(self.label.clone(), self.span);
        let notes = self
            .notes
            .iter()
            .filter(|n| n.file.is_none())
            .map(|n| LabeledSpan::new_with_span(Some(n.label.clone()), n.span));
        Some(Box::new(std::iter::once(primary).chain(notes)))
    }
}

/// Something worth telling that does not stop the build, at its place.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    /// `file:line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl PartialEq<&str> for Warning {
    fn eq(&self, other: &&str) -> bool {
        let prefix = format!("{}:{}:{}: ", self.file, self.line, self.column);
        other.strip_prefix(prefix.as_str()) == Some(self.message.as_str())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    /// Neither `wharf.yaml` nor `werf.yaml` exists.
    #[error("no wharf.yaml or werf.yaml in {}", dir.display())]
    #[diagnostic(
        code(wharf::config::not_found),
        help(
            "create wharf.yaml there (or pass the configuration file explicitly); a minimal one:\n\nproject: my-project\nconfigVersion: 1\n---\nimage: app\n"
        )
    )]
    NotFound { dir: PathBuf },

    /// The file exists (or was named) but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(wharf::config::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file was read and has one or more problems; all of them are here.
    #[error("{}", summary(path, errors.len() + omitted))]
    #[diagnostic(code(wharf::config::invalid))]
    Invalid {
        path: PathBuf,
        #[related]
        errors: Vec<LocatedError>,
        /// Errors beyond the first [`MAX_ERRORS`], counted but not kept.
        omitted: usize,
        /// The warnings found on the way (shown by `config validate --output json`).
        warnings: Vec<Warning>,
    },
}

/// At most this many errors are kept per file (the rest are counted), so a
/// pathological file cannot make reporting slow.
pub const MAX_ERRORS: usize = 100;
pub(super) const MAX_NOTES: usize = 10;
pub(super) const MAX_WARNINGS: usize = 100;

fn summary(path: &std::path::Path, count: usize) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{} has {count} configuration error{plural}", path.display())
}

impl ConfigError {
    /// All located errors (empty unless [`ConfigError::Invalid`]).
    pub fn errors(&self) -> &[LocatedError] {
        match self {
            ConfigError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The warnings found before the errors stopped the load.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            ConfigError::Invalid { warnings, .. } => warnings,
            _ => &[],
        }
    }

    /// A plain-text rendering: the summary, then every error as `file:line:col: message`
    /// with its source line, notes and hint. For logs, non-TTY output and tests.
    pub fn plain(&self) -> String {
        let mut out = format!("error: {self}\n");
        if let Some(help) = self.help() {
            let _ = writeln!(out, "  hint: {}", indent(help.to_string().trim_end(), "        "));
        }
        for error in self.errors() {
            out.push('\n');
            out.push_str(&error.plain());
        }
        if let ConfigError::Invalid { omitted: n @ 1.., .. } = self {
            let _ = writeln!(out, "\n… and {n} more not shown");
        }
        out
    }
}

/// `text` with every line after the first indented by `pad` (blank lines stay empty).
fn indent(text: &str, pad: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    lines.fold(first, |acc, line| if line.is_empty() { format!("{acc}\n") } else { format!("{acc}\n{pad}{line}") })
}
