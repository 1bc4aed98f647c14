//! Case 5, serving under load: `wharf serve` (a static root) and distribution 2.8 (Debian's
//! docker-registry, filesystem storage) serve the same image, one layer of incompressible
//! noise, on loopback, and take the same load, each phase on a fresh server:
//!
//! - **downloads**: N clients GET the layer at once, each reading as fast as it can, for T
//!   seconds (then they hang up: bounded in time, whatever the throughput);
//! - **idle**: M connections that never send a byte, held for T seconds (slowloris);
//! - **idle, 1024 files**: the same with the server limited to 1024 open files
//!   (`prlimit --nofile=1024:1024`), as on a default `ulimit -n`.
//!
//! During every phase a normal client GETs the image's manifest on a fresh connection every
//! 100 ms (10 s timeout): its latency is what a user would see. Reported per phase: the
//! server's peak RSS (`VmHWM` of its process at the end), errors (a download that failed or
//! got no answer by the end; a normal request that failed or timed out), bytes moved, and the
//! normal client's latency (median, p99, max).

use anyhow::{Context as _, Result, ensure};
use serde::{Deserialize, Serialize};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::registry::{Registry, RegistryConfig};
use crate::support::{Env, mib, write_noise};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub downloads: usize,
    pub layer_bytes: u64,
    pub idle: usize,
    pub secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    pub server: String,
    pub phase: String,
    pub connections: usize,
    pub secs: f64,
    pub peak_rss_mib: f64,
    /// Downloads that failed or had no answer by the end, plus failed normal requests.
    pub errors: usize,
    /// Downloads answered 200 / read to the end.
    pub answered: usize,
    pub completed: usize,
    /// Idle connections the server had closed by the end.
    pub closed_by_server: usize,
    pub bytes: u64,
    pub normal: Latency,
    /// A few of the errors, for the record.
    pub error_samples: Vec<String>,
}

/// The normal client's requests during a phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub requests: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn run(env: &Env, load: Load) -> Result<Vec<Phase>> {
    raise_open_files();
    let dir = env.fresh_dir("serve")?;
    let layout = dir.join("layout");
    write_layout(&layout, load.layer_bytes)?;
    let root = dir.join("site");
    crate::support::run(&mut env.wharf(&[
        "push",
        &layout.to_string_lossy(),
        "bench/serve:1",
        "--static-root",
        &root.to_string_lossy(),
        "--no-default-annotations",
    ]))?;
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("v2/bench/serve/manifests/1"))?)?;
    let layer = manifest["layers"][0]["digest"].as_str().context("layer digest")?.to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut out = Vec::new();
    let phases: [(&str, Option<u64>); 3] = [("downloads", None), ("idle", None), ("idle, 1024 files", Some(1024))];
    // For tuning runs: WHARF_BENCH_SERVERS=wharf skips distribution, WHARF_BENCH_SERVE_ARGS
    // adds flags to `wharf serve` (e.g. `--buffer 8192`).
    let only = std::env::var("WHARF_BENCH_SERVERS").unwrap_or_default();
    for server in ["wharf serve", "distribution 2.8"].into_iter().filter(|s| only.is_empty() || s.starts_with(&only)) {
        for (phase, nofile) in phases {
            eprintln!("  {server}: {phase}");
            let running = match server {
                "wharf serve" => Server::wharf(env, &root, nofile)?,
                _ => Server::distribution(env, &layout, nofile)?,
            };
            let p = runtime.block_on(measure(&running, server, phase, &layer, load));
            eprintln!(
                "    peak RSS {:.1} MiB, {} errors, {} answered, {:.0} MiB moved; normal client p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} failed of {})",
                p.peak_rss_mib,
                p.errors,
                p.answered,
                mib(p.bytes),
                p.normal.p50_ms,
                p.normal.p99_ms,
                p.normal.max_ms,
                p.normal.failed,
                p.normal.requests
            );
            out.push(p);
        }
    }
    Ok(out)
}

