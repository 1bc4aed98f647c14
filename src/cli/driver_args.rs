//! `--implementation` and every driver's own settings, as flags.
//!
//! The settings are not written out here: each driver declares its own in its row of
//! [`crate::drivers::DRIVERS`] (flag, environment variable, secret or not, help), and
//! [`DriverArgs`] turns all of them into clap arguments with the builder API (it implements
//! [`clap::Args`] by hand, so the derive-based commands flatten it like any other group).
//! Their values reach the drivers as [`Settings`]. Adding a driver changes nothing here.

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

use crate::drivers::settings::{self, Kind, Setting, Settings};

/// The help heading of registry and credential flags.
pub(super) const HEADING: &str = "Registry & credentials";

/// Driver choice and the drivers' settings.
#[derive(Debug, Clone, Default)]
pub struct DriverArgs {
    /// `--implementation`: the driver instead of the one detected from the host.
    pub implementation: Option<String>,
    /// Every driver setting given, by flag, variable or fallback.
    pub settings: Settings,
}

const IMPLEMENTATION: &str = "implementation";

/// The `--implementation` flag.
fn implementation_arg() -> Arg {
    Arg::new(IMPLEMENTATION)
        .long(IMPLEMENTATION)
        .value_name("NAME")
        .env("WHARF_IMPLEMENTATION")
        .help("Use this driver instead of the one detected from the host (`wharf registry detect` lists them)")
        .help_heading(HEADING)
}

/// The flag of one setting.
fn arg(s: &'static Setting) -> Arg {
    // Like the derived flags' doc comments: no final period.
    let help = s.help.strip_suffix('.').unwrap_or(s.help);
    let mut arg = Arg::new(s.name).long(s.name).help(help).help_heading(HEADING);
    if let Some(var) = s.env {
        arg = arg.env(var).hide_env_values(s.kind == Kind::Secret);
    }
    match s.kind {
        Kind::Switch => arg.action(ArgAction::SetTrue),
        _ => arg.action(ArgAction::Set).value_name(s.value_name),
    }
}

/// The value given for `s` on the command line or in its variable, else its fallback.
fn given(m: &ArgMatches, s: &Setting) -> Option<String> {
    let found = match s.kind {
        Kind::Switch => m.try_get_one::<bool>(s.name).ok().flatten().map(bool::to_string),
        _ => m.try_get_one::<String>(s.name).ok().flatten().cloned(),
    };
    let env = |k: &str| std::env::var(k).ok();
    found.filter(|v| !v.is_empty()).or_else(|| s.fallback.and_then(|f| f(&env)))
}

impl FromArgMatches for DriverArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = Settings::new();
        for s in settings::all() {
            if let Some(v) = given(m, s) {
                settings
                    .set(s.name, &v)
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n")))?;
            }
        }
        // werf's names for its implementations (`--repo-container-registry gcr`, `auto`).
        let implementation = m
            .try_get_one::<String>(IMPLEMENTATION)
            .ok()
            .flatten()
            .and_then(|i| super::werf::driver_name(i))
            .map(str::to_string);
        Ok(DriverArgs { implementation, settings })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for DriverArgs {
    fn augment_args(cmd: Command) -> Command {
        cmd.arg(implementation_arg()).args(settings::all().into_iter().map(arg))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        driver: DriverArgs,
    }

    fn parse(args: &[&str]) -> Result<DriverArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("wharf").chain(args.iter().copied())).map(|w| w.driver)
    }

    /// Every flag and variable name users have, from the drivers' own declarations.
    #[test]
    fn every_existing_flag_and_variable_still_works() {
        let cmd = Wrap::command_for_test();
        for (flag, var) in [
            ("implementation", Some("WHARF_IMPLEMENTATION")),
            ("api-url", Some("WHARF_API_URL")),
            ("github-token", Some("GITHUB_TOKEN")),
            ("gitlab-token", Some("GITLAB_TOKEN")),
            ("gitlab-job-token", Some("CI_JOB_TOKEN")),
            ("quay-token", Some("QUAY_TOKEN")),
            ("azure-token", Some("AZURE_ACCESS_TOKEN")),
            ("azure-client-id", Some("AZURE_CLIENT_ID")),
            ("azure-client-secret", Some("AZURE_CLIENT_SECRET")),
            ("azure-tenant-id", Some("AZURE_TENANT_ID")),
            ("azure-authority-host", Some("AZURE_AUTHORITY_HOST")),
            ("google-token", Some("GOOGLE_OAUTH_ACCESS_TOKEN")),
            ("google-application-credentials", Some("GOOGLE_APPLICATION_CREDENTIALS")),
            ("create-repositories", None),
        ] {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("--{flag} is missing"));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), var, "--{flag}");
        }
    }

    #[test]
    fn values_reach_the_settings_and_secrets_stay_hidden() {
        let args = parse(&[
            "--github-token",
            "ghp_supersecret",
            "--api-url",
            "https://ghe.example.com/api/v3",
            "--create-repositories",
            "--implementation",
            "github",
        ])
        .unwrap();
        assert_eq!(args.implementation.as_deref(), Some("github"));
        let s = &args.settings;
        assert_eq!(s.secret(settings::find("github-token").unwrap()).map(|t| t.expose()), Some("ghp_supersecret"));
        assert!(s.is_on(settings::find("create-repositories").unwrap()));
        assert!(!format!("{args:?}").contains("supersecret"));
        let help = Wrap::command_for_test().render_long_help().to_string();
        assert!(help.contains("--github-token <TOKEN>") && help.contains("[env: GITHUB_TOKEN]"), "{help}");
        let err = parse(&["--api-url", "nope"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--api-url \"nope\""), "{err}");
    }

    #[test]
    fn the_google_credentials_flag_wins_over_the_well_known_file() {
        let args = parse(&["--google-application-credentials", "/tmp/key.json"]).unwrap();
        let path = args.settings.path(settings::find("google-application-credentials").unwrap());
        assert_eq!(path, Some(std::path::Path::new("/tmp/key.json")));
    }

    impl Wrap {
        fn command_for_test() -> Command {
            <Self as clap::CommandFactory>::command()
        }
    }
}
