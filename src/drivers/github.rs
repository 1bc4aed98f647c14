//! The `github` driver: GitHub's REST packages API for ghcr.io (and docker.pkg.github.com,
//! GitHub Enterprise Server with `--api-url https://HOST/api/v3`).
//!
//! - Versions: see [`super::github_packages`] (where packages live, listing once per run). A
//!   version's `name` is its manifest digest; a version named otherwise is reported as broken.
//! - Untag: GitHub deletes versions, with all their tags. When the tag is the version's last,
//!   the version is read again (it may have gained a tag since it was listed) and deleted;
//!   otherwise the tag moves to a throwaway manifest through the distribution API (the registry
//!   login for ghcr.io) and that new version is deleted, so the other tags stay. GraphQL
//!   deletion is deprecated for containers and is not used.
//! - GitHub refuses to delete the last tagged version of a package (HTTP 400, "You cannot
//!   delete the last tagged version of a package. You must delete the package instead.", as
//!   reported in actions/delete-package-versions#231). So a cleanup plan that would delete every
//!   tag keeps the newest version, with that reason ([`Driver::review_deletions`]), and under
//!   `--purge` deletes the package as a whole (`DELETE …/packages/{type}/{name}`) after checking
//!   that it holds exactly the tags the plan saw.
//! - Auth: `Authorization: Bearer TOKEN` (`--github-token` / `GITHUB_TOKEN`) with
//!   `read:packages` and `delete:packages`; the Actions `GITHUB_TOKEN` can delete only packages
//!   linked to its repository with admin access granted to that repository.
//! - Rate limits: a 403 or 429 with `x-ratelimit-remaining: 0` or `retry-after` is waited out
//!   (see [`super::rate_limit`]), not reported as a permission failure.

use super::api::Api;
use super::default::{DefaultDriver, fallback};
use super::error::target;
use super::github_packages::{Listing, Packages, Version};
use super::settings::{API_URL, Setting};
use super::{
    ApiBase, BrokenTag, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, PlannedTag,
    Result, Review, TagEntry, TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::Repository;
use crate::spec::digest::Digest;
use std::collections::BTreeSet;

/// What GitHub refuses, as the plan and errors say it.
const LAST_TAGGED: &str = "GitHub refuses to delete the last tagged version of a package";

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "github",
    title: "GitHub Container Registry",
    hosts: "`ghcr.io`, `docker.pkg.github.com`",
    matches: super::hosts::github,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::VersionOrThrowaway,
        native_list: true,
        delete_repository: true,
    },
    needs: "a token (--github-token / GITHUB_TOKEN) with read:packages and delete:packages, plus a ghcr.io login with write:packages for the throwaway manifest; the Actions GITHUB_TOKEN can delete only packages linked to its own repository (package settings → Manage Actions access → Admin)",
    docs: "https://docs.github.com/en/rest/packages/packages",
    settings: &[API_URL, TOKEN],
    api: ApiBase::Vendor("https://api.github.com"),
    login: None,
    new: |opts, repo| Ok(Box::new(GithubDriver::new(opts, repo)?)),
};

const TOKEN: Setting = Setting::secret(
    "github-token",
    "GITHUB_TOKEN",
    "GitHub token for the packages API (needs read:packages, and delete:packages to remove tags).",
);

pub struct GithubDriver {
    packages: Packages,
    fallback: DefaultDriver,
}

impl GithubDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        let api = Api::new(&INFO, opts.client.options())?;
        Ok(GithubDriver {
            packages: Packages::new(api, base, opts.settings.secret(&TOKEN).cloned()),
            fallback: fallback(opts, &INFO),
        })
    }

    fn refused(&self, op: &'static str, tgt: String, detail: String) -> DriverError {
        DriverError::Refused { driver: INFO.name, op, target: tgt, code: None, detail }
    }

    /// Deletes version `v` whose last tag is `tag`, after reading it again: a tag added since
    /// the listing would go with it, so then the throwaway route is taken instead.
    async fn delete_last_tag(
        &self,
        repo: &Repository,
        tag: &str,
        listing: &Listing,
        v: &Version,
        digest: Digest,
    ) -> Result<UntagOutcome> {
        let (op, tgt) = ("untag", target(repo, Some(tag)));
        let not_found = || DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() };
        let now = self.packages.version(listing, v.id, op, &tgt).await?.ok_or_else(not_found)?;
        self.packages.refreshed(listing, &now);
        if !now.tags().iter().any(|t| t == tag) {
            return Err(not_found());
        }
        if now.tags() != [tag] {
            return self.via_throwaway(repo, tag, listing, &now, digest).await;
        }
        let others_tagged = |l: &Listing| l.versions.iter().any(|o| o.id != v.id && !o.tags().is_empty());
        // The kept copy may predate a push: only a fresh listing decides a refusal.
        if !others_tagged(listing) && !self.packages.listing(repo, op, true).await?.is_some_and(|l| others_tagged(&l)) {
            return Err(self.refused(op, tgt, format!(
                "{LAST_TAGGED}; {tag} is the only tag left on it\n  hint: delete the package instead (`wharf cleanup --purge` deletes whole packages, or the package settings on GitHub)"
            )));
        }
        match self.packages.delete_version(listing, v.id, "delete package version", &tgt).await {
            Err(e) if e.status() == Some(400) => Err(self.refused(op, tgt, format!(
                "GitHub answered 400 to the version delete ({e}); if it is the last tagged version of the package, delete the package instead (`wharf cleanup --purge`)"
            ))),
            Err(e) => Err(e),
            Ok(()) => Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::LastTagVersion }),
        }
    }

    /// Other tags share the version: the tag moves away, then the throwaway's version goes.
    /// The original manifest is fetched first, so the tag can be put back if the delete fails.
    async fn via_throwaway(
        &self,
        repo: &Repository,
        tag: &str,
        listing: &Listing,
        v: &Version,
        digest: Digest,
    ) -> Result<UntagOutcome> {
        let tgt = target(repo, Some(tag));
        let manifest = self.fallback.manifest(repo, &digest).await?;
        let throwaway = self.fallback.move_to_throwaway(repo, tag).await?;
        let Some(new) = self.packages.find(listing, throwaway.as_str(), "untag", &tgt).await? else {
            return Err(self.refused("untag", tgt, format!(
                "the tag was moved to a throwaway manifest {throwaway}, but GitHub lists no version for it yet; \
                 {digest} and its other tags are untouched\n  hint: run the command again to delete the throwaway version"
            )));
        };
        if let Err(e) = self.packages.delete_version(listing, new.id, "delete package version", &tgt).await {
            let restored = self.fallback.restore(repo, tag, &digest, manifest).await;
            tracing::warn!(%repo, tag, %throwaway, "deleting the throwaway version failed; {restored}");
            return Err(e);
        }
        self.packages.untagged(listing, v.id, tag);
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::ThrowawayManifest })
    }
}

