//! `wharf build-and-publish` against the real engine and the real distribution registry.

use crate::support::engine::push_base;
use crate::support::registry::Registry;
use crate::support::wharf::{
    build_and_publish, count_requests, example, file_in_image, image_report, run, skopeo_digest, skopeo_tags, wharf,
};
use std::path::Path;

fn build(dir: &Path, extra: &[&str]) -> crate::support::wharf::Run {
    build_and_publish(dir, extra, &[])
}

/// The flant project with its base image taken from `base` (a registry reference).
fn flant_with_base(base: &str) -> tempfile::TempDir {
    let dir = example("flant");
    let yaml = format!(
        "project: flant\nconfigVersion: 1\n---\nimage: backend\ntarget: backend\nargs:\n  BASE_IMAGE: {base}\n---\nimage: frontend\ntarget: frontend\nargs:\n  BASE_IMAGE: {base}\n"
    );
    std::fs::write(dir.path().join("wharf.yaml"), yaml).unwrap();
    dir
}

#[test]
fn flant_multirepo_publishes_each_target_to_its_own_repository() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();

    assert_eq!(skopeo_tags(&format!("{repo}/backend")), vec!["v1"]);
    assert_eq!(skopeo_tags(&format!("{repo}/frontend")), vec!["v1"]);
    let backend = format!("docker://{repo}/backend:v1");
    let frontend = format!("docker://{repo}/frontend:v1");
    assert_eq!(file_in_image(&backend, "app/BUILD_INFO").as_deref(), Some("backend built\n"));
    assert!(file_in_image(&backend, "app/server.sh").is_some());
    assert_eq!(file_in_image(&frontend, "app/BUILD_INFO").as_deref(), Some("frontend built\n"));
    assert!(file_in_image(&frontend, "app/server.sh").is_none(), "frontend must not contain the backend target");

    let b = image_report(&report, Some("backend"));
    assert_eq!(b["built"], true);
    assert_eq!(b["manifest_digest"].as_str().unwrap(), skopeo_digest(&backend));
    assert_eq!(b["references"][0].as_str().unwrap(), format!("{repo}/backend:v1"));
    assert_eq!(b["stage_digest"].as_str().unwrap().len(), 64);
}

#[test]
fn flant_monorepo_prefixes_tags_with_the_image_name() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    build(dir.path(), &["--repo", &repo, "--repo-mode", "monorepo", "--tag-custom", "v1", "--tag-semver", "v2.3.4"])
        .ok();
    let tags = skopeo_tags(&repo);
    for t in ["backend-v1", "frontend-v1", "backend-v2.3.4", "backend-2.3.4", "backend-2.3", "backend-2"] {
        assert!(tags.contains(&t.to_string()), "{t} missing from {tags:?}");
    }
    assert!(tags.iter().any(|t| t.starts_with("wharf-stage-")), "stages live in the same repository: {tags:?}");
    assert_eq!(
        file_in_image(&format!("docker://{repo}:frontend-v1"), "app/BUILD_INFO").as_deref(),
        Some("frontend built\n")
    );
}

#[test]
fn the_werf_alias_flags_are_accepted() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    build(dir.path(), &["--images-repo", &repo, "--images-repo-mode", "monorepo", "--tag-custom", "x"]).ok();
    assert!(skopeo_tags(&repo).contains(&"backend-x".to_string()));
}

#[test]
fn nothing_changed_means_nothing_built_and_nothing_uploaded() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok();
    let log_before = reg.log();
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    for img in ["backend", "frontend"] {
        let r = image_report(&report, Some(img));
        assert_eq!(r["built"], false, "{img} rebuilt");
        assert_eq!(r["stats"]["blobs_uploaded"], 0);
        assert_eq!(r["stats"]["manifest_written"], false);
    }
    let log_after = reg.log();
    let new = &log_after[log_before.len()..];
    assert_eq!(count_requests(new, "POST"), 0, "no upload session on a no-op run:\n{new}");
    assert_eq!(count_requests(new, "PUT"), 0, "no manifest or blob written on a no-op run:\n{new}");
}

