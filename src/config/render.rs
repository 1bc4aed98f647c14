//! Rendering the project file as werf does, before it is read as YAML.
//!
//! The whole file is a Go template (comments included: werf renders them too, so a `{{`
//! in a YAML comment must be valid template syntax, and is rendered like any other).
//! Partials are every `**/*.tmpl` under `.werf/` (or the templates directory given),
//! named by their path inside it and parsed before the project file, so their `define`s
//! are available to `include` and `template` (a `define` in the project file wins).
//! The data (`.`) is a map, as in werf: `.Files`, `.Env` (werf's `--env` value, not the
//! environment) and `.Commit` (`.Commit.Hash`, `.Commit.Date.Human`, `.Commit.Date.Unix`).
//!
//! The environment, `.Env` and the commit come in as [`RenderInputs`] (read at the CLI
//! edge); `env` in templates is checked against `werf-giterminism.yaml`. The rendered
//! text keeps a source map ([`Origin`]) so that problems found in it point at the
//! template line that produced them.

use super::error::{ConfigError, ErrorKind, Report};
use super::files::{Files, NoCommit};
use super::giterminism::Giterminism;
use super::source::{Pos, SourceFile};
use crate::template::{self, Host, Limits, Output, Set, SourceKind, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The default directory of partials, as in werf.
pub const TEMPLATES_DIR: &str = ".werf";

/// What rendering needs from outside the project, read at the CLI edge.
#[derive(Debug, Clone, Default)]
pub struct RenderInputs {
    /// Environment variables templates may read with `env`.
    pub env: BTreeMap<String, String>,
    /// werf's `--env` (the deployment environment), `.Env` in templates.
    pub werf_env: String,
    /// The HEAD commit, `.Commit` in templates.
    pub commit: Option<CommitInfo>,
    /// The directory of partials, relative to the project directory (default `.werf`).
    pub templates_dir: Option<PathBuf>,
    /// The git work tree holding the project: `.Files` may read anywhere inside it, as in
    /// werf (else only inside the project directory).
    pub work_tree: Option<PathBuf>,
    /// werf's `--loose-giterminism`: `werf-giterminism.yaml`'s allow-lists do not apply.
    pub loose_giterminism: bool,
}

/// A git commit as templates see it.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub hash: String,
    pub time: chrono::DateTime<chrono::FixedOffset>,
}

/// The work tree of the git repository holding `dir`, if any.
pub fn discover_work_tree(dir: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(dir).ok()?;
    let tree = repo.workdir()?;
    std::path::absolute(tree).ok()
}

impl CommitInfo {
    /// The HEAD commit of the repository holding `dir`, if any.
    pub fn discover(dir: &Path) -> Option<CommitInfo> {
        let repo = git2::Repository::discover(dir).ok()?;
        let commit = repo.head().ok()?.peel_to_commit().ok()?;
        let t = commit.time();
        let offset = chrono::FixedOffset::east_opt(t.offset_minutes() * 60)?;
        let time = chrono::DateTime::from_timestamp(t.seconds(), 0)?.with_timezone(&offset);
        Some(CommitInfo { hash: commit.id().to_string(), time })
    }
}

/// Where each byte of the rendered text came from.
pub(crate) struct Origin {
    output: Output,
    files: Vec<SourceFile>,
}

impl Origin {
    /// The file and range `pos` of the rendered text came from, and whether it was printed
    /// by an action (then the range is the action).
    pub fn locate(&self, pos: Pos) -> Option<(&SourceFile, Pos, bool)> {
        let at = if pos.start >= self.output.text.len() && pos.start > 0 { pos.start - 1 } else { pos.start };
        let (file, offset, action) = match self.output.origin(at) {
            Some(found) => found,
            None => {
                // Past the last segment (the end of the text): the end of the last source byte.
                let last = self.output.segments.last()?;
                (last.file, last.src_end, None)
            }
        };
        let src = self.files.get(file)?;
        Some(match action {
            Some((start, end)) => (src, Pos::new(start, end - start), true),
            None => {
                let seg = self.output.segments.iter().find(|s| s.out_start <= at && at < s.out_end);
                let room = seg.map_or(0, |s| s.out_end - pos.start.min(s.out_end));
                let offset = if pos.start >= self.output.text.len() && pos.start > 0 { offset + 1 } else { offset };
                (src, Pos::new(offset, pos.len.min(room)), false)
            }
        })
    }
}

/// The rendered project file.
pub(crate) struct Rendered {
    pub text: String,
    pub origin: Origin,
}

struct EnvHost<'a> {
    env: &'a BTreeMap<String, String>,
    giterminism: &'a Giterminism,
}

impl Host for EnvHost<'_> {
    fn env(&self, name: &str) -> Result<Option<String>, String> {
        self.giterminism.check_env(name)?;
        Ok(self.env.get(name).cloned())
    }
}

/// Stack of the thread that renders: templates nest (bounded by [`Limits`]), and an async
/// runtime's worker thread may have little stack to spare.
const RENDER_STACK: usize = 64 << 20;

/// Renders project file `text` (at `path`) of the project in `dir` (absolute; `shown` is
/// the directory as the user gave it, for the names of partials in messages), on a thread
/// of its own with a deep stack.
pub(crate) fn render(
    path: &Path,
    dir: &Path,
    shown: &Path,
    text: &str,
    inputs: &RenderInputs,
    giterminism: &Giterminism,
) -> Result<Rendered, ConfigError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("wharf-render".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(scope, || render_here(path, dir, shown, text, inputs, giterminism));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: render here, within the limits of this stack.
            Err(_) => render_here(path, dir, shown, text, inputs, giterminism),
        }
    })
}

