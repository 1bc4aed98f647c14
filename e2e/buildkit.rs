//! Builds through BuildKit (the engine's embedded one, wharf's default builder) against the
//! real engine and the real distribution registry: BuildKit's Dockerfile features, build
//! secrets and ssh agents, failures mapped to their line, the legacy builder on request, and
//! multi-platform images published as one OCI index that runs under qemu.

use crate::support::engine::docker;
use crate::support::registry::Registry;
use crate::support::wharf::{Run, build_and_publish, count_requests, image_report, run, skopeo, wharf};
use std::io::Read as _;
use std::path::Path;

const SECRET: &str = "Bk-S3cr3t-value-never-printed";

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn build(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    build_and_publish(dir, extra, env)
}

/// Every file of the image at `reference` (skopeo-copied), path → (mode, content).
fn files_in_image(reference: &str) -> std::collections::BTreeMap<String, (u32, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("dir:{}", dir.path().display()),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let blob = dir.path().join(layer["digest"].as_str().unwrap().trim_start_matches("sha256:"));
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(blob).unwrap()));
        for entry in ar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
            let mode = entry.header().mode().unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            out.insert(path, (mode, content));
        }
    }
    out
}

const FEATURES: &str = "\
FROM --platform=$BUILDPLATFORM wharf-example/busybox:1 AS build
ARG TARGETARCH
RUN --mount=type=cache,target=/cache echo \"target=$TARGETARCH\" >> /cache/runs && cp /cache/runs /built
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /secret-length
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs-seen
RUN --mount=type=bind,source=run.sh,target=/mnt/run.sh cat /mnt/run.sh > /bound
FROM wharf-example/busybox:1
COPY --from=build /built /secret-length /tmpfs-seen /bound /out/
COPY --chmod=755 run.sh /run.sh
";

#[test]
fn buildkit_builds_mounts_chmod_and_buildplatform_and_the_secret_stays_out_of_image_logs_and_report() {
    let reg = Registry::start();
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        ("Dockerfile", FEATURES),
        ("run.sh", "echo hi\n"),
    ]);
    let repo = format!("{}/bk", reg.host());
    // -v: the engine's whole log, where the secret must not show either.
    let out = build(
        dir.path(),
        &["-v", "--repo", &repo, "--tag-custom", "v1", "--secret", "id=token,env=BK_TOKEN"],
        &[("BK_TOKEN", SECRET)],
    )
    .ok();
    let stderr = out.stderr();
    assert!(
        stderr.contains("[app] #") && stderr.contains("RUN --mount=type=cache"),
        "BuildKit's steps, prefixed with the image:\n{stderr}"
    );

    let files = files_in_image(&format!("{repo}/app:v1"));
    assert_eq!(files["out/built"].1, b"target=amd64\n", "the cache mount and the automatic TARGETARCH");
    assert_eq!(
        String::from_utf8_lossy(&files["out/secret-length"].1).trim(),
        SECRET.len().to_string(),
        "the secret was mounted"
    );
    assert_eq!(files["out/tmpfs-seen"].1, b"x\n");
    assert_eq!(files["out/bound"].1, b"echo hi\n");
    assert_eq!(files["run.sh"].0 & 0o777, 0o755, "COPY --chmod");
    assert!(!files.keys().any(|p| p.starts_with("run/secrets")), "no secret file in the image: {:?}", files.keys());

    // The value is nowhere: not in any stored blob (layers decompressed), logs or report.
    for blob in reg.stored_blobs() {
        let hex = blob.trim_start_matches("sha256:");
        let bytes = std::fs::read(
            reg.storage_dir().join("docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data"),
        )
        .unwrap();
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut plain).is_err() {
            plain = bytes;
        }
        assert!(!String::from_utf8_lossy(&plain).contains(SECRET), "the secret is in blob {blob}");
    }
    assert!(!stderr.contains(SECRET) && !out.stdout().contains(SECRET), "the secret is in wharf's output");

    // Its id counts in the stage digest, its value does not.
    let digest = |r: &Run| image_report(&r.json(), Some("app"))["stage_digest"].as_str().unwrap().to_string();
    let first = digest(&out);
    let other_value = build(
        dir.path(),
        &["--repo", &repo, "--tag-custom", "v1", "--secret", "id=token,env=BK_TOKEN"],
        &[("BK_TOKEN", "another")],
    )
    .ok();
    assert_eq!(digest(&other_value), first);
    assert_eq!(image_report(&other_value.json(), Some("app"))["built"], false);
    let file = dir.path().join("token.txt");
    std::fs::write(&file, SECRET).unwrap();
    let other_id = build(
        dir.path(),
        &["--repo", &repo, "--secret", &format!("id=token,src={}", file.display()), "--secret", "id=npm,env=BK_TOKEN"],
        &[("BK_TOKEN", "x")],
    )
    .ok();
    assert_ne!(digest(&other_id), first, "another secret id is another build");
}

