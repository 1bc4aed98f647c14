//! The CI recipes in `examples/ci/` run as written: each file is parsed, and the shell of each
//! job is run the way its CI runs it (GitHub Actions: `bash -eo pipefail` per `run:` step with
//! the workflow's, job's and step's `env:`; GitLab: the job's `before_script` and `script` in
//! one `sh -e`, with `variables:`), in a git checkout of a project, against the real
//! distribution registry with htpasswd basic auth.
//!
//! What the test stands in for, and nothing else: the CI's predefined variables (a push to
//! `main`, a `v1.2.3` tag, a schedule), its token (the registry password), the registry host
//! (`REGISTRY` / `CI_REGISTRY` name the local registry), the engine (the dind service is the
//! machine's engine), and the step that installs wharf (the wharf under test is on PATH).
//! A `${{ … }}` expression the test does not know fails it, so recipes stay runnable here.

use crate::support::registry::Registry;
use crate::support::wharf::example;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const USER: &str = "ci-bot";
const TOKEN: &str = "ci-t0ken-of-the-job";

fn recipe(path: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci").join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// A CI runner's machine: a checkout of the flant example (a git repository with a commit),
/// a home of its own, and the wharf under test on PATH.
struct Runner {
    checkout: tempfile::TempDir,
    home: tempfile::TempDir,
    bin: tempfile::TempDir,
    registry: Registry,
    commit: String,
}

impl Runner {
    fn new() -> Runner {
        let checkout = example("flant");
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["add", "-A"],
            &["-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qm", "first"],
        ] {
            git(checkout.path(), args);
        }
        let commit = git(checkout.path(), &["rev-parse", "HEAD"]).trim().to_string();
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wharf"), bin.path().join("wharf")).unwrap();
        Runner {
            checkout,
            home: tempfile::tempdir().unwrap(),
            bin,
            registry: Registry::with_basic_auth(USER, TOKEN),
            commit,
        }
    }

    /// A shell with the runner's environment (nothing of wharf's or the CI's from outside).
    fn shell(&self, program: &[&str], script: &str, vars: &BTreeMap<String, String>) -> Command {
        let mut cmd = Command::new(program[0]);
        cmd.args(&program[1..]).arg(script).current_dir(self.checkout.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("WHARF_") || k.starts_with("GITHUB_") || k.starts_with("CI_") || k.starts_with("DOCKER_") {
                cmd.env_remove(k);
            }
        }
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", self.bin.path().display())).env("HOME", self.home.path());
        cmd.env("XDG_CACHE_HOME", Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache"));
        cmd.envs(vars);
        // The engine the CI's dind service would be.
        cmd.env("DOCKER_HOST", crate::support::engine::docker_host());
        cmd
    }

    fn run(&self, what: &str, mut cmd: Command) {
        let out = cmd.output().expect("run the shell");
        assert!(
            out.status.success(),
            "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn tags(&self, repo: &str) -> Vec<String> {
        let out = Command::new(crate::support::tools::path("crane"))
            .args(["ls", "--insecure", &format!("{}/{repo}", self.registry.host())])
            .env("DOCKER_CONFIG", self.home.path().join(".docker"))
            .output()
            .expect("crane");
        assert!(out.status.success(), "crane ls {repo}: {}", String::from_utf8_lossy(&out.stderr));
        let mut tags: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        tags.sort();
        tags
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A map of strings from a YAML mapping (absent: empty).
fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `text` with its `${{ … }}` expressions evaluated from `known`; an unknown one fails.
fn expressions(text: &str, known: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end =
            rest[start..].find("}}").map(|e| start + e).unwrap_or_else(|| panic!("unclosed expression in {text:?}"));
        let expr = rest[start + 3..end].trim();
        let value = known.get(expr).unwrap_or_else(|| panic!("the test does not know the expression `{expr}`"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs every `run:` step of the GitHub workflow's jobs as Actions runs them, for an event
/// with `github` (GITHUB_* variables).
fn run_github(runner: &Runner, workflow: &str, github: &[(&str, &str)]) {
    let w = recipe(workflow);
    let known = BTreeMap::from([("secrets.GITHUB_TOKEN", TOKEN.to_string())]);
    let mut base: BTreeMap<String, String> = github.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    base.insert("GITHUB_ACTIONS".into(), "true".into());
    base.insert("GITHUB_ACTOR".into(), USER.into());
    base.insert("GITHUB_REPOSITORY".into(), "Acme/Shop".into());
    base.insert("GITHUB_SHA".into(), runner.commit.clone());
    base.insert("CI".into(), "true".into());
    let jobs = w["jobs"].as_object().unwrap_or_else(|| panic!("{workflow}: no jobs"));
    assert!(!jobs.is_empty());
    for (name, job) in jobs {
        let mut env = base.clone();
        env.extend(strings(&w["env"]));
        env.extend(strings(&job["env"]));
        // The only substitution: the registry is the local one.
        assert_eq!(env.get("REGISTRY").map(String::as_str), Some("ghcr.io"), "{workflow}: REGISTRY names ghcr.io");
        env.insert("REGISTRY".into(), runner.registry.host());
        let mut ran = 0;
        for step in job["steps"].as_array().unwrap_or_else(|| panic!("{workflow} {name}: no steps")) {
            let Some(script) = step["run"].as_str() else { continue };
            if step["id"] == "install-wharf" {
                continue;
            }
            let mut vars = env.clone();
            vars.extend(strings(&step["env"]).into_iter().map(|(k, v)| (k, expressions(&v, &known))));
            let script = expressions(script, &known);
            runner.run(
                &format!("{workflow} {name}: {}", step["name"]),
                runner.shell(&["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"], &script, &vars),
            );
            ran += 1;
        }
        assert!(ran >= 2, "{workflow} {name}: logs in and runs wharf");
    }
}

/// Runs the GitLab job `job` (default `before_script`, then its `script`) as GitLab runs it,
/// with `ci` (CI_* variables) and the file's `variables:`.
fn run_gitlab(runner: &Runner, job: &str, ci: &[(&str, &str)], pipeline_source: &str) {
    let file = recipe("gitlab-ci.yml");
    let j = &file[job];
    let rules = j["rules"].to_string();
    assert!(
        rules.contains(&format!("$CI_PIPELINE_SOURCE == \\\"{pipeline_source}\\\"")),
        "{job} runs for {pipeline_source}: {rules}"
    );
    let mut vars = strings(&file["variables"]);
    vars.extend(strings(&j["variables"]));
    let host = runner.registry.host();
    for (k, v) in [
        ("CI", "true".to_string()),
        ("GITLAB_CI", "true".to_string()),
        ("CI_PIPELINE_SOURCE", pipeline_source.to_string()),
        ("CI_REGISTRY", host.clone()),
        ("CI_REGISTRY_IMAGE", format!("{host}/acme/shop")),
        ("CI_REGISTRY_USER", USER.to_string()),
        ("CI_REGISTRY_PASSWORD", TOKEN.to_string()),
        ("CI_JOB_TOKEN", TOKEN.to_string()),
        ("CI_COMMIT_SHA", runner.commit.clone()),
    ] {
        vars.insert(k.into(), v);
    }
    vars.extend(ci.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let lines = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut script = lines(&file["default"]["before_script"]);
    script.extend(lines(&j["script"]));
    assert!(
        script.iter().any(|l| l.contains("wharf login"))
            && script.iter().filter(|l| l.starts_with("wharf ")).count() >= 1,
        "{job}: {script:?}"
    );
    runner.run(&format!("gitlab-ci.yml {job}"), runner.shell(&["sh", "-e", "-c"], &script.join("\n"), &vars));
}

#[test]
fn the_github_workflows_publish_on_push_and_tags_and_clean_up() {
    let runner = Runner::new();
    run_github(
        &runner,
        "github/publish.yml",
        &[("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "main"), ("GITHUB_EVENT_NAME", "push")],
    );
    let short = &runner.commit;
    for image in ["backend", "frontend"] {
        let tags = runner.tags(&format!("acme/shop/{image}"));
        assert!(tags.contains(&"main".to_string()) && tags.contains(short), "{image}: {tags:?}");
    }

    git(runner.checkout.path(), &["tag", "v1.2.3"]);
    run_github(
        &runner,
        "github/publish.yml",
        &[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.2.3"), ("GITHUB_EVENT_NAME", "push")],
    );
    let tags = runner.tags("acme/shop/backend");
    for t in ["v1.2.3", "1.2.3", "1.2", "1", "latest", "main"] {
        assert!(tags.contains(&t.to_string()), "{t} in {tags:?}");
    }

    run_github(
        &runner,
        "github/cleanup.yml",
        &[("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "main"), ("GITHUB_EVENT_NAME", "schedule")],
    );
    assert_eq!(runner.tags("acme/shop/backend"), tags, "what main and v1.2.3 publish stays");
}

#[test]
fn the_gitlab_pipeline_publishes_on_push_and_tags_and_cleans_up_on_schedule() {
    let runner = Runner::new();
    run_gitlab(&runner, "publish", &[("CI_COMMIT_BRANCH", "main"), ("CI_COMMIT_REF_NAME", "main")], "push");
    let tags = runner.tags("acme/shop/frontend");
    assert!(tags.contains(&"main".to_string()) && tags.contains(&runner.commit), "{tags:?}");

    git(runner.checkout.path(), &["tag", "v2.0.1"]);
    run_gitlab(&runner, "release", &[("CI_COMMIT_TAG", "v2.0.1"), ("CI_COMMIT_REF_NAME", "v2.0.1")], "push");
    let tags = runner.tags("acme/shop/frontend");
    for t in ["v2.0.1", "2.0.1", "2.0", "2", "latest"] {
        assert!(tags.contains(&t.to_string()), "{t} in {tags:?}");
    }

    run_gitlab(&runner, "cleanup", &[("CI_COMMIT_BRANCH", "main"), ("CI_COMMIT_REF_NAME", "main")], "schedule");
    assert_eq!(runner.tags("acme/shop/frontend"), tags, "what main and v2.0.1 publish stays");
}

#[test]
fn every_ci_recipe_is_parsed_and_run_by_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci");
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in walk(&dir) {
        files.push(entry.strip_prefix(&dir).unwrap().to_path_buf());
    }
    files.sort();
    let tested =
        [PathBuf::from("github/cleanup.yml"), PathBuf::from("github/publish.yml"), PathBuf::from("gitlab-ci.yml")];
    assert_eq!(files, tested, "a new recipe needs a test here");
    for f in &tested {
        recipe(&f.to_string_lossy());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
