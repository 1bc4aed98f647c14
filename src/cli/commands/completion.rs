//! `wharf completion SHELL` and `wharf man`: shell completions (clap_complete) and man pages
//! (clap_mangen), generated from the command line itself, so they always match it.

use clap::{Args, CommandFactory};
use std::path::PathBuf;

use super::super::Cli;
use crate::error::Error;

#[derive(Args, Debug, Clone)]
pub struct CompletionArgs {
    /// The shell to complete in; load the script it prints, e.g. `source <(wharf completion bash)`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
pub struct ManArgs {
    /// Write a page per command (`wharf.1`, `wharf-build-and-publish.1`, `wharf-tags-ls.1`, …)
    /// into DIR instead of printing `wharf.1`; e.g. `--out-dir /usr/local/share/man/man1`.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script for the shell.
pub fn completion(args: &CompletionArgs) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "wharf", &mut script);
    print_bytes(&script)
}

/// Prints `wharf.1`, or writes every command's page into `--out-dir`.
pub fn man(args: &ManArgs) -> Result<(), Error> {
    let cmd = Cli::command();
    match &args.out_dir {
        Some(dir) => {
            let fail = |source: std::io::Error| Error::Io {
                what: format!("writing man pages into {}", dir.display()),
                source,
            };
            std::fs::create_dir_all(dir).map_err(fail)?;
            clap_mangen::generate_to(cmd, dir).map_err(fail)
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|source| Error::Io { what: "rendering the man page".into(), source })?;
            print_bytes(&page)
        }
    }
}

/// Writes to standard output; a reader that stops early (`| head`) is no error.
fn print_bytes(bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Io { what: "writing to standard output".into(), source: e })
        }
        _ => Ok(()),
    }
}