#[test]
fn a_missing_secret_or_agent_fails_with_the_flag_to_pass() {
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        ("Dockerfile", "FROM wharf-example/busybox:1\nRUN --mount=type=secret,id=token cat /run/secrets/token\n"),
    ]);
    let out = build(dir.path(), &[], &[]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(out.stderr().contains("token"), "{}", out.stderr());
    let unset = build(dir.path(), &["--secret", "id=token,env=BK_UNSET_VARIABLE"], &[]);
    assert_eq!(unset.code(), 2, "{}", unset.stderr());
    assert!(unset.stderr().contains("BK_UNSET_VARIABLE is not set"), "{}", unset.stderr());
}

#[test]
fn an_ssh_agent_socket_is_forwarded_to_ssh_mounts() {
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        (
            "Dockerfile",
            "FROM wharf-example/busybox:1\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo forwarded > /ssh\n",
        ),
    ]);
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    build(dir.path(), &["--ssh", &format!("default={}", sock.display())], &[]).ok();
    // Without an agent (another step: BuildKit would reuse the cached one) the build fails.
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM wharf-example/busybox:1\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\"\n",
    )
    .unwrap();
    let without = build(dir.path(), &[], &[]);
    assert_eq!(without.code(), 4, "no agent, no build: {}", without.stderr());
}

#[test]
fn a_failing_step_names_its_dockerfile_line_and_buildkits_message() {
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        (
            "Dockerfile",
            "FROM wharf-example/busybox:1 AS build\nRUN echo ok\n\nFROM wharf-example/busybox:1\nCOPY --from=build /bin/sh /x\nRUN \\\n  exit 7\n",
        ),
    ]);
    let out = build(dir.path(), &[], &[]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("Dockerfile:6"), "the RUN's first line: {err}");
    assert!(err.contains("exit code: 7"), "BuildKit's message: {err}");
}

