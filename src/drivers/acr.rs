//! The `acr` driver: Azure Container Registry's data-plane REST API.
//!
//! - Credentials, first found wins: `--azure-token`, a service principal, the registry login
//!   (an identity token, or a username and password). Each is declared in [`INFO`]'s settings.
//! - Tokens: with an Azure AD access token (`--azure-token` / `AZURE_ACCESS_TOKEN`, or one a
//!   service principal gets from Azure AD with the client-credentials flow, `POST
//!   {authority}/{tenant}/oauth2/v2.0/token` for `https://containerregistry.azure.net/.default`),
//!   `POST /oauth2/exchange` (`grant_type=access_token`) gives an ACR refresh token; with an
//!   identity token from docker's config (`az acr login`) that step is skipped. Then
//!   `POST /oauth2/token` (`grant_type=refresh_token`, `scope=repository:{name}:…`) gives the
//!   access token. With a username and password (admin user, service principal, token),
//!   `GET /oauth2/token?service=…&scope=…` with Basic auth does.
//! - List: `GET /acr/v1/{name}/_tags?n=100`, following `Link: rel="next"`; each tag has its
//!   digest. A 404 on the first page is a repository that does not exist; on a later page, or
//!   a `Link` to another host, an error (never a silently shorter list).
//! - Untag: `DELETE /acr/v1/{name}/_tags/{tag}`: only the tag goes (unlike
//!   `az acr repository delete --image`, which deletes the manifest with all its tags).
//!
//! The management-plane crate azure_mgmt_containerregistry is abandoned and has no untag.

use super::api::{Api, Repeat, bearer, encode, form, join, secret_header};
use super::error::target;
use super::pages::{Pages, link};
use super::settings::{API_URL, Setting, Settings};
use super::token_cache::TokenCache;
use super::{
    ApiBase, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry,
    TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Client, Credential, Repository};
use crate::secret::Secret;
use base64::Engine as _;
use reqwest::header::AUTHORIZATION;
use std::time::Duration;

/// The Azure AD scope of Azure Container Registry's data plane.
const AAD_SCOPE: &str = "https://containerregistry.azure.net/.default";

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "acr",
    title: "Azure Container Registry",
    hosts: "`*.azurecr.io` (and `.azurecr.cn`, `.azurecr.us`)",
    matches: super::hosts::acr,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "the AcrDelete role (or a repository-scoped token with content/delete) for the identity behind `az acr login`, --azure-token / AZURE_ACCESS_TOKEN, a service principal (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID), or the registry username and password",
    docs: "https://learn.microsoft.com/en-us/rest/api/containerregistry/tag",
    settings: &[API_URL, TOKEN, CLIENT_ID, CLIENT_SECRET, TENANT_ID, AUTHORITY_HOST],
    api: ApiBase::RegistryHost,
    login: None,
    new: |opts, repo| Ok(Box::new(AcrDriver::new(opts, repo)?)),
};

const TOKEN: Setting = Setting::secret(
    "azure-token",
    "AZURE_ACCESS_TOKEN",
    "Azure AD access token, exchanged for an ACR token (e.g. `az account get-access-token`).",
);
const CLIENT_ID: Setting = Setting::text(
    "azure-client-id",
    "AZURE_CLIENT_ID",
    "ID",
    "Azure AD application (service principal) id; with the secret and tenant, wharf gets the Azure AD token itself.",
);
const CLIENT_SECRET: Setting = Setting::secret(
    "azure-client-secret",
    "AZURE_CLIENT_SECRET",
    "Azure AD application (service principal) client secret.",
)
.value_name("SECRET");
const TENANT_ID: Setting =
    Setting::text("azure-tenant-id", "AZURE_TENANT_ID", "TENANT", "Azure AD tenant of the service principal.");
const AUTHORITY_HOST: Setting = Setting::url(
    "azure-authority-host",
    "AZURE_AUTHORITY_HOST",
    "Azure AD authority (sovereign clouds), default https://login.microsoftonline.com.",
);

/// An Azure AD application's client id and secret in a tenant (`AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID` in the Azure SDKs' convention).
#[derive(Debug, Clone)]
struct ServicePrincipal {
    tenant_id: String,
    client_id: String,
    client_secret: Secret,
    /// The Azure AD authority: `AZURE_AUTHORITY_HOST` (sovereign clouds, tests), else
    /// [`ServicePrincipal::DEFAULT_AUTHORITY`].
    authority: url::Url,
}

impl ServicePrincipal {
    const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

