//! The top-level error and the exit codes it maps to (documented in README).

use crate::build::schedule::ScheduleError;
use crate::pipeline::PipelineError;
use crate::publish::store::StoreError;
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
    #[error("{0}")]
    Other(String),
}

impl From<crate::drivers::DriverError> for Error {
    fn from(e: crate::drivers::DriverError) -> Self {
        Error::Driver(Box::new(e))
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Config(_) => exit::CONFIG,
            Error::Registry(_) | Error::Partial { .. } => exit::REGISTRY,
            Error::Driver(e) if matches!(**e, crate::drivers::DriverError::UnknownImplementation { .. }) => exit::USAGE,
            Error::Driver(_) => exit::REGISTRY,
            Error::Lock(_) => exit::OTHER,
            Error::Cleanup(c) => match c {
                crate::cleanup::run::CleanupError::Inventory(crate::cleanup::inventory::InventoryError::List { .. }) => exit::REGISTRY,
                _ => exit::USAGE,
            },
            Error::Pipeline(p) => match p.as_ref() {
                PipelineError::Plan(_) => exit::BUILD,
                PipelineError::Naming(_) => exit::USAGE,
                PipelineError::Publish { .. } => exit::REGISTRY,
                PipelineError::Lock(_) => exit::OTHER,
                PipelineError::Driver(_) => exit::REGISTRY,
                PipelineError::Schedule(s) => match s {
                    ScheduleError::Store { source: StoreError::Registry(_) | StoreError::Manifest { from_registry: true, .. }, .. } => exit::REGISTRY,
                    ScheduleError::Build { .. } | ScheduleError::Engine { .. } | ScheduleError::Archive { .. } => exit::BUILD,
                    _ => exit::OTHER,
                },
            },
            Error::Other(_) => exit::OTHER,
            Error::Push(p) => match p {
                PushError::Source(_) => exit::INPUT,
                PushError::SamePlatform { .. } | PushError::Plan(_) => exit::USAGE,
                PushError::Store { source: StoreError::Registry(_) | StoreError::Manifest { from_registry: true, .. }, .. } => exit::REGISTRY,
                PushError::Store { .. } => exit::OTHER,
            },
        }
    }
}
