//! `wharf serve` as clients see it: oras discovers referrers, tag lists page as the
//! distribution spec says, blobs answer byte ranges, and nothing below ROOT that is a link
//! or a special file is ever served; errors carry the spec's codes and no server paths.

use crate::push_static::Served;
use crate::support::oci::{s, sha256};
use crate::support::static_fixture::{REPO, SBOM, SIGNATURE, populate};
use crate::support::tools::path as tool;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use wharf::static_registry::root::StaticRoot;

/// A raw HTTP/1.1 request (connection closed after it): status, headers (lowercased
/// names), body.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").expect("request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    (status, headers, raw[split + 4..].to_vec())
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// The fixture in a directory root, served.
fn served_fixture(tmp: &Path, args: &[&str]) -> (Served, crate::support::static_fixture::Fixture, std::path::PathBuf) {
    let root = tmp.join("site");
    let dir = root.clone();
    let fixture = populate(tmp, &s(&root), &[], move || StaticRoot::dir(&dir));
    (Served::start_with(&s(&root), &[], args), fixture, root)
}

#[test]
fn oras_discovers_referrers_and_the_api_filters_by_artifact_type() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, fixture, _) = served_fixture(tmp.path(), &[]);
    let host = &served.addr;
    let discover = |extra: &[&str]| {
        let mut cmd = Command::new(tool("oras"));
        cmd.args(["discover", "--plain-http", "--format", "json", "--distribution-spec", "v1.1-referrers-api"])
            .args(extra);
        let out = cmd.arg(format!("{host}/{REPO}:single")).env("HOME", tmp.path()).output().expect("oras");
        assert!(out.status.success(), "oras discover: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oras json");
        let mut found: Vec<(String, String)> = v["referrers"]
            .as_array()
            .expect("referrers")
            .iter()
            .map(|r| {
                (
                    r["artifactType"].as_str().unwrap_or_default().to_string(),
                    r["digest"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        found.sort();
        found
    };
    let mut all = fixture.referrers.clone();
    all.sort();
    assert_eq!(discover(&[]), all, "both artifacts refer to the single image");
    let sbom: Vec<_> = fixture.referrers.iter().filter(|(t, _)| t == SBOM).cloned().collect();
    assert_eq!(discover(&["--artifact-type", SBOM]), sbom);

    // The API itself: an OCI index, filtered with OCI-Filters-Applied, empty (never 404) for a
    // digest nothing refers to, 400 for a digest that is not one.
    let path = format!("/v2/{REPO}/referrers/{}", fixture.subject);
    let (status, headers, body) = request(host, "GET", &format!("{path}?artifactType={SIGNATURE}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/vnd.oci.image.index.v1+json"));
    assert_eq!(header(&headers, "oci-filters-applied"), Some("artifactType"));
    let index = json(&body);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(index["manifests"][0]["artifactType"], SIGNATURE);
    assert_eq!(index["manifests"][0]["annotations"]["org.example.kind"], SIGNATURE, "the referrer's annotations");
    let (status, headers, body) = request(host, "GET", &format!("/v2/{REPO}/referrers/{}", sha256(b"nothing")), &[]);
    assert_eq!((status, header(&headers, "oci-filters-applied")), (200, None));
    assert_eq!(
        json(&body),
        serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
    );
    let (status, _, body) = request(host, "GET", &format!("/v2/{REPO}/referrers/sha256:nothex"), &[]);
    assert_eq!((status, json(&body)["errors"][0]["code"].as_str()), (400, Some("DIGEST_INVALID")));
}

#[test]
fn tag_lists_page_with_n_last_and_link() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, fixture, _) = served_fixture(tmp.path(), &[]);
    let host = &served.addr;
    let tags = |query: &str| {
        let (status, headers, body) = request(host, "GET", &format!("/v2/{REPO}/tags/list{query}"), &[]);
        assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
        let v = json(&body);
        assert_eq!(v["name"], REPO);
        let list: Vec<String> = v["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        (list, header(&headers, "link").map(str::to_string))
    };
    let mut sorted = fixture.tags.clone();
    sorted.sort();
    assert_eq!(tags(""), (sorted.clone(), None));
    assert_eq!(
        tags("?n=1"),
        (vec![sorted[0].clone()], Some(format!("</v2/{REPO}/tags/list?n=1&last={}>; rel=\"next\"", sorted[0])))
    );
    assert_eq!(tags("?n=0"), (vec![], None), "n=0: an empty list and no Link");
    assert_eq!(tags(&format!("?n=2&last={}", sorted[0])).0, sorted[1..3].to_vec());
    assert_eq!(tags(&format!("?last={}", sorted[3])), (sorted[4..].to_vec(), None));
    assert_eq!(tags(&format!("?n={}", sorted.len())).1, None, "no next page after the last tag");
    // Following Link from the first page walks every tag once.
    let (mut seen, mut next) = tags("?n=2");
    while let Some(link) = next {
        let query = link.split_once('?').unwrap().1.split_once('>').unwrap().0.to_string();
        let (page, more) = tags(&format!("?{query}"));
        seen.extend(page);
        next = more;
    }
    assert_eq!(seen, sorted);
    // regctl pages the same way and lists every tag.
    let out = Command::new(tool("regctl"))
        .env("HOME", tmp.path())
        .args(["registry", "set", host, "--tls", "disabled"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(tool("regctl"))
        .env("HOME", tmp.path())
        .args(["tag", "ls", &format!("{host}/{REPO}")])
        .output()
        .unwrap();
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    listed.sort();
    assert_eq!(listed, sorted, "{}", String::from_utf8_lossy(&out.stderr));
    let (status, _, _) = request(host, "GET", &format!("/v2/{REPO}/tags/list?n=-1"), &[]);
    assert_eq!(status, 400);
}

#[test]
fn blobs_answer_byte_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, fixture, root) = served_fixture(tmp.path(), &[]);
    let host = &served.addr;
    let digest = &fixture.blobs[0];
    let whole = std::fs::read(root.join(format!("v2/{REPO}/blobs/{digest}"))).unwrap();
    let size = whole.len();
    let path = format!("/v2/{REPO}/blobs/{digest}");
    let (status, headers, body) = request(host, "GET", &path, &[]);
    assert_eq!((status, body.as_slice()), (200, whole.as_slice()));
    assert_eq!(header(&headers, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&headers, "docker-content-digest"), Some(digest.as_str()));
    assert_eq!(header(&headers, "cache-control"), None, "an unverified blob is never `immutable`");
    let (status, headers, body) = request(host, "GET", &path, &[("Range", "bytes=1-4")]);
    assert_eq!((status, body.as_slice()), (206, &whole[1..=4]));
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes 1-4/{size}").as_str()));
    assert_eq!(header(&headers, "content-length"), Some("4"));
    let (status, _, body) = request(host, "GET", &path, &[("Range", "bytes=-3")]);
    assert_eq!((status, body.as_slice()), (206, &whole[size - 3..]));
    let (status, headers, body) = request(host, "GET", &path, &[("Range", &format!("bytes={size}-"))]);
    assert_eq!((status, body.len()), (416, 0));
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes */{size}").as_str()));
    let (status, _, body) = request(host, "GET", &path, &[("Range", "bytes=0-1"), ("If-Range", "\"sha256:other\"")]);
    assert_eq!((status, body.len()), (200, size), "If-Range of another version: the whole blob");
}

#[test]
fn nothing_outside_the_root_nor_a_special_file_is_served_and_errors_name_no_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, fixture, root) = served_fixture(tmp.path(), &[]);
    let host = &served.addr;
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("blobs")).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    // A blob whose file is a link to a file outside, under a digest of that file's content.
    let secret = sha256(b"secret");
    std::os::unix::fs::symlink(outside.join("secret"), root.join(format!("v2/{REPO}/blobs/{secret}"))).unwrap();
    // A repository that is a link to a directory outside.
    std::fs::write(outside.join("blobs").join(&secret), b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("v2/escape")).unwrap();
    // A FIFO where a blob should be.
    let fifo = sha256(b"fifo");
    assert!(Command::new("mkfifo").arg(root.join(format!("v2/{REPO}/blobs/{fifo}"))).status().unwrap().success());
    let too_long = format!("/v2/{}/manifests/1", "a".repeat(300));
    let cases = [
        (format!("/v2/{REPO}/blobs/{secret}"), "BLOB_UNKNOWN"),
        (format!("/v2/escape/blobs/{secret}"), "BLOB_UNKNOWN"),
        (format!("/v2/{REPO}/blobs/{fifo}"), "BLOB_UNKNOWN"),
        (too_long, "MANIFEST_UNKNOWN"),
        ("/v2/a/b/tags/list/x/manifests/1".to_string(), "MANIFEST_UNKNOWN"),
        (format!("/v2/{REPO}/tags/list/x/manifests/1"), "MANIFEST_UNKNOWN"),
        (format!("/v2/{REPO}/blobs/sha256:short"), "DIGEST_INVALID"),
        ("/v2/Upper/manifests/1".to_string(), "NAME_INVALID"),
        ("/v2/nothing/tags/list".to_string(), "NAME_UNKNOWN"),
    ];
    for (path, code) in cases {
        let (status, _, body) = request(host, "GET", &path, &[]);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 404, "{path}: {text}");
        assert_eq!(json(&body)["errors"][0]["code"], code, "{path}: {text}");
        assert!(!text.contains(&s(tmp.path())) && !text.contains("os error"), "no server path or OS error: {text}");
    }
    // The real blobs are still served.
    let (status, _, _) = request(host, "HEAD", &format!("/v2/{REPO}/blobs/{}", fixture.blobs[0]), &[]);
    assert_eq!(status, 200);
}

