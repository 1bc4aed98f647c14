//! Stage repositories besides the stages storage: werf's `--secondary-repo` and `--cache-repo`.
//!
//! - A **secondary** repository is read-only: a stage missing from the stages storage but
//!   found there (by digest, at its place in that repository's layout) is copied into the
//!   stages storage instead of being built, as werf copies it into `--repo`.
//! - A **cache** repository is read the same way (before the secondary ones) and is also
//!   written: every stage built in the run is copied there too, as werf populates it.
//!
//! Both are consulted before scheduling ([`seed`]): the scheduler then finds the copied
//! stages where it always looks. With `:local` stages storage a found stage goes into
//! wharf's local cache of stages. Digests are content addresses, so a stage from any of these
//! repositories is the stage the plan asks for.

use super::StagePlan;
use super::schedule::{StageOutcome, StageStorage};
use crate::oci::layout::OciLayout;
use crate::store::{self, CopyStats, Image, LayoutStore, Location, StoreError};

/// The repositories stages are also read from (and, for caches, written to).
#[derive(Debug, Clone, Default)]
pub struct StageSources {
    /// `--cache-repo`: read first, and every stage built is copied there.
    pub caches: Vec<StageStorage>,
    /// `--secondary-repo`: read only.
    pub secondary: Vec<StageStorage>,
}

impl StageSources {
    pub fn is_empty(&self) -> bool {
        self.caches.is_empty() && self.secondary.is_empty()
    }
}

/// A stage copied from a source, or the failure of one image's copy.
#[derive(Debug, thiserror::Error)]
#[error("image {image}: {source}")]
pub struct SourceError {
    pub image: String,
    #[source]
    pub source: StoreError,
}

/// Where the scheduler looks for a stage first: the stages storage, else wharf's local cache
/// of stages (`:local`).
fn home(storage: &StageStorage, cache: &OciLayout, digest: &str) -> Location {
    storage.location(digest).unwrap_or_else(|| Location::new(LayoutStore::shared(cache.clone(), "stage"), digest))
}

/// Copies into the stages storage every planned stage it lacks that a cache or secondary
/// repository has; returns what the copies moved.
pub async fn seed(
    storage: &StageStorage,
    cache: &OciLayout,
    sources: &StageSources,
    plans: &[StagePlan],
) -> Result<CopyStats, SourceError> {
    let mut stats = CopyStats::default();
    if sources.is_empty() {
        return Ok(stats);
    }
    for plan in plans {
        let err = |source| SourceError { image: plan.display_name().to_string(), source };
        let target = home(storage, cache, &plan.digest);
        if target.store.resolve(&target.tag).await.map_err(err)?.is_some() {
            continue;
        }
        for source in sources.caches.iter().chain(&sources.secondary) {
            let Some(loc) = source.location(&plan.digest) else { continue };
            if let Some(image) = Image::read(&loc).await.map_err(err)? {
                tracing::info!(image = plan.display_name(), from = %loc, "stage found in another stage repository");
                stats.add(store::copy(&image, &target).await.map_err(err)?);
                break;
            }
        }
    }
    Ok(stats)
}

/// Copies every stage the run built into each cache repository.
pub async fn populate(
    sources: &StageSources,
    plans: &[StagePlan],
    outcomes: &[StageOutcome],
) -> Result<CopyStats, SourceError> {
    let mut stats = CopyStats::default();
    for outcome in outcomes.iter().filter(|o| o.built) {
        let Some(plan) = plans.iter().find(|p| p.index == outcome.index) else { continue };
        for cache in &sources.caches {
            if let Some(loc) = cache.location(&plan.digest) {
                let copied = store::copy(&outcome.image, &loc).await;
                stats.add(copied.map_err(|source| SourceError { image: plan.display_name().to_string(), source })?);
            }
        }
    }
    Ok(stats)
}