    /// The service principal, when its id, secret and tenant are all given (the id alone is
    /// also used by managed and workload identities, so a partial set is no credential).
    fn from_settings(settings: &Settings) -> Option<Self> {
        let authority = match settings.url(&AUTHORITY_HOST) {
            Some(u) => u.clone(),
            None => url::Url::parse(Self::DEFAULT_AUTHORITY).ok()?,
        };
        Some(ServicePrincipal {
            client_id: settings.text(&CLIENT_ID)?.to_string(),
            client_secret: settings.secret(&CLIENT_SECRET)?.clone(),
            tenant_id: settings.text(&TENANT_ID)?.to_string(),
            authority,
        })
    }
}

pub struct AcrDriver {
    api: Api,
    base: url::Url,
    service: String,
    client: Client,
    azure: Option<Secret>,
    sp: Option<ServicePrincipal>,
    /// The service principal's Azure AD token, renewed before its `expires_in` runs out.
    aad: TokenCache,
}

#[derive(serde::Deserialize)]
struct RefreshReply {
    refresh_token: Secret,
}

#[derive(serde::Deserialize)]
struct AccessReply {
    access_token: Secret,
    /// Seconds the token is valid for (Azure AD says; ACR's own tokens may not).
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Vec<AcrTag>,
}

#[derive(serde::Deserialize)]
struct AcrTag {
    name: String,
    digest: String,
}

impl AcrDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        let base = opts.api_base(&INFO, repo)?;
        let service = super::hosts::bare(&repo.registry).to_string();
        Ok(AcrDriver {
            api: Api::new(&INFO, opts.client.options())?,
            base,
            service,
            client: opts.client.clone(),
            azure: opts.settings.secret(&TOKEN).cloned(),
            sp: ServicePrincipal::from_settings(&opts.settings),
            aad: TokenCache::default(),
        })
    }

    /// An access token for `scope` (`repository:NAME:metadata_read` or `…:delete`).
    async fn access_token(&self, repo: &Repository, scope: &str, op: &'static str) -> Result<Secret> {
        let tgt = repo.to_string();
        let refresh = match self.aad_token(&tgt).await? {
            Some(aad) => Some(self.exchange(&aad, op, &tgt).await?),
            None => {
                let resolved = self
                    .client
                    .options()
                    .credentials
                    .resolve(&repo.registry)
                    .await
                    .map_err(|e| DriverError::registry(&INFO, e))?;
                match resolved.map(|r| r.credential) {
                    Some(Credential::IdentityToken(t)) => Some(t),
                    Some(Credential::Basic { username, password }) => {
                        return self.basic_token(&username, &password, scope, op, &tgt).await;
                    }
                    _ => None,
                }
            }
        };
        let refresh = refresh.ok_or_else(|| self.api.missing_credential(op, &tgt))?;
        let url = join(&self.base, "/oauth2/token");
        let resp = self
            .api
            .send(op, &tgt, Repeat::Safe, false, |h| {
                form(
                    h.post(&url),
                    &[
                        ("grant_type", "refresh_token"),
                        ("service", self.service.as_str()),
                        ("scope", scope),
                        ("refresh_token", refresh.expose()),
                    ],
                )
            })
            .await?;
        Ok(self.api.json::<AccessReply>(op, &tgt, resp).await?.access_token)
    }

    /// Username and password (admin user, service principal, repository token) → access token.
    async fn basic_token(
        &self,
        username: &str,
        password: &Secret,
        scope: &str,
        op: &'static str,
        tgt: &str,
    ) -> Result<Secret> {
        let url = join(&self.base, "/oauth2/token");
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()))
        );
        let query = [("service", self.service.as_str()), ("scope", scope)];
        let resp = self
            .api
            .send(op, tgt, Repeat::Safe, false, |h| {
                let b = h.get(&url).query(&query);
                match secret_header(&basic) {
                    Some(v) => b.header(AUTHORIZATION, v),
                    None => b,
                }
            })
            .await?;
        Ok(self.api.json::<AccessReply>(op, tgt, resp).await?.access_token)
    }

    /// The Azure AD token: `--azure-token` as given, else one obtained once for the service
    /// principal; `None` when there is neither.
    async fn aad_token(&self, tgt: &str) -> Result<Option<Secret>> {
        if let Some(t) = &self.azure {
            return Ok(Some(t.clone()));
        }
        let Some(sp) = &self.sp else { return Ok(None) };
        self.aad.get(|| self.client_credentials(sp, tgt)).await.map(Some)
    }

    /// Azure AD client-credentials flow: `POST {authority}/{tenant}/oauth2/v2.0/token` with the
    /// client id and secret, for the container registry's scope.
    async fn client_credentials(&self, sp: &ServicePrincipal, tgt: &str) -> Result<(Secret, Option<Duration>)> {
        let op = "get an Azure AD token for the service principal";
        let url = join(&sp.authority, &format!("/{}/oauth2/v2.0/token", encode(&sp.tenant_id)));
        let sent = self
            .api
            .send(op, tgt, Repeat::Safe, false, |h| {
                form(
                    h.post(&url),
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", sp.client_id.as_str()),
                        ("client_secret", sp.client_secret.expose()),
                        ("scope", AAD_SCOPE),
                    ],
                )
            })
            .await;
        let resp = match sent {
            Err(DriverError::Api(mut e)) if (400..500).contains(&e.status) && e.status != 429 => {
                e.hint = Some("Azure AD refused the service principal: check AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID".into());
                return Err(DriverError::Api(e));
            }
            other => other?,
        };
        let reply = self.api.json::<AccessReply>(op, tgt, resp).await?;
        Ok((reply.access_token, reply.expires_in.map(Duration::from_secs)))
    }

    /// Azure AD access token → ACR refresh token.
    async fn exchange(&self, aad: &Secret, op: &'static str, tgt: &str) -> Result<Secret> {
        let url = join(&self.base, "/oauth2/exchange");
        let resp = self
            .api
            .send(op, tgt, Repeat::Safe, false, |h| {
                form(
                    h.post(&url),
                    &[
                        ("grant_type", "access_token"),
                        ("service", self.service.as_str()),
                        ("access_token", aad.expose()),
                    ],
                )
            })
            .await?;
        Ok(self.api.json::<RefreshReply>(op, tgt, resp).await?.refresh_token)
    }
}

