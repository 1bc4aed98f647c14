//! `wharf push`: ready-made images (docker save archives, OCI layouts) to a registry or a
//! static root; several platforms become one image index.

use clap::Args;
use std::path::PathBuf;

use super::super::Output;
use super::super::args::{LockArgs, RegistryArgs, TagArgs, ci_git_info, static_root};
use super::super::connect::Connector;
use super::super::driver_args::DriverArgs;
use super::super::output;
use crate::error::Error;
use crate::gitinfo::Head;
use crate::push::annotate::{Annotation, AnnotationPlan, Provenance};
use crate::push::{self, PushOptions, PushReport};
use crate::registry::Reference;
use crate::store::{ImageStore, RegistryStore, StaticStore};
use std::sync::Arc;

#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// Images to publish: `docker save` archives, OCI layout directories or tars (gzipped or
    /// not); `SRC:REF` picks one image of a source that holds several.
    #[arg(required = true, num_args = 1.., value_name = "SRC")]
    pub sources: Vec<String>,
    /// `[oci://]HOST/REPO[:TAG]`, or `REPO[:TAG]` inside --static-root.
    #[arg(required = true, value_name = "DEST")]
    pub dest: String,
    /// A tag to publish (repeatable; DEST's own tag is one too).
    #[arg(long = "tag", short = 't', value_name = "TAG", help_heading = "Tags")]
    pub tag: Vec<String>,
    #[command(flatten)]
    pub tags: TagArgs,
    /// `KEY=VALUE` on every manifest and the index; `manifest:KEY=VALUE` or `index:KEY=VALUE`
    /// on one of them (repeatable).
    #[arg(long = "annotation", value_name = "[manifest:|index:]KEY=VALUE", value_parser = parse_annotation, help_heading = "Annotations")]
    pub annotations: Vec<Annotation>,
    /// Do not fill `org.opencontainers.image.*` annotations from image labels and git.
    #[arg(long, help_heading = "Annotations")]
    pub no_default_annotations: bool,
    /// Print what would be published (digests, references) and publish nothing.
    #[arg(long, help_heading = "Push")]
    pub dry_run: bool,
    /// Where archives are unpacked while pushing (default: the system's temporary directory).
    #[arg(long, value_name = "DIR", env = "WHARF_WORK_DIR", help_heading = "Push")]
    pub work_dir: Option<PathBuf>,
    /// Publish into a static registry (files any web server can serve; see `wharf serve`)
    /// under a directory or `s3://BUCKET/PREFIX` instead of a registry. DEST is then
    /// `REPO[:TAG]`. S3 credentials, region and endpoint come from the AWS environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, profiles).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", help_heading = "Registry & credentials")]
    pub static_root: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

fn parse_annotation(s: &str) -> Result<Annotation, String> {
    s.parse()
}

/// Runs `push` and prints its report.
pub async fn run(args: &PushArgs, out: Output) -> Result<(), Error> {
    let report = push(args).await?;
    match out {
        Output::Json => output::print(&report),
        Output::Text => print!("{}", report.to_text()),
    }
    Ok(())
}

/// Provenance of what is pushed: the CI environment first, then the checkout at `dir`.
fn provenance(dir: &std::path::Path) -> Provenance {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let head = Head::discover(dir);
    let ci_source = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
        _ => var("CI_PROJECT_URL"),
    };
    Provenance {
        source: ci_source.or(head.remote),
        revision: ci_git_info().commit.or(head.commit),
        created: head.time,
    }
}

/// Reads and checks every source, plans, and (unless `--dry-run`) publishes.
async fn push(args: &PushArgs) -> Result<PushReport, Error> {
    let (dest, specs) = (&args.dest, &args.sources);
    let mut driver = None;
    // The repository lock's name: the registry repository, or the path inside the static root
    // (as `tags rm` and cleanup on that root name it).
    let (destination, dest_tag, lock_repo): (Arc<dyn ImageStore>, _, _) = match &args.static_root {
        Some(root) => {
            let (repo, tag) = push::parse_static_dest(dest).map_err(Error::Usage)?;
            let lock_repo = crate::drivers::StaticDriver::repository(&repo).map_err(Error::Usage)?;
            (StaticStore::shared(static_root(root).await?, repo), tag, lock_repo)
        }
        None => {
            let reference: Reference = dest.parse().map_err(|e| Error::Usage(format!("DEST: {e}")))?;
            if reference.digest.is_some() {
                return Err(Error::Usage(format!("DEST {dest}: a destination takes a tag, not a digest")));
            }
            let connector = Connector::new(&args.registry, &args.driver, &[reference.repo.registry.as_str()])?;
            let (found, client) = connector.connect(&reference.repo, None).await?;
            driver = Some(found);
            (RegistryStore::shared(client, reference.repo.clone()), reference.tag, reference.repo)
        }
    };
    let cwd = PathBuf::from(".");
    let mut tags = args.tags.resolve_given(&cwd)?;
    tags.custom = dest_tag.iter().chain(&args.tag).chain(&tags.custom).cloned().collect();
    let annotations = AnnotationPlan {
        given: args.annotations.clone(),
        provenance: if args.no_default_annotations { Provenance::default() } else { provenance(&cwd) },
        defaults: !args.no_default_annotations,
    };
    let staging = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let specs = specs.to_vec();
    let sources = tokio::task::spawn_blocking(move || push::read_sources(&specs, &staging))
        .await
        .map_err(|e| Error::Usage(format!("reading the sources failed: {e}")))?
        .map_err(Error::Push)?;
    let plan = push::plan(&sources, &destination, &PushOptions { tags, annotations }).map_err(Error::Push)?;
    if args.dry_run {
        return Ok(PushReport { plan, stats: Default::default(), dry_run: true });
    }
    if let (Some(driver), Some((_, repo))) = (&driver, destination.registry()) {
        driver.ensure_repository(repo).await?;
    }
    // Cleanup (and `tags rm` on a static root) take this lock exclusively: they never
    // collect a blob this push found in place and did not upload again.
    let _lock = args.locks.locks().await?.shared(&crate::lock::repository(&lock_repo)).await?;
    let report = push::execute(plan).await.map_err(Error::Push)?;
    drop(sources);
    Ok(report)
}
