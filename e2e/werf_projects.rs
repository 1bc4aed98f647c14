//! werf projects from `tests/fixtures/werf/` run through the `wharf` binary: a templated
//! project builds and publishes with the build arguments its templates compute (real
//! engine, real distribution registry); what cannot be built is refused before anything
//! is; `config render` and `config validate --output json` answer as documented.

use crate::support::registry::Registry;
use crate::support::wharf::{build_and_publish, copy_of, file_in_image, image_report, run, skopeo_tags, wharf};
use std::path::Path;

/// A copy of the fixture `name` in a fresh temporary directory.
fn fixture(name: &str) -> tempfile::TempDir {
    copy_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/werf").join(name))
}

fn build(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> crate::support::wharf::Run {
    build_and_publish(dir, extra, env)
}

#[test]
fn a_templated_werf_project_builds_and_publishes_with_the_args_its_templates_compute() {
    let reg = Registry::start();
    let dir = fixture("templated");
    let repo = format!("{}/templated", reg.host());
    let flags = ["--repo", repo.as_str(), "--tag-custom", "v1", "--env", "prod"];
    let first = build(dir.path(), &[("APP_VERSION", "1.4.2")], &flags).ok();
    let report = first.json();
    assert!(first.stderr().contains("stapel image `legacy` is not built by wharf"), "{}", first.stderr());

    for app in ["api", "worker"] {
        let image = format!("docker://{repo}/{app}:v1");
        let args = file_in_image(&image, "opt/build-args").unwrap_or_else(|| panic!("{app}: no /opt/build-args"));
        assert_eq!(
            args,
            format!("{app} 1.4.2 hello from prod on wharf-example/busybox:1\n"),
            "the args its templates computed"
        );
        assert_eq!(
            file_in_image(&image, "opt/base").as_deref(),
            Some("base\n"),
            "{app} is built on its final: false dependency"
        );
        assert_eq!(
            file_in_image(&image, "opt/release-notes.txt").as_deref(),
            Some("first release\n"),
            "contextAddFiles wins over .dockerignore"
        );
        assert_eq!(image_report(&report, Some(app))["built"], true);
    }
    let base = image_report(&report, Some("base"));
    assert_eq!(
        (base["built"].as_bool(), base["references"].as_array().map(Vec::len)),
        (Some(true), Some(0)),
        "built, not published: {base}"
    );
    assert!(skopeo_tags(&format!("{repo}/api")).contains(&"v1".to_string()));
    let base_tags = std::process::Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false", &format!("docker://{repo}/base")])
        .output()
        .expect("skopeo");
    assert!(
        !base_tags.status.success() || !String::from_utf8_lossy(&base_tags.stdout).contains("\"v1\""),
        "final: false is never published"
    );

    // Another value of a variable the templates read: another stage, rebuilt.
    let second = build(dir.path(), &[("APP_VERSION", "1.4.3")], &flags).ok().json();
    assert_eq!(image_report(&second, Some("api"))["built"], true);
    assert_eq!(image_report(&second, Some("base"))["built"], false, "base does not read APP_VERSION");
    assert_eq!(
        file_in_image(&format!("docker://{repo}/api:v1"), "opt/build-args").as_deref(),
        Some("api 1.4.3 hello from prod on wharf-example/busybox:1\n")
    );
    // Bumping build.cacheVersion rebuilds everything, with nothing else changed.
    let third = build(dir.path(), &[("APP_VERSION", "1.4.3"), ("CACHE_VERSION", "2")], &flags).ok().json();
    for image in ["base", "api", "worker"] {
        assert_eq!(image_report(&third, Some(image))["built"], true, "{image} after a cacheVersion bump");
    }
    let same = build(dir.path(), &[("APP_VERSION", "1.4.3"), ("CACHE_VERSION", "2")], &flags).ok().json();
    assert_eq!(image_report(&same, Some("api"))["built"], false, "same inputs, same stages");
}

#[test]
fn what_wharf_cannot_build_is_refused_before_anything_is_built() {
    // The project file's secrets (werf's `secrets:`) are served by BuildKit; one whose source is
    // missing stops the run before anything is built, naming it.
    let dir = fixture("build-options");
    let out = build(dir.path(), &[], &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("image private: secret NPM_TOKEN: environment variable NPM_TOKEN is not set"),
        "{}",
        out.stderr()
    );
    let index: serde_json::Value = std::fs::read(dir.path().join(".wharf/oci/index.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    assert!(index["manifests"].as_array().is_none_or(Vec::is_empty), "nothing built or published: {index}");

    let dir = fixture("stapel-mixed");
    let out = build(dir.path(), &[], &[]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(
        out.stderr().contains("image e2e: it depends on `web`, a stapel image, which wharf does not build"),
        "{}",
        out.stderr()
    );
}

#[test]
fn config_render_prints_the_rendered_file_and_validate_reports_json() {
    let dir = fixture("templated");
    let d = dir.path().to_string_lossy().into_owned();
    let mut cmd = wharf(&["config", "render", "--dir", &d, "--env", "prod"]);
    cmd.env("APP_VERSION", "9.9.9");
    let out = run(cmd).ok();
    assert!(
        out.stdout().contains("  VERSION: \"9.9.9\"\n") && out.stdout().contains("GREETING: \"hello from prod on"),
        "{}",
        out.stdout()
    );

    let mut cmd = wharf(&["config", "validate", "--dir", &d, "--output", "json"]);
    cmd.env("APP_VERSION", "1");
    let ok = run(cmd).ok().json();
    assert_eq!((ok["valid"].as_bool(), ok["stapel"][0]["name"].as_str()), (Some(true), Some("legacy")));

    // Invalid: the JSON still comes on stdout, with every error located, and exit code 3.
    let bad = run(wharf(&["config", "validate", "--dir", &d, "--output", "json"]));
    assert_eq!(bad.code(), 3, "{}", bad.stderr());
    let json = bad.json();
    assert_eq!(json["valid"], false);
    let e = &json["errors"][0];
    assert_eq!(
        (e["kind"].as_str(), e["line"].as_u64(), e["column"].as_u64()),
        (Some("template"), Some(7), Some(15)),
        "{json}"
    );
    assert!(e["file"].as_str().unwrap().ends_with(".werf/app.tmpl"), "{json}");
    assert!(e["message"].as_str().unwrap().contains("\"APP_VERSION\" must be set"), "{json}");
}

/// werf's `secrets:` in the project file reach BuildKit's secret mounts: the build reads the
/// value, which appears neither in the image nor in wharf's output.
#[test]
fn secrets_declared_in_werf_yaml_are_served_to_the_build_and_kept_out_of_the_image() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("werf.yaml"),
        "project: secrets\nconfigVersion: 1\n---\nimage: app\nsecrets:\n- env: DEPLOY_TOKEN\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM wharf-example/busybox:1\nRUN --mount=type=secret,id=DEPLOY_TOKEN wc -c < /run/secrets/DEPLOY_TOKEN > /checked\n",
    )
    .unwrap();
    let repo = format!("{}/secrets", reg.host());
    let out = build(dir.path(), &[("DEPLOY_TOKEN", "w3rf-s3cr3t")], &["--repo", &repo, "--tag-custom", "v1", "-vv"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!out.stdout().contains("w3rf-s3cr3t") && !out.stderr().contains("w3rf-s3cr3t"), "the value never shows");
    let read = file_in_image(&format!("docker://{repo}/app:v1"), "checked").unwrap_or_default();
    assert_eq!(read.trim(), "11", "the build read the secret's 11 bytes");
    assert_eq!(
        file_in_image(&format!("docker://{repo}/app:v1"), "run/secrets/DEPLOY_TOKEN"),
        None,
        "and the image does not keep it"
    );
}

#[test]
fn image_spec_is_applied_to_the_published_config_and_the_stage_stays_as_built() {
    use crate::support::tools::crane;
    let reg = Registry::start();
    let dir = fixture("image-spec");
    let repo = format!("{}/spec", reg.host());
    let flags = ["--repo", repo.as_str(), "--tag-custom", "v1"];
    let first = build(dir.path(), &[], &flags).ok();
    assert!(!first.stderr().contains("imageSpec"), "no warning: {}", first.stderr());
    let app = image_report(&first.json(), Some("app")).clone();

    // What a deploy pulls, read by go-containerregistry's crane.
    let published = format!("{repo}/app:v1");
    let config: serde_json::Value = serde_json::from_str(&crane(&["config", &published])).unwrap();
    let c = &config["config"];
    assert_eq!(config["author"], "platform team", "build.imageSpec's author");
    assert_eq!(config["history"], serde_json::json!([]), "clearHistory");
    assert_eq!(c["Labels"]["org.opencontainers.image.vendor"], "acme");
    assert!(c["Env"].as_array().unwrap().iter().any(|e| e == "MODE=production"), "{c}");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!((c["User"].as_str(), c["WorkingDir"].as_str()), (Some("1000"), Some("/app")));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/app/server"]));
    assert_eq!(c["Cmd"], serde_json::json!(["--port", "8080"]));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Healthcheck"]["Interval"], 30_000_000_000i64);
    let config_digest = serde_json::from_str::<serde_json::Value>(&crane(&["manifest", &published])).unwrap()["config"]
        ["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app["image_id"].as_str(), Some(config_digest.as_str()), "the report names the published config");

    // The stage is the image as built: same layers, its own config untouched.
    let stage_tag = format!("{}/wharf-stages:{}", repo, app["stage_digest"].as_str().unwrap());
    let stage_config: serde_json::Value = serde_json::from_str(&crane(&["config", &stage_tag])).unwrap();
    assert_ne!(stage_config["author"], "platform team");
    assert!(stage_config["config"]["Entrypoint"].is_null(), "{stage_config}");
    let layers =
        |r: &str| serde_json::from_str::<serde_json::Value>(&crane(&["manifest", r])).unwrap()["layers"].clone();
    assert_eq!(layers(&published), layers(&stage_tag));
    assert_eq!(
        file_in_image(&format!("docker://{published}"), "built").as_deref(),
        Some("built\n"),
        "the published image runs the built layers"
    );

    // Nothing changed: nothing built, nothing moved.
    let before = crane(&["digest", &published]);
    let again = build(dir.path(), &[], &flags).ok().json();
    assert_eq!(image_report(&again, Some("app"))["built"], false);
    assert_eq!(crane(&["digest", &published]), before, "the same spec gives the same image");
}
