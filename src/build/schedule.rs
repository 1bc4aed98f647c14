//! Makes every planned stage available: reuses what a runner built before, builds the rest
//! through the engine, in parallel and in dependency order, and stores new stages.
//!
//! A stage is looked up, in order, in the stage storage (a repository, or with `:local` the
//! local cache and the engine), and built only when found nowhere. The first failure stops
//! the scheduling of further builds and aborts those running.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinSet;

use super::StagePlan;
use super::engine::{BuildRequest, Engine, EngineError};
use crate::config::{ImportKind, Project};
use crate::naming::{self, Layout};
use crate::oci::docker_archive::{self, ArchiveError};
use crate::oci::layout::OciLayout;
use crate::progress::Event;
use crate::store::{self, CopyStats, Image, ImageStore, LayoutStore, Location, StoreError};

/// Local engine repository of built stages: `wharf-stages/<project>:<digest>`.
pub const LOCAL_STAGE_REPO_PREFIX: &str = "wharf-stages/";

/// Where stages are kept between runs.
#[derive(Debug, Clone)]
pub enum StageStorage {
    /// In the local engine (and wharf's local cache).
    Local,
    /// In a repository, keyed by digest (see [`naming::stage_place`]).
    Repo { base: Arc<dyn ImageStore>, layout: Layout },
}

impl StageStorage {
    /// Where the stage with `digest` lives in a repository storage.
    pub fn location(&self, digest: &str) -> Option<Location> {
        let StageStorage::Repo { base, layout } = self else { return None };
        let (suffix, tag) = naming::stage_place(*layout, digest);
        let store = match suffix {
            Some(s) => base.join(&s).ok()?,
            None => base.clone(),
        };
        Some(Location::new(store, tag))
    }
}

/// Connects to the engine on first use: a run whose stages all exist needs no engine.
pub type EngineHandle = Arc<tokio::sync::OnceCell<Arc<dyn Engine>>>;
pub type Connect = Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<Arc<dyn Engine>, EngineError>> + Send + Sync>;

/// Build output: `(image, line)`.
pub type Log = Arc<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("image {image}: build failed at {dockerfile}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Build { image: String, dockerfile: PathBuf, line: Option<usize>, step: Option<String>, message: String },
    #[error("image {image}: {source}")]
    Engine { image: String, source: EngineError },
    #[error("image {image}: {source}")]
    Store { image: String, source: StoreError },
    #[error("image {image}: {source}")]
    Archive { image: String, source: ArchiveError },
    #[error("image {image}: {message}")]
    Other { image: String, message: String },
}

/// A stage ready to publish.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    pub index: usize,
    pub built: bool,
    pub image: Image,
    /// What pushing the stage to the stages storage uploaded.
    pub stats: CopyStats,
}

pub struct Scheduler {
    pub project: Arc<Project>,
    pub plans: Arc<Vec<StagePlan>>,
    pub storage: StageStorage,
    pub cache: OciLayout,
    pub engine: EngineHandle,
    pub connect: Connect,
    pub parallel: usize,
    pub log: Log,
    /// wharf's own steps per image (found, building, exporting, uploading).
    pub progress: crate::progress::Progress,
    pub locks: crate::lock::Locks,
}