/// GETs other than the `/v2/` ping in an access log excerpt.
fn manifest_gets(log: &str) -> usize {
    count_requests(log, "GET") - log.lines().filter(|l| l.contains("\"GET /v2/ HTTP")).count()
}

#[test]
fn an_unchanged_commit_costs_one_request_per_tag_and_a_moved_tag_is_put_back() {
    let reg = Registry::start();
    let dir = example("flant");
    for args in [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["commit", "-q", "-m", "flant"]] {
        let out = std::process::Command::new("git")
            .current_dir(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let repo = format!("{}/flant", reg.host());
    let first = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();

    // Same runner: wharf's cache remembers which manifest each publish record names.
    let before = reg.log().len();
    let again = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    let new = &reg.log()[before..];
    assert_eq!(count_requests(new, "HEAD"), 2, "one HEAD per published tag:\n{new}");
    assert_eq!(manifest_gets(new), 0, "neither stage nor record fetched:\n{new}");
    for img in ["backend", "frontend"] {
        let r = image_report(&again, Some(img));
        assert_eq!(
            (r["built"].as_bool(), r["stats"]["manifest_written"].as_bool()),
            (Some(false), Some(false)),
            "{img}"
        );
        assert_eq!(r["manifest_digest"], image_report(&first, Some(img))["manifest_digest"]);
    }

    // A fresh runner (empty cache) reads the two records instead of the stages.
    let empty = tempfile::tempdir().unwrap();
    let before = reg.log().len();
    build(dir.path(), &["--repo", &repo, "--tag-custom", "v1", "--cache-dir", &empty.path().to_string_lossy()]).ok();
    let new = &reg.log()[before..];
    assert_eq!(
        (count_requests(new, "HEAD"), manifest_gets(new)),
        (2, 2),
        "a HEAD per tag and a GET per record:\n{new}"
    );
    assert_eq!(count_requests(new, "PUT"), 0, "{new}");

    // Another commit's run moved backend:v1; this commit's run puts it back.
    let backend = format!("docker://{repo}/backend:v1");
    let original = skopeo_digest(&backend);
    crate::support::wharf::skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{repo}/frontend:v1"),
        &backend,
    ]);
    assert_ne!(skopeo_digest(&backend), original);
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    assert_eq!(image_report(&report, Some("backend"))["stats"]["manifest_written"], true);
    assert_eq!(image_report(&report, Some("frontend"))["stats"]["manifest_written"], false);
    assert_eq!(skopeo_digest(&backend), original);
}

#[test]
fn a_new_tag_for_an_existing_stage_is_a_registry_side_retag() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok();
    let log_before = reg.log();
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v2"]).ok().json();
    let new = &reg.log()[log_before.len()..];
    assert_eq!(count_requests(new, "PATCH"), 0, "no layer pushed:\n{new}");
    assert_eq!(count_requests(new, "POST"), 0, "no upload or mount needed, blobs are in place:\n{new}");
    assert_eq!(image_report(&report, Some("backend"))["stats"]["manifest_written"], true);
    assert_eq!(
        skopeo_digest(&format!("docker://{repo}/backend:v1")),
        skopeo_digest(&format!("docker://{repo}/backend:v2"))
    );
}

#[test]
fn changing_a_file_one_image_copies_rebuilds_only_that_image() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    let first = build(dir.path(), &["--repo", &repo, "--tag-custom", "main"]).ok().json();
    std::fs::write(dir.path().join("frontend/index.html"), "<p>changed</p>\n").unwrap();
    let second = build(dir.path(), &["--repo", &repo, "--tag-custom", "main"]).ok().json();

    let (b1, b2) = (image_report(&first, Some("backend")), image_report(&second, Some("backend")));
    let (f1, f2) = (image_report(&first, Some("frontend")), image_report(&second, Some("frontend")));
    assert_eq!(b2["built"], false, "backend does not copy frontend/");
    assert_eq!(b1["manifest_digest"], b2["manifest_digest"]);
    assert_eq!(b1["stage_digest"], b2["stage_digest"]);
    assert_eq!(f2["built"], true);
    assert_ne!(f1["stage_digest"], f2["stage_digest"]);
    assert_eq!(
        file_in_image(&format!("docker://{repo}/frontend:main"), "app/index.html").as_deref(),
        Some("<p>changed</p>\n")
    );
}

