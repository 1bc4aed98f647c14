//! `wharf login [REGISTRY]` and `wharf logout [REGISTRY]`: a registry login checked, then kept
//! where docker keeps logins, so later commands need no credential flags and docker, skopeo
//! and crane find it too.
//!
//! Login decides, then does: the credential (`--username` with `--password-stdin` or
//! `WHARF_REGISTRY_PASSWORD`, else asked for on a terminal) is tried against the registry's
//! `/v2/` (through its token service when it has one) and, for a driver that trades the
//! login for a token of its own API (Docker Hub), against that API; only a credential both
//! accept is stored, by [`docker_login`](crate::auth::docker_login) (the configured
//! credential helper, else `auths` in `config.json`, mode 0600).

use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::super::Output;
use super::super::args::{RegistryArgs, docker_config_dir};
use super::super::driver_args::DriverArgs;
use super::super::output::{self, LoginDone, LogoutDone};
use crate::auth::docker_login::{self, Stored};
use crate::auth::normalise_host;
use crate::drivers::{self, DriverOptions};
use crate::error::Error;
use crate::registry::{Credential, CredentialStore, Repository};
use crate::secret::Secret;

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// Registry host, e.g. `ghcr.io`, `localhost:5000` (`docker.io` is Docker Hub).
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub server: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct LogoutArgs {
    /// Registry host (`docker.io` is Docker Hub).
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub server: String,
    /// Directory holding docker's config.json.
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR", help_heading = "Registry & credentials")]
    pub docker_config: Option<PathBuf>,
}

/// Checks the credential, stores it, says where.
pub async fn login(args: &LoginArgs, out: Output) -> Result<(), Error> {
    let host = host_of(&args.server)?;
    let username = username(args, &host)?;
    let password = password(args, &host, &username)?;
    let dir = docker_config_dir(args.registry.docker_config.as_deref())?;
    let checked = check(args, &host, &username, &password).await?;
    let stored = docker_login::save(&dir, &host, &username, &password, None).await.map_err(Error::Registry)?;
    let (how, location) = match &stored {
        Stored::Helper(name) => ("credential-helper", format!("docker-credential-{name}")),
        Stored::File(path) => ("config-file", path.display().to_string()),
    };
    let done = LoginDone {
        registry: host.clone(),
        username: username.clone(),
        stored: how,
        location: location.clone(),
        checked,
    };
    if !checked {
        eprintln!("warning: {host} lets anyone in without a login: the credential was stored but could not be checked");
    }
    if let Stored::File(path) = &stored {
        eprintln!(
            "warning: the password is stored base64-encoded, not encrypted, in {} (readable by you only); \
             configure a credential helper (\"credsStore\" in that file) to keep it in a keychain",
            path.display()
        );
    }
    match out {
        Output::Json => output::print(&done),
        Output::Text => println!("Logged in to {host} as {username} (stored in {location})"),
    }
    Ok(())
}

/// Removes the login for the registry from the helper and `config.json`.
pub async fn logout(args: &LogoutArgs, out: Output) -> Result<(), Error> {
    let host = host_of(&args.server)?;
    let dir = docker_config_dir(args.docker_config.as_deref())?;
    let removed = docker_login::remove(&dir, &host, None).await.map_err(Error::Registry)?;
    let done = LogoutDone {
        registry: host.clone(),
        removed: removed.anything(),
        helper: removed.helper.clone(),
        entries: removed.entries.clone(),
    };
    match out {
        Output::Json => output::print(&done),
        Output::Text if done.removed => println!("Logged out of {host}"),
        Output::Text => println!("Not logged in to {host}"),
    }
    Ok(())
}

/// The registry's host, as credentials are looked up by (`https://ghcr.io/` → `ghcr.io`).
fn host_of(server: &str) -> Result<String, Error> {
    let host = normalise_host(server);
    let valid =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(Error::Usage(format!("{server:?} is not a registry host (e.g. ghcr.io, localhost:5000)")));
    }
    Ok(host)
}

/// `--username` (or WHARF_REGISTRY_USERNAME), else asked for on a terminal.
fn username(args: &LoginArgs, host: &str) -> Result<String, Error> {
    if let Some(u) = args.registry.username.as_deref().filter(|u| !u.is_empty()) {
        return Ok(u.to_string());
    }
    if args.registry.password_stdin || !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "no username for {host}\n  hint: pass it with --username USER (-u), or set WHARF_REGISTRY_USERNAME"
        )));
    }
    eprint!("Username for {host}: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::Usage(format!("reading the username: {e}")))?;
    let user = line.trim().to_string();
    if user.is_empty() {
        return Err(Error::Usage("no username given".into()));
    }
    Ok(user)
}

/// `--password-stdin` or WHARF_REGISTRY_PASSWORD, else asked for on a terminal (not echoed).
fn password(args: &LoginArgs, host: &str, username: &str) -> Result<Secret, Error> {
    let given = match args.registry.password()? {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {username} at {host}: "))
                .map_err(|e| Error::Usage(format!("reading the password: {e}")))?
        }
        None => {
            return Err(Error::Usage(format!(
                "no password for {host}\n  hint: pipe it in: `echo \"$TOKEN\" | wharf login {host} -u {username} --password-stdin` (or set WHARF_REGISTRY_PASSWORD)"
            )));
        }
    };
    if given.is_empty() {
        return Err(Error::Usage(format!("the password for {host} is empty")));
    }
    Ok(Secret::new(given))
}

/// Tries the credential on the registry, then on the driver's own API where it logs in
/// there. `false`: the registry let an anonymous client in, so nothing could be checked.
async fn check(args: &LoginArgs, host: &str, username: &str, password: &Secret) -> Result<bool, Error> {
    let anonymous = args.registry.client_with(CredentialStore::new(), &[host])?;
    let open = anonymous.ping(host).await.is_ok();
    let credentials = CredentialStore::new().with_explicit(host, Credential::basic(username, password.clone()));
    let client = args.registry.client_with(credentials, &[host])?;
    client.ping(host).await.map_err(Error::Registry)?;
    // Drivers are made for a repository; the login check needs only the registry.
    let repo = Repository { registry: host.to_string(), path: "wharf/login".into() };
    let info = drivers::select(args.driver.implementation.as_deref(), &repo)?;
    let options = DriverOptions { client: client.clone(), settings: args.driver.settings.clone() };
    drivers::build(info, &options, &repo)?.check_login().await?;
    Ok(!open)
}
