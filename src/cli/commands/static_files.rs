//! `wharf static push|ls|rm|gc`: per-platform files published as plain URLs in a directory or
//! an S3 bucket (see [`crate::static_registry::files`]).

use clap::{Args, Subcommand};
use std::path::PathBuf;

use super::super::Output;
use super::super::args::LockArgs;
use super::super::output;
use crate::error::Error;
use crate::static_registry::files::{self, FilesError, names};
use crate::static_registry::root::{S3Root, StaticRoot};

#[derive(Subcommand, Debug)]
pub enum StaticCommand {
    /// Publish DIR/<os>/<arch>[/<variant>]/<files> as DEST/<name>/<version>/…, then the
    /// version's release.json, then the version into DEST/<name>/tags.json.
    Push(StaticPushArgs),
    /// List the published versions of NAME, with their platforms and files.
    Ls(StaticLsArgs),
    /// Remove NAME:VERSION (out of tags.json first, then its files).
    Rm(StaticRmArgs),
    /// Remove all but the newest versions of NAME (semver versions by version, the others
    /// by push time), and what unfinished pushes left.
    Gc(StaticGcArgs),
}

/// Where the files are published.
#[derive(Args, Debug, Clone)]
pub struct DestArgs {
    /// A directory, or `s3://BUCKET/PREFIX` (credentials, region and endpoint from the AWS
    /// environment: AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL, profiles).
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Args, Debug, Clone)]
pub struct StaticPushArgs {
    /// What to publish, as NAME:VERSION (e.g. alba:1.2.3).
    #[arg(long = "tag", short = 't', value_name = "NAME:VERSION", help_heading = "Tags")]
    pub tag: String,
    /// The files: DIR/<os>/<arch>[/<variant>]/<file> (e.g. dist/linux/amd64/alba).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace the version if it is published already.
    #[arg(long, help_heading = "Push")]
    pub force: bool,
    #[command(flatten)]
    pub dest: DestArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

#[derive(Args, Debug, Clone)]
pub struct StaticLsArgs {
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub dest: DestArgs,
}

#[derive(Args, Debug, Clone)]
pub struct StaticRmArgs {
    #[arg(value_name = "NAME:VERSION")]
    pub reference: String,
    #[command(flatten)]
    pub dest: DestArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

#[derive(Args, Debug, Clone)]
pub struct StaticGcArgs {
    #[arg(value_name = "NAME")]
    pub name: String,
    /// How many versions to keep: the newest N semver versions, and the N last pushed of
    /// the others (e.g. latest, nightly).
    #[arg(long, value_name = "N", help_heading = "Cleanup")]
    pub keep: usize,
    /// Files of versions that are not published (an interrupted push) stay while younger
    /// than this (a push may be writing them); `0` removes them all.
    #[arg(long, value_name = "DURATION", default_value = "1h", help_heading = "Cleanup")]
    pub grace: String,
    /// Print the plan and change nothing.
    #[arg(long, help_heading = "Cleanup")]
    pub dry_run: bool,
    #[command(flatten)]
    pub dest: DestArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

impl DestArgs {
    async fn root(&self) -> Result<StaticRoot, Error> {
        if !self.dest.starts_with("s3://") {
            return Ok(StaticRoot::dir(std::path::Path::new(&self.dest)));
        }
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        S3Root::new(&sdk, &self.dest).map(StaticRoot::s3).map_err(|e| Error::Usage(format!("DEST {e}")))
    }

    /// The destination, with wharf's run lock on `name` in it held (what keeps pushes, rm and
    /// gc of one name on S3 apart; a directory root also has its own lock).
    async fn open(&self, name: &str, locks: &LockArgs) -> Result<(StaticRoot, crate::lock::Guard), Error> {
        let root = self.root().await?;
        let guard = locks.locks().await?.exclusive(&crate::lock::static_files(&root, name)).await?;
        Ok((root, guard))
    }
}

fn print<T: serde::Serialize>(out: Output, doc: &T, text: impl FnOnce(&T) -> String) {
    match out {
        Output::Json => output::print(doc),
        Output::Text => print!("{}", text(doc)),
    }
}

pub async fn run(command: &StaticCommand, out: Output) -> Result<(), Error> {
    match command {
        StaticCommand::Push(args) => {
            let (name, version) = names::parse_ref(&args.tag).map_err(|e| flag("--tag", e))?;
            let (root, _lock) = args.dest.open(&name, &args.locks).await?;
            let published = files::push(&root, &name, &version, &args.dir, args.force, chrono::Utc::now()).await?;
            print(out, &published, files::Published::to_text);
        }
        StaticCommand::Ls(args) => {
            names::validate_name(&args.name)?;
            let listing = files::list(&args.dest.root().await?, &args.name).await?;
            print(out, &listing, files::Listing::to_text);
        }
        StaticCommand::Rm(args) => {
            let (name, version) = names::parse_ref(&args.reference)?;
            let (root, _lock) = args.dest.open(&name, &args.locks).await?;
            let removed = files::remove(&root, &name, &version).await?;
            print(out, &removed, |r| {
                format!("removed {}:{} ({} file(s), {} bytes)\n", r.name, r.version, r.files, r.bytes)
            });
        }
        StaticCommand::Gc(args) => {
            names::validate_name(&args.name)?;
            let grace = crate::config::parse_go_duration(&args.grace)
                .map_err(|e| Error::Usage(format!("--grace {:?}: {e} (e.g. 1h, 30m, 0)", args.grace)))?;
            let (root, _lock) = args.dest.open(&args.name, &args.locks).await?;
            let plan = files::plan_gc(&root, &args.name, args.keep, grace, chrono::Utc::now()).await?;
            let removed = if args.dry_run { Vec::new() } else { files::gc(&root, &plan).await? };
            let report = files::GcReport { dry_run: args.dry_run, plan, removed };
            print(out, &report, files::GcReport::to_text);
        }
    }
    Ok(())
}

/// Names the flag a bad value came from.
fn flag(name: &str, e: FilesError) -> Error {
    match e {
        FilesError::Usage(m) => Error::Usage(format!("{name}: {m}")),
        other => other.into(),
    }
}
