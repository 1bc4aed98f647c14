//! Cleanup's plan → apply → restore through the GitHub driver, over the GitHub fake
//! (`github.rs`): listing by the REST API, re-checks and the journal by the distribution API,
//! untag by version or throwaway; and what GitHub refuses: the last tagged version of a
//! package is kept with that reason, and `--purge` deletes the package as a whole.

use super::conformance::{FakeFixture, fast_client};
use super::github::fixture_for;
use wharf::cleanup::plan::{Action, Plan};
use wharf::cleanup::run::{Keep, Settings, apply, make_plan};
use wharf::registry::CredentialStore;

/// A project with one image, its settings for `f`'s repository, and the directory holding it.
fn settings(f: &FakeFixture, keep: Keep, patterns: &[&str]) -> (tempfile::TempDir, Settings) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let project = wharf::config::parse_str(
        &dir.path().join("wharf.yaml"),
        dir.path(),
        "project: t\nconfigVersion: 1\n---\nimage: ~\n",
    )
    .unwrap();
    let settings = Settings {
        project: Some(project),
        repo: f.repo.clone(),
        layout: wharf::naming::Layout::Monorepo,
        keep,
        keep_patterns: patterns
            .iter()
            .map(|p| (p.to_string(), globset::Glob::new(p).unwrap().compile_matcher()))
            .collect(),
        fresh_window: None,
        include_unknown: true,
        artifact_type: None,
        static_root: None,
        stages: None,
    };
    (dir, settings)
}

fn everything() -> Keep {
    Keep::Simple { last: None, within: None }
}

async fn plan(f: &FakeFixture, s: &Settings) -> Plan {
    make_plan(s, f.driver.as_ref(), &fast_client(CredentialStore::new())).await.unwrap()
}

#[tokio::test]
async fn cleanup_through_the_github_driver_keeps_siblings_and_restores() {
    let f = fixture_for("acme/team/app").await;
    let x = f.fake.seed(&f.key, &["old", "release-1"]);
    let y = f.fake.seed(&f.key, &["older"]);
    let (dir, s) = settings(&f, everything(), &["release-*"]);
    let plan = plan(&f, &s).await;
    let deletes: Vec<&str> = plan.deletions().map(|e| e.tag.as_str()).collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    let journal = dir.path().join("journal.jsonl");
    let client = fast_client(CredentialStore::new());
    let outcome = apply(&plan, f.driver.as_ref(), &client, &journal).await.unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(f.fake.tag(&f.key, "release-1"), Some(x.clone()), "the sibling stays, same digest");
    assert_eq!(f.fake.tag(&f.key, "old"), None);
    assert_eq!(f.fake.tag(&f.key, "older"), None);

    let lines = wharf::cleanup::journal::read(&journal).unwrap();
    let restored = wharf::cleanup::execute::restore(&lines, &client).await;
    assert_eq!(restored.restored.len(), 2, "{:?}", restored.skipped);
    assert_eq!(f.fake.tag(&f.key, "old"), Some(x));
    assert_eq!(f.fake.tag(&f.key, "older"), Some(y));
}

/// GitHub answers 400 "You cannot delete the last tagged version of a package. You must delete
/// the package instead." (actions/delete-package-versions#231): a plan deleting every tag keeps
/// the newest version, says why, and the run deletes the rest without a failure.
#[tokio::test]
async fn a_plan_deleting_every_tag_keeps_the_newest_version_with_githubs_reason() {
    let f = fixture_for("acme/team/app").await;
    f.fake.seed(&f.key, &["v1"]);
    let newest = f.fake.seed(&f.key, &["v2", "latest"]);
    let (dir, s) = settings(&f, everything(), &[]);
    let plan = plan(&f, &s).await;
    let deletes: Vec<&str> = plan.deletions().map(|e| e.tag.as_str()).collect();
    assert_eq!(deletes, ["v1"]);
    for e in plan.entries.iter().filter(|e| e.tag != "v1") {
        assert_eq!(e.action, Action::Keep, "{e:?}");
        assert!(e.reason.contains("last tagged version"), "{}", e.reason);
    }
    assert!(plan.to_table().contains("GitHub refuses to delete the last tagged version"), "{}", plan.to_table());
    assert!(plan.repository_deletions.is_empty());
    let outcome = apply(&plan, f.driver.as_ref(), &fast_client(CredentialStore::new()), &dir.path().join("j.jsonl"))
        .await
        .unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!((f.fake.tag(&f.key, "v2"), f.fake.tag(&f.key, "latest")), (Some(newest.clone()), Some(newest)));
    assert_eq!(f.fake.tag(&f.key, "v1"), None);
}

/// `--purge` deletes the package with `DELETE /orgs/{org}/packages/container/{name}`, but only
/// while it holds exactly the tags the plan saw.
#[tokio::test]
async fn purge_deletes_the_package_as_a_whole_and_never_a_tag_pushed_after_the_plan() {
    let f = fixture_for("acme/team/app").await;
    f.fake.seed(&f.key, &["v1"]);
    let v2 = f.fake.seed(&f.key, &["v2", "latest"]);
    let (dir, s) = settings(&f, Keep::Purge, &[]);
    let client = fast_client(CredentialStore::new());

    let stale = plan(&f, &s).await;
    assert_eq!(stale.repository_deletions.len(), 1, "{:?}", stale.repository_deletions);
    assert_eq!(stale.repository_deletions[0].repository, f.repo.to_string());
    assert!(stale.to_table().contains("--purge deletes the package"), "{}", stale.to_table());
    f.fake.state.lock().unwrap().repos.get_mut(&f.key).unwrap().tags.insert("hotfix".into(), v2);
    let outcome = apply(&stale, f.driver.as_ref(), &client, &dir.path().join("stale.jsonl")).await.unwrap();
    assert!(outcome.deleted.is_empty(), "{:?}", outcome.deleted);
    assert_eq!(outcome.failed.len(), 3, "{:?}", outcome.failed);
    assert!(
        outcome.failed[0].reason.contains("changed since the plan") && outcome.failed[0].reason.contains("hotfix"),
        "{}",
        outcome.failed[0].reason
    );
    assert!(f.fake.tag(&f.key, "hotfix").is_some() && f.fake.tag(&f.key, "v1").is_some());

    let fresh = plan(&f, &s).await;
    let journal = dir.path().join("purge.jsonl");
    let outcome = apply(&fresh, f.driver.as_ref(), &client, &journal).await.unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.deleted.len(), 4);
    assert!(!f.fake.state.lock().unwrap().repos.contains_key(&f.key), "the package is gone");
    let log = f.fake.log();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("DELETE")).collect::<Vec<_>>(),
        ["DELETE /orgs/acme/packages/container/team%2Fapp"],
        "one request, no version deletes"
    );
    assert_eq!(wharf::cleanup::journal::read(&journal).unwrap().len(), 4, "every tag journaled first");
}
