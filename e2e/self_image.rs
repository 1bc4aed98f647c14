//! wharf publishes itself: the repository's own `Dockerfile`, `wharf.yaml` and
//! `.dockerignore`, with the wharf binary cargo built, are built and published by wharf to the
//! real registry; the image then runs (as a CI job would) and talks to that registry.
//!
//! The machine has no internet, so the base is made offline the way distroless's cc image is
//! made: busybox (from Debian's busybox-static, as `scripts/lib.sh` does) plus the C libraries
//! the binary links and the CA certificates.

use crate::support::engine::{docker, docker_host};
use crate::support::registry::Registry;
use crate::support::wharf::{run, skopeo, wharf};
use std::path::Path;
use std::process::Command;

/// The offline base: `wharf-e2e/cc-base:1`, imported once per engine.
const BASE: &str = "wharf-e2e/cc-base:1";

/// The shared libraries `binary` needs (absolute paths, from `ldd`).
fn linked_libraries(binary: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')).map(str::to_string))
        .collect()
}

/// Imports [`BASE`] unless the engine has it: busybox with its applets, the libraries wharf
/// links, the CA bundle, and a root user.
fn cc_base(binary: &Path) {
    let has = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["image", "inspect", BASE])
        .output()
        .expect("docker");
    if has.status.success() {
        return;
    }
    let rootfs = tempfile::tempdir().unwrap();
    let root = rootfs.path();
    for dir in ["bin", "tmp", "etc/ssl/certs"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox (apt-get install busybox-static)");
    for applet in ["sh", "ls", "cat", "echo", "env", "mkdir", "rm", "cp"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    for lib in linked_libraries(binary) {
        let to = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &to).unwrap_or_else(|e| panic!("{lib}: {e}"));
    }
    std::fs::copy("/etc/ssl/certs/ca-certificates.crt", root.join("etc/ssl/certs/ca-certificates.crt"))
        .expect("ca-certificates");
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let tar = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "--mtime=2000-01-01", "-C"])
        .arg(root)
        .args(["-cf", "-", "."])
        .output()
        .expect("tar");
    assert!(tar.status.success());
    let mut import = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["import", "-", BASE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker import");
    use std::io::Write as _;
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(import.wait().unwrap().success(), "docker import of the base failed");
}

#[test]
fn wharf_builds_and_publishes_its_own_image_which_then_runs() {
    let binary = Path::new(env!("CARGO_BIN_EXE_wharf"));
    cc_base(binary);
    let reg = Registry::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = tempfile::tempdir().unwrap();
    for file in ["Dockerfile", "wharf.yaml", ".dockerignore"] {
        std::fs::copy(root.join(file), project.path().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    // What `install -D target/release/wharf dist/wharf` does in the README, without the debug info.
    std::fs::create_dir_all(project.path().join("dist")).unwrap();
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(project.path().join("dist/wharf"))
        .arg(binary)
        .status()
        .expect("strip (binutils)");
    assert!(stripped.success());
    std::fs::write(project.path().join("notes.txt"), "not in the image: .dockerignore lets dist/wharf in only")
        .unwrap();

    let repo = format!("{}/wharf", reg.host());
    let dir = project.path().to_string_lossy().into_owned();
    let mut cmd =
        wharf(&["build-and-publish", "--dir", &dir, "--repo", &repo, "--tag-semver", "v0.1.0", "--output", "json"]);
    cmd.env("WHARF_IMAGE_BASE", BASE);
    let report = run(cmd).ok().json();
    assert_eq!(report["project"], "wharf");
    assert_eq!(report["images"][0]["references"][0], format!("{repo}:v0.1.0"));

    let config: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--config", "--tls-verify=false", &format!("docker://{repo}:0.1")]))
            .unwrap();
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/usr/local/bin/wharf"]));

    let image = format!("{repo}:0.1.0");
    docker(&["pull", "-q", &image]);
    let version = docker(&["run", "--rm", "--network", "none", &image, "--version"]);
    assert_eq!(version.trim(), format!("wharf {}", env!("CARGO_PKG_VERSION")));
    // As a CI job would use it: a shell, and wharf reaching the registry over the network.
    let listed = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "/bin/sh",
        &image,
        "-c",
        &format!("wharf tags ls {repo}"),
    ]);
    for tag in ["v0.1.0", "0.1.0", "0.1", "0"] {
        assert!(listed.lines().any(|l| l.trim() == tag), "{tag} in {listed}");
    }
    docker(&["rmi", &image]);

    // Only dist/wharf is in the context: another file changing rebuilds nothing.
    std::fs::write(project.path().join("notes.txt"), "edited").unwrap();
    let mut again =
        wharf(&["build-and-publish", "--dir", &dir, "--repo", &repo, "--tag-custom", "again", "--output", "json"]);
    again.env("WHARF_IMAGE_BASE", BASE);
    assert_eq!(run(again).ok().json()["images"][0]["built"], false);
}
