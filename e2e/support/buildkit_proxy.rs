//! The engine's embedded BuildKit as a BuildKit daemon would be reached: its control API
//! (`POST /grpc`, upgraded to h2c on the engine's socket) served on a unix socket, or on a
//! loopback TCP port behind TLS that demands a client certificate. Each connection is upgraded
//! on the engine and its bytes spliced through untouched, so wharf speaks to it exactly as to
//! a `buildkitd` (`--buildkit-host`): HTTP/2 gRPC, the session over `Control.Session`.

use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub struct BuildKitProxy {
    /// `unix:///…` or `tcp://127.0.0.1:PORT`.
    pub address: String,
    /// Connections accepted (TLS handshakes included, failed or not).
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

/// Certificates for a TLS proxy: (CA PEM, server chain PEM, server key PEM, client cert PEM,
/// client key PEM), all from one private CA; the server's for 127.0.0.1.
pub fn certificates() -> (String, String, String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "wharf buildkit test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
        params.extended_key_usages.push(usage);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (format!("{}{}", cert.pem(), ca.pem()), key.serialize_pem())
    };
    let (server, server_key) = leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
    let (client, client_key) = leaf("wharf-client", ExtendedKeyUsagePurpose::ClientAuth);
    (ca.pem(), server, server_key, client, client_key)
}

impl BuildKitProxy {
    /// On a unix socket.
    pub fn unix() -> BuildKitProxy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buildkitd.sock");
        let runtime = runtime();
        let listener = runtime.block_on(async { tokio::net::UnixListener::bind(&path) }).unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        runtime.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(splice(conn));
            }
        });
        BuildKitProxy { address: format!("unix://{}", path.display()), accepted, _dir: dir, _runtime: runtime }
    }

    /// On 127.0.0.1 behind TLS with the server certificate `chain`/`key`, accepting only
    /// clients whose certificate chains to `client_ca`.
    pub fn tls(chain: &str, key: &str, client_ca: &str) -> BuildKitProxy {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(client_ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(chain.as_bytes()).map(|c| c.unwrap()).collect();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap())
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = runtime();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        runtime.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(conn).await {
                        splice(tls).await;
                    }
                });
            }
        });
        BuildKitProxy {
            address: format!("tcp://127.0.0.1:{port}"),
            accepted,
            _dir: tempfile::tempdir().unwrap(),
            _runtime: runtime,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The engine's socket (the e2e engine must be on a unix socket).
fn engine_socket() -> PathBuf {
    let host = super::engine::docker_host();
    PathBuf::from(host.strip_prefix("unix://").expect("the test engine is reached on a unix:// socket"))
}

/// Upgrades a connection to the engine's `/grpc` and copies bytes both ways.
async fn splice(mut client: impl AsyncRead + AsyncWrite + Unpin) {
    let Ok(mut engine) = tokio::net::UnixStream::connect(engine_socket()).await else { return };
    let request =
        "POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n";
    if engine.write_all(request.as_bytes()).await.is_err() {
        return;
    }
    // The response head, byte by byte: what follows it is the engine's HTTP/2.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if engine.read_exact(&mut b).await.is_err() || head.len() > 8192 {
            return;
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
}
