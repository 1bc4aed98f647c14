//! Writing an artifact's files out: each layer with an `org.opencontainers.image.title` becomes
//! that file below the output directory (a layer marked `io.deis.oras.content.unpack` is a
//! directory, extracted), with every path checked first: no absolute path, no `..`, nothing
//! through or into a symbolic link, no existing file replaced without `force`. Every byte is
//! verified against its digest before the file takes its name.

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::{CONTENT_DIGEST, TITLE, UNPACK};
use crate::spec::Digest;
use crate::spec::manifest::Descriptor;
use crate::store::ImageStore;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{title:?}: {message}")]
    Unsafe { title: String, message: String },
    #[error("{path}: already exists\n  hint: pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("layer {digest}: {message}")]
    Corrupt { digest: Digest, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl UnpackError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            UnpackError::Exists { .. } => crate::error::Category::Usage,
            UnpackError::Io { .. } => crate::error::Category::Local,
            UnpackError::Unsafe { .. } | UnpackError::Corrupt { .. } => crate::error::Category::Input,
            UnpackError::Store(e) => e.category(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UnpackError + use<> {
    let path = path.to_path_buf();
    move |source| UnpackError::Io { path, source }
}

/// A file (or directory) written.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Written {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
    pub unpacked: bool,
}

/// Writes every titled layer of `layers` (read from `store`) below `out`.
pub async fn write_files(
    store: &dyn ImageStore,
    layers: &[Descriptor],
    out: &Path,
    force: bool,
) -> Result<Vec<Written>, UnpackError> {
    fs::create_dir_all(out).map_err(io(out))?;
    let mut written = Vec::new();
    // Every path is checked before anything is written.
    let mut planned = Vec::new();
    for layer in layers {
        let Some(title) = layer.annotations.as_ref().and_then(|a| a.get(TITLE)) else { continue };
        let rel = safe_relative(title)?;
        let dest = out.join(&rel);
        check_no_links(out, &rel, title)?;
        if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) && !force {
            return Err(UnpackError::Exists { path: dest });
        }
        let unpack = layer.annotations.as_ref().and_then(|a| a.get(UNPACK)).is_some_and(|v| v == "true");
        planned.push((layer, title.clone(), dest, unpack));
    }
    for (layer, title, dest, unpack) in planned {
        let blob = store.blob_file(&layer.digest).await?;
        let (digest, size) = hash(&blob.path)?;
        if digest != layer.digest || size != layer.size {
            return Err(UnpackError::Corrupt {
                digest: layer.digest.clone(),
                message: format!("the bytes read have digest {digest} and {size} bytes"),
            });
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if unpack {
            let expected =
                layer.annotations.as_ref().and_then(|a| a.get(CONTENT_DIGEST)).and_then(|d| d.parse::<Digest>().ok());
            extract(&blob.path, out, &title, expected.as_ref(), force)?;
        } else {
            clear(&dest, force)?;
            let tmp = tempfile::NamedTempFile::new_in(dest.parent().unwrap_or(out)).map_err(io(&dest))?;
            fs::copy(&blob.path, tmp.path()).map_err(io(&dest))?;
            tmp.persist(&dest).map_err(|e| UnpackError::Io { path: dest.clone(), source: e.error })?;
        }
        written.push(Written { path: dest, digest, size, unpacked: unpack });
    }
    Ok(written)
}

/// `title` as a relative path of normal components only.
fn safe_relative(title: &str) -> Result<PathBuf, UnpackError> {
    let unsafe_ = |message: &str| UnpackError::Unsafe { title: title.to_string(), message: message.into() };
    if title.is_empty() || title.contains('\0') || title.contains('\\') {
        return Err(unsafe_("not a usable file name"));
    }
    let path = Path::new(title);
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_("climbs out of the output directory (`..`)")),
            Component::RootDir | Component::Prefix(_) => return Err(unsafe_("is an absolute path")),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(unsafe_("names no file"));
    }
    Ok(rel)
}

/// Refuses a path below `out` whose directories go through a symbolic link already there
/// (the last component itself is replaced, never followed: see [`clear`]).
fn check_no_links(out: &Path, rel: &Path, title: &str) -> Result<(), UnpackError> {
    let mut at = out.to_path_buf();
    let parents = rel.parent().map(|p| p.components().collect::<Vec<_>>()).unwrap_or_default();
    for c in parents {
        at.push(c);
        if at.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(UnpackError::Unsafe {
                title: title.to_string(),
                message: format!("{} is a symbolic link; refusing to write through it", at.display()),
            });
        }
    }
    Ok(())
}

fn hash(path: &Path) -> Result<(Digest, u64), UnpackError> {
    use sha2::Digest as _;
    let mut f = fs::File::open(path).map_err(io(path))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            return Ok((Digest::from_hasher(h), size));
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
}

