//! The `gitlab` driver: GitLab's container registry API (gitlab.com or self-hosted).
//!
//! - Repository: a registry path is `GROUP[/SUBGROUP…]/PROJECT[/IMAGE…]`. The project is found
//!   by trying the longest prefix first: `GET {api}/projects/{url-encoded prefix}/registry/repositories`
//!   until one exists, then the registry repository whose `path` is the whole name. GitLab
//!   answers 404 for a project the token cannot see as for one that does not exist
//!   (<https://docs.gitlab.com/api/rest/troubleshooting/#status-codes>), so no project at all is
//!   an error saying both, never "no tags"; a project without that registry repository is an
//!   empty list (nothing pushed yet). A 404 after the first page is an error.
//! - List: `GET …/registry/repositories/{rid}/tags?per_page=100` (following `X-Next-Page`),
//!   then `GET …/tags/{tag}` per tag for its digest, a few at a time.
//! - Untag: `DELETE {api}/projects/{id}/registry/repositories/{rid}/tags/{tag}`: GitLab removes
//!   only that tag. (The bulk `name_regex_delete` endpoint runs asynchronously; not used.)
//! - Auth, first found wins: `PRIVATE-TOKEN` (`--gitlab-token` / `GITLAB_TOKEN`: personal,
//!   project or group access token with the `api` scope), then `JOB-TOKEN`
//!   (`--gitlab-job-token` / `CI_JOB_TOKEN`).
//! - API: `https://gitlab.com/api/v4` for gitlab.com; self-hosted with `--api-url`.

use super::api::{Api, Repeat, encode, join, secret_header};
use super::error::target;
use super::pages::Pages;
use super::settings::{API_URL, Setting, Settings};
use super::{
    ApiBase, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry,
    TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::Repository;
use crate::secret::Secret;
use crate::spec::digest::Digest;
use futures::{StreamExt as _, TryStreamExt as _};
use reqwest::header::HeaderName;
/// Tag detail requests in flight at once.
const DETAIL_CONCURRENCY: usize = 4;

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "gitlab",
    title: "GitLab container registry",
    hosts: "`gitlab.com`, `registry.gitlab.com`; self-hosted with `--implementation gitlab --api-url URL`",
    matches: super::hosts::gitlab,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "a GitLab access token with the api scope and at least the Developer role (--gitlab-token / GITLAB_TOKEN), or a CI job token (CI_JOB_TOKEN) of the same project",
    docs: "https://docs.gitlab.com/api/container_registry/",
    settings: &[API_URL, TOKEN, JOB_TOKEN],
    api: ApiBase::Vendor("https://gitlab.com/api/v4"),
    login: None,
    new: |opts, repo| Ok(Box::new(GitlabDriver::new(opts, repo)?)),
};

const TOKEN: Setting =
    Setting::secret("gitlab-token", "GITLAB_TOKEN", "GitLab personal, project or group access token (PRIVATE-TOKEN).");
const JOB_TOKEN: Setting = Setting::secret("gitlab-job-token", "CI_JOB_TOKEN", "GitLab CI job token (JOB-TOKEN).");

#[derive(Debug, Clone)]
enum Token {
    Private(Secret),
    Job(Secret),
}

impl Token {
    /// The first credential given: the access token, then the job token.
    fn from_settings(settings: &Settings) -> Option<Self> {
        let private = settings.secret(&TOKEN).cloned().map(Token::Private);
        private.or_else(|| settings.secret(&JOB_TOKEN).cloned().map(Token::Job))
    }
}

pub struct GitlabDriver {
    api: Api,
    base: url::Url,
    token: Option<Token>,
}

#[derive(serde::Deserialize)]
struct RegistryRepository {
    id: u64,
    path: String,
}

#[derive(serde::Deserialize)]
struct GitlabTag {
    name: String,
    #[serde(default)]
    digest: Option<String>,
}

/// A project's registry repository: `/projects/{id}/registry/repositories/{rid}`.
struct Located {
    prefix: String,
}

