//! A known password never shows: every command (build-and-publish, push, tags ls/rm, cleanup,
//! config validate, login) runs at `-vvv` with `RUST_LOG=trace` against a
//! registry with basic auth, the password coming from the environment, from docker's
//! `config.json` (`auth` entry) or from `--password-stdin`; failing logins use a wrong one.
//! Neither password, nor any base64 form of it (alone or as `user:password`, as in a Basic
//! header or a docker config), may appear in stdout (text or JSON) or stderr. `ci-env` never
//! shows the CI job's token, in its script or its logs.

use crate::support::registry::Registry;
use crate::support::wharf::{Run, example, wharf};
use base64::Engine as _;
use std::io::Write as _;
use std::process::Stdio;

const USER: &str = "wharf-ci";
const PASSWORD: &str = "Pa55-S3cr3t-never-printed";
const WRONG: &str = "Wr0ng-S3cr3t-never-printed";

/// The texts that would give a password away.
fn forms(password: &str) -> Vec<String> {
    let engines = [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::URL_SAFE];
    let mut out = vec![password.to_string()];
    for e in engines {
        for raw in [password.to_string(), format!("{USER}:{password}")] {
            let b64 = e.encode(raw);
            // Without padding too (and so any text that contains the padded one).
            out.push(b64.trim_end_matches('=').to_string());
        }
    }
    out
}

/// Where the credential comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Env,
    DockerConfig,
    Stdin,
}

struct World {
    reg: Registry,
    project: tempfile::TempDir,
    docker_config: tempfile::TempDir,
}

impl World {
    fn repo(&self) -> String {
        format!("{}/flant", self.reg.host())
    }

    /// `wharf ARGS` at the most verbose level with `password` from `source`; checks that no
    /// form of either password shows, and returns the run.
    fn run(&self, source: Source, password: &str, args: &[&str]) -> Run {
        let mut all = vec!["-vvv"];
        all.extend_from_slice(args);
        let mut cmd = wharf(&all);
        cmd.env("RUST_LOG", "trace").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        match source {
            Source::Env => {
                cmd.env("WHARF_REGISTRY_USERNAME", USER).env("WHARF_REGISTRY_PASSWORD", password);
            }
            Source::DockerConfig => {
                let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
                let config = serde_json::json!({"auths": {self.reg.host(): {"auth": auth}}});
                std::fs::write(self.docker_config.path().join("config.json"), config.to_string()).unwrap();
                cmd.env("DOCKER_CONFIG", self.docker_config.path());
            }
            Source::Stdin => {
                if args.iter().any(|a| a.contains(&self.reg.host())) {
                    cmd.args(["--username", USER, "--password-stdin"]);
                }
            }
        }
        let mut child = cmd.spawn().expect("spawn wharf");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{password}");
        }
        let run = Run { output: child.wait_with_output().expect("wharf output") };
        let (stdout, stderr) = (run.stdout(), run.stderr());
        for secret in forms(PASSWORD).iter().chain(forms(WRONG).iter()) {
            for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                if let Some(at) = text.find(secret.as_str()) {
                    let line = text[..at].rsplit('\n').next().unwrap_or_default();
                    panic!("{source:?} {args:?}: {name} shows a password form {secret:?} after: {line}");
                }
            }
        }
        run
    }
}