fn render_here(
    path: &Path,
    dir: &Path,
    shown: &Path,
    text: &str,
    inputs: &RenderInputs,
    giterminism: &Giterminism,
) -> Result<Rendered, ConfigError> {
    let set = Set::new();
    let templates_rel = inputs.templates_dir.as_deref().unwrap_or(Path::new(TEMPLATES_DIR));
    for (name, file) in partials(&dir.join(templates_rel)) {
        let content =
            std::fs::read_to_string(&file).map_err(|source| ConfigError::Read { path: file.clone(), source })?;
        let display = shown.join(templates_rel).join(&name);
        let display = display.strip_prefix(".").unwrap_or(&display).display().to_string();
        set.add(&name, &display, &content).map_err(|e| template_error(&set, &e, path))?;
    }
    set.add("werfConfig", &path.display().to_string(), text).map_err(|e| template_error(&set, &e, path))?;
    let host = EnvHost { env: &inputs.env, giterminism };
    let output = set
        .execute("werfConfig", data(dir, inputs), &host, Limits::default())
        .map_err(|e| template_error(&set, &e, path))?;
    let files = (0..).map_while(|i| set.source(i)).map(|s| SourceFile::new(s.name, &s.text)).collect();
    Ok(Rendered { text: output.text.clone(), origin: Origin { output, files } })
}

/// `**/*.tmpl` under `dir`, by name (path inside `dir` with `/`), sorted.
fn partials(dir: &Path) -> Vec<(String, PathBuf)> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut found: Vec<(String, PathBuf)> = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()) && e.path().extension().is_some_and(|x| x == "tmpl"))
        .filter_map(|e| {
            Some((e.path().strip_prefix(dir).ok()?.to_string_lossy().replace('\\', "/"), e.path().to_path_buf()))
        })
        .collect();
    found.sort();
    found
}

/// werf's template data: `.Files`, `.Env`, `.Commit`.
fn data(dir: &Path, inputs: &RenderInputs) -> Value {
    let commit = match &inputs.commit {
        Some(c) => {
            let date = BTreeMap::from([
                ("Human".to_string(), Value::Str(c.time.format("%Y-%m-%d %H:%M:%S %z %z").to_string())),
                ("Unix".to_string(), Value::Str(c.time.timestamp().to_string())),
            ]);
            Value::map(BTreeMap::from([
                ("Hash".to_string(), Value::str(c.hash.clone())),
                ("Date".to_string(), Value::map(date)),
            ]))
        }
        None => Value::Object(Rc::new(NoCommit)),
    };
    Value::map(BTreeMap::from([
        ("Files".to_string(), Value::Object(Rc::new(Files::new(dir, inputs.work_tree.as_deref().unwrap_or(dir))))),
        ("Env".to_string(), Value::str(inputs.werf_env.clone())),
        ("Commit".to_string(), commit),
    ]))
}

/// Calls shown in the hint of a template error (the innermost ones).
const MAX_CALLERS: usize = 5;

/// A template error as a located configuration error of `project_file`, at the place in
/// the file it happened in (text given to `tpl` is shown at the `tpl` call, with the place
/// inside the text).
fn template_error(set: &Set, e: &template::Error, project_file: &Path) -> ConfigError {
    let mut message = e.message.clone();
    let (mut file, mut offset) = (e.file, e.offset);
    let mut frames = e.trace.iter();
    while set.source(file).is_some_and(|s| s.kind == SourceKind::Tpl) {
        let inner = set.source(file).map(|s| SourceFile::new(s.name, &s.text).line_col(offset)).unwrap_or((1, 1));
        message = format!("{message} (in the text given to tpl, at line {}, column {})", inner.0, inner.1);
        match frames.next() {
            Some(f) => (file, offset) = (f.file, f.offset),
            None => break,
        }
    }
    let source = set.source(file).unwrap_or(template::Source {
        name: "template".into(),
        text: Rc::from(""),
        kind: SourceKind::File,
    });
    let src = SourceFile::new(source.name.clone(), &source.text);
    let mut hint = e.hint.clone().unwrap_or_else(|| "werf renders the project file as a Go template (text/template with sprig's functions) before reading it; `wharf config render` prints the result".into());
    let callers: Vec<String> = frames
        .filter_map(|f| {
            let s = set.source(f.file)?;
            let (line, col) = SourceFile::new(s.name.clone(), &s.text).line_col(f.offset);
            Some(format!("{} at {}:{line}:{col}", f.call, s.name))
        })
        .collect();
    if !callers.is_empty() {
        let shown: Vec<&str> = callers.iter().take(MAX_CALLERS).map(String::as_str).collect();
        hint.push_str(&format!("\ncalled by {}", shown.join(", called by ")));
        if callers.len() > MAX_CALLERS {
            hint.push_str(&format!(" (and {} more calls)", callers.len() - MAX_CALLERS));
        }
    }
    let mut rep = Report::new(&src);
    let len = src.text[offset.min(src.text.len())..].find(char::is_whitespace).unwrap_or(0).max(1);
    rep.error(ErrorKind::Template, Pos::new(offset, len), message).label("template").hint(hint);
    rep.finish(project_file.to_path_buf()).expect_err("an error was reported")
}
