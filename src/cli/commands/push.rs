//! `wharf push`: ready-made images (docker save archives, OCI layouts) to a registry or a
//! static root; several platforms become one image index. Files that are no image (a pack, a
//! Helm chart, an SBOM, a directory) go as one OCI artifact (see [`crate::artifact`]).

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
    /// not); `SRC:REF` picks one image of a source that holds several. Files and directories
    /// that are no image are pushed as one artifact, a layer each.
    #[arg(required = true, num_args = 1.., value_name = "SRC")]
    pub sources: Vec<String>,
    /// `[oci://]HOST/REPO[:TAG]`, or `REPO[:TAG]` inside --static-root (no tag needed with
    /// --subject).
    #[arg(required = true, value_name = "DEST")]
    pub dest: String,
    /// Push SRC… as an OCI artifact of this type (image-spec 1.1 `artifactType`), files as
    /// they are (also without the flag for sources that are no image).
    #[arg(long, value_name = "TYPE", help_heading = "Artifacts")]
    pub artifact_type: Option<String>,
    /// The artifact's config: `FILE[:MEDIATYPE]` (default: the empty config).
    #[arg(long, value_name = "FILE[:MEDIATYPE]", help_heading = "Artifacts")]
    pub config: Option<String>,
    /// Media type of the artifact's file layers: once for all files, or once per file in order
    /// (default `application/vnd.oci.image.layer.v1.tar`, as oras).
    #[arg(long = "file-type", value_name = "MEDIATYPE", help_heading = "Artifacts")]
    pub file_types: Vec<String>,
    /// Attach the artifact to this manifest (`REF`: a tag or digest in DEST's repository, or a
    /// full reference to it): a signature, an SBOM, an attestation. It is found through the
    /// referrers API (`wharf referrers REF`), or the `sha256-<hex>` tag where there is none.
    #[arg(long, value_name = "REF", help_heading = "Artifacts")]
    pub subject: Option<String>,
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
    Provenance { source: ci_source.or(head.remote), revision: ci_git_info().commit.or(head.commit), created: head.time }
}

/// Reads and checks every source, plans, and (unless `--dry-run`) publishes.
async fn push(args: &PushArgs) -> Result<PushReport, Error> {
    let dest = &args.dest;
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
    let opts = PushOptions { tags, annotations };
    let (plan, _keep) = match payload(args, &staging).await? {
        Payload::Images(sources) => {
            (push::plan(&sources, &destination, &opts).map_err(Error::Push)?, Keep::Sources(sources))
        }
        Payload::Files(files) => {
            let subject = match &args.subject {
                Some(s) => Some(subject_descriptor(s, &destination).await?),
                None => None,
            };
            let spec = artifact_spec(args, &files, &opts.annotations, subject)?;
            let work = tempfile::Builder::new()
                .prefix("wharf-artifact-")
                .tempdir_in(&staging)
                .map_err(|source| Error::Io { what: staging.display().to_string(), source })?;
            let dir = work.path().to_path_buf();
            let packed = tokio::task::spawn_blocking(move || crate::artifact::pack::pack(&spec, &dir))
                .await
                .map_err(|e| Error::Io { what: "packing the artifact".into(), source: std::io::Error::other(e) })?
                .map_err(Error::Artifact)?;
            let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
            (
                push::plan_artifact(packed, &paths, &destination, &opts, args.subject.is_some())
                    .map_err(Error::Push)?,
                Keep::Staging(work),
            )
        }
    };
    if args.dry_run {
        return Ok(PushReport { plan, stats: Default::default(), dry_run: true });
    }
    if let (Some(driver), Some((_, repo))) = (&driver, destination.registry()) {
        driver.ensure_repository(repo).await?;
    }
    // Cleanup (and `tags rm` on a static root) take this lock exclusively: they never
    // collect a blob this push found in place and did not upload again.
    let _lock = args.locks.locks().await?.shared(&crate::lock::repository(&lock_repo)).await?;
    push::execute(plan).await.map_err(Error::Push)
}

/// What is pushed: images, or files packed into one artifact.
enum Payload {
    Images(Vec<crate::oci::source::Source>),
    Files(Vec<crate::artifact::FileSpec>),
}

