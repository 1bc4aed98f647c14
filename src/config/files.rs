//! `.Files` in templates: werf's `Get`, `Glob`, `Exists` and `IsDir`, over the project
//! directory.
//!
//! Paths are relative to the project directory and must stay inside the git work tree
//! that holds it (or the project directory, outside git): `..` may climb to a sibling
//! directory of the repository, as in werf, but never out of it, through symlinks either.
//! `Glob`
//! returns a map of path → content for the regular files matching the pattern (`**`
//! crosses directories, `*` does not), with `/` separators, like werf's. wharf reads the
//! working tree (werf reads the commit unless giterminism allows uncommitted files).

use crate::template::{Object, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Bytes `.Files` may read in one rendering (a guard against globbing a huge tree).
const MAX_BYTES: u64 = 64 << 20;

pub(crate) struct Files {
    dir: PathBuf,
    /// What paths may reach: the git work tree, else the project directory.
    root: PathBuf,
    canonical: Option<PathBuf>,
    read: std::cell::Cell<u64>,
}

impl Files {
    /// `.Files` of the project in `dir` (absolute), inside `root` (absolute; `dir` or a
    /// directory above it).
    pub fn new(dir: &Path, root: &Path) -> Files {
        let root = if dir.starts_with(root) { root } else { dir };
        Files {
            dir: dir.to_path_buf(),
            root: root.to_path_buf(),
            canonical: root.canonicalize().ok(),
            read: std::cell::Cell::new(0),
        }
    }

    /// The absolute path of project-relative `rel`, if it stays inside the root.
    fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let path = Path::new(rel);
        let outside = || {
            format!(
                "{rel:?} is outside {}: paths are relative to the project directory {} and stay inside it (or inside its git work tree)",
                self.root.display(),
                self.dir.display()
            )
        };
        if path.has_root() || path.components().any(|c| matches!(c, Component::Prefix(_))) {
            return Err(outside());
        }
        let mut abs = self.dir.clone();
        for part in path.components() {
            match part {
                Component::ParentDir => {
                    abs.pop();
                }
                Component::Normal(p) => abs.push(p),
                _ => {}
            }
        }
        if !abs.starts_with(&self.root) {
            return Err(outside());
        }
        if let (Some(root), Ok(real)) = (&self.canonical, abs.canonicalize())
            && !real.starts_with(root)
        {
            return Err(format!("{rel:?} leads outside {} through a symlink", self.root.display()));
        }
        Ok(abs)
    }

    fn read(&self, abs: &Path, rel: &str) -> Result<String, String> {
        let size = std::fs::metadata(abs).map(|m| m.len()).unwrap_or(0);
        let total = self.read.get().saturating_add(size);
        if total > MAX_BYTES {
            return Err(format!("reading {rel:?} would take `.Files` past {} MiB in one rendering", MAX_BYTES >> 20));
        }
        self.read.set(total);
        let bytes = std::fs::read(abs).map_err(|e| format!("cannot read {rel:?}: {e}"))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn get(&self, rel: &str) -> Result<Value, String> {
        let abs = self.resolve(rel)?;
        if !abs.is_file() {
            return Err(format!("file {rel:?} not found in the project directory {}", self.dir.display()));
        }
        self.read(&abs, rel).map(Value::Str)
    }

    fn glob(&self, pattern: &str) -> Result<Value, String> {
        let matcher = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("invalid glob {pattern:?}: {e}"))?
            .compile_matcher();
        let mut found = BTreeMap::new();
        let walker =
            ignore::WalkBuilder::new(&self.dir).standard_filters(false).hidden(false).follow_links(false).build();
        for entry in walker.flatten() {
            let Ok(rel) = entry.path().strip_prefix(&self.dir) else { continue };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel.is_empty() || rel == ".git" || rel.starts_with(".git/") || !matcher.is_match(&rel) {
                continue;
            }
            if entry.file_type().is_some_and(|t| t.is_file()) {
                let content = self.read(entry.path(), &rel)?;
                found.insert(rel, Value::Str(content));
            }
        }
        Ok(Value::map(found))
    }

    fn exists(&self, rel: &str, dir_only: bool) -> Value {
        let Ok(abs) = self.resolve(rel) else { return Value::Bool(false) };
        Value::Bool(if dir_only { abs.is_dir() } else { abs.exists() })
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "config.files"
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Option<Value>, String> {
        if !matches!(name, "Get" | "Glob" | "Exists" | "IsDir") {
            return Ok(None);
        }
        let [Value::Str(arg)] = args else {
            return Err(format!("`.Files.{name}` takes one string, e.g. `.Files.{name} \"path\"`"));
        };
        match name {
            "Get" => self.get(arg).map(Some),
            "Glob" => self.glob(arg).map(Some),
            "Exists" => Ok(Some(self.exists(arg, false))),
            _ => Ok(Some(self.exists(arg, true))),
        }
    }
}

/// `.Commit` when the project has no git commit: any use says why.
pub(crate) struct NoCommit;

impl Object for NoCommit {
    fn type_name(&self) -> &str {
        "map[string]interface {}"
    }

    fn call(&self, name: &str, _: &[Value]) -> Result<Option<Value>, String> {
        Err(format!(
            "`.Commit.{name}` needs the project's git HEAD commit, and the project directory is not in a git repository with a commit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_stay_inside_the_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("conf/sub")).unwrap();
        std::fs::write(dir.path().join("conf/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("conf/sub/b.yaml"), "b: 2\n").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
        let files = Files::new(dir.path(), dir.path());
        let call = |n: &str, a: &str| files.call(n, &[Value::str(a)]);
        assert_eq!(call("Get", "conf/a.yaml").unwrap().unwrap().to_text(), "a: 1\n");
        assert_eq!(call("Glob", "conf/*.yaml").unwrap().unwrap().to_text(), "map[conf/a.yaml:a: 1\n]");
        assert_eq!(
            call("Glob", "conf/**/*.yaml").unwrap().unwrap().to_text(),
            "map[conf/a.yaml:a: 1\n conf/sub/b.yaml:b: 2\n]"
        );
        assert!(call("Get", "../x").unwrap_err().contains("is outside"));
        let in_repo = Files::new(&dir.path().join("conf/sub"), dir.path());
        assert_eq!(
            in_repo.call("Get", &[Value::str("../a.yaml")]).unwrap().unwrap().to_text(),
            "a: 1\n",
            "`..` within the work tree"
        );
        assert!(in_repo.call("Get", &[Value::str("../../../etc/passwd")]).unwrap_err().contains("is outside"));
        assert!(call("Get", "out/passwd").unwrap_err().contains("through a symlink"));
        assert!(call("Get", "conf/missing").unwrap_err().contains("not found"));
        assert_eq!(call("Exists", "conf").unwrap().unwrap().to_text(), "true");
        assert_eq!(call("IsDir", "conf/a.yaml").unwrap().unwrap().to_text(), "false");
        assert_eq!(call("Exists", "../etc").unwrap().unwrap().to_text(), "false");
        assert!(files.call("Nope", &[]).unwrap().is_none());
    }
}