#[test]
fn verify_blobs_refuses_a_blob_that_does_not_match_and_marks_verified_ones_immutable() {
    let tmp = tempfile::tempdir().unwrap();
    let (served, fixture, root) = served_fixture(tmp.path(), &["--verify-blobs"]);
    let host = &served.addr;
    let good = &fixture.blobs[0];
    let (status, headers, _) = request(host, "HEAD", &format!("/v2/{REPO}/blobs/{good}"), &[]);
    assert_eq!((status, header(&headers, "cache-control")), (200, None), "not verified yet");
    let (status, headers, _) = request(host, "GET", &format!("/v2/{REPO}/blobs/{good}"), &[]);
    assert_eq!((status, header(&headers, "cache-control")), (200, Some("max-age=31536000, immutable")));
    // A file whose bytes are not what its name says is refused, without internals.
    let bad = &fixture.blobs[1];
    let file = root.join(format!("v2/{REPO}/blobs/{bad}"));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let (status, headers, body) = request(host, "GET", &format!("/v2/{REPO}/blobs/{bad}"), &[]);
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "docker-content-digest"), None);
    assert!(!String::from_utf8_lossy(&body).contains(&s(tmp.path())));
}

#[test]
fn a_static_root_is_written_readable_by_a_web_server_running_as_another_user() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("amd64");
    let spec = crate::support::oci::Spec {
        architecture: "amd64",
        variant: None,
        layers: vec![b"x".to_vec()],
        labels: serde_json::json!({}),
    };
    crate::support::oci::write_image(&layout, &spec, "x");
    let root = tmp.path().join("site");
    // Under the usual umask 022, whatever the test runner's is.
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let script = format!("umask 022 && exec {wharf} push {} app:1 --static-root {}", s(&layout), s(&root));
    let out = crate::support::wharf::run({
        let mut c = Command::new("sh");
        c.args(["-c", &script]).env("DOCKER_CONFIG", tmp.path());
        c
    });
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let mut checked = 0;
    let mut stack = vec![root.join("v2")];
    while let Some(dir) = stack.pop() {
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o755, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != "lock" {
                assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "manifests, blobs, tags/list, media types: {checked}");
}
