//! Static file distribution (`wharf static push|ls|rm|gc`) as alba uses it: per-platform
//! files published as plain URLs in a directory and in an S3 bucket (moto), listed, removed,
//! garbage-collected, and served by `wharf serve` with their content types, lengths and
//! ranges, never anything outside the published layout.

use crate::push_static::Served;
use crate::serve_clients::{header, request};
use crate::support::moto::Moto;
use crate::support::oci::s;
use crate::support::wharf::{Run, run, wharf};
use std::path::Path;

/// `wharf static ARGS… --output json` with `env` (and, but for `ls`, which takes no lock, a
/// lock dir of the test's own).
fn wharf_static(env: &[(&'static str, String)], locks: &Path, args: &[&str]) -> Run {
    let mut all = vec!["static"];
    all.extend_from_slice(args);
    all.extend(["--output", "json"]);
    let locks = s(locks);
    if args.first() != Some(&"ls") {
        all.extend(["--lock-dir", &locks]);
    }
    let mut cmd = wharf(&all);
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    run(cmd)
}

/// The release files alba publishes: a binary per platform, an ARMv7 variant, archives.
fn dist(dir: &Path, version: &str) -> Vec<(&'static str, Vec<u8>)> {
    let files = vec![
        ("linux/amd64/alba", format!("\x7fELF amd64 {version}").into_bytes()),
        ("linux/amd64/alba.sha256", format!("sum {version}\n").into_bytes()),
        ("linux/arm/v7/alba", format!("\x7fELF armv7 {version}").into_bytes()),
        ("darwin/arm64/alba.tar.gz", vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4]),
        ("windows/amd64/alba.zip", b"PK\x03\x04zip".to_vec()),
        ("windows/amd64/NOTES.txt", format!("alba {version}\n").into_bytes()),
    ];
    for (rel, bytes) in &files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files
}

fn versions(listing: &serde_json::Value) -> Vec<String> {
    listing["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap().to_string()).collect()
}

fn gc_decisions(report: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    let entries = report["plan"][list].as_array().unwrap();
    entries
        .iter()
        .map(|v| (v["version"].as_str().unwrap().to_string(), v["decision"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Checks what `wharf serve` answers for the published files of `alba:1.2.0`.
fn check_served(addr: &str, files: &[(&'static str, Vec<u8>)]) {
    for (rel, bytes) in files {
        let (status, headers, body) = request(addr, "GET", &format!("/alba/1.2.0/{rel}"), &[]);
        assert_eq!(status, 200, "{rel}");
        assert_eq!(&body, bytes, "{rel}");
        assert_eq!(header(&headers, "content-length"), Some(bytes.len().to_string().as_str()), "{rel}");
    }
    let content_type = |path: &str| header(&request(addr, "HEAD", path, &[]).1, "content-type").map(str::to_string);
    assert_eq!(
        content_type("/alba/1.2.0/linux/amd64/alba").as_deref(),
        Some("application/octet-stream"),
        "no extension"
    );
    assert_eq!(
        content_type("/alba/1.2.0/linux/amd64/alba.sha256").as_deref(),
        Some("application/octet-stream"),
        "unknown extension"
    );
    assert_eq!(content_type("/alba/1.2.0/darwin/arm64/alba.tar.gz").as_deref(), Some("application/gzip"));
    assert_eq!(content_type("/alba/1.2.0/windows/amd64/alba.zip").as_deref(), Some("application/zip"));
    assert_eq!(content_type("/alba/1.2.0/windows/amd64/NOTES.txt").as_deref(), Some("text/plain"));
    assert_eq!(content_type("/alba/1.2.0/release.json").as_deref(), Some("application/json"));
    assert_eq!(content_type("/alba/tags.json").as_deref(), Some("application/json"));
    let (status, _, body) = request(addr, "GET", "/alba/tags.json", &[]);
    assert_eq!(status, 200);
    let tags: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(tags["tags"].as_array().unwrap().iter().any(|t| t == "1.2.0"), "{tags}");
    let (status, _, body) = request(addr, "GET", "/alba/1.2.0/release.json", &[]);
    assert_eq!(status, 200);
    let release: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(release["version"], "1.2.0");

    // HEAD: the headers without the body; ranges as for blobs.
    let (status, headers, body) = request(addr, "HEAD", "/alba/1.2.0/linux/arm/v7/alba", &[]);
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&headers, "content-length"), Some(files[2].1.len().to_string().as_str()));
    assert_eq!(header(&headers, "accept-ranges"), Some("bytes"));
    let (status, headers, body) = request(addr, "GET", "/alba/1.2.0/linux/amd64/alba", &[("Range", "bytes=1-3")]);
    assert_eq!(status, 206);
    assert_eq!(body, b"ELF");
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes 1-3/{}", files[0].1.len()).as_str()));
    let (status, headers, _) = request(addr, "GET", "/alba/1.2.0/linux/amd64/alba", &[("Range", "bytes=999-")]);
    assert_eq!(status, 416);
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes */{}", files[0].1.len()).as_str()));

    // Only the published layout is served: no traversal, no lock, no temporaries, no listing.
    for path in [
        "/alba/../etc/passwd",
        "/alba/%2e%2e/%2e%2e/etc/passwd",
        "/alba/1.2.0/linux/amd64/..%2f..%2f..%2frelease.json",
        "/alba/_wharf/lock",
        "/alba/1.2.0/",
        "/alba/1.2.0/linux/amd64",
        "/alba/1.2.0/linux/amd64/.wharf-tmp-x",
        "/alba/9.9.9/linux/amd64/alba",
        "/",
        "/etc/passwd",
    ] {
        let (status, _, body) = request(addr, "GET", path, &[]);
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = request(addr, "GET", "/v2/", &[]);
    assert_eq!(status, 200, "the registry still answers beside the files");
}

#[test]
fn static_files_in_a_directory_push_ls_serve_rm_and_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let locks = tmp.path().join("locks");
    let site = tmp.path().join("site");
    let site_s = s(&site);
    let mut published = Vec::new();
    for version in ["1.0.0", "1.1.0", "1.2.0", "nightly"] {
        let dir = tmp.path().join(format!("dist-{version}"));
        let files = dist(&dir, version);
        let out = wharf_static(&[], &locks, &["push", "-t", &format!("alba:{version}"), &s(&dir), &site_s]).ok().json();
        assert_eq!(out["files"], files.len());
        published.push(files);
    }
    // The URLs a human downloads, the version's document, and the version list last.
    let amd64 = site.join("alba/1.2.0/linux/amd64/alba");
    assert_eq!(std::fs::read(&amd64).unwrap(), published[2][0].1);
    let release: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("alba/1.2.0/release.json")).unwrap()).unwrap();
    let flavours: Vec<String> = release["flavours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["platform"];
            [p["os"].as_str(), p["architecture"].as_str(), p["variant"].as_str()]
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    assert_eq!(flavours, ["darwin/arm64", "linux/amd64", "linux/arm/v7", "windows/amd64"]);
    let v7 = &release["flavours"][2]["files"][0];
    assert_eq!(v7["path"], "linux/arm/v7/alba");
    assert_eq!(v7["size"], published[2][2].1.len());
    assert_eq!(v7["sha256"].as_str().unwrap(), hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&published[2][2].1)));
    let tags: serde_json::Value = serde_json::from_slice(&std::fs::read(site.join("alba/tags.json")).unwrap()).unwrap();
    assert_eq!(tags, serde_json::json!({"name": "alba", "tags": ["1.0.0", "1.1.0", "1.2.0", "nightly"]}));
    // Readable by a web server running as another user: 0644 narrowed by the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&amd64).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "{mode:o}");

    // A published version is not overwritten without --force.
    let again = wharf_static(&[], &locks, &["push", "-t", "alba:1.2.0", &s(&tmp.path().join("dist-1.0.0")), &site_s]);
    assert_eq!(again.code(), 2, "{}", again.stderr());
    assert!(again.stderr().contains("already published") && again.stderr().contains("--force"), "{}", again.stderr());
    assert_eq!(std::fs::read(&amd64).unwrap(), published[2][0].1, "untouched");

    let listing = wharf_static(&[], &locks, &["ls", "alba", &site_s]).ok().json();
    assert_eq!(versions(&listing), ["1.0.0", "1.1.0", "1.2.0", "nightly"]);
    assert_eq!(listing["versions"][2]["files"], 6);

    let served = Served::start(&site_s, &[]);
    check_served(&served.addr, &published[2]);
    // A link planted in the root is not followed, to a file or a directory.
    std::os::unix::fs::symlink("/etc/passwd", site.join("alba/1.2.0/linux/amd64/passwd")).unwrap();
    std::fs::create_dir_all(tmp.path().join("outside/1.0/linux/amd64")).unwrap();
    std::fs::write(tmp.path().join("outside/1.0/linux/amd64/secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside"), site.join("evil")).unwrap();
    for path in ["/alba/1.2.0/linux/amd64/passwd", "/evil/1.0/linux/amd64/secret"] {
        assert_eq!(request(&served.addr, "GET", path, &[]).0, 404, "{path}");
    }
    std::fs::remove_file(site.join("alba/1.2.0/linux/amd64/passwd")).unwrap();

    // rm: out of the list, then the files; a second rm says it is not there.
    let removed = wharf_static(&[], &locks, &["rm", "alba:1.0.0", &site_s]).ok().json();
    assert_eq!(
        (removed["was_published"].as_bool(), removed["files"].as_u64()),
        (Some(true), Some(7)),
        "6 files and release.json"
    );
    assert!(!site.join("alba/1.0.0").exists());
    assert_eq!(request(&served.addr, "GET", "/alba/1.0.0/linux/amd64/alba", &[]).0, 404);
    let missing = wharf_static(&[], &locks, &["rm", "alba:1.0.0", &site_s]);
    assert_eq!(missing.code(), 2);
    assert!(missing.stderr().contains("no version 1.0.0 of alba"), "{}", missing.stderr());

    // gc: what an interrupted push left (not in tags.json) goes once older than --grace.
    let orphan = site.join("alba/0.9.0/linux/amd64/alba");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"half").unwrap();
    let dry = wharf_static(&[], &locks, &["gc", "alba", "--keep", "1", "--dry-run", &site_s]).ok().json();
    assert_eq!(gc_decisions(&dry, "versions"), pairs(&[("1.1.0", "remove"), ("1.2.0", "keep"), ("nightly", "keep")]));
    assert_eq!(gc_decisions(&dry, "unpublished"), pairs(&[("0.9.0", "keep")]), "younger than the default grace of 1h");
    assert!(site.join("alba/1.1.0").exists(), "a dry run changes nothing");
    let report = wharf_static(&[], &locks, &["gc", "alba", "--keep", "1", "--grace", "0", &site_s]).ok().json();
    let gone: Vec<&str> =
        report["removed"].as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(gone, ["1.1.0", "0.9.0"]);
    let mut left: Vec<String> = std::fs::read_dir(site.join("alba"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["1.2.0", "_wharf", "nightly", "tags.json"]);
    check_served(&served.addr, &published[2]);
    let listing = wharf_static(&[], &locks, &["ls", "alba", &site_s]).ok().json();
    assert_eq!(versions(&listing), ["1.2.0", "nightly"]);
}

#[test]
fn a_source_that_cannot_be_published_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let locks = tmp.path().join("locks");
    let site = s(&tmp.path().join("site"));
    let dir = tmp.path().join("dist");
    dist(&dir, "1");
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), dir.join("linux/amd64/alba-link")).unwrap();
    let refused = wharf_static(&[], &locks, &["push", "-t", "alba:1", &s(&dir), &site]);
    assert_eq!(refused.code(), 6, "a bad source is an input error: {}", refused.stderr());
    assert!(
        refused.stderr().contains(&s(&dir.join("linux/amd64/alba-link"))) && refused.stderr().contains("symbolic link"),
        "{}",
        refused.stderr()
    );
    assert!(!tmp.path().join("site").exists(), "nothing written");
    std::fs::remove_file(dir.join("linux/amd64/alba-link")).unwrap();
    for (tag, needle) in
        [("Alba:1", "lowercase"), ("alba", "NAME:VERSION"), ("alba:../x", "version"), ("v2:1", "static registry")]
    {
        let bad = wharf_static(&[], &locks, &["push", "-t", tag, &s(&dir), &site]);
        assert_eq!(bad.code(), 2, "{tag}: {}", bad.stderr());
        assert!(bad.stderr().contains(needle), "{tag}: {}", bad.stderr());
    }
    std::fs::write(dir.join("README"), b"x").unwrap();
    let bad = wharf_static(&[], &locks, &["push", "-t", "alba:1", &s(&dir), &site]);
    assert!(bad.stderr().contains("a file directly in DIR") && bad.stderr().contains("hint"), "{}", bad.stderr());
}

