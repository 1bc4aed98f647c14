//! `wharf pull` (an artifact's files, or an image as an OCI layout or docker archive) and
//! `wharf referrers` (what refers to a manifest), from a registry or a static root.

use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::Output;
use super::super::args::{RegistryArgs, existing_static_root};
use super::super::connect::Connector;
use super::super::driver_args::DriverArgs;
use super::super::output;
use crate::error::Error;
use crate::pull::{Format, PullOptions, Pulled};
use crate::registry::Reference;
use crate::store::{ImageStore, RegistryStore, StaticStore};

/// Where to read from: a registry reference, or a path in `--static-root`.
#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// Read from a static root (a directory or `s3://BUCKET/PREFIX`); SRC is then
    /// `REPO:TAG` or `REPO@DIGEST` inside it.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", help_heading = "Registry & credentials")]
    pub static_root: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub driver: DriverArgs,
}

#[derive(Args, Debug, Clone)]
pub struct PullArgs {
    /// `[oci://]HOST/REPO:TAG` or `…@DIGEST` (inside --static-root: `REPO:TAG`).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to write: a directory (artifacts, OCI layout) or a file (docker archive).
    #[arg(long, short = 'o', value_name = "PATH", default_value = ".", help_heading = "Pull")]
    pub output_path: PathBuf,
    /// How to write an image (artifacts are always files).
    #[arg(long, value_enum, default_value_t = Format::Oci, help_heading = "Pull")]
    pub format: Format,
    /// The platform of an image index to take (`os/arch[/variant]`); default: every one
    /// (`oci`), else the only one or linux/amd64 (`docker-archive`).
    #[arg(long, value_name = "OS/ARCH", help_heading = "Pull")]
    pub platform: Option<String>,
    /// Replace files that are there already.
    #[arg(long, help_heading = "Pull")]
    pub force: bool,
    #[command(flatten)]
    pub source_args: SourceArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReferrersArgs {
    /// The manifest referred to: `[oci://]HOST/REPO:TAG` or `…@DIGEST`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Only referrers of this artifact type.
    #[arg(long, value_name = "TYPE", help_heading = "Artifacts")]
    pub artifact_type: Option<String>,
    #[command(flatten)]
    pub source_args: SourceArgs,
}

/// The store and the tag or digest `spec` names.
async fn open(spec: &str, args: &SourceArgs) -> Result<(Arc<dyn ImageStore>, String), Error> {
    if let Some(root) = &args.static_root {
        let (repo, reference) = match spec.split_once('@') {
            Some((repo, digest)) => (repo.to_string(), Some(digest.to_string())),
            None => crate::push::parse_static_dest(spec).map_err(Error::Usage)?,
        };
        let reference = reference
            .ok_or_else(|| Error::Usage(format!("{spec:?}: give a tag or a digest (REPO:TAG, REPO@DIGEST)")))?;
        return Ok((StaticStore::shared(existing_static_root(root, "--static-root ").await?, repo), reference));
    }
    let parsed: Reference = spec.parse().map_err(|e: crate::registry::ReferenceError| Error::Usage(e.to_string()))?;
    let reference = match (&parsed.digest, &parsed.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(Error::Usage(format!("{spec}: give a tag or a digest (HOST/REPO:TAG, HOST/REPO@DIGEST)")));
        }
    };
    let connector = Connector::new(&args.registry, &args.driver, &[parsed.repo.registry.as_str()])?;
    let (_, client) = connector.connect(&parsed.repo, None).await?;
    Ok((RegistryStore::shared(client, parsed.repo), reference))
}

pub async fn pull(args: &PullArgs, out: Output) -> Result<(), Error> {
    let (store, reference) = open(&args.source, &args.source_args).await?;
    let opts = PullOptions {
        out: args.output_path.clone(),
        force: args.force,
        format: args.format,
        platform: args.platform.clone(),
    };
    let pulled = crate::pull::pull(store, &reference, &opts).await.map_err(Error::Pull)?;
    match out {
        Output::Json => output::print(&pulled),
        Output::Text => match &pulled {
            Pulled::Artifact { digest, files, .. } => {
                for f in files {
                    println!(
                        "{}  {} ({} bytes{})",
                        f.path.display(),
                        f.digest,
                        f.size,
                        if f.unpacked { ", unpacked" } else { "" }
                    );
                }
                println!("pulled artifact {digest}: {} file(s)", files.len());
            }
            Pulled::Image { digest, path, platforms, .. } => {
                println!(
                    "pulled {digest} into {}{}",
                    path.display(),
                    if platforms.is_empty() { String::new() } else { format!(" ({})", platforms.join(", ")) }
                );
            }
        },
    }
    Ok(())
}

pub async fn referrers(args: &ReferrersArgs, out: Output) -> Result<(), Error> {
    let (store, reference) = open(&args.reference, &args.source_args).await?;
    let subject = store
        .resolve(&reference)
        .await
        .map_err(|source| Error::Store { what: args.reference.clone(), source })?
        .ok_or_else(|| Error::Usage(format!("{}: no such manifest", args.reference)))?;
    let found = store
        .referrers(&subject, args.artifact_type.as_deref())
        .await
        .map_err(|source| Error::Store { what: args.reference.clone(), source })?;
    match out {
        Output::Json => output::print(&output::Referrers { subject: subject.clone(), referrers: found }),
        Output::Text => {
            for d in &found {
                println!("{}  {}  {}", d.digest, d.artifact_type.as_deref().unwrap_or(&d.media_type), d.size);
            }
        }
    }
    Ok(())
}
