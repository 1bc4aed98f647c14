//! `wharf push` and `wharf serve`.

use clap::Args;
use std::path::PathBuf;

use super::args::ci_git_info;
use super::{DriverArgs, LockArgs, RegistryArgs, TagArgs, driver_and_client};
use crate::error::Error;
use crate::gitinfo::Head;
use crate::publish::static_root::{S3Root, StaticRoot};
use crate::push::annotate::{Annotation, AnnotationPlan, Provenance};
use crate::push::{self, Destination, PushOptions, PushReport};
use crate::registry::Reference;


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
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tag: Vec<String>,
    #[command(flatten)]
    pub tags: TagArgs,
    /// `KEY=VALUE` on every manifest and the index; `manifest:KEY=VALUE` or `index:KEY=VALUE`
    /// on one of them (repeatable).
    #[arg(long = "annotation", value_name = "[manifest:|index:]KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<Annotation>,
    /// Do not fill `org.opencontainers.image.*` annotations from image labels and git.
    #[arg(long)]
    pub no_default_annotations: bool,
    /// Publish into a static registry (files any web server can serve; see `wharf serve`)
    /// under a directory or `s3://BUCKET/PREFIX` instead of a registry. DEST is then
    /// `REPO[:TAG]`. S3 credentials, region and endpoint come from the AWS environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL`, profiles).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub static_root: Option<String>,
    /// Print what would be published (digests, references) and publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where archives are unpacked while pushing (default: the system's temporary directory).
    #[arg(long, value_name = "DIR", env = "WHARF_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub locks: LockArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The static root: a directory, or `s3://BUCKET/PREFIX` (read with the AWS environment).
    #[arg(value_name = "ROOT")]
    pub root: String,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:5000", env = "WHARF_SERVE_ADDR")]
    pub addr: std::net::SocketAddr,
    /// Time a connection has to send a whole request header, from when it opens or its
    /// previous response ends (so also how long an idle keep-alive connection stays open);
    /// 0: no limit.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub header_read_timeout: String,
    /// A response whose client reads nothing for this long is dropped; 0: no limit.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub idle_timeout: String,
    /// Connections served at once; more wait to be accepted (kept below `ulimit -n`).
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,
    /// Bytes of a blob read and sent at a time: a download holds about this plus hyper's
    /// 16 KiB, so memory is about connections × (this + 16 KiB). At least 4 KiB.
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub buffer: usize,
    /// Hash each blob once before it is first served and refuse one whose bytes do not
    /// match its name; only verified blobs are sent with `Cache-Control: immutable`.
    #[arg(long)]
    pub verify_blobs: bool,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub shutdown_grace: String,
}

impl ServeArgs {
    fn options(&self) -> Result<crate::serve::ServeOptions, Error> {
        let duration = |flag: &str, text: &str| {
            crate::config::parse_go_duration(text).map_err(|e| Error::Usage(format!("--{flag} {text:?}: {e} (e.g. 10s, 1m)")))
        };
        if self.max_connections == 0 {
            return Err(Error::Usage("--max-connections must be at least 1".into()));
        }
        if self.buffer < 4096 {
            return Err(Error::Usage(format!("--buffer {}: at least 4096 bytes", self.buffer)));
        }
        Ok(crate::serve::ServeOptions {
            header_read_timeout: duration("header-read-timeout", &self.header_read_timeout)?,
            idle_timeout: duration("idle-timeout", &self.idle_timeout)?,
            max_connections: self.max_connections,
            buffer: self.buffer,
            verify_blobs: self.verify_blobs,
            shutdown_grace: duration("shutdown-grace", &self.shutdown_grace)?,
        })
    }
}

/// A static root from `DIR` or `s3://BUCKET/PREFIX`; S3 settings from the AWS environment.
pub async fn static_root(spec: &str) -> Result<StaticRoot, Error> {
    if !spec.starts_with("s3://") {
        return Ok(StaticRoot::dir(std::path::Path::new(spec)));
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    S3Root::new(&sdk, spec).map(StaticRoot::s3).map_err(|e| Error::Usage(format!("--static-root {e}")))
}

/// The static root at `spec`, which must exist already (a directory needs its `v2`);
/// `flag` names where it was given, for the error.
pub async fn existing_static_root(spec: &str, flag: &str) -> Result<StaticRoot, Error> {
    let root = static_root(spec).await?;
    if let Some(dir) = root.local_dir()
        && !dir.join("v2").is_dir()
    {
        let hint = "hint: write one with `wharf push SRC REPO:TAG --static-root DIR`";
        return Err(Error::Usage(format!("{flag}{}: not a static root (no v2 directory)\n  {hint}", dir.display())));
    }
    Ok(root)
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub async fn serve(args: &ServeArgs) -> Result<(), Error> {
    let options = args.options()?;
    let root = existing_static_root(&args.root, "").await?;
    let shown = root.to_string();
    crate::serve::serve(root, args.addr, options, |addr, max_connections| {
        use std::io::Write as _;
        println!("serving {shown} on http://{addr}");
        tracing::info!(max_connections, "listening");
        let _ = std::io::stdout().flush();
    })
    .await
    .map_err(|e| Error::Other(format!("serve {}: {e}", args.addr)))
}

fn parse_annotation(s: &str) -> Result<Annotation, String> {
    s.parse()
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

/// Runs `push`: reads and checks every source, plans, and (unless `--dry-run`) publishes.
pub async fn push(args: &PushArgs) -> Result<PushReport, Error> {
    let (dest, specs) = (&args.dest, &args.sources);
    let mut driver = None;
    let (destination, dest_tag) = match &args.static_root {
        Some(root) => {
            let (repo, tag) = push::parse_static_dest(dest).map_err(Error::Usage)?;
            (Destination::Static { root: static_root(root).await?, repo }, tag)
        }
        None => {
            let reference: Reference = dest.parse().map_err(|e| Error::Usage(format!("DEST: {e}")))?;
            if reference.digest.is_some() {
                return Err(Error::Usage(format!("DEST {dest}: a destination takes a tag, not a digest")));
            }
            let (found, client) = driver_and_client(&reference.repo, &args.registry, &args.driver, None).await?;
            driver = Some(found);
            (Destination::Registry { client, repo: reference.repo }, reference.tag)
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
    if let (Some(driver), Destination::Registry { repo, .. }) = (&driver, &destination) {
        driver.ensure_repository(repo).await?;
    }
    // Cleanup (and `tags rm` on a static root) take this lock exclusively: they never
    // collect a blob this push found in place and did not upload again.
    let lock_repo = match &destination {
        Destination::Registry { repo, .. } => repo.clone(),
        Destination::Static { repo, .. } => crate::drivers::StaticDriver::repository(repo).map_err(Error::Usage)?,
    };
    let _lock = args.locks.locks().await?.shared(&crate::pipeline::repo_lock_name(&lock_repo)).await?;
    let report = push::execute(plan).await.map_err(Error::Push)?;
    drop(sources);
    Ok(report)
}