/// Checks what quick mode can: every download answered, no error, the normal client served,
/// wharf's memory within its bound.
pub fn check(phases: &[Phase]) -> Result<()> {
    for p in phases.iter().filter(|p| !p.phase.contains("1024")) {
        ensure!(
            p.normal.requests > 0 && p.normal.failed == 0,
            "{} {}: the normal client failed: {p:?}",
            p.server,
            p.phase
        );
        if p.phase == "downloads" {
            ensure!(p.errors == 0 && p.answered == p.connections && p.bytes > 0, "{} downloads: {p:?}", p.server);
        }
        if p.server == "wharf serve" {
            ensure!(p.peak_rss_mib <= 64.0, "wharf serve {}: peak RSS {:.1} MiB, over 64 MiB", p.phase, p.peak_rss_mib);
        }
    }
    Ok(())
}

async fn measure(server: &Server, name: &str, phase: &str, layer: &str, load: Load) -> Phase {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(load.secs);
    let normal = tokio::spawn(normal_client(server.addr.clone(), deadline));
    let started = Instant::now();
    let (mut errors, mut answered, mut completed, mut closed, mut bytes, mut samples) = (0, 0, 0, 0, 0, Vec::new());
    if phase == "downloads" {
        let path = format!("/v2/bench/serve/blobs/{layer}");
        let tasks: Vec<_> =
            (0..load.downloads).map(|_| tokio::spawn(download(server.addr.clone(), path.clone(), deadline))).collect();
        for t in tasks {
            let d = t.await.unwrap_or_else(|e| Download { error: Some(e.to_string()), ..Default::default() });
            answered += usize::from(d.answered);
            completed += usize::from(d.completed);
            bytes += d.bytes;
            if let Some(e) = d.error {
                errors += 1;
                if samples.len() < 5 {
                    samples.push(e);
                }
            }
        }
    } else {
        let mut idle = Vec::new();
        for _ in 0..load.idle {
            match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&server.addr)).await {
                Ok(Ok(s)) => idle.push(s),
                other => {
                    errors += 1;
                    if samples.len() < 5 {
                        samples.push(format!("idle connect: {other:?}"));
                    }
                }
            }
        }
        tokio::time::sleep_until(deadline).await;
        for mut s in idle {
            let mut b = [0u8; 16];
            if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                closed += 1;
            }
        }
    }
    let normal = normal.await.unwrap_or_default();
    errors += normal.failed;
    Phase {
        server: name.into(),
        phase: phase.into(),
        connections: if phase == "downloads" { load.downloads } else { load.idle },
        secs: started.elapsed().as_secs_f64(),
        peak_rss_mib: server.peak_rss_kib() as f64 / 1024.0,
        errors,
        answered,
        completed,
        closed_by_server: closed,
        bytes,
        normal,
        error_samples: samples,
    }
}

#[derive(Debug, Default)]
struct Download {
    answered: bool,
    completed: bool,
    bytes: u64,
    error: Option<String>,
}

