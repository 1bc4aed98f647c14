//! `wharf tags ls` / `tags rm` / `cleanup --keep-last` on a static root (the `static`
//! driver): single tags go without touching their siblings, and the manifests and blobs no
//! tag reaches any more are deleted, in a directory and in an S3 bucket (moto). What stays
//! is still served and copied back whole by skopeo.

use crate::support::moto::Moto;
use crate::support::oci::{Spec, layer_tar, pull_back, push, s, write_image};
use crate::support::wharf::{Run, run, wharf};
use std::path::{Path, PathBuf};

/// An OCI layout holding one image: a layer shared by every image made here, and one of its own.
fn image(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let shared = layer_tar(&[("etc/shared", b"the same in every image")]);
    let own = layer_tar(&[("etc/name", name.as_bytes())]);
    write_image(
        &out,
        &Spec { architecture: "amd64", variant: None, layers: vec![shared, own], labels: serde_json::json!({}) },
        name,
    );
    out
}

/// `wharf ARGS… --output json` with `env`, from `cwd`.
fn wharf_json(cwd: &Path, env: &[(&'static str, String)], args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let mut cmd = wharf(&all);
    cmd.current_dir(cwd).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    run(cmd)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn tags(listing: &serde_json::Value) -> Vec<(String, String)> {
    listing["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tag"].as_str().unwrap().to_string(), t["digest"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn tags_rm_and_cleanup_on_a_static_directory_remove_tags_then_unreferenced_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let root_s = s(&root);
    let mut pushed = Vec::new();
    for (n, extra) in [("v1", None), ("v2", Some("stable")), ("v3", None)] {
        let src = image(tmp.path(), n);
        let mut args = vec![s(&src), format!("app:{n}"), "--static-root".into(), root_s.clone()];
        if let Some(t) = extra {
            args.extend(["--tag".into(), t.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pushed.push(push(tmp.path(), &args).ok().json()["digest"].as_str().unwrap().to_string());
        // Push times are file times: keep them apart.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let blobs = root.join("v2/app/blobs");
    assert_eq!(files(&blobs).len(), 1 + 3 * 2, "one shared layer, and per image a layer and a config");

    let listing =
        wharf_json(tmp.path(), &[], &["tags", "ls", "app", "--digests", "--static-root", &root_s]).ok().json();
    assert_eq!(listing["driver"], "static");
    let expected: Vec<(String, String)> = [("stable", 1), ("v1", 0), ("v2", 1), ("v3", 2)]
        .iter()
        .map(|(t, i)| (t.to_string(), pushed[*i].clone()))
        .collect();
    assert_eq!(tags(&listing), expected);

    // One of two tags on an image: the other tag, the manifest and every blob stay.
    let rm = wharf_json(tmp.path(), &[], &["tags", "rm", "app:stable", "--static-root", &root_s, "--gc-grace", "0"])
        .ok()
        .json();
    assert_eq!(rm["results"][0]["removed"], true);
    assert_eq!(rm["garbage"][0]["collected"]["blobs"], 0);
    assert!(root.join("v2/app/manifests/v2").is_file() && !root.join("v2/app/manifests/stable").is_file());
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("v2/app/tags/list")).unwrap()).unwrap();
    assert_eq!(list, serde_json::json!({"name": "app", "tags": ["v1", "v2", "v3"]}));
    let types: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("v2/app/_wharf/media-types.json")).unwrap()).unwrap();
    assert!(types.get("stable").is_none() && types.get("v2").is_some(), "{types}");

    // With the default grace period, a fresh image's files stay even once untagged.
    wharf_json(tmp.path(), &[], &["tags", "rm", "app:v1", "--static-root", &root_s]).ok();
    assert_eq!(files(&blobs).len(), 7, "files younger than --gc-grace stay");
    assert!(root.join("v2/app/manifests").join(&pushed[0]).is_file());
    // A later run with no grace collects them: v1's own layer and config, and its manifest.
    let missing = wharf_json(tmp.path(), &[], &["tags", "rm", "app:v1", "--static-root", &root_s, "--gc-grace", "0"]);
    assert_ne!(missing.code(), 0, "v1 is already gone: {}", missing.stdout());
    assert!(missing.stderr().contains("does not exist"), "{}", missing.stderr());

    // Cleanup without a project file: --keep-last 1 keeps the newest push (v3).
    let journal = tmp.path().join("journal.jsonl");
    let empty = tempfile::tempdir().unwrap();
    let args = [
        "cleanup",
        "--static-root",
        &root_s,
        "--repo",
        "app",
        "--keep-last",
        "1",
        "--fresh-window",
        "0",
        "--gc-grace",
        "0",
    ];
    let dry = wharf_json(empty.path(), &[], &[&args[..], &["--dry-run"]].concat()).ok().json();
    assert_eq!(dry["driver"], "static");
    let planned: Vec<(&str, &str)> = dry["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["tag"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(planned, vec![("v2", "delete"), ("v3", "keep")]);
    assert_eq!(files(&blobs).len(), 7, "a dry run changes nothing");
    let report = wharf_json(empty.path(), &[], &[&args[..], &["--journal", &s(&journal)]].concat()).ok().json();
    assert_eq!(report["counts"]["deleted"], 1, "{report}");
    assert_eq!(report["garbage"][0]["manifests"], 2, "v1's and v2's manifests: {report}");
    assert_eq!(report["garbage"][0]["blobs"], 4, "v1's and v2's own layer and config: {report}");
    assert_eq!(files(&blobs).len(), 3, "the shared layer and v3's own two stay");
    assert_eq!(files(&root.join("v2/app/manifests")), vec![pushed[2].clone(), "v3".to_string()]);

    // What stays is whole: served and copied back by skopeo.
    let served = crate::push_static::Served::start(&root_s, &[]);
    let (top, _) = pull_back(&format!("docker://{}/app:v3", served.addr));
    assert_eq!(top, pushed[2]);

    // The blobs are gone, so the journal cannot bring v2 back, and says why.
    let restore =
        wharf_json(tmp.path(), &[], &["cleanup", "restore", &s(&journal), "--static-root", &root_s]).ok().json();
    assert_eq!(restore["restored"].as_array().unwrap().len(), 0);
    assert!(restore["skipped"][0]["reason"].as_str().unwrap().contains("is gone"), "{restore}");
    let refused = wharf_json(tmp.path(), &[], &["cleanup", "restore", &s(&journal)]);
    assert_eq!(refused.code(), 2, "a static journal needs --static-root: {}", refused.stderr());
    let not_a_root =
        wharf_json(tmp.path(), &[], &["tags", "ls", "app", "--static-root", &s(&tmp.path().join("nothing-here"))]);
    assert_eq!(not_a_root.code(), 2);
    assert!(not_a_root.stderr().contains("not a static root"), "{}", not_a_root.stderr());
}

#[test]
fn tags_rm_on_a_static_root_in_s3_collects_unreferenced_objects() {
    use wharf::static_registry::root::{Area, S3Root, StaticRoot};
    let moto = Moto::start();
    moto.create_bucket("site");
    let tmp = tempfile::tempdir().unwrap();
    let env = moto.env();
    let root = "s3://site/reg";
    let one = push_s3(tmp.path(), &moto, &image(tmp.path(), "one"), "s3app:one", root);
    let two = push_s3(tmp.path(), &moto, &image(tmp.path(), "two"), "s3app:two", root);
    let listing =
        wharf_json(tmp.path(), &env, &["tags", "ls", "s3app", "--digests", "--static-root", root]).ok().json();
    assert_eq!(tags(&listing), vec![("one".to_string(), one.clone()), ("two".to_string(), two.clone())]);

    let rm = wharf_json(tmp.path(), &env, &["tags", "rm", "s3app:one", "--static-root", root, "--gc-grace", "0"])
        .ok()
        .json();
    assert_eq!(rm["garbage"][0]["collected"]["manifests"], 1, "{rm}");
    assert_eq!(rm["garbage"][0]["collected"]["blobs"], 2, "one's own layer and config: {rm}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sdk = moto.sdk_config().await;
        let site = StaticRoot::s3(S3Root::new(&sdk, root).unwrap());
        assert_eq!(site.entries("s3app", Area::Blobs).await.unwrap().len(), 3, "the shared layer and two's own two");
        let manifests: Vec<String> =
            site.entries("s3app", Area::Manifests).await.unwrap().into_iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(manifests, vec![two.clone()]);
        assert_eq!(site.tag_names("s3app").await.unwrap(), vec!["two"]);
        let list = site.tags_list("s3app").await.unwrap().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&list).unwrap(),
            serde_json::json!({"name": "s3app", "tags": ["two"]})
        );
    });
}

fn push_s3(cwd: &Path, moto: &Moto, src: &Path, dest: &str, root: &str) -> String {
    let pushed = crate::push_static::push_s3(cwd, moto, &[&s(src), dest, "--static-root", root]);
    pushed["digest"].as_str().unwrap().to_string()
}

/// A collection must never run while a push reuses a blob it found in place: `tags rm` and
/// `cleanup` hold the repository's lock exclusively, `push` shared.
#[test]
fn a_push_to_a_static_root_waits_for_a_running_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let root = s(&tmp.path().join("site"));
    let locks_dir = tempfile::tempdir().unwrap();
    let lock_dir = s(locks_dir.path());
    let src = s(&image(tmp.path(), "one"));
    push(tmp.path(), &[&src, "app:one", "--static-root", &root, "--lock-dir", &lock_dir]).ok();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let locks = wharf::lock::Locks::local(locks_dir.path(), std::time::Duration::from_secs(5));
    let repo = wharf::drivers::StaticDriver::repository("app").unwrap();
    let collecting = rt.block_on(locks.exclusive(&wharf::lock::repository(&repo))).unwrap();
    let blocked =
        push(tmp.path(), &[&src, "app:two", "--static-root", &root, "--lock-dir", &lock_dir, "--lock-timeout", "1s"]);
    assert_eq!(blocked.code(), 1, "{}", blocked.stderr());
    assert!(blocked.stderr().contains("another wharf run still holds the lock"), "{}", blocked.stderr());
    assert!(!tmp.path().join("site/v2/app/manifests/two").exists(), "nothing written while blocked");
    drop(collecting);

    let publishing = rt.block_on(locks.shared(&wharf::lock::repository(&repo))).unwrap();
    let args = ["tags", "rm", "app:one", "--static-root", &root, "--lock-dir", &lock_dir, "--lock-timeout", "1s"];
    let waits = wharf_json(tmp.path(), &[], &args);
    assert_eq!(waits.code(), 1, "tags rm waits for a running push: {}", waits.stderr());
    drop(publishing);
    wharf_json(tmp.path(), &[], &args).ok();
}
