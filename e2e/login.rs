//! `wharf login` / `wharf logout` against the real distribution registry with htpasswd basic
//! auth: a wrong password is refused and nothing is stored; a right one is stored as docker
//! stores it (`auths` in `config.json`, mode 0600, or the configured credential helper), after
//! which wharf publishes with no credential flag and crane, skopeo and docker read the same
//! login; logout takes it away from all of them.

use crate::support::registry::Registry;
use crate::support::tools;
use crate::support::wharf::{Run, example, run, wharf};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const USER: &str = "alice";
const PASSWORD: &str = "corr3ct-h0rse-login";

/// A user's home: `~/.docker` is where every tool looks (HOME and DOCKER_CONFIG both say so).
struct Home {
    dir: tempfile::TempDir,
    /// Prepended to PATH (credential helpers).
    bin: Option<PathBuf>,
}

impl Home {
    fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap(), bin: None }
    }

    fn docker_config(&self) -> PathBuf {
        self.dir.path().join(".docker")
    }

    fn config_json(&self) -> PathBuf {
        self.docker_config().join("config.json")
    }

    /// The environment every tool of the test gets: this home, no other place for logins.
    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", self.dir.path()).env("DOCKER_CONFIG", self.docker_config());
        cmd.env_remove("REGISTRY_AUTH_FILE").env_remove("XDG_RUNTIME_DIR");
        if let Some(bin) = &self.bin {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()));
        }
    }

    /// `wharf ARGS`, with `stdin` written to its standard input.
    fn wharf(&self, args: &[&str], stdin: &str) -> Run {
        let mut cmd = wharf(args);
        self.env(&mut cmd);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn wharf");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        Run { output: child.wait_with_output().expect("wharf output") }
    }

    fn login(&self, host: &str, password: &str) -> Run {
        self.wharf(&["login", host, "-u", USER, "--password-stdin"], &format!("{password}\n"))
    }

    /// Whether `tool` (crane, skopeo, docker) can read `reference` with this home's logins.
    fn can_read(&self, tool: &str, reference: &str) -> bool {
        let mut cmd = match tool {
            "crane" => {
                let mut c = Command::new(tools::path("crane"));
                c.args(["manifest", "--insecure", reference]);
                c
            }
            "skopeo" => {
                let mut c = Command::new("skopeo");
                c.args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")]);
                c
            }
            "docker" => {
                let mut c = Command::new("docker");
                c.env("DOCKER_HOST", crate::support::engine::docker_host()).args(["pull", "-q", reference]);
                c
            }
            other => panic!("no tool {other}"),
        };
        self.env(&mut cmd);
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        out.status.success()
    }
}

/// Publishes the nameless example to `repo` with no credential flag at all.
fn publish(home: &Home, repo: &str, tag: &str) -> Run {
    let project = example("nameless");
    let dir = project.path().to_string_lossy().into_owned();
    home.wharf(&["build-and-publish", "--dir", &dir, "--repo", repo, "--tag-custom", tag], "")
}

