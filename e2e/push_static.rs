//! `wharf push --static-root` and `wharf serve`: a static registry written to a directory,
//! served, copied back with skopeo digest for digest and pulled by the engine.

use crate::support::engine::{BASE_IMAGE, docker};
use crate::support::moto::Moto;
use crate::support::oci::{Spec, docker_save, docker_save_layers, pull_back, push, raw_manifest, s, write_image};
use crate::support::wharf::{skopeo_digest, skopeo_tags, wharf};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

/// `wharf serve ROOT` on a free loopback port; killed when dropped.
pub(crate) struct Served {
    child: Child,
    pub(crate) addr: String,
}

impl Served {
    pub(crate) fn start(root: &str, env: &[(&str, String)]) -> Served {
        Served::start_with(root, env, &[])
    }

    /// `wharf serve ROOT ARGS…`.
    pub(crate) fn start_with(root: &str, env: &[(&str, String)], args: &[&str]) -> Served {
        let mut all = vec!["serve", root, "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut cmd = wharf(&all);
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start wharf serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("serve prints its address");
        let addr = line.trim().rsplit("http://").next().unwrap_or_default().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "unexpected first line from wharf serve: {line:?}");
        Served { child, addr }
    }
}

impl Served {
    /// The server's process (to signal it).
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw request; the status line, headers (lowercased names) and the body.
fn http(addr: &str, method: &str, path: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let (status, headers, body) = crate::serve_clients::request(addr, method, path, &[]);
    (format!("HTTP/1.1 {status}"), headers, body)
}

use crate::serve_clients::header;

#[test]
fn a_static_root_is_served_copied_back_and_pulled_by_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let amd64 = docker_save(BASE_IMAGE, tmp.path(), "amd64.tar");
    let arm = tmp.path().join("arm64");
    write_image(
        &arm,
        &Spec {
            architecture: "arm64",
            variant: None,
            layers: docker_save_layers(&amd64),
            labels: serde_json::json!({}),
        },
        "x",
    );

    let multi =
        push(tmp.path(), &[&s(&amd64), &s(&arm), "acme/multi:1", "--static-root", &s(&root), "--tag", "latest"])
            .ok()
            .json();
    let single = push(tmp.path(), &[&s(&amd64), "acme/busybox:1", "--static-root", &s(&root)]).ok().json();
    let repo = root.join("v2/acme/multi");
    assert!(repo.join("manifests/1").is_file() && repo.join("manifests/latest").is_file());
    assert!(repo.join("manifests").join(multi["digest"].as_str().unwrap()).is_file());
    let types: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("_wharf/media-types.json")).unwrap()).unwrap();
    assert_eq!(types["1"], "application/vnd.oci.image.index.v1+json");

    let served = Served::start(&s(&root), &[]);
    let host = &served.addr;
    let multi_ref = format!("docker://{host}/acme/multi:1");
    assert_eq!(skopeo_digest(&multi_ref), multi["digest"].as_str().unwrap());
    assert_eq!(skopeo_tags(&format!("{host}/acme/multi")), vec!["1", "latest"]);
    assert_eq!(raw_manifest(&multi_ref)["manifests"].as_array().unwrap().len(), 2);
    let (top, blobs) = pull_back(&multi_ref);
    assert_eq!(top, multi["digest"].as_str().unwrap());
    for image in multi["images"].as_array().unwrap() {
        assert!(blobs.contains(&image["digest"].as_str().unwrap().to_string()), "child manifests come back: {blobs:?}");
    }
    let single_ref = format!("docker://{host}/acme/busybox:1");
    let (top, _) = pull_back(&single_ref);
    assert_eq!(top, single["digest"].as_str().unwrap());

    // HEAD keeps the headers; errors use the distribution error body.
    let (status, headers, body) = http(host, "HEAD", "/v2/acme/multi/manifests/1");
    assert!(status.contains("200"), "{status}");
    assert_eq!(header(&headers, "content-type"), Some("application/vnd.oci.image.index.v1+json"));
    assert_eq!(header(&headers, "docker-content-digest"), multi["digest"].as_str());
    assert!(header(&headers, "content-length").is_some_and(|l| l != "0"));
    assert!(body.is_empty());
    let (status, _, body) = http(host, "GET", "/v2/acme/multi/manifests/nope");
    assert!(status.contains("404"), "{status}");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["errors"][0]["code"], "MANIFEST_UNKNOWN");
    let (status, _, _) = http(
        host,
        "GET",
        "/v2/acme/multi/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert!(status.contains("404"), "{status}");
    let (status, _, _) = http(host, "GET", "/v2/../../etc/passwd");
    assert!(status.contains("404"), "{status}");

    // The engine pulls the index (and picks amd64) and the single image, and runs it.
    for (reference, digest) in
        [(format!("{host}/acme/multi:1"), &multi["digest"]), (format!("{host}/acme/busybox:1"), &single["digest"])]
    {
        let out = docker(&["pull", &reference]);
        assert!(out.contains(digest.as_str().unwrap()), "docker pull {reference}: {out}");
    }
    let passwd = docker(&["run", "--rm", &format!("{host}/acme/multi:1"), "cat", "/etc/passwd"]);
    assert!(passwd.starts_with("root:"), "{passwd}");
    let _ = std::process::Command::new("docker")
        .env("DOCKER_HOST", crate::support::engine::docker_host())
        .args(["rmi", &format!("{host}/acme/multi:1"), &format!("{host}/acme/busybox:1")])
        .output();
}

