//! The `dockerhub` driver: Docker Hub's own API for listing and single-tag deletes.
//!
//! - Auth: `POST {api}/v2/auth/token` with `{"identifier": USER, "secret": PASSWORD_OR_PAT}`
//!   answers `{"access_token": …}`, sent as `Authorization: Bearer`. The credential is the
//!   registry login for `docker.io` (flags or docker's config). Personal access tokens need the
//!   Delete scope ("Read, Write, Delete") to delete tags.
//! - List: `GET {api}/v2/namespaces/{ns}/repositories/{repo}/tags?page_size=100`, following
//!   `next` (only on the API's own origin). No pull-rate-limited manifest HEADs.
//! - Untag: `DELETE {api}/v2/repositories/{ns}/{repo}/tags/{tag}/`: removes only that tag.

use super::api::{Api, Repeat, bearer, encode, join, same_origin};
use super::error::target;
use super::{Capabilities, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry, UntagMethod, UntagOutcome, UntagSemantics};
use crate::registry::reference::DOCKER_HUB;
use crate::registry::{Client, Credential, Repository};
use crate::secret::Secret;
use tokio::sync::OnceCell;

/// Docker Hub's API.
pub const DEFAULT_API: &str = "https://hub.docker.com";

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "dockerhub",
    title: "Docker Hub",
    hosts: "`docker.io`, `index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`, bare `account/repo`",
    matches: super::hosts::dockerhub,
    capabilities: Capabilities {
        nesting: Nesting::AccountRepository,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
    },
    needs: "a Docker Hub login (`docker login`, or --username with --password-stdin); a personal access token needs the Delete scope (\"Read, Write, Delete\") to remove tags",
    docs: "https://docs.docker.com/reference/api/hub/latest/",
    new: |opts, _| Ok(Box::new(DockerHubDriver::new(opts)?)),
};

pub struct DockerHubDriver {
    api: Api,
    base: url::Url,
    client: Client,
    token: OnceCell<Secret>,
}

#[derive(serde::Deserialize)]
struct TokenReply {
    access_token: Option<Secret>,
    token: Option<Secret>,
}

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    results: Vec<HubTag>,
}

#[derive(serde::Deserialize)]
struct HubTag {
    name: String,
    #[serde(default)]
    digest: Option<String>,
}

impl DockerHubDriver {
    pub fn new(opts: &DriverOptions) -> Result<Self> {
        let base = opts.api_url.clone().unwrap_or_else(|| url::Url::parse(DEFAULT_API).expect("static URL"));
        Ok(DockerHubDriver { api: Api::new(&INFO, opts.client.options())?, base, client: opts.client.clone(), token: OnceCell::new() })
    }

    /// `(namespace, repository)` of a Docker Hub path.
    fn split<'a>(&self, repo: &'a Repository, op: &'static str) -> Result<(&'a str, &'a str)> {
        match repo.path.split_once('/') {
            Some((ns, name)) if !name.contains('/') => Ok((ns, name)),
            _ => Err(self.api.protocol(op, &repo.to_string(), "Docker Hub repositories are named account/repository")),
        }
    }

    /// A bearer token from the Hub login, fetched once; `None` without credentials.
    async fn token(&self, op: &'static str, target: &str) -> Result<Option<&Secret>> {
        let resolved = self.client.options().credentials.resolve(DOCKER_HUB).await.map_err(|e| DriverError::registry(&INFO, e))?;
        let Some(Credential::Basic { username, password }) = resolved.map(|r| r.credential) else {
            return Ok(None);
        };
        let token = self
            .token
            .get_or_try_init(|| async {
                let url = join(&self.base, "/v2/auth/token");
                let body = serde_json::json!({"identifier": username, "secret": password.expose()});
                let resp = self.api.send(op, target, Repeat::Safe, false, |h| h.post(&url).json(&body)).await?;
                let reply: TokenReply = self.api.json(op, target, resp).await?;
                reply.access_token.or(reply.token).ok_or_else(|| self.api.protocol(op, target, "the token answer has no access_token"))
            })
            .await?;
        Ok(Some(token))
    }
}

#[async_trait::async_trait]
impl Driver for DockerHubDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list_tags(&self, repo: &Repository) -> Result<Vec<TagEntry>> {
        let (op, tgt) = ("list tags", repo.to_string());
        let (ns, name) = self.split(repo, op)?;
        let token = self.token(op, &tgt).await?;
        let mut url = join(&self.base, &format!("/v2/namespaces/{}/repositories/{}/tags?page_size=100", encode(ns), encode(name)));
        let (mut entries, mut seen) = (Vec::new(), std::collections::HashSet::new());
        loop {
            let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), token)).await?;
            if resp.status().as_u16() == 404 {
                return Ok(Vec::new());
            }
            let page: TagPage = self.api.json(op, &tgt, resp).await?;
            for t in page.results {
                match t.digest.as_deref().map(str::parse) {
                    Some(Ok(d)) => entries.push(TagEntry::new(t.name, d)),
                    _ => tracing::warn!(repo = %repo, tag = t.name, "Docker Hub lists no digest for this tag; skipped"),
                }
            }
            match page.next.filter(|n| !n.is_empty()) {
                Some(next) if same_origin(&self.base, &next) && seen.insert(next.clone()) => url = next,
                Some(next) if !same_origin(&self.base, &next) => {
                    return Err(self.api.protocol(op, &tgt, format!("pagination points at another host: {next}")));
                }
                _ => break,
            }
        }
        entries.sort();
        Ok(entries)
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        let (ns, name) = self.split(repo, op)?;
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let token = self.token(op, &tgt).await?.ok_or_else(|| self.api.missing_credential(op, &tgt))?;
        let url = join(&self.base, &format!("/v2/namespaces/{}/repositories/{}/tags/{}", encode(ns), encode(name), encode(tag)));
        let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), Some(token))).await?;
        if resp.status().as_u16() == 404 {
            return Err(DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() });
        }
        let current: HubTag = self.api.json(op, &tgt, resp).await?;
        let digest = current
            .digest
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.api.protocol(op, &tgt, "Docker Hub gives no digest for the tag"))?;
        let url = join(&self.base, &format!("/v2/repositories/{}/{}/tags/{}/", encode(ns), encode(name), encode(tag)));
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| bearer(h.delete(&url), Some(token))).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}
