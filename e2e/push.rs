//! `wharf push` against the real distribution registry: archives made by the engine and
//! layouts made by hand, gzipped or not, pulled back with skopeo and compared digest for
//! digest; platforms merged into one index; annotations; bad archives refused with nothing
//! published.

use crate::support::engine::{BASE_IMAGE, docker};
use crate::support::oci::{
    self, Spec, blob_json, docker_save, docker_save_layers, gzip, image_blobs, layer_tar, pull_back, push,
    raw_manifest, raw_tar, s, sha256, tar_dir, write_gz, write_image,
};
use crate::support::registry::Registry;
use crate::support::wharf::{count_requests, file_in_image, skopeo, skopeo_digest, skopeo_tags};
use std::path::{Path, PathBuf};

#[test]
fn a_docker_save_archive_round_trips_digest_for_digest_gzipped_or_not() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = docker_save(BASE_IMAGE, tmp.path(), "busybox.tar");
    let gz = tmp.path().join("busybox.bin");
    write_gz(&tar, &gz);
    let plain =
        push(tmp.path(), &[&s(&tar), &format!("{}/push/busybox:1", reg.host()), "--tag-semver", "v1.2.3"]).ok().json();
    let packed = push(tmp.path(), &[&s(&gz), &format!("oci://{}/push/busybox-gz:1", reg.host())]).ok().json();
    let digest = plain["digest"].as_str().unwrap();
    assert_eq!(packed["digest"].as_str().unwrap(), digest, "same image, same digest, whatever the packing");

    let reference = format!("docker://{}/push/busybox:1", reg.host());
    assert_eq!(skopeo_digest(&reference), digest);
    assert_eq!(skopeo_tags(&format!("{}/push/busybox", reg.host())), vec!["1", "1.2", "1.2.3", "v1.2.3"]);
    let manifest = raw_manifest(&reference);
    let engine_id = docker(&["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE]);
    assert_eq!(
        manifest["config"]["digest"].as_str().unwrap(),
        engine_id.trim(),
        "the engine's config is published unchanged"
    );
    let (top, blobs) = pull_back(&reference);
    assert_eq!(top, digest);
    assert_eq!(blobs, image_blobs(&manifest, digest));
    assert!(file_in_image(&reference, "etc/passwd").is_some_and(|p| p.contains("root")));
    assert_eq!(plain["stats"]["blobs_uploaded"], 2);
    assert_eq!(packed["stats"]["blobs_uploaded"], 2, "another repository: blobs are uploaded there too");
}

#[test]
fn a_small_built_image_is_pushed_and_its_file_read_back() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nRUN echo built-by-the-engine > /hello\n"),
    )
    .unwrap();
    let tag = "wharf-e2e/push-small:1";
    docker(&["build", "-q", "-t", tag, &s(tmp.path())]);
    let tar = docker_save(tag, tmp.path(), "small.tar");
    let report = push(tmp.path(), &[&s(&tar), &format!("{}/push/small:v1", reg.host())]).ok().json();
    let reference = format!("docker://{}/push/small:v1", reg.host());
    assert_eq!(skopeo_digest(&reference), report["digest"].as_str().unwrap());
    assert_eq!(file_in_image(&reference, "hello").as_deref(), Some("built-by-the-engine\n"));
    let again = push(tmp.path(), &[&s(&tar), &format!("{}/push/small:v1", reg.host())]).ok().json();
    assert_eq!(again["stats"]["blobs_uploaded"], 0, "nothing is uploaded twice");
    assert_eq!(again["stats"]["manifest_written"], false, "the tag already points there");
}

#[test]
fn hand_made_oci_layouts_keep_their_digest_as_directory_tar_and_gzip() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let spec = Spec {
        architecture: "amd64",
        variant: None,
        layers: vec![layer_tar(&[("etc/greeting", b"hello from a layout\n")]), layer_tar(&[("etc/second", b"2\n")])],
        labels: serde_json::json!({}),
    };
    let digest = write_image(&dir, &spec, "v1");
    let tar = tmp.path().join("layout.tar");
    tar_dir(&dir, &tar);
    let gz = tmp.path().join("layout.tgz");
    write_gz(&tar, &gz);
    for (src, repo) in [(s(&dir), "dir"), (s(&tar), "tar"), (s(&gz), "gz")] {
        let dest = format!("{}/push/layout-{repo}:v1", reg.host());
        let report = push(tmp.path(), &[&src, &dest, "--no-default-annotations"]).ok().json();
        assert_eq!(report["digest"].as_str().unwrap(), digest, "{repo}: pushed as it is");
        let reference = format!("docker://{dest}");
        let raw = skopeo(&["inspect", "--tls-verify=false", "--raw", &reference]);
        assert_eq!(sha256(raw.as_bytes()), digest, "{repo}: the registry serves the layout's own bytes");
        let (top, blobs) = pull_back(&reference);
        assert_eq!(top, digest);
        let manifest = blob_json(&dir, &digest);
        assert_eq!(blobs, image_blobs(&manifest, &digest), "{repo}");
        assert_eq!(file_in_image(&reference, "etc/greeting").as_deref(), Some("hello from a layout\n"));
    }
}

