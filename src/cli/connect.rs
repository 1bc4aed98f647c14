//! Drivers and registry clients for the commands, built one way for all of them.
//!
//! [`Connector::connect`] picks the driver (`--implementation`, else the host's), adds the
//! driver's own registry login (ECR's GetAuthorizationToken) to the credentials unless the
//! user gave some, builds the client once with them, and the driver once over that client.
//! [`site`] does the same for `tags` and `cleanup`, or opens the static root they work on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::args::{RegistryArgs, SiteArgs};
use super::driver_args::DriverArgs;
use crate::drivers::{self, Driver, DriverOptions, StaticDriver};
use crate::error::Error;
use crate::registry::{Client, Credential, CredentialStore, Repository};
use crate::store::Backend as Store;

/// Builds drivers and clients from the flags, with credentials read once (standard input is
/// read once for `--password-stdin`, however many registries are involved).
pub struct Connector<'a> {
    registry: &'a RegistryArgs,
    driver: &'a DriverArgs,
    credentials: CredentialStore,
    /// The user gave a username and password: they win over a driver's own login.
    explicit: bool,
    /// The registries the command names.
    registries: Vec<String>,
    /// Drivers' own logins, by driver and registry: obtained once per run.
    logins: Mutex<HashMap<(&'static str, String), Option<Credential>>>,
}

impl<'a> Connector<'a> {
    /// Credentials for `registries` from the flags, the environment and docker's config.
    pub fn new(registry: &'a RegistryArgs, driver: &'a DriverArgs, registries: &[&str]) -> Result<Self, Error> {
        let (credentials, explicit) = registry.credentials(registries)?;
        Ok(Connector {
            registry,
            driver,
            credentials,
            explicit,
            registries: registries.iter().map(|r| r.to_string()).collect(),
            logins: Mutex::default(),
        })
    }

    /// The driver for `repo` (`implementation` if given, else `--implementation`, else the
    /// one detected from the host) and the client it works over.
    pub async fn connect(
        &self,
        repo: &Repository,
        implementation: Option<&str>,
    ) -> Result<(Arc<dyn Driver>, Client), Error> {
        let info = drivers::select(implementation.or(self.driver.implementation.as_deref()), repo)?;
        let settings = &self.driver.settings;
        let mut credentials = self.credentials.clone();
        if !self.explicit
            && let Some(login) = self.login(info, repo).await?
        {
            credentials = credentials.with_explicit(&repo.registry, login);
        }
        let registries: Vec<&str> = self.registries.iter().map(String::as_str).collect();
        let client = self.registry.client_with(credentials, &registries)?;
        let driver = drivers::build(info, &DriverOptions { client: client.clone(), settings: settings.clone() }, repo)?;
        Ok((Arc::from(driver), client))
    }
}

impl Connector<'_> {
    /// The registry login `info`'s driver obtains itself for `repo`'s registry, once per
    /// registry however many repositories a command works on.
    async fn login(&self, info: &'static drivers::DriverInfo, repo: &Repository) -> Result<Option<Credential>, Error> {
        let key = (info.name, repo.registry.clone());
        if let Some(known) = self.logins.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(known);
        }
        let login = drivers::login(info, &self.driver.settings, repo).await?;
        if let Ok(mut m) = self.logins.lock() {
            m.insert(key, login.clone());
        }
        Ok(login)
    }
}

/// Where `tags` and `cleanup` work: a registry repository (its driver, and the distribution
/// client removals are read back through) or a static root's.
pub struct Site {
    pub repo: Repository,
    pub driver: Arc<dyn Driver>,
    pub store: Arc<dyn Store>,
}

/// `repo` as a [`Site`]: in the static root when `--static-root` is given, else in the
/// registry its host names (or `implementation`'s).
pub async fn site(repo: &str, args: &SiteArgs, implementation: Option<&str>) -> Result<Site, Error> {
    if let Some(found) = args.statics.driver().await? {
        let repo = static_repository(repo)?;
        let store: Arc<dyn Store> = Arc::new(found.root().clone());
        return Ok(Site { repo, driver: Arc::new(found), store });
    }
    let repo = drivers::parse_repository(repo).map_err(|e| Error::Usage(e.to_string()))?;
    let (driver, client) =
        Connector::new(&args.registry, &args.driver, &[repo.registry.as_str()])?.connect(&repo, implementation).await?;
    Ok(Site { repo, driver, store: Arc::new(client) })
}

/// A path inside `--static-root` as a repository of the static registry.
pub fn static_repository(path: &str) -> Result<Repository, Error> {
    StaticDriver::repository(path).map_err(|e| Error::Usage(format!("repository in --static-root: {e}")))
}
