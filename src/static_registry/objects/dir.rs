//! The directory backend of a static root (`--static-root DIR`): blocking file operations,
//! run by [`StaticRoot`](crate::static_registry::root::StaticRoot) on tokio's blocking pool.
//!
//! - **Reads stay inside the root.** [`open_contained`] walks a path below the root one
//!   component at a time with `openat(2)` and `O_NOFOLLOW`, so a symbolic link anywhere
//!   below ROOT (to a file or a directory) is refused instead of followed, and only a
//!   regular file is ever opened (`O_NONBLOCK`: a FIFO cannot make a reader wait). ROOT
//!   itself may be a link: the operator chose it.
//! - **Writes are atomic and readable by others.** A file goes to a temporary name beside its
//!   place and is renamed into place; it is created `0644` and directories `0755`, both
//!   narrowed by the process umask, so a web server running as another user can serve them.
//! - **One lock per repository** (`v2/<repo>/_wharf/lock`, `flock`), held while the media-type
//!   sidecar, `tags/list` or the referrers data change.

use chrono::{DateTime, Utc};
use rustix::fs::{Mode, OFlags};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::registry::validate_tag;
use crate::spec::digest::Digest;
use crate::static_registry::objects::s3::ObjectEntry;

/// The sidecar holding each manifest's media type, relative to `v2/<repo>/`.
pub const MEDIA_TYPES: &str = "_wharf/media-types.json";

/// Mode of the files a static root gets (before the umask).
const FILE_MODE: u32 = 0o644;
/// Mode of the directories a static root gets (before the umask).
const DIR_MODE: u32 = 0o755;

/// Creates `dir` and its missing parents, `0755` narrowed by the umask.
fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// What [`open_contained`] found.
#[derive(Debug)]
pub enum Contained {
    File(std::fs::File, std::fs::Metadata),
    /// Nothing there (also: a path through a file, or a name too long for the file system).
    Missing,
    /// Something that is not served: a symbolic link or a non-regular file.
    Refused(&'static str),
}

/// Opens the regular file `rel` (`/`-separated, relative) below `root` without following any
/// symbolic link below `root`.
pub fn open_contained(root: &Path, rel: &str) -> io::Result<Contained> {
    use rustix::io::Errno;
    let mut dir = match rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        // A root not written yet has nothing in it.
        Err(Errno::NOENT) => return Ok(Contained::Missing),
        Err(e) => return Err(e.into()),
    };
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.is_empty() || part == "." || part == ".." {
            return Ok(Contained::Refused("a path component that is empty, . or .."));
        }
        let last = parts.peek().is_none();
        let flags = OFlags::RDONLY
            | OFlags::CLOEXEC
            | OFlags::NOFOLLOW
            | if last { OFlags::NONBLOCK | OFlags::NOCTTY } else { OFlags::DIRECTORY };
        match rustix::fs::openat(&dir, part, flags, Mode::empty()) {
            Ok(fd) if last => {
                let file = std::fs::File::from(fd);
                let meta = file.metadata()?;
                if !meta.is_file() {
                    return Ok(Contained::Refused("not a regular file"));
                }
                return Ok(Contained::File(file, meta));
            }
            Ok(fd) => dir = fd,
            // O_DIRECTORY | O_NOFOLLOW on a link to a directory fails with ENOTDIR.
            Err(Errno::NOTDIR) if is_link(&dir, part) => return Ok(Contained::Refused("a symbolic link")),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG) => return Ok(Contained::Missing),
            Err(Errno::LOOP) => return Ok(Contained::Refused("a symbolic link")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Contained::Missing)
}

fn is_link(dir: &rustix::fd::OwnedFd, name: &str) -> bool {
    let stat = rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
    stat.is_ok_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Symlink)
}

/// A small file below `root`, read whole through [`open_contained`]; `None` when it is not
/// there or not served (a refusal is logged). More than `limit` bytes is an error.
pub fn read_contained(root: &Path, rel: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match open_contained(root, rel)? {
        Contained::File(file, _) => file,
        Contained::Missing => return Ok(None),
        Contained::Refused(why) => {
            tracing::warn!(root = %root.display(), path = rel, "refused to read {why}");
            return Ok(None);
        }
    };
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{rel}: more than {limit} bytes")));
    }
    Ok(Some(bytes))
}

