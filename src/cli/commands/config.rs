//! `wharf config validate`, `wharf config render` and `wharf config schema`.

use clap::Subcommand;

use super::super::Output;
use super::super::args::ProjectArgs;
use super::super::output;
use crate::error::Error;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check the project file and print every problem with its location (`--output json`:
    /// errors and warnings for programs, on stdout, valid or not).
    Validate(ProjectArgs),
    /// Print the project file as rendered from its Go templates (not checked further).
    Render(ProjectArgs),
    /// Print the JSON schema of the project file.
    Schema,
}

pub fn run(command: &ConfigCommand, out: Output) -> Result<(), Error> {
    match command {
        ConfigCommand::Schema => {
            println!("{}", crate::config::schema_json());
            Ok(())
        }
        ConfigCommand::Validate(args) => validate(args, out),
        ConfigCommand::Render(args) => {
            let (_, text) = crate::config::render(&args.dir, args.config.as_deref(), &args.render_inputs())
                .map_err(Error::Config)?;
            print!("{text}");
            Ok(())
        }
    }
}

/// Loads the project and reports it; an invalid one is also the command's error (exit 3).
fn validate(args: &ProjectArgs, out: Output) -> Result<(), Error> {
    let result = args.load();
    match out {
        Output::Json => output::print(&crate::config::Validation::of(&result)),
        Output::Text => {
            let warnings = match &result {
                Ok(project) => project.warnings.as_slice(),
                Err(e) => e.warnings(),
            };
            for w in warnings {
                eprintln!("warning: {w}");
            }
            if let Ok(project) = &result {
                let stapel = match project.stapel.len() {
                    0 => String::new(),
                    n => format!(", {n} stapel image(s) not built by wharf"),
                };
                println!("{}: valid ({} image(s){stapel})", project.config_path.display(), project.images.len());
            }
        }
    }
    result.map(|_| ()).map_err(Error::Config)
}
