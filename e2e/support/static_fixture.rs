//! A static root with something of everything `wharf serve` answers: a multi-platform index
//! and a single image under several tags (through `wharf push --static-root`, as a user
//! writes one), and two artifacts that refer to the single image (written through the
//! library's static root, as `wharf push --subject` will), so the referrers API has entries
//! of two artifact types.

use super::oci::{Spec, layer_tar, s, sha256, write_image};
use super::wharf::{run, wharf};
use std::path::Path;
use wharf::spec::digest::Digest;
use wharf::static_registry::root::StaticRoot;

pub const REPO: &str = "conformance/repo1";
pub const SBOM: &str = "application/vnd.example.sbom.v1";
pub const SIGNATURE: &str = "application/vnd.example.signature.v1";

/// What the root holds, for the conformance suite's `OCI_RO_DATA_*` and for assertions.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub tags: Vec<String>,
    pub manifests: Vec<String>,
    pub blobs: Vec<String>,
    /// The single image: the artifacts' subject.
    pub subject: String,
    /// `(artifact type, manifest digest)` of the two referrers.
    pub referrers: Vec<(String, String)>,
}

/// Writes the fixture into `root` (`DIR` or `s3://…`, reached with `env`), from `work`.
pub fn populate(work: &Path, root: &str, env: &[(&str, String)], open: impl FnOnce() -> StaticRoot) -> Fixture {
    let (amd64, arm64) = (work.join("amd64"), work.join("arm64"));
    let layer = |arch: &str| layer_tar(&[("hello", format!("hello from {arch}\n").as_bytes())]);
    write_image(
        &amd64,
        &Spec { architecture: "amd64", variant: None, layers: vec![layer("amd64")], labels: serde_json::json!({}) },
        "x",
    );
    write_image(
        &arm64,
        &Spec { architecture: "arm64", variant: None, layers: vec![layer("arm64")], labels: serde_json::json!({}) },
        "x",
    );
    let push = |args: &[&str]| {
        let mut all = vec!["push", "--output", "json", "--no-default-annotations", "--static-root", root];
        all.extend_from_slice(args);
        let mut cmd = wharf(&all);
        cmd.current_dir(work).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        run(cmd).ok().json()
    };
    let multi = push(&[&s(&amd64), &s(&arm64), &format!("{REPO}:multi"), "--tag", "latest"]);
    let single = push(&[&s(&amd64), &format!("{REPO}:single"), "--tag", "1.0", "--tag", "1.1"]);
    let subject = single["digest"].as_str().expect("digest").to_string();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let root = open();
    let referrers = runtime.block_on(async {
        let (subject_bytes, _) = root.read_manifest(REPO, &subject).await.expect("read").expect("the single image");
        let subject = (subject.as_str(), subject_bytes.len());
        let mut out = Vec::new();
        for (artifact_type, content) in [(SBOM, &b"{\"sbom\":true}"[..]), (SIGNATURE, &b"signature bytes"[..])] {
            out.push((artifact_type.to_string(), put_artifact(&root, work, artifact_type, content, subject).await));
        }
        out
    });
    let mut fixture = Fixture {
        tags: ["1.0", "1.1", "latest", "multi", "single"].iter().map(|t| t.to_string()).collect(),
        manifests: Vec::new(),
        blobs: Vec::new(),
        subject,
        referrers,
    };
    runtime.block_on(async {
        use wharf::static_registry::root::Area;
        for (area, out) in [(Area::Manifests, &mut fixture.manifests), (Area::Blobs, &mut fixture.blobs)] {
            let mut found: Vec<String> =
                root.entries(REPO, area).await.expect("list").into_iter().map(|(d, _)| d.to_string()).collect();
            found.sort();
            *out = found;
        }
    });
    assert!(fixture.manifests.contains(&multi["digest"].as_str().expect("digest").to_string()));
    assert_eq!(fixture.manifests.len(), 5, "the index, two images (one also tagged alone), two artifacts: {fixture:?}");
    fixture
}

/// An OCI artifact (empty config, one layer of `content`) whose subject is `subject`;
/// returns its manifest digest.
async fn put_artifact(
    root: &StaticRoot,
    work: &Path,
    artifact_type: &str,
    content: &[u8],
    (subject, size): (&str, usize),
) -> String {
    let empty = b"{}";
    for blob in [&empty[..], content] {
        let path = work.join("artifact-blob");
        std::fs::write(&path, blob).expect("blob");
        let digest: Digest = sha256(blob).parse().expect("digest");
        root.put_blob_file(REPO, &digest, &path).await.expect("put blob");
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256(content), "size": content.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": size},
        "annotations": {"org.opencontainers.image.created": "2026-11-29T00:00:00Z", "org.example.kind": artifact_type},
    });
    let bytes = bytes::Bytes::from(serde_json::to_vec(&manifest).expect("json"));
    let digest = sha256(&bytes);
    root.put_manifest(REPO, &digest, "application/vnd.oci.image.manifest.v1+json", &bytes).await.expect("put manifest");
    digest
}
