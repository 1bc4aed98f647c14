//! Registry drivers: what each registry does differently from the plain distribution API.
//!
//! A [`Driver`] lists tags with their digests, removes one tag without touching its siblings
//! ([`Driver::untag`]) and, where the registry needs it, creates repositories. Every driver
//! works over the shared distribution [`Client`] and overrides only what its registry's native
//! API does better, in one file each.
//!
//! One static table, [`DRIVERS`], drives host detection ([`detect`]), the values of
//! `--implementation` ([`by_name`], [`select`]), `--repo-mode auto` ([`resolve_layout`]) and
//! the README support matrix (`readme.rs`, kept current by a test).
//!
//! An operation a registry cannot do is an [`DriverError::Unsupported`] value, never a panic.
//! What a registry would refuse in a cleanup plan (GitHub: the last tagged version of a
//! package) it says in [`Driver::review_deletions`], so the plan keeps it with the reason; a
//! driver that can delete a whole repository ([`Capabilities::delete_repository`]) does it
//! for `--purge` through [`Driver::delete_repository`]. Hosts nothing can be deleted from
//! (read-only mirrors, ECR Public) get their deletes refused by [`build`].

mod acr;
mod api;
mod artifact_registry;
mod default;
mod dockerhub;
mod ecr;
mod error;
mod github;
mod github_packages;
mod gitlab;
mod google_auth;
mod harbor;
mod hosts;
mod layout;
mod listing;
mod pages;
mod quay;
mod rate_limit;
mod read_only;
#[cfg(test)]
mod readme;
pub(crate) mod settings;
mod token_cache;
mod untag;

pub use crate::static_registry::driver::{INFO as STATIC_INFO, StaticDriver};
pub use acr::AcrDriver;
pub use artifact_registry::ArtifactRegistryDriver;
pub use default::DefaultDriver;
pub use dockerhub::DockerHubDriver;
pub use ecr::EcrDriver;
pub use error::{ApiError, DriverError};
pub use github::GithubDriver;
pub use gitlab::GitlabDriver;
pub use harbor::HarborDriver;
pub use layout::{parse_repository, resolve_layout};
pub use listing::{BrokenTag, Digests, TagEntry, TagListing};
pub use quay::QuayDriver;
pub use settings::{Setting, Settings};
pub use untag::{UNTAG_ANNOTATION, is_throwaway, throwaway_manifest};

use crate::registry::{Client, Credential, Repository};
use crate::spec::digest::Digest;

pub type Result<T, E = DriverError> = std::result::Result<T, E>;

/// How a tag was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UntagMethod {
    /// The registry's API removed just the tag.
    NativeTag,
    /// `DELETE /v2/<name>/manifests/<tag>` (OCI distribution 1.1) removed just the tag.
    TagDelete,
    /// The tag was moved onto a unique throwaway manifest, whose digest was then deleted.
    ThrowawayManifest,
    /// The tag was the last one of its version/image, which was deleted with it.
    LastTagVersion,
}

/// What [`Driver::untag`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UntagOutcome {
    pub tag: String,
    /// The digest the tag pointed at before (the image itself is kept unless `method` says so).
    pub digest: Digest,
    pub method: UntagMethod,
}

/// Which repository names a registry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Nesting {
    /// Any number of `/`-separated components.
    Any,
    /// Exactly `account/repository` (Docker Hub, quay.io).
    AccountRepository,
}

/// How a single tag is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UntagSemantics {
    /// Digest deletes only: a throwaway manifest takes the tag, then its digest is deleted.
    ThrowawayManifest,
    /// The distribution API's tag delete where the registry does it safely (probed once per
    /// registry and run), else the throwaway manifest.
    TagDeleteOrThrowaway,
    /// The native API deletes one tag and leaves the image and its other tags.
    NativeTag,
    /// The native API deletes versions: the version goes when the tag is its last, otherwise
    /// the tag moves to a throwaway manifest whose version is deleted.
    VersionOrThrowaway,
}

impl UntagSemantics {
    /// How a tag goes, for people (`tags rm --dry-run`, README).
    pub fn describe(self) -> &'static str {
        match self {
            UntagSemantics::NativeTag => "native tag delete",
            UntagSemantics::ThrowawayManifest => "throwaway manifest, then digest delete",
            UntagSemantics::TagDeleteOrThrowaway => {
                "tag delete where the registry supports it (probed), else throwaway manifest and digest delete"
            }
            UntagSemantics::VersionOrThrowaway => "version delete if last tag, else throwaway manifest",
        }
    }
}

