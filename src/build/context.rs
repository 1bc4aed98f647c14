//! The build context: which files a build can see, their content hashes, and the tar sent
//! to the engine.
//!
//! `.dockerignore` follows Docker's rules (patterns anchored at the context root, `*` does
//! not cross `/`, `**` does, `!` re-includes, the last matching pattern wins, a pattern that
//! matches a directory matches everything below it). Hashing runs on all cores and never
//! looks at modification times, so the same tree gives the same digest on any machine.

use globset::{GlobBuilder, GlobMatcher};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::dockerfile::ContextUse;

/// One entry of the context, path relative to the context root with `/` separators.
#[derive(Debug, Clone)]
pub struct Entry {
    pub rel: String,
    pub abs: PathBuf,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File { executable: bool, size: u64 },
    Symlink { target: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read build context {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: invalid .dockerignore pattern {pattern:?}: {message}")]
    Pattern { path: PathBuf, pattern: String, message: String },
    #[error("cannot walk build context {path}: {message}")]
    Walk { path: PathBuf, message: String },
}

/// The files of a context that `.dockerignore` lets through, sorted by path.
#[derive(Debug, Clone)]
pub struct Context {
    pub root: PathBuf,
    pub entries: Vec<Entry>,
}

impl Context {
    /// Walks `root`, honouring `root/.dockerignore` and leaving out `skip` (wharf's own
    /// state directory, which must never feed a stage digest).
    pub fn scan(root: &Path, skip: Option<&Path>) -> Result<Context, ContextError> {
        Self::scan_with(root, skip, &[])
    }

    /// [`Context::scan`], keeping the paths of `add` (werf's `contextAddFiles`, relative to
    /// `root`; a directory with everything below it) even when `.dockerignore` leaves them out.
    pub fn scan_with(root: &Path, skip: Option<&Path>, add: &[String]) -> Result<Context, ContextError> {
        let added = |rel: &str| {
            add.iter().any(|a| {
                rel == a
                    || rel.strip_prefix(a.as_str()).is_some_and(|r| r.starts_with('/'))
                    || a.strip_prefix(rel).is_some_and(|r| r.starts_with('/'))
            })
        };
        let ignore = DockerIgnore::load(root)?;
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        let walker = ignore::WalkBuilder::new(root).standard_filters(false).hidden(false).follow_links(false).build();
        for item in walker {
            let item = item.map_err(|e| ContextError::Walk { path: root.to_path_buf(), message: e.to_string() })?;
            let abs = item.path();
            let Ok(rel) = abs.strip_prefix(root) else { continue };
            let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
                return Err(ContextError::Walk {
                    path: abs.to_path_buf(),
                    message: "file name is not valid UTF-8".into(),
                });
            };
            if rel.is_empty() || (ignore.excludes(&rel) && !added(&rel)) || skip.is_some_and(|s| abs.starts_with(s)) {
                continue;
            }
            found.push((rel, abs.to_path_buf()));
        }
        // Reading the directories is serial; the metadata of their entries is read on all cores.
        let kinds: Vec<Option<EntryKind>> =
            found.par_iter().map(|(_, abs)| entry_kind(abs)).collect::<Result<_, _>>()?;
        let mut entries: Vec<Entry> = found
            .into_iter()
            .zip(kinds)
            .filter_map(|((rel, abs), kind)| kind.map(|kind| Entry { rel, abs, kind }))
            .collect();
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Context { root: root.to_path_buf(), entries })
    }

