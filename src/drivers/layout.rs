//! `--repo-mode` per driver: what `auto` means for a registry, and which combinations cannot
//! work there.
//!
//! On registries that accept only `account/repository` names (Docker Hub, quay.io), `REPO`
//! decides: an account (`flant`) can only hold one repository per image, so `auto` is
//! multirepo (`flant/backend:TAG`); a repository (`flant/project`) cannot have children, so
//! `auto` is monorepo (`flant/project:backend-TAG`). Elsewhere `auto` is multirepo.

use super::{DriverInfo, Nesting};
use crate::naming::{Layout, RepoMode};
use crate::registry::{Reference, Repository};
use crate::spec::reference::{DOCKER_HUB, ReferenceError};

/// Parses a `REPO` argument. Unlike an image reference, a Docker Hub account on its own
/// (`flant`, `docker.io/flant`) stays an account: it does not become `library/flant`.
pub fn parse_repository(input: &str) -> Result<Repository, ReferenceError> {
    let reference: Reference = input.parse()?;
    if reference.tag.is_some() || reference.digest.is_some() {
        return Err(ReferenceError {
            input: input.to_string(),
            problem: "expected a repository without a tag or digest".into(),
        });
    }
    let mut repo = reference.repo;
    if repo.registry == DOCKER_HUB
        && !input.contains("library/")
        && let Some(account) = repo.path.strip_prefix("library/").filter(|a| !a.contains('/'))
    {
        repo.path = account.to_string();
    }
    Ok(repo)
}

/// What `mode` means for `repo` on `info`'s registry, or why it cannot work there.
pub fn resolve_layout(mode: RepoMode, repo: &Repository, info: &DriverInfo) -> Result<Layout, String> {
    match info.capabilities.nesting {
        Nesting::Any => Ok(mode.resolve_generic()),
        Nesting::AccountRepository => account_repository(mode, repo, info),
    }
}

fn account_repository(mode: RepoMode, repo: &Repository, info: &DriverInfo) -> Result<Layout, String> {
    let parts: Vec<&str> = repo.path.split('/').collect();
    let title = info.title;
    match (parts.as_slice(), mode) {
        ([_], RepoMode::Auto | RepoMode::Multirepo) => Ok(Layout::Multirepo),
        ([account], RepoMode::Monorepo) => Err(format!(
            "{title} has no repository called just {account:?}: monorepo needs an account/repository \
             REPO such as {}/{account}/PROJECT, or use --repo-mode multirepo to publish {account}/IMAGE",
            repo.registry
        )),
        ([_, _], RepoMode::Auto | RepoMode::Monorepo) => Ok(Layout::Monorepo),
        ([account, _], RepoMode::Multirepo) => Err(format!(
            "{title} accepts only account/repository names, so multirepo under {path:?} would need \
             {path}/IMAGE, which it refuses; use --repo {registry}/{account} for multirepo, or \
             --repo-mode monorepo (or auto) to publish {path}:IMAGE-TAG",
            path = repo.path,
            registry = repo.registry
        )),
        (_, _) => Err(format!(
            "{title} accepts only account/repository names; {:?} has {} components",
            repo.path,
            parts.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{by_name, detect};

    fn resolve(mode: RepoMode, input: &str) -> Result<Layout, String> {
        let repo = parse_repository(input).unwrap();
        resolve_layout(mode, &repo, detect(&repo.registry))
    }

    #[test]
    fn docker_hub_accounts_stay_accounts() {
        for input in ["flant", "docker.io/flant", "index.docker.io/flant"] {
            let repo = parse_repository(input).unwrap();
            assert_eq!((repo.registry.as_str(), repo.path.as_str()), ("docker.io", "flant"), "{input}");
        }
        assert_eq!(parse_repository("docker.io/library/nginx").unwrap().path, "library/nginx");
        assert_eq!(parse_repository("flant/project").unwrap().path, "flant/project");
        assert_eq!(parse_repository("ghcr.io/org").unwrap().path, "org");
        assert!(parse_repository("flant/project:v1").is_err());
    }

    #[test]
    fn werf_docs_examples_on_docker_hub() {
        // flant → flant/backend:TAG; flant/project → flant/project:backend-TAG
        assert_eq!(resolve(RepoMode::Auto, "flant"), Ok(Layout::Multirepo));
        assert_eq!(resolve(RepoMode::Auto, "flant/project"), Ok(Layout::Monorepo));
        assert_eq!(resolve(RepoMode::Auto, "quay.io/org"), Ok(Layout::Multirepo));
        assert_eq!(resolve(RepoMode::Auto, "quay.io/org/project"), Ok(Layout::Monorepo));
    }

    #[test]
    fn impossible_combinations_are_clear_errors() {
        let e = resolve(RepoMode::Multirepo, "flant/project").unwrap_err();
        assert!(e.contains("Docker Hub") && e.contains("--repo docker.io/flant") && e.contains("monorepo"), "{e}");
        let e = resolve(RepoMode::Monorepo, "flant").unwrap_err();
        assert!(e.contains("account/repository") && e.contains("multirepo"), "{e}");
        let e = resolve(RepoMode::Auto, "quay.io/a/b/c").unwrap_err();
        assert!(e.contains("3 components"), "{e}");
    }

    #[test]
    fn other_registries_default_to_multirepo() {
        assert_eq!(resolve(RepoMode::Auto, "localhost:5000/app"), Ok(Layout::Multirepo));
        assert_eq!(resolve(RepoMode::Auto, "ghcr.io/org/project"), Ok(Layout::Multirepo));
        assert_eq!(resolve(RepoMode::Monorepo, "registry.gitlab.com/g/p"), Ok(Layout::Monorepo));
        let repo = parse_repository("harbor.example.com/p/a/b").unwrap();
        assert_eq!(resolve_layout(RepoMode::Auto, &repo, by_name("harbor").unwrap()), Ok(Layout::Multirepo));
    }
}
