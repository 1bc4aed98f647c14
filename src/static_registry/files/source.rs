//! Reading what `static push` publishes: `DIR/<os>/<arch>[/<variant>]/<files>`, every name
//! checked and every file hashed, before anything is written (blocking; run it on tokio's
//! blocking pool).
//!
//! Below `<os>/<arch>/` a file belongs to the `os/arch` flavour and a directory is a variant
//! holding the files of `os/arch/variant`; below a variant only files may be (pack a tree
//! of files as an archive first). DIR itself may be a link (the user named it); **nothing
//! below it is followed**: a symbolic link is refused, not copied, since a link in a build
//! output (to `~/.ssh`, to `/etc`) would otherwise publish what it points to. Files are
//! opened with `O_NOFOLLOW | O_NONBLOCK`, so a link swapped in after the listing is refused
//! too and a FIFO cannot make the push wait; anything but a regular file is refused.

use rustix::fs::{Mode, OFlags};
use sha2::Digest as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::names::{validate_file_name, validate_platform_part};
use super::{FilesError, Platform};

/// One file to publish: where it is here, where it goes, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub local: PathBuf,
    pub name: String,
    /// Below the version's directory: `<os>/<arch>[/<variant>]/<name>`.
    pub rel: String,
    pub size: u64,
    pub sha256: String,
}

/// One platform's files, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFlavour {
    pub platform: Platform,
    pub files: Vec<SourceFile>,
}

fn problem(path: &Path, problem: impl Into<String>, hint: Option<&str>) -> FilesError {
    FilesError::Source { path: path.display().to_string(), problem: problem.into(), hint: hint.map(str::to_string) }
}

/// What a directory entry is, read without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link,
    Other,
}

/// The entries of `dir`, sorted by name; a name that is not UTF-8 is refused.
fn entries(dir: &Path) -> Result<Vec<(String, Kind, PathBuf)>, FilesError> {
    let read = std::fs::read_dir(dir).map_err(|e| problem(dir, e.to_string(), None))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| problem(dir, e.to_string(), None))?;
        let path = entry.path();
        let name = entry.file_name().into_string().map_err(|_| problem(&path, "a name that is not UTF-8", None))?;
        let t = entry.file_type().map_err(|e| problem(&path, e.to_string(), None))?;
        let kind = if t.is_symlink() {
            Kind::Link
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        out.push((name, kind, path));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Refuses what is neither a directory nor a regular file.
fn refuse_special(kind: Kind, path: &Path) -> Result<(), FilesError> {
    match kind {
        Kind::Link => Err(problem(
            path,
            "a symbolic link: static push publishes regular files only and never follows links",
            Some("copy the file it points to in its place (cp -L)"),
        )),
        Kind::Other => Err(problem(path, "not a regular file (a FIFO, socket or device)", None)),
        Kind::Dir | Kind::File => Ok(()),
    }
}

/// Reads `dir` into flavours, each file hashed; at least one flavour with files.
pub fn read(dir: &Path) -> Result<Vec<SourceFlavour>, FilesError> {
    let expected = Some("DIR holds <os>/<arch>[/<variant>]/<files>, e.g. DIR/linux/amd64/alba");
    if !dir.is_dir() {
        return Err(problem(dir, "not a directory", expected));
    }
    let mut flavours = Vec::new();
    for (os, kind, os_path) in entries(dir)? {
        refuse_special(kind, &os_path)?;
        if kind == Kind::File {
            return Err(problem(&os_path, "a file directly in DIR", expected));
        }
        validate_platform_part("os", &os).map_err(|e| problem(&os_path, e, expected))?;
        let arches = entries(&os_path)?;
        if arches.is_empty() {
            return Err(problem(&os_path, "an empty os directory", expected));
        }
        for (arch, kind, arch_path) in arches {
            refuse_special(kind, &arch_path)?;
            if kind == Kind::File {
                return Err(problem(&arch_path, "a file directly in an os directory", expected));
            }
            validate_platform_part("architecture", &arch).map_err(|e| problem(&arch_path, e, expected))?;
            flavours.extend(read_arch(&os, &arch, &arch_path)?);
        }
    }
    if flavours.is_empty() {
        return Err(problem(dir, "nothing to publish", expected));
    }
    Ok(flavours)
}

/// The flavours of one `<os>/<arch>` directory: its files, and one per variant directory.
fn read_arch(os: &str, arch: &str, arch_path: &Path) -> Result<Vec<SourceFlavour>, FilesError> {
    let platform = |variant: Option<&str>| Platform {
        os: os.into(),
        architecture: arch.into(),
        variant: variant.map(str::to_string),
    };
    let mut direct = Vec::new();
    let mut out = Vec::new();
    for (name, kind, path) in entries(arch_path)? {
        refuse_special(kind, &path)?;
        if kind == Kind::File {
            direct.push((name, path));
            continue;
        }
        validate_platform_part("variant", &name).map_err(|e| problem(&path, e, None))?;
        let mut files = Vec::new();
        for (file, kind, file_path) in entries(&path)? {
            refuse_special(kind, &file_path)?;
            if kind == Kind::Dir {
                return Err(problem(
                    &file_path,
                    "a directory below <os>/<arch>/<variant>",
                    Some("publish a tree of files as one archive (tar, zip)"),
                ));
            }
            files.push((file, file_path));
        }
        if files.is_empty() {
            return Err(problem(&path, "an empty variant directory", None));
        }
        out.push(flavour(platform(Some(&name)), files)?);
    }
    if !direct.is_empty() {
        out.insert(0, flavour(platform(None), direct)?);
    }
    if out.is_empty() {
        return Err(problem(arch_path, "an empty architecture directory", None));
    }
    Ok(out)
}

fn flavour(platform: Platform, files: Vec<(String, PathBuf)>) -> Result<SourceFlavour, FilesError> {
    let dir = platform.dir();
    let files = files
        .into_iter()
        .map(|(name, local)| {
            validate_file_name(&name).map_err(|e| problem(&local, e, None))?;
            let (size, sha256) = hash_file(&local)?;
            Ok(SourceFile { rel: format!("{dir}/{name}"), name, local, size, sha256 })
        })
        .collect::<Result<_, FilesError>>()?;
    Ok(SourceFlavour { platform, files })
}

/// Opens a regular file without following a link (nor waiting on a FIFO).
pub fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), FilesError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| match e {
        rustix::io::Errno::LOOP => problem(
            path,
            "a symbolic link: static push never follows links",
            Some("copy the file it points to in its place (cp -L)"),
        ),
        e => problem(path, std::io::Error::from(e).to_string(), None),
    })?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|e| problem(path, e.to_string(), None))?;
    if !meta.is_file() {
        return Err(problem(path, "not a regular file", None));
    }
    Ok((file, meta))
}

