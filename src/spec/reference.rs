//! Image references: `[oci://]host[:port]/path[:tag][@sha256:…]`.
//!
//! Parsing follows the OCI distribution grammar and Docker's conventions: a first component
//! without `.` or `:` that is not `localhost` names a Docker Hub repository (`docker.io`), and a
//! single-component Docker Hub path gets `library/`. Errors name the offending part and say how
//! to fix it. `Display` prints what a user would type, so a parsed reference round-trips.

use crate::spec::digest::Digest;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// How Docker Hub is written in a [`Repository`].
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's distribution API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Longest repository name (`path`) the distribution spec allows.
pub const MAX_NAME_LEN: usize = 255;

static COMPONENT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$").expect("static regex"));
static TAG: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("static regex"));
static HOST: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$")
        .expect("static regex")
});

/// A reference that does not follow the distribution grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference {input:?}: {problem}")]
pub struct ReferenceError {
    /// What the user wrote.
    pub input: String,
    /// Which part is wrong and how to fix it.
    pub problem: String,
}

impl ReferenceError {
    fn new(input: &str, problem: impl Into<String>) -> Self {
        ReferenceError { input: input.to_string(), problem: problem.into() }
    }
}

/// A repository on a registry (`registry/path`), or in a static root (`path` alone: no
/// registry, see [`Repository::in_static_root`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    /// `host[:port]` as the user wrote it; Docker Hub is normalised to `docker.io`.
    pub registry: String,
    /// The repository name inside the registry, e.g. `library/alpine`.
    pub path: String,
}

/// A repository plus a tag, a digest, or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub repo: Repository,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Checks a tag against `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    if TAG.is_match(tag) {
        return Ok(());
    }
    let hint = if tag.is_empty() {
        "a tag cannot be empty".to_string()
    } else if tag.len() > 128 {
        format!("tags are at most 128 characters (this one has {})", tag.len())
    } else if tag.starts_with(['.', '-']) {
        "a tag cannot start with '.' or '-'".to_string()
    } else {
        "tags may contain only letters, digits, '_', '.' and '-'".to_string()
    };
    Err(format!("tag {tag:?}: {hint}"))
}

/// Checks one `/`-separated part of a repository path against
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn validate_path_component(component: &str) -> Result<(), String> {
    if COMPONENT.is_match(component) {
        return Ok(());
    }
    let hint = if component.is_empty() {
        "path components cannot be empty (check for '//' or a trailing '/')"
    } else if component.bytes().any(|b| b.is_ascii_uppercase()) {
        "repository names must be lowercase"
    } else if component.starts_with(['.', '_', '-']) || component.ends_with(['.', '_', '-']) {
        "a path component must start and end with a lowercase letter or digit"
    } else if component.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
        "separators must be a single '.', one or two '_', or dashes between letters or digits"
    } else {
        "path components may contain only lowercase letters, digits, '.', '_' and '-'"
    };
    Err(format!("path component {component:?}: {hint}"))
}

fn validate_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        validate_path_component(component)?;
    }
    if path.len() > MAX_NAME_LEN {
        return Err(format!("repository names are at most {MAX_NAME_LEN} characters (this one has {})", path.len()));
    }
    Ok(())
}

fn validate_registry(host: &str) -> Result<(), String> {
    if HOST.is_match(host) {
        Ok(())
    } else {
        Err(format!("registry host {host:?}: expected host[:port], e.g. registry.example.com:5000"))
    }
}

/// Whether `first` (the first `/` component) names a registry rather than a Docker Hub namespace.
fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn normalise_registry(host: &str) -> String {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.to_string(),
        other => other.to_string(),
    }
}

impl Repository {
    /// Builds a repository from parts, validating both.
    pub fn new(registry: &str, path: &str) -> Result<Self, ReferenceError> {
        let input = format!("{registry}/{path}");
        validate_registry(registry).map_err(|p| ReferenceError::new(&input, p))?;
        let registry = normalise_registry(registry);
        let path =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_string() };
        validate_path(&path).map_err(|p| ReferenceError::new(&input, p))?;
        Ok(Repository { registry, path })
    }

    /// A repository of a static root: a path, and no registry (shown as the path alone).
    pub fn in_static_root(path: &str) -> Result<Self, ReferenceError> {
        validate_path(path).map_err(|p| ReferenceError::new(path, p))?;
        Ok(Repository { registry: String::new(), path: path.to_string() })
    }

    /// Whether this is a static root's repository rather than a registry's.
    pub fn is_in_static_root(&self) -> bool {
        self.registry.is_empty()
    }

    /// A child repository `self/name` (multirepo layout), validated.
    pub fn join(&self, name: &str) -> Result<Repository, ReferenceError> {
        let path = format!("{}/{}", self.path, name.trim_matches('/'));
        let input = if self.is_in_static_root() { path.clone() } else { format!("{}/{path}", self.registry) };
        validate_path(&path).map_err(|p| ReferenceError::new(&input, p))?;
        Ok(Repository { registry: self.registry.clone(), path })
    }

    /// The host (and port) that serves the distribution API for this repository.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// A reference to `tag` in this repository (validated).
    pub fn tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        validate_tag(tag).map_err(|p| ReferenceError::new(&format!("{self}:{tag}"), p))?;
        Ok(Reference { repo: self.clone(), tag: Some(tag.to_string()), digest: None })
    }

    /// A reference to `digest` in this repository.
    pub fn digest(&self, digest: Digest) -> Reference {
        Reference { repo: self.clone(), tag: None, digest: Some(digest) }
    }
}

