//! The `harbor` driver: Harbor's v2.0 API.
//!
//! - Names: `PROJECT/REPOSITORY`, where the repository may hold `/`; in API paths it is
//!   URL-encoded twice (`a/b` → `a%252Fb`), as Harbor requires.
//! - List: `GET {api}/api/v2.0/projects/{p}/repositories/{r}/artifacts?with_tag=true&page=N&page_size=100`,
//!   each artifact with its `digest` and `tags[].name`, until a short page. A 404 on the first
//!   page is a repository that does not exist; on a later page, an error.
//! - Untag: `GET …/artifacts/{tag}` for the digest, then
//!   `DELETE …/artifacts/{digest}/tags/{tag}`: only the tag goes.
//! - Auth: HTTP Basic with the registry login for the host (a robot account works), from the
//!   flags or docker's config. The API is on the registry's host unless `--api-url` says otherwise.

use super::api::{Api, Repeat, encode, join, secret_header};
use super::error::target;
use super::pages::Pages;
use super::settings::API_URL;
use super::{
    ApiBase, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry,
    TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Client, Credential, Repository};
use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

const PAGE_SIZE: usize = 100;

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "harbor",
    title: "Harbor",
    hosts: "hosts starting with `harbor.`, `*.goharbor.io`; others with `--implementation harbor`",
    matches: super::hosts::harbor,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "a Harbor user or robot account (docker login, or --username with --password-stdin) with the project's \"delete tag\" permission (Maintainer or a robot account with Tag: Delete)",
    docs: "https://goharbor.io/docs/main/build-customize-contribute/configure-swagger/",
    settings: &[API_URL],
    api: ApiBase::RegistryHost,
    login: None,
    new: |opts, repo| Ok(Box::new(HarborDriver::new(opts, repo)?)),
};

pub struct HarborDriver {
    api: Api,
    base: url::Url,
    client: Client,
}

#[derive(serde::Deserialize)]
struct Artifact {
    digest: String,
    #[serde(default)]
    tags: Option<Vec<HarborTag>>,
}

#[derive(serde::Deserialize)]
struct HarborTag {
    name: String,
}

impl HarborDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        Ok(HarborDriver { api: Api::new(&INFO, opts.client.options())?, base, client: opts.client.clone() })
    }

    /// `/api/v2.0/projects/{p}/repositories/{r}` with `r` encoded twice.
    fn repo_path(&self, repo: &Repository, op: &'static str) -> Result<String> {
        match repo.path.split_once('/') {
            Some((project, name)) => {
                Ok(format!("/api/v2.0/projects/{}/repositories/{}", encode(project), encode(&encode(name))))
            }
            None => Err(self.api.protocol(op, &repo.to_string(), "Harbor repositories are named PROJECT/REPOSITORY")),
        }
    }

    async fn authorization(&self, repo: &Repository) -> Result<Option<HeaderValue>> {
        let resolved = self
            .client
            .options()
            .credentials
            .resolve(&repo.registry)
            .await
            .map_err(|e| DriverError::registry(&INFO, e))?;
        Ok(match resolved.map(|r| r.credential) {
            Some(Credential::Basic { username, password }) => {
                let raw = format!("{username}:{}", password.expose());
                secret_header(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            }
            _ => None,
        })
    }

    fn request(builder: reqwest::RequestBuilder, auth: &Option<HeaderValue>) -> reqwest::RequestBuilder {
        let builder = builder.header(ACCEPT, "application/json");
        match auth {
            Some(h) => builder.header(AUTHORIZATION, h.clone()),
            None => builder,
        }
    }
}

#[async_trait::async_trait]
impl Driver for HarborDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let path = self.repo_path(repo, op)?;
        let auth = self.authorization(repo).await?;
        let mut entries = Vec::new();
        let mut pages = Pages::new(&self.api, op, &tgt, &self.base, "the artifacts", "1".into());
        while let Some(page) = pages.next_page() {
            let url = join(&self.base, &format!("{path}/artifacts?with_tag=true&page={page}&page_size={PAGE_SIZE}"));
            let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| Self::request(h.get(&url), &auth)).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                break;
            }
            let artifacts: Vec<Artifact> = self.api.json(op, &tgt, resp).await?;
            let full = artifacts.len() >= PAGE_SIZE;
            for a in artifacts {
                let Ok(digest) = a.digest.parse::<crate::spec::digest::Digest>() else { continue };
                entries.extend(a.tags.unwrap_or_default().into_iter().map(|t| TagEntry::new(t.name, digest.clone())));
            }
            pages.follow_cursor(full.then(|| (pages.number() + 1).to_string()))?;
        }
        Ok(TagListing::sorted(entries, Vec::new()))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let path = self.repo_path(repo, op)?;
        let auth = self.authorization(repo).await?;
        if auth.is_none() {
            return Err(self.api.missing_credential(op, &tgt));
        }
        let url = join(&self.base, &format!("{path}/artifacts/{}", encode(tag)));
        let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| Self::request(h.get(&url), &auth)).await?;
        if resp.status().as_u16() == 404 {
            return Err(DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() });
        }
        let artifact: Artifact = self.api.json(op, &tgt, resp).await?;
        let digest: crate::spec::digest::Digest = artifact
            .digest
            .parse()
            .map_err(|_| self.api.protocol(op, &tgt, format!("artifact digest {:?}", artifact.digest)))?;
        let url = join(&self.base, &format!("{path}/artifacts/{digest}/tags/{}", encode(tag)));
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| Self::request(h.delete(&url), &auth)).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}