#[test]
fn a_syntax_line_says_its_frontend_image_is_needed() {
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        ("Dockerfile", "# syntax=docker/dockerfile:1.7\nFROM wharf-example/busybox:1\nRUN <<EOF\necho heredoc\nEOF\n"),
    ]);
    let out = build(dir.path(), &[], &[]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(
        out.stderr().contains("`# syntax=docker/dockerfile:1.7` line asks for that frontend image"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("Dockerfile:1:"), "the failure is the syntax line's: {}", out.stderr());
}

#[test]
fn the_legacy_builder_still_builds_on_request_and_refuses_secrets() {
    // Content of its own: a stage no other test has built.
    let unique = tempfile::tempdir().unwrap().path().to_string_lossy().into_owned();
    let dir = project(&[
        ("wharf.yaml", "project: bk\nconfigVersion: 1\n---\nimage: app\n"),
        ("Dockerfile", "FROM wharf-example/busybox:1\nCOPY unique /unique\nRUN cat /unique\n"),
        ("unique", &unique),
    ]);
    let out = build(dir.path(), &["--builder", "legacy"], &[]).ok();
    assert!(out.stderr().contains("[app] step 1/"), "the classic builder's steps: {}", out.stderr());
    let default = build(dir.path(), &[], &[]).ok();
    assert_eq!(
        image_report(&default.json(), Some("app"))["built"],
        false,
        "the builder is no input of the stage digest"
    );
    let secret = build(dir.path(), &["--secret", "id=t,env=HOME"], &[("WHARF_BUILDER", "legacy")]);
    assert_eq!(secret.code(), 4, "{}", secret.stderr());
    assert!(secret.stderr().contains("needs BuildKit"), "{}", secret.stderr());
}

/// Images `FROM wharf-example/busybox-${TARGETARCH}:1`: scripts/test imports the arm64 one.
fn multi_platform_project() -> tempfile::TempDir {
    docker(&["tag", crate::support::engine::BASE_IMAGE, "wharf-example/busybox-amd64:1"]);
    let arm = std::process::Command::new("docker")
        .env("DOCKER_HOST", crate::support::engine::docker_host())
        .args(["image", "inspect", "wharf-example/busybox-arm64:1"])
        .output()
        .unwrap();
    assert!(
        arm.status.success(),
        "no wharf-example/busybox-arm64:1: run the tests through scripts/test, which imports it and registers qemu"
    );
    let dir = project(&[
        ("wharf.yaml", "project: mp\nconfigVersion: 1\n---\nimage: app\nplatform: [linux/amd64, linux/arm64]\n"),
        ("Dockerfile", "FROM wharf-example/busybox-${TARGETARCH}:1\nRUN uname -m > /arch\n"),
    ]);
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "mp"]);
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn two_platforms_are_published_as_one_index_that_runs_under_qemu() {
    let reg = Registry::start();
    let dir = multi_platform_project();
    let repo = format!("{}/mp", reg.host());
    let report = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"], &[]).ok().json();
    let app = image_report(&report, Some("app"));

    let raw: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{repo}/app:v1")]))
            .unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let arches: Vec<&str> =
        raw["manifests"].as_array().unwrap().iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    // Each platform is a stage of its own, and the index is stored as the image's stage.
    let stages = reg.tags("mp/wharf-stages");
    assert_eq!(stages.len(), 3, "{stages:?}");
    assert!(stages.contains(&app["stage_digest"].as_str().unwrap().to_string()), "{stages:?}");
    let platforms: Vec<(&str, &str)> = app["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["platform"].as_str().unwrap(), p["stage_digest"].as_str().unwrap()))
        .collect();
    assert_eq!(
        platforms.iter().map(|p| p.0).collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"],
        "the report names each platform's stage"
    );
    assert!(platforms.iter().all(|(_, d)| stages.contains(&d.to_string())), "{platforms:?} {stages:?}");

    let reference = format!("{repo}/app:v1");
    assert_eq!(
        docker(&["run", "--rm", "--network", "none", "--platform", "linux/arm64", &reference, "cat", "/arch"]).trim(),
        "aarch64"
    );
    assert_eq!(
        docker(&["run", "--rm", "--network", "none", "--platform", "linux/amd64", &reference, "cat", "/arch"]).trim(),
        "x86_64"
    );

    // A no-op rerun: one request per image, nothing built.
    let before = reg.log().len();
    let again = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"], &[]).ok().json();
    let new = &reg.log()[before..];
    assert_eq!(image_report(&again, Some("app"))["built"], false);
    assert_eq!(
        count_requests(new, "HEAD") + count_requests(new, "GET")
            - new.lines().filter(|l| l.contains("\"GET /v2/ HTTP")).count(),
        1,
        "{new}"
    );
}

#[test]
fn a_platform_stage_is_reused_when_only_another_platform_is_added() {
    let reg = Registry::start();
    let dir = multi_platform_project();
    let repo = format!("{}/mp", reg.host());
    std::fs::write(
        dir.path().join("wharf.yaml"),
        "project: mp\nconfigVersion: 1\n---\nimage: app\nplatform: linux/amd64\n",
    )
    .unwrap();
    let single = build(dir.path(), &["--repo", &repo], &[]).ok().json();
    std::fs::write(
        dir.path().join("wharf.yaml"),
        "project: mp\nconfigVersion: 1\n---\nimage: app\nplatform: [linux/amd64, linux/arm64]\n",
    )
    .unwrap();
    let out = build(dir.path(), &["-v", "--repo", &repo], &[]).ok();
    let stderr = out.stderr();
    assert_eq!(stderr.matches("exporting to image").count(), 1, "only arm64 is built:\n{stderr}");
    let stages = reg.tags("mp/wharf-stages");
    assert!(
        stages.contains(&image_report(&single, Some("app"))["stage_digest"].as_str().unwrap().to_string()),
        "{stages:?}"
    );
}

#[test]
fn cleanup_keeps_the_platform_stages_of_a_kept_multi_platform_image_and_deletes_the_old_ones() {
    let reg = Registry::start();
    let dir = multi_platform_project();
    let yaml = "project: mp\nconfigVersion: 1\ncleanup:\n  keepPolicies:\n  - references: { branch: main }\n    imagesPerReference: { last: 1 }\n---\nimage: app\nplatform: [linux/amd64, linux/arm64]\n";
    std::fs::write(dir.path().join("wharf.yaml"), yaml).unwrap();
    git(dir.path(), &["commit", "-q", "-am", "policy"]);
    let repo = format!("{}/mp", reg.host());
    build(dir.path(), &["--repo", &repo], &[]).ok();
    let old_stages = reg.tags("mp/wharf-stages");
    assert_eq!(old_stages.len(), 3, "{old_stages:?}");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM wharf-example/busybox-${TARGETARCH}:1\nRUN uname -m > /arch && echo 2 > /version\n",
    )
    .unwrap();
    git(dir.path(), &["commit", "-q", "-am", "two"]);
    build(dir.path(), &["--repo", &repo], &[]).ok();
    let new_stages: Vec<String> = reg.tags("mp/wharf-stages").into_iter().filter(|t| !old_stages.contains(t)).collect();
    assert_eq!(new_stages.len(), 3, "{new_stages:?}");

    let d = dir.path().to_string_lossy().into_owned();
    let plan =
        run(wharf(&["cleanup", "--dir", &d, "--repo", &repo, "--fresh-window", "0", "--dry-run", "--output", "json"]))
            .ok()
            .json();
    let action = |tag: &str| {
        let entry = plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["repository"].as_str().unwrap().ends_with("wharf-stages") && e["tag"] == tag);
        entry.unwrap_or_else(|| panic!("no stage {tag} in {plan:#}"))["action"].as_str().unwrap().to_string()
    };
    for t in &new_stages {
        assert_eq!(action(t), "keep", "the kept image's index stage and both platform stages: {plan:#}");
    }
    for t in &old_stages {
        assert_eq!(action(t), "delete", "the old image's stages, platforms included: {plan:#}");
    }
}

