//! The referrers of a static root's manifests (OCI distribution spec 1.1, "Listing
//! Referrers"), computed when a manifest is written, so a read-only server (or a plain web
//! server) can answer `GET /v2/<name>/referrers/<digest>` from files.
//!
//! A manifest (or index) with a `subject` is a referrer of that subject. When one is written
//! into a root, its descriptor goes to `v2/<repo>/_wharf/referrers/<subject>/<referrer>`, and
//! the subject's referrers index, `v2/<repo>/referrers/<subject>`, is rebuilt from every
//! descriptor kept there (under the repository lock on a directory root; on S3 the last
//! writer's listing wins and the next write for that subject heals a lost entry, as with
//! `tags/list`). The descriptor is what the spec asks for: the referrer's media type, digest
//! and size, its `artifactType` (else, for an image manifest, its config's media type) and
//! its annotations. Garbage collection keeps the referrers of every manifest it keeps and
//! drops the descriptors of the manifests it deletes ([`forget`]).

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

use super::root::{StaticError, StaticRoot};
use crate::spec::digest::Digest;
use crate::spec::manifest::{OCI_INDEX, subject_of};

/// One entry of a referrers index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What a referrer's descriptor takes from its manifest besides subject and type.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// The subject of the manifest `bytes` (written with `media_type`) and its entry in the
/// subject's referrers index; `None` when it has no subject. A subject digest that is not
/// sha256 is not recorded (wharf stores sha256 content only).
pub fn referrer_of(bytes: &[u8], media_type: &str) -> Option<(Digest, Referrer)> {
    let (subject, artifact_type) = subject_of(bytes)?;
    let fields: Fields = serde_json::from_slice(bytes).ok()?;
    let media_type = match media_type {
        "" => fields.media_type?,
        m => m.to_string(),
    };
    let referrer = Referrer {
        media_type,
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        artifact_type,
        annotations: fields.annotations,
    };
    Some((subject, referrer))
}

/// A referrers index of `referrers` (sorted by digest, so the same set gives the same bytes).
pub fn index(referrers: &[Referrer]) -> Bytes {
    let mut sorted = referrers.to_vec();
    sorted.sort_by(|a, b| a.digest.cmp(&b.digest));
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": sorted});
    Bytes::from(index.to_string())
}

/// The entries of `referrers` whose `artifactType` is `artifact_type`.
pub fn filter(referrers: Vec<Referrer>, artifact_type: &str) -> Vec<Referrer> {
    referrers.into_iter().filter(|r| r.artifact_type.as_deref() == Some(artifact_type)).collect()
}

fn index_rel(repo: &str, subject: &Digest) -> String {
    format!("v2/{repo}/referrers/{subject}")
}

fn marks_rel(repo: &str, subject: &Digest) -> String {
    format!("v2/{repo}/_wharf/referrers/{subject}")
}

/// Records the manifest `bytes` (just written as `digest` into `repo`) as a referrer of its
/// subject, if it has one.
pub async fn record(
    root: &StaticRoot,
    repo: &str,
    digest: &Digest,
    media_type: &str,
    bytes: &[u8],
) -> Result<(), StaticError> {
    let Some((subject, referrer)) = referrer_of(bytes, media_type) else { return Ok(()) };
    debug_assert_eq!(&referrer.digest, digest);
    let _lock = root.lock_repo(repo).await?;
    let mark = serde_json::to_vec(&referrer).map_err(|e| invalid(root, e.to_string()))?;
    root.write_small(&format!("{}/{digest}", marks_rel(repo, &subject)), Bytes::from(mark), "application/json").await?;
    rebuild(root, repo, &subject).await
}

/// The referrers of `subject` in `repo` (none when nothing refers to it).
pub async fn read(root: &StaticRoot, repo: &str, subject: &Digest) -> Result<Vec<Referrer>, StaticError> {
    let Some(bytes) = root.read_small(&index_rel(repo, subject), crate::spec::manifest::MAX_MANIFEST_SIZE).await?
    else {
        return Ok(Vec::new());
    };
    #[derive(serde::Deserialize)]
    struct Index {
        #[serde(default)]
        manifests: Vec<Referrer>,
    }
    let index: Index =
        serde_json::from_slice(&bytes).map_err(|e| invalid(root, format!("{}: {e}", index_rel(repo, subject))))?;
    Ok(index.manifests)
}

/// After garbage collection deleted the manifests `removed` from `repo`: their descriptors
/// leave every referrers index (an index left empty is deleted).
pub async fn forget(root: &StaticRoot, repo: &str, removed: &BTreeSet<Digest>) -> Result<(), StaticError> {
    if removed.is_empty() {
        return Ok(());
    }
    let _lock = root.lock_repo(repo).await?;
    for entry in root.list_files(&format!("v2/{repo}/referrers")).await? {
        let Ok(subject) = entry.name.parse::<Digest>() else { continue };
        let marks = root.list_files(&marks_rel(repo, &subject)).await?;
        let gone: Vec<Digest> =
            marks.iter().filter_map(|m| m.name.parse::<Digest>().ok()).filter(|d| removed.contains(d)).collect();
        if gone.is_empty() && !removed.contains(&subject) {
            continue;
        }
        for d in &gone {
            root.delete_small(&format!("{}/{d}", marks_rel(repo, &subject))).await?;
        }
        rebuild(root, repo, &subject).await?;
    }
    Ok(())
}

