//! Byte streams to a BuildKit daemon, and the gRPC channel over them.
//!
//! Two kinds of daemon speak the same control API (`moby.buildkit.v1.Control`):
//! - the Docker Engine's embedded BuildKit: an HTTP/1.1 `POST /grpc` upgraded to `h2c` on the
//!   engine's socket (what the docker CLI does); the build's session goes over `POST /session`
//!   upgraded the same way, where the engine is the HTTP/2 client and wharf serves;
//! - a BuildKit daemon (`buildkitd`, `--buildkit-host`): HTTP/2 straight on `unix://PATH` or
//!   `tcp://HOST:PORT`, with TLS and a client certificate when given; the session goes over
//!   the `Control.Session` stream.

use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream of any kind.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
pub type BoxIo = Pin<Box<dyn Io>>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{address}: {message}")]
    Connect { address: String, message: String },
    #[error(
        "{address}: the engine refused {path} ({status}): {body}\n  hint: the engine needs BuildKit (Docker 18.09 or later); `--builder legacy` uses the classic builder"
    )]
    Upgrade { address: String, path: String, status: u16, body: String },
    #[error("--buildkit-host {0:?}: expected unix:///path/to/buildkitd.sock or tcp://HOST:PORT")]
    BadAddress(String),
    #[error("{what} {}: {message}", path.display())]
    Tls { what: &'static str, path: PathBuf, message: String },
}

/// Where a socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl Address {
    /// `unix:///path` or `tcp://host:port` (DOCKER_HOST's and BUILDKIT_HOST's spellings).
    pub fn parse(s: &str) -> Result<Address, TransportError> {
        if let Some(path) = s.strip_prefix("unix://") {
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let rest = s.strip_prefix("tcp://").ok_or_else(|| TransportError::BadAddress(s.to_string()))?;
        let hostport = rest.trim_end_matches('/');
        match hostport.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Address::Tcp(hostport.to_string()))
            }
            _ => Err(TransportError::BadAddress(s.to_string())),
        }
    }

    fn host(&self) -> &str {
        match self {
            Address::Unix(_) => "localhost",
            Address::Tcp(hp) => {
                hp.rsplit_once(':').map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']')).unwrap_or(hp)
            }
        }
    }

    async fn connect(&self) -> Result<BoxIo, TransportError> {
        let fail = |e: std::io::Error| TransportError::Connect { address: self.to_string(), message: e.to_string() };
        Ok(match self {
            #[cfg(unix)]
            Address::Unix(p) => Box::pin(tokio::net::UnixStream::connect(p).await.map_err(fail)?),
            #[cfg(not(unix))]
            Address::Unix(_) => return Err(fail(std::io::Error::other("unix sockets need a unix system"))),
            Address::Tcp(hp) => {
                let s = tokio::net::TcpStream::connect(hp.as_str()).await.map_err(fail)?;
                let _ = s.set_nodelay(true);
                Box::pin(s)
            }
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Tcp(hp) => write!(f, "tcp://{hp}"),
        }
    }
}

/// TLS for a BuildKit daemon: its CA and, for mutual TLS, wharf's certificate and key
/// (buildctl's `--tlscacert`, `--tlscert`, `--tlskey`).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the daemon's certificate is checked against (default: the address's host).
    pub server_name: Option<String>,
}

