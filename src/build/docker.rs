//! [`Engine`] on the Docker Engine API through bollard. The API version is negotiated, so
//! Debian's docker.io 20.10 (API 1.41) and current engines both work.
//!
//! Builds run on the engine's embedded BuildKit (its control API, see [`super::buildkit`])
//! or, with `--builder legacy`, on the classic builder (`POST /build`); `auto` picks BuildKit
//! on every engine that has it (API 1.39, Docker 18.09, and later).

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, ImportImageOptionsBuilder};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use tokio_util::io::ReaderStream;

use super::buildkit::transport::{Address, Daemon};
use super::buildkit::{BuildKit, Exporter};
use super::engine::{BuildRequest, Builder, Built, Engine, EngineError, LocalImage, LogSink};

pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
    /// `Auto` resolved: BuildKit or Legacy.
    builder: Builder,
    /// `RUN` steps' network under BuildKit: `none` on an engine without a `bridge` network
    /// (`dockerd --bridge=none`), where BuildKit's default would fail; else the default.
    network: tokio::sync::OnceCell<Option<String>>,
}

/// The first engine API version with BuildKit (Docker 18.09).
const BUILDKIT_API: (u32, u32) = (1, 39);

impl DockerEngine {
    /// Connects to `host` (`unix://…`, `tcp://…`) or the platform default socket and picks the
    /// builder (`auto`: BuildKit when the engine has it and is reached on a plain socket).
    pub async fn connect(host: Option<&str>, builder: Builder) -> Result<DockerEngine, EngineError> {
        let endpoint = host.unwrap_or("unix:///var/run/docker.sock").to_string();
        let unavailable =
            |e: bollard::errors::Error| EngineError::Unavailable { endpoint: endpoint.clone(), message: e.to_string() };
        let docker = match host {
            Some(h) => Docker::connect_with_host(h),
            None => Docker::connect_with_local_defaults(),
        }
        .map_err(unavailable)?;
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        docker.ping().await.map_err(unavailable)?;
        let api = docker.version().await.ok().and_then(|v| v.api_version).and_then(|v| parse_api_version(&v));
        let plain_socket = Address::parse(&endpoint).is_ok();
        let builder = match builder {
            Builder::Auto if plain_socket && api.is_some_and(|v| v >= BUILDKIT_API) => Builder::BuildKit,
            Builder::Auto => {
                tracing::info!(
                    "{endpoint}: using the legacy builder (the engine has no BuildKit, or is not reached on a unix:// or tcp:// socket)"
                );
                Builder::Legacy
            }
            Builder::BuildKit if !plain_socket => {
                return Err(EngineError::Unavailable {
                    endpoint,
                    message: "BuildKit through the engine needs a unix:// or tcp:// endpoint\n  hint: --builder legacy, or --buildkit-host to reach a BuildKit daemon directly".into(),
                });
            }
            other => other,
        };
        Ok(DockerEngine { docker, endpoint, builder, network: tokio::sync::OnceCell::new() })
    }

    async fn buildkit_network(&self) -> Option<String> {
        self.network
            .get_or_init(|| async {
                match self
                    .docker
                    .inspect_network("bridge", None::<bollard::query_parameters::InspectNetworkOptions>)
                    .await
                {
                    Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                        Some("none".to_string())
                    }
                    _ => None,
                }
            })
            .await
            .clone()
    }

    async fn build_with_buildkit(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<String, EngineError> {
        let address = Address::parse(&self.endpoint)
            .map_err(|e| EngineError::Unavailable { endpoint: self.endpoint.clone(), message: e.to_string() })?;
        let buildkit = BuildKit { daemon: Daemon::Engine(address), exporter: Exporter::Moby };
        // The project's `network` where it names one, else what the engine can offer.
        let network = match req.network.as_deref().filter(|n| *n != "default") {
            Some(n) => Some(n.to_string()),
            None => self.buildkit_network().await,
        };
        let response = buildkit.solve(req, network.as_deref(), None, log).await?;
        match response.get("containerimage.config.digest") {
            Some(id) => Ok(id.clone()),
            None => self
                .inspect(&req.tag)
                .await?
                .map(|i| i.id)
                .ok_or_else(|| build_error(&None, "the engine reported no image".into())),
        }
    }
}

