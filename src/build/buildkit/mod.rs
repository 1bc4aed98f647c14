//! Builds through BuildKit's control API (`moby.buildkit.v1.Control`): the Docker Engine's
//! embedded BuildKit, or a BuildKit daemon (`--buildkit-host`).
//!
//! One build is one `Solve` with the `dockerfile.v0` frontend. The context goes as a tar that
//! BuildKit pulls from the build's session (`http://buildkit-session/…`, the way
//! `docker build - < context.tar` sends it), so the files are exactly those the stage digest
//! counted; secrets and ssh agents are served by the same session ([`session`]). Progress
//! comes from `Control.Status` and is logged line by line ([`status`]). The result is either
//! an image in the engine (the `moby` exporter) or an OCI image layout streamed back through
//! the session (the `oci` exporter of a BuildKit daemon).

pub mod session;
pub mod status;
pub mod transport;

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{BytesMessage, SolveRequest, StatusRequest};
use futures::StreamExt;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

use super::engine::{BuildRequest, EngineError, LogSink};
use session::{ExportSink, Services};
use status::Progress;
use transport::{BoxIo, Daemon, TransportError, upgrade};

/// gRPC messages up to BuildKit's own limit.
const MAX_MESSAGE: usize = 16 << 20;

/// What becomes of a build's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// An image in the engine, tagged with the request's tag (the engine's BuildKit).
    Moby,
    /// An OCI image layout tar, streamed to the session's export sink (a BuildKit daemon).
    Oci,
}

/// A BuildKit daemon and how results come back from it.
#[derive(Debug, Clone)]
pub struct BuildKit {
    pub daemon: Daemon,
    pub exporter: Exporter,
}

/// What the exporter reported (`containerimage.digest`, `containerimage.config.digest`, …).
pub type ExporterResponse = HashMap<String, String>;

impl BuildKit {
    /// Runs one build. `network` is the `RUN` network mode when not the daemon's default.
    pub async fn solve(
        &self,
        req: &BuildRequest,
        network: Option<&str>,
        export: Option<ExportSink>,
        log: LogSink<'_>,
    ) -> Result<ExporterResponse, EngineError> {
        let unavailable = |e: TransportError| EngineError::Unavailable {
            endpoint: self.daemon.address().to_string(),
            message: e.to_string(),
        };
        let channel = self.daemon.channel().await.map_err(unavailable)?;
        let mut control = control_client(channel);
        let session_id = new_id();
        let services = Services {
            context_tar: req.context_tar.clone(),
            upload_id: new_id(),
            secrets: req.secrets.clone(),
            export,
        };
        let context_url = services.context_url();
        let server = self.open_session(&mut control, &session_id, services).await?;
        let build_ref = new_id();
        let request = solve_request(req, &context_url, network, self.exporter, &session_id, &build_ref);

        let mut progress = Progress::default();
        let mut status_client = control.clone();
        let status = async {
            let stream = status_client.status(StatusRequest { r#ref: build_ref.clone() }).await;
            let Ok(stream) = stream else { return };
            let mut stream = stream.into_inner();
            while let Some(Ok(answer)) = stream.next().await {
                for line in progress.lines(&answer) {
                    log(&line);
                }
            }
        };
        let (solved, ()) = tokio::join!(control.solve(request), status);
        for line in progress.finish() {
            log(&line);
        }
        server.abort();
        match solved {
            Ok(response) => Ok(response.into_inner().exporter_response),
            Err(status) => Err(match progress.failed() {
                Some((step, error)) => EngineError::Build { step: Some(step.clone()), message: error.clone() },
                None => EngineError::Build { step: None, message: status.message().trim().to_string() },
            }),
        }
    }

    /// Opens the build's session and serves it until the returned task is aborted.
    async fn open_session(
        &self,
        control: &mut ControlClient<Channel>,
        id: &str,
        services: Services,
    ) -> Result<tokio::task::JoinHandle<()>, EngineError> {
        let address = self.daemon.address().to_string();
        let fail = |message: String| EngineError::Unavailable {
            endpoint: address.clone(),
            message: format!("cannot open the build session: {message}"),
        };
        let mut headers: Vec<(&str, String)> = vec![
            ("X-Docker-Expose-Session-Uuid", id.to_string()),
            ("X-Docker-Expose-Session-Name", "wharf".to_string()),
            ("X-Docker-Expose-Session-Sharedkey", id.to_string()),
        ];
        headers.extend(services.methods().into_iter().map(|m| ("X-Docker-Expose-Session-Grpc-Method", m)));
        let io: BoxIo = match &self.daemon {
            Daemon::Engine(address) => upgrade(address, "/session", &headers).await.map_err(|e| fail(e.to_string()))?,
            Daemon::BuildKit { .. } => {
                session_stream(control, &headers).await.map_err(|e| fail(e.message().to_string()))?
            }
        };
        Ok(services.serve(io))
    }
}

fn control_client(channel: Channel) -> ControlClient<Channel> {
    ControlClient::new(channel).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE)
}

/// The session over `Control.Session`: BuildKit's HTTP/2 client talks to wharf's server
/// through the stream's messages. Returns wharf's end as a byte stream.
async fn session_stream(
    control: &mut ControlClient<Channel>,
    headers: &[(&str, String)],
) -> Result<BoxIo, tonic::Status> {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (mut their_read, mut their_write) = tokio::io::split(theirs);
    let (tx, rx) = tokio::sync::mpsc::channel::<BytesMessage>(16);
    // What wharf's server writes goes to BuildKit as messages.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match their_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(BytesMessage { data: buf[..n].to_vec() }).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let outgoing = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut request = tonic::Request::new(outgoing);
    for (k, v) in headers {
        let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        let value = v.parse().map_err(|_| tonic::Status::internal(format!("session header {k}")))?;
        request.metadata_mut().append(key, value);
    }
    let mut incoming = control.session(request).await?.into_inner();
    // What BuildKit sends is read by wharf's server.
    tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            if their_write.write_all(&msg.data).await.is_err() {
                break;
            }
        }
        let _ = their_write.shutdown().await;
    });
    Ok(Box::pin(ours))
}