impl Scheduler {
    /// Makes every stage available; outcomes indexed like `Project::images`.
    pub async fn run(self) -> Result<Vec<StageOutcome>, ScheduleError> {
        let this = Arc::new(self);
        let by_index: HashMap<usize, usize> = this.plans.iter().enumerate().map(|(k, p)| (p.index, k)).collect();
        let mut pending: Vec<usize> = this.plans.iter().map(|p| p.index).collect();
        let mut done: HashMap<usize, StageOutcome> = HashMap::new();
        let mut running = JoinSet::new();
        loop {
            let mut k = 0;
            while k < pending.len() && running.len() < this.parallel.max(1) {
                let i = pending[k];
                let plan = &this.plans[by_index[&i]];
                if plan.depends_on.iter().all(|d| done.contains_key(d)) {
                    pending.remove(k);
                    let deps: Vec<StageOutcome> = plan.depends_on.iter().map(|d| done[d].clone()).collect();
                    let (this, plan_k) = (this.clone(), by_index[&i]);
                    running.spawn(async move { this.ensure(plan_k, deps).await });
                } else {
                    k += 1;
                }
            }
            let Some(joined) = running.join_next().await else {
                if let Some(&i) = pending.first() {
                    return Err(ScheduleError::Other {
                        image: this.plans[by_index[&i]].display_name().to_string(),
                        message: "its dependencies can never be built (cycle)".into(),
                    });
                }
                break;
            };
            match joined {
                Ok(Ok(outcome)) => {
                    done.insert(outcome.index, outcome);
                }
                Ok(Err(e)) => {
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    return Err(e);
                }
                Err(join) => {
                    running.abort_all();
                    return Err(ScheduleError::Other { image: "?".into(), message: format!("build task failed: {join}") });
                }
            }
        }
        let mut out: Vec<StageOutcome> = done.into_values().collect();
        out.sort_by_key(|o| o.index);
        Ok(out)
    }

    fn local_tag(&self, digest: &str) -> (String, String) {
        (format!("{LOCAL_STAGE_REPO_PREFIX}{}", self.project.name), digest.to_string())
    }

    fn cache_location(&self, digest: &str) -> Location {
        Location::new(LayoutStore::shared(self.cache.clone(), "stage"), digest)
    }

    async fn engine(&self, image: &str) -> Result<Arc<dyn Engine>, ScheduleError> {
        self.engine
            .get_or_try_init(|| (self.connect)())
            .await
            .cloned()
            .map_err(|source| ScheduleError::Engine { image: image.to_string(), source })
    }

    async fn ensure(&self, k: usize, deps: Vec<StageOutcome>) -> Result<StageOutcome, ScheduleError> {
        let plan = &self.plans[k];
        let name = plan.display_name().to_string();
        let store_err = |source| ScheduleError::Store { image: name.clone(), source };
        let progress = |event| (self.progress)(&name, &event);
        if let Some(image) = self.find(plan).await? {
            progress(Event::Found);
            return Ok(StageOutcome { index: plan.index, built: false, image, stats: CopyStats::default() });
        }
        // One build per stage: a concurrent run building it makes us wait, then find it.
        let key = match self.storage.location(&plan.digest) {
            Some(loc) => crate::lock::stage(&loc.to_string()),
            None => crate::lock::stage(&format!("local {} {}", self.project.name, plan.digest)),
        };
        let _building = self
            .locks
            .exclusive(&key)
            .await
            .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?;
        if let Some(image) = self.find(plan).await? {
            progress(Event::Found);
            return Ok(StageOutcome { index: plan.index, built: false, image, stats: CopyStats::default() });
        }
        progress(Event::Building);
        let engine = self.engine(&name).await?;
        let args = self.build_args(plan, &deps, engine.as_ref()).await?;
        self.build(plan, engine.as_ref(), args).await?;
        progress(Event::Exporting);
        let mut image = self.export(plan, engine.as_ref()).await?;
        let mut stats = CopyStats::default();
        if let Some(loc) = self.storage.location(&plan.digest) {
            progress(Event::Uploading { to: loc.to_string(), total: crate::progress::total_size(&image) });
            stats = store::copy(&image, &crate::progress::metered(&loc, &name, &self.progress)).await.map_err(store_err)?;
            // Later copies (publishing) read from the registry: blobs mount there, no upload.
            if loc.store.registry().is_some() {
                image.origin = loc.store;
            }
        }
        Ok(StageOutcome { index: plan.index, built: true, image, stats })
    }