/// Extracts the tar+gzip `blob` below `out`: every entry must lie below `out/<title>` and be a
/// directory, a regular file, or a symbolic link that stays inside it.
fn extract(
    blob: &Path,
    out: &Path,
    title: &str,
    expected_tar: Option<&Digest>,
    force: bool,
) -> Result<(), UnpackError> {
    let root = safe_relative(title)?;
    let unsafe_ = |message: String| UnpackError::Unsafe { title: title.to_string(), message };
    let file = fs::File::open(blob).map_err(io(blob))?;
    let mut tar_hash =
        HashingReader { inner: flate2::read::GzDecoder::new(file), hasher: <sha2::Sha256 as sha2::Digest>::new() };
    {
        let mut archive = tar::Archive::new(&mut tar_hash);
        for entry in archive.entries().map_err(io(blob))? {
            let mut entry = entry.map_err(io(blob))?;
            let raw = entry.path().map_err(io(blob))?.into_owned();
            let rel = safe_relative(&raw.to_string_lossy())
                .map_err(|_| unsafe_(format!("entry {} leaves the directory", raw.display())))?;
            if !rel.starts_with(&root) {
                return Err(unsafe_(format!("entry {} is not below {}", raw.display(), root.display())));
            }
            check_no_links(out, &rel, title)?;
            let dest = out.join(&rel);
            match entry.header().entry_type() {
                tar::EntryType::Directory => {
                    if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                        clear(&dest, force)?;
                    }
                    fs::create_dir_all(&dest).map_err(io(&dest))?
                }
                tar::EntryType::Regular => {
                    clear(&dest, force)?;
                    if let Some(parent) = dest.parent() {
                        fs::create_dir_all(parent).map_err(io(parent))?;
                    }
                    let mode = entry.header().mode().unwrap_or(0o644);
                    let mut f = fs::File::create(&dest).map_err(io(&dest))?;
                    std::io::copy(&mut entry, &mut f).map_err(io(&dest))?;
                    f.flush().map_err(io(&dest))?;
                    use std::os::unix::fs::PermissionsExt as _;
                    fs::set_permissions(
                        &dest,
                        fs::Permissions::from_mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 }),
                    )
                    .map_err(io(&dest))?;
                }
                tar::EntryType::Symlink => {
                    let target = entry.link_name().map_err(io(blob))?.unwrap_or_default().into_owned();
                    let resolved = rel.parent().unwrap_or(Path::new("")).join(&target);
                    if target.is_absolute() || !normalized_below(&resolved, &root) {
                        return Err(unsafe_(format!(
                            "link {} points outside the directory ({})",
                            raw.display(),
                            target.display()
                        )));
                    }
                    clear(&dest, force)?;
                    std::os::unix::fs::symlink(&target, &dest).map_err(io(&dest))?;
                }
                other => {
                    return Err(unsafe_(format!("entry {} is a {other:?}, which is never extracted", raw.display())));
                }
            }
        }
    }
    // Whatever tar padding is left counts in the tar's digest.
    std::io::copy(&mut tar_hash, &mut std::io::sink()).map_err(io(blob))?;
    if let Some(expected) = expected_tar {
        let actual = Digest::from_hasher(tar_hash.hasher);
        if &actual != expected {
            return Err(UnpackError::Corrupt {
                digest: expected.clone(),
                message: format!("the directory's tar has digest {actual}"),
            });
        }
    }
    Ok(())
}

/// Makes room for a file at `dest`: nothing there, or (with `force`) what is there removed —
/// a symbolic link is removed, never written through.
fn clear(dest: &Path, force: bool) -> Result<(), UnpackError> {
    let Ok(meta) = dest.symlink_metadata() else { return Ok(()) };
    if !force {
        return Err(UnpackError::Exists { path: dest.to_path_buf() });
    }
    if meta.is_dir() { fs::remove_dir_all(dest) } else { fs::remove_file(dest) }.map_err(io(dest))
}

/// Whether `path` (relative, possibly with `..`) stays below `root` once normalized.
fn normalized_below(path: &Path, root: &Path) -> bool {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_must_stay_inside() {
        assert_eq!(safe_relative("a/b.txt").unwrap(), PathBuf::from("a/b.txt"));
        assert_eq!(safe_relative("./pack.tgz").unwrap(), PathBuf::from("pack.tgz"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "."] {
            assert!(safe_relative(bad).is_err(), "{bad:?}");
        }
        assert!(normalized_below(Path::new("d/sub/../f"), Path::new("d")));
        assert!(!normalized_below(Path::new("d/../../f"), Path::new("d")));
        assert!(!normalized_below(Path::new("d/../e"), Path::new("d")));
    }
}