/// The size and SHA-256 (hex) of the regular file at `path`.
pub fn hash_file(path: &Path) -> Result<(u64, String), FilesError> {
    let (file, _) = open_regular(path)?;
    hash_copy(file, &mut std::io::sink()).map_err(|e| problem(path, e.to_string(), None))
}

/// Copies `from` into `to`, returning the size and SHA-256 (hex) of what went.
pub fn hash_copy(mut from: impl Read, to: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn err(dir: &Path) -> String {
        read(dir).unwrap_err().to_string()
    }

    #[test]
    fn platforms_and_variants_become_flavours_with_hashed_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "linux/amd64/alba", b"amd64");
        write(d, "linux/amd64/alba.sha256", b"sum");
        write(d, "linux/arm/alba", b"arm");
        write(d, "linux/arm/v7/alba", b"armv7");
        write(d, "darwin/arm64/alba", b"mac");
        let flavours = read(d).unwrap();
        let dirs: Vec<String> = flavours.iter().map(|f| f.platform.dir()).collect();
        assert_eq!(dirs, ["darwin/arm64", "linux/amd64", "linux/arm", "linux/arm/v7"]);
        let amd64 = &flavours[1];
        assert_eq!(
            amd64.files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(),
            ["linux/amd64/alba", "linux/amd64/alba.sha256"]
        );
        assert_eq!(amd64.files[0].size, 5);
        assert_eq!(amd64.files[0].sha256, hex::encode(sha2::Sha256::digest(b"amd64")));
        assert_eq!(flavours[3].platform.variant.as_deref(), Some("v7"));
    }

    #[test]
    fn what_cannot_be_published_is_refused_with_its_path() {
        let case = |setup: &dyn Fn(&Path), needle: &str, at: &str| {
            let tmp = tempfile::tempdir().unwrap();
            setup(tmp.path());
            let e = err(tmp.path());
            assert!(e.contains(needle), "{needle}: {e}");
            let place = if at.is_empty() { tmp.path().to_path_buf() } else { tmp.path().join(at) };
            assert!(e.contains(&place.display().to_string()), "located at {at}: {e}");
        };
        case(&|d| write(d, "README", b"x"), "a file directly in DIR", "README");
        case(&|d| write(d, "Linux/amd64/a", b"x"), "not a valid os", "Linux");
        case(&|d| write(d, "linux/amd64/a b", b"x"), "not a file name", "linux/amd64/a b");
        case(&|d| write(d, "linux/amd64/.hidden", b"x"), "not a file name", "linux/amd64/.hidden");
        case(&|d| write(d, "linux/arm/v7/sub/a", b"x"), "a directory below", "linux/arm/v7/sub");
        case(&|d| std::fs::create_dir_all(d.join("linux/amd64")).unwrap(), "empty architecture", "linux/amd64");
        case(&|d| std::fs::create_dir_all(d.join("linux")).unwrap(), "empty os", "linux");
        case(&|_| {}, "nothing to publish", "");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let secret = outside.path().join("secret");
        case(
            &|d| {
                std::fs::create_dir_all(d.join("linux/amd64")).unwrap();
                std::os::unix::fs::symlink(&secret, d.join("linux/amd64/alba")).unwrap();
            },
            "a symbolic link",
            "linux/amd64/alba",
        );
        let outside_dir = outside.path().to_path_buf();
        case(
            &|d| {
                std::fs::create_dir_all(d.join("linux")).unwrap();
                std::os::unix::fs::symlink(&outside_dir, d.join("linux/amd64")).unwrap();
            },
            "a symbolic link",
            "linux/amd64",
        );
        case(
            &|d| {
                std::fs::create_dir_all(d.join("linux/amd64")).unwrap();
                let ok =
                    std::process::Command::new("mkfifo").arg(d.join("linux/amd64/fifo")).status().unwrap().success();
                assert!(ok);
            },
            "not a regular file",
            "linux/amd64/fifo",
        );
        // DIR itself may be a link: the user named it.
        let real = tempfile::tempdir().unwrap();
        write(real.path(), "linux/amd64/a", b"x");
        let link = outside.path().join("dist");
        std::os::unix::fs::symlink(real.path(), &link).unwrap();
        assert_eq!(read(&link).unwrap().len(), 1);
        // A link swapped in after the listing is refused when the file is opened.
        assert!(open_regular(&secret).is_ok());
        let swapped = outside.path().join("swapped");
        std::os::unix::fs::symlink(&secret, &swapped).unwrap();
        assert!(open_regular(&swapped).unwrap_err().to_string().contains("symbolic link"));
    }
}
