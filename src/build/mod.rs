//! Builds: stage digests (content-addressed), the dependency graph, and the engine.
//!
//! [`plan`] reads each image's Dockerfile and context and computes its stage digest from
//! canonical inputs only (see [`digest`]); it does no building. The scheduler in
//! [`schedule`] then builds the stages no runner has built before.

pub(crate) mod buildkit;
pub mod context;
pub(crate) mod docker;
pub(crate) mod dockerfile;
pub(crate) mod engine;
pub(crate) mod export;
pub(crate) mod platforms;
pub(crate) mod remote;
pub(crate) mod schedule;
pub(crate) mod secrets;
pub(crate) mod sources;
pub(crate) mod stage_digest;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Image, Project};
use context::Context;
use dockerfile::Dockerfile;

pub use crate::config::STATE_DIR;

/// Where an image's build reads from, and the stage digest that names its result.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Index into `Project::images`.
    pub index: usize,
    /// `None` for the nameless image.
    pub name: Option<String>,
    pub dockerfile: Dockerfile,
    /// Path of the Dockerfile inside the context tar.
    pub dockerfile_in_context: String,
    /// The context as scanned for the digest; the build sends exactly these files.
    pub context: Arc<Context>,
    /// External images read by the target's stages, with their resolved identities.
    pub bases: BTreeMap<String, String>,
    /// Stage digest (64 hex): the build's, or for several platforms the digest of the
    /// platforms' stage digests (see [`stage_digest::index_digest`]).
    pub digest: String,
    /// One stage per platform, each with its own stage digest; one entry (the image's own
    /// digest, platform `None` for the engine's default) for a single-platform image.
    pub platforms: Vec<PlatformStage>,
    /// Indices of the images this one depends on.
    pub depends_on: Vec<usize>,
}

/// One platform's stage of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformStage {
    pub platform: Option<String>,
    pub digest: String,
}

impl StagePlan {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("~")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("image {image}: {message}")]
    Unsupported { image: String, message: String },
    #[error("image {image}: cannot read {path}: {source}")]
    Read { image: String, path: PathBuf, source: std::io::Error },
    #[error("image {image}: {path}:{}: {}", source.line, source.message)]
    Dockerfile { image: String, path: PathBuf, source: dockerfile::DockerfileError },
    #[error("image {image}: {source}")]
    Context { image: String, source: context::ContextError },
    #[error(
        "image {image}: base image {reference} was found neither in the engine nor in its registry ({detail})\n  hint: pull or import it first (`docker pull {reference}`), or push it to a registry wharf can reach"
    )]
    BaseNotFound { image: String, reference: String, detail: String },
}

/// Resolves a base image reference to a stable identity (a manifest digest or image ID).
#[async_trait::async_trait]
pub trait BaseResolver: Send + Sync {
    async fn resolve(&self, reference: &str) -> Result<String, String>;
}

/// What wharf does not build: refused before anything is built.
fn refuse_unsupported(project: &Project, image: &Image) -> Result<(), PlanError> {
    if let Some(stapel) = project.stapel_dependency(image) {
        return Err(PlanError::Unsupported {
            image: image.display_name().to_string(),
            message: format!(
                "it depends on `{stapel}`, a stapel image, which wharf does not build\n  hint: convert `{stapel}` to a Dockerfile image (`from:` becomes `FROM`, `git:` becomes `COPY`, `shell:` steps become `RUN`)"
            ),
        });
    }
    Ok(())
}