/// What must live until the push is done (staged blobs).
enum Keep {
    Sources(#[allow(dead_code)] Vec<crate::oci::source::Source>),
    Staging(#[allow(dead_code)] tempfile::TempDir),
}

/// Images when every source is one; an artifact when asked for (artifact flags) or when no
/// source is an image (each then says so on stderr). Images and other files do not mix.
async fn payload(args: &PushArgs, staging: &std::path::Path) -> Result<Payload, Error> {
    let files = || {
        args.sources
            .iter()
            .map(|s| crate::artifact::FileSpec { path: PathBuf::from(s), media_type: None })
            .collect::<Vec<_>>()
    };
    if args.artifact_type.is_some() || args.config.is_some() || args.subject.is_some() || !args.file_types.is_empty() {
        return Ok(Payload::Files(files()));
    }
    let (specs, staging) = (args.sources.clone(), staging.to_path_buf());
    let read = tokio::task::spawn_blocking(move || {
        specs.iter().map(|s| crate::oci::source::read(s, &staging)).collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Error::Usage(format!("reading the sources failed: {e}")))?;
    let (mut images, mut not_images) = (Vec::new(), Vec::new());
    for r in read {
        match r {
            Ok(s) => images.push(s),
            Err(crate::oci::ArchiveError::NotAnImage { path, why }) => not_images.push((path, why)),
            Err(e) => return Err(Error::Push(e.into())),
        }
    }
    match (images.is_empty(), not_images.is_empty()) {
        (_, true) => Ok(Payload::Images(images)),
        (true, false) => {
            for (path, why) in &not_images {
                eprintln!("note: pushing {} as an OCI artifact: {why}", path.display());
            }
            Ok(Payload::Files(files()))
        }
        (false, false) => Err(Error::Usage(format!(
            "{} is an image and {} is not ({}); push them separately\n  hint: --artifact-type pushes every SRC as a file of one artifact",
            images[0].path.display(),
            not_images[0].0.display(),
            not_images[0].1
        ))),
    }
}

/// The artifact to pack: files with their media types, the config, the annotations (`created`
/// from git when there is a checkout, else `SOURCE_DATE_EPOCH`, else now), the subject.
fn artifact_spec(
    args: &PushArgs,
    files: &[crate::artifact::FileSpec],
    annotations: &AnnotationPlan,
    subject: Option<crate::spec::manifest::Descriptor>,
) -> Result<crate::artifact::ArtifactSpec, Error> {
    let mut files = files.to_vec();
    match args.file_types.len() {
        0 => {}
        1 => files.iter_mut().for_each(|f| f.media_type = Some(args.file_types[0].clone())),
        n if n == files.len() => {
            files.iter_mut().zip(&args.file_types).for_each(|(f, t)| f.media_type = Some(t.clone()))
        }
        n => {
            return Err(Error::Usage(format!(
                "--file-type given {n} times for {} files: give it once, or once per file",
                files.len()
            )));
        }
    }
    let config = args.config.as_ref().map(|c| match c.rsplit_once(':') {
        Some((path, media_type)) if media_type.contains('/') => {
            crate::artifact::FileSpec { path: PathBuf::from(path), media_type: Some(media_type.to_string()) }
        }
        _ => crate::artifact::FileSpec { path: PathBuf::from(c), media_type: None },
    });
    let mut annotations = annotations.for_manifest(&Default::default());
    if annotations.keys().all(|k| k != crate::push::annotate::CREATED) {
        let created = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .unwrap_or_else(chrono::Utc::now);
        annotations.insert(
            crate::push::annotate::CREATED.to_string(),
            created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    Ok(crate::artifact::ArtifactSpec { files, artifact_type: args.artifact_type.clone(), config, annotations, subject })
}

/// The manifest `--subject` names, in the destination's repository (a tag or digest, or a
/// full reference whose repository must be the destination's: referrers live beside their
/// subject).
async fn subject_descriptor(
    subject: &str,
    dest: &Arc<dyn ImageStore>,
) -> Result<crate::spec::manifest::Descriptor, Error> {
    let reference = match subject.rsplit_once(['@', ':']) {
        Some((repo, r)) if repo.contains('/') => {
            if let Some((_, dest_repo)) = dest.registry()
                && let Ok(parsed) = subject.parse::<Reference>()
                && parsed.repo != *dest_repo
            {
                return Err(Error::Usage(format!(
                    "--subject {subject}: not in {dest_repo}; a referrer is pushed beside its subject"
                )));
            }
            if subject.contains('@') { subject.rsplit_once('@').map(|(_, d)| d).unwrap_or(r) } else { r }
        }
        _ => subject,
    };
    let found = dest
        .manifest(reference)
        .await
        .map_err(|source| Error::Store { what: format!("--subject {subject}"), source })?;
    let (bytes, media_type, digest) =
        found.ok_or_else(|| Error::Usage(format!("--subject {subject}: no such manifest in {}", dest.name())))?;
    Ok(crate::spec::manifest::Descriptor::new(media_type, digest, bytes.len() as u64))
}