#[test]
fn no_command_prints_the_password_at_the_most_verbose_level() {
    let w = World {
        reg: Registry::with_basic_auth(USER, PASSWORD),
        project: example("flant"),
        docker_config: tempfile::tempdir().unwrap(),
    };
    let dir = w.project.path().to_string_lossy().into_owned();
    let repo = w.repo();
    let backend = format!("{repo}/backend");
    let archive = w.project.path().join("base.tar");
    crate::support::engine::docker(&["save", "-o", archive.to_str().unwrap(), crate::support::engine::BASE_IMAGE]);
    let archive = archive.to_string_lossy().into_owned();
    for source in [Source::Env, Source::DockerConfig, Source::Stdin] {
        let tag = format!("{source:?}").to_lowercase();
        let publish = [
            "build-and-publish",
            "--dir",
            &dir,
            "--repo",
            &repo,
            "--tag-custom",
            "v1",
            "--tag-custom",
            &tag,
            "--output",
            "json",
        ];
        let out = w.run(source, PASSWORD, &publish);
        assert!(out.output.status.success(), "{source:?}: publish failed:\n{}", out.stderr());
        assert!(out.json()["images"].as_array().is_some_and(|a| a.len() == 2));
        assert!(out.stderr().contains("TRACE"), "the run really logged at trace level");

        let ls = w.run(source, PASSWORD, &["tags", "ls", &backend, "--output", "json"]);
        assert!(ls.output.status.success(), "{source:?}: tags ls failed:\n{}", ls.stderr());
        assert!(ls.stdout().contains(&tag));
        for output in ["text", "json"] {
            let dry =
                w.run(source, PASSWORD, &["tags", "rm", &format!("{backend}:{tag}"), "--dry-run", "--output", output]);
            assert!(dry.output.status.success(), "{}", dry.stderr());
            let plan = w.run(
                source,
                PASSWORD,
                &["cleanup", "--dir", &dir, "--repo", &repo, "--keep-last", "1", "--dry-run", "--output", output],
            );
            assert!(plan.output.status.success(), "{source:?}: cleanup --dry-run failed:\n{}", plan.stderr());
            let valid = w.run(source, PASSWORD, &["config", "validate", "--dir", &dir, "--output", output]);
            assert!(valid.output.status.success(), "{}", valid.stderr());
        }
        let pushed = w.run(source, PASSWORD, &["push", &archive, &format!("{repo}/pushed:{tag}"), "--output", "json"]);
        assert!(pushed.output.status.success(), "{source:?}: push failed:\n{}", pushed.stderr());
        let rm = w.run(source, PASSWORD, &["tags", "rm", &format!("{backend}:{tag}"), "--output", "json"]);
        assert!(rm.output.status.success(), "{source:?}: tags rm failed:\n{}", rm.stderr());

        // Failing logins: the wrong password is refused, and not shown either.
        for args in [
            vec!["tags", "ls", backend.as_str(), "--output", "json"],
            vec!["build-and-publish", "--dir", &dir, "--repo", &repo, "--tag-custom", "v2"],
            vec!["cleanup", "--dir", &dir, "--repo", &repo, "--keep-last", "1", "--dry-run"],
            vec!["push", &archive, &format!("{repo}/pushed:wrong")],
        ] {
            let refused = w.run(source, WRONG, &args);
            assert_eq!(refused.code(), 5, "{source:?} {args:?}: a rejected login exits 5:\n{}", refused.stderr());
            let err = refused.stderr();
            assert!(
                err.contains("rejected") || err.contains("401"),
                "{source:?} {args:?}: says the credential was rejected:\n{err}"
            );
            assert!(err.contains(USER), "{source:?}: names the user (not the password):\n{err}");
        }

        // `wharf login` checks, then stores the login in a docker config of its own: the
        // wrong password is refused, neither shows.
        if !matches!(source, Source::DockerConfig) {
            let store = tempfile::tempdir().unwrap();
            let (host, config) = (w.reg.host(), store.path().to_string_lossy().into_owned());
            let refused = w.run(source, WRONG, &["login", &host, "--docker-config", &config]);
            assert_eq!(refused.code(), 5, "{source:?}: a rejected login exits 5:\n{}", refused.stderr());
            for output in ["text", "json"] {
                let ok = w.run(source, PASSWORD, &["login", &host, "--docker-config", &config, "--output", output]);
                assert!(ok.output.status.success(), "{source:?}: login failed:\n{}", ok.stderr());
            }
        }
    }
}

/// `wharf ci-env` writes the CI job's token into the session docker config only: not into the
/// script (printed, or written with --as-file / --as-env-file), not into any log line, at
/// `-vvv` with `RUST_LOG=trace`; `WERF_REPO_GITHUB_TOKEN` refers to `$GITHUB_TOKEN`.
#[test]
fn ci_env_never_prints_the_job_token() {
    let home = tempfile::tempdir().unwrap();
    for (ci, vars) in [
        (
            "gitlab",
            vec![
                ("CI_REGISTRY", "registry.example.com"),
                ("CI_REGISTRY_IMAGE", "registry.example.com/acme/shop"),
                ("CI_JOB_TOKEN", PASSWORD),
            ],
        ),
        ("github", vec![("GITHUB_REPOSITORY", "acme/shop"), ("GITHUB_ACTOR", USER), ("GITHUB_TOKEN", PASSWORD)]),
    ] {
        for form in [&[][..], &["--as-file"], &["--as-env-file"]] {
            let mut args = vec!["-vvv", "ci-env", ci];
            args.extend_from_slice(form);
            let mut cmd = wharf(&args);
            cmd.env("RUST_LOG", "trace")
                .env("HOME", home.path())
                .env_remove("DOCKER_CONFIG")
                .envs(vars.iter().copied());
            let out = cmd.output().expect("wharf ci-env");
            assert!(out.status.success(), "{ci} {form:?}: {}", String::from_utf8_lossy(&out.stderr));
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut texts =
                vec![("stdout", stdout.clone()), ("stderr", String::from_utf8_lossy(&out.stderr).into_owned())];
            if !form.is_empty() {
                texts.push(("the written file", std::fs::read_to_string(stdout.trim()).expect("the written file")));
            }
            for (name, text) in &texts {
                for secret in forms(PASSWORD) {
                    assert!(!text.contains(&secret), "{ci} {form:?}: {name} shows the token ({secret}):\n{text}");
                }
            }
            // The session docker config and the written file, left for the job: removed.
            let script = texts
                .iter()
                .find(|(n, _)| *n == "the written file")
                .or(texts.first())
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let config = script.lines().find_map(|l| {
                l.split_once("DOCKER_CONFIG")
                    .map(|(_, v)| v.trim_start_matches(['=', '"', ' ']).trim_end_matches('"').to_string())
            });
            if let Some(dir) = config.filter(|d| d.contains("wharf-docker-config-")) {
                let _ = std::fs::remove_dir_all(dir);
            }
            if !form.is_empty() {
                let _ = std::fs::remove_file(stdout.trim());
            }
        }
    }
}
