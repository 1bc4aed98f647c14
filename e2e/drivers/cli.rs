//! `wharf registry detect`, `wharf tags ls` and `wharf tags rm` as a user runs them, against
//! the real distribution registry.

use super::{open_client, push_image, wharf};
use crate::support::registry::Registry;
use crate::support::wharf::run;
use wharf::registry::Repository;

#[test]
fn detect_prints_driver_capabilities_and_repo_mode_without_network() {
    let out = run(wharf(&["registry", "detect", "flant", "--output", "json"])).ok().json();
    assert_eq!(out["driver"], "dockerhub");
    assert_eq!(out["repo_mode"], "multirepo");
    assert_eq!(out["capabilities"]["nesting"], "account-repository");
    let out = run(wharf(&["registry", "detect", "flant/project", "--output", "json"])).ok().json();
    assert_eq!((out["driver"].as_str(), out["repo_mode"].as_str()), (Some("dockerhub"), Some("monorepo")));
    let out =
        run(wharf(&["registry", "detect", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", "--output", "json"]))
            .ok()
            .json();
    assert_eq!(out["driver"], "ecr");
    assert_eq!(out["capabilities"]["create_before_push"], true);
    let out =
        run(wharf(&["registry", "detect", "gitlab.example.com/g/p", "--implementation", "gitlab", "--output", "json"]))
            .ok()
            .json();
    assert_eq!(out["driver"], "gitlab");
    let text = run(wharf(&["registry", "detect", "ghcr.io/acme"])).ok().stdout();
    assert!(text.starts_with("github\n"), "{text}");
}

/// Hosts the vendors document: ECR's dual-stack `<id>.dkr-ecr.<region>.on.aws`
/// (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html>), Harbor's own
/// `demo.goharbor.io`, and Google's read-only mirrors, which are not Artifact Registry.
#[test]
fn detect_knows_dual_stack_ecr_goharbor_and_the_read_only_mirrors() {
    for (repo, driver) in [
        ("123456789012.dkr-ecr.eu-west-1.on.aws/team/app", "ecr"),
        ("demo.goharbor.io/library/app", "harbor"),
        ("mirror.gcr.io/library/busybox", "default"),
        ("k8s.gcr.io/pause", "default"),
        ("public.ecr.aws/alias/app", "default"),
    ] {
        let out = run(wharf(&["registry", "detect", repo, "--output", "json"])).ok().json();
        assert_eq!(out["driver"], driver, "{repo}");
    }
}

/// Nothing can be deleted on a read-only mirror or ECR Public: refused with the reason, before
/// any request (these hosts are not reachable from the tests).
#[test]
fn tags_rm_on_read_only_hosts_says_why() {
    for (reference, needle) in [
        ("mirror.gcr.io/library/busybox:1.36", "read-only mirror of Docker Hub"),
        ("public.ecr.aws/alias/app:v1", "aws ecr-public batch-delete-image"),
    ] {
        let r = run(wharf(&["tags", "rm", reference]));
        assert_eq!(r.code(), 5, "{}", r.stderr());
        assert!(r.stderr().contains(needle) && r.stderr().contains("read-only registry"), "{}", r.stderr());
    }
    let r = run(wharf(&["tags", "ls", "public.ecr.aws/alias/app", "--implementation", "ecr"]));
    assert_ne!(r.code(), 0);
    assert!(r.stderr().contains("ECR Public"), "{}", r.stderr());
}

#[test]
fn impossible_repo_modes_and_unknown_implementations_are_usage_errors() {
    let r = run(wharf(&["registry", "detect", "flant/project", "--repo-mode", "multirepo"]));
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("--repo docker.io/flant"), "{}", r.stderr());
    let r = run(wharf(&["registry", "detect", "localhost:5000/app", "--implementation", "artifactory"]));
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("valid values: ecr, acr, dockerhub, github, gitlab, harbor, quay, artifact-registry, default"),
        "{}",
        r.stderr()
    );
    let r = run(wharf(&["tags", "ls", "localhost:5000/app", "--implementation", "nope"]));
    assert_eq!(r.code(), 2, "{}", r.stderr());
}

#[tokio::test]
async fn tags_ls_and_rm_keep_sibling_tags() {
    let reg = Registry::start();
    let c = open_client();
    let repo = Repository::new(&reg.host(), "cli/app").unwrap();
    let digest = push_image(&c, &repo, &["a", "b", "c"]).await;
    let name = repo.to_string();

    let listed = run(wharf(&["tags", "ls", &name, "--digests", "--output", "json"])).ok().json();
    assert_eq!(listed["driver"], "default");
    let tags = listed["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 3);
    assert!(tags.iter().all(|t| t["digest"] == digest.as_str()));

    let plan = run(wharf(&["tags", "rm", &format!("{name}:a"), &format!("{name}:b"), "--dry-run"])).ok().stdout();
    assert!(plan.contains(&format!("would remove {name}:a (default driver")), "{plan}");
    assert_eq!(c.list_tags(&repo).await.unwrap().len(), 3, "a dry run removes nothing");

    let out = run(wharf(&["tags", "rm", &format!("{name}:a"), &format!("{name}:b")])).ok().stdout();
    assert!(out.contains(&format!("removed {name}:a (was {digest}")), "{out}");
    let text = run(wharf(&["tags", "ls", &name, "-l"])).ok().stdout();
    assert_eq!(text.trim(), format!("c  {digest}"));
    let names = run(wharf(&["tags", "ls", &name])).ok().stdout();
    assert_eq!(names.trim(), "c", "without --digests, names only");

    // One missing tag does not stop the others; the exit code says something failed.
    push_image(&c, &repo, &["d"]).await;
    let r = run(wharf(&["tags", "rm", &format!("{name}:missing"), &format!("{name}:d"), "--output", "json"]));
    assert_eq!(r.code(), 5, "{}", r.stderr());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["removed"], false);
    assert_eq!(results[1]["removed"], true);
    assert!(r.stderr().contains("\"missing\" does not exist"), "{}", r.stderr());
}

#[test]
fn build_and_publish_refuses_an_impossible_repo_mode_before_building() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flant");
    let dir = dir.to_str().unwrap();
    let r = run(wharf(&["build-and-publish", "--dir", dir, "--repo", "flant/project", "--repo-mode", "multirepo"]));
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("--repo-mode: Docker Hub accepts only account/repository names"), "{}", r.stderr());
    let r = run(wharf(&["build-and-publish", "--dir", dir, "--repo", "quay.io/a/b/c"]));
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("3 components"), "{}", r.stderr());
}