/// The API host for a registry as written in a [`Repository`] (`docker.io` → `registry-1.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB { DOCKER_HUB_API } else { registry }
}

impl FromStr for Repository {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        let r: Reference = s.parse()?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(ReferenceError::new(s, "expected a repository without a tag or digest"));
        }
        Ok(r.repo)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(input: &str) -> Result<Self, ReferenceError> {
        let s = input.strip_prefix("oci://").unwrap_or(input);
        if s.is_empty() {
            return Err(ReferenceError::new(input, "the reference is empty"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(ReferenceError::new(input, "references cannot contain whitespace"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = d.parse::<Digest>().map_err(|_| {
                    ReferenceError::new(input, format!("digest {d:?}: expected sha256:<64 lowercase hex characters>"))
                })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|p| ReferenceError::new(input, p))?;
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => (first, path),
            _ => (DOCKER_HUB, name),
        };
        if path.is_empty() {
            return Err(ReferenceError::new(input, "the repository path is missing (expected host/path)"));
        }
        let repo = Repository::new(registry, path).map_err(|e| ReferenceError::new(input, e.problem))?;
        Ok(Reference { repo, tag: tag.map(str::to_string), digest })
    }
}

/// Splits `name[:tag]`, where a `:` before the last `/` belongs to a port.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_in_static_root() { f.write_str(&self.path) } else { write!(f, "{}/{}", self.registry, self.path) }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl Reference {
    /// The tag or digest to address the manifest by (the digest wins when both are set).
    pub fn manifest_ref(&self) -> Option<String> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(t)) => Some(t.clone()),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_short_forms() {
        let r = parse("alpine");
        assert_eq!((r.repo.registry.as_str(), r.repo.path.as_str()), ("docker.io", "library/alpine"));
        assert_eq!(r.tag, None);
        let r = parse("alpine:3.20");
        assert_eq!(r.tag.as_deref(), Some("3.20"));
        assert_eq!(r.to_string(), "docker.io/library/alpine:3.20");
        let r = parse("bitnami/redis:7.2");
        assert_eq!(r.repo.path, "bitnami/redis");
        assert_eq!(r.repo.api_host(), "registry-1.docker.io");
        assert_eq!(parse("docker.io/nginx").repo.path, "library/nginx");
        assert_eq!(parse("index.docker.io/library/nginx").repo.registry, "docker.io");
    }

    #[test]
    fn real_world_registries() {
        let cases = [
            ("ghcr.io/werf/werf:2.10.0", "ghcr.io", "werf/werf", Some("2.10.0")),
            ("quay.io/prometheus/node-exporter:v1.8.1", "quay.io", "prometheus/node-exporter", Some("v1.8.1")),
            (
                "registry.gitlab.com/group/sub/project/app:latest",
                "registry.gitlab.com",
                "group/sub/project/app",
                Some("latest"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                "team/app",
                Some("1"),
            ),
            (
                "europe-docker.pkg.dev/proj/repo/img:abc_DEF-1.2",
                "europe-docker.pkg.dev",
                "proj/repo/img",
                Some("abc_DEF-1.2"),
            ),
            ("myacr.azurecr.io/samples/hello-world", "myacr.azurecr.io", "samples/hello-world", None),
            ("localhost:5000/a/b:tag", "localhost:5000", "a/b", Some("tag")),
            ("localhost/app", "localhost", "app", None),
            ("127.0.0.1:5000/app:x", "127.0.0.1:5000", "app", Some("x")),
            ("[::1]:5000/app:x", "[::1]:5000", "app", Some("x")),
            ("oci://harbor.example.com/proj/app:v1", "harbor.example.com", "proj/app", Some("v1")),
            ("registry.example.com/a__b/c-d/e.f/g---h:_t", "registry.example.com", "a__b/c-d/e.f/g---h", Some("_t")),
        ];
        for (input, host, path, tag) in cases {
            let r = parse(input);
            assert_eq!(r.repo.registry, host, "{input}");
            assert_eq!(r.repo.path, path, "{input}");
            assert_eq!(r.tag.as_deref(), tag, "{input}");
            assert_eq!(r.repo.api_host(), host);
        }
    }

    #[test]
    fn digests_and_tag_plus_digest() {
        let r = parse(&format!("ghcr.io/a/b@{D}"));
        assert_eq!(r.digest.as_ref().map(Digest::as_str), Some(D));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref().as_deref(), Some(D));
        let r = parse(&format!("host:5000/a:v1@{D}"));
        assert_eq!(r.repo.registry, "host:5000");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.to_string(), format!("host:5000/a:v1@{D}"));
    }

    #[test]
    fn display_round_trips() {
        for s in
            ["ghcr.io/x/y:1", "localhost:5000/a/b", "docker.io/library/alpine:3", "quay.io/a/b@".to_string().as_str()]
        {
            if s.ends_with('@') {
                continue;
            }
            assert_eq!(parse(s).to_string(), s);
            assert_eq!(parse(&parse(s).to_string()), parse(s));
        }
    }

    #[test]
    fn errors_name_the_part_and_hint() {
        let e = "ghcr.io/Org/App:1".parse::<Reference>().unwrap_err();
        assert!(e.to_string().contains("\"Org\""), "{e}");
        assert!(e.to_string().contains("must be lowercase"), "{e}");
        let e = "ghcr.io/a/b:-bad".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("tag \"-bad\""), "{e}");
        let e = "ghcr.io/a//b".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("empty"), "{e}");
        let e = "ghcr.io/a/b@sha256:123".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("digest"), "{e}");
        let e = "ghcr.io/a/b_".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("start and end"), "{e}");
        let e = "ghcr.io/a/b.-c".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("separators"), "{e}");
        let e = "ghcr.io/a/b é".parse::<Reference>().unwrap_err();
        assert!(e.problem.contains("whitespace"), "{e}");
        assert!("".parse::<Reference>().is_err());
        assert!("oci://".parse::<Reference>().is_err());
        assert!("ghcr.io/".parse::<Reference>().is_err());
        assert!("ghcr.io/a/ü".parse::<Reference>().is_err());
        assert!("bad_host.io/a".parse::<Reference>().is_err());
    }

    #[test]
    fn length_limits() {
        let long = format!("ghcr.io/{}", "a".repeat(256));
        assert!(long.parse::<Reference>().unwrap_err().problem.contains("at most 255"));
        assert!(format!("ghcr.io/{}", "a".repeat(255)).parse::<Reference>().is_ok());
        assert!(validate_tag(&"t".repeat(128)).is_ok());
        assert!(validate_tag(&"t".repeat(129)).unwrap_err().contains("at most 128"));
    }

    #[test]
    fn validators() {
        for ok in ["a", "a1", "a.b", "a_b", "a__b", "a-b", "a---b", "0"] {
            assert!(validate_path_component(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "a___b", "a..b", "-a", "a-", "a/b", "a:b"] {
            assert!(validate_path_component(bad).is_err(), "{bad}");
        }
        for ok in ["latest", "v1.2.3", "_x", "A-b_c.D"] {
            assert!(validate_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a+b"] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn random_references_never_panic_and_valid_ones_round_trip() {
        let alphabet = ["a", "B", "0", ".", "_", "-", "/", ":", "@", "sha256:", "localhost", "oci://", "é", "5000", D];
        for input in crate::registry::challenge::tests::random_inputs(&alphabet, 20_000) {
            if let Ok(r) = input.parse::<Reference>() {
                assert_eq!(r.to_string().parse::<Reference>().as_ref(), Ok(&r), "{input}");
            }
        }
    }

    #[test]
    fn repository_join_and_parse() {
        let base: Repository = "ghcr.io/org/project".parse().unwrap();
        let child = base.join("api").unwrap();
        assert_eq!(child.to_string(), "ghcr.io/org/project/api");
        assert!(base.join("Api").unwrap_err().problem.contains("lowercase"));
        assert!(base.join("").is_err());
        assert!("ghcr.io/a/b:tag".parse::<Repository>().is_err());
        let hub: Repository = "nginx".parse().unwrap();
        assert_eq!(hub.to_string(), "docker.io/library/nginx");
        assert_eq!(Repository::new("localhost:5000", "x").unwrap().to_string(), "localhost:5000/x");
        assert_eq!(base.tag("v1").unwrap().to_string(), "ghcr.io/org/project:v1");
        assert!(base.tag("v 1").is_err());
    }
}
