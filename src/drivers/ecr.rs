//! The `ecr` driver: Amazon ECR through aws-sdk-ecr.
//!
//! - List: `ListImages` (tagged images, paginated) gives every tag with its digest.
//! - Untag: `DescribeImages` for the tag's digest, then `BatchDeleteImage` by tag: ECR removes
//!   just that tag, and the image with its last tag. Failures come back in `failures[]` with
//!   HTTP 200; each is reported with its `failureCode` and reason.
//! - Repositories must exist before a push: [`Driver::ensure_repository`] checks, and with
//!   `--create-repositories` creates them (`CreateRepository`).
//! - Registry login: `GetAuthorizationToken` ([`EcrDriver::registry_credential`], the row's
//!   [`DriverInfo::login`]).
//! - Credentials, region and endpoint come from the AWS default chain (environment, profiles,
//!   SSO, instance roles; `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_ECR`); the region defaults to
//!   the one in the registry host, the endpoint to `--api-url` when given.
//! - Hosts: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` and the dual-stack
//!   `<account>.dkr-ecr[-fips].<region>.on.aws`. ECR Public (`public.ecr.aws`) is another
//!   service with its own API (ecr-public), which this driver does not drive: it is refused
//!   with what to do instead.

use super::error::{ApiError, target};
use super::settings::{API_URL, Setting, Settings};
use super::{
    ApiBase, Capabilities, Digests, Driver, DriverError, DriverInfo, DriverOptions, Nesting, Result, TagEntry,
    TagListing, UntagMethod, UntagOutcome, UntagSemantics,
};
use crate::registry::{Credential, Repository};
use crate::spec::digest::Digest;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{ImageIdentifier, ListImagesFilter, TagStatus};
use base64::Engine as _;
use tokio::sync::OnceCell;

pub(super) const INFO: DriverInfo = DriverInfo {
    name: "ecr",
    title: "Amazon ECR",
    hosts: "`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, `<account>.dkr-ecr[-fips].<region>.on.aws`",
    matches: super::hosts::ecr,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: true,
        create_repository: true,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "AWS credentials from the default chain allowed ecr:ListImages, ecr:DescribeImages and ecr:BatchDeleteImage (to push: ecr:GetAuthorizationToken and ecr:DescribeRepositories, plus ecr:CreateRepository with --create-repositories)",
    docs: "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html",
    settings: &[API_URL, CREATE_REPOSITORIES],
    api: ApiBase::Sdk,
    login: Some(login),
    new: |opts, repo| Ok(Box::new(EcrDriver::for_settings(&opts.settings, repo)?)),
};

/// The registry login: `GetAuthorizationToken` through a driver made for it.
fn login<'a>(
    settings: &'a Settings,
    repo: &'a Repository,
) -> futures::future::BoxFuture<'a, Result<Option<Credential>>> {
    Box::pin(async move { EcrDriver::for_settings(settings, repo)?.registry_credential().await })
}

const CREATE_REPOSITORIES: Setting = Setting::switch(
    "create-repositories",
    "Create missing repositories before pushing (registries that need it, e.g. ECR).",
);

pub struct EcrDriver {
    sdk: OnceCell<aws_sdk_ecr::Client>,
    region: Option<String>,
    endpoint: Option<String>,
    /// The account in the registry host, passed as `registryId`.
    registry_id: Option<String>,
    /// The registry host is dual-stack (`….on.aws`): the API is called on its dual-stack
    /// endpoint too (`ecr.<region>.api.aws`), as an IPv6-only network needs.
    dual_stack: bool,
    create_repositories: bool,
}

impl EcrDriver {
    pub fn new(opts: &DriverOptions, repo: &Repository) -> Result<Self> {
        Self::for_settings(&opts.settings, repo)
    }

    /// The driver for `repo` with the API endpoint (`--api-url`) and `--create-repositories`
    /// from `settings`. ECR Public is refused: it is another service.
    fn for_settings(settings: &Settings, repo: &Repository) -> Result<Self> {
        if super::hosts::ecr_public(&repo.registry) {
            return Err(DriverError::Refused {
                driver: INFO.name,
                op: "set up",
                target: repo.to_string(),
                code: None,
                detail: "public.ecr.aws is ECR Public, a different service with its own API (ecr-public), which the ecr driver does not drive\n  hint: leave --implementation out (pushes and listing then use the distribution API); delete with `aws ecr-public batch-delete-image`".into(),
            });
        }
        let endpoint = settings.url(&API_URL).map(|u| u.as_str().trim_end_matches('/').to_string());
        Ok(Self::for_repo(repo, endpoint, settings.is_on(&CREATE_REPOSITORIES)))
    }

