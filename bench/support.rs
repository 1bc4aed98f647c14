//! What every case shares: statistics over repeated runs, running commands with their wall
//! time and peak RSS (`/usr/bin/time`), the `wharf` binary with a clean environment, request
//! counts from a registry's access log, and a description of the machine and its load.

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Repeated measurements of one quantity, with their median and spread.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub runs: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(runs: Vec<f64>) -> Stats {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Stats {
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            runs,
        }
    }

    /// `1.23 s (1.20–1.31, 5 runs)`.
    pub fn show(&self, unit: &str) -> String {
        format!("{:.3} {unit} ({:.3}–{:.3}, {} runs)", self.median, self.min, self.max, self.runs.len())
    }
}

/// What one command did: wall time, peak resident set, output.
#[derive(Debug)]
pub struct Timed {
    pub secs: f64,
    pub max_rss_kib: u64,
    /// User + system CPU time of the command.
    pub cpu_secs: f64,
    pub stdout: String,
}

/// Runs `cmd` under `/usr/bin/time` and fails with its output unless it exits 0.
pub fn timed(cmd: &mut Command) -> Result<Timed> {
    let rss_file = tempfile::NamedTempFile::new()?;
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.arg("-f").arg("%M %U %S").arg("-o").arg(rss_file.path()).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped.stdin(Stdio::null());
    let start = Instant::now();
    let out = wrapped.output().with_context(|| format!("running {:?}", cmd.get_program()))?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            tail(&stdout),
            tail(&stderr)
        );
    }
    // The last line is ours (a wrapped command may write its own lines first).
    let usage = std::fs::read_to_string(rss_file.path()).unwrap_or_default();
    let fields: Vec<f64> =
        usage.lines().last().unwrap_or_default().split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let (max_rss_kib, cpu_secs) = match fields[..] {
        [rss, user, sys] => (rss as u64, user + sys),
        _ => (0, f64::NAN),
    };
    Ok(Timed { secs, max_rss_kib, cpu_secs, stdout })
}

/// Runs `cmd` and returns its stdout; fails with its output unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}):\n{}\n{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            tail(&String::from_utf8_lossy(&out.stdout)),
            tail(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// How the suite runs the tools it compares.
#[derive(Debug, Clone)]
pub struct Env {
    pub wharf: PathBuf,
    pub docker_host: String,
    /// Scratch space for this run (projects, data, lock files, an empty docker config).
    pub work: PathBuf,
    pub runs: usize,
}

impl Env {
    /// `wharf ARGS…` with wharf's own variables cleared, a private lock directory, an empty
    /// docker config (no credentials) and the test engine.
    /// With `WHARF_BENCH_WRAP` set (e.g. `perf record -g -o /tmp/wharf.perf --`), wharf runs
    /// under that command: how the profiles in README were taken.
    pub fn wharf(&self, args: &[&str]) -> Command {
        let wrap = std::env::var("WHARF_BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut cmd = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(&self.wharf);
                c
            }
            None => Command::new(&self.wharf),
        };
        for (k, _) in std::env::vars() {
            if k.starts_with("WHARF_") || k.starts_with("GITHUB_") || k.starts_with("CI_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.env("DOCKER_HOST", &self.docker_host)
            .env("DOCKER_CONFIG", self.work.join("docker-config"))
            .env("WHARF_LOCK_DIR", self.work.join("locks"))
            .args(args);
        cmd
    }

    /// The docker CLI against the suite's engine.
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.docker_host).env("DOCKER_CONFIG", self.work.join("docker-config")).args(args);
        cmd
    }

    /// `scratch/NAME`, emptied.
    pub fn fresh_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.work.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// Requests found in a distribution access log (`"METHOD /path HTTP/1.1" status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Requests {
    pub total: usize,
    /// `METHOD kind`, kind being ping, manifests, blobs, uploads or tags.
    pub by_kind: BTreeMap<String, usize>,
}

