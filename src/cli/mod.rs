//! The command line: commands, flags, and every environment fallback (nowhere else reads
//! the environment). Turns flags into the explicit values the library takes.
//!
//! - this file: the top-level command and [`run`], which hands each command to its handler;
//! - [`commands`]: one file per command, with its own flags and its handler;
//! - `args`: flag groups several commands share (project, registry, static root, tags,
//!   locks) and what they build (clients, static roots, locks); `driver_args`: the
//!   drivers' own flags, declared by each driver; `connect`: the one way drivers and clients
//!   are built;
//! - `output`: every `--output json` document as a type with a JSON schema;
//! - `werf`: werf's command line on these commands (werf's flag names, `WERF_*` variables,
//!   werf flags accepted and ignored, `ci-env`, the build report).
//!
//! Outside the crate only [`Cli`], [`parse`], [`run`] and [`Cli::verbose`] are seen (by
//! `main.rs`).

mod args;
mod commands;
mod connect;
mod driver_args;
#[cfg(test)]
mod help_tests;
mod output;
mod progress;
mod werf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use commands::build_and_publish::BuildArgs;
use commands::ci_env::CiEnvArgs;
use commands::cleanup::CleanupCommand;
use commands::completion::{CompletionArgs, ManArgs};
use commands::config::ConfigCommand;
use commands::login::{LoginArgs, LogoutArgs};
use commands::pull::{PullArgs, ReferrersArgs};
use commands::push::PushArgs;
use commands::registry::RegistryCommand;
use commands::serve::ServeArgs;
use commands::static_files::StaticCommand;
use commands::tags::TagsCommand;

#[derive(Parser, Debug)]
#[command(name = "wharf", version, about = "Build only what changed, publish to any registry, clean up safely")]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text, help_heading = "Output")]
    output: Output,
    /// More log output (-v info, -vv debug, -vvv trace). `RUST_LOG` works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    verbose: u8,
    /// werf's `--log-verbose`: as `-v`.
    #[arg(long, global = true, hide = true)]
    log_verbose: bool,
    /// werf's `--log-debug`: as `-vv`.
    #[arg(long, global = true, hide = true)]
    log_debug: bool,
}

/// A parsed command line, ready to [`run`]; the flag types stay inside the crate.
#[derive(Debug)]
pub struct Invocation(Cli);

impl Invocation {
    /// How many `-v` were given (werf's `--log-verbose` is one, `--log-debug` two).
    pub fn verbose(&self) -> u8 {
        let werf = if self.0.log_debug { 2 } else { u8::from(self.0.log_verbose) };
        self.0.verbose.max(werf)
    }
}

