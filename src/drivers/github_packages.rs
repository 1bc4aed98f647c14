//! GitHub's REST packages API as the `github` driver uses it
//! (<https://docs.github.com/en/rest/packages/packages>).
//!
//! - Where a package lives: `/user/packages/{type}/{name}` when the owner is the token's own
//!   user (`GET /user` gives its login; `/users/{owner}/…` only shows what the public sees),
//!   `/orgs/{owner}/…` for an organisation, and `/users/{owner}/…` for another user's public
//!   packages. `GET /user` answers 403 to the Actions `GITHUB_TOKEN`; then organisation, then
//!   user, is tried. The owner's kind is remembered.
//! - Type and name: `ghcr.io/OWNER/NAME…` is a `container` package named `NAME…`
//!   (URL-encoded, `a/b` → `a%2Fb`); `docker.pkg.github.com/OWNER/REPOSITORY/IMAGE` is a
//!   `docker` package named `IMAGE`, whose versions carry their tags in `metadata.docker.tag`.
//! - Versions are listed once per package per run (`?per_page=100`, `Link: rel="next"`) and
//!   kept; deletes update that copy. A 404 on the first page means no such package (or one the
//!   token cannot see); on a later page it is an error, never the end of the list.

use super::Result;
use super::api::{Api, Repeat, bearer, encode, join};
use super::pages::{Pages, link};
use crate::registry::Repository;
use crate::secret::Secret;
use reqwest::header::ACCEPT;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::OnceCell;

/// One package version: a manifest digest (its `name`) with its tags.
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct Version {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    container: Option<TagList>,
    #[serde(default)]
    docker: Option<TagList>,
}

/// `container.tags`, or `docker.tag` (the field's name for `docker` packages).
#[derive(Debug, Clone, serde::Deserialize)]
struct TagList {
    #[serde(default, alias = "tag")]
    tags: Vec<String>,
}

impl Version {
    pub fn tags(&self) -> &[String] {
        self.metadata.as_ref().and_then(|m| m.container.as_ref().or(m.docker.as_ref())).map_or(&[], |c| &c.tags)
    }
}

/// Where a package's owner lives in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The token's own user: `/user`.
    Me,
    Org,
    /// Another user: `/users/{owner}` (public packages).
    User,
}

/// A package: its owner and `…/packages/{type}/{name}` relative to the owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PackageName {
    owner: String,
    /// `container` or `docker`, then the encoded name.
    rest: String,
}

/// A package's versions as listed, and the API path they were listed under.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    /// `/orgs/acme/packages/container/team%2Fapp` and the like.
    pub path: String,
    pub versions: Vec<Version>,
}

pub(super) struct Packages {
    pub api: Api,
    base: url::Url,
    token: Option<Secret>,
    /// The token's login, from `GET /user` (`None` when GitHub does not say).
    login: OnceCell<Option<String>>,
    owners: Mutex<HashMap<String, Owner>>,
    listings: Mutex<HashMap<PackageName, Listing>>,
}

impl Packages {
    pub fn new(api: Api, base: url::Url, token: Option<Secret>) -> Self {
        Packages { api, base, token, login: OnceCell::new(), owners: Mutex::default(), listings: Mutex::default() }
    }

    pub fn token(&self, op: &'static str, tgt: &str) -> Result<&Secret> {
        self.token.as_ref().ok_or_else(|| self.api.missing_credential(op, tgt))
    }

    fn request(&self, builder: reqwest::RequestBuilder, token: &Secret) -> reqwest::RequestBuilder {
        bearer(
            builder.header(ACCEPT, "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28"),
            Some(token),
        )
    }

    /// The package `repo` names.
    pub fn name(&self, repo: &Repository, op: &'static str) -> Result<PackageName> {
        let tgt = repo.to_string();
        if super::hosts::bare(&repo.registry) == "docker.pkg.github.com" {
            return match repo.path.split('/').collect::<Vec<_>>().as_slice() {
                [owner, _repository, image] => {
                    Ok(PackageName { owner: owner.to_string(), rest: format!("docker/{}", encode(image)) })
                }
                _ => Err(self.api.protocol(op, &tgt, "docker.pkg.github.com images are named OWNER/REPOSITORY/IMAGE")),
            };
        }
        match repo.path.split_once('/') {
            Some((owner, package)) => {
                Ok(PackageName { owner: owner.to_string(), rest: format!("container/{}", encode(package)) })
            }
            None => Err(self.api.protocol(op, &tgt, "GitHub packages are named OWNER/PACKAGE")),
        }
    }

    /// The package's versions: the copy from earlier in the run unless `fresh`; `None` when
    /// GitHub knows no such package (or the token cannot see it).
    pub async fn listing(&self, repo: &Repository, op: &'static str, fresh: bool) -> Result<Option<Listing>> {
        let name = self.name(repo, op)?;
        if !fresh && let Some(l) = self.listings.lock().ok().and_then(|m| m.get(&name).cloned()) {
            return Ok(Some(l));
        }
        let tgt = repo.to_string();
        for owner in self.owner_kinds(&name.owner, op, &tgt).await? {
            let path = format!("{}/packages/{}", prefix(owner, &name.owner), name.rest);
            if let Some(versions) = self.versions(&path, op, &tgt, None).await? {
                if let Ok(mut m) = self.owners.lock() {
                    m.insert(name.owner.clone(), owner);
                }
                let listing = Listing { path, versions };
                if let Ok(mut m) = self.listings.lock() {
                    m.insert(name.clone(), listing.clone());
                }
                return Ok(Some(listing));
            }
        }
        tracing::warn!(%repo, "GitHub answers 404 for this package: it does not exist, or the token cannot see it (read:packages, and access to the package)");
        Ok(None)
    }

