//! `wharf build-and-publish` through the fault-injecting proxy (`support/proxy.rs`) in front
//! of the real distribution registry.
//!
//! Under each fault the run either succeeds through retries, or fails with an error naming
//! the operation, the reference and the number of attempts. Either way no tag points at an
//! incomplete image (every tag is copied in full with skopeo), and a rerun without faults
//! completes, uploading only the blobs the registry lacks.

use crate::support::proxy::{Fault, Proxy, Rule};
use crate::support::registry::Registry;
use crate::support::wharf::{Run, example, run, skopeo, skopeo_tags, wharf};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

struct Setup {
    reg: Registry,
    proxy: Proxy,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let reg = Registry::start();
    let proxy = Proxy::start(&reg.host());
    Setup { reg, proxy, dir: example("flant") }
}

impl Setup {
    /// `PROXY/flant`, the repository every run publishes to.
    fn repo(&self) -> String {
        format!("{}/flant", self.proxy.host())
    }

    /// Publishes flant (backend and frontend) as `v1` through the proxy. One build at a time,
    /// so that "the nth request" means the same request in every run.
    fn publish(&self, extra: &[&str]) -> Run {
        let (dir, repo) = (self.dir.path().to_string_lossy().into_owned(), self.repo());
        let mut args = vec![
            "build-and-publish",
            "--dir",
            &dir,
            "--repo",
            &repo,
            "--tag-custom",
            "v1",
            "--output",
            "json",
            "--parallel-tasks-limit",
            "1",
        ];
        args.extend_from_slice(extra);
        run(wharf(&args))
    }

    /// Reruns without faults and checks that it uploads only blobs the registry lacked, each
    /// once, and leaves every tag complete; returns the report.
    fn rerun_uploads_only_what_is_missing(&self) -> serde_json::Value {
        self.proxy.clear_rules();
        let (before, log_before) = (self.reg.stored_blobs(), self.reg.log().len());
        let report = self.publish(&[]).ok().json();
        let uploaded = completed_uploads(&self.reg.log()[log_before..]);
        let (after, manifests) = (self.reg.stored_blobs(), self.reg.stored_manifests());
        let added: Vec<&String> = after.difference(&before).filter(|d| !manifests.contains(*d)).collect();
        let mut unique = uploaded.clone();
        unique.dedup();
        assert_eq!(unique.len(), uploaded.len(), "a blob was uploaded twice: {uploaded:?}");
        for d in &uploaded {
            assert!(!before.contains(d), "{d} was uploaded again although the registry had it");
        }
        assert_eq!(
            uploaded.iter().collect::<Vec<_>>(),
            added,
            "every layer and config the rerun added was uploaded once"
        );
        assert_complete(&self.reg);
        for image in ["backend", "frontend"] {
            assert_eq!(skopeo_tags(&format!("{}/flant/{image}", self.reg.host())), vec!["v1"]);
        }
        report
    }
}

/// Digests of the blob uploads the registry completed (`PUT …/blobs/uploads/…?digest=` → 201),
/// sorted, in access-log text.
fn completed_uploads(log: &str) -> Vec<String> {
    let mut out: Vec<String> = log
        .lines()
        .filter(|l| l.contains("\"PUT /v2/") && l.contains("/blobs/uploads/") && l.contains("\" 201 "))
        .filter_map(|l| {
            let at = l.find("digest=")? + "digest=".len();
            let rest = &l[at..];
            let end = rest.find(['&', ' ']).unwrap_or(rest.len());
            Some(rest[..end].replace("%3A", ":").replace("%3a", ":"))
        })
        .collect();
    out.sort();
    out
}

/// Copies every tag of every repository in full with skopeo (which verifies each blob against
/// its digest): no tag may point at a manifest whose blobs are missing. Returns tag → digest.
fn assert_complete(reg: &Registry) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for repo in reg.catalog() {
        for tag in reg.tags(&repo) {
            let src = format!("docker://{}/{repo}:{tag}", reg.host());
            let dest = tempfile::tempdir().expect("temp dir");
            skopeo(&["copy", "--quiet", "--src-tls-verify=false", &src, &format!("dir:{}", dest.path().display())]);
            let manifest = std::fs::read(dest.path().join("manifest.json")).expect("manifest");
            out.insert(format!("{repo}:{tag}"), wharf::spec::digest::Digest::of(&manifest).to_string());
        }
    }
    out
}

