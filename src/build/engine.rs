//! The narrow interface wharf needs from a container engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One build: a context tar on disk and how to build it.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// Image name, for log prefixes and errors.
    pub image: String,
    pub context_tar: PathBuf,
    /// Path of the Dockerfile inside the context tar.
    pub dockerfile: String,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    pub platform: Option<String>,
    /// The network mode of `RUN` steps (`none`, `host`, …); the engine's default if unset.
    pub network: Option<String>,
    /// Local reference the built image gets.
    pub tag: String,
    pub labels: BTreeMap<String, String>,
}

/// What the engine knows of a local image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// Image ID (config digest).
    pub id: String,
    /// `repo@sha256:…` digests the engine recorded when it pulled or pushed the image.
    pub repo_digests: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {endpoint}: {message}\n  hint: start dockerd, or point --docker-host / DOCKER_HOST at a running engine")]
    Unavailable { endpoint: String, message: String },
    #[error("build failed{}: {message}", step.as_ref().map(|s| format!(" at step {s}")).unwrap_or_default())]
    Build {
        /// `N/M : INSTRUCTION` as the engine printed it.
        step: Option<String>,
        message: String,
    },
    #[error("engine {operation} {subject}: {message}")]
    Api { operation: &'static str, subject: String, message: String },
}

/// Build output, line by line.
pub type LogSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// The local image `reference`, or `None` when the engine does not have it.
    async fn inspect(&self, reference: &str) -> Result<Option<LocalImage>, EngineError>;
    /// Builds and tags `req.tag`; returns the image ID.
    async fn build(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<String, EngineError>;
    /// Writes `docker save` of `reference` to `out`.
    async fn save(&self, reference: &str, out: &Path) -> Result<(), EngineError>;
    /// Loads a `docker save`-format archive (`docker load`).
    async fn load(&self, archive: &Path) -> Result<(), EngineError>;
    /// Adds tag `tag` to an image.
    async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<(), EngineError>;
}