    /// A driver over an SDK client configured by the caller (tests, embedding).
    pub fn from_sdk(sdk: aws_sdk_ecr::Client, repo: &Repository, create_repositories: bool) -> Self {
        let driver = Self::for_repo(repo, None, create_repositories);
        let _ = driver.sdk.set(sdk);
        driver
    }

    fn for_repo(repo: &Repository, endpoint: Option<String>, create_repositories: bool) -> Self {
        let host = super::hosts::bare(&repo.registry);
        EcrDriver {
            sdk: OnceCell::new(),
            region: super::hosts::ecr_region(host),
            endpoint,
            registry_id: super::hosts::ecr_account(host),
            dual_stack: host.ends_with(".on.aws"),
            create_repositories,
        }
    }

    async fn sdk(&self) -> &aws_sdk_ecr::Client {
        self.sdk
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &self.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if self.dual_stack {
                    loader = loader.use_dual_stack(true);
                }
                if let Some(url) = &self.endpoint {
                    loader = loader.endpoint_url(url);
                }
                aws_sdk_ecr::Client::new(&loader.load().await)
            })
            .await
    }

    fn tag_id(tag: &str) -> ImageIdentifier {
        ImageIdentifier::builder().image_tag(tag).build()
    }
}

/// An SDK failure as a driver error: the service's code and message, the HTTP status, and on
/// access errors what the credential needs.
fn sdk_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    op: &'static str,
    tgt: &str,
    e: SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
) -> DriverError {
    let code = e.code().unwrap_or_default().to_string();
    let message = e.message().unwrap_or_default().to_string();
    let status = e.raw_response().map(|r| r.status().as_u16());
    let auth = matches!(status, Some(401 | 403))
        || ["AccessDenied", "UnrecognizedClient", "ExpiredToken", "InvalidSignature", "InvalidClientTokenId"]
            .iter()
            .any(|c| code.starts_with(c));
    let hint = auth.then(|| format!("the credential needs {}", INFO.needs));
    match status {
        Some(status) => DriverError::Api(Box::new(ApiError {
            driver: INFO.name,
            op,
            target: tgt.to_string(),
            status: if auth && status == 400 { 403 } else { status },
            detail: [code, message].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(": "),
            retry_after: None,
            rate_limited: false,
            hint,
        })),
        None => DriverError::Transport {
            driver: INFO.name,
            op,
            target: tgt.to_string(),
            detail: aws_sdk_ecr::error::DisplayErrorContext(&e).to_string(),
            source: None,
        },
    }
}

impl EcrDriver {
    /// The registry login from `GetAuthorizationToken` (user `AWS`, a 12-hour password).
    pub async fn registry_credential(&self) -> Result<Option<Credential>> {
        let op = "get authorization token";
        let out = self.sdk().await.get_authorization_token().send().await.map_err(|e| sdk_error(op, "ecr", e))?;
        let protocol =
            |detail: &str| DriverError::Protocol { driver: INFO.name, op, target: "ecr".into(), detail: detail.into() };
        let token = out
            .authorization_data()
            .first()
            .and_then(|d| d.authorization_token())
            .ok_or_else(|| protocol("no authorization data"))?;
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| protocol("the token is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| protocol("the token is not text"))?;
        let (user, password) = text.split_once(':').ok_or_else(|| protocol("the token is not USER:PASSWORD"))?;
        Ok(Some(Credential::basic(user, password)))
    }

    /// The digest `tag` names and every tag on that image; `None` when there is no such tag.
    async fn describe_tag(&self, repo: &Repository, tag: &str) -> Result<Option<(Digest, Vec<String>)>> {
        let (op, tgt) = ("describe image", target(repo, Some(tag)));
        let described = self
            .sdk()
            .await
            .describe_images()
            .set_registry_id(self.registry_id.clone())
            .repository_name(&repo.path)
            .image_ids(Self::tag_id(tag))
            .send()
            .await;
        let described = match described {
            Ok(d) => d,
            Err(e) if matches!(e.code(), Some("ImageNotFoundException" | "RepositoryNotFoundException")) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error(op, &tgt, e)),
        };
        let Some(detail) = described.image_details().first() else { return Ok(None) };
        let digest = detail.image_digest().and_then(|d| d.parse().ok()).ok_or_else(|| DriverError::Protocol {
            driver: INFO.name,
            op,
            target: tgt.clone(),
            detail: "the image has no digest".into(),
        })?;
        Ok(Some((digest, detail.image_tags().to_vec())))
    }
}

