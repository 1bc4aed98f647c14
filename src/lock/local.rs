//! Locks between wharf runs on one machine: file locks in a shared directory
//! (`/tmp/wharf-locks` unless `--lock-dir` says otherwise). The OS releases a lock when its
//! holder exits, killed or not.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Guard, Kind, LockError};

#[derive(Debug, Clone)]
pub struct FileLocks {
    dir: PathBuf,
    timeout: Duration,
}

impl FileLocks {
    pub fn new(dir: &Path, timeout: Duration) -> FileLocks {
        FileLocks { dir: dir.to_path_buf(), timeout }
    }

    /// The lock file for `what` (any text: a repository, a stage).
    pub fn path(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{}.lock", super::key(what)))
    }

    pub(super) async fn acquire(&self, what: &str, kind: Kind) -> Result<Guard, LockError> {
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
                Ok(()) => return Ok(Guard::File(file)),
                Err(TryLockError::WouldBlock) if start.elapsed() < self.timeout => {
                    if start.elapsed() > Duration::from_secs(2) && wait >= Duration::from_millis(500) {
                        tracing::info!(what, "waiting for another wharf run to release its lock");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Timeout {
                        what: what.to_string(),
                        held_by: path.display().to_string(),
                        waited: start.elapsed(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::lock::Locks;

    #[tokio::test]
    async fn shared_locks_coexist_and_exclusive_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::local(dir.path(), Duration::from_millis(300));
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
