//! The build's session: the gRPC services wharf serves to BuildKit while a build runs.
//!
//! BuildKit calls back into the client for what only the client has: the build context (a
//! tar, pulled through `moby.upload.v1.Upload`), secrets by id
//! (`moby.buildkit.secrets.v1.Secrets`), ssh-agent connections
//! (`moby.sshforward.v1.SSH`), the OCI export of the result (`moby.filesync.v1.FileSend`),
//! and a health check. The session is one HTTP/2 connection on which BuildKit is the client:
//! over the engine's `/session` upgrade, or over the `Control.Session` stream of a BuildKit
//! daemon. The methods served are announced in `X-Docker-Expose-Session-Grpc-Method`.

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1 as filesync;
use bollard_buildkit_proto::moby::filesync::v1::file_send_server::{FileSend, FileSendServer};
use bollard_buildkit_proto::moby::sshforward::v1 as sshforward;
use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::upload::v1 as upload;
use bollard_buildkit_proto::moby::upload::v1::upload_server::{Upload, UploadServer};
use futures::{Stream, StreamExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use super::transport::BoxIo;
use crate::build::secrets::{BuildSecrets, MAX_SECRET_SIZE};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// gRPC messages stay below BuildKit's 16 MiB limit.
const CHUNK: usize = 1 << 20;

/// Where an exported result goes: BuildKit streams it here through `FileSend`.
pub type ExportSink = Arc<dyn Fn() -> Result<Box<dyn tokio::io::AsyncWrite + Send + Unpin>, String> + Send + Sync>;

/// What one build's session offers.
#[derive(Clone)]
pub struct Services {
    /// The context tar, served as [`Services::context_url`].
    pub context_tar: PathBuf,
    /// Names the context's upload. BuildKit caches what it fetched by URL, so every build's
    /// context gets a URL of its own (a random id), else a build could get another's files.
    pub upload_id: String,
    pub secrets: Arc<BuildSecrets>,
    /// Receives the exporter's output (the OCI exporter of a BuildKit daemon).
    pub export: Option<ExportSink>,
}

impl Services {
    /// Where BuildKit fetches the context: the session's upload service
    /// (`docker build - < context.tar` sends it the same way).
    pub fn context_url(&self) -> String {
        format!("http://buildkit-session/{}", self.upload_id)
    }

    /// The methods BuildKit may call, announced when the session opens.
    pub fn methods(&self) -> Vec<String> {
        let mut out = vec![
            format!("/{}/Check", HealthServer::<HealthImpl>::NAME),
            format!("/{}/Pull", UploadServer::<UploadImpl>::NAME),
            format!("/{}/GetSecret", SecretsServer::<SecretsImpl>::NAME),
        ];
        if !self.secrets.ssh.is_empty() {
            out.push(format!("/{}/CheckAgent", SshServer::<SshImpl>::NAME));
            out.push(format!("/{}/ForwardAgent", SshServer::<SshImpl>::NAME));
        }
        if self.export.is_some() {
            out.push(format!("/{}/diffcopy", FileSendServer::<FileSendImpl>::NAME));
        }
        out
    }

    fn router(self) -> tonic::transport::server::Router {
        let mut router = tonic::transport::Server::builder()
            .add_service(HealthServer::new(HealthImpl))
            .add_service(UploadServer::new(UploadImpl { tar: self.context_tar }))
            .add_service(SecretsServer::new(SecretsImpl { secrets: self.secrets.clone() }));
        if !self.secrets.ssh.is_empty() {
            router = router.add_service(SshServer::new(SshImpl { sockets: self.secrets.ssh.clone() }));
        }
        if let Some(sink) = self.export {
            router = router.add_service(FileSendServer::new(FileSendImpl { sink }));
        }
        router
    }

    /// Serves the session on `io` until BuildKit closes it (or the task is aborted).
    pub fn serve(self, io: BoxIo) -> tokio::task::JoinHandle<()> {
        let router = self.router();
        tokio::spawn(async move {
            let incoming = futures::stream::iter([Ok::<_, std::io::Error>(Conn(io))]);
            if let Err(e) = router.serve_with_incoming(incoming).await {
                tracing::debug!("build session ended: {e}");
            }
        })
    }
}

/// The session's byte stream, as tonic's server wants it.
struct Conn(BoxIo);

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl tokio::io::AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }
}

pub struct HealthImpl;