impl TlsFiles {
    fn config(&self) -> Result<rustls::ClientConfig, TransportError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = |path: &PathBuf, what| {
            CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TransportError::Tls { what, path: path.clone(), message: e.to_string() })
        };
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for c in certs(ca, "CA certificate")? {
                    roots.add(c).map_err(|e| TransportError::Tls {
                        what: "CA certificate",
                        path: ca.clone(),
                        message: e.to_string(),
                    })?;
                }
            }
            None => {
                for c in rustls_native_certs_or_empty() {
                    let _ = roots.add(c);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Tls { what: "TLS setup", path: PathBuf::new(), message: e.to_string() })?
            .with_root_certificates(roots);
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = certs(cert, "client certificate")?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TransportError::Tls {
                    what: "client key",
                    path: key.clone(),
                    message: e.to_string(),
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| TransportError::Tls {
                    what: "client certificate",
                    path: cert.clone(),
                    message: e.to_string(),
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(p), None) | (None, Some(p)) => {
                return Err(TransportError::Tls {
                    what: "client certificate",
                    path: p.clone(),
                    message: "a client certificate needs its key and the key its certificate".into(),
                });
            }
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// The system's CA bundle (Debian's `ca-certificates`), for a daemon whose CA is not given.
fn rustls_native_certs_or_empty() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_file_iter(SYSTEM_CA_BUNDLE)
        .map(|it| it.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How wharf reaches a BuildKit daemon.
#[derive(Debug, Clone)]
pub enum Daemon {
    /// The Docker Engine at this address (its embedded BuildKit).
    Engine(Address),
    /// A BuildKit daemon, with TLS when `tls` is set.
    BuildKit { address: Address, tls: Option<Arc<TlsFiles>> },
}

impl Daemon {
    pub fn address(&self) -> &Address {
        match self {
            Daemon::Engine(a) | Daemon::BuildKit { address: a, .. } => a,
        }
    }

    /// A fresh stream to the daemon's control API.
    pub async fn connect_control(&self) -> Result<BoxIo, TransportError> {
        match self {
            Daemon::Engine(address) => upgrade(address, "/grpc", &[]).await,
            Daemon::BuildKit { address, tls: None } => address.connect().await,
            Daemon::BuildKit { address, tls: Some(tls) } => {
                let io = address.connect().await?;
                let config = Arc::new(tls.config()?);
                let name = tls.server_name.clone().unwrap_or_else(|| address.host().to_string());
                let server_name =
                    rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| TransportError::Connect {
                        address: address.to_string(),
                        message: format!("server name {name:?}: {e}"),
                    })?;
                let stream = tokio_rustls::TlsConnector::from(config).connect(server_name, io).await.map_err(|e| {
                    TransportError::Connect { address: address.to_string(), message: format!("TLS: {e}") }
                })?;
                Ok(Box::pin(stream))
            }
        }
    }

    /// A gRPC channel to the control API (one HTTP/2 connection).
    pub async fn channel(&self) -> Result<tonic::transport::Channel, TransportError> {
        let daemon = self.clone();
        let connector = tower::service_fn(move |_: http::Uri| {
            let daemon = daemon.clone();
            async move { daemon.connect_control().await.map(TokioIo::new) }
        });
        tonic::transport::Endpoint::from_static("http://buildkit.invalid")
            .connect_with_connector(connector)
            .await
            .map_err(|e| TransportError::Connect { address: self.address().to_string(), message: error_chain(&e) })
    }
}

/// An engine endpoint upgraded to `h2c`: `POST path` with `headers`, answered by 101.
pub async fn upgrade(address: &Address, path: &str, headers: &[(&str, String)]) -> Result<BoxIo, TransportError> {
    let fail = |message: String| TransportError::Connect { address: address.to_string(), message };
    let io = address.connect().await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| fail(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut req = http::Request::post(path)
        .header(http::header::HOST, "docker")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "h2c");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req.body(Empty::<bytes::Bytes>::new()).map_err(|e| fail(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(|e| fail(e.to_string()))?;
    if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        use http_body_util::BodyExt;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
            .unwrap_or_default();
        return Err(TransportError::Upgrade { address: address.to_string(), path: path.to_string(), status, body });
    }
    let upgraded = hyper::upgrade::on(resp).await.map_err(|e| fail(e.to_string()))?;
    Ok(Box::pin(TokioIo::new(upgraded)))
}

/// An error with its causes, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_buildctl() {
        assert_eq!(
            Address::parse("unix:///run/buildkit/buildkitd.sock").unwrap(),
            Address::Unix("/run/buildkit/buildkitd.sock".into())
        );
        assert_eq!(Address::parse("tcp://buildkitd:1234").unwrap(), Address::Tcp("buildkitd:1234".into()));
        assert_eq!(Address::parse("tcp://[::1]:1234").unwrap().host(), "::1");
        for bad in ["buildkitd:1234", "tcp://host", "tcp://:1", "docker-container://x", "kube-pod://x"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let tls = TlsFiles { cert: Some("/x/cert.pem".into()), ..TlsFiles::default() };
        let err = tls.config().unwrap_err().to_string();
        assert!(err.contains("needs its key"), "{err}");
    }
}
