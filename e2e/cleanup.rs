//! `wharf cleanup` against the real distribution registry, with a git repository made in
//! the test: branches, tags, a deleted branch, images published per commit.

use crate::support::registry::Registry;
use crate::support::wharf::{example, run, skopeo, skopeo_digest, skopeo_tags, wharf};
use std::path::Path;
use std::process::Command;

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const POLICIES: &str = "cleanup:\n  keepPolicies:\n  - references:\n      branch: main\n    imagesPerReference:\n      last: 1\n  - references:\n      tag: /v.*/\n    imagesPerReference:\n      last: 1\n";

/// flant as a git project with keep policies; returns the temp dir.
pub(crate) fn project() -> tempfile::TempDir {
    let dir = example("flant");
    let yaml = format!(
        "project: flant\nconfigVersion: 1\n{POLICIES}---\nimage: backend\ntarget: backend\n---\nimage: frontend\ntarget: frontend\n"
    );
    std::fs::write(dir.path().join("wharf.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join(".gitignore"), ".wharf\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    dir
}

pub(crate) fn commit(dir: &Path, file: &str, content: &str) -> String {
    std::fs::write(dir.join(file), content).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", file]);
    git(dir, &["rev-parse", "HEAD"])
}

pub(crate) fn publish(dir: &Path, repo: &str, extra: &[&str]) {
    let mut args = vec!["build-and-publish", "--dir", dir.to_str().unwrap(), "--repo", repo, "--tag-git-commit"];
    args.extend_from_slice(extra);
    run(wharf(&args)).ok();
}

fn cleanup(dir: &Path, repo: &str, extra: &[&str]) -> crate::support::wharf::Run {
    let mut args = vec!["cleanup", "--dir", dir.to_str().unwrap(), "--repo", repo, "--output", "json"];
    args.extend_from_slice(extra);
    run(wharf(&args))
}

pub(crate) struct History {
    pub c1: String,
    pub c2: String,
    pub c3: String,
}

/// main: c1 (tagged v1) → c2 (frontend changed); feature: c3 (backend changed), branch deleted.
pub(crate) fn history(dir: &Path, repo: &str) -> History {
    let c1 = commit(dir, "frontend/index.html", "<p>one</p>\n");
    git(dir, &["tag", "v1"]);
    publish(dir, repo, &[]);
    let c2 = commit(dir, "frontend/index.html", "<p>two</p>\n");
    publish(dir, repo, &[]);
    git(dir, &["checkout", "-q", "-b", "feature"]);
    let c3 = commit(dir, "backend/server.sh", "#!/bin/sh\necho feature\n");
    publish(dir, repo, &["--tag-custom", "feature-x", "--tag-custom", "keepme"]);
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["branch", "-q", "-D", "feature"]);
    History { c1, c2, c3 }
}

fn tags(repo: &str, image: &str) -> Vec<String> {
    skopeo_tags(&format!("{repo}/{image}")).into_iter().filter(|t| !t.starts_with("wharf-")).collect()
}

#[test]
fn git_policies_keep_what_references_need_and_delete_the_rest() {
    let reg = Registry::start();
    let dir = project();
    let repo = format!("{}/flant", reg.host());
    let h = history(dir.path(), &repo);
    let keepme_before = skopeo_digest(&format!("docker://{repo}/backend:keepme"));

    // Right after publishing, everything is inside the 2h fresh window: nothing goes.
    let fresh = cleanup(dir.path(), &repo, &[]).ok().json();
    assert_eq!(fresh["counts"]["deleted"], 0, "{fresh:#}");

    // Dry run with the window off: a plan, and no change.
    let before = tags(&repo, "backend");
    let plan = run(wharf(&[
        "cleanup",
        "--dir",
        dir.path().to_str().unwrap(),
        "--repo",
        &repo,
        "--fresh-window",
        "0",
        "--keep",
        "keepme",
        "--dry-run",
    ]))
    .ok();
    assert!(plan.stdout().contains("delete"), "{}", plan.stdout());
    assert!(plan.stdout().contains("policy 1: branch main"), "{}", plan.stdout());
    assert_eq!(tags(&repo, "backend"), before, "dry run changes nothing");

    let report = cleanup(dir.path(), &repo, &["--fresh-window", "0", "--keep", "keepme"]).ok().json();
    assert_eq!(report["counts"]["failed"], 0, "{report:#}");

    let mut expected_backend = vec![h.c1.clone(), h.c2.clone(), "keepme".to_string()];
    expected_backend.sort();
    assert_eq!(
        tags(&repo, "backend"),
        expected_backend,
        "c3's backend (deleted branch) goes, its sibling keepme stays"
    );
    // frontend at c3 is the same stage as at c2 (main keeps it): its c3 tag stays too.
    let mut expected_frontend =
        vec![h.c1.clone(), h.c2.clone(), h.c3.clone(), "feature-x".to_string(), "keepme".to_string()];
    expected_frontend.sort();
    assert_eq!(tags(&repo, "frontend"), expected_frontend);
    assert_eq!(
        skopeo_digest(&format!("docker://{repo}/backend:keepme")),
        keepme_before,
        "the sibling keeps its digest"
    );
    // Every stage still used stays: B1, F1, F2, and B3 because keepme holds it.
    let stages = skopeo_tags(&format!("{repo}/wharf-stages"));
    assert_eq!(stages.len(), 4, "{stages:?}");

    // A second run finds nothing more to delete.
    let again = cleanup(dir.path(), &repo, &["--fresh-window", "0", "--keep", "keepme"]).ok().json();
    assert_eq!(again["counts"]["deleted"], 0, "{again:#}");
}

#[test]
fn a_saved_plan_skips_a_tag_that_moved_and_restore_brings_deletions_back() {
    let reg = Registry::start();
    let dir = project();
    let repo = format!("{}/flant", reg.host());
    let h = history(dir.path(), &repo);
    let plan_file = dir.path().join("plan.json");
    run(wharf(&[
        "cleanup",
        "--dir",
        dir.path().to_str().unwrap(),
        "--repo",
        &repo,
        "--fresh-window",
        "0",
        "--dry-run",
        "--plan-out",
        plan_file.to_str().unwrap(),
    ]))
    .ok();
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let deletes: Vec<&serde_json::Value> =
        plan["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "delete").collect();
    assert!(deletes.iter().any(|e| e["tag"] == h.c3.as_str()), "{plan:#}");

    // feature-x moves onto c1's backend after the plan was made.
    let backend = format!("{repo}/backend");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{backend}:{}", h.c1),
        &format!("docker://{backend}:feature-x"),
    ]);
    let moved_to = skopeo_digest(&format!("docker://{backend}:feature-x"));
    let deleted_c3 = skopeo_digest(&format!("docker://{backend}:{}", h.c3));

    let journal = dir.path().join("journal.jsonl");
    let report = run(wharf(&[
        "cleanup",
        "apply",
        plan_file.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--output",
        "json",
    ]))
    .ok()
    .json();
    let skipped: Vec<&str> = report["skipped"].as_array().unwrap().iter().map(|s| s["tag"].as_str().unwrap()).collect();
    assert!(skipped.contains(&"feature-x"), "the moved tag is skipped: {report:#}");
    assert_eq!(skopeo_digest(&format!("docker://{backend}:feature-x")), moved_to);
    assert!(!tags(&repo, "backend").contains(&h.c3), "c3 was deleted");

    let restored = run(wharf(&["cleanup", "restore", journal.to_str().unwrap(), "--output", "json"])).ok().json();
    assert!(!restored["restored"].as_array().unwrap().is_empty(), "{restored:#}");
    assert_eq!(skopeo_digest(&format!("docker://{backend}:{}", h.c3)), deleted_c3, "restored with the same digest");
}

