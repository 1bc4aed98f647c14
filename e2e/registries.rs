//! Untag, tag listing and cleanup on two registry implementations that disagree on deletes:
//! distribution 2.8 (a digest delete removes every tag on it; tag deletes refused) and
//! go-containerregistry's registry (`crane registry serve`: tag deletes work, a digest delete
//! leaves the tags that pointed at it, tag lists page by `n` without `Link`). Images are
//! pushed with crane and oras, third-party clients, and read back with them.
//!
//! Each test pins a case of issue 11 that lost data or lied before.

use crate::support::oci::{Spec, layer_tar, s, write_image_created};
use crate::support::proxy::Proxy;
use crate::support::registry::Registry;
use crate::support::tools::{self, CraneRegistry, crane};
use crate::support::wharf::{run, wharf};
use std::path::Path;

/// Runs `test(host, name)` against a fresh distribution and a fresh crane registry.
pub(crate) fn on_both(test: impl Fn(&str, &str)) {
    let distribution = Registry::start();
    test(&distribution.host(), "distribution");
    drop(distribution);
    let crane_registry = CraneRegistry::start();
    test(&crane_registry.host(), "crane");
}

/// An image of one layer holding `content`, its config created at `created`, pushed with
/// crane to `reference`; returns its digest.
pub(crate) fn push_image(work: &Path, reference: &str, content: &str, created: &str) -> String {
    let dir = work.join(format!("layout-{}", content.replace(['/', ' '], "_")));
    let spec = Spec {
        architecture: "amd64",
        variant: None,
        layers: vec![layer_tar(&[("f", content.as_bytes())])],
        labels: serde_json::json!({}),
    };
    write_image_created(&dir, &spec, "x", Some(created));
    crane(&["push", &s(&dir), reference]);
    crane(&["digest", reference]).trim().to_string()
}

fn tags_of(reference: &str) -> Vec<String> {
    let mut t: Vec<String> = crane(&["ls", reference]).lines().map(str::to_string).collect();
    t.sort();
    t
}

#[test]
fn tags_rm_removes_just_the_tag_and_proves_it() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let repo = format!("{host}/multi");
        let digest = push_image(work.path(), &format!("{repo}:1"), "one", "2024-01-01T00:00:00Z");
        crane(&["tag", &format!("{repo}:1"), "2"]);
        push_image(work.path(), &format!("{repo}:3"), "three", "2024-01-02T00:00:00Z");

        let r = run(wharf(&["tags", "rm", &format!("{repo}:1"), "--output", "json"]));
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        assert_eq!(r.json()["results"][0]["removed"], true, "{name}");
        assert_eq!(tags_of(&repo), ["2", "3"], "{name}: only the tag went");
        assert_eq!(
            crane(&["digest", &format!("{repo}:2")]).trim(),
            digest,
            "{name}: the sibling still names the image"
        );
        tools::ok("crane", &["validate", "--remote", &format!("{repo}@{digest}"), "--insecure"]);
    });
}

#[test]
fn repeated_cleanups_keep_the_newest_image_and_finish_interrupted_untags() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let repo = format!("{host}/bb");
        push_image(work.path(), &format!("{repo}:old"), "old", "2024-01-01T00:00:00Z");
        let newest = push_image(work.path(), &format!("{repo}:new"), "new", "2024-06-01T00:00:00Z");
        // What an untag interrupted between its two steps leaves (a wharf before issue 11):
        // a tag on a throwaway manifest whose digest was then deleted. On crane's registry
        // the tag stays, dangling, readable only by tag.
        let stale = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2}],
            "annotations": {"dev.wharf.untag": "stale 2024-01-01T00:00:00Z 1"}
        });
        let file = work.path().join("stale.json");
        std::fs::write(&file, stale.to_string()).unwrap();
        let empty = work.path().join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        tools::ok("oras", &["blob", "push", "--plain-http", &repo, &s(&empty)]);
        let stale_digest = tools::ok(
            "oras",
            &["manifest", "push", "--plain-http", &format!("{repo}:stale"), &s(&file), "--descriptor"],
        );
        let stale_digest: serde_json::Value = serde_json::from_str(&stale_digest).unwrap();
        if name == "crane" {
            crane(&["delete", &format!("{repo}@{}", stale_digest["digest"].as_str().unwrap())]);
            assert!(tags_of(&repo).contains(&"stale".to_string()), "crane's registry keeps a deleted manifest's tags");
        }
        for round in 1..=2 {
            let r = run(wharf(&[
                "cleanup",
                "--dir",
                &s(work.path()),
                "--repo",
                &repo,
                "--keep-last",
                "1",
                "--include-unknown",
                "--fresh-window",
                "0",
                "--yes",
                "--output",
                "json",
            ]));
            assert_eq!(r.code(), 0, "{name} round {round}: {}", r.stderr());
            assert_eq!(tags_of(&repo), ["new"], "{name} round {round}: {}", r.stdout());
            assert_eq!(crane(&["digest", &format!("{repo}:new")]).trim(), newest, "{name} round {round}");
        }
        tools::ok("crane", &["validate", "--remote", &format!("{repo}:new"), "--insecure"]);
    });
}

