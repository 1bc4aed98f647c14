//! Locks between wharf runs.
//!
//! - `build-and-publish` holds its repository's lock *shared* for the whole run, and a
//!   stage's lock *exclusively* while it builds that stage (a second run waits, then finds
//!   the stage and reuses it: each stage is built once);
//! - `cleanup` holds the repository's lock *exclusively* from listing to the last deletion,
//!   so it never deletes what a running publish is writing.
//!
//! Two backends: [`local::FileLocks`] (the default: file locks, for runs on one machine) and
//! [`lease::LeaseLocks`] (a Kubernetes `Lease` per lock, for runners on many machines). A
//! Lease is exclusive only: there, a shared lock waits while a cleanup holds the lease but
//! does not take it, and cleanup's fresh window covers a publish that was already running.

pub(crate) mod lease;
pub(crate) mod local;

#[cfg(test)]
mod lease_tests;

use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The lock of a repository: held shared by `build-and-publish` and `push`, exclusively by
/// `cleanup` and by `tags rm` on a static root (whose garbage collection follows).
pub fn repository(repo: &impl std::fmt::Display) -> String {
    format!("repository {repo}")
}

/// The lock of a name's published files (`wharf static push|rm|gc`) in `dest`.
pub fn static_files(dest: &impl std::fmt::Display, name: &str) -> String {
    format!("static files {dest}/{name}")
}

/// The lock of one stage while it builds (`where_` names its place in the stages storage).
pub fn stage(where_: &str) -> String {
    format!("stage {where_}")
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error(
        "another wharf run still holds the lock on {what} after {waited:?} ({held_by})\n  hint: wait for it to finish, or raise --lock-timeout"
    )]
    Timeout { what: String, held_by: String, waited: Duration },
    #[error("Kubernetes lease {name}: {message}")]
    Lease { name: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Shared,
    Exclusive,
}

/// A held lock; released on drop (a lease is released in the background and expires anyway).
#[derive(Debug)]
pub enum Guard {
    File(std::fs::File),
    Lease(Box<lease::LeaseGuard>),
    /// A shared lock on a lease backend: nothing to release.
    Nothing,
}

#[derive(Clone)]
pub enum Locks {
    Local(local::FileLocks),
    Kubernetes(Arc<lease::LeaseLocks>),
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Locks::Local(l) => write!(f, "Locks::Local({l:?})"),
            Locks::Kubernetes(_) => f.write_str("Locks::Kubernetes"),
        }
    }
}

impl Locks {
    pub fn local(dir: &Path, timeout: Duration) -> Locks {
        Locks::Local(local::FileLocks::new(dir, timeout))
    }

    pub fn kubernetes(leases: lease::LeaseLocks) -> Locks {
        Locks::Kubernetes(Arc::new(leases))
    }

    pub async fn shared(&self, what: &str) -> Result<Guard, LockError> {
        match self {
            Locks::Local(l) => l.acquire(what, Kind::Shared).await,
            Locks::Kubernetes(k) => k.acquire(what, Kind::Shared).await,
        }
    }

    pub async fn exclusive(&self, what: &str) -> Result<Guard, LockError> {
        match self {
            Locks::Local(l) => l.acquire(what, Kind::Exclusive).await,
            Locks::Kubernetes(k) => k.acquire(what, Kind::Exclusive).await,
        }
    }
}

/// A short stable name for `what`, usable as a file name and a Kubernetes object name.
pub(crate) fn key(what: &str) -> String {
    let h = hex::encode(Sha256::digest(what.as_bytes()));
    h[..32].to_string()
}

impl LockError {
    pub fn category(&self) -> crate::error::Category {
        crate::error::Category::Local
    }
}
