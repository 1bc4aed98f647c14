//! The OCI distribution-spec conformance suite (`../shared/tools/conformance`, built from
//! opencontainers/distribution-spec) against `wharf serve`, read-only workflow: pushes and
//! deletes off, the root's content listed in `OCI_RO_DATA_*`. It pings, lists tags (with
//! `last`), pulls and heads every manifest by tag and digest and every blob, asks for missing
//! manifests, and lists referrers (of a random digest and of our subject, which has two).
//!
//! In read-only mode the suite panics after it printed its summary (its own bug, writing
//! results.yaml), so the summary decides: zero failures and errors, and the API lines that
//! must pass.

use crate::push_static::Served;
use crate::serve_clients::{header, request};
use crate::support::moto::Moto;
use crate::support::static_fixture::{Fixture, REPO, SBOM, SIGNATURE, populate};
use crate::support::tools::path as tool;
use std::process::Command;
use wharf::static_registry::root::{S3Root, StaticRoot};

/// Runs the suite against `addr` for `fixture`; returns its summary (stdout from the result
/// line on).
fn conformance(addr: &str, fixture: &Fixture) -> String {
    let results = tempfile::tempdir().unwrap();
    let out = Command::new(tool("conformance"))
        .current_dir(results.path())
        .env("OCI_REGISTRY", addr)
        .env("OCI_TLS", "disabled")
        .env("OCI_VERSION", "1.1")
        .env("OCI_REPO1", REPO)
        .env("OCI_REPO2", REPO)
        .env("OCI_RESULTS_DIR", results.path())
        .env("OCI_API_PUSH", "false")
        .env("OCI_API_BLOBS_DELETE", "false")
        .env("OCI_API_MANIFESTS_DELETE", "false")
        .env("OCI_API_TAGS_DELETE", "false")
        // Not `OCI_API_*_DIGEST_HEADER=true`: with read-only data the suite keeps no response
        // to look in and fails every pull (checked separately in serve_clients).
        .env("OCI_RO_DATA_TAGS", fixture.tags.join(" "))
        .env("OCI_RO_DATA_MANIFESTS", fixture.manifests.join(" "))
        .env("OCI_RO_DATA_BLOBS", fixture.blobs.join(" "))
        .env("OCI_RO_DATA_REFERRERS", &fixture.subject)
        .output()
        .expect("run the conformance suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout.find("OCI Conformance Result").unwrap_or_else(|| {
        panic!("no summary from the conformance suite:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    stdout[start..].to_string()
}

/// The value of a summary line (`  Tag listing......:   Pass`).
fn line<'a>(summary: &'a str, name: &str) -> &'a str {
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name}.")))
        .and_then(|l| l.rsplit(':').next())
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{summary}"))
}

fn assert_conformant(summary: &str) {
    assert!(summary.starts_with("OCI Conformance Result: Pass"), "{summary}");
    assert_eq!(line(summary, "FAIL"), "0", "{summary}");
    assert_eq!(line(summary, "Error"), "0", "{summary}");
    for api in [
        "Ping",
        "Tag listing",
        "Referrers",
        "Blob get",
        "Blob head",
        "Manifest get by digest",
        "Manifest get by tag",
        "Manifest head by digest",
        "Manifest head by tag",
        "Read Only Inputs",
    ] {
        assert_eq!(line(summary, api), "Pass", "{api}:\n{summary}");
    }
    assert!(line(summary, "Pass").parse::<u32>().unwrap() >= 30, "{summary}");
}

/// What the suite cannot check in read-only mode: the subject's two referrers are listed,
/// and filtered by artifact type.
fn assert_referrers(addr: &str, fixture: &Fixture) {
    let path = format!("/v2/{REPO}/referrers/{}", fixture.subject);
    let (status, _, body) = request(addr, "GET", &path, &[]);
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200);
    let mut listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["artifactType"].as_str().unwrap().to_string(), m["digest"].as_str().unwrap().to_string()))
        .collect();
    listed.sort();
    let mut want = fixture.referrers.clone();
    want.sort();
    assert_eq!(listed, want);
    for artifact_type in [SBOM, SIGNATURE] {
        let (status, headers, body) = request(addr, "GET", &format!("{path}?artifactType={artifact_type}"), &[]);
        let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, header(&headers, "oci-filters-applied")), (200, Some("artifactType")));
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(index["manifests"][0]["artifactType"], artifact_type);
    }
}

/// Byte ranges of every blob (the suite's "Blob get range" needs pushes): a directory root
/// reads them from its file, an S3 root asks the bucket for the range.
fn assert_ranges(addr: &str, fixture: &Fixture) {
    for digest in &fixture.blobs {
        let path = format!("/v2/{REPO}/blobs/{digest}");
        let (_, _, whole) = request(addr, "GET", &path, &[]);
        if whole.len() < 2 {
            continue;
        }
        let (status, headers, part) = request(addr, "GET", &path, &[("Range", "bytes=1-")]);
        assert_eq!((status, part.as_slice()), (206, &whole[1..]), "{digest}");
        assert_eq!(
            header(&headers, "content-range"),
            Some(format!("bytes 1-{}/{}", whole.len() - 1, whole.len()).as_str())
        );
    }
}

#[test]
fn the_conformance_suite_passes_against_a_directory_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let dir = root.clone();
    let fixture = populate(tmp.path(), &crate::support::oci::s(&root), &[], move || StaticRoot::dir(&dir));
    let served = Served::start(&crate::support::oci::s(&root), &[]);
    assert_conformant(&conformance(&served.addr, &fixture));
    assert_referrers(&served.addr, &fixture);
    assert_ranges(&served.addr, &fixture);
}

#[test]
fn the_conformance_suite_passes_against_an_s3_root() {
    let moto = Moto::start();
    moto.create_bucket("conformance");
    let tmp = tempfile::tempdir().unwrap();
    let root = "s3://conformance/site";
    let sdk = tokio::runtime::Runtime::new().unwrap().block_on(moto.sdk_config());
    let fixture = populate(tmp.path(), root, &moto.env(), || StaticRoot::s3(S3Root::new(&sdk, root).unwrap()));
    let served = Served::start(root, &moto.env());
    assert_conformant(&conformance(&served.addr, &fixture));
    assert_referrers(&served.addr, &fixture);
    assert_ranges(&served.addr, &fixture);
}
