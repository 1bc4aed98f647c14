use super::*;
use std::collections::BTreeMap;

fn names() -> Names<'static> {
    Names { project: "shop", image: "api" }
}

fn base() -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "author": "someone",
        "history": [{"created_by": "RUN true"}],
        "config": {
            "Env": ["PATH=/usr/bin:/bin", "APP_MODE=dev", "APP_DEBUG=1", "REMOVE=x", "WERF_COMMIT_HASH=abc", "KEEP=1"],
            "Labels": {"werf": "shop", "werf-version": "v2", "org.opencontainers.image.source": "x", "pleaseremove": "1", "stay": "1"},
            "Volumes": {"/home/remove/me": {}, "/data": {}},
            "ExposedPorts": {"22/tcp": {}},
            "Cmd": ["serve"],
            "Entrypoint": ["/bin/sh", "-c"],
            "User": "nobody",
            "WorkingDir": "/srv"
        }
    })
}

#[test]
fn werfs_example_spec_edits_the_config_as_werf_does() {
    let spec = ImageSpec {
        author: Some("testauthor".into()),
        clear_history: true,
        volumes: vec!["/test/volume".into()],
        remove_volumes: vec!["/home/remove/me".into()],
        env: BTreeMap::from([("ADD".into(), "me".into()), ("PATH".into(), "${PATH}:/add/path".into())]),
        remove_env: vec!["/^APP_.*/".into(), "REMOVE".into()],
        labels: BTreeMap::from([("test".into(), "yes".into()), ("%project%/image".into(), "%image%".into())]),
        remove_labels: vec!["pleaseremove".into(), "/^org\\.opencontainers.*/".into()],
        expose: vec!["8080".into(), "53/udp".into()],
        ..Default::default()
    };
    let mut doc = base();
    let warnings = edit_config(&mut doc, &spec, &names());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(doc["author"], "testauthor");
    assert_eq!(doc["history"], json!([]));
    let c = &doc["config"];
    assert_eq!(c["Env"], json!(["PATH=/usr/bin:/bin:/add/path", "KEEP=1", "ADD=me"]), "order kept, additions after");
    assert_eq!(
        c["Labels"],
        json!({"werf": "shop", "werf-version": "v2", "stay": "1", "test": "yes", "shop/image": "api"})
    );
    assert_eq!(c["Volumes"], json!({"/data": {}, "/test/volume": {}}));
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "53/udp": {}}), "expose replaces, PORT is tcp");
    assert_eq!(c["Cmd"], json!(["serve"]), "untouched without entrypoint");
    assert_eq!(c["User"], "nobody");
}

#[test]
fn an_entrypoint_drops_the_inherited_command_and_clears_apply_before_sets() {
    let spec = ImageSpec {
        entrypoint: Some(vec!["/app".into()]),
        clear_user: true,
        clear_working_dir: true,
        working_dir: Some("/app".into()),
        stop_signal: Some("SIGTERM".into()),
        ..Default::default()
    };
    let mut doc = base();
    edit_config(&mut doc, &spec, &names());
    let c = &doc["config"];
    assert_eq!(c["Entrypoint"], json!(["/app"]));
    assert!(c.get("Cmd").is_none(), "{c}");
    assert!(c.get("User").is_none());
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["StopSignal"], "SIGTERM");

    let both = ImageSpec { entrypoint: Some(vec!["/app".into()]), cmd: Some(vec!["run".into()]), ..Default::default() };
    let mut doc = base();
    edit_config(&mut doc, &both, &names());
    assert_eq!(doc["config"]["Cmd"], json!(["run"]));
    let cleared = ImageSpec { clear_cmd: true, clear_entrypoint: true, ..Default::default() };
    let mut doc = base();
    edit_config(&mut doc, &cleared, &names());
    assert!(doc["config"].get("Cmd").is_none() && doc["config"].get("Entrypoint").is_none());
}

#[test]
fn essential_werf_labels_stay_with_a_warning_and_clear_werf_labels_removes_the_rest() {
    let spec = ImageSpec { clear_werf_labels: true, remove_labels: vec!["/.*/".into()], ..Default::default() };
    let mut doc = base();
    let warnings = edit_config(&mut doc, &spec, &names());
    assert_eq!(doc["config"]["Labels"], json!({"werf": "shop"}));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let quiet = ImageSpec { keep_essential_werf_labels: true, ..spec };
    let mut doc = base();
    assert!(edit_config(&mut doc, &quiet, &names()).is_empty());
    assert_eq!(doc["config"]["Labels"], json!({"werf": "shop"}));
}

#[test]
fn healthcheck_seconds_become_nanoseconds_and_an_empty_spec_changes_nothing() {
    let spec = ImageSpec {
        healthcheck: Some(crate::config::Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval: Some(30),
            timeout: Some(5),
            start_period: None,
            retries: Some(3),
        }),
        ..Default::default()
    };
    let mut doc = base();
    edit_config(&mut doc, &spec, &names());
    assert_eq!(
        doc["config"]["Healthcheck"],
        json!({"Test": ["CMD", "true"], "Interval": 30_000_000_000i64, "Timeout": 5_000_000_000i64, "Retries": 3})
    );
    let mut doc = base();
    edit_config(&mut doc, &ImageSpec::default(), &names());
    let mut want = base();
    want["config"]["Env"] = json!(["PATH=/usr/bin:/bin", "APP_MODE=dev", "APP_DEBUG=1", "REMOVE=x", "KEEP=1"]);
    assert_eq!(doc, want, "only werf's commit variables go");
}

#[test]
fn expansion_reads_the_images_environment() {
    let env = vec![("PATH".to_string(), "/bin".to_string()), ("HOME".to_string(), "/root".to_string())];
    assert_eq!(expand("${PATH}:/x", &env), "/bin:/x");
    assert_eq!(expand("$HOME/.cache", &env), "/root/.cache");
    assert_eq!(expand("$UNSET-a", &env), "-a");
    assert_eq!(expand("cost: $$5 and $", &env), "cost: $5 and $");
    assert_eq!(expand("${HOME", &env), "${HOME", "an unclosed brace is text");
}

#[tokio::test]
async fn each_platform_of_an_index_gets_the_spec_and_the_index_names_the_new_manifests() {
    use crate::store::copy_tests::{image_in, index_of};
    use crate::store::memory::MemoryStore;
    use crate::store::{Location, copy_all};
    let origin = MemoryStore::new("stages");
    let index =
        index_of(vec![image_in(&origin, "amd64", &[b"amd64 layer"]), image_in(&origin, "arm64", &[b"arm64 layer"])]);
    let spec = ImageSpec { user: Some("1000".into()), ..Default::default() };
    let applied = apply(&index, &spec, &names()).await.unwrap();
    assert_ne!(applied.digest, index.digest);
    let entries: Value = serde_json::from_slice(&applied.manifest).unwrap();
    let named: Vec<&str> =
        entries["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap()).collect();
    let children: Vec<&str> = applied.children.iter().map(|c| c.digest.as_str()).collect();
    assert_eq!(named, children, "the index points at the new platform manifests");

    let dest = MemoryStore::new("app");
    copy_all(&applied, &[Location::new(Arc::new(dest.clone()), "v1")]).await.unwrap();
    for (before, after) in index.children.iter().zip(&applied.children) {
        assert_eq!(before.blobs[1..], after.blobs[1..], "layers unchanged");
        let config = dest.space().blobs[&after.blobs[0].digest].clone();
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["config"]["User"], "1000");
    }
    assert_eq!(origin.space().blobs.len(), 6, "the stage's own blobs stay, two new configs beside them");
}
