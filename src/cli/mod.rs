//! The command line: commands, flags, and every environment fallback (nowhere else reads
//! the environment). Turns flags into the explicit values the library takes.
//!
//! - this file: the top-level command and [`run`], which hands each command to its handler;
//! - [`commands`]: one file per command, with its own flags and its handler;
//! - `args`: flag groups several commands share (project, registry, static root, tags,
//!   locks) and what they build (clients, static roots, locks); `driver_args`: the
//!   drivers' own flags, declared by each driver; `connect`: the one way drivers and clients
//!   are built;
//! - `output`: every `--output json` document as a type with a JSON schema.
//!
//! Outside the crate only [`Cli`], [`run`] and [`Cli::verbose`] are seen (by `main.rs`).

mod args;
mod commands;
mod connect;
mod driver_args;
#[cfg(test)]
mod help_tests;
mod output;
mod progress;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;
use commands::build_and_publish::BuildArgs;
use commands::cleanup::CleanupCommand;
use commands::completion::{CompletionArgs, ManArgs};
use commands::config::ConfigCommand;
use commands::login::{LoginArgs, LogoutArgs};
use commands::pull::{PullArgs, ReferrersArgs};
use commands::push::PushArgs;
use commands::registry::RegistryCommand;
use commands::serve::ServeArgs;
use commands::tags::TagsCommand;

#[derive(Parser, Debug)]
#[command(name = "wharf", version, about = "Build only what changed, publish to any registry, clean up safely")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text, help_heading = "Output")]
    output: Output,
    /// More log output (-v info, -vv debug, -vvv trace). `RUST_LOG` works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    verbose: u8,
}

impl Cli {
    /// How many `-v` were given.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }
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
    /// Publish ready-made images (docker save archives, OCI layouts; gzipped or not) to a
    /// registry or a static root; several platforms become one image index.
    Push(Box<PushArgs>),
    /// Pull an artifact's files, or an image as an OCI layout or a docker archive, from a
    /// registry or a static root.
    Pull(Box<PullArgs>),
    /// List the manifests that refer to REF (signatures, SBOMs, attestations).
    Referrers(Box<ReferrersArgs>),
    /// Serve a static root (written by `push --static-root`) as a read-only registry.
    Serve(ServeArgs),
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
pub async fn run(cli: Cli) -> Result<(), Error> {
    let out = cli.output;
    match &cli.command {
        Command::BuildAndPublish(args) => commands::build_and_publish::run(args, out).await,
        Command::Push(args) => commands::push::run(args, out).await,
        Command::Pull(args) => commands::pull::pull(args, out).await,
        Command::Referrers(args) => commands::pull::referrers(args, out).await,
        Command::Serve(args) => commands::serve::run(args).await,
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
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command that talks to a registry through a driver offers every driver's
    /// settings, and groups its flags under headings.
    #[test]
    fn driver_settings_reach_every_command_with_a_driver() {
        let mut root = Cli::command();
        root.build();
        for path in [&["build-and-publish"][..], &["push"], &["pull"], &["referrers"], &["cleanup"], &["cleanup", "apply"], &["tags", "ls"], &["tags", "rm"]] {
            let mut cmd = &root;
            for name in path {
                cmd = cmd.find_subcommand(name).unwrap_or_else(|| panic!("{path:?}"));
            }
            for s in crate::drivers::settings::all() {
                let arg = cmd.get_arguments().find(|a| a.get_long() == Some(s.name)).unwrap_or_else(|| panic!("{path:?} lacks --{}", s.name));
                assert_eq!(arg.get_help_heading(), Some(driver_args::HEADING), "{path:?} --{}", s.name);
            }
        }
    }
}
