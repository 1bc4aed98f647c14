//! The `quay` driver: Quay's v1 API (quay.io and self-hosted Quay).
//!
//! - List: `GET {api}/api/v1/repository/{ns}/{repo}/tag/?onlyActiveTags=true&limit=100&page=N`,
//!   following `has_additional`; each tag has its `manifest_digest`. A tag without one is
//!   reported as broken; a 404 after the first page is an error, not the end of the list.
//! - Untag: `GET …/tag/?specificTag={tag}&onlyActiveTags=true` for the digest, then
//!   `DELETE {api}/api/v1/repository/{ns}/{repo}/tag/{tag}`: only the tag goes.
//! - Auth: `Authorization: Bearer` with an OAuth application token (`--quay-token` /
//!   `QUAY_TOKEN`) that has the "Administer Repositories" (`repo:admin`) or "Read/Write to any
//!   accessible repositories" (`repo:write`) scope; public repositories list without one.

use super::api::{Api, Repeat, bearer, encode, join};
use super::error::target;
use super::pages::Pages;
use super::settings::{API_URL, Setting};
use super::{
    ApiBase, BrokenTag, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result,
    TagEntry, TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::Repository;
use crate::secret::Secret;

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "quay",
    title: "Quay",
    hosts: "`quay.io`, hosts starting with `quay.`",
    matches: super::hosts::quay,
    capabilities: Capabilities {
        nesting: Nesting::AccountRepository,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "an OAuth application token (--quay-token / QUAY_TOKEN) with the repo:write scope (\"Read/Write to any accessible repositories\") on the repository",
    docs: "https://docs.quay.io/api/swagger/",
    settings: &[API_URL, TOKEN],
    api: ApiBase::RegistryHost,
    login: None,
    new: |opts, repo| Ok(Box::new(QuayDriver::new(opts, repo)?)),
};

const TOKEN: Setting = Setting::secret("quay-token", "QUAY_TOKEN", "Quay OAuth application token.");

pub struct QuayDriver {
    api: Api,
    base: url::Url,
    token: Option<Secret>,
}

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Vec<QuayTag>,
    #[serde(default)]
    has_additional: bool,
}

#[derive(serde::Deserialize)]
struct QuayTag {
    name: String,
    #[serde(default)]
    manifest_digest: Option<String>,
}

impl QuayDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        Ok(QuayDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            token: opts.settings.secret(&TOKEN).cloned(),
        })
    }

    fn repo_path(&self, repo: &Repository, op: &'static str) -> Result<String> {
        match repo.path.split_once('/') {
            Some((ns, name)) if !name.contains('/') => {
                Ok(format!("/api/v1/repository/{}/{}", encode(ns), encode(name)))
            }
            _ => Err(self.api.protocol(op, &repo.to_string(), "Quay repositories are named NAMESPACE/REPOSITORY")),
        }
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        bearer(builder, self.token.as_ref())
    }

    async fn page(&self, op: &'static str, tgt: &str, url: &str) -> Result<Option<TagPage>> {
        let resp = self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(url))).await?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        self.api.json(op, tgt, resp).await.map(Some)
    }
}

#[async_trait::async_trait]
impl Driver for QuayDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let path = self.repo_path(repo, op)?;
        let (mut entries, mut broken) = (Vec::new(), Vec::new());
        let mut pages = Pages::new(&self.api, op, &tgt, &self.base, "the tags", "1".into());
        while let Some(page) = pages.next_page() {
            let url = join(&self.base, &format!("{path}/tag/?onlyActiveTags=true&limit=100&page={page}"));
            let Some(p) = self.page(op, &tgt, &url).await? else {
                pages.not_found()?;
                break;
            };
            for t in p.tags {
                match t.manifest_digest.as_deref().map(str::parse) {
                    Some(Ok(d)) => entries.push(TagEntry::new(t.name, d)),
                    _ => {
                        tracing::warn!(repo = %repo, tag = t.name, "Quay lists no manifest digest for this tag; reported as broken and left alone");
                        broken.push(BrokenTag {
                            tag: t.name,
                            problem: "Quay lists this tag without a manifest digest".into(),
                        });
                    }
                }
            }
            pages.follow_cursor(p.has_additional.then(|| (pages.number() + 1).to_string()))?;
        }
        Ok(TagListing::sorted(entries, broken))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let path = self.repo_path(repo, op)?;
        if self.token.is_none() {
            return Err(self.api.missing_credential(op, &tgt));
        }
        let url = join(&self.base, &format!("{path}/tag/?specificTag={}&onlyActiveTags=true", encode(tag)));
        let digest = self
            .page(op, &tgt, &url)
            .await?
            .and_then(|p| p.tags.into_iter().find(|t| t.name == tag))
            .and_then(|t| t.manifest_digest)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| DriverError::TagNotFound {
                driver: INFO.name,
                repo: repo.to_string(),
                tag: tag.to_string(),
            })?;
        let url = join(&self.base, &format!("{path}/tag/{}", encode(tag)));
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| self.request(h.delete(&url))).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}