#[test]
fn tag_lists_are_complete_past_one_page_and_names_cost_one_request_per_page() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let proxy = Proxy::start(host);
        let repo = format!("{}/many", proxy.host());
        push_image(work.path(), &format!("{host}/many:t0000"), "many", "2024-01-01T00:00:00Z");
        let manifest = crane(&["manifest", &format!("{host}/many:t0000")]);
        let media_type =
            serde_json::from_str::<serde_json::Value>(&manifest).unwrap()["mediaType"].as_str().unwrap().to_string();
        put_tags(host, "many", &manifest, &media_type, 1..1205);

        let r = run(wharf(&["tags", "ls", &repo, "--output", "json"]));
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        let listed = r.json()["tags"].as_array().unwrap().len();
        assert_eq!(listed, 1205, "{name}: every tag listed");
        // Two pages of n=1000: distribution links the second, crane's registry is asked with last=.
        assert_eq!(proxy.count("GET", "/v2/many/tags/list"), 2, "{name}: one request per page");
        assert_eq!(proxy.count("HEAD", "/v2/many/manifests/"), 0, "{name}: names need no manifest reads");

        let r = run(wharf(&["tags", "ls", &repo, "--max-tags", "1000"]));
        assert_eq!(r.code(), 5, "{name}: {}", r.stderr());
        assert!(r.stderr().contains("more than 1000 tags"), "{name}: {}", r.stderr());
    });
}

/// PUTs `manifest` under tags `t0001`… in `repo` with many requests in flight.
fn put_tags(host: &str, repo: &str, manifest: &str, media_type: &str, range: std::ops::Range<usize>) {
    use futures::StreamExt as _;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = wharf::registry::Client::new(Default::default()).unwrap();
        let repo = wharf::registry::Repository::new(host, repo).unwrap();
        let bytes = bytes::Bytes::from(manifest.to_string());
        futures::stream::iter(range)
            .map(|i| {
                let (client, repo, bytes) = (client.clone(), repo.clone(), bytes.clone());
                async move { client.put_manifest(&repo, &format!("t{i:04}"), media_type, bytes).await.expect("put tag") }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
    });
}

#[test]
fn oras_artifacts_rank_by_their_created_annotation() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let repo = format!("{host}/art");
        let file = work.path().join("pack.txt");
        // Pushed newest first, so neither push order nor digest order can pass for time.
        for (tag, created) in
            [("new", "2024-06-01T00:00:00Z"), ("old", "2024-01-01T00:00:00Z"), ("older", "2023-01-01T00:00:00Z")]
        {
            std::fs::write(&file, format!("{tag}\n")).unwrap();
            let annotation = format!("org.opencontainers.image.created={created}");
            let mut cmd = std::process::Command::new(tools::path("oras"));
            cmd.current_dir(work.path()).args([
                "push",
                "--plain-http",
                &format!("{repo}:{tag}"),
                "pack.txt",
                "--artifact-type",
                "application/vnd.example.pack",
                "--annotation",
                &annotation,
            ]);
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "oras push: {}", String::from_utf8_lossy(&out.stderr));
        }
        let r = run(wharf(&[
            "cleanup",
            "--dir",
            &s(work.path()),
            "--repo",
            &repo,
            "--keep-last",
            "1",
            "--fresh-window",
            "0",
            "--yes",
            "--output",
            "json",
        ]));
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        assert_eq!(tags_of(&repo), ["new"], "{name}: {}", r.stdout());
    });
}

/// A registry that neither deletes single tags nor drops the tags of a manifest deleted by
/// digest (crane's registry with its tag deletes refused by a proxy): the untag cannot be
/// done, so the tag goes back on its image and `tags rm` fails, naming what happened — it
/// used to print `removed` and exit 0 with the tag left on a throwaway.
#[test]
fn a_tag_that_survives_its_removal_is_put_back_and_reported() {
    use crate::support::proxy::{Fault, Rule};
    let registry = CraneRegistry::start();
    let proxy = Proxy::start(&registry.host());
    proxy.set_rules(vec![Rule::new("DELETE", "/manifests/[^s]", Fault::Status(400))]);
    let work = tempfile::tempdir().unwrap();
    let direct = format!("{}/keep", registry.host());
    let digest = push_image(work.path(), &format!("{direct}:1"), "kept", "2024-01-01T00:00:00Z");
    crane(&["tag", &format!("{direct}:1"), "2"]);

    let r = run(wharf(&["tags", "rm", &format!("{}/keep:1", proxy.host()), "--output", "json"]));
    assert_eq!(r.code(), 5, "{}", r.stderr());
    assert_eq!(r.json()["results"][0]["removed"], false);
    assert!(r.stderr().contains("left the tag in place") && r.stderr().contains("put back"), "{}", r.stderr());
    for tag in ["1", "2"] {
        assert_eq!(crane(&["digest", &format!("{direct}:{tag}")]).trim(), digest, "{tag} names the image again");
    }
    tools::ok("crane", &["validate", "--remote", &format!("{direct}:1"), "--insecure"]);
}
