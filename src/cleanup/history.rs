//! What git says is alive: references (branches, tags) with their tips and times, and the
//! commits reachable from each, newest first.
//!
//! Branches come from the clone's remote-tracking refs (`refs/remotes/<remote>/NAME`) and
//! local branches, so a CI clone with only `origin/*` works; a branch deleted on the remote
//! (and pruned) no longer keeps anything. A shallow clone is refused: its history is cut, and
//! cleanup would delete what an older commit still needs.

use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::path::Path;

use crate::config::RefKind;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{dir}: not inside a git repository; cleanup by git history needs the project's clone\n  hint: run in the clone, or use --keep-last N / --keep-within DURATION, which need no git"
    )]
    NoRepository { dir: String },
    #[error(
        "{dir}: this is a shallow git clone; cleanup needs the full history or it would delete images that older commits still use\n  hint: fetch the whole history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout, `GIT_DEPTH: 0` in GitLab CI)"
    )]
    Shallow { dir: String },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// A branch or tag, with its tip and the time that orders references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: RefKind,
    /// `main`, `v1.2.0` (remote name stripped).
    pub name: String,
    pub tip: String,
    /// Branch: its tip commit's time. Tag: the tagger's time, else the commit's.
    pub time: DateTime<Utc>,
}

pub struct History {
    repo: git2::Repository,
}

/// One commit of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub time: DateTime<Utc>,
}

fn time_of(t: git2::Time) -> DateTime<Utc> {
    Utc.timestamp_opt(t.seconds(), 0).single().unwrap_or_default()
}

impl History {
    pub fn open(dir: &Path) -> Result<History, HistoryError> {
        let repo = git2::Repository::discover(dir)
            .map_err(|_| HistoryError::NoRepository { dir: dir.display().to_string() })?;
        if repo.is_shallow() {
            return Err(HistoryError::Shallow { dir: dir.display().to_string() });
        }
        Ok(History { repo })
    }

    /// Every branch (remote-tracking and local, by name; the newest tip wins) and tag.
    pub fn references(&self) -> Result<Vec<Reference>, HistoryError> {
        let mut branches: BTreeMap<String, Reference> = BTreeMap::new();
        let mut tags = Vec::new();
        for r in self.repo.references()? {
            let r = r?;
            let Some(full) = r.name() else { continue };
            let (kind, name) = if let Some(rest) = full.strip_prefix("refs/remotes/") {
                match rest.split_once('/') {
                    Some((_, "HEAD")) | None => continue,
                    Some((_, name)) => (RefKind::Branch, name.to_string()),
                }
            } else if let Some(name) = full.strip_prefix("refs/heads/") {
                (RefKind::Branch, name.to_string())
            } else if let Some(name) = full.strip_prefix("refs/tags/") {
                (RefKind::Tag, name.to_string())
            } else {
                continue;
            };
            let Ok(commit) = r.peel_to_commit() else { continue };
            let time = match (kind, r.peel_to_tag()) {
                (RefKind::Tag, Ok(tag)) => {
                    tag.tagger().map(|s| time_of(s.when())).unwrap_or_else(|| time_of(commit.time()))
                }
                _ => time_of(commit.time()),
            };
            let reference = Reference { kind, name, tip: commit.id().to_string(), time };
            match kind {
                RefKind::Tag => tags.push(reference),
                RefKind::Branch => {
                    let newer = branches.get(&reference.name).is_none_or(|b| b.time < reference.time);
                    if newer {
                        branches.insert(reference.name.clone(), reference);
                    }
                }
            }
        }
        let mut out: Vec<Reference> = branches.into_values().chain(tags).collect();
        out.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Commits reachable from `tip`, newest first; `visit` returns `false` to stop early.
    pub fn walk(&self, tip: &str, mut visit: impl FnMut(&Commit) -> bool) -> Result<(), HistoryError> {
        let mut walk = self.repo.revwalk()?;
        walk.set_sorting(git2::Sort::TIME | git2::Sort::TOPOLOGICAL)?;
        walk.push(git2::Oid::from_str(tip)?)?;
        for oid in walk {
            let oid = oid?;
            let commit = self.repo.find_commit(oid)?;
            if !visit(&Commit { id: oid.to_string(), time: time_of(commit.time()) }) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A repository with commits made at chosen times; returns commit ids.
    pub fn commit_at(repo: &git2::Repository, branch: &str, secs: i64, msg: &str) -> String {
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(secs, 0)).unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let refname = format!("refs/heads/{branch}");
        let parent = repo.find_reference(&refname).ok().and_then(|r| r.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some(&refname), &sig, &sig, msg, &tree, &parents).unwrap().to_string()
    }

    #[test]
    fn references_and_walks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let c1 = commit_at(&repo, "main", 1_000, "one");
        let c2 = commit_at(&repo, "main", 2_000, "two");
        repo.branch("feature", &repo.find_commit(git2::Oid::from_str(&c1).unwrap()).unwrap(), false).unwrap();
        let c3 = commit_at(&repo, "feature", 3_000, "three");
        repo.tag_lightweight("v1", &repo.find_object(git2::Oid::from_str(&c2).unwrap(), None).unwrap(), false).unwrap();
        // A remote-tracking branch of the same name as a local one: the newest tip wins.
        repo.reference("refs/remotes/origin/main", git2::Oid::from_str(&c1).unwrap(), true, "").unwrap();

        let h = History::open(dir.path()).unwrap();
        let refs = h.references().unwrap();
        let names: Vec<(&str, RefKind)> = refs.iter().map(|r| (r.name.as_str(), r.kind)).collect();
        assert_eq!(names, vec![("feature", RefKind::Branch), ("main", RefKind::Branch), ("v1", RefKind::Tag)]);
        assert_eq!(refs[1].tip, c2);

        let mut seen = Vec::new();
        h.walk(&c3, |c| {
            seen.push(c.id.clone());
            true
        })
        .unwrap();
        assert_eq!(seen, vec![c3.clone(), c1.clone()]);
    }

    #[test]
    fn shallow_clones_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let c1 = commit_at(&repo, "main", 1_000, "one");
        std::fs::write(dir.path().join(".git/shallow"), format!("{c1}\n")).unwrap();
        let err = History::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains("git fetch --unshallow"), "{err}");
        assert!(err.to_string().contains("fetch-depth: 0"), "{err}");
    }
}
