//! Running the `wharf` binary the way a user does, and reading what it published with
//! skopeo.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A copy of `examples/NAME` in a fresh temporary directory.
pub fn example(name: &str) -> tempfile::TempDir {
    copy_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name))
}

/// A copy of the project directory `src` (its `.wharf` state left out) in a fresh temporary
/// directory.
pub fn copy_of(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(src, dir.path());
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).expect("read example") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.file_name() == ".wharf" {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

/// `wharf build-and-publish --dir DIR --output json EXTRA…` with `env` set, run to its end.
pub fn build_and_publish(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["build-and-publish", "--dir", d.as_str(), "--output", "json"];
    args.extend_from_slice(extra);
    let mut cmd = wharf(&args);
    cmd.envs(env.iter().copied());
    run(cmd)
}

/// `wharf ARGS…` with a clean environment for wharf's own variables.
pub fn wharf(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
    clean_env(&mut cmd);
    cmd.args(args);
    cmd
}

/// `sh -c SCRIPT` in the environment [`wharf`] runs in, with `$WHARF` naming the binary (a
/// CI job's lines, e.g. sourcing `wharf ci-env`'s script before `wharf build`).
pub fn shell(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    clean_env(&mut cmd);
    cmd.env("WHARF", env!("CARGO_BIN_EXE_wharf")).arg("-c").arg(script);
    cmd
}

fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        let ours = ["WHARF_", "WERF_", "GITHUB_", "CI_"].iter().any(|p| k.starts_with(p));
        if ours || k == "DOCKER_HOST" {
            cmd.env_remove(k);
        }
    }
    cmd.env("DOCKER_HOST", super::engine::docker_host());
    cmd.env("DOCKER_CONFIG", std::env::temp_dir().join("wharf-e2e-empty-docker-config"));
    // The user cache (converted stages), shared by the tests as by a user's projects, kept
    // out of the real home.
    cmd.env("XDG_CACHE_HOME", Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache"));
}

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout(), self.stderr()))
    }
    /// Panics with wharf's output unless it exited 0.
    pub fn ok(self) -> Run {
        assert!(
            self.output.status.success(),
            "wharf failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
}

pub fn run(mut cmd: Command) -> Run {
    Run { output: cmd.output().expect("run wharf") }
}

/// The report entry of `image` (`None` for the nameless one).
pub fn image_report<'a>(report: &'a serde_json::Value, image: Option<&str>) -> &'a serde_json::Value {
    report["images"]
        .as_array()
        .expect("images array")
        .iter()
        .find(|i| i["name"].as_str() == image)
        .unwrap_or_else(|| panic!("no image {image:?} in report {report:#}"))
}

pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().expect("skopeo (apt-get install skopeo)");
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Tags of `registry/repo`, sorted, as skopeo lists them.
pub fn skopeo_tags(repo: &str) -> Vec<String> {
    let out = skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{repo}")]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("skopeo json");
    let mut tags: Vec<String> = v["Tags"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// The manifest digest skopeo sees for `transport_ref` (e.g. `docker://host/repo:tag`).
pub fn skopeo_digest(transport_ref: &str) -> String {
    let out = skopeo(&["inspect", "--tls-verify=false", "--format", "{{.Digest}}", transport_ref]);
    out.trim().to_string()
}

/// Copies the image with skopeo into a `dir:` and returns the content of `path` inside the
/// image's filesystem (the topmost layer that has it), or `None`.
pub fn file_in_image(transport_ref: &str, path: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = format!("dir:{}", dir.path().display());
    skopeo(&["copy", "--src-tls-verify=false", transport_ref, &dest]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest")).expect("json");
    let want = path.trim_start_matches('/');
    let mut found = None;
    for layer in manifest["layers"].as_array().expect("layers") {
        let digest = layer["digest"].as_str().expect("digest");
        let blob: PathBuf = dir.path().join(digest.trim_start_matches("sha256:"));
        let file = std::fs::File::open(&blob).expect("layer");
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in ar.entries().expect("tar") {
            let mut entry = entry.expect("entry");
            let p = entry.path().expect("path").to_string_lossy().trim_start_matches("./").to_string();
            if p == want {
                let mut s = String::new();
                entry.read_to_string(&mut s).expect("read");
                found = Some(s);
            }
        }
    }
    found
}

/// Requests in the registry's access log whose request line contains `needle`.
pub fn count_requests(log: &str, method: &str) -> usize {
    log.lines().filter(|l| l.contains(&format!("\"{method} /v2/"))).count()
}