#[test]
fn static_files_in_s3_push_ls_serve_rm_and_gc() {
    let moto = Moto::start();
    moto.create_bucket("downloads");
    let env = moto.env();
    let tmp = tempfile::tempdir().unwrap();
    let locks = tmp.path().join("locks");
    let dest = "s3://downloads/releases";
    let mut published = Vec::new();
    for version in ["1.1.0", "1.2.0", "latest"] {
        let dir = tmp.path().join(format!("dist-{version}"));
        published.push(dist(&dir, version));
        wharf_static(&env, &locks, &["push", "-t", &format!("alba:{version}"), &s(&dir), dest]).ok();
    }
    let listing = wharf_static(&env, &locks, &["ls", "alba", dest]).ok().json();
    assert_eq!(versions(&listing), ["1.1.0", "1.2.0", "latest"]);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let objects = |prefix: &str| -> Vec<(String, String)> {
        runtime.block_on(async {
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&moto.sdk_config().await).force_path_style(true).build(),
            );
            let listed = s3.list_objects_v2().bucket("downloads").prefix(prefix).send().await.unwrap();
            let mut out = Vec::new();
            for o in listed.contents() {
                let key = o.key().unwrap().to_string();
                let head = s3.head_object().bucket("downloads").key(&key).send().await.unwrap();
                out.push((
                    key.strip_prefix(prefix).unwrap().to_string(),
                    head.content_type().unwrap_or_default().to_string(),
                ));
            }
            out.sort();
            out
        })
    };
    // The bucket itself serves the right Content-Type (or a CDN in front of it).
    let stored = objects("releases/alba/1.2.0/");
    assert_eq!(
        stored,
        pairs(&[
            ("darwin/arm64/alba.tar.gz", "application/gzip"),
            ("linux/amd64/alba", "application/octet-stream"),
            ("linux/amd64/alba.sha256", "application/octet-stream"),
            ("linux/arm/v7/alba", "application/octet-stream"),
            ("release.json", "application/json"),
            ("windows/amd64/NOTES.txt", "text/plain"),
            ("windows/amd64/alba.zip", "application/zip"),
        ])
    );

    let served = Served::start(dest, &env);
    check_served(&served.addr, &published[1]);

    let removed = wharf_static(&env, &locks, &["rm", "alba:1.1.0", dest]).ok().json();
    assert_eq!(removed["files"], 7);
    assert!(objects("releases/alba/1.1.0/").is_empty());
    wharf_static(&env, &locks, &["push", "-t", "alba:1.3.0", &s(&tmp.path().join("dist-1.1.0")), dest]).ok();
    let report = wharf_static(&env, &locks, &["gc", "alba", "--keep", "1", dest]).ok().json();
    assert_eq!(gc_decisions(&report, "versions"), pairs(&[("1.2.0", "remove"), ("1.3.0", "keep"), ("latest", "keep")]));
    assert!(objects("releases/alba/1.2.0/").is_empty());
    assert_eq!(objects("releases/alba/1.3.0/").len(), 7);
    let tags: Vec<String> =
        objects("releases/alba/").into_iter().map(|(k, _)| k).filter(|k| !k.contains('/')).collect();
    assert_eq!(tags, ["tags.json"]);
    let listing = wharf_static(&env, &locks, &["ls", "alba", dest]).ok().json();
    assert_eq!(versions(&listing), ["1.3.0", "latest"]);
    assert_eq!(request(&served.addr, "GET", "/alba/1.2.0/linux/amd64/alba", &[]).0, 404);
}

