//! The `github` driver: GitHub's REST packages API for ghcr.io.
//!
//! - Versions: `GET {api}/orgs/{owner}/packages/container/{package}/versions?per_page=100`
//!   (`/users/{owner}/…` when the owner is a user), following `Link: rel="next"`. A version's
//!   `name` is its manifest digest, its tags are in `metadata.container.tags`. Package names
//!   holding `/` are URL-encoded (`a%2Fb`).
//! - Untag: GitHub deletes versions, with all their tags. When the tag is the version's last,
//!   `DELETE …/versions/{id}`; otherwise the tag moves to a throwaway manifest through the
//!   distribution API (the registry login for ghcr.io) and that new version is deleted, so the
//!   other tags stay. GraphQL deletion is deprecated for containers and is not used.
//! - Auth: `Authorization: Bearer TOKEN` (`--github-token` / `GITHUB_TOKEN`) with
//!   `read:packages` and `delete:packages`; the Actions `GITHUB_TOKEN` can delete only packages
//!   linked to its repository with admin access granted to that repository.

use super::api::{Api, Repeat, bearer, encode, join, same_origin};
use super::default::{DefaultDriver, fallback};
use super::error::target;
use super::{Capabilities, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry, UntagMethod, UntagOutcome, UntagSemantics};
use crate::digest::Digest;
use crate::registry::{Repository, next_link};
use crate::secret::Secret;
use reqwest::header::{ACCEPT, LINK};
use tokio::sync::OnceCell;

pub const DEFAULT_API: &str = "https://api.github.com";

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
    },
    needs: "a token (--github-token / GITHUB_TOKEN) with read:packages and delete:packages, plus a ghcr.io login with write:packages for the throwaway manifest; the Actions GITHUB_TOKEN can delete only packages linked to its own repository (package settings → Manage Actions access → Admin)",
    docs: "https://docs.github.com/en/rest/packages/packages",
    new: |opts, _| Ok(Box::new(GithubDriver::new(opts)?)),
};

pub struct GithubDriver {
    api: Api,
    base: url::Url,
    token: Option<Secret>,
    fallback: DefaultDriver,
    /// `orgs` or `users`, found once per owner.
    owner_kind: OnceCell<&'static str>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Version {
    id: u64,
    name: String,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    container: Option<Container>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Container {
    #[serde(default)]
    tags: Vec<String>,
}

impl Version {
    fn tags(&self) -> &[String] {
        self.metadata.as_ref().and_then(|m| m.container.as_ref()).map_or(&[], |c| &c.tags)
    }
}

impl GithubDriver {
    pub fn new(opts: &DriverOptions) -> Result<Self> {
        let base = opts.api_url.clone().unwrap_or_else(|| url::Url::parse(DEFAULT_API).expect("static URL"));
        Ok(GithubDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            token: opts.tokens.github.clone(),
            fallback: fallback(opts, &INFO),
            owner_kind: OnceCell::new(),
        })
    }

    fn request(&self, builder: reqwest::RequestBuilder, token: &Secret) -> reqwest::RequestBuilder {
        let builder = builder.header(ACCEPT, "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28");
        bearer(builder, Some(token))
    }

    /// `(owner, package)`: the first path component, and the rest encoded as one segment.
    fn split(&self, repo: &Repository, op: &'static str) -> Result<(String, String)> {
        match repo.path.split_once('/') {
            Some((owner, package)) => Ok((encode(owner), encode(package))),
            None => Err(self.api.protocol(op, &repo.to_string(), "GitHub packages are named OWNER/PACKAGE")),
        }
    }

    fn token(&self, op: &'static str, tgt: &str) -> Result<&Secret> {
        self.token.as_ref().ok_or_else(|| self.api.missing_credential(op, tgt))
    }