fn api(operation: &'static str, subject: &str) -> impl FnOnce(bollard::errors::Error) -> EngineError + use<> {
    let subject = subject.to_string();
    move |e| EngineError::Api { operation, subject, message: e.to_string() }
}

#[async_trait::async_trait]
impl Engine for DockerEngine {
    async fn inspect(&self, reference: &str) -> Result<Option<LocalImage>, EngineError> {
        match self.docker.inspect_image(reference).await {
            Ok(img) => Ok(Some(LocalImage {
                id: img.id.unwrap_or_default(),
                repo_digests: img.repo_digests.unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(api("inspect", reference)(e)),
        }
    }

    async fn build(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<Built, EngineError> {
        if self.builder == Builder::BuildKit {
            return self.build_with_buildkit(req, log).await.map(|_id| Built::InEngine);
        }
        if !req.secrets.is_empty() {
            let what = req.secrets.ids().join(", ");
            return Err(EngineError::NeedsBuildKit { what: format!("image {} uses {what}, which", req.image) });
        }
        let args: HashMap<String, String> = req.args.clone().into_iter().collect();
        let labels: HashMap<String, String> = req.labels.clone().into_iter().collect();
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile(&req.dockerfile)
            .t(&req.tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&args)
            .labels(&labels);
        if let Some(t) = &req.target {
            opts = opts.target(t);
        }
        if let Some(p) = &req.platform {
            opts = opts.platform(p);
        }
        if let Some(n) = req.network.as_deref().filter(|n| *n != "default") {
            opts = opts.networkmode(n);
        }
        let file = tokio::fs::File::open(&req.context_tar).await.map_err(|e| EngineError::Api {
            operation: "build",
            subject: req.image.clone(),
            message: format!("cannot open context tar: {e}"),
        })?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 1 << 20));
        let mut stream = self.docker.build_image(opts.build(), None, Some(body));
        let mut step: Option<String> = None;
        let mut image_id = None;
        let mut partial = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| build_error(&step, e.to_string()))?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.or(info.status).unwrap_or_else(|| "unknown error".into());
                return Err(build_error(&step, message.trim().to_string()));
            }
            if let Some(aux) = info.aux
                && let Some(id) = aux.id
            {
                image_id = Some(id);
            }
            if let Some(text) = info.stream {
                partial.push_str(&text);
                while let Some(i) = partial.find('\n') {
                    let line: String = partial.drain(..=i).collect();
                    let line = line.trim_end();
                    if let Some(s) = line.strip_prefix("Step ") {
                        step = Some(s.to_string());
                    }
                    if !line.is_empty() {
                        log(line);
                    }
                }
            }
        }
        if !partial.trim().is_empty() {
            log(partial.trim_end());
        }
        match image_id {
            Some(_id) => Ok(Built::InEngine),
            None => self
                .inspect(&req.tag)
                .await?
                .map(|_| Built::InEngine)
                .ok_or_else(|| build_error(&step, "engine reported no image".into())),
        }
    }

    async fn save_stream(
        &self,
        reference: &str,
        chunks: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<(), EngineError> {
        let mut stream = self.docker.export_image(reference);
        while let Some(chunk) = stream.next().await {
            if chunks.send(chunk.map_err(api("save", reference))?).await.is_err() {
                break; // the reader stopped (and reports why)
            }
        }
        Ok(())
    }

    async fn load(&self, archive: &Path) -> Result<(), EngineError> {
        let subject = archive.display().to_string();
        let file = tokio::fs::File::open(archive).await.map_err(|e| EngineError::Api {
            operation: "load",
            subject: subject.clone(),
            message: e.to_string(),
        })?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 1 << 20));
        let opts = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = self.docker.import_image(opts, body, None);
        while let Some(item) = stream.next().await {
            item.map_err(api("load", &subject))?;
        }
        Ok(())
    }
}

/// `"1.41"` → `(1, 41)`.
fn parse_api_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn build_error(step: &Option<String>, message: String) -> EngineError {
    EngineError::Build { step: step.clone(), message }
}
