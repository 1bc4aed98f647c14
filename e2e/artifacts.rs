//! OCI artifacts with real peers: wharf pushes what oras, regctl and crane read, and pulls what
//! oras pushes, byte for byte; referrers through the API (go-containerregistry's registry) and
//! through the tag schema (distribution 2.8, which has no referrers API); Helm's media types;
//! static roots. Issue 16.

use crate::registries::on_both;
use crate::support::oci::s;
use crate::support::tools::{self, crane};
use crate::support::wharf::{run, wharf};
use std::path::Path;

fn wharf_in(dir: &Path, args: &[&str]) -> crate::support::wharf::Run {
    let mut cmd = wharf(args);
    cmd.current_dir(dir);
    run(cmd)
}

fn oras(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(tools::path("oras")).current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "oras {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pack as Sherpack makes one: a gzipped tar of a few files.
fn sherpack(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mypack-1.0.0.tar.gz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, body) in [("pack.yaml", "name: mypack\nversion: 1.0.0\n"), ("templates/app.yaml", "kind: Deployment\n")]
    {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path
}

#[test]
fn the_sherpack_flow_push_then_pull_by_semver_alias_reproduces_the_pack() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let pack = sherpack(work.path());
        let r = wharf_in(
            work.path(),
            &[
                "push",
                "mypack-1.0.0.tar.gz",
                &format!("oci://{host}/mypack:1.0.0"),
                "--tag-semver",
                "v1.0.0",
                "--output",
                "json",
            ],
        );
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        assert!(
            r.stderr().contains("as an OCI artifact"),
            "{name}: a line says it is pushed as an artifact: {}",
            r.stderr()
        );
        let manifest: serde_json::Value =
            serde_json::from_str(&crane(&["manifest", &format!("{host}/mypack:1")])).unwrap();
        assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.empty.v1+json", "{name}");
        assert!(manifest["artifactType"].is_string(), "{name}: image-spec 1.1 artifactType");
        assert_eq!(manifest["layers"][0]["annotations"]["org.opencontainers.image.title"], "mypack-1.0.0.tar.gz");
        assert!(manifest["annotations"]["org.opencontainers.image.created"].is_string(), "{name}");

        let out = work.path().join("out");
        let pulled = run(wharf(&["pull", &format!("oci://{host}/mypack:1"), "-o", &s(&out), "--output", "json"]));
        assert_eq!(pulled.code(), 0, "{name}: {}", pulled.stderr());
        assert_eq!(
            std::fs::read(out.join("mypack-1.0.0.tar.gz")).unwrap(),
            std::fs::read(&pack).unwrap(),
            "{name}: the same bytes"
        );
        // oras reads it too.
        let by_oras = work.path().join("oras-out");
        std::fs::create_dir_all(&by_oras).unwrap();
        oras(&by_oras, &["pull", "--plain-http", &format!("{host}/mypack:1.0")]);
        assert_eq!(
            std::fs::read(by_oras.join("mypack-1.0.0.tar.gz")).unwrap(),
            std::fs::read(&pack).unwrap(),
            "{name}: oras pulls the same file"
        );
        // Nothing is overwritten without --force.
        let again = run(wharf(&["pull", &format!("oci://{host}/mypack:1"), "-o", &s(&out)]));
        assert_eq!(again.code(), 2, "{name}: {}", again.stderr());
        assert!(again.stderr().contains("--force"), "{name}: {}", again.stderr());
    });
}

#[test]
fn wharf_pulls_what_oras_pushed_files_and_directories_alike() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("notes.txt"), "hello from oras\n").unwrap();
        std::fs::create_dir_all(work.path().join("site/css")).unwrap();
        std::fs::write(work.path().join("site/index.html"), "<h1>hi</h1>\n").unwrap();
        std::fs::write(work.path().join("site/css/a.css"), "h1{}\n").unwrap();
        oras(
            work.path(),
            &[
                "push",
                "--plain-http",
                &format!("{host}/bundle:1"),
                "notes.txt",
                "site",
                "--artifact-type",
                "application/vnd.example.bundle",
            ],
        );
        let out = work.path().join("out");
        let r = run(wharf(&["pull", &format!("{host}/bundle:1"), "-o", &s(&out)]));
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "hello from oras\n");
        assert_eq!(
            std::fs::read_to_string(out.join("site/index.html")).unwrap(),
            "<h1>hi</h1>\n",
            "{name}: oras's directory unpacked"
        );
        assert_eq!(std::fs::read_to_string(out.join("site/css/a.css")).unwrap(), "h1{}\n");

        // And the other way: a directory pushed by wharf, twice the same digest (the creation
        // time from SOURCE_DATE_EPOCH, as outside a git checkout), pulled by oras.
        let push_site = |tag: &str| {
            let mut cmd = wharf(&[
                "push",
                "site",
                &format!("{host}/site:{tag}"),
                "--artifact-type",
                "application/vnd.example.site",
                "--output",
                "json",
            ]);
            cmd.current_dir(work.path()).env("SOURCE_DATE_EPOCH", "1700000000");
            run(cmd).ok().json()
        };
        let first = push_site("1");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(work.path().join("site/index.html"), "<h1>hi</h1>\n").unwrap(); // new mtime, same bytes
        let second = push_site("2");
        assert_eq!(first["digest"], second["digest"], "{name}: the same tree, the same digest");
        let by_oras = work.path().join("by-oras");
        std::fs::create_dir_all(&by_oras).unwrap();
        oras(&by_oras, &["pull", "--plain-http", &format!("{host}/site:1")]);
        assert_eq!(
            std::fs::read_to_string(by_oras.join("site/css/a.css")).unwrap(),
            "h1{}\n",
            "{name}: oras unpacks wharf's directory"
        );
    });
}

