//! The registry's word on a plan: after [`super::policy::decide`], each repository's planned
//! deletions go to the driver ([`Driver::review_deletions`]), which says what the registry
//! would refuse (GitHub: the last tagged version of a package; read-only mirrors: anything).
//! Those tags are kept, with the registry's reason, so `--dry-run` shows it instead of a run
//! that fails. Under `--purge`, a driver may ask to delete a repository as a whole instead.

use std::collections::BTreeMap;

use super::inventory::InventoryError;
use super::plan::{Action, Entry, RepositoryDeletion};
use crate::drivers::{Driver, PlannedTag, Review};

/// Applies the driver's review to `entries`; returns the repositories to delete as a whole.
pub async fn review(
    driver: &dyn Driver,
    store: &dyn crate::store::Backend,
    entries: &mut [Entry],
    purge: bool,
) -> Result<Vec<RepositoryDeletion>, InventoryError> {
    let mut by_repo: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_repo.entry(e.repository.clone()).or_default().push(i);
    }
    let mut whole = Vec::new();
    for (repository, idx) in by_repo {
        if !idx.iter().any(|&i| entries[i].action == Action::Delete) {
            continue;
        }
        let Ok(repo) = store.repository(&repository) else { continue };
        let planned: Vec<PlannedTag> = idx
            .iter()
            .map(|&i| PlannedTag {
                tag: entries[i].tag.clone(),
                digest: entries[i].digest.clone(),
                delete: entries[i].action == Action::Delete,
            })
            .collect();
        let said = driver
            .review_deletions(&repo, &planned, purge)
            .await
            .map_err(|source| InventoryError::List { repository: repository.clone(), source: Box::new(source) })?;
        match said {
            Review::AsPlanned => {}
            Review::Keep { tags, reason } => {
                for &i in &idx {
                    if entries[i].action == Action::Delete && tags.contains(&entries[i].tag) {
                        entries[i].action = Action::Keep;
                        entries[i].reason = reason.clone();
                    }
                }
            }
            Review::DeleteRepository { reason } => {
                let every_tag = idx.iter().all(|&i| entries[i].action == Action::Delete);
                if purge && every_tag && driver.capabilities().delete_repository {
                    whole.push(RepositoryDeletion { repository, reason });
                }
            }
        }
    }
    Ok(whole)
}
