//! werf CI jobs' command lines run with `wharf` in place of `werf` (real engine, real
//! distribution registry): werf 1.2's `build` with `--add-custom-tag`, `--platform` and
//! `--save-build-report`; the same job through `WERF_*` variables; `ci-env gitlab` sourced
//! before the build; stage repositories (`--secondary-repo`, `--cache-repo`) and
//! `--final-repo`, with `cleanup` finding the stages it left.

use crate::support::registry::Registry;
use crate::support::wharf::{Run, example, run, shell, skopeo, skopeo_digest, skopeo_tags, wharf};
use std::path::Path;
use std::process::Command;

fn in_dir(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir);
    cmd
}

fn report(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).expect("the build report is JSON")
}

/// The config digest (image ID) of `reference`'s manifest, as skopeo reads it.
fn config_digest(reference: &str) -> String {
    let raw: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", "--raw", reference])).expect("manifest");
    raw["config"]["digest"].as_str().expect("config digest").to_string()
}

fn git_commit(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["-c", "user.email=e2e@wharf", "-c", "user.name=e2e", "commit", "-qm", "init"],
    ] {
        let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_werf_1_2_ci_job_command_line_runs_with_wharf() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/app", reg.host());
    // The job's line, as in a .gitlab-ci.yml written for werf.
    let line = [
        "build",
        "--repo",
        &repo,
        "--add-custom-tag",
        "%image%-v1",
        "--platform",
        "linux/amd64",
        "--save-build-report",
    ];
    run(in_dir(wharf(&line), dir.path())).ok();

    let tags = skopeo_tags(&repo);
    let json = report(dir.path(), ".werf-build-report.json");
    for image in ["backend", "frontend"] {
        assert!(tags.contains(&format!("{image}-v1")), "{image}-v1 in one repository, as werf publishes it: {tags:?}");
        let r = &json["Images"][image];
        let name = r["DockerImageName"].as_str().expect("DockerImageName");
        let tag = r["DockerTag"].as_str().unwrap();
        assert_eq!((r["DockerRepo"].as_str(), format!("{repo}:{tag}")), (Some(repo.as_str()), name.to_string()));
        assert!(tag.starts_with(&format!("{image}-")) && tag.len() == image.len() + 65, "the content-based tag: {tag}");
        let digest = skopeo_digest(&format!("docker://{name}"));
        assert_eq!(r["DockerImageDigest"], digest.as_str(), "{image}");
        assert_eq!(skopeo_digest(&format!("docker://{repo}:{image}-v1")), digest, "the custom tag is the same image");
        assert_eq!(r["DockerImageID"], config_digest(&format!("docker://{name}")).as_str());
        assert_eq!(
            (r["Rebuilt"].as_bool(), r["Final"].as_bool(), r["TargetPlatform"].as_str()),
            (Some(true), Some(true), Some("linux/amd64"))
        );
    }
    let first_name = json["Images"]["backend"]["DockerImageName"].clone();

    // The same job through werf's variables, with the report as an env file: nothing to build.
    let mut cmd = in_dir(wharf(&["build"]), dir.path());
    cmd.env("WERF_REPO", &repo)
        .env("WERF_ADD_CUSTOM_TAG_1", "%image%-v2")
        .env("WERF_PLATFORM", "linux/amd64")
        .env("WERF_SAVE_BUILD_REPORT", "1")
        .env("WERF_BUILD_REPORT_PATH", "report.env");
    run(cmd).ok();
    let env = std::fs::read_to_string(dir.path().join("report.env")).expect("report.env");
    assert!(env.contains(&format!("WERF_BACKEND_DOCKER_IMAGE_NAME={}\n", first_name.as_str().unwrap())), "{env}");
    assert!(env.contains("WERF_FRONTEND_FINAL=true\n"), "{env}");
    assert!(skopeo_tags(&repo).contains(&"backend-v2".to_string()));

    // wharf's own variable wins over werf's; image names choose; werf flags wharf cannot
    // honour are a notice, not a failure.
    let other = format!("{}/other", reg.host());
    let mut cmd = in_dir(
        wharf(&[
            "build",
            "frontend",
            "--dev",
            "--introspect-error",
            "--platform",
            "linux/amd64",
            "--save-build-report",
        ]),
        dir.path(),
    );
    cmd.env("WHARF_REPO", &other).env("WERF_REPO", &repo);
    let out = run(cmd).ok();
    for notice in ["notice: --dev is werf's and ignored", "notice: --introspect-error is werf's and ignored"] {
        assert!(out.stderr().contains(notice), "{notice}:\n{}", out.stderr());
    }
    let other_tags = skopeo_tags(&other);
    assert!(
        other_tags.iter().any(|t| t.starts_with("frontend-")) && !other_tags.iter().any(|t| t.starts_with("backend-")),
        "{other_tags:?}"
    );
    let json = report(dir.path(), ".werf-build-report.json");
    assert!(
        json["Images"].get("backend").is_none() && json["Images"]["frontend"].is_object(),
        "only the image asked for: {json:#}"
    );
}

