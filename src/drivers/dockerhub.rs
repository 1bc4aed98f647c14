//! The `dockerhub` driver: Docker Hub's own API for listing and single-tag deletes.
//!
//! - Auth: `POST {api}/v2/auth/token` with `{"identifier": USER, "secret": PASSWORD_OR_PAT}`
//!   answers `{"access_token": …}`, sent as `Authorization: Bearer`. The credential is the
//!   registry login for `docker.io` (flags or docker's config). Personal access tokens need the
//!   Delete scope ("Read, Write, Delete") to delete tags. The access token "expires in 10
//!   minutes" (AuthCreateTokenResponse in <https://docs.docker.com/reference/api/hub/latest/>):
//!   it is fetched again before then (its JWT `exp` when readable), and once after a 401.
//! - List: `GET {api}/v2/namespaces/{ns}/repositories/{repo}/tags?page_size=100`, following
//!   `next` (only on the API's own origin). No pull-rate-limited manifest HEADs. A tag listed
//!   without a digest is reported as a broken tag, never silently left out; a 404 after the
//!   first page is an error.
//! - Untag: `DELETE {api}/v2/repositories/{ns}/{repo}/tags/{tag}/`: removes only that tag.
//! - Rate limits: 429 with `Retry-After` or `X-Retry-After` (see [`super::rate_limit`]).

use super::api::{Api, Repeat, bearer, encode, join};
use super::error::target;
use super::pages::Pages;
use super::settings::API_URL;
use super::token_cache::{TokenCache, jwt_lifetime};
use super::{
    ApiBase, BrokenTag, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result,
    TagEntry, TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Client, Credential, Repository};
use crate::secret::Secret;
use crate::spec::reference::DOCKER_HUB;
use reqwest::Response;
use std::time::Duration;

/// The access token's lifetime when it does not say (Docker's API reference).
const TOKEN_LIFETIME: Duration = Duration::from_secs(600);

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
        delete_repository: false,
    },
    needs: "a Docker Hub login (`docker login`, or --username with --password-stdin); a personal access token needs the Delete scope (\"Read, Write, Delete\") to remove tags",
    docs: "https://docs.docker.com/reference/api/hub/latest/",
    settings: &[API_URL],
    api: ApiBase::Vendor("https://hub.docker.com"),
    login: None,
    new: |opts, repo| Ok(Box::new(DockerHubDriver::new(opts, repo)?)),
};