impl UntagMethod {
    /// What was done, for people.
    pub fn describe(self) -> &'static str {
        match self {
            UntagMethod::NativeTag => "tag deleted through the registry's API",
            UntagMethod::TagDelete => "tag deleted through the distribution API",
            UntagMethod::ThrowawayManifest => "tag moved to a throwaway manifest, which was deleted",
            UntagMethod::LastTagVersion => "it was the image's last tag; the image was deleted",
        }
    }
}

/// What a registry can do, as the table states it (no network needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Capabilities {
    pub nesting: Nesting,
    /// A repository must exist before anything is pushed to it.
    pub create_before_push: bool,
    /// The driver can create repositories.
    pub create_repository: bool,
    pub untag: UntagSemantics,
    /// Tags and digests are listed through the registry's own API.
    pub native_list: bool,
    /// The driver can delete a repository as a whole ([`Driver::delete_repository`]).
    pub delete_repository: bool,
}

/// One tag of a cleanup plan, as [`Driver::review_deletions`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTag {
    pub tag: String,
    pub digest: Digest,
    /// The plan deletes it (else it stays).
    pub delete: bool,
}

/// What a registry says about one repository's planned deletions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Review {
    /// The deletions can go ahead tag by tag.
    #[default]
    AsPlanned,
    /// The registry would refuse to delete these tags: the plan keeps them, with the reason.
    Keep { tags: Vec<String>, reason: String },
    /// Delete the repository as a whole instead of tag by tag (offered for a purge only).
    DeleteRepository { reason: String },
}

/// One row of [`DRIVERS`].
#[derive(Debug)]
pub struct DriverInfo {
    /// The `--implementation` value.
    pub name: &'static str,
    /// The registry's name for people.
    pub title: &'static str,
    /// The hosts detected, for people (the README matrix).
    pub hosts: &'static str,
    /// Whether a registry host (`host[:port]`, lowercase) belongs to this driver.
    pub matches: fn(&str) -> bool,
    pub capabilities: Capabilities,
    /// What the credential needs for listing and untagging (auth hints and README).
    pub needs: &'static str,
    /// The vendor's documentation for what the driver uses.
    pub docs: &'static str,
    /// What the driver reads from flags and the environment ([`settings`]): `cli/` offers
    /// each as a flag and passes the values in [`DriverOptions::settings`].
    pub settings: &'static [Setting],
    /// Where the registry's native API is when `--api-url` does not say.
    pub api: ApiBase,
    /// A registry login the driver obtains itself (ECR's GetAuthorizationToken), used for the
    /// registry unless the user gave credentials.
    pub login: Option<Login>,
    /// Builds the driver for one registry.
    pub new: fn(&DriverOptions, &Repository) -> Result<Box<dyn Driver>>,
}

/// Obtains the driver's own registry login from its settings, for `repo`'s registry.
pub type Login = for<'a> fn(&'a Settings, &'a Repository) -> futures::future::BoxFuture<'a, Result<Option<Credential>>>;

/// Where a driver's native API is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiBase {
    /// The vendor's public API (`https://api.github.com`).
    Vendor(&'static str),
    /// On the registry's own host (`https://<registry>`).
    RegistryHost,
    /// Found by the vendor's SDK (`--api-url` overrides its endpoint).
    Sdk,
    /// No native API: the distribution API only.
    None,
}

/// What a driver is built with. Values come from `cli/`.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// The distribution client, with the registry's credentials.
    pub client: Client,
    /// The drivers' settings given (each driver reads its own).
    pub settings: Settings,
}

impl DriverOptions {
    pub fn new(client: Client) -> Self {
        DriverOptions { client, settings: Settings::default() }
    }

    /// The base URL of `info`'s native API for `repo`: `--api-url` when given, else where the
    /// row says ([`DriverInfo::api`]).
    pub fn api_base(&self, info: &'static DriverInfo, repo: &Repository) -> Result<url::Url> {
        if let Some(u) = self.settings.url(&settings::API_URL) {
            return Ok(u.clone());
        }
        let invalid = |detail: String| DriverError::Protocol {
            driver: info.name,
            op: "set up",
            target: repo.to_string(),
            detail,
        };
        match info.api {
            ApiBase::Vendor(base) => url::Url::parse(base).map_err(|e| invalid(format!("{base}: {e}"))),
            ApiBase::RegistryHost => {
                url::Url::parse(&format!("https://{}", repo.registry)).map_err(|_| invalid("not a valid host".into()))
            }
            ApiBase::Sdk | ApiBase::None => Err(invalid("the driver has no API base URL".into())),
        }
    }
}