#[test]
fn a_second_runner_without_an_engine_reuses_stages_from_the_repository() {
    let reg = Registry::start();
    let base = push_base(&reg.host());
    let repo = format!("{}/flant", reg.host());

    let runner_a = flant_with_base(&base);
    let first = build(runner_a.path(), &["--repo", &repo, "--tag-custom", "a"]).ok().json();
    assert_eq!(image_report(&first, Some("backend"))["built"], true);

    // Another checkout of the same project on a machine whose engine is unreachable: any
    // build attempt would fail, so success proves that nothing was built.
    let runner_b = flant_with_base(&base);
    let second = build(
        runner_b.path(),
        &["--repo", &repo, "--tag-custom", "b", "--docker-host", "unix:///nonexistent/docker.sock"],
    )
    .ok()
    .json();
    for img in ["backend", "frontend"] {
        let (a, b) = (image_report(&first, Some(img)), image_report(&second, Some(img)));
        assert_eq!(b["built"], false);
        assert_eq!(a["stage_digest"], b["stage_digest"], "same inputs, same digest on another runner");
        assert_eq!(a["manifest_digest"], b["manifest_digest"]);
    }
    assert_eq!(skopeo_tags(&format!("{repo}/backend")), vec!["a", "b"]);
}

#[test]
fn the_nameless_image_is_published_as_repo_tag() {
    let reg = Registry::start();
    let dir = example("nameless");
    let repo = format!("{}/hello", reg.host());
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    assert_eq!(skopeo_tags(&repo).iter().filter(|t| !t.starts_with("wharf-stage")).collect::<Vec<_>>(), vec!["v1"]);
    assert_eq!(image_report(&report, None)["references"][0].as_str().unwrap(), format!("{repo}:v1"));
    assert_eq!(
        file_in_image(&format!("docker://{repo}:v1"), "greeting").as_deref(),
        Some("hello from a nameless image\n")
    );
}

#[test]
fn a_dependency_is_built_first_and_passed_in() {
    let reg = Registry::start();
    let dir = example("dependencies");
    let repo = format!("{}/deps", reg.host());
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    let app = format!("docker://{repo}/app:v1");
    assert_eq!(
        file_in_image(&app, "usr/local/bin/tool.sh").as_deref(),
        Some("#!/bin/sh\necho \"built by the builder image\"\n")
    );
    let builder_digest = image_report(&report, Some("builder"))["manifest_digest"].as_str().unwrap().to_string();
    assert_eq!(file_in_image(&app, "builder-digest").map(|s| s.trim().to_string()), Some(builder_digest));

    // Changing the dependency changes the dependent's digest.
    std::fs::write(dir.path().join("builder/tool.sh"), "#!/bin/sh\necho v2\n").unwrap();
    let again = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]).ok().json();
    assert_ne!(image_report(&report, Some("app"))["stage_digest"], image_report(&again, Some("app"))["stage_digest"]);
    assert_eq!(image_report(&again, Some("app"))["built"], true);
}

#[test]
fn without_a_repo_images_go_to_the_embedded_oci_layout() {
    let dir = example("flant");
    let report = build(dir.path(), &["--tag-custom", "latest"]).ok().json();
    let layout = dir.path().join(".wharf/oci");
    let backend = format!("oci:{}:flant/backend:latest", layout.display());
    assert_eq!(skopeo_digest(&backend), image_report(&report, Some("backend"))["manifest_digest"].as_str().unwrap());
    assert_eq!(file_in_image(&backend, "app/BUILD_INFO").as_deref(), Some("backend built\n"));
    let again = build(dir.path(), &["--tag-custom", "latest"]).ok().json();
    assert_eq!(image_report(&again, Some("backend"))["built"], false);
    assert_eq!(image_report(&again, Some("backend"))["stats"]["blobs_uploaded"], 0);
}