    /// The stage if some runner built it before.
    async fn find(&self, plan: &StagePlan) -> Result<Option<Image>, ScheduleError> {
        let name = plan.display_name();
        let store_err = |source| ScheduleError::Store { image: name.to_string(), source };
        if let Some(loc) = self.storage.location(&plan.digest) {
            return Image::read(&loc).await.map_err(store_err);
        }
        if let Some(image) = Image::read(&self.cache_location(&plan.digest)).await.map_err(store_err)? {
            return Ok(Some(image));
        }
        let (repo, tag) = self.local_tag(&plan.digest);
        let Ok(engine) = self.engine(name).await else { return Ok(None) };
        match engine.inspect(&format!("{repo}:{tag}")).await {
            Ok(Some(_)) => self.export(plan, engine.as_ref()).await.map(Some),
            Ok(None) => Ok(None),
            Err(source) => Err(ScheduleError::Engine { image: name.to_string(), source }),
        }
    }

    /// Build args: the image's own plus what its dependencies fill in. Dependencies whose
    /// image is imported by name are loaded into the engine first.
    async fn build_args(&self, plan: &StagePlan, deps: &[StageOutcome], engine: &dyn Engine) -> Result<BTreeMap<String, String>, ScheduleError> {
        let image = &self.project.images[plan.index];
        let mut args = image.args.clone();
        for dep in &image.dependencies {
            let Some(outcome) = deps.iter().find(|o| self.project.images[o.index].name.as_deref() == Some(dep.image.as_str())) else {
                continue;
            };
            let dep_plan = self.plans.iter().find(|p| p.index == outcome.index).ok_or_else(|| ScheduleError::Other {
                image: plan.display_name().into(),
                message: format!("dependency {} was not planned", dep.image),
            })?;
            let (repo, tag) = self.local_tag(&dep_plan.digest);
            let local = self.ensure_in_engine(plan.display_name(), outcome, &repo, &tag, engine).await?;
            for import in &dep.imports {
                let value = match import.kind {
                    ImportKind::ImageName => format!("{repo}:{tag}"),
                    ImportKind::ImageId => local.clone(),
                    ImportKind::ImageRepo => repo.clone(),
                    ImportKind::ImageTag => tag.clone(),
                    ImportKind::ImageDigest => outcome.image.digest.to_string(),
                };
                args.insert(import.build_arg.clone(), value);
            }
        }
        Ok(args)
    }

    /// Loads a dependency's stage into the engine unless it is there; returns its image ID.
    async fn ensure_in_engine(&self, image: &str, dep: &StageOutcome, repo: &str, tag: &str, engine: &dyn Engine) -> Result<String, ScheduleError> {
        let reference = format!("{repo}:{tag}");
        let engine_err = |source| ScheduleError::Engine { image: image.to_string(), source };
        if let Some(local) = engine.inspect(&reference).await.map_err(engine_err)? {
            return Ok(local.id);
        }
        let cache_loc = self.cache_location(tag);
        store::copy(&dep.image, &cache_loc).await.map_err(|source| ScheduleError::Store { image: image.to_string(), source })?;
        let tmp = scratch_file(image)?;
        let (cache, manifest, path, r) = (self.cache.clone(), dep.image.manifest.clone(), tmp.path().to_path_buf(), reference.clone());
        tokio::task::spawn_blocking(move || docker_archive::write(&cache, &manifest, &r, &path))
            .await
            .map_err(|e| ScheduleError::Other { image: image.into(), message: e.to_string() })?
            .map_err(|source| ScheduleError::Archive { image: image.to_string(), source })?;
        engine.load(tmp.path()).await.map_err(engine_err)?;
        engine
            .inspect(&reference)
            .await
            .map_err(engine_err)?
            .map(|l| l.id)
            .ok_or_else(|| ScheduleError::Other { image: image.into(), message: format!("the engine did not load {reference}") })
    }