/// A registry as wharf sees it.
#[async_trait::async_trait]
pub trait Driver: Send + Sync {
    /// The table row this driver was built from.
    fn info(&self) -> &'static DriverInfo;

    fn capabilities(&self) -> Capabilities {
        self.info().capabilities
    }

    /// Every tag of `repo` (nothing when the repository does not exist), with the digests
    /// `digests` asks for, and the tags whose manifest cannot be read apart. Drivers whose
    /// listing carries digests give them all, whatever `digests` says.
    async fn list(&self, repo: &Repository, digests: Digests<'_>) -> Result<TagListing>;

    /// The digest `tag` names now, through the registry's own API; `None` when there is no such
    /// tag. Drivers without such an API answer [`DriverError::Unsupported`], and callers read
    /// the tag through the distribution API instead (removals are confirmed this way).
    async fn tag_digest(&self, repo: &Repository, tag: &str) -> Result<Option<Digest>> {
        let _ = (repo, tag);
        Err(DriverError::Unsupported { driver: self.info().name, op: "read a tag" })
    }

    /// Removes `tag` from `repo`; every other tag keeps pointing where it did.
    async fn untag(&self, repo: &Repository, tag: &str) -> Result<UntagOutcome>;

    /// Looks at one repository's planned deletions (`planned` holds every listed tag of it) and
    /// says what the registry would refuse, so the plan shows it instead of a failed run.
    /// `purge`: the plan deletes everything of the project (`wharf cleanup --purge`).
    async fn review_deletions(&self, repo: &Repository, planned: &[PlannedTag], purge: bool) -> Result<Review> {
        let _ = (repo, planned, purge);
        Ok(Review::AsPlanned)
    }

    /// Deletes `repo` as a whole, after checking that it holds exactly the tags in `expected`
    /// (each with its digest): a tag pushed since the plan was made is never deleted unseen.
    async fn delete_repository(&self, repo: &Repository, expected: &[TagEntry]) -> Result<()> {
        let _ = (repo, expected);
        Err(DriverError::Unsupported { driver: self.info().name, op: "delete a repository" })
    }

    /// Creates `repo` if the registry needs repositories created before a push.
    async fn create_repository(&self, repo: &Repository) -> Result<()> {
        let _ = repo;
        Err(DriverError::Unsupported { driver: self.info().name, op: "create repository" })
    }

    /// Makes sure a push to `repo` can succeed: a no-op where pushes create repositories;
    /// where they must exist first, checks (and creates when the options allow it).
    async fn ensure_repository(&self, repo: &Repository) -> Result<()> {
        let _ = repo;
        Ok(())
    }

    /// Checks the registry login with the registry's own API too, where the driver uses it
    /// there (Docker Hub trades it for an API token), so `wharf login` refuses a credential the
    /// driver would be refused with later. Nothing to check elsewhere.
    async fn check_login(&self) -> Result<()> {
        Ok(())
    }

    /// Where wharf owns the storage (a static root), deletes what no tag reaches any more
    /// and says what went; `None` where the registry collects its own garbage.
    async fn collect_garbage(&self, repo: &Repository) -> Result<Option<crate::static_registry::gc::Collected>> {
        let _ = repo;
        Ok(None)
    }
}

/// Every driver. `default` is last and matches any host.
pub static DRIVERS: &[DriverInfo] = &[
    ecr::INFO,
    acr::INFO,
    dockerhub::INFO,
    github::INFO,
    gitlab::INFO,
    harbor::INFO,
    quay::INFO,
    artifact_registry::INFO,
    default::INFO,
];

/// The names `--implementation` accepts.
pub fn names() -> Vec<&'static str> {
    DRIVERS.iter().map(|d| d.name).collect()
}