#[test]
fn an_sbom_attached_with_subject_is_a_referrer_every_client_sees() {
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        let image =
            crate::registries::push_image(work.path(), &format!("{host}/app:1.0"), "app", "2024-01-01T00:00:00Z");
        std::fs::write(work.path().join("sbom.json"), r#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
        let r = wharf_in(
            work.path(),
            &[
                "push",
                "sbom.json",
                &format!("oci://{host}/app"),
                "--subject",
                &format!("{host}/app:1.0"),
                "--artifact-type",
                "application/spdx+json",
                "--output",
                "json",
            ],
        );
        assert_eq!(r.code(), 0, "{name}: {}", r.stderr());
        let sbom = r.json()["digest"].as_str().unwrap().to_string();
        let manifest: serde_json::Value =
            serde_json::from_str(&crane(&["manifest", &format!("{host}/app@{sbom}")])).unwrap();
        assert_eq!(manifest["subject"]["digest"], image, "{name}");

        let listed = run(wharf(&["referrers", &format!("{host}/app:1.0"), "--output", "json"])).ok().json();
        let digests: Vec<&str> =
            listed["referrers"].as_array().unwrap().iter().map(|d| d["digest"].as_str().unwrap()).collect();
        assert_eq!(digests, [sbom.as_str()], "{name}");
        let filtered = run(wharf(&[
            "referrers",
            &format!("{host}/app:1.0"),
            "--artifact-type",
            "application/vnd.other",
            "--output",
            "json",
        ]))
        .ok()
        .json();
        assert!(filtered["referrers"].as_array().unwrap().is_empty(), "{name}: filtered by artifact type");

        let discovered =
            oras(work.path(), &["discover", "--plain-http", "--format", "json", &format!("{host}/app:1.0")]);
        assert!(discovered.contains(&sbom), "{name}: oras discover: {discovered}");
        let home = tempfile::tempdir().unwrap();
        let regctl = |args: &[&str]| {
            let out =
                std::process::Command::new(tools::path("regctl")).env("HOME", home.path()).args(args).output().unwrap();
            assert!(out.status.success(), "regctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        regctl(&["registry", "set", host, "--tls", "disabled"]);
        let listed = regctl(&["artifact", "list", &format!("{host}/app:1.0"), "--format", "{{json .}}"]);
        assert!(listed.contains(&sbom), "{name}: regctl artifact list: {listed}");
    });
}

#[test]
fn a_helm_chart_goes_with_the_media_types_helm_reads() {
    let registry = crate::support::registry::Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("demo-0.2.0.tgz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&chart).unwrap(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, body) in [
        ("demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.2.0\ndescription: a demo chart\n"),
        ("demo/values.yaml", "x: 1\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    wharf_in(work.path(), &["push", "demo-0.2.0.tgz", &format!("oci://{host}/charts/demo:0.2.0")]).ok();
    let m: serde_json::Value =
        serde_json::from_str(&crane(&["manifest", &format!("{host}/charts/demo:0.2.0")])).unwrap();
    assert_eq!(m["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    assert_eq!(m["annotations"]["org.opencontainers.image.title"], "demo");
    assert_eq!(m["annotations"]["org.opencontainers.image.version"], "0.2.0");
    let config: serde_json::Value = serde_json::from_str(&crane(&[
        "blob",
        &format!("{host}/charts/demo@{}", m["config"]["digest"].as_str().unwrap()),
    ]))
    .unwrap();
    assert_eq!(
        (config["name"].as_str(), config["version"].as_str(), config["apiVersion"].as_str()),
        (Some("demo"), Some("0.2.0"), Some("v2"))
    );
    // Pulled back, it is the chart file.
    let out = work.path().join("out");
    let r = run(wharf(&["pull", &format!("{host}/charts/demo:0.2.0"), "-o", &s(&out), "--output", "json"]));
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

#[test]
fn artifacts_go_to_and_come_from_a_static_root() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let pack = sherpack(work.path());
    wharf_in(work.path(), &["push", "mypack-1.0.0.tar.gz", "packs/mypack:1.0.0", "--static-root", &s(&root)]).ok();
    let out = work.path().join("out");
    run(wharf(&["pull", "packs/mypack:1.0.0", "--static-root", &s(&root), "-o", &s(&out)])).ok();
    assert_eq!(std::fs::read(out.join("mypack-1.0.0.tar.gz")).unwrap(), std::fs::read(&pack).unwrap());
}

#[test]
fn an_image_pulls_as_a_docker_archive_the_engine_loads() {
    use crate::support::engine::{BASE_IMAGE, docker};
    let registry = crate::support::registry::Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let archive = crate::support::oci::docker_save(BASE_IMAGE, work.path(), "bb.tar");
    run(wharf(&["push", &s(&archive), &format!("{host}/bb:pulled")])).ok();
    let out = work.path().join("bb-pulled.tar");
    run(wharf(&["pull", &format!("{host}/bb:pulled"), "--format", "docker-archive", "-o", &s(&out)])).ok();
    let loaded = docker(&["load", "-i", &s(&out)]);
    assert!(loaded.contains("bb:pulled"), "{loaded}");
    let layout = work.path().join("layout");
    run(wharf(&["pull", &format!("{host}/bb:pulled"), "-o", &s(&layout)])).ok();
    assert!(layout.join("index.json").is_file() && layout.join("oci-layout").is_file());
}

/// `wharf cleanup --artifact-type T --keep-last N` on what oras pushed: the newest N artifacts
/// of type T stay (ranked by their `org.opencontainers.image.created`, among T's only), the
/// older go, and an image and the artifacts of another type stay whatever their age.
#[test]
fn cleanup_with_artifact_type_ranks_and_removes_only_that_type() {
    const PACK: &str = "application/vnd.sherpack.pack.v1";
    const SBOM: &str = "application/spdx+json";
    on_both(|host, name| {
        let work = tempfile::tempdir().unwrap();
        crate::registries::push_image(work.path(), &format!("{host}/app:img"), "app", "2025-01-01T00:00:00Z");
        for (tag, artifact_type, created) in [
            ("pack-1", PACK, "2026-01-01T00:00:00Z"),
            ("sbom-1", SBOM, "2026-01-15T00:00:00Z"),
            ("pack-2", PACK, "2026-02-01T00:00:00Z"),
            ("pack-3", PACK, "2026-03-01T00:00:00Z"),
            ("sbom-2", SBOM, "2026-04-01T00:00:00Z"),
        ] {
            std::fs::write(work.path().join("file.txt"), tag).unwrap();
            let created = format!("org.opencontainers.image.created={created}");
            oras(
                work.path(),
                &[
                    "push",
                    "--plain-http",
                    &format!("{host}/app:{tag}"),
                    "file.txt",
                    "--artifact-type",
                    artifact_type,
                    "--annotation",
                    &created,
                ],
            );
        }
        let repo = format!("{host}/app");
        let args = [
            "cleanup",
            "--repo",
            &repo,
            "--keep-last",
            "1",
            "--artifact-type",
            PACK,
            "--fresh-window",
            "0",
            "--output",
            "json",
        ];
        let plan = wharf_in(work.path(), &[&args[..], &["--dry-run"]].concat()).ok().json();
        let mut decided: Vec<(&str, &str)> = plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["tag"].as_str().unwrap(), e["action"].as_str().unwrap()))
            .collect();
        decided.sort();
        assert_eq!(
            decided,
            [
                ("img", "keep"),
                ("pack-1", "delete"),
                ("pack-2", "delete"),
                ("pack-3", "keep"),
                ("sbom-1", "keep"),
                ("sbom-2", "keep")
            ],
            "{name}: {plan:#}"
        );
        let img = plan["entries"].as_array().unwrap().iter().find(|e| e["tag"] == "img").unwrap();
        assert!(img["reason"].as_str().unwrap().contains("not an artifact of type"), "{name}: {img}");
        let report = wharf_in(work.path(), &args).ok().json();
        assert_eq!(report["counts"]["deleted"], 2, "{name}: {report:#}");
        let mut left: Vec<String> = crane(&["ls", &repo]).lines().map(str::to_string).collect();
        left.sort();
        assert_eq!(left, ["img", "pack-3", "sbom-1", "sbom-2"], "{name}");
    });
}
