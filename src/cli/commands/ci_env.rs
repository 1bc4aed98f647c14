//! `wharf ci-env github|gitlab`: werf's `ci-env` — a session docker config logged in to the
//! CI system's registry, and the `export` lines that point the following `wharf build` (and
//! werf deploy steps) at it, at the CI registry's repository and at the job's environment.
//!
//! ```sh
//! source "$(wharf ci-env gitlab --as-file)"
//! wharf build --add-custom-tag '%image%-v1' --save-build-report
//! ```
//!
//! The session docker config is a copy of `--docker-config` (`DOCKER_CONFIG`, else
//! `~/.docker`), or with `--use-docker-auth-config` GitLab's `DOCKER_AUTH_CONFIG`, in a new
//! private directory; the job's registry login (GitLab's `CI_JOB_TOKEN`, GitHub's
//! `GITHUB_TOKEN`) is added to it unless `--login-to-registry=false`. The token is written
//! into that file only, never printed. What the script holds: [`crate::cli::werf::ci_env`].

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueEnum};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::super::args::ProjectArgs;
use super::super::werf::ci_env::{self, Ci, Form, Login, Tagging};
use super::super::werf::ignored::{self, WerfIgnored};
use crate::error::Error;

#[derive(Args, Debug)]
pub struct CiEnvArgs {
    /// The CI system.
    #[arg(value_enum, value_name = "CI_SYSTEM")]
    pub ci: Ci,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Directory holding the docker config.json the session's starts from (default: ~/.docker).
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR", help_heading = "Registry & credentials")]
    pub docker_config: Option<PathBuf>,
    /// Log in to the CI system's registry with the job's credentials (werf's flag).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub login_to_registry: bool,
    /// Make the session's docker config from DOCKER_AUTH_CONFIG instead of copying --docker-config.
    #[arg(long)]
    pub use_docker_auth_config: bool,
    /// Write the script to a file and print its path, for `source "$(wharf ci-env … --as-file)"`.
    #[arg(long)]
    pub as_file: bool,
    /// Write an env file (KEY=value lines, e.g. for $GITHUB_ENV) and print its path.
    #[arg(long)]
    pub as_env_file: bool,
    /// The file to write (then its path is not printed); default: a new file in the
    /// temporary directory.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output_file_path: Option<PathBuf>,
    /// The script's language.
    #[arg(long, value_enum, default_value_t = Shell::Default)]
    pub shell: Shell,
    /// werf 1.1's tagging: export the git tag or branch (`tag-or-branch`), or tag by
    /// content (`stages-signature`).
    #[arg(long, value_enum)]
    pub tagging_strategy: Option<Tagging>,
    #[command(flatten)]
    pub werf: WerfIgnored<ignored::CiEnv>,
}

/// werf's `--shell` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Any POSIX shell.
    Default,
    Cmdexe,
    Powershell,
}

pub fn run(args: &CiEnvArgs) -> Result<(), Error> {
    args.werf.notify();
    let env = |k: &str| std::env::var(k).ok();
    let form = match (args.as_env_file, args.shell) {
        (true, _) => Form::EnvFile,
        (false, Shell::Default) => Form::Unix,
        (false, Shell::Cmdexe) => Form::CmdExe,
        (false, Shell::Powershell) => Form::PowerShell,
    };
    let project = match args.ci {
        // GitHub's repository path ends with the project's name.
        Ci::Github => match args.project.load() {
            Ok(p) => Some(p.name),
            Err(crate::config::ConfigError::NotFound { .. }) => None,
            Err(e) => return Err(Error::Config(e)),
        },
        Ci::Gitlab => None,
    };
    let login = ci_env::login(args.ci, &env).filter(|_| args.login_to_registry);
    let docker_config = session_docker_config(args, login.as_ref())?;
    let text = ci_env::script(
        args.ci,
        &env,
        project.as_deref(),
        &docker_config.to_string_lossy(),
        form,
        args.tagging_strategy,
    )
    .map_err(Error::Usage)?;
    if !args.as_file && !args.as_env_file && args.output_file_path.is_none() {
        print!("{text}");
        return Ok(());
    }
    let written = match &args.output_file_path {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|source| Error::Io { what: format!("--output-file-path {}", path.display()), source })?;
            return Ok(());
        }
        None => {
            let suffix = match form {
                Form::CmdExe => ".bat",
                Form::PowerShell => ".ps1",
                Form::Unix | Form::EnvFile => "",
            };
            let prefix = if form == Form::EnvFile { "wharf-ci-env-" } else { "wharf-ci-env-source-" };
            let mut file = tempfile::Builder::new()
                .prefix(prefix)
                .suffix(suffix)
                .tempfile()
                .map_err(|source| Error::Io { what: "ci-env: a temporary file".into(), source })?;
            file.write_all(text.as_bytes())
                .map_err(|source| Error::Io { what: "ci-env: a temporary file".into(), source })?;
            file.into_temp_path()
                .keep()
                .map_err(|e| Error::Io { what: "ci-env: a temporary file".into(), source: e.error })?
        }
    };
    println!("{}", written.display());
    Ok(())
}

/// A new private docker config directory for the job: a copy of the user's (or
/// DOCKER_AUTH_CONFIG), with the CI registry's login added.
fn session_docker_config(args: &CiEnvArgs, login: Option<&Login>) -> Result<PathBuf, Error> {
    let fail = |source: std::io::Error| Error::Io { what: "ci-env: the session docker config".into(), source };
    let dir = tempfile::Builder::new().prefix("wharf-docker-config-").tempdir().map_err(fail)?.keep();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    let config = dir.join("config.json");
    if args.use_docker_auth_config {
        let auth = std::env::var("DOCKER_AUTH_CONFIG").ok().filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::Usage("--use-docker-auth-config: DOCKER_AUTH_CONFIG is not set\n  hint: set it to the content of a docker config.json, or leave the flag out".into())
        })?;
        write_private(&config, auth.as_bytes()).map_err(fail)?;
    } else {
        let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker"));
        if let Some(src) = args.docker_config.clone().or(home).filter(|d| d.is_dir()) {
            copy_tree(&src, &dir)
                .map_err(|source| Error::Io { what: format!("ci-env: copying {}", src.display()), source })?;
        }
    }
    if let Some(login) = login {
        add_login(&config, login)?;
    }
    Ok(dir)
}

/// Writes the login into `config` (`auths`), and drops a credential helper configured for
/// that registry, so that the login is what docker and wharf use there.
fn add_login(config: &Path, login: &Login) -> Result<(), Error> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(config).unwrap_or_else(|_| "{}".into());
    let mut doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a docker config: {e}", config.display())))?;
    if !doc.is_object() {
        doc = serde_json::json!({});
    }
    let raw = format!("{}:{}", login.username, login.password.expose());
    let auth = base64::engine::general_purpose::STANDARD.encode(raw);
    doc["auths"][&login.registry] = serde_json::json!({ "auth": auth });
    if let Some(helpers) = doc.get_mut("credHelpers").and_then(|h| h.as_object_mut()) {
        helpers.remove(&login.registry);
    }
    let bytes = serde_json::to_vec_pretty(&doc).expect("a JSON value serializes");
    write_private(config, &bytes)
        .map_err(|source| Error::Io { what: format!("ci-env: {}", config.display()), source })?;
    eprintln!("ci-env: logged in to {} as {} (in the session docker config)", login.registry, login.username);
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

/// Copies the directory `src` into `dst`: files, directories and symbolic links.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_file() {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}
