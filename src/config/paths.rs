//! `context` and `dockerfile` → absolute paths inside the project directory.
//!
//! As in werf, `context` is relative to the project directory and `dockerfile`
//! relative to `context`. Both must stay inside the project directory, lexically
//! (no `..` above it, no absolute paths) and after following symlinks, so a build
//! depends on nothing but the project's own files.

use super::error::{ErrorKind, Report};
use super::image::ImageDoc;
use super::source::{At, Pos};
use std::path::{Component, Path, PathBuf};

/// The project directory, as given (absolute) and with symlinks resolved.
pub(crate) struct ProjectDir {
    pub abs: PathBuf,
    canonical: Option<PathBuf>,
}

impl ProjectDir {
    pub fn new(abs: PathBuf) -> Self {
        let canonical = abs.canonicalize().ok();
        ProjectDir { abs, canonical }
    }

    /// The absolute form of project-relative `rel` (no trailing `/` for the directory itself).
    fn join(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() { self.abs.clone() } else { self.abs.join(rel) }
    }
}

/// A path setting as written, or its default.
struct Setting<'a> {
    key: &'static str,
    written: Option<&'a At<String>>,
    default: &'static str,
    /// Where to point when the default is used.
    anchor: Pos,
}

impl Setting<'_> {
    fn text(&self) -> &str {
        self.written.map_or(self.default, |w| w.value.as_str())
    }
    fn pos(&self) -> Pos {
        self.written.map_or(self.anchor, |w| w.pos)
    }
    /// "`context: app`" or "the default `context: .`".
    fn describe(&self) -> String {
        match self.written {
            Some(_) => format!("`{}: {}`", self.key, self.text()),
            None => format!("the default `{}: {}`", self.key, self.default),
        }
    }
}

/// The absolute context directory and Dockerfile of `doc`, or `None` (reported).
pub(crate) fn resolve(
    rep: &mut Report<'_>,
    dir: &ProjectDir,
    doc: &ImageDoc,
    anchor: Pos,
) -> Option<(PathBuf, PathBuf)> {
    let context = Setting { key: "context", written: doc.context.as_ref(), default: ".", anchor };
    let dockerfile = Setting { key: "dockerfile", written: doc.dockerfile.as_ref(), default: "Dockerfile", anchor };
    let ctx_rel = inside(rep, dir, &context, Path::new(""))?;
    let ctx_ok = check_context(rep, dir, &context, &ctx_rel);
    let df_rel = inside(rep, dir, &dockerfile, &ctx_rel)?;
    // Without the context directory, a missing Dockerfile in it is no news.
    let df_ok = ctx_ok && check_dockerfile(rep, dir, &dockerfile, &ctx_rel, &df_rel);
    (ctx_ok && df_ok).then(|| (dir.join(&ctx_rel), dir.join(&df_rel)))
}

/// `base/written`, normalised, as a path relative to the project directory;
/// `None` (reported) if it is absolute or leads outside.
fn inside(rep: &mut Report<'_>, dir: &ProjectDir, setting: &Setting<'_>, base: &Path) -> Option<PathBuf> {
    let written = Path::new(setting.text());
    let relative_to = if setting.key == "dockerfile" { "`context`" } else { "the project directory" };
    if written.has_root() || written.components().any(|c| matches!(c, Component::Prefix(_))) {
        rep.error(ErrorKind::PathEscape, setting.pos(), format!("{} is an absolute path", setting.describe()))
            .label("absolute path")
            .hint(format!("`{}` is relative to {relative_to} (as in werf)", setting.key));
        return None;
    }
    match normalize(&base.join(written)) {
        Some(rel) => Some(rel),
        None => {
            rep.error(
                ErrorKind::PathEscape,
                setting.pos(),
                format!("{} leads outside the project directory", setting.describe()),
            )
            .label("outside the project")
            .hint(escape_hint(dir));
            None
        }
    }
}

fn escape_hint(dir: &ProjectDir) -> String {
    format!(
        "wharf only uses files inside the project directory ({}), so that a build depends on nothing but the project; move the files into it",
        dir.abs.display()
    )
}

/// Resolves `.` and `..` without touching the file system; `None` if `..` climbs above the start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn check_context(rep: &mut Report<'_>, dir: &ProjectDir, setting: &Setting<'_>, rel: &Path) -> bool {
    let abs = dir.join(rel);
    if !abs.is_dir() {
        let what = if abs.exists() { "is not a directory" } else { "does not exist" };
        rep.error(ErrorKind::MissingContext, setting.pos(), format!("context directory `{}` {what}", setting.text()))
            .label(if setting.written.is_some() { "context" } else { "uses the default context" })
            .hint(format!("looked for {}; `context` is relative to the project directory", abs.display()));
        return false;
    }
    stays_inside(rep, dir, setting, &abs)
}

fn check_dockerfile(rep: &mut Report<'_>, dir: &ProjectDir, setting: &Setting<'_>, ctx_rel: &Path, rel: &Path) -> bool {
    let abs = dir.join(rel);
    if !abs.is_file() {
        let what = if abs.exists() { "is not a file" } else { "does not exist" };
        let mut hint = format!("looked for {}; `dockerfile` is relative to `context` (as in werf)", abs.display());
        if let Some(better) = relative_to_context_hint(dir, setting, ctx_rel) {
            hint.push_str(&better);
        }
        rep.error(ErrorKind::MissingDockerfile, setting.pos(), format!("Dockerfile `{}` {what}", setting.text()))
            .label(if setting.written.is_some() { "Dockerfile" } else { "uses the default `Dockerfile`" })
            .hint(hint);
        return false;
    }
    stays_inside(rep, dir, setting, &abs)
}

/// When the Dockerfile path was written relative to the project directory by
/// mistake, the spelling that works.
fn relative_to_context_hint(dir: &ProjectDir, setting: &Setting<'_>, ctx_rel: &Path) -> Option<String> {
    let depth = ctx_rel.components().count();
    let from_project = normalize(Path::new(setting.text()))?;
    if depth == 0 || !dir.abs.join(&from_project).is_file() {
        return None;
    }
    let fixed = Path::new(&"../".repeat(depth)).join(&from_project);
    Some(format!(
        "; {} exists in the project directory: write `dockerfile: {}`",
        from_project.display(),
        fixed.display()
    ))
}

/// Symlinks must not lead outside the project directory either.
fn stays_inside(rep: &mut Report<'_>, dir: &ProjectDir, setting: &Setting<'_>, abs: &Path) -> bool {
    let (Some(root), Ok(real)) = (&dir.canonical, abs.canonicalize()) else {
        return true;
    };
    if real.starts_with(root) {
        return true;
    }
    rep.error(
        ErrorKind::PathEscape,
        setting.pos(),
        format!(
            "{} resolves through a symlink to {}, outside the project directory",
            setting.describe(),
            real.display()
        ),
    )
    .label("leads outside the project")
    .hint(escape_hint(dir));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_stays_lexical() {
        assert_eq!(normalize(Path::new("a/./b/../c")), Some(PathBuf::from("a/c")));
        assert_eq!(normalize(Path::new("a/..")), Some(PathBuf::new()));
        assert_eq!(normalize(Path::new("..")), None);
        assert_eq!(normalize(Path::new("a/../../b")), None);
        assert_eq!(normalize(Path::new("/etc")), None);
    }
}
