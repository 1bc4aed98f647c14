//! The `artifact-registry` driver: Google Artifact Registry's REST API (v1).
//!
//! - Names: `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE…`; Container Registry hosts
//!   (`gcr.io`, `us.gcr.io`, `eu.gcr.io`, `asia.gcr.io`), now served by Artifact Registry, map
//!   to the repository named after the host in the multi-region (`gcr.io/P/IMAGE` →
//!   `projects/P/locations/us/repositories/gcr.io/packages/IMAGE`). The package (image) id is
//!   URL-encoded (`a/b` → `a%2Fb`).
//! - List: `GET {api}/v1/projects/{p}/locations/{l}/repositories/{r}/packages/{pkg}/tags?pageSize=1000`,
//!   following `nextPageToken`; each tag names its version, whose id is the digest.
//! - Untag: `DELETE …/packages/{pkg}/tags/{tag}`: only the tag goes.
//! - Auth: `Authorization: Bearer` with an OAuth access token: `--google-token` /
//!   `GOOGLE_OAUTH_ACCESS_TOKEN` (e.g. `gcloud auth print-access-token`), or the registry login
//!   when its user says the password is an access token: `oauth2accesstoken`, or
//!   `_dcgcloud_token`, what the gcloud and docker-credential-gcr helpers return
//!   (<https://github.com/GoogleCloudPlatform/docker-credential-gcr>). Between the two,
//!   application-default credentials (`GOOGLE_APPLICATION_CREDENTIALS` or gcloud's well-known
//!   file; a service account key or an authorized user) give one, renewed before its
//!   `expires_in` runs out: see [`super::google_auth`].
//! - A 404 on the first page is a package that does not exist; after it, an error.

use super::api::{Api, Repeat, bearer, encode, join};
use super::error::target;
use super::google_auth::{self, Adc};
use super::pages::Pages;
use super::settings::{API_URL, Setting, Settings};
use super::{
    ApiBase, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry,
    TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Client, Credential, Repository};
use crate::secret::Secret;

/// Registry logins whose password is a Google OAuth access token.
const TOKEN_USERS: &[&str] = &["oauth2accesstoken", "_dcgcloud_token"];

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "artifact-registry",
    title: "Google Artifact Registry",
    hosts: "`*-docker.pkg.dev`, `gcr.io`, `*.gcr.io`",
    matches: super::hosts::artifact_registry,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "an OAuth access token (--google-token / GOOGLE_OAUTH_ACCESS_TOKEN, application-default credentials: GOOGLE_APPLICATION_CREDENTIALS or ~/.config/gcloud/application_default_credentials.json, a service account key or an authorized user; or the gcloud credential helper) for an identity with roles/artifactregistry.repoAdmin (artifactregistry.tags.delete)",
    docs: "https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.packages.tags",
    settings: &[API_URL, TOKEN, CREDENTIALS],
    api: ApiBase::Vendor("https://artifactregistry.googleapis.com"),
    login: None,
    new: |opts, repo| Ok(Box::new(ArtifactRegistryDriver::new(opts, repo)?)),
};

const TOKEN: Setting = Setting::secret(
    "google-token",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "Google OAuth access token (e.g. `gcloud auth print-access-token`).",
);
const CREDENTIALS: Setting = Setting::path(
    "google-application-credentials",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "Google application-default credentials file (service account key or `gcloud auth application-default login`); default: gcloud's well-known file when it exists.",
)
.fallback(google_auth::well_known_file);

/// Where the access token comes from, tried in this order (the first one given is used).
enum Source {
    /// `--google-token`.
    Token(Secret),
    /// Application-default credentials.
    Adc(Adc),
    /// The registry login, when its user says the password is an access token.
    RegistryLogin,
}

impl Source {
    fn chain(settings: &Settings) -> Vec<Source> {
        let token = settings.secret(&TOKEN).cloned().map(Source::Token);
        let adc = settings.path(&CREDENTIALS).map(|p| Source::Adc(Adc::new(p.to_path_buf())));
        token.into_iter().chain(adc).chain([Source::RegistryLogin]).collect()
    }
}