    /// The entries a build reads when it copies `use_`.
    pub fn select(&self, use_: &ContextUse) -> Vec<&Entry> {
        let ContextUse::Paths(paths) = use_ else {
            return self.entries.iter().collect();
        };
        if paths.iter().any(|p| p == ".") {
            return self.entries.iter().collect();
        }
        let globs: Vec<GlobMatcher> = paths
            .iter()
            .filter(|p| p.contains(['*', '?', '[']))
            .filter_map(|p| GlobBuilder::new(p).literal_separator(true).build().ok())
            .map(|g| g.compile_matcher())
            .collect();
        self.entries
            .iter()
            .filter(|e| {
                paths.iter().any(|p| e.rel == *p || e.rel.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/')))
                    || globs.iter().any(|g| self_or_parent_matches(g, &e.rel))
            })
            .collect()
    }

    /// Hashes the given entries into one digest: path, type, executable bit, symlink target
    /// and content hash of each, in path order. File contents are hashed in parallel.
    pub fn digest(entries: &[&Entry]) -> Result<String, ContextError> {
        let hashes: Vec<String> = entries
            .par_iter()
            .map(|e| match &e.kind {
                EntryKind::File { size, .. } => hash_file(&e.abs, *size),
                _ => Ok(String::new()),
            })
            .collect::<Result<_, _>>()?;
        let mut h = Sha256::new();
        for (e, content) in entries.iter().zip(hashes) {
            let line = match &e.kind {
                EntryKind::Dir => format!("d {}\n", e.rel),
                EntryKind::File { executable, .. } => {
                    format!("f {} {}\0{}\n", if *executable { "755" } else { "644" }, e.rel, content)
                }
                EntryKind::Symlink { target } => format!("l {}\0{}\n", e.rel, target),
            };
            h.update(line.as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Writes the whole context as a tar to `out`, plus the Dockerfile under `dockerfile_name`
    /// when it is not already part of the context. Headers are normalised (owner root,
    /// fixed mtime) so layers built from it do not depend on checkout times.
    pub fn write_tar<W: Write>(&self, out: W, dockerfile: Option<(&str, &Path)>) -> Result<W, ContextError> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ContextError::Io { path, source }
        };
        for e in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match &e.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{}/", e.rel), io::empty()).map_err(io_err(&e.abs))?;
                }
                EntryKind::File { executable, size } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(*size);
                    let f = fs::File::open(&e.abs).map_err(io_err(&e.abs))?;
                    tar.append_data(&mut header, &e.rel, f.take(*size)).map_err(io_err(&e.abs))?;
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, &e.rel, target).map_err(io_err(&e.abs))?;
                }
            }
        }
        if let Some((name, path)) = dockerfile
            && !self.entries.iter().any(|e| e.rel == name)
        {
            let bytes = fs::read(path).map_err(io_err(path))?;
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_mode(0o644);
            header.set_size(bytes.len() as u64);
            tar.append_data(&mut header, name, bytes.as_slice()).map_err(io_err(path))?;
        }
        tar.into_inner().map_err(io_err(&self.root))
    }
}

/// What `abs` is, without following a symlink; `None` for sockets and fifos (Docker skips
/// them too).
fn entry_kind(abs: &Path) -> Result<Option<EntryKind>, ContextError> {
    let io_err = |source| ContextError::Io { path: abs.to_path_buf(), source };
    let meta = fs::symlink_metadata(abs).map_err(io_err)?;
    Ok(if meta.file_type().is_symlink() {
        let target = fs::read_link(abs).map_err(io_err)?;
        Some(EntryKind::Symlink { target: target.to_string_lossy().into_owned() })
    } else if meta.is_dir() {
        Some(EntryKind::Dir)
    } else if meta.is_file() {
        Some(EntryKind::File { executable: meta.permissions().mode() & 0o111 != 0, size: meta.len() })
    } else {
        None
    })
}

fn self_or_parent_matches(g: &GlobMatcher, rel: &str) -> bool {
    let mut p = rel;
    loop {
        if g.is_match(p) {
            return true;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return false,
        }
    }
}

