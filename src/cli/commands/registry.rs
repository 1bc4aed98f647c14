//! `wharf registry detect`: which driver a repository gets, and what `--repo-mode` means there
//! (no network).

use clap::{Args, Subcommand};

use super::super::Output;
use super::super::output::{self, Detection};
use crate::drivers;
use crate::error::Error;
use crate::naming::RepoMode;

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Print the driver chosen for REPO, its capabilities and what `--repo-mode` resolves to (no network).
    Detect(DetectArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Repository, e.g. `ghcr.io/acme`, `flant/project`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app`.
    pub repo: String,
    /// The mode to resolve (`auto` shows what auto means for REPO).
    #[arg(long, visible_alias = "images-repo-mode", value_enum, default_value_t = RepoMode::Auto, env = "WHARF_REPO_MODE", help_heading = "Project")]
    pub repo_mode: RepoMode,
    /// Use this driver instead of the one detected from the host.
    #[arg(long, value_name = "NAME", env = "WHARF_IMPLEMENTATION", help_heading = "Registry & credentials")]
    pub implementation: Option<String>,
}

pub fn run(command: &RegistryCommand, out: Output) -> Result<(), Error> {
    let RegistryCommand::Detect(args) = command;
    let d = detect(args)?;
    match out {
        Output::Json => output::print(&d),
        Output::Text => {
            println!("{}", d.driver);
            println!("  registry:   {}", d.title);
            println!("  repo mode:  {} (for {})", d.repo_mode, d.repository);
            println!("  credential: {}", d.needs);
        }
    }
    Ok(())
}

fn detect(args: &DetectArgs) -> Result<Detection, Error> {
    let repo = drivers::parse_repository(&args.repo).map_err(|e| Error::Usage(e.to_string()))?;
    let info = drivers::select(args.implementation.as_deref(), &repo)?;
    let repo_mode = drivers::resolve_layout(args.repo_mode, &repo, info).map_err(Error::Usage)?;
    Ok(Detection {
        repository: repo.to_string(),
        driver: info.name,
        title: info.title,
        capabilities: info.capabilities,
        repo_mode,
        docs: info.docs,
        needs: info.needs,
    })
}