#[test]
fn a_broken_dockerfile_fails_naming_the_image_the_line_and_the_engine_message() {
    let dir = example("flant");
    let df = dir.path().join("Dockerfile");
    let text = std::fs::read_to_string(&df)
        .unwrap()
        .replace("RUN echo \"frontend built\"", "RUN exit 7 && echo \"frontend built\"");
    std::fs::write(&df, text).unwrap();
    // The classic builder's `Step N/M` (BuildKit's steps: e2e/buildkit.rs).
    let out = run(wharf(&["build-and-publish", "--dir", dir.path().to_str().unwrap(), "--builder", "legacy"]));
    assert_eq!(out.code(), 4, "build errors exit 4: {}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("image frontend"), "{err}");
    assert!(err.contains("Dockerfile:16"), "names the failing line: {err}");
    assert!(err.contains("non-zero code: 7"), "carries the engine's message: {err}");
    assert!(
        !dir.path().join(".wharf/oci/index.json").exists()
            || !std::fs::read_to_string(dir.path().join(".wharf/oci/index.json")).unwrap().contains("frontend")
    );
}

#[test]
fn a_bad_config_reports_every_error_with_its_location_and_builds_nothing() {
    let dir = example("flant");
    std::fs::write(
        dir.path().join("wharf.yaml"),
        "project: flant\nconfigVersion: 1\n---\nimage: backend\ndockerfiel: Dockerfile\n---\nimage: backend\n---\nimage: web\ndockerfile: Missing.Dockerfile\n",
    )
    .unwrap();
    let out = run(wharf(&["build-and-publish", "--dir", dir.path().to_str().unwrap()]));
    assert_eq!(out.code(), 3, "config errors exit 3: {}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("dockerfiel") && err.contains("dockerfile"), "unknown key with a suggestion: {err}");
    assert!(err.contains("wharf.yaml:5"), "located: {err}");
    assert!(err.contains("backend") && err.contains("wharf.yaml:7"), "duplicate name located: {err}");
    assert!(err.contains("Missing.Dockerfile"), "missing Dockerfile: {err}");
    let validate = run(wharf(&["config", "validate", "--dir", dir.path().to_str().unwrap()]));
    assert_eq!(validate.code(), 3);
}

#[test]
fn an_invalid_tag_is_refused_before_anything_is_built() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    let out = run(wharf(&[
        "build-and-publish",
        "--dir",
        dir.path().to_str().unwrap(),
        "--repo",
        &repo,
        "--tag-semver",
        "1.2",
    ]));
    assert_ne!(out.code(), 0);
    assert!(out.stderr().contains("semantic version"), "{}", out.stderr());
    assert_eq!(count_requests(&reg.log(), "PUT"), 0);
    let bad_repo =
        run(wharf(&["build-and-publish", "--dir", dir.path().to_str().unwrap(), "--repo", "127.0.0.1:1/Flant"]));
    assert_eq!(bad_repo.code(), 2);
    assert!(bad_repo.stderr().contains("lowercase"), "{}", bad_repo.stderr());
}

#[test]
fn slugged_git_branch_tags_are_printed() {
    let reg = Registry::start();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    let out = run(wharf(&[
        "build-and-publish",
        "--dir",
        dir.path().to_str().unwrap(),
        "--repo",
        &repo,
        "--tag-git-branch=feature/Login",
    ]))
    .ok();
    assert!(out.stdout().contains("feature-login"), "{}", out.stdout());
    assert!(skopeo_tags(&format!("{repo}/backend")).contains(&"feature-login".to_string()));
}