#[async_trait::async_trait]
impl Driver for EcrDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> Result<TagListing> {
        let (op, tgt) = ("list tags", repo.to_string());
        let filter = ListImagesFilter::builder().tag_status(TagStatus::Tagged).build();
        let mut stream = self
            .sdk()
            .await
            .list_images()
            .set_registry_id(self.registry_id.clone())
            .repository_name(&repo.path)
            .filter(filter)
            .into_paginator()
            .items()
            .send();
        let mut entries = Vec::new();
        while let Some(item) = stream.next().await {
            let id = match item {
                Ok(id) => id,
                Err(e) if e.code() == Some("RepositoryNotFoundException") => return Ok(TagListing::default()),
                Err(e) => return Err(sdk_error(op, &tgt, e)),
            };
            if let (Some(tag), Some(Ok(digest))) = (id.image_tag(), id.image_digest().map(str::parse)) {
                entries.push(TagEntry::new(tag, digest));
            }
        }
        Ok(TagListing::sorted(entries, Vec::new()))
    }

    async fn tag_digest(&self, repo: &Repository, tag: &str) -> Result<Option<Digest>> {
        Ok(self.describe_tag(repo, tag).await?.map(|(digest, _)| digest))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome> {
        let (op, tgt) = ("delete tag", target(repo, Some(tag)));
        let sdk = self.sdk().await;
        let not_found = || DriverError::TagNotFound { driver: INFO.name, repo: repo.to_string(), tag: tag.to_string() };
        let (digest, tags) = self.describe_tag(repo, tag).await?.ok_or_else(not_found)?;
        let last = tags == [tag];
        let out = sdk
            .batch_delete_image()
            .set_registry_id(self.registry_id.clone())
            .repository_name(&repo.path)
            .image_ids(Self::tag_id(tag))
            .send()
            .await
            .map_err(|e| sdk_error(op, &tgt, e))?;
        if let Some(f) = out.failures().first() {
            let code = f.failure_code().map(|c| c.as_str().to_string());
            if code.as_deref() == Some("ImageTagDoesNotMatchDigest") || code.as_deref() == Some("ImageNotFound") {
                return Err(not_found());
            }
            return Err(DriverError::Refused {
                driver: INFO.name,
                op,
                target: tgt,
                detail: format!("{}: {}", code.as_deref().unwrap_or("failure"), f.failure_reason().unwrap_or_default()),
                code,
            });
        }
        let method = if last { UntagMethod::LastTagVersion } else { UntagMethod::NativeTag };
        Ok(UntagOutcome { tag: tag.to_string(), digest, method })
    }

    async fn create_repository(&self, repo: &Repository) -> Result<()> {
        let result = self
            .sdk()
            .await
            .create_repository()
            .set_registry_id(self.registry_id.clone())
            .repository_name(&repo.path)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RepositoryAlreadyExistsException") => Ok(()),
            Err(e) => Err(sdk_error("create repository", &repo.to_string(), e)),
        }
    }

    async fn ensure_repository(&self, repo: &Repository) -> Result<()> {
        if self.create_repositories {
            return self.create_repository(repo).await;
        }
        let tgt = repo.to_string();
        let result = self
            .sdk()
            .await
            .describe_repositories()
            .set_registry_id(self.registry_id.clone())
            .repository_names(&repo.path)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RepositoryNotFoundException") => Err(DriverError::Refused {
                driver: INFO.name,
                op: "check repository",
                target: tgt,
                code: Some("RepositoryNotFoundException".into()),
                detail: "the repository does not exist and ECR does not create repositories on push\n  hint: create it (aws ecr create-repository) or pass --create-repositories".into(),
            }),
            Err(e) => Err(sdk_error("check repository", &tgt, e)),
        }
    }
}