#[test]
fn a_login_is_checked_stored_as_docker_does_and_read_by_wharf_crane_skopeo_and_docker() {
    let reg = Registry::with_basic_auth(USER, PASSWORD);
    let host = reg.host();
    let home = Home::new();

    let refused = home.login(&host, "wrong-h0rse-login");
    assert_eq!(refused.code(), 5, "a rejected login exits 5:\n{}", refused.stderr());
    assert!(refused.stderr().contains("rejected") && !refused.stderr().contains("wrong-h0rse"), "{}", refused.stderr());
    assert!(!home.config_json().exists(), "nothing is stored for a refused login");
    let anonymous = publish(&home, &format!("{host}/hello"), "v0");
    assert_eq!(anonymous.code(), 5, "no login yet: {}", anonymous.stderr());
    assert!(
        anonymous.stderr().contains(&format!("wharf login {host}")),
        "the hint says how to log in:\n{}",
        anonymous.stderr()
    );

    let ok = home.login(&host, PASSWORD).ok();
    assert!(ok.stdout().contains(&format!("Logged in to {host} as {USER}")), "{}", ok.stdout());
    assert!(ok.stderr().contains("not encrypted"), "a plain-text login is said so:\n{}", ok.stderr());
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(home.config_json()).unwrap()).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert_eq!(config["auths"][&host]["auth"], auth.as_str(), "docker's own format: {config}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(home.config_json()).unwrap().permissions().mode() & 0o777, 0o600);

    // No flag, no variable: the stored login is used.
    publish(&home, &format!("{host}/hello"), "v1").ok();
    let reference = format!("{host}/hello:v1");
    for tool in ["crane", "skopeo", "docker"] {
        assert!(home.can_read(tool, &reference), "{tool} reads {reference} with the stored login");
    }
    crate::support::engine::docker(&["rmi", &reference]);

    let out = home.wharf(&["logout", &host], "").ok();
    assert!(out.stdout().contains(&format!("Logged out of {host}")), "{}", out.stdout());
    for tool in ["crane", "skopeo"] {
        assert!(!home.can_read(tool, &reference), "{tool} no longer gets in after logout");
    }
    let again = home.wharf(&["logout", &host, "--output", "json"], "").ok().json();
    assert_eq!(again["removed"], false);
}

/// `docker-credential-e2efile` in `bin`: the test helper of `tests/fixtures`, which keeps each
/// login in a file of `bin/logins`, so the test can look.
fn file_helper(bin: &Path) {
    let path = bin.join("docker-credential-e2efile");
    std::fs::write(&path, include_str!("../tests/fixtures/docker-credential-file.sh")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn with_a_credential_store_the_password_goes_to_the_helper_and_every_tool_finds_it_there() {
    let reg = Registry::with_basic_auth(USER, PASSWORD);
    let host = reg.host();
    let mut home = Home::new();
    let bin = home.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    file_helper(&bin);
    home.bin = Some(bin.clone());
    std::fs::create_dir_all(home.docker_config()).unwrap();
    std::fs::write(home.config_json(), r#"{"credsStore": "e2efile", "psFormat": "table {{.ID}}"}"#).unwrap();

    let ok = home.login(&host, PASSWORD).ok();
    assert!(ok.stdout().contains("docker-credential-e2efile"), "{}", ok.stdout());
    assert!(!ok.stderr().contains("not encrypted"), "{}", ok.stderr());
    let text = std::fs::read_to_string(home.config_json()).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("\"auth\""), "the file holds no secret: {text}");
    assert!(text.contains("psFormat"), "the rest of the file stays: {text}");
    let held: Vec<_> = std::fs::read_dir(bin.join("logins")).unwrap().collect();
    assert_eq!(held.len(), 1, "the helper holds the login");

    publish(&home, &format!("{host}/hello"), "v1").ok();
    for tool in ["crane", "docker"] {
        assert!(home.can_read(tool, &format!("{host}/hello:v1")), "{tool} asks the helper");
    }
    crate::support::engine::docker(&["rmi", &format!("{host}/hello:v1")]);

    home.wharf(&["logout", &host], "").ok();
    assert_eq!(std::fs::read_dir(bin.join("logins")).unwrap().count(), 0, "erased from the helper");
    assert!(!home.can_read("crane", &format!("{host}/hello:v1")));
}

#[test]
fn a_registry_that_asks_for_no_login_is_said_so() {
    let reg = Registry::start();
    let home = Home::new();
    let out = home.login(&reg.host(), PASSWORD).ok();
    assert!(out.stderr().contains("lets anyone in"), "{}", out.stderr());
    let missing = run({
        let mut c = wharf(&["login", &reg.host(), "-u", USER]);
        home.env(&mut c);
        c.stdin(Stdio::null());
        c
    });
    assert_eq!(missing.code(), 2, "no password and no terminal: {}", missing.stderr());
    assert!(missing.stderr().contains("--password-stdin"), "{}", missing.stderr());
}