/// Computes every image's stage digest, dependencies first. `secrets[i]` are the secrets and
/// ssh agents image `i` is built with: their ids count, never their values.
pub async fn plan(
    project: &Project,
    order: &[usize],
    resolver: &dyn BaseResolver,
    secrets: &[Arc<secrets::BuildSecrets>],
) -> Result<Vec<StagePlan>, PlanError> {
    for image in &project.images {
        refuse_unsupported(project, image)?;
    }
    let mut contexts: HashMap<(PathBuf, Vec<String>), Arc<Context>> = HashMap::new();
    let mut plans: Vec<Option<StagePlan>> = vec![None; project.images.len()];
    for &i in order {
        let image = &project.images[i];
        let name = image.display_name().to_string();
        let text = std::fs::read_to_string(&image.dockerfile).map_err(|source| PlanError::Read {
            image: name.clone(),
            path: image.dockerfile.clone(),
            source,
        })?;
        let df = Dockerfile::parse(&text).map_err(|source| PlanError::Dockerfile {
            image: name.clone(),
            path: image.dockerfile.clone(),
            source,
        })?;
        let target = df.target_index(image.target.as_deref()).map_err(|source| PlanError::Dockerfile {
            image: name.clone(),
            path: image.dockerfile.clone(),
            source,
        })?;
        let args = planning_args(image);
        let stages = df.reachable(target, &args);
        let key = (image.context.clone(), image.context_add_files.clone());
        if !contexts.contains_key(&key) {
            let ctx = Context::scan_with(&image.context, Some(&project.dir.join(STATE_DIR)), &image.context_add_files)
                .map_err(|source| PlanError::Context { image: name.clone(), source })?;
            contexts.insert(key.clone(), Arc::new(ctx));
        }
        let ctx = contexts[&key].clone();
        let selected = ctx.select(&df.context_use(&stages, &args));
        let context_digest =
            Context::digest(&selected).map_err(|source| PlanError::Context { image: name.clone(), source })?;

        let depends_on: Vec<usize> = image
            .dependencies
            .iter()
            .filter_map(|d| project.images.iter().position(|img| img.name.as_deref() == Some(d.image.as_str())))
            .collect();
        let deps: BTreeMap<String, String> = depends_on
            .iter()
            .filter_map(|&j| plans[j].as_ref().map(|p| (p.display_name().to_string(), p.digest.clone())))
            .collect();
        let spec = image.image_spec.as_ref().map(|s| s.canonical());
        let dependency_args: BTreeMap<String, String> = image
            .dependencies
            .iter()
            .flat_map(|d| d.imports.iter().map(move |i| (i.build_arg.clone(), format!("{}:{:?}", d.image, i.kind))))
            .collect();
        let secret_ids = secrets.get(i).map(|s| s.ids()).unwrap_or_default();
        let targets: Vec<Option<&str>> = match image.platforms.as_slice() {
            [] => vec![None],
            list => list.iter().map(|p| Some(p.as_str())).collect(),
        };
        let mut bases = BTreeMap::new();
        let mut platforms = Vec::new();
        for platform in targets {
            let args = with_platform_args(&args, platform);
            let mut platform_bases = BTreeMap::new();
            for reference in df.external_images(&stages, &args) {
                if reference.starts_with(DEPENDENCY_PLACEHOLDER) {
                    continue; // a dependency's image: its stage digest is hashed below
                }
                let id = resolver.resolve(&reference).await.map_err(|detail| PlanError::BaseNotFound {
                    image: name.clone(),
                    reference: reference.clone(),
                    detail,
                })?;
                platform_bases.insert(reference, id);
            }
            let digest = stage_digest::stage_digest(&stage_digest::Inputs {
                instructions: &df.canonical_text(&stages),
                target: image.target.as_deref(),
                platforms: platform.map(|p| vec![p.to_string()]).as_deref().unwrap_or(&[]),
                args: &image.args,
                context_digest: &context_digest,
                bases: &platform_bases,
                dependencies: &deps,
                dependency_args: &dependency_args,
                secret_ids: &secret_ids,
                cache_version: image.cache_version.as_deref(),
                image_spec: spec.as_deref(),
            });
            bases.extend(platform_bases);
            platforms.push(PlatformStage { platform: platform.map(str::to_string), digest });
        }
        let digest = match platforms.as_slice() {
            [one] => one.digest.clone(),
            several => stage_digest::index_digest(several),
        };
        plans[i] = Some(StagePlan {
            index: i,
            name: image.name.clone(),
            dockerfile_in_context: dockerfile_in_context(&image.context, &image.dockerfile),
            dockerfile: df,
            context: ctx,
            bases,
            digest,
            platforms,
            depends_on,
        });
    }
    Ok(plans.into_iter().flatten().collect())
}

/// Stands for a dependency's image while planning: its value is only known at build time,
/// and its stage digest is hashed instead.
const DEPENDENCY_PLACEHOLDER: &str = "wharf-dependency/";

/// The image's build args plus placeholders for the args its dependencies fill in.
fn planning_args(image: &Image) -> BTreeMap<String, String> {
    let mut args = image.args.clone();
    for d in &image.dependencies {
        for i in &d.imports {
            args.insert(i.build_arg.clone(), format!("{DEPENDENCY_PLACEHOLDER}{}", d.image));
        }
    }
    args
}

/// `args` with BuildKit's automatic `TARGET*` args for `platform` (those the user did not
/// set), so a `FROM image-${TARGETARCH}` resolves per platform while planning.
fn with_platform_args(args: &BTreeMap<String, String>, platform: Option<&str>) -> BTreeMap<String, String> {
    let mut out = args.clone();
    if let Some(p) = platform {
        let mut parts = p.splitn(3, '/');
        let (os, arch, variant) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        for (k, v) in [("TARGETPLATFORM", p), ("TARGETOS", os), ("TARGETARCH", arch), ("TARGETVARIANT", variant)] {
            out.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
    }
    out
}

/// Where the Dockerfile goes in the context tar: its own path when it lies inside the
/// context, else a name of its own that cannot clash with context files.
pub fn dockerfile_in_context(context: &Path, dockerfile: &Path) -> String {
    match dockerfile.strip_prefix(context) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().replace('\\', "/"),
        _ => ".wharf.Dockerfile".to_string(),
    }
}

impl PlanError {
    pub fn category(&self) -> crate::error::Category {
        crate::error::Category::Build
    }
}