/// The driver called `name`; an unknown name is an error listing the valid ones.
pub fn by_name(name: &str) -> Result<&'static DriverInfo> {
    DRIVERS.iter().find(|d| d.name.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
        let suggestion = DRIVERS
            .iter()
            .map(|d| (strsim::jaro_winkler(d.name, name), d.name))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n);
        DriverError::UnknownImplementation { name: name.to_string(), valid: names().join(", "), suggestion }
    })
}

/// The driver for a registry host (no network): the first row whose matcher accepts it.
pub fn detect(registry: &str) -> &'static DriverInfo {
    let host = registry.to_ascii_lowercase();
    DRIVERS.iter().find(|d| (d.matches)(&host)).unwrap_or(&default::INFO)
}

/// `--implementation NAME` when given, else the driver detected for `repo`'s host.
pub fn select(implementation: Option<&str>, repo: &Repository) -> Result<&'static DriverInfo> {
    match implementation {
        Some(name) => by_name(name),
        None => Ok(detect(&repo.registry)),
    }
}

/// The registry login `info`'s driver obtains itself for `repo` (see [`DriverInfo::login`]);
/// `None` for drivers that use the usual credential sources.
pub async fn login(info: &'static DriverInfo, settings: &Settings, repo: &Repository) -> Result<Option<Credential>> {
    match info.login {
        Some(login) => login(settings, repo).await,
        None => Ok(None),
    }
}

/// Builds the driver `info` describes for `repo`'s registry. On hosts nothing can be deleted
/// from (read-only mirrors, ECR Public), deletes are refused with the reason.
pub fn build(info: &'static DriverInfo, opts: &DriverOptions, repo: &Repository) -> Result<Box<dyn Driver>> {
    let driver = (info.new)(opts, repo)?;
    Ok(match hosts::read_only(&repo.registry) {
        Some(why) => Box::new(read_only::ReadOnly::new(driver, why)),
        None => driver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_default_is_last() {
        let mut names = names();
        assert_eq!(names.last(), Some(&"default"));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DRIVERS.len());
    }

    #[test]
    fn unknown_implementation_lists_the_valid_ones() {
        let err = by_name("dockrhub").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"dockrhub\""), "{text}");
        for n in names() {
            assert!(text.contains(n), "{n} missing: {text}");
        }
        assert!(text.contains("did you mean dockerhub"), "{text}");
        assert_eq!(by_name("GitHub").unwrap().name, "github");
    }

    #[test]
    fn select_prefers_the_flag() {
        let repo: Repository = "ghcr.io/org/app".parse().unwrap();
        assert_eq!(select(None, &repo).unwrap().name, "github");
        assert_eq!(select(Some("default"), &repo).unwrap().name, "default");
        assert!(select(Some("nope"), &repo).is_err());
    }

    #[test]
    fn options_never_print_tokens() {
        let mut opts = DriverOptions::new(Client::new(Default::default()).unwrap());
        for (name, value) in [
            ("github-token", "ghp_supersecret"),
            ("azure-token", "aad-supersecret"),
            ("azure-client-secret", "sp-supersecret"),
        ] {
            opts.settings.set(name, value).unwrap();
        }
        let dump = format!("{opts:?}");
        assert!(!dump.contains("supersecret"), "{dump}");
    }

    #[test]
    fn api_urls_default_to_the_row_and_yield_to_the_flag() {
        let opts = DriverOptions::new(Client::new(Default::default()).unwrap());
        let repo: Repository = "quay.example.com/a/b".parse().unwrap();
        assert_eq!(opts.api_base(by_name("github").unwrap(), &repo).unwrap().as_str(), "https://api.github.com/");
        assert_eq!(opts.api_base(by_name("quay").unwrap(), &repo).unwrap().as_str(), "https://quay.example.com/");
        assert!(opts.api_base(by_name("default").unwrap(), &repo).is_err());
        let given =
            DriverOptions { settings: Settings::new().with("api-url", "https://api.example.com/v9").unwrap(), ..opts };
        assert_eq!(given.api_base(by_name("github").unwrap(), &repo).unwrap().as_str(), "https://api.example.com/v9");
    }

    #[test]
    fn every_driver_is_built_without_network() {
        let client = Client::new(Default::default()).unwrap();
        let opts = DriverOptions::new(client);
        let repo: Repository = "registry.example.com/a/b".parse().unwrap();
        for info in DRIVERS {
            let driver = build(info, &opts, &repo).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            assert_eq!(driver.info().name, info.name);
        }
    }
}