/// The `Solve` for one Dockerfile build.
fn solve_request(
    req: &BuildRequest,
    context_url: &str,
    network: Option<&str>,
    exporter: Exporter,
    session: &str,
    build_ref: &str,
) -> SolveRequest {
    let mut attrs: HashMap<String, String> = HashMap::from([
        ("context".to_string(), context_url.to_string()),
        ("filename".to_string(), req.dockerfile.clone()),
    ]);
    if let Some(t) = &req.target {
        attrs.insert("target".into(), t.clone());
    }
    if let Some(p) = &req.platform {
        attrs.insert("platform".into(), p.clone());
    }
    if let Some(n) = network {
        attrs.insert("force-network-mode".into(), n.to_string());
    }
    for (k, v) in &req.args {
        attrs.insert(format!("build-arg:{k}"), v.clone());
    }
    for (k, v) in &req.labels {
        attrs.insert(format!("label:{k}"), v.clone());
    }
    let (exporter, exporter_attrs) = match exporter {
        Exporter::Moby => ("moby", HashMap::from([("name".to_string(), req.tag.clone())])),
        Exporter::Oci => ("oci", HashMap::from([("name".to_string(), req.tag.clone())])),
    };
    SolveRequest {
        r#ref: build_ref.to_string(),
        session: session.to_string(),
        frontend: "dockerfile.v0".into(),
        frontend_attrs: attrs,
        exporter_deprecated: exporter.into(),
        exporter_attrs_deprecated: exporter_attrs,
        ..SolveRequest::default()
    }
}

/// A random id in BuildKit's style (session ids, build refs).
fn new_id() -> String {
    use rand::Rng;
    format!("{:032x}", rand::rng().random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[test]
    fn the_solve_names_context_dockerfile_args_and_exporter_but_no_secret_value() {
        let secrets = crate::build::secrets::BuildSecrets {
            secrets: BTreeMap::from([(
                "token".to_string(),
                crate::build::secrets::SecretValue::new(b"s3cr3t".to_vec()),
            )]),
            ..Default::default()
        };
        let req = BuildRequest {
            image: "app".into(),
            context_tar: "/tmp/ctx.tar".into(),
            dockerfile: "docker/Dockerfile".into(),
            target: Some("final".into()),
            args: BTreeMap::from([("A".to_string(), "1".to_string())]),
            platform: Some("linux/arm64".into()),
            tag: "wharf-stages/p:abc".into(),
            labels: BTreeMap::from([("io.wharf.project".to_string(), "p".to_string())]),
            secrets: Arc::new(secrets),
            network: None,
        };
        let s = solve_request(&req, "http://buildkit-session/u1", Some("none"), Exporter::Moby, "sess", "ref");
        let a = &s.frontend_attrs;
        assert_eq!(a["context"], "http://buildkit-session/u1");
        assert_eq!(a["filename"], "docker/Dockerfile");
        assert_eq!((a["target"].as_str(), a["platform"].as_str()), ("final", "linux/arm64"));
        assert_eq!((a["build-arg:A"].as_str(), a["label:io.wharf.project"].as_str()), ("1", "p"));
        assert_eq!(a["force-network-mode"], "none");
        assert_eq!(
            (s.exporter_deprecated.as_str(), s.exporter_attrs_deprecated["name"].as_str()),
            ("moby", "wharf-stages/p:abc")
        );
        assert_eq!((s.session.as_str(), s.r#ref.as_str(), s.frontend.as_str()), ("sess", "ref", "dockerfile.v0"));
        assert!(
            !format!("{s:?}").contains("s3cr3t"),
            "secret values are served by the session, never sent in the solve"
        );
    }
}