/// A git checkout with an `origin` remote and one commit, for the provenance annotations.
fn git_checkout(dir: &Path) -> String {
    let repo = git2::Repository::init(dir).unwrap();
    repo.remote("origin", "git@github.com:acme/widget.git").unwrap();
    let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "first", &tree, &[]).unwrap().to_string()
}

#[test]
fn two_platforms_become_one_index_with_annotations_where_registries_read_them() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let commit = git_checkout(tmp.path());
    let amd64 = docker_save(BASE_IMAGE, tmp.path(), "amd64.tar");
    // arm64 by hand: the same layers, a config that says arm64; as a gzipped OCI tar.
    let arm_dir = tmp.path().join("arm64");
    let spec = Spec {
        architecture: "arm64",
        variant: Some("v8"),
        layers: docker_save_layers(&amd64),
        labels: serde_json::json!({"org.opencontainers.image.licenses": "GPL-2.0"}),
    };
    write_image(&arm_dir, &spec, "latest");
    let arm_tar = tmp.path().join("arm64.tar");
    tar_dir(&arm_dir, &arm_tar);
    let arm = tmp.path().join("arm64.oci");
    write_gz(&arm_tar, &arm);

    let dest = format!("{}/push/multi:1.0.0", reg.host());
    let report = push(
        tmp.path(),
        &[
            &s(&amd64),
            &s(&arm),
            &dest,
            "--tag",
            "stable",
            "--annotation",
            "org.opencontainers.image.description=A tiny multi-arch busybox",
            "--annotation",
            "index:com.example.only-index=yes",
            "--annotation",
            "manifest:com.example.only-manifest=yes",
        ],
    )
    .ok()
    .json();
    let index_digest = report["digest"].as_str().unwrap();
    assert_eq!(report["media_type"], oci::OCI_INDEX);

    let reference = format!("docker://{dest}");
    assert_eq!(skopeo_digest(&reference), index_digest);
    assert_eq!(skopeo_digest(&format!("docker://{}/push/multi:stable", reg.host())), index_digest);
    let index = raw_manifest(&reference);
    assert_eq!(index["mediaType"], oci::OCI_INDEX);
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap())
        })
        .collect();
    assert_eq!(platforms, vec!["linux/amd64", "linux/arm64"]);
    assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
    let a = &index["annotations"];
    assert_eq!(a["org.opencontainers.image.description"], "A tiny multi-arch busybox");
    assert_eq!(a["org.opencontainers.image.licenses"], "GPL-2.0", "a label every image that has it agrees on");
    assert_eq!(a["org.opencontainers.image.source"], "https://github.com/acme/widget");
    assert_eq!(a["org.opencontainers.image.revision"], commit.as_str());
    assert_eq!(a["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    assert_eq!(a["com.example.only-index"], "yes");
    assert!(a.get("com.example.only-manifest").is_none());

    for (k, m) in index["manifests"].as_array().unwrap().iter().enumerate() {
        let child = raw_manifest(&format!("docker://{}/push/multi@{}", reg.host(), m["digest"].as_str().unwrap()));
        let ca = &child["annotations"];
        assert_eq!(ca["org.opencontainers.image.description"], "A tiny multi-arch busybox");
        assert_eq!(ca["org.opencontainers.image.revision"], commit.as_str());
        assert_eq!(ca["com.example.only-manifest"], "yes");
        assert!(ca.get("com.example.only-index").is_none());
        assert_eq!(report["images"][k]["digest"], m["digest"]);
    }
    let arm_config = skopeo(&["inspect", "--tls-verify=false", "--override-arch", "arm64", "--config", &reference]);
    assert!(arm_config.contains("\"architecture\": \"arm64\""), "{arm_config}");
    let (top, _) = pull_back(&reference);
    assert_eq!(top, index_digest);
}

#[test]
fn the_same_platform_twice_is_refused_naming_both_files() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let first = docker_save(BASE_IMAGE, tmp.path(), "first.tar");
    let dir = tmp.path().join("second");
    write_image(
        &dir,
        &Spec {
            architecture: "amd64",
            variant: None,
            layers: vec![layer_tar(&[("x", b"x")])],
            labels: serde_json::json!({}),
        },
        "v1",
    );
    let out = push(tmp.path(), &[&s(&first), &s(&dir), &format!("{}/push/dup:1", reg.host())]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("linux/amd64") && err.contains(&s(&first)) && err.contains(&s(&dir)), "{err}");
    assert_nothing_published(&reg);
}

fn assert_nothing_published(reg: &Registry) {
    let log = reg.log();
    for method in ["PUT", "POST", "PATCH"] {
        assert_eq!(count_requests(&log, method), 0, "{method} requests reached the registry:\n{log}");
    }
}

