//! What the local git repository says about the checkout: commit, branch, tag.
//!
//! CI systems check out detached heads; the CI environment (read in `cli/`) takes
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

/// What an image's provenance annotations need from the checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub commit: Option<String>,
    /// The commit's time, RFC 3339 in UTC.
    pub time: Option<String>,
    /// The `origin` remote as a browsable `https://` URL, credentials removed.
    pub remote: Option<String>,
}

impl Head {
    /// Reads the repository that contains `dir`; empty when there is none.
    pub fn discover(dir: &Path) -> Head {
        let Ok(repo) = git2::Repository::discover(dir) else { return Head::default() };
        let commit = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let time = commit
            .as_ref()
            .and_then(|c| chrono::DateTime::from_timestamp(c.time().seconds(), 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let remote = repo.find_remote("origin").ok().and_then(|r| r.url().and_then(web_url));
        Head { commit: commit.map(|c| c.id().to_string()), time, remote }
    }
}

/// `git@host:o/r.git`, `ssh://git@host:22/o/r.git`, `https://user:token@host/o/r.git` →
/// `https://host/o/r`. `None` for local paths and other schemes.
pub fn web_url(remote: &str) -> Option<String> {
    let (host, path) = if let Some(rest) = remote.strip_prefix("https://").or_else(|| remote.strip_prefix("http://")) {
        rest.split_once('/')?
    } else if let Some(rest) = remote.strip_prefix("ssh://").or_else(|| remote.strip_prefix("git+ssh://")) {
        rest.split_once('/')?
    } else if !remote.contains("://") && remote.contains('@') && remote.contains(':') {
        remote.split_once(':')?
    } else {
        return None;
    };
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = if remote.starts_with("ssh://") || remote.starts_with("git+ssh://") || !remote.contains("://") {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    (!host.is_empty() && !path.is_empty()).then(|| format!("https://{host}/{path}"))
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
    fn remotes_become_browsable_urls_without_credentials() {
        for (remote, want) in [
            ("git@github.com:acme/app.git", Some("https://github.com/acme/app")),
            ("ssh://git@github.com:22/acme/app.git", Some("https://github.com/acme/app")),
            ("https://x-access-token:secret@github.com/acme/app.git", Some("https://github.com/acme/app")),
            ("https://gitlab.example.com:8443/group/sub/app", Some("https://gitlab.example.com:8443/group/sub/app")),
            ("/srv/git/app.git", None),
            ("file:///srv/git/app.git", None),
        ] {
            assert_eq!(web_url(remote).as_deref(), want, "{remote}");
        }
    }

    #[test]
    fn head_has_commit_time_and_remote() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        repo.remote("origin", "git@github.com:acme/app.git").unwrap();
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let id = repo.commit(Some("HEAD"), &sig, &sig, "first", &tree, &[]).unwrap();
        let head = Head::discover(dir.path());
        assert_eq!(head.commit, Some(id.to_string()));
        assert_eq!(head.time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(head.remote.as_deref(), Some("https://github.com/acme/app"));
    }

    #[test]
    fn no_repository_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(GitInfo::discover(dir.path()), GitInfo::default());
    }
}
