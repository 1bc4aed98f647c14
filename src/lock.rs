//! Locks between wharf runs on one machine: file locks in a shared directory
//! (`/tmp/wharf-locks` unless `--lock-dir` says otherwise).
//!
//! - `build-and-publish` holds its repository's lock *shared* for the whole run, and a
//!   stage's lock *exclusively* while it builds that stage (a second run waits, then finds
//!   the stage and reuses it: each stage is built once);
//! - `cleanup` holds the repository's lock *exclusively* from listing to the last deletion,
//!   so it never deletes what a running publish is writing.
//!
//! The OS releases a lock when its holder exits, killed or not. Runners on different
//! machines are protected by cleanup's fresh window.

use sha2::{Digest as _, Sha256};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("another wharf run still holds the lock on {what} after {waited:?} ({path})\n  hint: wait for it to finish, or raise --lock-timeout")]
    Timeout { what: String, path: PathBuf, waited: Duration },
}

#[derive(Debug, Clone)]
pub struct Locks {
    dir: PathBuf,
    timeout: Duration,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Guard {
    _file: File,
}

#[derive(Clone, Copy)]
enum Kind {
    Shared,
    Exclusive,
}

impl Locks {
    pub fn new(dir: &Path, timeout: Duration) -> Locks {
        Locks { dir: dir.to_path_buf(), timeout }
    }

    /// The lock file for `what` (any text: a repository, a stage).
    pub fn path(&self, what: &str) -> PathBuf {
        let h = hex::encode(Sha256::digest(what.as_bytes()));
        self.dir.join(format!("{}.lock", &h[..32]))
    }

    pub async fn shared(&self, what: &str) -> Result<Guard, LockError> {
        self.acquire(what, Kind::Shared).await
    }

    pub async fn exclusive(&self, what: &str) -> Result<Guard, LockError> {
        self.acquire(what, Kind::Exclusive).await
    }

    async fn acquire(&self, what: &str, kind: Kind) -> Result<Guard, LockError> {
        let path = self.path(what);
        let io = |source| LockError::Io { path: path.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(io)?;
        let start = Instant::now();
        let mut wait = Duration::from_millis(20);
        loop {
            let attempt = match kind {
                Kind::Shared => file.try_lock_shared(),
                Kind::Exclusive => file.try_lock(),
            };
            match attempt {
                Ok(()) => return Ok(Guard { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < self.timeout => {
                    if start.elapsed() > Duration::from_secs(2) && wait >= Duration::from_millis(500) {
                        tracing::info!(what, "waiting for another wharf run to release its lock");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Timeout { what: what.to_string(), path, waited: start.elapsed() });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_locks_coexist_and_exclusive_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(dir.path(), Duration::from_millis(300));
        let a = locks.shared("repo").await.unwrap();
        let _b = locks.shared("repo").await.unwrap();
        let err = locks.exclusive("repo").await.unwrap_err();
        assert!(err.to_string().contains("--lock-timeout"), "{err}");
        assert!(locks.exclusive("other").await.is_ok(), "locks are per name");
        drop(a);
        drop(_b);
        let _c = locks.exclusive("repo").await.unwrap();
        assert!(matches!(locks.shared("repo").await, Err(LockError::Timeout { .. })));
    }
}