pub struct ArtifactRegistryDriver {
    api: Api,
    base: url::Url,
    client: Client,
    sources: Vec<Source>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagPage {
    #[serde(default)]
    tags: Vec<ArTag>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct ArTag {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

impl ArTag {
    /// `(tag, digest)` from `…/tags/TAG` and `…/versions/sha256:…`.
    fn entry(&self) -> Option<TagEntry> {
        let tag = self.name.rsplit('/').next()?;
        let digest = self.version.as_deref()?.rsplit('/').next()?.replace("%3A", ":").parse().ok()?;
        Some(TagEntry::new(tag, digest))
    }
}

/// `projects/{p}/locations/{l}/repositories/{r}/packages/{pkg}` for a repository, or why not.
pub(crate) fn package_path(repo: &Repository) -> std::result::Result<String, String> {
    let host = super::hosts::bare(&repo.registry);
    let parts: Vec<&str> = repo.path.split('/').collect();
    let (location, repository, project, image) = if let Some(location) = host.strip_suffix("-docker.pkg.dev") {
        match parts.as_slice() {
            [project, repository, image @ ..] if !image.is_empty() => {
                (location.to_string(), repository.to_string(), *project, image.join("/"))
            }
            _ => return Err("Artifact Registry images are named PROJECT/REPOSITORY/IMAGE".into()),
        }
    } else {
        let location = match host {
            "gcr.io" | "us.gcr.io" => "us",
            "eu.gcr.io" => "europe",
            "asia.gcr.io" => "asia",
            other => return Err(format!("{other} is not an Artifact Registry or gcr.io host")),
        };
        match parts.as_slice() {
            [project, image @ ..] if !image.is_empty() => {
                (location.to_string(), host.to_string(), *project, image.join("/"))
            }
            _ => return Err("gcr.io images are named PROJECT/IMAGE".into()),
        }
    };
    Ok(format!("projects/{project}/locations/{location}/repositories/{repository}/packages/{}", encode(&image)))
}

impl ArtifactRegistryDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        Ok(ArtifactRegistryDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            client: opts.client.clone(),
            sources: Source::chain(&opts.settings),
        })
    }

    /// An access token from the first source in the chain that has one.
    async fn token(&self, repo: &Repository, op: &'static str, tgt: &str) -> Result<Secret> {
        for source in &self.sources {
            match source {
                Source::Token(t) => return Ok(t.clone()),
                Source::Adc(adc) => return adc.token(&self.api, tgt).await,
                Source::RegistryLogin => {
                    let resolved = self
                        .client
                        .options()
                        .credentials
                        .resolve(&repo.registry)
                        .await
                        .map_err(|e| DriverError::registry(&INFO, e))?;
                    if let Some(Credential::Basic { username, password }) = resolved.map(|r| r.credential)
                        && TOKEN_USERS.contains(&username.as_str())
                    {
                        return Ok(password);
                    }
                }
            }
        }
        Err(self.api.missing_credential(op, tgt))
    }

    fn path(&self, repo: &Repository, op: &'static str) -> Result<String> {
        package_path(repo).map_err(|d| self.api.protocol(op, &repo.to_string(), d))
    }
}

#[async_trait::async_trait]
impl Driver for ArtifactRegistryDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let path = self.path(repo, op)?;
        let token = self.token(repo, op, &tgt).await?;
        let mut entries = Vec::new();
        let mut pages = Pages::new(&self.api, op, &tgt, &self.base, "the tags", String::new());
        while let Some(page_token) = pages.next_page() {
            let mut url = join(&self.base, &format!("/v1/{path}/tags?pageSize=1000"));
            if !page_token.is_empty() {
                url.push_str(&format!("&pageToken={}", encode(&page_token)));
            }
            let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), Some(&token))).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                break;
            }
            let p: TagPage = self.api.json(op, &tgt, resp).await?;
            entries.extend(p.tags.iter().filter_map(ArTag::entry));
            pages.follow_cursor(p.next_page_token)?;
        }
        Ok(TagListing::sorted(entries, Vec::new()))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let path = self.path(repo, op)?;
        let token = self.token(repo, op, &tgt).await?;
        let url = join(&self.base, &format!("/v1/{path}/tags/{}", encode(tag)));
        let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), Some(&token))).await?;
        if resp.status().as_u16() == 404 {
            return Err(DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() });
        }
        let current: ArTag = self.api.json(op, &tgt, resp).await?;
        let digest = current
            .entry()
            .map(|e| e.digest)
            .ok_or_else(|| self.api.protocol(op, &tgt, "the tag names no version digest"))?;
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| bearer(h.delete(&url), Some(&token))).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths_for_pkg_dev_and_gcr_hosts() {
        let p = |s: &str| package_path(&s.parse().unwrap());
        assert_eq!(
            p("europe-west1-docker.pkg.dev/proj/repo/team/app").unwrap(),
            "projects/proj/locations/europe-west1/repositories/repo/packages/team%2Fapp"
        );
        assert_eq!(p("gcr.io/proj/app").unwrap(), "projects/proj/locations/us/repositories/gcr.io/packages/app");
        assert_eq!(
            p("eu.gcr.io/proj/a/b").unwrap(),
            "projects/proj/locations/europe/repositories/eu.gcr.io/packages/a%2Fb"
        );
        assert!(p("us-docker.pkg.dev/proj/repo").is_err());
        assert!(p("registry.example.com/a/b").is_err());
    }

    #[test]
    fn tag_entries_from_resource_names() {
        let d = format!("sha256:{}", "a".repeat(64));
        let t = ArTag {
            name: "projects/p/locations/l/repositories/r/packages/app/tags/v1".into(),
            version: Some(format!("projects/p/locations/l/repositories/r/packages/app/versions/{d}")),
        };
        assert_eq!(t.entry(), Some(TagEntry::new("v1", d.parse().unwrap())));
    }
}
