//! `wharf config validate` and `wharf config schema`.

use clap::Subcommand;

use super::super::Output;
use super::super::args::ProjectArgs;
use super::super::output::ConfigValidation;
use crate::error::Error;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check the project file and print every problem with its location.
    Validate(ProjectArgs),
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
    }
}

fn validate(args: &ProjectArgs, out: Output) -> Result<(), Error> {
    let project = crate::config::load(&args.dir, args.config.as_deref()).map_err(Error::Config)?;
    for w in &project.warnings {
        eprintln!("warning: {w}");
    }
    match out {
        Output::Json => {
            let doc = ConfigValidation {
                images: project.images.iter().map(|i| i.name.clone()).collect(),
                project: project.name.clone(),
                valid: true,
            };
            // One line, as it always was.
            println!("{}", serde_json::to_string(&doc).unwrap_or_default());
        }
        Output::Text => println!(
            "{}: valid ({} image(s))",
            project.config_path.display(),
            project.images.len()
        ),
    }
    Ok(())
}