/// Parses the command line, with werf's names and `WERF_*` variables for the flags werf
/// has too (see `werf::names`); exits with clap's message on a usage error.
pub fn parse() -> Invocation {
    let env = |k: &str| std::env::var(k).ok();
    let matches = werf::names::apply(Cli::command(), &env).get_matches();
    Invocation(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the project's images (only what changed) and publish them.
    BuildAndPublish(Box<BuildArgs>),
    /// werf 1.2's `build`: build the images (only what changed), and publish them to --repo
    /// when given, each under its content-based tag (and --add-custom-tag's).
    Build(Box<BuildArgs>),
    /// Print the variables that set repository, docker config and environment from the CI
    /// system's (werf's `ci-env`): `source "$(wharf ci-env gitlab --as-file)"`.
    CiEnv(Box<CiEnvArgs>),
    /// Publish ready-made images (docker save archives, OCI layouts; gzipped or not) to a
    /// registry or a static root; several platforms become one image index.
    Push(Box<PushArgs>),
    /// Pull an artifact's files, or an image as an OCI layout or a docker archive, from a
    /// registry or a static root.
    Pull(Box<PullArgs>),
    /// List the manifests that refer to REF (signatures, SBOMs, attestations).
    Referrers(Box<ReferrersArgs>),
    /// Serve a static root (written by `push --static-root`) as a read-only registry, and
    /// the files `wharf static push` published there.
    Serve(ServeArgs),
    /// Publish per-platform files (binaries, archives) as plain download URLs in a directory
    /// or S3 bucket: push, ls, rm, gc.
    #[command(subcommand)]
    Static(StaticCommand),
    /// Project configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What wharf knows about a registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// List and remove tags through the registry's driver.
    #[command(subcommand)]
    Tags(TagsCommand),
    /// Delete what git history and policies no longer keep (for a cron job).
    Cleanup(Box<CleanupCommand>),
    /// Check a registry login and store it where docker keeps logins (its credential helper,
    /// else config.json), for wharf, docker, skopeo and crane.
    Login(Box<LoginArgs>),
    /// Remove a registry login stored by `wharf login` or `docker login`.
    Logout(LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion(CompletionArgs),
    /// Print wharf's man page, or write one per command into a directory.
    Man(ManArgs),
}

/// Runs the command `cli` names; what it prints goes to standard output, problems to
/// standard error, and the error (if any) says the exit code.
pub async fn run(invocation: Invocation) -> Result<(), Error> {
    let cli = invocation.0;
    let out = cli.output;
    match &cli.command {
        Command::BuildAndPublish(args) => {
            commands::build_and_publish::run(args, out, commands::build_and_publish::Flavor::BuildAndPublish).await
        }
        Command::Build(args) => commands::build::run(args, out).await,
        Command::CiEnv(args) => commands::ci_env::run(args),
        Command::Push(args) => commands::push::run(args, out).await,
        Command::Pull(args) => commands::pull::pull(args, out).await,
        Command::Referrers(args) => commands::pull::referrers(args, out).await,
        Command::Serve(args) => commands::serve::run(args).await,
        Command::Static(command) => commands::static_files::run(command, out).await,
        Command::Config(command) => commands::config::run(command, out),
        Command::Registry(command) => commands::registry::run(command, out),
        Command::Tags(command) => commands::tags::run(command, out).await,
        Command::Cleanup(command) => commands::cleanup::run(command, out).await,
        Command::Login(args) => commands::login::login(args, out).await,
        Command::Logout(args) => commands::login::logout(args, out).await,
        Command::Completion(args) => commands::completion::completion(args),
        Command::Man(args) => commands::completion::man(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        // With werf's aliases and variables on: no alias clashes with a flag.
        werf::names::apply(Cli::command(), &|_| None).debug_assert();
    }

    /// werf's variables reach werf's commands, never wharf's own (`WERF_DRY_RUN` must not
    /// make `wharf push` a dry run).
    #[test]
    fn werf_variables_reach_only_werfs_commands() {
        let cmd = werf::names::apply(Cli::command(), &|_| None);
        let env_of = |path: &[&str], flag: &str| {
            let mut c = &cmd;
            for p in path {
                c = c.find_subcommand(p).unwrap();
            }
            c.get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(env_of(&["cleanup"], "dry-run").as_deref(), Some("WERF_DRY_RUN"));
        assert_eq!(env_of(&["build"], "save-build-report").as_deref(), Some("WERF_SAVE_BUILD_REPORT"));
        assert_eq!(env_of(&["config", "render"], "env").as_deref(), Some("WHARF_ENV"));
        assert_eq!(env_of(&["push"], "dry-run"), None);
        assert_eq!(env_of(&["tags", "rm"], "dry-run"), None);
    }

    /// Every command that talks to a registry through a driver offers every driver's
    /// settings, and groups its flags under headings.
    #[test]
    fn driver_settings_reach_every_command_with_a_driver() {
        let mut root = Cli::command();
        root.build();
        for path in [
            &["build-and-publish"][..],
            &["build"],
            &["push"],
            &["pull"],
            &["referrers"],
            &["cleanup"],
            &["cleanup", "apply"],
            &["tags", "ls"],
            &["tags", "rm"],
        ] {
            let mut cmd = &root;
            for name in path {
                cmd = cmd.find_subcommand(name).unwrap_or_else(|| panic!("{path:?}"));
            }
            for s in crate::drivers::settings::all() {
                let arg = cmd
                    .get_arguments()
                    .find(|a| a.get_long() == Some(s.name))
                    .unwrap_or_else(|| panic!("{path:?} lacks --{}", s.name));
                assert_eq!(arg.get_help_heading(), Some(driver_args::HEADING), "{path:?} --{}", s.name);
            }
        }
    }
}
