//! Images already published as planned, found without fetching their stage.
//!
//! A run where nothing changed should cost about one request per published tag. An image is
//! *settled* when every planned tag already points at the manifest its publish record (for
//! this commit and stage digest) names; then its stage is neither fetched nor built. That
//! manifest digest comes from:
//! - the memo: one small file per publish record in wharf's local cache
//!   (`<cache>/wharf-published/`), written once this machine has published the image or seen
//!   it published; no request at all;
//! - else the record itself (one GET), on a runner without the memo (a fresh CI machine).
//!
//! Every planned tag is checked with a HEAD either way, so a tag that moved (another commit
//! published `latest`) is put back by the normal path. Trusting the memo for the record's
//! existence is sound because cleanup keeps a record while any tag on its image stays: a
//! tag still pointing at the manifest means its record (and its stage) are still there.

use std::path::{Path, PathBuf};

use super::meta;
use crate::naming::Layout;
use crate::registry::{Client, Repository};
use crate::spec::digest::Digest;
use crate::store::{self, Location, StoreError};

/// Where the memo lives, below wharf's cache directory.
pub const MEMO_DIR: &str = "wharf-published";

/// What this machine knows was published: publish record → the manifest it names.
#[derive(Debug, Clone)]
pub struct Memo {
    dir: PathBuf,
}

impl Memo {
    pub fn new(cache_root: &Path) -> Memo {
        Memo { dir: cache_root.join(MEMO_DIR) }
    }

    fn path(&self, repo: &Repository, tag: &str) -> PathBuf {
        self.dir.join(Digest::of(format!("{repo}:{tag}").as_bytes()).hex())
    }

    pub fn get(&self, repo: &Repository, tag: &str) -> Option<Digest> {
        std::fs::read_to_string(self.path(repo, tag)).ok()?.trim().parse().ok()
    }

    /// Best effort: a memo that cannot be written costs a request next time, nothing more.
    pub fn put(&self, repo: &Repository, tag: &str, manifest: &Digest) {
        let path = self.path(repo, tag);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, manifest.as_str()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::debug!(error = %e, path = %path.display(), "could not write the publish memo");
        }
    }
}

/// One image as planned: its name, stage digest and every location it is published to.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub image: Option<&'a str>,
    pub stage: &'a str,
    pub locations: &'a [Location],
}

/// The manifest every planned location already points at, when it is the one the image's
/// publish record for `commit` names; `None` when anything is missing or differs.
pub async fn check(
    client: &Client,
    base: &Repository,
    layout: Layout,
    commit: &str,
    planned: Planned<'_>,
    memo: &Memo,
) -> Result<Option<Digest>, StoreError> {
    if !meta::is_commit(commit) || planned.locations.is_empty() {
        return Ok(None);
    }
    let (repo, tag) = meta::location(base, layout, planned.image, commit, planned.stage)?;
    let remembered = memo.get(&repo, &tag);
    let expected = async {
        match &remembered {
            Some(d) => Ok(Some(d.clone())),
            None => meta::read_manifest_digest(client, &repo, &tag).await.map_err(StoreError::from),
        }
    };
    let tags = futures::future::try_join_all(planned.locations.iter().map(store::resolve));
    let (expected, tags) = futures::future::try_join(expected, tags).await?;
    let Some(expected) = expected else { return Ok(None) };
    if tags.iter().any(|d| d.as_ref() != Some(&expected)) {
        return Ok(None);
    }
    if remembered.is_none() {
        memo.put(&repo, &tag, &expected);
    }
    Ok(Some(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_remembers_per_record_and_survives_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let memo = Memo::new(&dir.path().join("cache"));
        let repo: Repository = "127.0.0.1:5000/app".parse().unwrap();
        let d = Digest::of(b"manifest");
        assert_eq!(memo.get(&repo, "wharf-meta-a"), None);
        memo.put(&repo, "wharf-meta-a", &d);
        assert_eq!(memo.get(&repo, "wharf-meta-a"), Some(d.clone()));
        assert_eq!(memo.get(&repo, "wharf-meta-b"), None, "another record");
        let other: Repository = "127.0.0.1:5000/other".parse().unwrap();
        assert_eq!(memo.get(&other, "wharf-meta-a"), None, "another repository");
        std::fs::write(memo.path(&repo, "wharf-meta-a"), "garbage").unwrap();
        assert_eq!(memo.get(&repo, "wharf-meta-a"), None, "an unreadable memo is no memo");
    }
}