#[test]
fn bad_archives_are_refused_with_the_file_named_and_nothing_published() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let good = docker_save(BASE_IMAGE, t, "good.tar");
    let bytes = std::fs::read(&good).unwrap();
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();

    let truncated = t.join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    cases.push((truncated, "truncated"));
    let truncated_gz = t.join("truncated.tar.gz");
    let packed = gzip(&bytes);
    std::fs::write(&truncated_gz, &packed[..packed.len() / 2]).unwrap();
    cases.push((truncated_gz, "gzip"));

    let corrupt = t.join("corrupt");
    let digest = write_image(
        &corrupt,
        &Spec {
            architecture: "amd64",
            variant: None,
            layers: vec![layer_tar(&[("f", b"data")])],
            labels: serde_json::json!({}),
        },
        "v1",
    );
    let layer =
        blob_json(&corrupt, &digest)["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let layer_path = corrupt.join("blobs/sha256").join(&layer);
    let mut data = std::fs::read(&layer_path).unwrap();
    data[10] ^= 0x55;
    std::fs::write(&layer_path, data).unwrap();
    cases.push((corrupt.clone(), "corrupt"));
    let corrupt_tar = t.join("corrupt.tar");
    tar_dir(&corrupt, &corrupt_tar);
    cases.push((corrupt_tar, "corrupt"));

    let no_config = t.join("no-config");
    let digest = write_image(
        &no_config,
        &Spec { architecture: "amd64", variant: None, layers: vec![], labels: serde_json::json!({}) },
        "v1",
    );
    let config =
        blob_json(&no_config, &digest)["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    std::fs::remove_file(no_config.join("blobs/sha256").join(config)).unwrap();
    cases.push((no_config, "missing"));
    let no_config_docker = t.join("no-config-docker.tar");
    raw_tar(
        &no_config_docker,
        &[("manifest.json", Ok(br#"[{"Config":"c.json","RepoTags":["a:1"],"Layers":[]}]"#.to_vec()))],
    );
    cases.push((no_config_docker, "c.json"));

    let huge = t.join("huge-manifest");
    let digest = write_image(
        &huge,
        &Spec { architecture: "amd64", variant: None, layers: vec![], labels: serde_json::json!({}) },
        "v1",
    );
    let mut manifest = blob_json(&huge, &digest);
    manifest["annotations"] = serde_json::json!({"padding": "x".repeat(5 << 20)});
    let big = serde_json::to_vec(&manifest).unwrap();
    let big_digest = sha256(&big);
    std::fs::write(huge.join("blobs/sha256").join(&big_digest[7..]), &big).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": oci::OCI_MANIFEST, "digest": big_digest, "size": big.len()}]});
    std::fs::write(huge.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    cases.push((huge, "more than the 4194304 allowed"));

    for (name, entry, want) in [
        ("traversal.tar", ("../escape", Ok(b"x".to_vec())), "unsafe path"),
        ("absolute.tar", ("/etc/escape", Ok(b"x".to_vec())), "unsafe path"),
        ("symlink.tar", ("blobs/sha256/link", Err("../../../etc/passwd")), "points outside"),
    ] {
        let path = t.join(name);
        raw_tar(&path, &[entry, ("index.json", Ok(b"{}".to_vec())), ("oci-layout", Ok(b"{}".to_vec()))]);
        cases.push((path, want));
    }

    let dest = format!("{}/push/bad:1", reg.host());
    for (path, want) in &cases {
        // The good archive first: it must not be published either.
        let out = push(t, &[&s(&good), &s(path), &dest]);
        let err = out.stderr();
        assert_eq!(out.code(), 6, "{}: {err}", path.display());
        assert!(
            err.starts_with(&format!("error: {}", path.display())),
            "{}: the error names the file: {err}",
            path.display()
        );
        assert!(err.contains(want), "{}: expected {want:?} in {err}", path.display());
    }
    assert_nothing_published(&reg);
}

#[test]
fn a_driver_that_needs_repositories_gets_one_before_anything_is_uploaded() {
    // The ecr driver against moto (control plane), the images to the real registry: the
    // driver's checks and its own login come first, the blobs after.
    let reg = Registry::start();
    let moto = crate::support::moto::Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = docker_save(BASE_IMAGE, tmp.path(), "busybox.tar");
    let dest = format!("{}/team/app:1", reg.host());
    let ecr_push = |extra: &[&str]| {
        let mut args = vec!["push", "--output", "json", "--implementation", "ecr"];
        let tar = s(&tar);
        args.push(&tar);
        args.push(&dest);
        args.extend_from_slice(extra);
        let mut cmd = crate::support::wharf::wharf(&args);
        cmd.current_dir(tmp.path()).envs(moto.env());
        crate::support::wharf::run(cmd)
    };
    let refused = ecr_push(&[]);
    assert_ne!(refused.code(), 0, "a missing ECR repository stops the push: {}", refused.stdout());
    assert!(
        refused.stderr().contains("team/app") && refused.stderr().contains("--create-repositories"),
        "{}",
        refused.stderr()
    );
    assert_nothing_published(&reg);

    let report = ecr_push(&["--create-repositories"]).ok().json();
    assert_eq!(skopeo_digest(&format!("docker://{dest}")), report["digest"].as_str().unwrap());
    let again = ecr_push(&[]).ok().json();
    assert_eq!(again["digest"], report["digest"], "the repository exists now");
}
