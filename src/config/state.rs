//! The project's state directory, `.wharf/` beside the project file: what wharf writes for the
//! project itself (the default OCI layout when no `--repo` is given, the cleanup journal).
//! It ignores itself: on creation it gets a `.gitignore` holding `*`, as pytest, mypy and ruff
//! do for their caches, so a routine `git add -A` never commits wharf's files. Caches that are
//! not project output (converted stages) live in the user's cache directory instead.

use std::path::{Path, PathBuf};

/// The state directory's name inside the project directory.
pub const STATE_DIR: &str = ".wharf";

/// `DIR/.wharf`, created with its `.gitignore` when missing.
pub fn state_dir(project_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = project_dir.join(STATE_DIR);
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# Created by wharf: nothing here belongs in git.\n*\n")?;
    }
    Ok(dir)
}

/// The user's cache directory for wharf: `$XDG_CACHE_HOME/wharf`, else `$HOME/.cache/wharf`;
/// `None` when neither variable is set. `xdg_cache_home` and `home` are the variables' values.
pub fn user_cache_dir(xdg_cache_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let nonempty = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    // The XDG spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
    match nonempty(xdg_cache_home).filter(|p| p.is_absolute()) {
        Some(xdg) => Some(xdg.join("wharf")),
        None => nonempty(home).map(|h| h.join(".cache").join("wharf")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_ignores_itself_and_keeps_an_edited_gitignore() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = state_dir(tmp.path()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap().lines().last(), Some("*"));
        std::fs::write(dir.join(".gitignore"), "mine\n").unwrap();
        state_dir(tmp.path()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), "mine\n");
    }

    #[test]
    fn user_cache_dir_follows_xdg() {
        assert_eq!(user_cache_dir(Some("/c"), Some("/h")), Some(PathBuf::from("/c/wharf")));
        assert_eq!(user_cache_dir(Some("relative"), Some("/h")), Some(PathBuf::from("/h/.cache/wharf")));
        assert_eq!(user_cache_dir(Some(""), Some("/h")), Some(PathBuf::from("/h/.cache/wharf")));
        assert_eq!(user_cache_dir(None, None), None);
    }
}