#[async_trait::async_trait]
impl Driver for AcrDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let token = self.access_token(repo, &format!("repository:{}:metadata_read", repo.path), op).await?;
        let mut pages = Pages::new(
            &self.api,
            op,
            &tgt,
            &self.base,
            "the tags",
            join(&self.base, &format!("/acr/v1/{}/_tags?n=100", repo.path)),
        );
        let mut entries = Vec::new();
        while let Some(url) = pages.next_page() {
            let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), Some(&token))).await?;
            if resp.status().as_u16() == 404 {
                pages.not_found()?;
                break;
            }
            let next = link(&resp);
            let list: TagList = self.api.json(op, &tgt, resp).await?;
            entries.extend(list.tags.into_iter().filter_map(|t| Some(TagEntry::new(t.name, t.digest.parse().ok()?))));
            pages.follow(next)?;
        }
        Ok(TagListing::sorted(entries, Vec::new()))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        crate::registry::validate_tag(tag).map_err(|p| self.api.protocol(op, &tgt, p))?;
        let token = self.access_token(repo, &format!("repository:{}:metadata_read,delete", repo.path), op).await?;
        let url = join(&self.base, &format!("/acr/v1/{}/_tags/{tag}", repo.path));
        let resp = self.api.send(op, &tgt, Repeat::Safe, true, |h| bearer(h.get(&url), Some(&token))).await?;
        if resp.status().as_u16() == 404 {
            return Err(DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() });
        }
        #[derive(serde::Deserialize)]
        struct One {
            tag: AcrTag,
        }
        let one: One = self.api.json(op, &tgt, resp).await?;
        let digest = one
            .tag
            .digest
            .parse()
            .map_err(|_| self.api.protocol(op, &tgt, format!("tag digest {:?}", one.tag.digest)))?;
        self.api.send(op, &tgt, Repeat::OnStatusOnly, false, |h| bearer(h.delete(&url), Some(&token))).await?;
        Ok(UntagOutcome { tag: tag.to_string(), digest, method: UntagMethod::NativeTag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (name, value) in pairs {
            s.set(name, value).unwrap();
        }
        s
    }

    #[test]
    fn a_service_principal_needs_id_secret_and_tenant() {
        let partial = settings(&[("azure-client-id", "app"), ("azure-tenant-id", "t")]);
        assert!(
            ServicePrincipal::from_settings(&partial).is_none(),
            "a lone client id (managed identity) is not a service principal"
        );
        let full = settings(&[("azure-client-id", "app"), ("azure-client-secret", "s3cret"), ("azure-tenant-id", "t")]);
        let sp = ServicePrincipal::from_settings(&full).unwrap();
        assert_eq!((sp.client_id.as_str(), sp.tenant_id.as_str(), sp.client_secret.expose()), ("app", "t", "s3cret"));
        assert_eq!(sp.authority.as_str(), "https://login.microsoftonline.com/");
        let sovereign = settings(&[
            ("azure-client-id", "a"),
            ("azure-client-secret", "s"),
            ("azure-tenant-id", "t"),
            ("azure-authority-host", "https://login.chinacloudapi.cn"),
        ]);
        assert_eq!(
            ServicePrincipal::from_settings(&sovereign).unwrap().authority.as_str(),
            "https://login.chinacloudapi.cn/"
        );
        assert!(
            Settings::new().with("azure-authority-host", "nope").is_err(),
            "a bad authority is refused with the flag's name"
        );
    }
}