#[test]
fn a_second_push_to_a_static_root_copies_nothing_and_keeps_other_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let amd64 = docker_save(BASE_IMAGE, tmp.path(), "amd64.tar");
    let first = push(tmp.path(), &[&s(&amd64), "app:v1", "--static-root", &s(&root)]).ok().json();
    assert_eq!(first["stats"]["blobs_uploaded"], 2);
    let second = push(tmp.path(), &[&s(&amd64), "app:v2", "--static-root", &s(&root)]).ok().json();
    assert_eq!(second["stats"]["blobs_uploaded"], 0, "blobs already in the root are skipped");
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("v2/app/tags/list")).unwrap()).unwrap();
    assert_eq!(list, serde_json::json!({"name": "app", "tags": ["v1", "v2"]}));
    let bad = push(tmp.path(), &[&s(&amd64), "localhost:5000/app:v1", "--static-root", &s(&root)]);
    assert_eq!(bad.code(), 2, "a host:port in DEST is refused for a static root: {}", bad.stderr());
}

/// `wharf push ARGS… --output json` with the environment of `moto`.
pub(crate) fn push_s3(cwd: &Path, moto: &Moto, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["push", "--output", "json"];
    all.extend_from_slice(args);
    let mut cmd = wharf(&all);
    cmd.current_dir(cwd).envs(moto.env());
    crate::support::wharf::run(cmd).ok().json()
}

#[test]
fn a_static_root_in_s3_is_served_copied_back_and_pulled_by_the_engine() {
    let moto = Moto::start();
    moto.create_bucket("wharf-site");
    let tmp = tempfile::tempdir().unwrap();
    let amd64 = docker_save(BASE_IMAGE, tmp.path(), "amd64.tar");
    let arm = tmp.path().join("arm64");
    write_image(
        &arm,
        &Spec {
            architecture: "arm64",
            variant: None,
            layers: docker_save_layers(&amd64),
            labels: serde_json::json!({}),
        },
        "x",
    );
    let root = "s3://wharf-site/registry";
    let multi =
        push_s3(tmp.path(), &moto, &[&s(&amd64), &s(&arm), "acme/multi:1", "--static-root", root, "--tag", "latest"]);
    let again = push_s3(tmp.path(), &moto, &[&s(&amd64), &s(&arm), "acme/multi:2", "--static-root", root]);
    assert_eq!(again["digest"], multi["digest"]);
    assert_eq!(again["stats"]["blobs_uploaded"], 0, "objects already in the bucket are skipped");

    let served = Served::start(root, &moto.env());
    let host = &served.addr;
    let reference = format!("docker://{host}/acme/multi:1");
    assert_eq!(skopeo_digest(&reference), multi["digest"].as_str().unwrap());
    assert_eq!(skopeo_tags(&format!("{host}/acme/multi")), vec!["1", "2", "latest"]);
    let (status, headers, _) = http(host, "HEAD", "/v2/acme/multi/manifests/latest");
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.oci.image.index.v1+json"),
        "the object's Content-Type"
    );
    let (top, blobs) = pull_back(&reference);
    assert_eq!(top, multi["digest"].as_str().unwrap());
    assert_eq!(blobs.len(), 7, "index, two manifests, two configs, two layers (gzipped differently): {blobs:?}");
    let out = docker(&["pull", &format!("{host}/acme/multi:1")]);
    assert!(out.contains(multi["digest"].as_str().unwrap()), "{out}");
    let _ = std::process::Command::new("docker")
        .env("DOCKER_HOST", crate::support::engine::docker_host())
        .args(["rmi", &format!("{host}/acme/multi:1")])
        .output();
}

#[test]
fn large_blobs_go_to_s3_in_parts_and_come_back_whole() {
    use wharf::static_registry::root::{S3Root, StaticRoot};
    let moto = Moto::start();
    moto.create_bucket("parts");
    let tmp = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let src = tmp.path().join("blob");
    std::fs::write(&src, &data).unwrap();
    let digest: wharf::spec::digest::Digest = crate::support::oci::sha256(&data).parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sdk = moto.sdk_config().await;
        let root = StaticRoot::s3(S3Root::new(&sdk, "s3://parts").unwrap().with_part_size(5 * 1024 * 1024));
        root.put_blob_file("big", &digest, &src).await.unwrap();
        assert!(root.has_blob("big", &digest).await.unwrap());
        let (path, _keep) = root.blob_file("big", &digest).await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), data, "three parts, reassembled and verified");
    });
}
