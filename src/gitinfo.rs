//! What the local git repository says about the checkout: commit, branch, tag.
//!
//! CI systems check out detached heads; the CI environment (read in `cli.rs`) takes
//! precedence over what is found here.

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
}

impl GitInfo {
    /// Reads the repository that contains `dir`; an empty `GitInfo` when there is none.
    pub fn discover(dir: &Path) -> GitInfo {
        let Ok(repo) = git2::Repository::discover(dir) else {
            return GitInfo::default();
        };
        let Ok(head) = repo.head() else {
            return GitInfo::default();
        };
        let commit = head.peel_to_commit().ok().map(|c| c.id());
        let branch = head.is_branch().then(|| head.shorthand().map(str::to_string)).flatten();
        let tag = commit.and_then(|id| tag_at(&repo, id));
        GitInfo { commit: commit.map(|c| c.to_string()), branch, tag }
    }

    /// Fills what `self` lacks from `other`.
    pub fn or(self, other: GitInfo) -> GitInfo {
        GitInfo {
            commit: self.commit.or(other.commit),
            branch: self.branch.or(other.branch),
            tag: self.tag.or(other.tag),
        }
    }
}

/// The first tag (by name) that points at `commit`, annotated or not.
fn tag_at(repo: &git2::Repository, commit: git2::Oid) -> Option<String> {
    let names = repo.tag_names(None).ok()?;
    let mut found: Vec<String> = names
        .iter()
        .flatten()
        .filter(|name| {
            repo.revparse_single(&format!("refs/tags/{name}"))
                .and_then(|o| o.peel_to_commit())
                .is_ok_and(|c| c.id() == commit)
        })
        .map(str::to_string)
        .collect();
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commit_branch_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let id = repo.commit(Some("HEAD"), &sig, &sig, "first", &tree, &[]).unwrap();
        let obj = repo.find_object(id, None).unwrap();
        repo.tag_lightweight("v1.0.0", &obj, false).unwrap();
        let info = GitInfo::discover(dir.path());
        assert_eq!(info.commit.as_deref(), Some(id.to_string().as_str()));
        assert!(info.branch.is_some());
        assert_eq!(info.tag.as_deref(), Some("v1.0.0"));
    }

    #[test]
    fn no_repository_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(GitInfo::discover(dir.path()), GitInfo::default());
    }
}