#[tonic::async_trait]
impl Health for HealthImpl {
    async fn check(&self, _: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: ServingStatus::Serving as i32 }))
    }

    async fn list(&self, _: Request<HealthListRequest>) -> Result<Response<HealthListResponse>, Status> {
        let statuses =
            [(String::new(), HealthCheckResponse { status: ServingStatus::Serving as i32 })].into_iter().collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    type WatchStream = BoxStream<HealthCheckResponse>;
    async fn watch(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch is not served"))
    }
}

/// The context tar, streamed from disk.
pub struct UploadImpl {
    tar: PathBuf,
}

#[tonic::async_trait]
impl Upload for UploadImpl {
    type PullStream = BoxStream<upload::BytesMessage>;
    async fn pull(&self, _: Request<Streaming<upload::BytesMessage>>) -> Result<Response<Self::PullStream>, Status> {
        let file = tokio::fs::File::open(&self.tar).await.map_err(|e| Status::internal(format!("context: {e}")))?;
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map(|c| {
            c.map(|b| upload::BytesMessage { data: b.to_vec() }).map_err(|e| Status::internal(format!("context: {e}")))
        });
        Ok(Response::new(Box::pin(chunks)))
    }
}

pub struct SecretsImpl {
    secrets: Arc<BuildSecrets>,
}

#[tonic::async_trait]
impl Secrets for SecretsImpl {
    async fn get_secret(&self, request: Request<GetSecretRequest>) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.secrets.secrets.get(id) {
            Some(value) if value.expose().len() <= MAX_SECRET_SIZE => {
                Ok(Response::new(GetSecretResponse { data: value.expose().to_vec() }))
            }
            Some(_) => Err(Status::failed_precondition(format!("secret {id} is larger than {MAX_SECRET_SIZE} bytes"))),
            // BuildKit turns NotFound into "secret ID not found" (or skips a `required=false` mount).
            None => Err(Status::not_found(format!(
                "secret {id} not found: pass it with --secret id={id},env=VARIABLE|src=FILE"
            ))),
        }
    }
}

/// Agent sockets by id; each forwarded connection is a byte pipe to the agent.
pub struct SshImpl {
    sockets: BTreeMap<String, PathBuf>,
}

/// The metadata key carrying the ssh id of a forwarded connection.
const SSH_ID_KEY: &str = "buildkit.ssh.id";

impl SshImpl {
    fn socket(&self, id: &str) -> Result<&PathBuf, Status> {
        let id = if id.is_empty() { "default" } else { id };
        self.sockets
            .get(id)
            .ok_or_else(|| Status::not_found(format!("no ssh agent for id {id}: pass --ssh {id}[=SOCKET]")))
    }
}

#[tonic::async_trait]
impl Ssh for SshImpl {
    async fn check_agent(
        &self,
        request: Request<sshforward::CheckAgentRequest>,
    ) -> Result<Response<sshforward::CheckAgentResponse>, Status> {
        self.socket(&request.get_ref().id)?;
        Ok(Response::new(sshforward::CheckAgentResponse {}))
    }

    type ForwardAgentStream = BoxStream<sshforward::BytesMessage>;
    #[cfg(unix)]
    async fn forward_agent(
        &self,
        request: Request<Streaming<sshforward::BytesMessage>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = request.metadata().get(SSH_ID_KEY).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let socket = self.socket(&id)?;
        let conn = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| Status::unavailable(format!("ssh agent {}: {e}", socket.display())))?;
        let (read, mut write) = conn.into_split();
        let mut incoming = request.into_inner();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = incoming.next().await {
                if write.write_all(&msg.data).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        let out = tokio_util::io::ReaderStream::new(read).map(|c| {
            c.map(|b| sshforward::BytesMessage { data: b.to_vec() }).map_err(|e| Status::unavailable(e.to_string()))
        });
        Ok(Response::new(Box::pin(out)))
    }

    #[cfg(not(unix))]
    async fn forward_agent(
        &self,
        _: Request<Streaming<sshforward::BytesMessage>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        Err(Status::unimplemented("ssh forwarding needs unix sockets"))
    }
}

/// Receives an exporter's output and writes it to the sink.
pub struct FileSendImpl {
    sink: ExportSink,
}

#[tonic::async_trait]
impl FileSend for FileSendImpl {
    type DiffCopyStream = BoxStream<filesync::BytesMessage>;
    async fn diff_copy(
        &self,
        request: Request<Streaming<filesync::BytesMessage>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let mut writer = (self.sink)().map_err(Status::internal)?;
        let mut incoming = request.into_inner();
        while let Some(msg) = incoming.next().await {
            let msg = msg?;
            writer.write_all(&msg.data).await.map_err(|e| Status::internal(format!("export: {e}")))?;
        }
        writer.shutdown().await.map_err(|e| Status::internal(format!("export: {e}")))?;
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
}