    /// Every version of the package, or `None` when there is no such package.
    async fn versions(&self, repo: &Repository, op: &'static str) -> Result<Option<(String, Vec<Version>)>> {
        let tgt = repo.to_string();
        let token = self.token(op, &tgt)?;
        let (owner, package) = self.split(repo, op)?;
        let kinds: Vec<&'static str> = match self.owner_kind.get() {
            Some(k) => vec![k],
            None => vec!["orgs", "users"],
        };
        for kind in kinds {
            let prefix = format!("/{kind}/{owner}/packages/container/{package}/versions");
            let mut url = join(&self.base, &format!("{prefix}?per_page=100"));
            let mut versions = Vec::new();
            let mut found = true;
            let mut seen = std::collections::HashSet::new();
            loop {
                let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| self.request(h.get(&url), token)).await?;
                if resp.status().as_u16() == 404 {
                    found = false;
                    break;
                }
                let next = resp.headers().get_all(LINK).iter().filter_map(|v| v.to_str().ok()).find_map(next_link);
                let page: Vec<Version> = self.api.json(op, &tgt, resp).await?;
                versions.extend(page);
                match next {
                    Some(n) if same_origin(&self.base, &n) && seen.insert(n.clone()) => url = n,
                    _ => break,
                }
            }
            if found {
                let _ = self.owner_kind.set(kind);
                return Ok(Some((prefix, versions)));
            }
        }
        Ok(None)
    }

    async fn delete_version(&self, repo: &Repository, tag: &str, prefix: &str, id: u64) -> Result<()> {
        let (op, tgt) = ("delete package version", target(repo, Some(tag)));
        let token = self.token(op, &tgt)?;
        let url = join(&self.base, &format!("{prefix}/{id}"));
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| self.request(h.delete(&url), token)).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Driver for GithubDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list_tags(&self, repo: &Repository) -> Result<Vec<TagEntry>> {
        let Some((_, versions)) = self.versions(repo, "list tags").await? else { return Ok(Vec::new()) };
        let mut entries = Vec::new();
        for v in &versions {
            let Ok(digest) = v.name.parse::<Digest>() else { continue };
            entries.extend(v.tags().iter().map(|t| TagEntry::new(t.clone(), digest.clone())));
        }
        entries.sort();
        Ok(entries)
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let not_found = || DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() };
        let (prefix, versions) = self.versions(repo, "untag").await?.ok_or_else(not_found)?;
        let version = versions.iter().find(|v| v.tags().iter().any(|t| t == tag)).ok_or_else(not_found)?;
        let digest: Digest = version
            .name
            .parse()
            .map_err(|_| self.api.protocol("untag", &target(repo, Some(tag)), format!("version {} is named {:?}, not a digest", version.id, version.name)))?;
        if version.tags() == [tag] {
            self.delete_version(repo, tag, &prefix, version.id).await?;
            return Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::LastTagVersion });
        }
        // Other tags share the version: move this one away, then delete the throwaway's version.
        // The original manifest is fetched first, so the tag can be put back if the delete fails.
        let manifest = self.fallback.manifest(repo, &digest).await?;
        let throwaway = self.fallback.move_to_throwaway(repo, tag).await?;
        let (_, versions) = self.versions(repo, "untag").await?.ok_or_else(not_found)?;
        let Some(new) = versions.iter().find(|v| v.name == throwaway.as_str()) else {
            return Err(DriverError::Refused {
                driver: INFO.name,
                op: "untag",
                target: target(repo, Some(tag)),
                code: None,
                detail: format!(
                    "the tag was moved to a throwaway manifest {throwaway}, but GitHub lists no version for it yet; \
                     {digest} and its other tags are untouched\n  hint: run the command again to delete the throwaway version"
                ),
            });
        };
        if let Err(e) = self.delete_version(repo, tag, &prefix, new.id).await {
            let restored = self.fallback.restore(repo, tag, &digest, manifest).await;
            tracing::warn!(%repo, tag, %throwaway, "deleting the throwaway version failed; {restored}");
            return Err(e);
        }
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::ThrowawayManifest })
    }
}