/// SHA-256 of a file's content. The buffer fits the file (up to 256 KiB): zeroing a large
/// buffer for every small file cost more than hashing it (contexts are mostly small files).
fn hash_file(path: &Path, size_hint: u64) -> Result<String, ContextError> {
    const MAX_BUF: u64 = 256 * 1024;
    let io_err = |source| ContextError::Io { path: path.to_path_buf(), source };
    let mut f = fs::File::open(path).map_err(io_err)?;
    let mut h = Sha256::new();
    // One byte more than announced, so a file that grew is still read in full (the loop
    // goes on until EOF whatever the size).
    let mut buf = vec![0u8; size_hint.saturating_add(1).clamp(4096, MAX_BUF) as usize];
    loop {
        let n = f.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `.dockerignore` rules.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<(GlobMatcher, bool)>,
}

impl DockerIgnore {
    pub fn load(root: &Path) -> Result<DockerIgnore, ContextError> {
        let path = root.join(".dockerignore");
        match fs::read_to_string(&path) {
            Ok(text) => DockerIgnore::parse(&text, &path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(source) => Err(ContextError::Io { path, source }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<DockerIgnore, ContextError> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let cleaned = pattern.trim_start_matches('/').trim_end_matches('/');
            let cleaned = cleaned.strip_prefix("./").unwrap_or(cleaned);
            if cleaned.is_empty() {
                continue;
            }
            let glob =
                GlobBuilder::new(cleaned).literal_separator(true).backslash_escape(true).build().map_err(|e| {
                    ContextError::Pattern {
                        path: path.to_path_buf(),
                        pattern: line.to_string(),
                        message: e.to_string(),
                    }
                })?;
            rules.push((glob.compile_matcher(), negate));
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `rel` is left out of the context. `.dockerignore` and the Dockerfile are still
    /// sent by the caller when a build needs them, as Docker does.
    pub fn excludes(&self, rel: &str) -> bool {
        let mut excluded = false;
        for (glob, negate) in &self.rules {
            if self_or_parent_matches(glob, rel) {
                excluded = !negate;
            }
        }
        excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let path = dir.path().join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        dir
    }

    fn rels(entries: &[&Entry]) -> Vec<String> {
        entries.iter().filter(|e| !matches!(e.kind, EntryKind::Dir)).map(|e| e.rel.clone()).collect()
    }

    #[test]
    fn dockerignore_follows_docker_rules() {
        let ig = DockerIgnore::parse("# c\n*.log\n!keep.log\nbuild\n/tmp/\ndocs/**/*.md\n", Path::new(".dockerignore"))
            .unwrap();
        assert!(ig.excludes("a.log"));
        assert!(!ig.excludes("keep.log"));
        assert!(!ig.excludes("sub/a.log"), "`*` is anchored at the root and does not cross /");
        assert!(ig.excludes("build/x/y"), "a matched directory excludes what is below it");
        assert!(ig.excludes("tmp/x"));
        assert!(ig.excludes("docs/a/b/c.md"));
        assert!(!ig.excludes("src/main.rs"));
    }

    #[test]
    fn select_copies_only_what_copy_names() {
        let dir = tree(&[("backend/main.go", "b"), ("frontend/index.html", "f"), ("README", "r"), ("backendx", "x")]);
        let ctx = Context::scan(dir.path(), None).unwrap();
        let sel = ctx.select(&ContextUse::Paths(BTreeSet::from(["backend".to_string()])));
        assert_eq!(rels(&sel), vec!["backend/main.go"]);
        let sel = ctx.select(&ContextUse::Paths(BTreeSet::from(["*/index.html".to_string()])));
        assert_eq!(rels(&sel), vec!["frontend/index.html"]);
        let sel = ctx.select(&ContextUse::Paths(BTreeSet::from(["back*".to_string()])));
        assert_eq!(rels(&sel), vec!["backend/main.go", "backendx"]);
        assert_eq!(ctx.select(&ContextUse::Everything).len(), ctx.entries.len());
    }

    #[test]
    fn digest_depends_on_content_and_mode_not_mtime() {
        let dir = tree(&[("a", "1"), ("b/c", "2")]);
        let digest = || {
            let ctx = Context::scan(dir.path(), None).unwrap();
            Context::digest(&ctx.entries.iter().collect::<Vec<_>>()).unwrap()
        };
        let d1 = digest();
        let f = fs::File::options().write(true).open(dir.path().join("a")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(digest(), d1, "mtime must not matter");
        fs::set_permissions(dir.path().join("a"), fs::Permissions::from_mode(0o755)).unwrap();
        let d2 = digest();
        assert_ne!(d2, d1, "executable bit matters");
        fs::write(dir.path().join("b/c"), "3").unwrap();
        assert_ne!(digest(), d2, "content matters");
        std::os::unix::fs::symlink("a", dir.path().join("l")).unwrap();
        let d3 = digest();
        fs::remove_file(dir.path().join("l")).unwrap();
        std::os::unix::fs::symlink("b", dir.path().join("l")).unwrap();
        assert_ne!(digest(), d3, "symlink target matters");
    }

    #[test]
    fn ignored_files_change_nothing() {
        let dir = tree(&[("a", "1"), (".dockerignore", "*.tmp\n"), ("x.tmp", "1")]);
        let digest = || {
            let ctx = Context::scan(dir.path(), None).unwrap();
            Context::digest(&ctx.entries.iter().collect::<Vec<_>>()).unwrap()
        };
        let d1 = digest();
        fs::write(dir.path().join("x.tmp"), "2").unwrap();
        assert_eq!(digest(), d1);
    }

    #[test]
    fn tar_holds_the_context_and_the_dockerfile() {
        let dir = tree(&[("a", "1"), (".dockerignore", "skip\n"), ("skip", "no")]);
        let df = tree(&[("Dockerfile", "FROM scratch\n")]);
        let ctx = Context::scan(dir.path(), None).unwrap();
        let bytes = ctx.write_tar(Vec::new(), Some((".dockerfile.wharf", &df.path().join("Dockerfile")))).unwrap();
        let mut ar = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> =
            ar.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec![".dockerignore", "a", ".dockerfile.wharf"]);
    }
}