/// The files of `dir` (none when it does not exist), skipping temporaries.
pub fn list_dir(dir: &Path) -> io::Result<Vec<ObjectEntry>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !meta.is_file() || name.starts_with(".wharf-tmp-") {
            continue;
        }
        out.push(ObjectEntry { name, size: meta.len(), modified: meta.modified().ok().map(DateTime::<Utc>::from) });
    }
    Ok(out)
}

/// Everything below `dir` that is not a directory, at any depth, named by its `/`-separated
/// path below `dir` (none when `dir` does not exist). Links are listed, never followed, and
/// temporaries are listed too: what is below `dir` can then all be removed.
pub fn list_tree(dir: &Path) -> io::Result<Vec<ObjectEntry>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<ObjectEntry>) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && prefix.is_empty() => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            // `DirEntry::metadata` does not follow a link.
            let meta = entry.metadata()?;
            if meta.is_dir() {
                walk(&entry.path(), &format!("{name}/"), out)?;
            } else {
                out.push(ObjectEntry {
                    name,
                    size: meta.len(),
                    modified: meta.modified().ok().map(DateTime::<Utc>::from),
                });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes `dir` and the directories below it that are empty (deepest first); a directory
/// that still holds something stays.
pub fn remove_empty_dirs(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_empty_dirs(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind(), io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A directory root's files for one manifest, in an order that never shows a tag before what
/// it names: media types, the digest file, then the tag and `tags/list`.
pub fn put_manifest_files(
    root: &Path,
    repo: &str,
    digest: &Digest,
    tag: Option<&str>,
    media_type: &str,
    bytes: &[u8],
) -> io::Result<()> {
    let dir = root.join("v2").join(repo);
    let _lock = lock_repo(&dir)?;
    let mut types = read_media_types(root, repo)?;
    types.insert(digest.to_string(), media_type.to_string());
    if let Some(tag) = tag {
        types.insert(tag.to_string(), media_type.to_string());
    }
    write_media_types(&dir, &types)?;
    write_atomic(&root.join(format!("v2/{repo}/manifests/{digest}")), bytes)?;
    if let Some(tag) = tag {
        write_atomic(&root.join(format!("v2/{repo}/manifests/{tag}")), bytes)?;
        write_tag_list(root, repo)?;
    }
    Ok(())
}

/// Removes a directory root's tag under the repository lock: the tag file, its media type,
/// and its line in `tags/list`. `false` when there was no such tag.
pub fn remove_tag_files(root: &Path, repo: &str, tag: &str) -> io::Result<bool> {
    let dir = root.join("v2").join(repo);
    if !dir.join("manifests").join(tag).is_file() {
        return Ok(false);
    }
    let _lock = lock_repo(&dir)?;
    match std::fs::remove_file(dir.join("manifests").join(tag)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        other => other?,
    }
    forget_media_type(root, repo, tag)?;
    write_tag_list(root, repo)?;
    Ok(true)
}

/// Deletes `rel` below `root` (absent is fine); a manifest also leaves the sidecar.
pub fn remove_file(root: &Path, repo: &str, rel: &str, manifest: Option<&Digest>) -> io::Result<()> {
    if let Some(digest) = manifest {
        let _lock = lock_repo(&root.join("v2").join(repo))?;
        forget_media_type(root, repo, digest.as_str())?;
    }
    match std::fs::remove_file(root.join(rel)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Takes the lock of a directory root's repository `dir` (held while the file lives).
pub fn lock_repo(dir: &Path) -> io::Result<std::fs::File> {
    create_dirs(&dir.join("_wharf"))?;
    let f = std::fs::File::options().create(true).truncate(false).write(true).open(dir.join("_wharf/lock"))?;
    f.lock()?;
    Ok(f)
}

fn write_media_types(dir: &Path, types: &BTreeMap<String, String>) -> io::Result<()> {
    write_atomic(&dir.join(MEDIA_TYPES), &serde_json::to_vec_pretty(types).map_err(io::Error::other)?)
}

/// Drops `key` (a tag or digest) from the sidecar of `repo`, if it is there.
fn forget_media_type(root: &Path, repo: &str, key: &str) -> io::Result<()> {
    let mut types = read_media_types(root, repo)?;
    if types.remove(key).is_some() {
        write_media_types(&root.join("v2").join(repo), &types)?;
    }
    Ok(())
}

/// The media-type sidecar of `repo` (empty when absent).
pub fn read_media_types(root: &Path, repo: &str) -> io::Result<BTreeMap<String, String>> {
    match read_contained(root, &format!("v2/{repo}/{MEDIA_TYPES}"), 64 << 20)? {
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{MEDIA_TYPES}: {e}"))),
        None => Ok(BTreeMap::new()),
    }
}

/// Rewrites a directory root's `tags/list` for `repo` from its tag files.
fn write_tag_list(root: &Path, repo: &str) -> io::Result<()> {
    let list = serde_json::json!({"name": repo, "tags": list_tags(&root.join("v2").join(repo))?});
    write_atomic(&root.join(format!("v2/{repo}/tags/list")), &serde_json::to_vec(&list).map_err(io::Error::other)?)
}

/// Whether a file name under `manifests/` is a tag (not a digest, not a temporary).
pub fn is_tag_name(name: &str) -> bool {
    validate_tag(name).is_ok() && !name.starts_with("sha256:")
}

/// Tags with a manifest file in `dir/manifests`, sorted.
pub fn list_tags(dir: &Path) -> io::Result<Vec<String>> {
    let mut tags = Vec::new();
    for entry in std::fs::read_dir(dir.join("manifests"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_tag_name(&name) {
            tags.push(name);
        }
    }
    tags.sort();
    Ok(tags)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes through `fill` into a temporary file beside `path` (mode 0644 before the umask),
/// then renames it into place.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>) -> io::Result<()> {
    let parent = path.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
    create_dirs(parent)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".wharf-tmp-")
        .permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(parent)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(c: io::Result<Contained>) -> &'static str {
        match c.unwrap() {
            Contained::File(..) => "file",
            Contained::Missing => "missing",
            Contained::Refused(_) => "refused",
        }
    }

    #[test]
    fn reads_never_follow_a_link_below_the_root_nor_open_a_fifo() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        std::fs::create_dir_all(root.join("v2/a/blobs")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"secret").unwrap();
        std::fs::write(root.join("v2/a/blobs/real"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("v2/a/blobs/link")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("v2/b")).unwrap();
        assert_eq!(found(open_contained(&root, "v2/a/blobs/real")), "file");
        assert_eq!(
            found(open_contained(&tmp.path().join("not-yet"), "v2/a/blobs/real")),
            "missing",
            "a root not written yet"
        );
        assert_eq!(found(open_contained(&root, "v2/a/blobs/link")), "refused", "a link to a file outside");
        assert_eq!(found(open_contained(&root, "v2/b/secret")), "refused", "a directory link");
        assert_eq!(found(open_contained(&root, "v2/a/blobs/real/x")), "missing", "a path through a file");
        assert_eq!(found(open_contained(&root, &format!("v2/{}/x", "a".repeat(300)))), "missing", "a name too long");
        assert_eq!(found(open_contained(&root, "v2/a/../a/blobs/real")), "refused");
        assert_eq!(found(open_contained(&root, "v2/a/blobs")), "refused", "a directory");
        let status = std::process::Command::new("mkfifo").arg(root.join("v2/a/blobs/fifo")).status().unwrap();
        assert!(status.success());
        assert_eq!(found(open_contained(&root, "v2/a/blobs/fifo")), "refused", "a FIFO, without waiting for a writer");
        // The root itself may be a link (the operator's choice).
        std::os::unix::fs::symlink(&root, tmp.path().join("current")).unwrap();
        assert_eq!(found(open_contained(&tmp.path().join("current"), "v2/a/blobs/real")), "file");
    }

    #[test]
    fn files_are_written_readable_by_others() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("v2/a/blobs/x");
        write_atomic(&path, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .map(|u| u32::from_str_radix(u.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(mode(&path), FILE_MODE & !umask, "0644 narrowed by the umask");
        for dir in ["v2", "v2/a", "v2/a/blobs"] {
            assert_eq!(mode(&tmp.path().join(dir)), DIR_MODE & !umask, "{dir}: 0755 narrowed by the umask");
        }
    }
}