/// `push`, `rm` and `gc` of one name wait for each other: through wharf's run lock (what
/// keeps them apart on S3), and in a directory through its own lock file too (runs with other
/// lock dirs, or from other machines on a shared disk).
#[test]
fn pushes_of_one_name_wait_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let locks = tmp.path().join("locks");
    let site = tmp.path().join("site");
    let dir = tmp.path().join("dist");
    dist(&dir, "1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run_locks = wharf::lock::Locks::local(&locks, std::time::Duration::from_secs(5));
    let held = rt.block_on(run_locks.exclusive(&wharf::lock::static_files(&s(&site), "alba"))).unwrap();
    let blocked = wharf_static(&[], &locks, &["push", "-t", "alba:1.0.0", &s(&dir), &s(&site), "--lock-timeout", "1s"]);
    assert_eq!(blocked.code(), 1, "{}", blocked.stderr());
    assert!(blocked.stderr().contains("another wharf run still holds the lock"), "{}", blocked.stderr());
    assert!(!site.join("alba").exists(), "nothing written while blocked");
    drop(held);
    wharf_static(&[], &locks, &["push", "-t", "alba:1.0.0", &s(&dir), &s(&site)]).ok();

    let flock = wharf::static_registry::objects::dir::lock_repo(&site.join("alba")).unwrap();
    let other_locks = tmp.path().join("other-locks");
    let mut all = vec!["static", "push", "-t", "alba:1.1.0"];
    let (dir_s, site_s, other_s) = (s(&dir), s(&site), s(&other_locks));
    all.extend([dir_s.as_str(), site_s.as_str(), "--lock-dir", other_s.as_str()]);
    let mut waiting =
        wharf(&all).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(waiting.try_wait().unwrap().is_none(), "the push waits for the directory's lock");
    assert!(!site.join("alba/1.1.0").exists());
    drop(flock);
    assert!(waiting.wait().unwrap().success());
    let tags: serde_json::Value = serde_json::from_slice(&std::fs::read(site.join("alba/tags.json")).unwrap()).unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["1.0.0", "1.1.0"]));
}
