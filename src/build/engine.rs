//! The narrow interface wharf needs from a container engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::secrets::BuildSecrets;

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
    /// Secrets and ssh agents the build may use (BuildKit only).
    pub secrets: Arc<BuildSecrets>,
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
    #[error(
        "cannot reach the Docker engine at {endpoint}: {message}\n  hint: start dockerd, or point --docker-host / DOCKER_HOST at a running engine"
    )]
    Unavailable { endpoint: String, message: String },
    #[error("build failed{}: {message}", step.as_ref().map(|s| format!(" at step {s}")).unwrap_or_default())]
    Build {
        /// `N/M : INSTRUCTION` as the engine printed it.
        step: Option<String>,
        message: String,
    },
    #[error("engine {operation} {subject}: {message}")]
    Api { operation: &'static str, subject: String, message: String },
    #[error(
        "{what} needs BuildKit, and this build uses the legacy builder\n  hint: drop `--builder legacy` (or WHARF_BUILDER=legacy); the engine must be Docker 18.09 or later"
    )]
    NeedsBuildKit { what: String },
}

/// Which of the engine's builders runs a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    /// BuildKit when the engine has it (API 1.39, Docker 18.09, or later), else legacy.
    #[default]
    Auto,
    /// BuildKit, through the engine's control API.
    #[value(name = "buildkit")]
    BuildKit,
    /// The engine's classic builder (deprecated by Docker since 23.0).
    Legacy,
}

/// Build output, line by line.
pub type LogSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Where a build's result is.
#[derive(Debug)]
pub enum Built {
    /// In the engine's image store, tagged with the request's tag.
    InEngine,
    /// An OCI image layout tar (BuildKit's OCI exporter), removed when this is dropped.
    OciTar(tempfile::TempPath),
}

#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// The local image `reference`, or `None` when the engine does not have it.
    async fn inspect(&self, reference: &str) -> Result<Option<LocalImage>, EngineError>;
    /// Builds `req`: into the engine's image store (tagged `req.tag`) or as an OCI layout.
    async fn build(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<Built, EngineError>;
    /// Whether built images and dependencies live in an image store of this engine (a
    /// BuildKit daemon has none: dependencies are read from the stages' registry).
    fn has_image_store(&self) -> bool {
        true
    }
    /// Streams `docker save` of `reference` into `chunks` as the engine produces it.
    async fn save_stream(
        &self,
        reference: &str,
        chunks: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<(), EngineError>;
    /// Loads a `docker save`-format archive (`docker load`).
    async fn load(&self, archive: &Path) -> Result<(), EngineError>;
}
