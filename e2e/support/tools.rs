//! The third-party OCI tools the tests use as real peers: crane (a client, and
//! go-containerregistry's registry as a second server implementation), regctl and oras.
//! They are prebuilt in `../shared/tools/` beside the repository (`WHARF_TOOLS` overrides);
//! a missing tool fails the test with a hint, never a silent skip.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The directory holding crane, regctl, oras and the conformance suite.
pub fn dir() -> PathBuf {
    std::env::var_os("WHARF_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools"))
}

/// The path of tool `name`; panics with a hint when it is not there.
pub fn path(name: &str) -> PathBuf {
    let p = dir().join(name);
    assert!(
        p.is_file(),
        "{} not found: the e2e tests need the prebuilt tools of ../shared/tools (or WHARF_TOOLS=DIR)",
        p.display()
    );
    p
}

/// Runs `name ARGS…`; returns its output whatever the exit status.
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(path(name)).args(args).output().unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

/// Runs `name ARGS…` and returns its stdout; panics with its output on failure.
pub fn ok(name: &str, args: &[&str]) -> String {
    let out = run(name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `crane ARGS… --insecure` (plain HTTP on loopback).
pub fn crane(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--insecure");
    ok("crane", &all)
}

/// go-containerregistry's registry (`crane registry serve`), in memory, on a free loopback
/// port; killed when dropped. Unlike distribution it deletes single tags
/// (`DELETE …/manifests/<tag>`), keeps the tags of a manifest deleted by digest, and pages
/// tag lists by `n` without `Link`.
pub struct CraneRegistry {
    child: std::process::Child,
    port: u16,
}

impl CraneRegistry {
    pub fn start() -> CraneRegistry {
        let ip = std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST);
        for _ in 0..3 {
            let port = super::registry::free_port(ip);
            let child = Command::new(path("crane"))
                .args(["registry", "serve", "--address", &format!("127.0.0.1:{port}")])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start crane registry serve");
            let mut reg = CraneRegistry { child, port };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if matches!(reg.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if super::registry::answers_http(ip, port) {
                    return reg;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        panic!("crane registry serve did not start");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for CraneRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
