//! [`Engine`] on the Docker Engine API through bollard. The API version is negotiated, so
//! Debian's docker.io 20.10 (API 1.41) and current engines both work.

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, ImportImageOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::engine::{BuildRequest, Engine, EngineError, LocalImage, LogSink};

pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
}

impl DockerEngine {
    /// Connects to `host` (`unix://…`, `tcp://…`) or the platform default socket.
    pub async fn connect(host: Option<&str>) -> Result<DockerEngine, EngineError> {
        let endpoint = host.unwrap_or("unix:///var/run/docker.sock").to_string();
        let unavailable = |e: bollard::errors::Error| EngineError::Unavailable { endpoint: endpoint.clone(), message: e.to_string() };
        let docker = match host {
            Some(h) => Docker::connect_with_host(h),
            None => Docker::connect_with_local_defaults(),
        }
        .map_err(unavailable)?;
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        docker.ping().await.map_err(unavailable)?;
        Ok(DockerEngine { docker, endpoint })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
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

    async fn build(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<String, EngineError> {
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
                && let Some(id) = aux.id {
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
            Some(id) => Ok(id),
            None => self.inspect(&req.tag).await?.map(|i| i.id).ok_or_else(|| build_error(&step, "engine reported no image".into())),
        }
    }

    async fn save(&self, reference: &str, out: &Path) -> Result<(), EngineError> {
        let io = |e: std::io::Error| EngineError::Api { operation: "save", subject: reference.to_string(), message: e.to_string() };
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(out).await.map_err(io)?);
        let mut stream = self.docker.export_image(reference);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(api("save", reference))?;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(())
    }

    async fn load(&self, archive: &Path) -> Result<(), EngineError> {
        let subject = archive.display().to_string();
        let file = tokio::fs::File::open(archive).await.map_err(|e| EngineError::Api { operation: "load", subject: subject.clone(), message: e.to_string() })?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 1 << 20));
        let opts = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = self.docker.import_image(opts, body, None);
        while let Some(item) = stream.next().await {
            item.map_err(api("load", &subject))?;
        }
        Ok(())
    }

    async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<(), EngineError> {
        let opts = TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
        self.docker.tag_image(image, Some(opts)).await.map_err(api("tag", image))
    }
}

fn build_error(step: &Option<String>, message: String) -> EngineError {
    EngineError::Build { step: step.clone(), message }
}
