//! The Docker engine the e2e tests build with. `scripts/test` starts one and exports
//! `WHARF_TEST_DOCKER_HOST`; without it the tests use `DOCKER_HOST` or the default socket,
//! and fail with a hint when no engine answers (never a silent skip).

use std::process::Command;
use std::sync::OnceLock;

/// The base image `scripts/lib.sh` imports from busybox-static.
pub const BASE_IMAGE: &str = "wharf-example/busybox:1";

pub fn docker_host() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let host = std::env::var("WHARF_TEST_DOCKER_HOST")
            .or_else(|_| std::env::var("DOCKER_HOST"))
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let ok = Command::new("docker").env("DOCKER_HOST", &host).args(["image", "inspect", BASE_IMAGE]).output();
        match ok {
            Ok(o) if o.status.success() => host,
            Ok(o) => panic!(
                "no engine with {BASE_IMAGE} at {host}: {}\nrun the tests through scripts/test, which starts dockerd and imports the base image",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run the docker CLI: {e}; run the tests through scripts/test"),
        }
    })
    .clone()
}

/// Runs the docker CLI against the test engine; panics with its output on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").env("DOCKER_HOST", docker_host()).args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pushes the busybox base image to `registry` as `base/busybox:1`; returns the reference.
pub fn push_base(registry: &str) -> String {
    let reference = format!("{registry}/base/busybox:1");
    docker(&["tag", BASE_IMAGE, &reference]);
    docker(&["push", &reference]);
    reference
}