impl GitlabDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        Ok(GitlabDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            token: Token::from_settings(&opts.settings),
        })
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let (name, secret) = match &self.token {
            Some(Token::Private(s)) => ("private-token", s),
            Some(Token::Job(s)) => ("job-token", s),
            None => return builder,
        };
        match secret_header(secret.expose()) {
            Some(h) => builder.header(HeaderName::from_static(name), h),
            None => builder,
        }
    }

    /// Every page of a paginated list (`X-Next-Page`); `None` when the first page is 404.
    async fn pages<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        tgt: &str,
        path: &str,
    ) -> Result<Option<Vec<T>>> {
        let mut out = Vec::new();
        let mut pages = Pages::new(&self.api, op, tgt, &self.base, path, "1".into());
        while let Some(page) = pages.next_page() {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = join(&self.base, &format!("{path}{sep}per_page=100&page={page}"));
            let resp = self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(&url))).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                return Ok(None);
            }
            let next = resp.headers().get("x-next-page").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
            out.extend(self.api.json::<Vec<T>>(op, tgt, resp).await?);
            pages.follow_cursor(next)?;
        }
        Ok(Some(out))
    }

    /// Finds the project and registry repository holding `repo`.
    async fn locate(&self, repo: &Repository, op: &'static str) -> Result<Option<Located>> {
        let tgt = repo.to_string();
        if self.token.is_none() {
            return Err(self.api.missing_credential(op, &tgt));
        }
        let parts: Vec<&str> = repo.path.split('/').collect();
        if parts.len() < 2 {
            return Err(self.api.protocol(op, &tgt, "GitLab images are named GROUP/PROJECT[/IMAGE…]"));
        }
        for n in (2..=parts.len()).rev() {
            let project = encode(&parts[..n].join("/"));
            let path = format!("/projects/{project}/registry/repositories");
            let Some(repos) = self.pages::<RegistryRepository>(op, &tgt, &path).await? else { continue };
            return Ok(repos
                .into_iter()
                .find(|r| r.path == repo.path)
                .map(|r| Located { prefix: format!("{path}/{}", r.id) }));
        }
        let tried: Vec<String> = (2..=parts.len()).rev().map(|n| parts[..n].join("/")).collect();
        Err(self.api.hidden(
            op,
            &tgt,
            format!("no project {} exists or is visible to the token", tried.join(" or ")),
            "GitLab answers 404 both for a project that does not exist and for one the token cannot see: \
             check the path, and that the token's user (or the CI job's project) has at least the Reporter role in the project",
        ))
    }

    async fn digest(&self, op: &'static str, tgt: &str, located: &Located, tag: &str) -> Result<Option<Digest>> {
        let url = join(&self.base, &format!("{}/tags/{}", located.prefix, encode(tag)));
        let resp = self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(&url))).await?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let t: GitlabTag = self.api.json(op, tgt, resp).await?;
        Ok(t.digest.and_then(|d| d.parse().ok()))
    }
}

#[async_trait::async_trait]
impl Driver for GitlabDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let Some(located) = self.locate(repo, op).await? else { return Ok(TagListing::default()) };
        let tags = self.pages::<GitlabTag>(op, &tgt, &format!("{}/tags", located.prefix)).await?.unwrap_or_default();
        let (located, tgt) = (&located, &tgt);
        let found: Vec<Option<TagEntry>> = futures::stream::iter(tags)
            .map(|t| async move {
                let digest = match t.digest.as_deref().and_then(|d| d.parse().ok()) {
                    Some(d) => Some(d),
                    None => self.digest(op, tgt, located, &t.name).await?,
                };
                Ok::<_, DriverError>(digest.map(|d| TagEntry::new(t.name, d)))
            })
            .buffer_unordered(DETAIL_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(TagListing::sorted(found.into_iter().flatten().collect(), Vec::new()))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let not_found = || DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() };
        let located = self.locate(repo, op).await?.ok_or_else(not_found)?;
        let digest = self.digest(op, &tgt, &located, tag).await?.ok_or_else(not_found)?;
        let url = join(&self.base, &format!("{}/tags/{}", located.prefix, encode(tag)));
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| self.request(h.delete(&url))).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}
