//! What `build-and-publish` leaves behind, read with third-party tools: each blob sent once and
//! counted in the summary, publish records that declare themselves (image-spec 1.1
//! `artifactType`) with sub-second times, a state directory git ignores, and exit 5 when a
//! registry serves a manifest that cannot be parsed. Issue 11, cases 4 to 7.

use crate::cleanup::git;
use crate::registries::on_both;
use crate::support::oci::s;
use crate::support::proxy::Proxy;
use crate::support::registry::Registry;
use crate::support::tools::{CraneRegistry, crane};
use crate::support::wharf::{build_and_publish, example, image_report, run, wharf};
use std::collections::BTreeMap;
use std::path::Path;

fn build(dir: &Path, extra: &[&str]) -> crate::support::wharf::Run {
    build_and_publish(dir, extra, &[])
}

/// flant in a git repository of its own, with one commit (records need a commit), and a
/// file that makes its stages unique to this test.
fn flant_in_git(salt: &str) -> tempfile::TempDir {
    let dir = example("flant");
    std::fs::write(dir.path().join("backend/salt.txt"), salt).unwrap();
    std::fs::write(dir.path().join("frontend/salt.txt"), salt).unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "initial"]);
    dir
}

/// `digest → size` of every config and layer of the image at `reference`.
fn blobs_of(reference: &str) -> BTreeMap<String, u64> {
    let manifest: serde_json::Value = serde_json::from_str(&crane(&["manifest", reference])).unwrap();
    std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|d| (d["digest"].as_str().unwrap().to_string(), d["size"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_fresh_registry_gets_each_blob_once_the_summary_counts_them_and_records_are_artifacts() {
    on_both(|host, name| {
        let proxy = Proxy::start(host);
        let dir = flant_in_git(&format!("uploads {name} {}", std::process::id()));
        let repo = format!("{}/flant", proxy.host());
        let r = build(dir.path(), &["--repo", &repo, "--tag-custom", "v1"]);
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        let report = r.json();

        // Every blob of both images went up once (the busybox layer is shared by the two
        // stages, built in parallel), and the summary counts exactly those bytes.
        let mut blobs = BTreeMap::new();
        for image in ["backend", "frontend"] {
            assert_eq!(image_report(&report, Some(image))["built"], true, "{name}: {image}");
            blobs.extend(blobs_of(&format!("{host}/flant/{image}:v1")));
        }
        for digest in blobs.keys() {
            let hex = &digest["sha256:".len()..];
            let completed = proxy
                .seen()
                .iter()
                .filter(|s| s.method == "PUT" && s.target.contains("/blobs/uploads/") && s.target.contains(hex))
                .count();
            assert_eq!(completed, 1, "{name}: {digest} uploaded {completed} times");
        }
        let counted: u64 =
            report["images"].as_array().unwrap().iter().map(|i| i["stats"]["bytes_uploaded"].as_u64().unwrap()).sum();
        assert_eq!(counted, blobs.values().sum::<u64>(), "{name}: the summary counts what went up");
        let text = run(wharf(&["build-and-publish", "--dir", &s(dir.path()), "--repo", &repo, "--tag-custom", "v1"]))
            .ok()
            .stdout();
        assert!(text.contains("0 built, 2 reused; 0 B uploaded"), "{name}: a rerun uploads nothing: {text}");

        // The publish records are artifacts of their own type, timed to the sub-second.
        let commit = git(dir.path(), &["rev-parse", "HEAD"]);
        for image in ["backend", "frontend"] {
            let tags = crane(&["ls", &format!("{host}/flant/{image}")]);
            let record = tags
                .lines()
                .find(|t| t.starts_with(&format!("wharf-meta-{commit}-")))
                .unwrap_or_else(|| panic!("{name}: no record in {tags}"));
            let manifest: serde_json::Value =
                serde_json::from_str(&crane(&["manifest", &format!("{host}/flant/{image}:{record}")])).unwrap();
            assert_eq!(manifest["artifactType"], "application/vnd.wharf.publish-record.v1+json", "{name}");
            let created = manifest["annotations"]["org.opencontainers.image.created"].as_str().unwrap();
            let fraction = created.split_once('.').map(|(_, f)| f.trim_end_matches('Z')).unwrap_or_default();
            assert!(
                !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()),
                "{name}: {created} has sub-second precision"
            );
        }
    });
}

#[test]
fn wharf_state_never_lands_in_a_git_commit() {
    let dir = flant_in_git(&format!("state {}", std::process::id()));
    // Without --repo the images go to the project's OCI layout, .wharf/oci.
    build(dir.path(), &["--tag-custom", "v1"]).ok();
    assert!(dir.path().join(".wharf/oci/index.json").is_file());
    assert!(!dir.path().join(".wharf/cache").exists(), "converted stages live in the user's cache, not the project");
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "--allow-empty", "-m", "after a build"]);
    let committed = git(dir.path(), &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!committed.lines().any(|f| f.starts_with(".wharf")), "wharf's files were committed:\n{committed}");
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "", "nothing of wharf's shows as a change");
    // A branch can be made and checked out after the next build (it used to be refused).
    build(dir.path(), &["--tag-custom", "v2"]).ok();
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
}

#[test]
fn a_manifest_the_registry_serves_but_no_one_can_parse_is_a_registry_error() {
    let reg = CraneRegistry::start();
    let dir = flant_in_git(&format!("garbage {}", std::process::id()));
    let repo = format!("{}/flant", reg.host());
    // The stage digest the build will look for, from a dry look at another (empty) registry.
    let probe = Registry::start();
    let first = build(dir.path(), &["--repo", &format!("{}/flant", probe.host())]).ok().json();
    let stage = image_report(&first, Some("backend"))["stage_digest"].as_str().unwrap().to_string();
    let garbage = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":"oops"}"#;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = wharf::registry::Client::new(Default::default()).unwrap();
        let stages = wharf::registry::Repository::new(&reg.host(), "flant/wharf-stages").unwrap();
        client
            .put_manifest(&stages, &stage, "application/vnd.oci.image.manifest.v1+json", garbage.into())
            .await
            .unwrap();
    });
    let r = build(dir.path(), &["--repo", &repo]);
    assert_eq!(r.code(), 5, "{}", r.stderr());
    assert!(r.stderr().contains(&stage[..12]) || r.stderr().contains("wharf-stages"), "{}", r.stderr());
}