/// Requests inside an upload session (PATCH or PUT to `/blobs/uploads/<id>?_state=…`; the
/// state changes with every step): none may be sent twice, since repeating one could corrupt
/// the session. Failed uploads restart in a new session instead.
fn assert_no_upload_request_repeated(proxy: &Proxy) {
    let mut sent = BTreeSet::new();
    for s in proxy.seen().iter().filter(|s| s.method == "PUT" || s.method == "PATCH") {
        if s.target.contains("/blobs/uploads/") {
            assert!(sent.insert((s.method.clone(), s.target.clone())), "{} {} was sent twice", s.method, s.target);
        }
    }
}

/// A failed run: exit code 5 (registry), no report on stdout, and an error message that says
/// what failed (`needles`) and after how many attempts.
fn assert_failed_clearly(out: &Run, needles: &[&str]) {
    assert_eq!(out.code(), 5, "a registry failure exits 5:\n{}", out.stderr());
    assert!(out.stdout().trim().is_empty(), "nothing is reported as published:\n{}", out.stdout());
    let err = out.stderr();
    eprintln!("wharf said:\n{err}");
    for n in needles {
        assert!(err.contains(n), "the error should say {n:?}:\n{err}");
    }
}

#[test]
fn without_faults_the_proxy_is_transparent() {
    let s = setup();
    let report = s.publish(&[]).ok().json();
    assert!(s.proxy.faults().is_empty());
    assert!(s.proxy.count("PUT", "/flant/backend/manifests/v1$") == 1, "{:#?}", s.proxy.seen());
    let tags = assert_complete(&s.reg);
    assert!(tags.contains_key("flant/backend:v1") && tags.contains_key("flant/frontend:v1"), "{tags:?}");
    assert_eq!(report["images"].as_array().map(Vec::len), Some(2));
}

#[test]
fn blob_uploads_dropped_mid_body_restart_in_a_new_session() {
    let s = setup();
    s.proxy.set_rules(vec![Rule::new("PUT", "/blobs/uploads/", Fault::DropMidBody { after: 16 }).times(2)]);
    s.publish(&[]).ok();
    assert_eq!(s.proxy.faults().len(), 2);
    assert_no_upload_request_repeated(&s.proxy);
    assert_complete(&s.reg);
    s.rerun_uploads_only_what_is_missing();
}

#[test]
fn server_errors_are_retried() {
    let s = setup();
    s.proxy.set_rules(vec![
        Rule::new("HEAD", "/blobs/sha256:", Fault::Status(500)).times(1),
        Rule::new("POST", "/blobs/uploads/$", Fault::Status(502)).times(1),
        Rule::new("PUT", "/manifests/", Fault::Status(503)).times(2),
        Rule::new("HEAD", "/manifests/", Fault::Status(504)).nth(2),
    ]);
    s.publish(&[]).ok();
    assert_eq!(s.proxy.faults().len(), 5, "{:#?}", s.proxy.faults());
    assert_no_upload_request_repeated(&s.proxy);
    assert_complete(&s.reg);
    s.rerun_uploads_only_what_is_missing();
}

#[test]
fn rate_limits_wait_for_retry_after() {
    let s = setup();
    s.proxy.set_rules(vec![
        Rule::new("PUT", "/flant/backend/manifests/v1$", Fault::TooManyRequests { retry_after: 2 }).times(1),
    ]);
    s.publish(&[]).ok();
    let puts: Vec<_> = s
        .proxy
        .seen()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.target.ends_with("/flant/backend/manifests/v1"))
        .collect();
    assert_eq!(puts.len(), 2, "{puts:#?}");
    assert_eq!((puts[0].status, puts[1].status), (Some(429), Some(201)));
    let waited = puts[1].at.duration_since(puts[0].at);
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
    assert_complete(&s.reg);
}

#[test]
fn a_stall_longer_than_the_timeout_is_retried() {
    let s = setup();
    s.proxy.set_rules(vec![
        Rule::new("HEAD", "/manifests/", Fault::Stall(Duration::from_secs(4))).nth(1),
        Rule::new("PUT", "/blobs/uploads/", Fault::Stall(Duration::from_secs(4))).nth(1),
    ]);
    s.publish(&["--registry-timeout", "2s"]).ok();
    assert_eq!(s.proxy.faults().len(), 2);
    assert_no_upload_request_repeated(&s.proxy);
    // The stalled upload reached the registry late, after the client had given up on it.
    std::thread::sleep(Duration::from_secs(3));
    assert_complete(&s.reg);
}

