//! Makes every planned stage available: reuses what a runner built before, builds the rest
//! through the engine, in parallel and in dependency order, and stores new stages.
//!
//! A stage is looked up, in order, in the stage storage (a repository, or with `:local` the
//! local cache and the engine), and built only when found nowhere. The first failure stops
//! the scheduling of further builds and aborts those running.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinSet;

use super::engine::{BuildRequest, Built, Engine, EngineError};
use super::secrets::BuildSecrets;
use super::{PlatformStage, StagePlan, platforms};
use crate::config::{ImportKind, Project};
use crate::oci::docker_archive;
use crate::oci::layout::OciLayout;
use crate::progress::{Event, metered};
use crate::store::{self, CopyStats, Image, ImageStore, LayoutStore, Location};

mod failure;
mod storage;

pub use failure::ScheduleError;
use failure::{step_line, syntax_failure};
pub use storage::{LOCAL_STAGE_REPO_PREFIX, StageStorage};

/// Connects to the engine on first use: a run whose stages all exist needs no engine.
pub type EngineHandle = Arc<tokio::sync::OnceCell<Arc<dyn Engine>>>;
pub type Connect =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<Arc<dyn Engine>, EngineError>> + Send + Sync>;

/// Build output: `(image, line)`.
pub type Log = Arc<dyn Fn(&str, &str) + Send + Sync>;

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
    /// Secrets and ssh agents, by image index (like `Project::images`).
    pub secrets: Arc<Vec<Arc<BuildSecrets>>>,
    /// Where each image (by index) is published: a stage exported from the engine uploads
    /// its blobs there while it streams.
    pub prefetch: Arc<Vec<Vec<Arc<dyn ImageStore>>>>,
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
                    return Err(ScheduleError::Other {
                        image: "?".into(),
                        message: format!("build task failed: {join}"),
                    });
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
        if let [one] = plan.platforms.as_slice() {
            let (image, built, stats) = self.ensure_stage(plan, one, &deps).await?;
            return Ok(StageOutcome { index: plan.index, built, image, stats });
        }
        // Several platforms: the index as a whole, or assembled from each platform's stage.
        if let Some(image) = self.find_index(plan).await? {
            (self.progress)(plan.display_name(), &Event::Found);
            return Ok(StageOutcome { index: plan.index, built: false, image, stats: CopyStats::default() });
        }
        let (mut children, mut built, mut stats) = (Vec::new(), false, CopyStats::default());
        for stage in &plan.platforms {
            let (image, b, s) = self.ensure_stage(plan, stage, &deps).await?;
            built |= b;
            stats.add(s);
            children.push((stage.platform.clone().unwrap_or_default(), image));
        }
        let name = plan.display_name().to_string();
        let origin = children[0].1.origin.clone();
        let image = platforms::index(children, origin)
            .map_err(|message| ScheduleError::Other { image: name.clone(), message })?;
        let store_err = |source| ScheduleError::Store { image: name.clone(), source };
        match self.storage.location(&plan.digest) {
            Some(loc) => {
                (self.progress)(
                    &name,
                    &Event::Uploading { to: loc.to_string(), total: crate::progress::total_size(&image) },
                );
                stats.add(store::copy(&image, &metered(&loc, &name, &self.progress)).await.map_err(store_err)?)
            }
            None => {
                self.cache
                    .put_manifest(&format!("stage:{}", plan.digest), &image.media_type, &image.manifest)
                    .map_err(|e| store_err(e.into()))?;
            }
        }
        Ok(StageOutcome { index: plan.index, built, image, stats })
    }

    /// A multi-platform image's index, when some runner stored it before.
    async fn find_index(&self, plan: &StagePlan) -> Result<Option<Image>, ScheduleError> {
        let store_err = |source| ScheduleError::Store { image: plan.display_name().to_string(), source };
        let loc = self.storage.location(&plan.digest).unwrap_or_else(|| self.cache_location(&plan.digest));
        Image::read(&loc).await.map_err(store_err)
    }

    /// One platform's stage (the image's only one, or one of several): found, or built and
    /// stored. Returns the image, whether it was built, and what storing it uploaded.
    async fn ensure_stage(
        &self,
        plan: &StagePlan,
        stage: &PlatformStage,
        deps: &[StageOutcome],
    ) -> Result<(Image, bool, CopyStats), ScheduleError> {
        let name = plan.display_name().to_string();
        let store_err = |source| ScheduleError::Store { image: name.clone(), source };
        let progress = |event| (self.progress)(&name, &event);
        if let Some((image, stats)) = self.find(plan, &stage.digest).await? {
            progress(Event::Found);
            return Ok((image, false, stats));
        }
        // One build per stage: a concurrent run building it makes us wait, then find it.
        let key = match self.storage.location(&stage.digest) {
            Some(loc) => crate::lock::stage(&loc.to_string()),
            None => crate::lock::stage(&format!("local {} {}", self.project.name, stage.digest)),
        };
        let _building = self
            .locks
            .exclusive(&key)
            .await
            .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?;
        if let Some((image, stats)) = self.find(plan, &stage.digest).await? {
            progress(Event::Found);
            return Ok((image, false, stats));
        }
        progress(Event::Building);
        let engine = self.engine(&name).await?;
        let args = self.build_args(plan, deps, engine.as_ref(), stage.platform.as_deref()).await?;
        self.build(plan, stage, engine.as_ref(), args).await?;
        progress(Event::Exporting);
        let (mut image, mut stats) = self.export(plan, &stage.digest, engine.as_ref()).await?;
        if let Some(loc) = self.storage.location(&stage.digest) {
            progress(Event::Uploading { to: loc.to_string(), total: crate::progress::total_size(&image) });
            stats.add(store::copy(&image, &metered(&loc, &name, &self.progress)).await.map_err(store_err)?);
            // Later copies (publishing) read from the registry: blobs mount there, no upload.
            if loc.store.registry().is_some() {
                image.origin = loc.store;
            }
        }
        Ok((image, true, stats))
    }

    /// The stage `digest` if some runner built it before, and what exporting it from the
    /// engine uploaded.
    async fn find(&self, plan: &StagePlan, digest: &str) -> Result<Option<(Image, CopyStats)>, ScheduleError> {
        let name = plan.display_name();
        let store_err = |source| ScheduleError::Store { image: name.to_string(), source };
        if let Some(loc) = self.storage.location(digest) {
            return Ok(Image::read(&loc).await.map_err(store_err)?.map(|i| (i, CopyStats::default())));
        }
        if let Some(image) = Image::read(&self.cache_location(digest)).await.map_err(store_err)? {
            return Ok(Some((image, CopyStats::default())));
        }
        let (repo, tag) = self.local_tag(digest);
        let Ok(engine) = self.engine(name).await else { return Ok(None) };
        match engine.inspect(&format!("{repo}:{tag}")).await {
            Ok(Some(_)) => self.export(plan, digest, engine.as_ref()).await.map(Some),
            Ok(None) => Ok(None),
            Err(source) => Err(ScheduleError::Engine { image: name.to_string(), source }),
        }
    }

    /// Build args: the image's own plus what its dependencies fill in. Dependencies whose
    /// image is imported by name are loaded into the engine first.
    async fn build_args(
        &self,
        plan: &StagePlan,
        deps: &[StageOutcome],
        engine: &dyn Engine,
        platform: Option<&str>,
    ) -> Result<BTreeMap<String, String>, ScheduleError> {
        let image = &self.project.images[plan.index];
        let mut args = image.args.clone();
        for dep in &image.dependencies {
            let Some(outcome) =
                deps.iter().find(|o| self.project.images[o.index].name.as_deref() == Some(dep.image.as_str()))
            else {
                continue;
            };
            let dep_plan =
                self.plans.iter().find(|p| p.index == outcome.index).ok_or_else(|| ScheduleError::Other {
                    image: plan.display_name().into(),
                    message: format!("dependency {} was not planned", dep.image),
                })?;
            // A multi-platform dependency: its stage for the platform being built.
            let child = platforms::child_for(&outcome.image, platform).ok_or_else(|| ScheduleError::Other {
                image: plan.display_name().into(),
                message: format!(
                    "dependency {} is not built for {}",
                    dep.image,
                    platform.unwrap_or("the default platform")
                ),
            })?;
            let child_digest = match dep_plan.platforms.as_slice() {
                [_] => dep_plan.digest.clone(),
                several => several
                    .iter()
                    .zip(&outcome.image.children)
                    .find(|(_, c)| c.digest == child.digest)
                    .map(|(s, _)| s.digest.clone())
                    .unwrap_or_default(),
            };
            let (repo, tag, local) = if engine.has_image_store() {
                let (repo, tag) = self.local_tag(&child_digest);
                let local = self.ensure_in_engine(plan.display_name(), child, &repo, &tag, engine).await?;
                (repo, tag, local)
            } else {
                // A BuildKit daemon reads the dependency's stage from the stages' registry.
                let loc = self.storage.location(&child_digest).filter(|l| l.store.registry().is_some()).ok_or_else(|| ScheduleError::Other {
                    image: plan.display_name().into(),
                    message: format!(
                        "dependency {} must be read from a registry by the BuildKit daemon\n  hint: give --repo or --stages-storage REPO (a registry the daemon can pull from)",
                        dep.image
                    ),
                })?;
                (loc.store.name(), loc.tag, config_digest(&child.manifest).unwrap_or_default())
            };
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
    async fn ensure_in_engine(
        &self,
        image: &str,
        dep: &Image,
        repo: &str,
        tag: &str,
        engine: &dyn Engine,
    ) -> Result<String, ScheduleError> {
        let reference = format!("{repo}:{tag}");
        let engine_err = |source| ScheduleError::Engine { image: image.to_string(), source };
        if let Some(local) = engine.inspect(&reference).await.map_err(engine_err)? {
            return Ok(local.id);
        }
        let cache_loc = self.cache_location(tag);
        store::copy(dep, &cache_loc)
            .await
            .map_err(|source| ScheduleError::Store { image: image.to_string(), source })?;
        let tmp = scratch_file(image)?;
        let (cache, manifest, path, r) =
            (self.cache.clone(), dep.manifest.clone(), tmp.path().to_path_buf(), reference.clone());
        tokio::task::spawn_blocking(move || docker_archive::write(&cache, &manifest, &r, &path))
            .await
            .map_err(|e| ScheduleError::Other { image: image.into(), message: e.to_string() })?
            .map_err(|source| ScheduleError::Archive { image: image.to_string(), source })?;
        engine.load(tmp.path()).await.map_err(engine_err)?;
        engine.inspect(&reference).await.map_err(engine_err)?.map(|l| l.id).ok_or_else(|| ScheduleError::Other {
            image: image.into(),
            message: format!("the engine did not load {reference}"),
        })
    }

    async fn build(
        &self,
        plan: &StagePlan,
        stage: &PlatformStage,
        engine: &dyn Engine,
        args: BTreeMap<String, String>,
    ) -> Result<(), ScheduleError> {
        let name = plan.display_name().to_string();
        let image = &self.project.images[plan.index];
        let tar = scratch_file(&name)?;
        let (ctx, df_name, df_path, tar_path) = (
            plan.context.clone(),
            plan.dockerfile_in_context.clone(),
            image.dockerfile.clone(),
            tar.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || write_context_tar(&ctx, &df_name, &df_path, &tar_path))
            .await
            .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?
            .map_err(|message| ScheduleError::Other { image: name.clone(), message })?;
        let (repo, tag) = self.local_tag(&stage.digest);
        let req = BuildRequest {
            image: name.clone(),
            context_tar: tar.path().to_path_buf(),
            dockerfile: plan.dockerfile_in_context.clone(),
            target: image.target.clone(),
            args,
            platform: stage.platform.clone(),
            network: image.network.clone(),
            tag: format!("{repo}:{tag}"),
            labels: BTreeMap::from([
                ("io.wharf.project".to_string(), self.project.name.clone()),
                ("io.wharf.stage-digest".to_string(), stage.digest.clone()),
            ]),
            secrets: self.secrets.get(plan.index).cloned().unwrap_or_default(),
        };
        let log = self.log.clone();
        let sink = move |line: &str| log(&name, line);
        let built = engine.build(&req, &sink).await.map_err(|e| match e {
            EngineError::Build { step, message, .. } => {
                let (line, message) = match syntax_failure(&image.dockerfile, step.as_deref(), &message) {
                    Some((line, message)) => (Some(line), message),
                    None => (step.as_deref().and_then(|s| step_line(plan, image.target.as_deref(), s)), message),
                };
                ScheduleError::Build {
                    image: plan.display_name().to_string(),
                    dockerfile: image.dockerfile.clone(),
                    line,
                    step,
                    message,
                }
            }
            source => ScheduleError::Engine { image: plan.display_name().to_string(), source },
        })?;
        if let Built::OciTar(tar) = built {
            let (cache, reference, name) =
                (self.cache.clone(), format!("stage:{}", stage.digest), plan.display_name().to_string());
            tokio::task::spawn_blocking(move || super::remote::import_oci_tar(&tar, &cache, &reference))
                .await
                .map_err(|e| ScheduleError::Other { image: name.clone(), message: e.to_string() })?
                .map_err(|message| ScheduleError::Other {
                    image: name,
                    message: format!("the build's OCI export: {message}"),
                })?;
        }
        Ok(())
    }

    /// Converts the engine's stage image into an OCI image in the local cache; its blobs go
    /// to the registries the image is published to while it streams (see [`super::export`]).
    async fn export(
        &self,
        plan: &StagePlan,
        digest: &str,
        engine: &dyn Engine,
    ) -> Result<(Image, CopyStats), ScheduleError> {
        let name = plan.display_name().to_string();
        let loc = self.cache_location(digest);
        let store_err = |source| ScheduleError::Store { image: name.clone(), source };
        if let Some(image) = Image::read(&loc).await.map_err(store_err)? {
            return Ok((image, CopyStats::default()));
        }
        let (repo, tag) = self.local_tag(digest);
        let stores = self
            .prefetch
            .get(plan.index)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain(self.storage.location(digest).map(|l| l.store));
        // Uploads while exporting count as the image's too.
        let destinations: Vec<Arc<dyn ImageStore>> = super::export::registries(stores)
            .into_iter()
            .map(|s| crate::progress::meter(s, &name, &self.progress))
            .collect();
        let (first, stats) = super::export::export(engine, &format!("{repo}:{tag}"), &self.cache, &destinations)
            .await
            .map_err(|e| match e {
                super::export::ExportError::Engine(source) => ScheduleError::Engine { image: name.clone(), source },
                super::export::ExportError::Archive(source) => ScheduleError::Archive { image: name.clone(), source },
                other => ScheduleError::Other { image: name.clone(), message: other.to_string() },
            })?;
        self.cache
            .put_manifest(&format!("stage:{digest}"), &first.manifest.media_type, &first.manifest_bytes)
            .map_err(|e| store_err(e.into()))?;
        let image = Image::read(&loc).await.map_err(store_err)?.ok_or_else(|| ScheduleError::Other {
            image: name.clone(),
            message: "stage vanished from the cache".into(),
        })?;
        Ok((image, stats))
    }
}

/// The config digest (image ID) a manifest names.
fn config_digest(manifest: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    v["config"]["digest"].as_str().map(str::to_string)
}

fn scratch_file(image: &str) -> Result<tempfile::NamedTempFile, ScheduleError> {
    tempfile::NamedTempFile::new().map_err(|e| ScheduleError::Other {
        image: image.to_string(),
        message: format!("cannot create a temporary file: {e}"),
    })
}

fn write_context_tar(ctx: &super::context::Context, df_name: &str, df_path: &Path, out: &Path) -> Result<(), String> {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let w = ctx.write_tar(std::io::BufWriter::new(file), Some((df_name, df_path))).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())?.sync_all().map_err(|e| e.to_string())
}
