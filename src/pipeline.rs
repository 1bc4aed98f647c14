//! `wharf build-and-publish`: plan stage digests, decide every published reference, build
//! what is missing, then publish. Nothing is published unless every stage is ready.

use futures::{StreamExt as _, TryStreamExt as _};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::build::engine::Engine;
use crate::build::schedule::{Connect, EngineHandle, Log, ScheduleError, Scheduler, StageStorage};
use crate::build::sources::{self, SourceError, StageSources};
use crate::build::{self, BaseResolver, PlanError};
use crate::config::Project;
use crate::drivers::{Driver, DriverError};
use crate::lock::{LockError, Locks};
use crate::naming::{Layout, TagOptions};
use crate::oci::layout::OciLayout;
use crate::progress::{Event, Progress};
use crate::publish::settled::{self, Memo, Planned};
use crate::publish::{self, ImagePublish, meta};
use crate::registry::{Client, Reference};
use crate::report::{ImageReport, PlatformReport, Report};
use crate::spec::digest::Digest;
use crate::store::{CopyStats, ImageStore, StoreError};

pub struct BuildAndPublish {
    pub project: Project,
    /// Where images are published: `--repo`, or the embedded OCI layout.
    pub target: Arc<dyn ImageStore>,
    pub layout: Layout,
    pub storage: StageStorage,
    pub tags: TagOptions,
    pub parallel: usize,
    pub cache: OciLayout,
    pub connect: Connect,
    pub log: Log,
    /// wharf's own steps per image, for progress lines.
    pub progress: Progress,
    /// Client used to resolve base images that the engine does not have.
    pub client: Client,
    /// The git commit being built; publish records (for cleanup) are written when known.
    pub commit: Option<String>,
    pub locks: Locks,
    /// The registry's driver: repositories that must exist before a push are checked (and,
    /// when allowed, created) before anything is built.
    pub driver: Option<Arc<dyn Driver>>,
    /// werf's `--cache-repo` and `--secondary-repo`: other repositories stages are read from.
    pub sources: StageSources,
    /// Build secrets and ssh agents by image index (like `Project::images`); a missing entry
    /// is none. Their ids count in the stage digest, their values never leave the build.
    pub secrets: Vec<Arc<crate::build::secrets::BuildSecrets>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Naming(publish::PlanError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("image {image}: publishing failed: {source}")]
    Publish { image: String, source: StoreError },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Driver(#[from] Box<DriverError>),
    #[error(transparent)]
    Sources(#[from] SourceError),
}

impl BuildAndPublish {
    pub async fn run(self) -> Result<Report, PipelineError> {
        // Cleanup takes this lock exclusively: it never deletes while we publish.
        let _repo_lock = match self.target.registry() {
            Some((_, repo)) => Some(self.locks.shared(&crate::lock::repository(repo)).await?),
            None => None,
        };
        let project = Arc::new(self.project);
        let order = topological_order(&project);
        let engine: EngineHandle = Arc::new(tokio::sync::OnceCell::new());
        let resolver = Resolver {
            engine: engine.clone(),
            connect: self.connect.clone(),
            client: self.client.clone(),
            resolved: Default::default(),
        };
        let plans = build::plan(&project, &order, &resolver, &self.secrets).await?;
        for plan in &plans {
            (self.progress)(plan.display_name(), &Event::Planned { stage: plan.digest.clone() });
        }

        // werf's `final: false`: built (dependents need it), never published.
        let signatures: Vec<(Option<String>, String, bool)> =
            plans.iter().map(|p| (p.name.clone(), p.digest.clone(), project.images[p.index].publish)).collect();
        let publish_plan =
            publish::plan(&self.target, self.layout, &signatures, &self.tags).map_err(PipelineError::Naming)?;
        let internal: HashSet<usize> =
            plans.iter().enumerate().filter(|(_, p)| !project.images[p.index].publish).map(|(k, _)| k).collect();
        if let Some(driver) = &self.driver {
            let mut repos: Vec<crate::registry::Repository> = Vec::new();
            let stage_locations = plans.iter().filter_map(|p| self.storage.location(&p.digest));
            for loc in publish_plan.iter().flat_map(|p| p.locations.iter().cloned()).chain(stage_locations) {
                if let Some((_, repo)) = loc.store.registry()
                    && !repos.contains(repo)
                {
                    repos.push(repo.clone());
                }
            }
            for repo in &repos {
                driver.ensure_repository(repo).await.map_err(Box::new)?;
            }
        }

        // Images whose tags already point where their publish records say need no stage.
        let memo = Memo::new(self.cache.root());
        let settled = match (self.target.registry(), &self.commit) {
            (Some((client, repo)), Some(commit)) => {
                let mut found =
                    settled_images(client, repo, self.layout, commit, &plans, &publish_plan, &memo).await.map_err(
                        |(k, source)| PipelineError::Publish { image: plans[k].display_name().to_string(), source },
                    )?;
                found.retain(|k, _| !internal.contains(k));
                found
            }
            _ => HashMap::new(),
        };
        for &k in settled.keys() {
            (self.progress)(plans[k].display_name(), &Event::UpToDate);
        }
        let needed = needed_plans(&plans, &settled);
        sources::seed(&self.storage, &self.cache, &self.sources, &needed).await?;
        let mut prefetch: Vec<Vec<Arc<dyn ImageStore>>> = vec![Vec::new(); project.images.len()];
        for (plan, publish) in plans.iter().zip(&publish_plan) {
            prefetch[plan.index] = publish.locations.iter().map(|l| l.store.clone()).collect();
        }

        let outcomes = Scheduler {
            project: project.clone(),
            plans: Arc::new(needed),
            storage: self.storage,
            cache: self.cache,
            engine,
            connect: self.connect,
            parallel: self.parallel,
            log: self.log,
            progress: self.progress.clone(),
            locks: self.locks.clone(),
            secrets: Arc::new(self.secrets),
            prefetch: Arc::new(prefetch),
        }
        .run()
        .await?;
        sources::populate(&self.sources, &plans, &outcomes).await?;

        let by_index: HashMap<usize, usize> = plans.iter().enumerate().map(|(k, p)| (p.index, k)).collect();
        let report = |k: usize, manifest: &Digest, built: bool, stats, image: Option<&crate::store::Image>| {
            let (plan, publish) = (&plans[k], &publish_plan[k]);
            let (image_id, size) = image.map(ImageReport::identity).unzip();
            ImageReport {
                name: plan.name.clone(),
                stage_digest: plan.digest.clone(),
                manifest_digest: manifest.to_string(),
                built,
                references: publish.locations.iter().map(|l| l.to_string()).collect(),
                tags: publish.tags.clone(),
                stats,
                image_id,
                size,
                platforms: match plan.platforms.as_slice() {
                    [_] => Vec::new(),
                    several => several
                        .iter()
                        .map(|p| PlatformReport {
                            platform: p.platform.clone().unwrap_or_default(),
                            stage_digest: p.digest.clone(),
                        })
                        .collect(),
                },
            }
        };
        let mut images: Vec<(usize, ImageReport)> = settled
            .iter()
            .map(|(&k, digest)| (plans[k].index, report(k, digest, false, CopyStats::default(), None)))
            .collect();
        let (target, layout, commit, memo) = (&self.target, self.layout, self.commit.as_deref(), &memo);
        let (plans, publish_plan, progress, project) = (&plans, &publish_plan, &self.progress, &project);
        let publishes = outcomes.iter().filter(|o| !settled.contains_key(&by_index[&o.index])).map(|outcome| {
            let k = by_index[&outcome.index];
            async move {
                let (plan, publish) = (&plans[k], &publish_plan[k]);
                let publish_err = |source| PipelineError::Publish { image: plan.display_name().to_string(), source };
                let name = plan.display_name();
                // werf's `imageSpec`: the published image's config differs from the stage's.
                let spec = project.images[plan.index].image_spec.as_ref().filter(|_| !publish.locations.is_empty());
                let published = match spec {
                    Some(spec) => {
                        let names = publish::image_spec::Names { project: &project.name, image: name };
                        std::borrow::Cow::Owned(
                            publish::image_spec::apply(&outcome.image, spec, &names).await.map_err(publish_err)?,
                        )
                    }
                    None => std::borrow::Cow::Borrowed(&outcome.image),
                };
                if let Some(first) = publish.locations.first() {
                    progress(
                        name,
                        &Event::Uploading { to: first.to_string(), total: crate::progress::total_size(&published) },
                    );
                }
                let metered = ImagePublish {
                    locations: publish.locations.iter().map(|l| crate::progress::metered(l, name, progress)).collect(),
                    ..publish.clone()
                };
                let mut stats = publish::execute(&published, &metered).await.map_err(publish_err)?;
                // The stage's own upload counts too: into a fresh registry it carries the bytes.
                stats.add(outcome.stats);
                if let (Some((client, repo)), Some(commit), false) =
                    (target.registry(), commit, publish.locations.is_empty())
                {
                    let record = meta::Record {
                        image: plan.name.as_deref(),
                        commit,
                        stage: &plan.digest,
                        manifest: &published.digest,
                        tags: publish.tags.iter().map(|t| t.value.clone()).collect(),
                        created: chrono::Utc::now(),
                    };
                    meta::write(client, repo, layout, &record).await.map_err(|e| publish_err(e.into()))?;
                    if meta::is_commit(commit) {
                        let (record_repo, record_tag) =
                            meta::location(repo, layout, plan.name.as_deref(), commit, &plan.digest)
                                .map_err(|e| publish_err(e.into()))?;
                        memo.put(&record_repo, &record_tag, &published.digest);
                    }
                }
                progress(name, &Event::Published { references: publish.locations.len() });
                Ok::<_, PipelineError>((
                    outcome.index,
                    report(k, &published.digest, outcome.built, stats, Some(&published)),
                ))
            }
        });
        images.extend(
            futures::stream::iter(publishes).buffer_unordered(PUBLISH_CONCURRENCY).try_collect::<Vec<_>>().await?,
        );
        images.sort_by_key(|(index, _)| *index);
        let images = images.into_iter().map(|(_, r)| r).collect();
        Ok(Report { project: project.name.clone(), images })
    }
}

/// Images published (and checked) at once.
const PUBLISH_CONCURRENCY: usize = 8;

/// Plan positions of the images already published as planned (see [`settled`]), with the
/// manifest their tags point at. A failure names the image's plan position.
async fn settled_images(
    client: &Client,
    base: &crate::registry::Repository,
    layout: Layout,
    commit: &str,
    plans: &[build::StagePlan],
    publish_plan: &[ImagePublish],
    memo: &Memo,
) -> Result<HashMap<usize, Digest>, (usize, StoreError)> {
    let checks = plans.iter().zip(publish_plan).enumerate().map(|(k, (plan, publish))| async move {
        let planned = Planned { image: plan.name.as_deref(), stage: &plan.digest, locations: &publish.locations };
        settled::check(client, base, layout, commit, planned, memo).await.map(|d| d.map(|d| (k, d))).map_err(|e| (k, e))
    });
    let found: Vec<Option<(usize, Digest)>> =
        futures::stream::iter(checks).buffer_unordered(PUBLISH_CONCURRENCY).try_collect().await?;
    Ok(found.into_iter().flatten().collect())
}

/// The plans the scheduler must make available: every image not settled, and whatever those
/// depend on (a build needs its dependencies' stages even when they are published already).
fn needed_plans(plans: &[build::StagePlan], settled: &HashMap<usize, Digest>) -> Vec<build::StagePlan> {
    let position: HashMap<usize, usize> = plans.iter().enumerate().map(|(k, p)| (p.index, k)).collect();
    let mut needed: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = (0..plans.len()).filter(|k| !settled.contains_key(k)).collect();
    while let Some(k) = stack.pop() {
        if needed.insert(k) {
            stack.extend(plans[k].depends_on.iter().filter_map(|i| position.get(i).copied()));
        }
    }
    plans.iter().enumerate().filter(|(k, _)| needed.contains(k)).map(|(_, p)| p.clone()).collect()
}

/// Images ordered so that each comes after its dependencies (file order otherwise).
pub fn topological_order(project: &Project) -> Vec<usize> {
    let n = project.images.len();
    let index_of = |name: &str| project.images.iter().position(|i| i.name.as_deref() == Some(name));
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let before = order.len();
        for i in 0..n {
            if !placed[i] && project.images[i].dependencies.iter().all(|d| index_of(&d.image).is_none_or(|j| placed[j]))
            {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            // A cycle: config validation reports it; keep the rest in file order.
            order.extend((0..n).filter(|&i| !placed[i]));
            break;
        }
    }
    order
}

/// Base image identity: the engine's record (a registry digest when it has one, else the
/// image ID), or the registry's manifest digest when the engine lacks the image. Asked once
/// per reference and run, however many images share a base.
struct Resolver {
    engine: EngineHandle,
    connect: Connect,
    client: Client,
    resolved: std::sync::Mutex<HashMap<String, String>>,
}

#[async_trait::async_trait]
impl BaseResolver for Resolver {
    async fn resolve(&self, reference: &str) -> Result<String, String> {
        if let Some(id) = self.resolved.lock().ok().and_then(|m| m.get(reference).cloned()) {
            return Ok(id);
        }
        let id = self.resolve_uncached(reference).await?;
        if let Ok(mut m) = self.resolved.lock() {
            m.insert(reference.to_string(), id.clone());
        }
        Ok(id)
    }
}

impl Resolver {
    async fn resolve_uncached(&self, reference: &str) -> Result<String, String> {
        let mut detail = Vec::new();
        match self.engine.get_or_try_init(|| (self.connect)()).await {
            Ok(engine) => match local_identity(engine.as_ref(), reference).await {
                Ok(Some(id)) => return Ok(id),
                Ok(None) => detail.push("not in the engine".to_string()),
                Err(e) => detail.push(e),
            },
            Err(e) => detail.push(format!("engine: {e}")),
        }
        let parsed: Reference = reference.parse().map_err(|e| format!("{detail:?}; {e}"))?;
        let manifest_ref =
            parsed.digest.as_ref().map(|d| d.to_string()).or(parsed.tag.clone()).unwrap_or_else(|| "latest".into());
        match self.client.head_manifest(&parsed.repo, &manifest_ref).await {
            Ok(Some(d)) => Ok(d.digest.to_string()),
            Ok(None) => {
                detail.push("not in the registry".into());
                Err(detail.join("; "))
            }
            Err(e) => {
                detail.push(format!("registry: {e}"));
                Err(detail.join("; "))
            }
        }
    }
}

async fn local_identity(engine: &dyn Engine, reference: &str) -> Result<Option<String>, String> {
    let Some(local) = engine.inspect(reference).await.map_err(|e| e.to_string())? else { return Ok(None) };
    let repo = reference.rsplit_once('@').map(|(r, _)| r).unwrap_or(reference);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    let digest = local
        .repo_digests
        .iter()
        .find_map(|rd| rd.split_once('@').filter(|(r, _)| *r == repo).map(|(_, d)| d.to_string()));
    Ok(Some(digest.unwrap_or(local.id)))
}

impl PipelineError {
    pub fn category(&self) -> crate::error::Category {
        match self {
            PipelineError::Plan(e) => e.category(),
            PipelineError::Naming(_) => crate::error::Category::Usage,
            PipelineError::Schedule(e) => e.category(),
            PipelineError::Publish { source, .. } => source.category(),
            PipelineError::Lock(e) => e.category(),
            PipelineError::Driver(e) => e.category(),
            PipelineError::Sources(e) => e.source.category(),
        }
    }
}
