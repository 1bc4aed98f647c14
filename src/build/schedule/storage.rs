//! Where built stages are kept between runs: the local engine, or a repository keyed by
//! stage digest.

use std::sync::Arc;

use crate::naming::{self, Layout};
use crate::store::{ImageStore, Location};

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