/// The engine's control API stands in for a BuildKit daemon (see `support::buildkit_proxy`):
/// wharf reaches it on a unix socket and over TLS with a client certificate, and says that
/// an engine's embedded BuildKit, having no OCI exporter, is built on with --docker-host.
#[test]
fn a_buildkit_daemon_is_reached_on_a_unix_socket_and_over_tls_with_a_client_certificate() {
    use crate::support::buildkit_proxy::{BuildKitProxy, certificates};
    let dir = project(&[
        ("wharf.yaml", "project: remote\nconfigVersion: 1\n---\nimage: app\n"),
        ("Dockerfile", "FROM scratch\nCOPY a /a\n"),
        ("a", "a\n"),
    ]);
    let hint = "has no OCI exporter, as a Docker Engine's embedded BuildKit has none";

    let unix = BuildKitProxy::unix();
    let out = build(dir.path(), &["--buildkit-host", &unix.address], &[]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(out.stderr().contains(hint) && out.stderr().contains("--docker-host"), "{}", out.stderr());

    let certs = tempfile::tempdir().unwrap();
    let (ca, chain, key, client, client_key) = certificates();
    let file = |name: &str, text: &str| {
        let p = certs.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let (ca_file, client_file, client_key_file) =
        (file("ca.pem", &ca), file("client.pem", &client), file("client-key.pem", &client_key));
    let tls = BuildKitProxy::tls(&chain, &key, &ca);
    let out = build(
        dir.path(),
        &[
            "--buildkit-host",
            &tls.address,
            "--buildkit-tlscacert",
            &ca_file,
            "--buildkit-tlscert",
            &client_file,
            "--buildkit-tlskey",
            &client_key_file,
        ],
        &[],
    );
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(out.stderr().contains(hint), "the control API answered through TLS: {}", out.stderr());

    let before = tls.accepted();
    let no_cert = build(dir.path(), &["--buildkit-host", &tls.address, "--buildkit-tlscacert", &ca_file], &[]);
    assert_ne!(no_cert.code(), 0);
    assert!(tls.accepted() > before, "it connected");
    assert!(
        !no_cert.stderr().contains(hint) && no_cert.stderr().contains(&tls.address),
        "refused without a client certificate: {}",
        no_cert.stderr()
    );
    let wrong_ca = build(dir.path(), &["--buildkit-host", &tls.address, "--buildkit-tlscacert", &client_key_file], &[]);
    assert_ne!(wrong_ca.code(), 0, "{}", wrong_ca.stderr());

    let both = build(dir.path(), &["--buildkit-host", &unix.address, "--builder", "legacy"], &[]);
    assert_eq!(both.code(), 2, "{}", both.stderr());
}
