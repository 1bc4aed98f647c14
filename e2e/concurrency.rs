//! Runs at the same time: two publishes of one project, a cleanup during a publish.

use crate::support::registry::Registry;
use crate::support::wharf::{Run, example, image_report, run, wharf};
use std::time::Duration;

#[test]
fn two_publishes_at_once_build_each_stage_once_and_both_succeed() {
    let reg = Registry::start();
    let locks = tempfile::tempdir().unwrap();
    let repo = format!("{}/flant", reg.host());
    let (a, b) = (example("flant"), example("flant"));
    let spawn = |dir: &std::path::Path, tag: &str| {
        wharf(&[
            "build-and-publish",
            "--dir",
            dir.to_str().unwrap(),
            "--repo",
            &repo,
            "--tag-custom",
            tag,
            "--output",
            "json",
            "--lock-dir",
            locks.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (pa, pb) = (spawn(a.path(), "a"), spawn(b.path(), "b"));
    let ra = Run { output: pa.wait_with_output().unwrap() }.ok().json();
    let rb = Run { output: pb.wait_with_output().unwrap() }.ok().json();
    for img in ["backend", "frontend"] {
        let (x, y) = (image_report(&ra, Some(img)), image_report(&rb, Some(img)));
        let built = [x["built"].as_bool().unwrap(), y["built"].as_bool().unwrap()];
        assert_eq!(built.iter().filter(|b| **b).count(), 1, "{img} built exactly once: {built:?}");
        assert_eq!(x["manifest_digest"], y["manifest_digest"], "both runs publish the same image");
    }
}

#[test]
fn cleanup_waits_for_a_running_publish_and_says_so() {
    let reg = Registry::start();
    let locks_dir = tempfile::tempdir().unwrap();
    let dir = example("flant");
    let repo = format!("{}/flant", reg.host());
    let lock_dir = locks_dir.path().to_str().unwrap();
    // A publish in progress holds the repository's lock shared.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let locks = wharf::lock::Locks::local(locks_dir.path(), Duration::from_secs(5));
    let parsed = wharf::drivers::parse_repository(&repo).unwrap();
    let guard = rt.block_on(locks.shared(&wharf::lock::repository(&parsed))).unwrap();

    let args =
        ["cleanup", "--dir", dir.path().to_str().unwrap(), "--repo", &repo, "--keep-last", "1", "--lock-dir", lock_dir];
    let blocked = run(wharf(&[&args[..], &["--lock-timeout", "1s"]].concat()));
    assert_eq!(blocked.code(), 1, "{}", blocked.stderr());
    assert!(blocked.stderr().contains("another wharf run still holds the lock"), "{}", blocked.stderr());

    drop(guard);
    run(wharf(&[&args[..], &["--lock-timeout", "1s"]].concat())).ok();
}
