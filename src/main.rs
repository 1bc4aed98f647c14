//! wharf's entry point: parse the command line, run, map the error to an exit code.

use std::io::IsTerminal;
use wharf::error::{Error, exit};

fn main() {
    let cli = wharf::cli::parse();
    init_tracing(cli.verbose());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::OTHER);
        }
    };
    let code = match runtime.block_on(wharf::cli::run(cli)) {
        Ok(()) => exit::OK,
        Err(e) => {
            let code = e.exit_code();
            report_error(e);
            code
        }
    };
    std::process::exit(code);
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