#[test]
fn a_shallow_clone_is_refused_with_the_fix() {
    let reg = Registry::start();
    let dir = project();
    let repo = format!("{}/flant", reg.host());
    let c1 = commit(dir.path(), "frontend/index.html", "x\n");
    std::fs::write(dir.path().join(".git/shallow"), format!("{c1}\n")).unwrap();
    let out = cleanup(dir.path(), &repo, &[]);
    assert_ne!(out.code(), 0);
    assert!(out.stderr().contains("git fetch --unshallow"), "{}", out.stderr());
}

#[test]
fn keep_last_needs_no_git_and_purge_needs_yes() {
    let reg = Registry::start();
    let dir = project();
    let repo = format!("{}/flant", reg.host());
    history(dir.path(), &repo);
    std::fs::remove_dir_all(dir.path().join(".git")).unwrap();
    let report = cleanup(dir.path(), &repo, &["--keep-last", "1", "--fresh-window", "0"]).ok().json();
    assert!(report["counts"]["deleted"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["counts"]["failed"], 0);

    let refused = cleanup(dir.path(), &repo, &["--purge"]);
    assert_ne!(refused.code(), 0);
    assert!(refused.stderr().contains("--yes"), "{}", refused.stderr());
    cleanup(dir.path(), &repo, &["--purge", "--yes"]).ok();
    assert!(skopeo_tags(&format!("{repo}/backend")).is_empty());
    assert!(skopeo_tags(&format!("{repo}/wharf-stages")).is_empty());
}

/// Puts an OCI index tagged `tag` in `repo` whose one child is `child`.
fn put_index(host: &str, path: &str, tag: &str, child: &str) {
    let child_digest: wharf::spec::digest::Digest = child.parse().unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": child_digest.as_str(), "size": 0,
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    });
    // The child's real size, as registries check it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = wharf::registry::Client::new(wharf::registry::ClientOptions::default()).unwrap();
    let repo = wharf::registry::Repository::new(host, path).unwrap();
    rt.block_on(async {
        let child = client.head_manifest(&repo, child_digest.as_str()).await.unwrap().unwrap();
        let mut index = index;
        index["manifests"][0]["size"] = child.size.into();
        client
            .put_manifest(
                &repo,
                tag,
                "application/vnd.oci.image.index.v1+json",
                serde_json::to_vec(&index).unwrap().into(),
            )
            .await
            .unwrap();
    });
}