    /// Where to look for `owner`'s packages, in order.
    async fn owner_kinds(&self, owner: &str, op: &'static str, tgt: &str) -> Result<Vec<Owner>> {
        if let Some(k) = self.owners.lock().ok().and_then(|m| m.get(owner).copied()) {
            return Ok(vec![k]);
        }
        let login = self.login.get_or_try_init(|| self.fetch_login(op, tgt)).await?;
        Ok(match login {
            Some(l) if l.eq_ignore_ascii_case(owner) => vec![Owner::Me],
            _ => vec![Owner::Org, Owner::User],
        })
    }

    /// `GET /user`: the token's login; `None` for tokens that have no user (Actions).
    async fn fetch_login(&self, op: &'static str, tgt: &str) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct User {
            login: String,
        }
        let token = self.token(op, tgt)?;
        let url = join(&self.base, "/user");
        match self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(&url), token)).await {
            Ok(resp) if resp.status().is_success() => Ok(Some(self.api.json::<User>(op, tgt, resp).await?.login)),
            Ok(_) => Ok(None),
            Err(e) if e.status() == Some(403) && !e.is_rate_limited() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every version under `path`, page by page; with `until`, stops at the page holding the
    /// version named `until`. `None` when the first page answers 404.
    async fn versions(
        &self,
        path: &str,
        op: &'static str,
        tgt: &str,
        until: Option<&str>,
    ) -> Result<Option<Vec<Version>>> {
        let token = self.token(op, tgt)?;
        let mut pages = Pages::new(
            &self.api,
            op,
            tgt,
            &self.base,
            "the package versions",
            join(&self.base, &format!("{path}/versions?per_page=100")),
        );
        let mut versions = Vec::new();
        while let Some(url) = pages.next_page() {
            let resp = self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(&url), token)).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                return Ok(None);
            }
            let next = link(&resp);
            let batch: Vec<Version> = self.api.json(op, tgt, resp).await?;
            let found = until.is_some_and(|name| batch.iter().any(|v| v.name == name));
            versions.extend(batch);
            if !found {
                pages.follow(next)?;
            }
        }
        Ok(Some(versions))
    }

    /// The version named `digest` (a manifest just pushed), read from the newest pages.
    pub async fn find(&self, listing: &Listing, digest: &str, op: &'static str, tgt: &str) -> Result<Option<Version>> {
        let versions = self.versions(&listing.path, op, tgt, Some(digest)).await?.unwrap_or_default();
        Ok(versions.into_iter().find(|v| v.name == digest))
    }

    /// One version as GitHub has it now; `None` when it is gone.
    pub async fn version(&self, listing: &Listing, id: u64, op: &'static str, tgt: &str) -> Result<Option<Version>> {
        let token = self.token(op, tgt)?;
        let url = join(&self.base, &format!("{}/versions/{id}", listing.path));
        let resp = self.api.send(op, tgt, Repeat::Safe, true, |h| self.request(h.get(&url), token)).await?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        self.api.json(op, tgt, resp).await.map(Some)
    }

    /// `DELETE …/versions/{id}`: the version goes with every tag on it.
    pub async fn delete_version(&self, listing: &Listing, id: u64, op: &'static str, tgt: &str) -> Result<()> {
        let token = self.token(op, tgt)?;
        let url = join(&self.base, &format!("{}/versions/{id}", listing.path));
        self.api.send(op, tgt, Repeat::OnStatusOnly, false, |h| self.request(h.delete(&url), token)).await?;
        self.update(listing, |versions| versions.retain(|v| v.id != id));
        Ok(())
    }

    /// `DELETE …/packages/{type}/{name}`: the package with all its versions.
    pub async fn delete_package(&self, listing: &Listing, op: &'static str, tgt: &str) -> Result<()> {
        let token = self.token(op, tgt)?;
        let url = join(&self.base, &listing.path);
        self.api.send(op, tgt, Repeat::OnStatusOnly, false, |h| self.request(h.delete(&url), token)).await?;
        if let Ok(mut m) = self.listings.lock() {
            m.retain(|_, l| l.path != listing.path);
        }
        Ok(())
    }

    /// Notes that `tag` left version `id` (it moved to a throwaway version, since deleted).
    pub fn untagged(&self, listing: &Listing, id: u64, tag: &str) {
        self.update(listing, |versions| {
            for v in versions.iter_mut().filter(|v| v.id == id) {
                if let Some(m) = v.metadata.as_mut() {
                    for list in [m.container.as_mut(), m.docker.as_mut()].into_iter().flatten() {
                        list.tags.retain(|t| t != tag);
                    }
                }
            }
        });
    }

    /// Replaces the kept copy of version `v.id` with `v` (read again from GitHub).
    pub fn refreshed(&self, listing: &Listing, v: &Version) {
        self.update(listing, |versions| {
            for old in versions.iter_mut().filter(|old| old.id == v.id) {
                *old = v.clone();
            }
        });
    }

    fn update(&self, listing: &Listing, change: impl Fn(&mut Vec<Version>)) {
        if let Ok(mut m) = self.listings.lock() {
            for l in m.values_mut().filter(|l| l.path == listing.path) {
                change(&mut l.versions);
            }
        }
    }
}

fn prefix(owner: Owner, name: &str) -> String {
    match owner {
        Owner::Me => "/user".to_string(),
        Owner::Org => format!("/orgs/{}", encode(name)),
        Owner::User => format!("/users/{}", encode(name)),
    }
}
