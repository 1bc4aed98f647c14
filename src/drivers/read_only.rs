//! A driver for a host that serves images read-only to wharf (see [`super::hosts::read_only`]):
//! listing goes through the driver it wraps, deletes are refused with the reason, and a
//! cleanup plan keeps every tag there with that reason instead of failing on each.

use super::{Digests, Driver, DriverError, DriverInfo, PlannedTag, Result, Review, TagEntry, TagListing, UntagOutcome};
use crate::registry::Repository;

pub(crate) struct ReadOnly {
    inner: Box<dyn Driver>,
    why: &'static str,
}

impl ReadOnly {
    pub fn new(inner: Box<dyn Driver>, why: &'static str) -> Self {
        ReadOnly { inner, why }
    }

    fn refuse(&self, op: &'static str, target: String) -> DriverError {
        DriverError::Refused {
            driver: self.inner.info().name,
            op,
            target,
            code: None,
            detail: format!("read-only registry: {}", self.why),
        }
    }
}

#[async_trait::async_trait]
impl Driver for ReadOnly {
    fn info(&self) -> &'static DriverInfo {
        self.inner.info()
    }

    async fn list(&self, repo: &Repository, digests: Digests<'_>) -> Result<TagListing> {
        self.inner.list(repo, digests).await
    }

    async fn tag_digest(&self, repo: &Repository, tag: &str) -> Result<Option<crate::spec::digest::Digest>> {
        self.inner.tag_digest(repo, tag).await
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        Err(self.refuse("untag", format!("{repo}:{tag}")))
    }

    async fn review_deletions(&self, _repo: &Repository, planned: &[PlannedTag], _purge: bool) -> Result<Review> {
        let tags: Vec<String> = planned.iter().filter(|p| p.delete).map(|p| p.tag.clone()).collect();
        if tags.is_empty() {
            return Ok(Review::AsPlanned);
        }
        Ok(Review::Keep { tags, reason: format!("read-only registry: {}", self.why) })
    }

    async fn delete_repository(&self, repo: &Repository, _expected: &[TagEntry]) -> Result<()> {
        Err(self.refuse("delete a repository", repo.to_string()))
    }

    async fn ensure_repository(&self, repo: &Repository) -> Result<()> {
        self.inner.ensure_repository(repo).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DriverOptions, build, detect};
    use super::*;

    #[tokio::test]
    async fn mirrors_and_ecr_public_refuse_deletes_without_a_request() {
        let opts = DriverOptions::new(crate::registry::Client::new(Default::default()).unwrap());
        for (name, needle) in [
            ("mirror.gcr.io/library/busybox", "mirror of Docker Hub"),
            ("k8s.gcr.io/pause", "frozen"),
            ("public.ecr.aws/alias/app", "ecr-public"),
        ] {
            let repo: Repository = name.parse().unwrap();
            let info = detect(&repo.registry);
            assert_eq!(info.name, "default", "{name}");
            let driver = build(info, &opts, &repo).unwrap();
            let err = driver.untag(&repo, "v1").await.unwrap_err().to_string();
            assert!(err.contains("read-only registry") && err.contains(needle), "{err}");
            let planned = [
                PlannedTag { tag: "v1".into(), digest: crate::spec::digest::Digest::of(b"1"), delete: true },
                PlannedTag { tag: "v2".into(), digest: crate::spec::digest::Digest::of(b"2"), delete: false },
            ];
            match driver.review_deletions(&repo, &planned, false).await.unwrap() {
                Review::Keep { tags, reason } => assert!(tags == ["v1"] && reason.contains(needle), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