#[test]
fn broken_tags_are_reported_and_index_children_and_referrers_follow_their_subject() {
    let reg = Registry::start();
    let dir = project();
    let repo = format!("{}/flant", reg.host());
    let h = history(dir.path(), &repo);
    let backend = format!("{repo}/backend");
    let c3_digest = skopeo_digest(&format!("docker://{backend}:{}", h.c3));
    let c1_digest = skopeo_digest(&format!("docker://{backend}:{}", h.c1));
    put_index(&reg.host(), "flant/backend", "multiarch", &c3_digest);
    let sig = format!("sha256-{}.sig", c3_digest.trim_start_matches("sha256:"));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{backend}:{}", h.c1),
        &format!("docker://{backend}:{sig}"),
    ]);
    // A tag whose manifest is gone from storage.
    let link = reg.storage_dir().join("docker/registry/v2/repositories/flant/backend/_manifests/tags/broken/current");
    std::fs::create_dir_all(&link).unwrap();
    std::fs::write(link.join("link"), format!("sha256:{}", "0".repeat(64))).unwrap();

    // The index has no publish record: kept, and with it its child c3 and c3's signature.
    let report =
        cleanup(dir.path(), &repo, &["--fresh-window", "0", "--keep", "keepme", "--keep", "feature-x"]).ok().json();
    assert_eq!(report["counts"]["failed"], 0, "{report:#}");
    let skipped: Vec<String> =
        report["skipped"].as_array().unwrap().iter().map(|s| format!("{} {}", s["tag"], s["reason"])).collect();
    assert!(skipped.iter().any(|s| s.contains("broken")), "the broken tag is reported: {skipped:?}");
    let after = tags(&repo, "backend");
    assert!(after.contains(&h.c3), "child of a kept index: {after:?}");
    assert!(after.contains(&sig), "signature of a kept image: {after:?}");

    // With --include-unknown the index goes, then c3 and its signature; c1 (same digest as the
    // signature tag) stays.
    let report = cleanup(dir.path(), &repo, &["--fresh-window", "0", "--include-unknown"]).ok().json();
    assert_eq!(report["counts"]["failed"], 0, "{report:#}");
    let after = tags(&repo, "backend");
    for gone in ["multiarch", sig.as_str(), h.c3.as_str(), "keepme", "feature-x"] {
        assert!(!after.contains(&gone.to_string()), "{gone} should be deleted: {after:?}");
    }
    assert!(after.contains(&h.c1) && after.contains(&h.c2), "{after:?}");
    assert_eq!(
        skopeo_digest(&format!("docker://{backend}:{}", h.c1)),
        c1_digest,
        "deleting the signature tag left its digest's other tag alone"
    );
}

#[test]
fn monorepo_look_alike_prefixes_never_lose_a_kept_tag() {
    let reg = Registry::start();
    let dir = example("flant");
    // `app` and `app-api` in one repository: every `app-api-…` tag also starts with `app-`.
    let yaml = format!(
        "project: flant\nconfigVersion: 1\n{POLICIES}---\nimage: app\ntarget: backend\n---\nimage: app-api\ntarget: frontend\n"
    );
    std::fs::write(dir.path().join("wharf.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join(".gitignore"), ".wharf\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let repo = format!("{}/flant", reg.host());
    let mono = ["--repo-mode", "monorepo"];
    let c1 = commit(dir.path(), "frontend/index.html", "<p>one</p>\n");
    publish(dir.path(), &repo, &mono);
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    let c2 = commit(dir.path(), "backend/server.sh", "#!/bin/sh\necho feature\n");
    publish(dir.path(), &repo, &mono);
    git(dir.path(), &["checkout", "-q", "main"]);
    git(dir.path(), &["branch", "-q", "-D", "feature"]);

    let report = cleanup(dir.path(), &repo, &["--fresh-window", "0", "--repo-mode", "monorepo"]).ok().json();
    assert_eq!(report["counts"]["failed"], 0, "{report:#}");
    let tags: Vec<String> = skopeo_tags(&repo).into_iter().filter(|t| !t.starts_with("wharf-")).collect();
    let mut expected = vec![format!("app-{c1}"), format!("app-api-{c1}"), format!("app-api-{c2}")];
    expected.sort();
    assert_eq!(
        tags, expected,
        "app's feature image goes; app-api's image at the same commit (unchanged, kept by main) stays"
    );
}