impl Requests {
    /// From distribution's access log: `… "METHOD /path HTTP/1.1" status …`.
    pub fn parse(log: &str) -> Requests {
        let mut r = Requests::default();
        for line in log.lines() {
            let Some(request) = line.split('"').nth(1) else { continue };
            let mut parts = request.split(' ');
            let (Some(method), Some(path), Some(proto)) = (parts.next(), parts.next(), parts.next()) else { continue };
            if proto.starts_with("HTTP/") {
                r.add(method, path);
            }
        }
        r
    }

    /// From `crane registry serve`'s log: `DATE TIME METHOD /path [status …]`.
    pub fn parse_crane(log: &str) -> Requests {
        let mut r = Requests::default();
        for line in log.lines() {
            let mut parts = line.split_whitespace().skip(2);
            if let (Some(method), Some(path)) = (parts.next(), parts.next()) {
                r.add(method, path);
            }
        }
        r
    }

    fn add(&mut self, method: &str, path: &str) {
        if !path.starts_with("/v2") {
            return;
        }
        let path = path.split('?').next().unwrap_or(path);
        let kind = if path == "/v2/" {
            "ping"
        } else if path.contains("/blobs/uploads") {
            "uploads"
        } else if path.contains("/manifests/") {
            "manifests"
        } else if path.contains("/blobs/") {
            "blobs"
        } else if path.ends_with("/tags/list") {
            "tags"
        } else {
            "other"
        };
        self.total += 1;
        *self.by_kind.entry(format!("{method} {kind}")).or_default() += 1;
    }

    pub fn count(&self, key: &str) -> usize {
        self.by_kind.get(key).copied().unwrap_or(0)
    }
}

/// The machine the numbers were taken on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// `/proc/loadavg`'s 1-minute load when the suite started and ended.
    pub load_before: f64,
    pub load_after: f64,
    /// `openssl speed -evp sha256`, 16 KiB blocks, one core (bytes/s).
    pub sha256_per_core: f64,
    /// One core × cores: the hashing limit of case 3.
    pub sha256_limit: f64,
    pub profile: String,
    pub quick: bool,
    pub docker_version: String,
    pub skopeo_version: String,
    pub registry_version: String,
    /// Size of the measured wharf binary.
    #[serde(default)]
    pub wharf_binary_bytes: u64,
}

/// User + system CPU seconds this process has used so far (`/proc/self/stat`, 100 Hz ticks).
pub fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(f64::NAN)
}

/// SHA-256 throughput of one core with 16 KiB blocks, as `openssl speed` measures it.
pub fn openssl_sha256(seconds: u32) -> Result<f64> {
    let out = run(Command::new("openssl").args([
        "speed",
        "-seconds",
        &seconds.to_string(),
        "-bytes",
        "16384",
        "-evp",
        "sha256",
    ]))?;
    // The result line: `sha256   12345.67k` (1000s of bytes per second) for the one block size.
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with("sha256"))
        .context("no sha256 line in openssl's output")?;
    let value = line.split_whitespace().last().context("empty openssl line")?;
    let k: f64 = value.trim_end_matches('k').parse().with_context(|| format!("openssl speed printed {value:?}"))?;
    Ok(k * 1000.0)
}

pub fn version_of(cmd: &mut Command) -> String {
    run(cmd)
        .map(|s| s.lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// Deterministic incompressible bytes (xorshift64*), fast enough to write gigabytes.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn next_below(&mut self, n: u64) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b) % n.max(1)
    }
}

/// Writes `size` incompressible bytes to `path`.
pub fn write_noise(path: &Path, size: u64, seed: u64) -> Result<()> {
    use std::io::Write as _;
    let mut noise = Noise::new(seed);
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        noise.fill(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

/// Makes `dir` a git repository with one commit of everything in it (publish records need
/// a commit); returns the commit id.
pub fn git_commit_all(dir: &Path) -> Result<String> {
    let git = |args: &[&str]| {
        run(Command::new("git")
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@localhost")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@localhost")
            .args(args))
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "bench"])?;
    Ok(git(&["rev-parse", "HEAD"])?.trim().to_string())
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}