/// Rewrites `subject`'s referrers index from its descriptors (deletes it when none is left).
async fn rebuild(root: &StaticRoot, repo: &str, subject: &Digest) -> Result<(), StaticError> {
    let mut referrers = Vec::new();
    for mark in root.list_files(&marks_rel(repo, subject)).await? {
        let rel = format!("{}/{}", marks_rel(repo, subject), mark.name);
        let Some(bytes) = root.read_small(&rel, 1 << 20).await? else { continue };
        match serde_json::from_slice::<Referrer>(&bytes) {
            Ok(r) => referrers.push(r),
            Err(e) => tracing::warn!(root = %root, path = rel, "skipping an unreadable referrer descriptor: {e}"),
        }
    }
    match referrers.is_empty() {
        true => root.delete_small(&index_rel(repo, subject)).await,
        false => root.write_small(&index_rel(repo, subject), index(&referrers), OCI_INDEX).await,
    }
}

fn invalid(root: &StaticRoot, message: String) -> StaticError {
    StaticError::Invalid { root: root.to_string(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const CONFIG: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn artifact(artifact_type: Option<&str>, note: &str) -> Bytes {
        let mut m = serde_json::json!({
            "schemaVersion": 2, "mediaType": crate::spec::manifest::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.example.config", "digest": CONFIG, "size": 2},
            "layers": [], "subject": {"mediaType": crate::spec::manifest::OCI_MANIFEST, "digest": SUBJECT, "size": 7},
            "annotations": {"note": note},
        });
        if let Some(t) = artifact_type {
            m["artifactType"] = t.into();
        }
        Bytes::from(m.to_string())
    }

    #[test]
    fn a_referrer_is_described_as_the_spec_says() {
        let bytes = artifact(Some("application/vnd.example.sbom"), "a");
        let (subject, r) = referrer_of(&bytes, crate::spec::manifest::OCI_MANIFEST).unwrap();
        assert_eq!(subject.as_str(), SUBJECT);
        assert_eq!((r.digest, r.size), (Digest::of(&bytes), bytes.len() as u64));
        assert_eq!(r.artifact_type.as_deref(), Some("application/vnd.example.sbom"));
        assert_eq!(r.annotations.unwrap()["note"], "a");
        // No artifactType: an image manifest's config media type stands in; an index has none.
        let (_, r) = referrer_of(&artifact(None, "b"), "").unwrap();
        assert_eq!(r.artifact_type.as_deref(), Some("application/vnd.example.config"));
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "subject": {"digest": SUBJECT}});
        let (_, r) = referrer_of(index.to_string().as_bytes(), OCI_INDEX).unwrap();
        assert_eq!((r.artifact_type, r.media_type.as_str()), (None, OCI_INDEX));
        assert!(referrer_of(br#"{"schemaVersion":2,"layers":[]}"#, "").is_none(), "no subject, no referrer");
    }

    #[tokio::test]
    async fn referrers_are_recorded_filtered_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let root = StaticRoot::dir(dir.path());
        let subject: Digest = SUBJECT.parse().unwrap();
        let (sbom, sig) =
            (artifact(Some("application/vnd.example.sbom"), "1"), artifact(Some("application/vnd.example.sig"), "2"));
        for m in [&sbom, &sig] {
            root.put_manifest("a", Digest::of(m).as_str(), crate::spec::manifest::OCI_MANIFEST, m).await.unwrap();
        }
        let all = read(&root, "a", &subject).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(filter(all.clone(), "application/vnd.example.sig")[0].digest, Digest::of(&sig));
        assert!(read(&root, "a", &Digest::of(b"nothing")).await.unwrap().is_empty());
        root.put_manifest("a", Digest::of(&sig).as_str(), crate::spec::manifest::OCI_MANIFEST, &sig).await.unwrap();
        assert_eq!(read(&root, "a", &subject).await.unwrap().len(), 2, "writing a referrer again adds no entry");
        forget(&root, "a", &BTreeSet::from([Digest::of(&sbom)])).await.unwrap();
        assert_eq!(read(&root, "a", &subject).await.unwrap(), filter(all, "application/vnd.example.sig"));
        forget(&root, "a", &BTreeSet::from([Digest::of(&sig)])).await.unwrap();
        assert!(!dir.path().join(format!("v2/a/referrers/{SUBJECT}")).exists(), "an empty index is deleted");
    }
}
