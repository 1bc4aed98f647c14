//! wharf's entry point: parse the command line, run, map the error to an exit code.

use clap::Parser;
use std::io::IsTerminal;
use wharf::cli::{CleanupAction, Cli, Command, ConfigCommand, Output, RegistryCommand, TagsCommand};
use wharf::error::{Error, exit};

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::OTHER);
        }
    };
    let code = match runtime.block_on(run(&cli)) {
        Ok(()) => exit::OK,
        Err(e) => {
            let code = e.exit_code();
            report_error(e);
            code
        }
    };
    std::process::exit(code);
}

async fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Command::BuildAndPublish(args) => {
            let report = wharf::cli::build_and_publish(args, cli.output).await?;
            match cli.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                Output::Text => print!("{}", report.to_text()),
            }
            Ok(())
        }
        Command::Push(args) => {
            let report = wharf::cli::push(args).await?;
            match cli.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                Output::Text => print!("{}", report.to_text()),
            }
            Ok(())
        }
        Command::Serve(args) => wharf::cli::serve(args).await,
        Command::Config(ConfigCommand::Schema) => {
            println!("{}", wharf::config::schema_json());
            Ok(())
        }
        Command::Config(ConfigCommand::Validate(args)) => {
            let result = args.load();
            let warnings = match &result {
                Ok(project) => project.warnings.as_slice(),
                Err(e) => e.warnings(),
            };
            match cli.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&wharf::config::Validation::of(&result)).unwrap_or_default()),
                Output::Text => {
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
        Command::Config(ConfigCommand::Render(args)) => {
            let (_, text) = wharf::config::render(&args.dir, args.config.as_deref(), &args.render_inputs()).map_err(Error::Config)?;
            print!("{text}");
            Ok(())
        }
        Command::Registry(RegistryCommand::Detect(args)) => {
            wharf::commands::print_detection(&wharf::commands::detect(args)?, cli.output);
            Ok(())
        }
        Command::Tags(TagsCommand::Ls(args)) => wharf::commands::tags_ls(args, cli.output).await,
        Command::Tags(TagsCommand::Rm(args)) => wharf::commands::tags_rm(args, cli.output).await,
        Command::Cleanup(c) => match &c.action {
            None => wharf::cleanup_cli::cleanup(&c.run, cli.output).await,
            Some(CleanupAction::Apply(args)) => wharf::cleanup_cli::apply(args, cli.output).await,
            Some(CleanupAction::Restore(args)) => wharf::cleanup_cli::restore(args, cli.output).await,
        },
    }
}

/// Config errors get miette's snippets on a terminal and plain `file:line:col` lines
/// otherwise (CI logs, pipes); every other error is one message with its hint.
fn report_error(e: Error) {
    match e {
        Error::Config(c) if std::io::stderr().is_terminal() => eprintln!("{:?}", miette::Report::new(c)),
        Error::Config(c) => eprintln!("{}", c.plain()),
        e => eprintln!("error: {e}"),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
