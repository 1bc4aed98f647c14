//! A real distribution registry (Debian's `docker-registry`, distribution 2.8) for tests.
//!
//! [`Registry::start`] writes a config into a temporary directory (filesystem storage there,
//! deletes enabled, `http.addr` on a free loopback port, optional htpasswd basic auth with a
//! bcrypt hash), spawns `docker-registry serve CONFIG`, and waits until `/v2/` answers. The
//! process is killed when the fixture is dropped. Its log (with the access log, so tests can
//! count requests) stays in the temp dir until then.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary Debian installs.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How the registry is configured.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `(user, password)` for htpasswd basic auth; `None` for an open registry.
    pub basic_auth: Option<(String, String)>,
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
    /// `(certificate chain PEM, key PEM)` to serve HTTPS (`http.tls`).
    pub tls: Option<(String, String)>,
    /// The address to listen on (default 127.0.0.1).
    pub ip: Option<std::net::IpAddr>,
    /// The process's limit of open files (`prlimit --nofile`), e.g. to load it like a small
    /// server; `None` inherits ours.
    pub nofile: Option<u64>,
    /// Where its directory (config, storage, log) is made; `None`: the system's temp dir.
    /// The bench keeps pushed gigabytes in memory (`/dev/shm`), off the shared disk.
    pub parent: Option<PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig { basic_auth: None, delete_enabled: true, tls: None, ip: None, nofile: None, parent: None }
    }
}

pub struct Registry {
    child: Child,
    ip: std::net::IpAddr,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry with deletes enabled.
    pub fn start() -> Registry {
        Self::start_with(RegistryConfig::default())
    }

    /// A registry that requires `user`/`password` (htpasswd, bcrypt).
    pub fn with_basic_auth(user: &str, password: &str) -> Registry {
        Self::start_with(RegistryConfig { basic_auth: Some((user.into(), password.into())), ..Default::default() })
    }

    pub fn start_with(config: RegistryConfig) -> Registry {
        // The free port is found by binding and releasing it; another process may grab it in
        // between, so a failed start is retried on a new port.
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = match &config.parent {
                Some(parent) => tempfile::tempdir_in(parent),
                None => tempfile::tempdir(),
            }
            .expect("temp dir");
            let ip = config.ip.unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
            let port = free_port(ip);
            let config_path = write_config(dir.path(), ip, port, &config);
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut cmd = match config.nofile {
                Some(n) => {
                    let mut c = Command::new("prlimit");
                    c.arg(format!("--nofile={n}:{n}")).arg("--").arg(REGISTRY_BIN);
                    c
                }
                None => Command::new(REGISTRY_BIN),
            };
            let child = cmd
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN}: {e} (apt-get install docker-registry)"));
            let mut registry = Registry { child, ip, port, dir };
            if registry.wait_ready(Duration::from_secs(15)) {
                return registry;
            }
            last_log = registry.log();
        }
        panic!("docker-registry did not start; its log:\n{last_log}");
    }

    /// The registry's process id (prlimit execs it in place), for the bench's RSS readings.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:PORT` (or the address it was started on).
    pub fn host(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }

    /// What the registry wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The filesystem storage root, e.g. to damage a tag on purpose.
    pub fn storage_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// How many access-log lines contain `needle`, e.g. `"PATCH /v2/a/blobs/uploads/`.
    pub fn count_requests(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Every repository the registry holds (`GET /v2/_catalog`), sorted.
    pub fn catalog(&self) -> Vec<String> {
        let body = http_get(self.ip, self.port, "/v2/_catalog?n=1000");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("catalog ({e}): {body}"));
        let mut repos: Vec<String> = v["repositories"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r.as_str().map(String::from)).collect())
            .unwrap_or_default();
        repos.sort();
        repos
    }

    /// Tags of `repo`, sorted; none for a repository that has blobs but no tag yet.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let body = http_get(self.ip, self.port, &format!("/v2/{repo}/tags/list"));
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("tags of {repo} ({e}): {body}"));
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// Digests of every blob in storage (all repositories share one blob store).
    pub fn stored_blobs(&self) -> std::collections::BTreeSet<String> {
        let root = self.storage_dir().join("docker/registry/v2/blobs/sha256");
        let mut out = std::collections::BTreeSet::new();
        for prefix in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for blob in std::fs::read_dir(prefix.path()).into_iter().flatten().flatten() {
                if blob.path().join("data").is_file() {
                    out.insert(format!("sha256:{}", blob.file_name().to_string_lossy()));
                }
            }
        }
        out
    }

    /// Digests of every manifest any repository holds (distribution keeps manifests in the
    /// blob store too; this tells them apart from layers and configs).
    pub fn stored_manifests(&self) -> std::collections::BTreeSet<String> {
        fn walk(dir: &Path, out: &mut std::collections::BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.ends_with("_manifests/revisions/sha256") {
                    for rev in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                        out.insert(format!("sha256:{}", rev.file_name().to_string_lossy()));
                    }
                } else if path.is_dir() {
                    walk(&path, out);
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        walk(&self.storage_dir().join("docker/registry/v2/repositories"), &mut out);
        out
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if answers_http(self.ip, self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port(ip: std::net::IpAddr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Whether something answers HTTP (a TLS server answers plain HTTP with a 400 too).
pub(crate) fn answers_http(ip: std::net::IpAddr, port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((ip, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// The body of `GET path` (HTTP/1.0, so the server closes when done). Plain HTTP only.
pub(crate) fn http_get(ip: std::net::IpAddr, port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect((ip, port)).expect("connect to the registry");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\n\r\n").expect("request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("response");
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

fn write_config(dir: &Path, ip: std::net::IpAddr, port: u16, config: &RegistryConfig) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("storage dir");
    let auth = match &config.basic_auth {
        Some((user, password)) => {
            let hash = bcrypt::hash(password, 5).expect("bcrypt");
            let htpasswd = dir.join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
            format!("auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n", htpasswd.display())
        }
        None => String::new(),
    };
    let tls = match &config.tls {
        Some((cert, key)) => {
            let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
            std::fs::write(&cert_path, cert).expect("certificate");
            std::fs::write(&key_path, key).expect("key");
            format!("  tls:\n    certificate: {}\n    key: {}\n", cert_path.display(), key_path.display())
        }
        None => String::new(),
    };
    let addr = std::net::SocketAddr::new(ip, port);
    let yaml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n{tls}\
         {auth}",
        data.display(),
        config.delete_enabled,
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).expect("registry config");
    path
}
