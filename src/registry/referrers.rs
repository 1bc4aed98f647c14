//! The referrers of a manifest (signatures, SBOMs, attestations, any artifact whose `subject`
//! names it), as distribution spec 1.1 defines them: `GET /v2/<name>/referrers/<digest>`
//! answers an image index of their descriptors, filtered by `artifactType` when asked (the
//! `OCI-Filters-Applied` header says whether the registry filtered). A registry without the
//! API (404 there) keeps them under the *referrers tag schema*: an index tagged
//! `<alg>-<hex>` of the subject's digest, which the client that pushes a referrer maintains.

use reqwest::Method;
use reqwest::header::ACCEPT;

use crate::registry::client::{Client, read_capped};
use crate::registry::error::{RegistryError, Result};
use crate::registry::transport::status_error;
use crate::spec::Digest;
use crate::spec::manifest::{Descriptor, MAX_MANIFEST_SIZE, OCI_INDEX};
use crate::spec::reference::Repository;

/// The tag of the referrers tag schema for `subject`: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    subject.as_str().replacen(':', "-", 1)
}

#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The referrers, and whether they came from the referrers API (`false`: the tag schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrers {
    pub descriptors: Vec<Descriptor>,
    pub from_api: bool,
}

impl Client {
    /// Every referrer of `subject` in `repo` (of `artifact_type` when given): through the
    /// referrers API, else through the tag schema; none when neither has any.
    pub async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let mut path = format!("/v2/{}/referrers/{subject}", repo.path);
        if let Some(t) = artifact_type {
            path.push_str(&format!(
                "?artifactType={}",
                url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ));
        }
        let req = self.repo_req("list referrers", repo, Method::GET, path, "pull").header(ACCEPT, OCI_INDEX)?;
        let resp = self.send(&req).await?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            let filtered = resp
                .headers()
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let body = read_capped(&req.ctx, resp, MAX_MANIFEST_SIZE, "the referrers index").await?;
            let index: Index = serde_json::from_slice(&body).map_err(|e| {
                RegistryError::protocol(&req.ctx, format!("the referrers index is not valid JSON: {e}"))
            })?;
            let descriptors = if filtered { index.manifests } else { keep_type(index.manifests, artifact_type) };
            return Ok(Referrers { descriptors, from_api: true });
        }
        if status != 404 && status != 405 {
            return Err(status_error(&req.ctx, resp, None).await);
        }
        let descriptors = match self.get_manifest(repo, &fallback_tag(subject)).await {
            Ok((bytes, _, _)) => serde_json::from_slice::<Index>(&bytes).map(|i| i.manifests).unwrap_or_default(),
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Referrers { descriptors: keep_type(descriptors, artifact_type), from_api: false })
    }

    /// Adds `referrer` to the tag-schema index of `subject` (for registries without the
    /// referrers API; distribution spec 1.1, "Pushing Manifests with Subject").
    pub async fn add_fallback_referrer(&self, repo: &Repository, subject: &Digest, referrer: Descriptor) -> Result<()> {
        let tag = fallback_tag(subject);
        let mut manifests = match self.get_manifest(repo, &tag).await {
            Ok((bytes, _, _)) => serde_json::from_slice::<Index>(&bytes).map(|i| i.manifests).unwrap_or_default(),
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        if manifests.iter().any(|m| m.digest == referrer.digest) {
            return Ok(());
        }
        manifests.push(referrer);
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.put_manifest(repo, &tag, OCI_INDEX, bytes::Bytes::from(index.to_string())).await?;
        Ok(())
    }
}

fn keep_type(descriptors: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    match artifact_type {
        Some(t) => descriptors.into_iter().filter(|d| d.artifact_type.as_deref() == Some(t)).collect(),
        None => descriptors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_tag_is_the_digest_with_a_dash() {
        let d = Digest::of(b"x");
        assert_eq!(fallback_tag(&d), format!("sha256-{}", d.hex()));
        crate::registry::validate_tag(&fallback_tag(&d)).unwrap();
    }

    #[test]
    fn subjects_and_their_artifact_type_are_read() {
        use crate::spec::manifest::subject_of;
        let d = Digest::of(b"subject");
        let m = serde_json::json!({"schemaVersion": 2, "artifactType": "application/spdx+json", "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.as_str(), "size": 10}});
        assert_eq!(subject_of(m.to_string().as_bytes()), Some((d.clone(), Some("application/spdx+json".into()))));
        let by_config = serde_json::json!({"schemaVersion": 2, "artifactType": "", "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": d.as_str(), "size": 2}, "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.as_str(), "size": 10}});
        assert_eq!(
            subject_of(by_config.to_string().as_bytes()),
            Some((d, Some("application/vnd.cncf.helm.config.v1+json".into())))
        );
        assert_eq!(subject_of(b"{}"), None);
    }
}
