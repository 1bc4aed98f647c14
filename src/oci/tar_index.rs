//! A tar read without extracting it: where each member's bytes lie, with every path checked.
//!
//! Paths are normalised (`./a//b` → `a/b`); an absolute path, a path that climbs out of the
//! archive, or a link whose target leaves it is refused, as is a member whose bytes run past
//! the end of the file (a truncated archive). Links to regular members resolve to the bytes
//! of their target, so readers never follow a link on disk.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path};

use super::ArchiveError;

/// Where each regular file of the tar lies: byte offset and size.
pub(crate) struct TarIndex {
    files: HashMap<String, (u64, u64)>,
}

impl TarIndex {
    pub(crate) fn read(path: &Path) -> Result<TarIndex, ArchiveError> {
        let invalid = |message: String| ArchiveError::invalid(path, message);
        let f = fs::File::open(path).map_err(ArchiveError::io(path))?;
        let file_len = f.metadata().map_err(ArchiveError::io(path))?.len();
        let mut ar = tar::Archive::new(io::BufReader::new(f));
        let mut files = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        for entry in ar.entries_with_seek().map_err(|e| invalid(format!("not a tar archive: {e}")))? {
            let entry = entry.map_err(|e| invalid(format!("truncated or corrupt tar: {e}")))?;
            let raw = entry.path_bytes();
            let name = safe_tar_path(&raw).ok_or_else(|| {
                invalid(format!(
                    "unsafe path {:?} in the archive (absolute or outside it)",
                    String::from_utf8_lossy(&raw)
                ))
            })?;
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    if offset.saturating_add(size) > file_len {
                        return Err(invalid(format!(
                            "truncated archive: {name} ({size} bytes) runs past the end of the file"
                        )));
                    }
                    files.insert(name, (offset, size));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    let resolved =
                        tar_link_target(&name, &target, kind == tar::EntryType::Symlink).ok_or_else(|| {
                            invalid(format!(
                                "link {name} -> {} points outside the archive",
                                String::from_utf8_lossy(&target)
                            ))
                        })?;
                    links.push((name, resolved));
                }
                _ => {}
            }
        }
        // Links to links: resolve until nothing changes (bounded by the number of links).
        for _ in 0..=links.len() {
            let mut changed = false;
            for (name, target) in &links {
                if !files.contains_key(name)
                    && let Some(&loc) = files.get(target)
                {
                    files.insert(name.clone(), loc);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Ok(TarIndex { files })
    }

    /// The offset and size of member `name`, if the archive has it.
    pub(crate) fn find(&self, name: &str) -> Option<(u64, u64)> {
        self.files.get(&safe_tar_path(name.as_bytes())?).copied()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Every member name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

/// Reads a member of at most `limit` bytes into memory.
pub(crate) fn read_member(path: &Path, name: &str, loc: (u64, u64), limit: u64) -> Result<Vec<u8>, ArchiveError> {
    if loc.1 > limit {
        return Err(ArchiveError::invalid(path, format!("{name} has {} bytes, more than the {limit} allowed", loc.1)));
    }
    let mut f = fs::File::open(path).map_err(ArchiveError::io(path))?;
    f.seek(SeekFrom::Start(loc.0)).map_err(ArchiveError::io(path))?;
    let mut buf = Vec::with_capacity(loc.1 as usize);
    f.take(loc.1).read_to_end(&mut buf).map_err(ArchiveError::io(path))?;
    if buf.len() as u64 != loc.1 {
        return Err(ArchiveError::invalid(path, format!("truncated archive: {name} is cut short")));
    }
    Ok(buf)
}

/// A reader over member bytes at `loc`.
pub(crate) fn open_member(path: &Path, loc: (u64, u64)) -> Result<io::Take<fs::File>, ArchiveError> {
    let mut f = fs::File::open(path).map_err(ArchiveError::io(path))?;
    f.seek(SeekFrom::Start(loc.0)).map_err(ArchiveError::io(path))?;
    Ok(f.take(loc.1))
}

/// Normalises a path found in a tar (`./a//b` → `a/b`, `a/../b` → `b`); `None` for absolute
/// paths, paths that climb out of the archive (`../x`) and names that are not UTF-8.
pub(crate) fn safe_tar_path(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(s).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Where a link entry points, as a normalised archive path; `None` when it leaves the
/// archive. Symlink targets are relative to the link's directory (absolute ones are
/// refused); hard-link targets are archive paths.
pub(crate) fn tar_link_target(name: &str, target: &[u8], symlink: bool) -> Option<String> {
    if !symlink {
        return safe_tar_path(target);
    }
    if target.first() == Some(&b'/') {
        return None;
    }
    let mut joined = match name.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/").into_bytes(),
        None => Vec::new(),
    };
    joined.extend_from_slice(target);
    safe_tar_path(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_paths_stay_inside_the_archive() {
        assert_eq!(safe_tar_path(b"../etc/passwd"), None);
        assert_eq!(safe_tar_path(b"/etc/passwd"), None);
        assert_eq!(safe_tar_path(b"a/../../b"), None);
        assert_eq!(safe_tar_path(b"./a//b").as_deref(), Some("a/b"));
        assert_eq!(tar_link_target("blobs/sha256/x", b"y", true).as_deref(), Some("blobs/sha256/y"));
        assert_eq!(tar_link_target("a/layer.tar", b"../b/layer.tar", true).as_deref(), Some("b/layer.tar"));
        assert_eq!(tar_link_target("top", b"other", true).as_deref(), Some("other"));
        assert_eq!(tar_link_target("blobs/sha256/x", b"../../../../etc", true), None);
        assert_eq!(tar_link_target("x", b"/etc/passwd", true), None);
        assert_eq!(tar_link_target("x", b"blobs/sha256/y", false).as_deref(), Some("blobs/sha256/y"));
    }
}