    async fn build(&self, plan: &StagePlan, engine: &dyn Engine, args: BTreeMap<String, String>) -> Result<(), ScheduleError> {
        let name = plan.display_name().to_string();
        let image = &self.project.images[plan.index];
        let tar = scratch_file(&name)?;
        let (ctx, df_name, df_path, tar_path) =
            (plan.context.clone(), plan.dockerfile_in_context.clone(), image.dockerfile.clone(), tar.path().to_path_buf());
        tokio::task::spawn_blocking(move || write_context_tar(&ctx, &df_name, &df_path, &tar_path))
            .await
            .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?
            .map_err(|message| ScheduleError::Other { image: name.clone(), message })?;
        let (repo, tag) = self.local_tag(&plan.digest);
        let req = BuildRequest {
            image: name.clone(),
            context_tar: tar.path().to_path_buf(),
            dockerfile: plan.dockerfile_in_context.clone(),
            target: image.target.clone(),
            args,
            platform: image.platforms.first().cloned(),
            network: image.network.clone(),
            tag: format!("{repo}:{tag}"),
            labels: BTreeMap::from([
                ("io.wharf.project".to_string(), self.project.name.clone()),
                ("io.wharf.stage-digest".to_string(), plan.digest.clone()),
            ]),
        };
        let log = self.log.clone();
        let sink = move |line: &str| log(&name, line);
        engine.build(&req, &sink).await.map_err(|e| match e {
            EngineError::Build { step, message, .. } => ScheduleError::Build {
                image: plan.display_name().to_string(),
                dockerfile: image.dockerfile.clone(),
                line: step.as_deref().and_then(|s| plan.dockerfile.line_of_step(s)),
                step,
                message,
            },
            source => ScheduleError::Engine { image: plan.display_name().to_string(), source },
        })?;
        Ok(())
    }

    /// Converts the engine's stage image into an OCI image in the local cache.
    async fn export(&self, plan: &StagePlan, engine: &dyn Engine) -> Result<Image, ScheduleError> {
        let name = plan.display_name().to_string();
        let loc = self.cache_location(&plan.digest);
        let store_err = |source| ScheduleError::Store { image: name.clone(), source };
        if let Some(image) = Image::read(&loc).await.map_err(store_err)? {
            return Ok(image);
        }
        let (repo, tag) = self.local_tag(&plan.digest);
        let tmp = scratch_file(&name)?;
        engine.save(&format!("{repo}:{tag}"), tmp.path()).await.map_err(|source| ScheduleError::Engine { image: name.clone(), source })?;
        let (cache, path) = (self.cache.clone(), tmp.path().to_path_buf());
        let imported = tokio::task::spawn_blocking(move || docker_archive::import(&path, &cache))
            .await
            .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?
            .map_err(|source| ScheduleError::Archive { image: name.clone(), source })?;
        let first = imported.into_iter().next().ok_or_else(|| ScheduleError::Other { image: name.clone(), message: "the engine exported no image".into() })?;
        self.cache
            .put_manifest(&format!("stage:{}", plan.digest), &first.manifest.media_type, &first.manifest_bytes)
            .map_err(|e| store_err(e.into()))?;
        Image::read(&loc).await.map_err(store_err)?.ok_or_else(|| ScheduleError::Other { image: name.clone(), message: "stage vanished from the cache".into() })
    }
}

fn scratch_file(image: &str) -> Result<tempfile::NamedTempFile, ScheduleError> {
    tempfile::NamedTempFile::new().map_err(|e| ScheduleError::Other { image: image.to_string(), message: format!("cannot create a temporary file: {e}") })
}

fn write_context_tar(ctx: &super::context::Context, df_name: &str, df_path: &Path, out: &Path) -> Result<(), String> {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let w = ctx.write_tar(std::io::BufWriter::new(file), Some((df_name, df_path))).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())?.sync_all().map_err(|e| e.to_string())
}

impl ScheduleError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            ScheduleError::Build { .. } | ScheduleError::Engine { .. } | ScheduleError::Archive { .. } => crate::error::Category::Build,
            ScheduleError::Store { source, .. } => source.category(),
            ScheduleError::Other { .. } => crate::error::Category::Local,
        }
    }
}