/// GETs `path` and reads until the body ends or `deadline` (then hangs up: not an error once
/// answered).
async fn download(addr: String, path: String, deadline: tokio::time::Instant) -> Download {
    let mut d = Download::default();
    let result = tokio::time::timeout_at(deadline, async {
        let mut s = TcpStream::connect(&addr).await.map_err(|e| format!("connect: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut head = Vec::new();
        let (status, length) = loop {
            let n = s.read(&mut buf).await.map_err(|e| format!("read head: {e}"))?;
            if n == 0 {
                return Err("closed before answering".to_string());
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&head[..end]).to_lowercase();
                let status = text.split(' ').nth(1).unwrap_or_default().to_string();
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                d.bytes = (head.len() - end - 4) as u64;
                break (status, length);
            }
        };
        if status != "200" {
            return Err(format!("status {status}"));
        }
        d.answered = true;
        while d.bytes < length {
            let n = s.read(&mut buf).await.map_err(|e| format!("read body: {e}"))?;
            if n == 0 {
                return Err(format!("closed after {} of {length} bytes", d.bytes));
            }
            d.bytes += n as u64;
        }
        d.completed = true;
        Ok(())
    })
    .await;
    match result {
        Ok(Err(e)) => d.error = Some(e),
        Err(_) if !d.answered => d.error = Some("no answer by the end".into()),
        _ => {}
    }
    d
}

/// A GET of the manifest on a fresh connection every 100 ms until `deadline`.
async fn normal_client(addr: String, deadline: tokio::time::Instant) -> Latency {
    let mut times = Vec::new();
    let mut failed = 0;
    let mut tasks = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let r = tokio::time::timeout(Duration::from_secs(10), async {
                let mut s = TcpStream::connect(&addr).await?;
                s.write_all(format!("GET /v2/bench/serve/manifests/1 HTTP/1.1\r\nHost: {addr}\r\nAccept: {OCI_MANIFEST}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
                let mut body = Vec::new();
                s.read_to_end(&mut body).await?;
                Ok::<bool, std::io::Error>(body.starts_with(b"HTTP/1.1 200"))
            })
            .await;
            (matches!(r, Ok(Ok(true))), started.elapsed())
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        match t.await {
            Ok((true, took)) => times.push(took.as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times.get(((times.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    Latency {
        requests: times.len() + failed,
        failed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: times.last().copied().unwrap_or(f64::NAN),
    }
}

/// A server of one phase, stopped when dropped.
struct Server {
    addr: String,
    pid: u32,
    wharf_process: Option<Child>,
    /// Kept alive for the phase (dropping it stops the registry).
    _registry: Option<Registry>,
}

impl Server {
    fn wharf(env: &Env, root: &std::path::Path, nofile: Option<u64>) -> Result<Server> {
        let extra = std::env::var("WHARF_BENCH_SERVE_ARGS").unwrap_or_default();
        let mut args =
            vec!["serve".to_string(), root.to_string_lossy().into_owned(), "--addr".into(), "127.0.0.1:0".into()];
        args.extend(extra.split_whitespace().map(str::to_string));
        let serve = env.wharf(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(serve.get_program()).args(serve.get_args());
                c.envs(serve.get_envs().filter_map(|(k, v)| Some((k, v?))));
                c
            }
            None => serve,
        };
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("wharf serve")?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line.trim().rsplit("http://").next().unwrap_or_default().to_string();
        ensure!(addr.starts_with("127.0.0.1:"), "wharf serve printed {line:?}");
        Ok(Server { addr, pid: child.id(), wharf_process: Some(child), _registry: None })
    }

    fn distribution(env: &Env, layout: &std::path::Path, nofile: Option<u64>) -> Result<Server> {
        let reg = Registry::start_with(RegistryConfig { nofile, ..Default::default() });
        let dest = format!("{}/bench/serve:1", reg.host());
        crate::support::run(&mut env.wharf(&["push", &layout.to_string_lossy(), &dest, "--no-default-annotations"]))?;
        Ok(Server { addr: reg.host(), pid: reg.pid(), wharf_process: None, _registry: Some(reg) })
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.wharf_process.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One image: an empty-ish config and one layer of `bytes` of noise (served as is).
fn write_layout(dir: &std::path::Path, bytes: u64) -> Result<()> {
    use sha2::Digest as _;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let noise = dir.join("noise");
    write_noise(&noise, bytes, 5)?;
    let hash = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let layer = hex::encode(sha2::Sha256::digest(std::fs::read(&noise)?));
    std::fs::rename(&noise, blobs.join(&layer))?;
    let config = serde_json::to_vec(
        &serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
    )?;
    std::fs::write(blobs.join(hash(&config)), &config)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", hash(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{layer}"), "size": bytes}],
    }))?;
    std::fs::write(blobs.join(hash(&manifest)), &manifest)?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", hash(&manifest)), "size": manifest.len()}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

/// The load needs thousands of sockets: this process's soft limit goes up to the hard one.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}