pub struct DockerHubDriver {
    api: Api,
    base: url::Url,
    client: Client,
    token: TokenCache,
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
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        Ok(DockerHubDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            client: opts.client.clone(),
            token: TokenCache::default(),
        })
    }

    /// `(namespace, repository)` of a Docker Hub path.
    fn split<'a>(&self, repo: &'a Repository, op: &'static str) -> Result<(&'a str, &'a str)> {
        match repo.path.split_once('/') {
            Some((ns, name)) if !name.contains('/') => Ok((ns, name)),
            _ => Err(self.api.protocol(op, &repo.to_string(), "Docker Hub repositories are named account/repository")),
        }
    }

    /// A bearer token from the Hub login, fresh enough to use; `None` without credentials.
    async fn token(&self, op: &'static str, target: &str) -> Result<Option<Secret>> {
        let resolved =
            self.client.options().credentials.resolve(DOCKER_HUB).await.map_err(|e| DriverError::registry(&INFO, e))?;
        let Some(Credential::Basic { username, password }) = resolved.map(|r| r.credential) else {
            return Ok(None);
        };
        let token = self
            .token
            .get(|| async {
                let url = join(&self.base, "/v2/auth/token");
                let body = serde_json::json!({"identifier": username, "secret": password.expose()});
                let resp = self.api.send(op, target, Repeat::Safe, false, |h| h.post(&url).json(&body)).await?;
                let reply: TokenReply = self.api.json(op, target, resp).await?;
                let token = reply
                    .access_token
                    .or(reply.token)
                    .ok_or_else(|| self.api.protocol(op, target, "the token answer has no access_token"))?;
                let lifetime = jwt_lifetime(token.expose()).unwrap_or(TOKEN_LIFETIME);
                Ok((token, Some(lifetime)))
            })
            .await?;
        Ok(Some(token))
    }

    /// Sends an API request with the Hub token; after a 401 (the token expired or was
    /// revoked early) gets a new token and tries once more. `required`: no login is an error.
    async fn send(
        &self,
        op: &'static str,
        tgt: &str,
        repeat: Repeat,
        allow_404: bool,
        required: bool,
        build: impl Fn(&reqwest::Client, Option<&Secret>) -> reqwest::RequestBuilder,
    ) -> Result<Response> {
        let token = self.token(op, tgt).await?;
        if required && token.is_none() {
            return Err(self.api.missing_credential(op, tgt));
        }
        match (self.api.send(op, tgt, repeat, allow_404, |h| build(h, token.as_ref())).await, &token) {
            (Err(e), Some(used)) if e.status() == Some(401) => {
                self.token.invalidate(used).await;
                let token = self.token(op, tgt).await?;
                self.api.send(op, tgt, repeat, allow_404, |h| build(h, token.as_ref())).await
            }
            (other, _) => other,
        }
    }

    /// Every tag with its digest, and the tags listed without one.
    async fn list(&self, repo: &Repository) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let (ns, name) = self.split(repo, op)?;
        let first = join(
            &self.base,
            &format!("/v2/namespaces/{}/repositories/{}/tags?page_size=100", encode(ns), encode(name)),
        );
        let mut pages = Pages::new(&self.api, op, &tgt, &self.base, "the tags", first);
        let (mut entries, mut broken) = (Vec::new(), Vec::new());
        while let Some(url) = pages.next_page() {
            let resp = self.send(op, &tgt, Repeat::Safe, true, false, |h, t| bearer(h.get(&url), t)).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                tracing::warn!(%repo, "Docker Hub answers 404: no such repository, or a private one the login cannot see");
                break;
            }
            let p: TagPage = self.api.json(op, &tgt, resp).await?;
            for t in p.results {
                match t.digest.as_deref().map(str::parse) {
                    Some(Ok(d)) => entries.push(TagEntry::new(t.name, d)),
                    _ => {
                        tracing::warn!(repo = %repo, tag = t.name, "Docker Hub lists this tag without a digest; reported as broken and left alone");
                        broken.push(BrokenTag { tag: t.name, problem: "Docker Hub lists this tag without a digest (an image it cannot describe, e.g. a legacy schema 1 manifest)".into() });
                    }
                }
            }
            pages.follow(p.next)?;
        }
        Ok(TagListing::sorted(entries, broken))
    }
}

#[async_trait::async_trait]
impl Driver for DockerHubDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    /// The login must get a Hub API token (`POST /v2/auth/token`), as listing and deleting will.
    async fn check_login(&self) -> Result<()> {
        let (op, tgt) = ("log in", "Docker Hub");
        match self.token(op, tgt).await? {
            Some(_) => Ok(()),
            None => Err(self.api.missing_credential(op, tgt)),
        }
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        DockerHubDriver::list(self, repo).await
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        let (ns, name) = self.split(repo, op)?;
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let url = join(
            &self.base,
            &format!("/v2/namespaces/{}/repositories/{}/tags/{}", encode(ns), encode(name), encode(tag)),
        );
        let resp = self.send(op, &tgt, Repeat::Safe, true, true, |h, t| bearer(h.get(&url), t)).await?;
        if resp.status().as_u16() == 404 {
            return Err(DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() });
        }
        let current: HubTag = self.api.json(op, &tgt, resp).await?;
        let digest = current
            .digest
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.api.protocol(op, &tgt, "Docker Hub gives no digest for the tag"))?;
        let url = join(&self.base, &format!("/v2/repositories/{}/{}/tags/{}/", encode(ns), encode(name), encode(tag)));
        self.send(op, &tgt, Repeat::OnStatusOnly, false, true, |h, t| bearer(h.delete(&url), t)).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}