#[test]
fn ci_env_gitlab_logs_in_to_the_ci_registry_and_points_wharf_build_at_it() {
    let token = "glcbt-e2e-job-token";
    let reg = Registry::with_basic_auth("gitlab-ci-token", token);
    let dir = example("flant");
    let home = tempfile::tempdir().unwrap();
    let image_repo = format!("{}/group/flant", reg.host());
    let ci = [
        ("CI_REGISTRY", reg.host()),
        ("CI_REGISTRY_IMAGE", image_repo.clone()),
        ("CI_JOB_TOKEN", token.to_string()),
        ("CI_ENVIRONMENT_SLUG", "review-7".to_string()),
        ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567".to_string()),
        ("HOME", home.path().display().to_string()),
    ];
    let with_ci = |mut cmd: Command| {
        cmd.env_remove("DOCKER_CONFIG").envs(ci.iter().map(|(k, v)| (k, v)));
        cmd
    };
    let out = run(with_ci(wharf(&["ci-env", "gitlab", "--as-file"]))).ok();
    let path = out.stdout().trim().to_string();
    let script = std::fs::read_to_string(&path).expect("the script file");
    assert!(!script.contains(token) && !out.stderr().contains(token), "the job token is never printed:\n{script}");
    assert!(
        script.contains(&format!("export WERF_REPO=\"{image_repo}\"\n"))
            && script.contains("export WERF_ENV=\"review-7\"\n"),
        "{script}"
    );

    // A CI job's lines: source the script, then build (no --repo: WERF_REPO; no credentials
    // given: the session docker config holds the job's login).
    let d = dir.path().display();
    let job = format!(
        "f=\"$(\"$WHARF\" ci-env gitlab --as-file)\" && . \"$f\" && rm -f \"$f\" && \"$WHARF\" build --dir '{d}' --add-custom-tag '%image%-v1' --output json; rc=$?; rm -rf \"$DOCKER_CONFIG\"; exit $rc"
    );
    let built: Run = run(with_ci(shell(&job))).ok();
    assert_eq!(built.json()["images"].as_array().map(Vec::len), Some(2), "{}", built.stdout());
    let listed = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &format!("gitlab-ci-token:{token}"),
        &format!("docker://{image_repo}"),
    ]);
    assert!(listed.contains("\"backend-v1\"") && listed.contains("\"frontend-v1\""), "{listed}");

    let config = script
        .lines()
        .find_map(|l| l.strip_prefix("export DOCKER_CONFIG=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("DOCKER_CONFIG line");
    let file = Path::new(config).join("config.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "only its owner reads the login");
    assert_eq!(std::fs::metadata(config).unwrap().permissions().mode() & 0o777, 0o700, "nor lists its directory");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(doc["auths"][reg.host()]["auth"].is_string(), "{doc}");
    // What ci-env leaves for the job (as werf does): removed, as a job's machine would be.
    let _ = std::fs::remove_dir_all(config);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn stage_repositories_and_a_final_repo_are_werfs() {
    let reg = Registry::start();
    let dir = example("flant");
    git_commit(dir.path());
    let d = dir.path().display().to_string();
    let host = reg.host();
    let (first, second, cache, stages, finals) = (
        format!("{host}/first"),
        format!("{host}/second"),
        format!("{host}/cache"),
        format!("{host}/stages"),
        format!("{host}/final"),
    );
    let build = |args: &[&str]| {
        let mut all = vec!["build", "--dir", &d, "--output", "json"];
        all.extend_from_slice(args);
        run(wharf(&all)).ok().json()
    };
    let built = |report: &serde_json::Value| {
        report["images"].as_array().unwrap().iter().map(|i| i["built"].as_bool().unwrap()).collect::<Vec<_>>()
    };
    // Built into `first`, and copied into the cache repository.
    build(&["--repo", &first, "--cache-repo", &cache]);
    assert_eq!(
        skopeo_tags(&cache).iter().filter(|t| t.starts_with("wharf-stage-")).count(),
        2,
        "every built stage is cached"
    );
    // Another repository finds the stages in a secondary one: copied, not built.
    let report = build(&["--repo", &second, "--secondary-repo", &first]);
    assert_eq!(built(&report), [false, false], "{report:#}");
    assert_eq!(
        skopeo_tags(&second).iter().filter(|t| t.starts_with("wharf-stage-")).count(),
        2,
        "copied into the stages storage"
    );

    // --final-repo: images there, stages in --repo.
    build(&["--repo", &stages, "--final-repo", &finals, "--cache-repo", &cache]);
    let (stage_tags, final_tags) = (skopeo_tags(&stages), skopeo_tags(&finals));
    assert!(stage_tags.iter().all(|t| t.starts_with("wharf-stage-")) && stage_tags.len() == 2, "{stage_tags:?}");
    assert!(
        final_tags.iter().any(|t| t.starts_with("backend-"))
            && !final_tags.iter().any(|t| t.starts_with("wharf-stage-")),
        "{final_tags:?}"
    );
    // cleanup, told as werf is, sees the stages where the build left them.
    let out = run(wharf(&[
        "cleanup",
        "--dir",
        &d,
        "--repo",
        &stages,
        "--final-repo",
        &finals,
        "--dry-run",
        "--output",
        "json",
        "--without-kube",
    ]))
    .ok();
    assert!(out.stderr().contains("notice: --without-kube is werf's and ignored"), "{}", out.stderr());
    let plan = out.json();
    let stage_entries =
        plan["entries"].as_array().unwrap().iter().filter(|e| e["repository"] == stages.as_str()).count();
    assert_eq!(stage_entries, 2, "{plan:#}");
}