/// Tags with digests, and the tags of versions not named by a digest (unsorted).
fn entries(versions: &[Version]) -> (Vec<TagEntry>, Vec<BrokenTag>) {
    let (mut ok, mut broken) = (Vec::new(), Vec::new());
    for v in versions {
        match v.name.parse::<Digest>() {
            Ok(d) => ok.extend(v.tags().iter().map(|t| TagEntry::new(t.clone(), d.clone()))),
            Err(_) => broken.extend(v.tags().iter().map(|t| BrokenTag {
                tag: t.clone(),
                problem: format!("GitHub names its version {:?}, not a digest", v.name),
            })),
        }
    }
    (ok, broken)
}

#[async_trait::async_trait]
impl Driver for GithubDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let listing = self.packages.listing(repo, "list tags", true).await?;
        let (tags, broken) = listing.map(|l| entries(&l.versions)).unwrap_or_default();
        Ok(TagListing::sorted(tags, broken))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let not_found = || DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() };
        let listing = self.packages.listing(repo, "untag", false).await?.ok_or_else(not_found)?;
        let version = listing.versions.iter().find(|v| v.tags().iter().any(|t| t == tag)).ok_or_else(not_found)?;
        let digest: Digest = version.name.parse().map_err(|_| {
            self.packages.api.protocol(
                "untag",
                &target(repo, Some(tag)),
                format!("version {} is named {:?}, not a digest", version.id, version.name),
            )
        })?;
        if version.tags() == [tag] {
            return self.delete_last_tag(repo, tag, &listing, version, digest).await;
        }
        self.via_throwaway(repo, tag, &listing, version, digest).await
    }

    async fn review_deletions(&self, repo: &Repository, planned: &[PlannedTag], purge: bool) -> Result<Review> {
        if planned.is_empty() || planned.iter().any(|p| !p.delete) {
            return Ok(Review::AsPlanned);
        }
        if purge {
            return Ok(Review::DeleteRepository {
                reason: format!("{LAST_TAGGED}: --purge deletes the package as a whole"),
            });
        }
        // Every tag would go: keep the newest version's (by GitHub's created_at).
        let digests: BTreeSet<&str> = planned.iter().map(|p| p.digest.as_str()).collect();
        let listing = self.packages.listing(repo, "review the plan", false).await?;
        let newest = listing
            .iter()
            .flat_map(|l| l.versions.iter())
            .filter(|v| digests.contains(v.name.as_str()))
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
            .map_or_else(|| planned[0].digest.to_string(), |v| v.name.clone());
        let tags = planned.iter().filter(|p| p.digest.as_str() == newest).map(|p| p.tag.clone()).collect();
        Ok(Review::Keep {
            tags,
            reason: format!("{LAST_TAGGED}: the newest version stays (--purge deletes the whole package)"),
        })
    }

    async fn delete_repository(&self, repo: &Repository, expected: &[TagEntry]) -> Result<()> {
        let (op, tgt) = ("delete package", repo.to_string());
        let Some(listing) = self.packages.listing(repo, op, true).await? else { return Ok(()) };
        let (found, broken) = entries(&listing.versions);
        let TagListing { tags: found, broken, .. } = TagListing::sorted(found, broken);
        let expected: BTreeSet<&TagEntry> = expected.iter().collect();
        let unseen: Vec<String> = found
            .iter()
            .filter(|e| !expected.contains(e))
            .map(|e| e.tag.clone())
            .chain(broken.into_iter().map(|b| b.tag))
            .collect();
        if !unseen.is_empty() {
            return Err(self.refused(op, tgt, format!(
                "the package changed since the plan was made ({} now tagged or moved); nothing was deleted\n  hint: make the plan again",
                unseen.join(", ")
            )));
        }
        self.packages.delete_package(&listing, op, &tgt).await
    }
}
