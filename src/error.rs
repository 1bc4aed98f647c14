//! The top-level error and the exit codes it maps to (documented in README).

use crate::pipeline::PipelineError;
use crate::push::PushError;

/// Exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const OTHER: i32 = 1;
    /// Bad flags or arguments (clap uses 2 as well).
    pub const USAGE: i32 = 2;
    /// The project file is invalid.
    pub const CONFIG: i32 = 3;
    /// A Dockerfile could not be read or a build failed.
    pub const BUILD: i32 = 4;
    /// A registry refused or failed an operation (auth included).
    pub const REGISTRY: i32 = 5;
    /// An input archive or image layout is unreadable, corrupt or unsafe.
    pub const INPUT: i32 = 6;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(crate::config::ConfigError),
    #[error(transparent)]
    Registry(crate::registry::RegistryError),
    #[error(transparent)]
    Pipeline(Box<PipelineError>),
    #[error(transparent)]
    Driver(Box<crate::drivers::DriverError>),
    #[error(transparent)]
    Cleanup(crate::cleanup::run::CleanupError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// Some of several independent operations failed (each was reported as it happened).
    #[error("{failed} of {total} operations failed")]
    Partial { failed: usize, total: usize },
    #[error(transparent)]
    Push(PushError),
    #[error(transparent)]
    Artifact(crate::artifact::ArtifactError),
    #[error(transparent)]
    Pull(crate::pull::PullError),
    #[error(transparent)]
    Files(#[from] crate::static_registry::files::FilesError),
    /// Reading or writing what the store (registry, static root, layout) holds, for `what`.
    #[error("{what}: {source}")]
    Store { what: String, source: crate::store::StoreError },
    /// This machine's files: the project's state directory, a temporary directory, a socket.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl From<crate::drivers::DriverError> for Error {
    fn from(e: crate::drivers::DriverError) -> Self {
        Error::Driver(Box::new(e))
    }
}

/// What kind of failure an error is. Every error type says which (`category()`), and this one
/// table turns a category into the process's exit code (documented in README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Bad flags or arguments.
    Usage,
    /// The project file is invalid.
    Config,
    /// A Dockerfile could not be read or a build failed.
    Build,
    /// A registry refused or failed an operation (auth included).
    Registry,
    /// An input archive or image layout is unreadable, corrupt or unsafe.
    Input,
    /// This machine: disk, locks, files wharf keeps, the runtime.
    Local,
}

impl Category {
    pub fn exit_code(self) -> i32 {
        match self {
            Category::Usage => exit::USAGE,
            Category::Config => exit::CONFIG,
            Category::Build => exit::BUILD,
            Category::Registry => exit::REGISTRY,
            Category::Input => exit::INPUT,
            Category::Local => exit::OTHER,
        }
    }
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Error::Usage(_) => Category::Usage,
            Error::Config(_) => Category::Config,
            Error::Registry(e) => e.category(),
            Error::Pipeline(e) => e.category(),
            Error::Driver(e) => e.category(),
            Error::Cleanup(e) => e.category(),
            Error::Lock(e) => e.category(),
            Error::Partial { .. } => Category::Registry,
            Error::Push(e) => e.category(),
            Error::Artifact(e) => e.category(),
            Error::Pull(e) => e.category(),
            Error::Files(e) => e.category(),
            Error::Store { source, .. } => source.category(),
            Error::Io { .. } => Category::Local,
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.category().exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleanup::journal::JournalError;
    use crate::cleanup::run::CleanupError;

    #[test]
    fn a_journal_that_cannot_be_written_is_a_local_failure_not_bad_flags() {
        let e = Error::Cleanup(CleanupError::Journal(JournalError {
            path: "/full/disk".into(),
            message: "No space left on device".into(),
        }));
        assert_eq!(e.exit_code(), exit::OTHER);
        assert_eq!(Error::Cleanup(CleanupError::Invalid("--keep-last needs a number".into())).exit_code(), exit::USAGE);
    }

    #[test]
    fn a_publish_failure_takes_its_cause_s_category() {
        use crate::store::StoreError;
        let publish = |source| Error::Pipeline(Box::new(PipelineError::Publish { image: "app".into(), source }));
        let io = StoreError::Io { path: "/tmp/x".into(), source: std::io::Error::other("disk full") };
        assert_eq!(publish(io).exit_code(), exit::OTHER);
        let served = StoreError::Manifest {
            location: "r/app:v1".into(),
            digest: crate::spec::Digest::of(b"x"),
            message: "bad".into(),
            from_registry: true,
        };
        assert_eq!(publish(served).exit_code(), exit::REGISTRY);
    }

    #[test]
    fn every_category_has_its_own_code() {
        let all =
            [Category::Usage, Category::Config, Category::Build, Category::Registry, Category::Input, Category::Local];
        let mut codes: Vec<i32> = all.iter().map(|c| c.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(!codes.contains(&exit::OK));
    }
}