#[test]
fn a_reset_during_a_manifest_put_is_retried() {
    let s = setup();
    s.proxy.set_rules(vec![
        // The registry stores the manifest, but the answer never arrives.
        Rule::new("PUT", "/flant/backend/manifests/v1$", Fault::ResetAfterForward).times(1),
        // The request never arrives.
        Rule::new("PUT", "/flant/frontend/manifests/v1$", Fault::ResetBeforeForward).times(1),
        Rule::new("PUT", "/wharf-stages/manifests/", Fault::ResetAfterForward).nth(1),
    ]);
    let report = s.publish(&[]).ok().json();
    assert_eq!(s.proxy.faults().len(), 3);
    let tags = assert_complete(&s.reg);
    for image in ["backend", "frontend"] {
        let reported =
            crate::support::wharf::image_report(&report, Some(image))["manifest_digest"].as_str().unwrap().to_string();
        assert_eq!(tags[&format!("flant/{image}:v1")], reported);
    }
}

#[test]
fn a_manifest_put_that_keeps_failing_fails_clearly_and_a_rerun_completes() {
    let s = setup();
    s.proxy.set_rules(vec![Rule::new("PUT", "/flant/backend/manifests/v1$", Fault::Status(503))]);
    let out = s.publish(&[]);
    let target = format!("put manifest {}/flant/backend:v1 (gave up after 5 attempts): HTTP 503", s.proxy.host());
    assert_failed_clearly(&out, &["image backend", &target, "UNAVAILABLE"]);
    assert_eq!(s.proxy.count("PUT", "/flant/backend/manifests/v1$"), 5, "the first try and 4 retries");
    assert!(!assert_complete(&s.reg).contains_key("flant/backend:v1"));
    let report = s.rerun_uploads_only_what_is_missing();
    assert_eq!(crate::support::wharf::image_report(&report, Some("backend"))["stats"]["blobs_uploaded"], 0);
}

#[test]
fn blob_uploads_that_keep_breaking_fail_clearly_and_a_rerun_uploads_the_rest() {
    let s = setup();
    s.proxy.set_rules(vec![Rule::new("PUT", "/blobs/uploads/", Fault::DropMidBody { after: 16 }).starting_at(3)]);
    let out = s.publish(&[]);
    let target = format!("push blob {}/flant/wharf-stages@sha256:", s.proxy.host());
    assert_failed_clearly(&out, &[&target, "connection broken", "gave up after 5 attempts"]);
    assert_no_upload_request_repeated(&s.proxy);
    let tags = assert_complete(&s.reg);
    assert!(tags.is_empty(), "nothing is tagged before its blobs are in: {tags:?}");
    assert_eq!(completed_uploads(&s.reg.log()).len(), 2, "the two uploads before the fault are kept");
    s.rerun_uploads_only_what_is_missing();
}

#[test]
fn a_stage_manifest_put_that_keeps_resetting_publishes_nothing() {
    let s = setup();
    s.proxy.set_rules(vec![Rule::new("PUT", "/wharf-stages/manifests/", Fault::ResetBeforeForward)]);
    let out = s.publish(&[]);
    let target = format!("put manifest {}/flant/wharf-stages:", s.proxy.host());
    assert_failed_clearly(&out, &[&target, "connection broken", "gave up after 5 attempts"]);
    assert!(assert_complete(&s.reg).is_empty(), "no image is published without its stage");
    s.rerun_uploads_only_what_is_missing();
}

/// The chunked path (PATCH per chunk), which a small image never takes: a chunk dropped in
/// the middle restarts the upload in a new session, and no session request is repeated.
#[tokio::test]
async fn a_chunk_dropped_mid_body_restarts_the_upload_in_a_new_session() {
    use wharf::registry::{Client, ClientOptions, PushStatus, Repository};
    let reg = Registry::start();
    let proxy = Proxy::start(&reg.host());
    proxy.set_rules(vec![Rule::new("PATCH", "/blobs/uploads/", Fault::DropMidBody { after: 1000 }).nth(2)]);
    let opts = ClientOptions {
        monolithic_limit: 4096,
        chunk_size: 4096,
        initial_backoff: Duration::from_millis(50),
        ..Default::default()
    };
    let client = Client::new(opts).unwrap();
    let repo = Repository::new(&proxy.host(), "chunks").unwrap();
    let data = bytes::Bytes::from((0..20_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>());
    let digest = wharf::spec::digest::Digest::of(&data);
    assert_eq!(client.push_blob_bytes(&repo, &digest, data.clone()).await.unwrap(), PushStatus::Uploaded);
    assert_eq!(proxy.faults().len(), 1);
    assert_eq!(proxy.count("POST", "/blobs/uploads/$"), 2, "a second session after the broken chunk");
    assert_no_upload_request_repeated(&proxy);
    assert_eq!(client.get_blob_bytes(&repo, &digest, 1 << 20).await.unwrap(), data);
}
