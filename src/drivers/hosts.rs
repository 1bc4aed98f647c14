//! Host matchers for the [`DRIVERS`](super::DRIVERS) table: pure functions over a lowercase
//! `host[:port]`, tested against real-world names (including those werf gets wrong:
//! `registry.gitlab.com`, `*-docker.pkg.dev`, FIPS, China and dual-stack ECR endpoints).
//!
//! Some hosts serve images nobody can delete through any API wharf drives: Google's Docker Hub
//! mirror (`mirror.gcr.io`), the frozen Kubernetes registry (`k8s.gcr.io`) and ECR Public
//! (`public.ecr.aws`). They are detected as the `default` driver (pulls and listing work), and
//! [`read_only`] says why deletes are refused there.

use std::sync::LazyLock;

/// `<12 digits>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`, and the dual-stack (IPv4 and
/// IPv6) form `<12 digits>.dkr-ecr[-fips].<region>.on.aws`
/// (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html>).
static ECR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?P<account>[0-9]{12})\.(?:dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|dkr-ecr(?:-fips)?\.(?P<dual>[a-z0-9-]+)\.on\.aws)$",
    )
    .expect("static regex")
});

/// The host without a `:port`.
pub(crate) fn bare(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h
        }
        _ => host,
    }
}

/// A private ECR registry host, IPv4-only or dual-stack.
pub(crate) fn ecr(host: &str) -> bool {
    ECR.is_match(bare(host))
}

/// The region of an ECR host.
pub(crate) fn ecr_region(host: &str) -> Option<String> {
    let caps = ECR.captures(bare(host))?;
    caps.name("region").or_else(|| caps.name("dual")).map(|m| m.as_str().to_string())
}

/// The account (registry id) of an ECR host.
pub(crate) fn ecr_account(host: &str) -> Option<String> {
    ECR.captures(bare(host))?.name("account").map(|m| m.as_str().to_string())
}

/// `public.ecr.aws`: ECR Public, whose images only its own API (ecr-public) deletes.
pub(crate) fn ecr_public(host: &str) -> bool {
    bare(host) == "public.ecr.aws"
}

/// `*.azurecr.io` and the sovereign clouds (`.azurecr.cn`, `.azurecr.us`).
pub(crate) fn acr(host: &str) -> bool {
    let h = bare(host);
    [".azurecr.io", ".azurecr.cn", ".azurecr.us"].iter().any(|s| h.ends_with(s) && h.len() > s.len())
}

/// Docker Hub under all its names (a bare `account/repo` parses to `docker.io`).
pub(crate) fn dockerhub(host: &str) -> bool {
    matches!(bare(host), "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com")
}

pub(crate) fn github(host: &str) -> bool {
    matches!(bare(host), "ghcr.io" | "docker.pkg.github.com")
}

pub(crate) fn gitlab(host: &str) -> bool {
    matches!(bare(host), "gitlab.com" | "registry.gitlab.com")
}

/// Hosts starting with `harbor.`, and Harbor's own demo and test instances (`*.goharbor.io`).
pub(crate) fn harbor(host: &str) -> bool {
    let h = bare(host);
    h.starts_with("harbor.") || (h.ends_with(".goharbor.io") && h.len() > ".goharbor.io".len())
}

pub(crate) fn quay(host: &str) -> bool {
    bare(host) == "quay.io" || bare(host).starts_with("quay.")
}

/// Read-only mirrors on gcr.io names that Artifact Registry does not serve as repositories.
const GCR_MIRRORS: &[&str] = &["mirror.gcr.io", "k8s.gcr.io"];

/// `<location>-docker.pkg.dev`, and `gcr.io` / `<region>.gcr.io` (served by Artifact Registry),
/// but not the read-only mirrors `mirror.gcr.io` and `k8s.gcr.io`.
pub(crate) fn artifact_registry(host: &str) -> bool {
    let h = bare(host);
    if GCR_MIRRORS.contains(&h) {
        return false;
    }
    (h.ends_with("-docker.pkg.dev") && h.len() > "-docker.pkg.dev".len()) || h == "gcr.io" || h.ends_with(".gcr.io")
}

/// Why nothing can be deleted on `host`, for hosts that serve images read-only to wharf.
pub(crate) fn read_only(host: &str) -> Option<&'static str> {
    match bare(host) {
        "mirror.gcr.io" => {
            Some("mirror.gcr.io is Google's read-only mirror of Docker Hub; delete the image where it is published")
        }
        "k8s.gcr.io" => Some(
            "k8s.gcr.io is the frozen, read-only Kubernetes image registry (now registry.k8s.io); nothing can be deleted there",
        ),
        h if ecr_public(h) => Some(
            "public.ecr.aws is ECR Public, whose images only its own API deletes, and wharf does not drive that API; \
             use `aws ecr-public batch-delete-image --repository-name NAME --image-ids imageTag=TAG` (region us-east-1)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::drivers::{detect, parse_repository};

    /// What a user writes → the driver chosen.
    const CASES: &[(&str, &str)] = &[
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app", "ecr"),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app", "ecr"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", "ecr"),
        ("12345.dkr.ecr.us-east-1.amazonaws.com/app", "default"),
        ("public.ecr.aws/alias/app", "default"),
        ("123456789012.dkr-ecr.eu-west-1.on.aws/team/app", "ecr"),
        ("123456789012.dkr-ecr-fips.us-east-1.on.aws/app", "ecr"),
        ("12345.dkr-ecr.eu-west-1.on.aws/app", "default"),
        ("demo.goharbor.io/library/app", "harbor"),
        ("goharbor.io/library/app", "default"),
        ("mirror.gcr.io/library/busybox", "default"),
        ("k8s.gcr.io/pause", "default"),
        ("x.azurecr.io/samples/app", "acr"),
        ("x.azurecr.cn/app", "acr"),
        ("azurecr.io/app", "default"),
        ("docker.io/acme/app", "dockerhub"),
        ("index.docker.io/acme/app", "dockerhub"),
        ("registry-1.docker.io/acme/app", "dockerhub"),
        ("registry.hub.docker.com/acme/app", "dockerhub"),
        ("acme/app", "dockerhub"),
        ("acme", "dockerhub"),
        ("ghcr.io/org/app", "github"),
        ("docker.pkg.github.com/org/repo/app", "github"),
        ("registry.gitlab.com/group/project", "gitlab"),
        ("gitlab.com/group/project", "gitlab"),
        ("gitlab.example.com/group/project", "default"),
        ("harbor.example.com/library/app", "harbor"),
        ("myharbor.example.com/p/app", "default"),
        ("quay.io/org/app", "quay"),
        ("quay.example.com/org/app", "quay"),
        ("europe-west1-docker.pkg.dev/proj/repo/app", "artifact-registry"),
        ("us-docker.pkg.dev/proj/repo/app", "artifact-registry"),
        ("gcr.io/proj/app", "artifact-registry"),
        ("eu.gcr.io/proj/app", "artifact-registry"),
        ("localhost:5000/app", "default"),
        ("127.0.0.1:5000/app", "default"),
        ("registry.example.com:443/a/b/c", "default"),
        ("HARBOR.Example.com/p/app", "harbor"),
    ];

    #[test]
    fn detection_table_over_real_world_hosts() {
        for (input, want) in CASES {
            let lowered = input.to_ascii_lowercase();
            let input = if input.starts_with("HARBOR") { lowered.as_str() } else { input };
            let repo = parse_repository(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(detect(&repo.registry).name, *want, "{input}");
        }
        assert_eq!(detect("HARBOR.Example.com").name, "harbor");
    }

    #[test]
    fn ecr_regions_and_ports() {
        assert_eq!(super::ecr_region("123456789012.dkr.ecr.eu-west-3.amazonaws.com").as_deref(), Some("eu-west-3"));
        assert_eq!(
            super::ecr_region("123456789012.dkr.ecr-fips.us-east-2.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(
            super::ecr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(super::ecr_region("example.com"), None);
        assert_eq!(super::ecr_region("123456789012.dkr-ecr.ap-south-2.on.aws").as_deref(), Some("ap-south-2"));
        assert_eq!(super::ecr_account("123456789012.dkr-ecr.ap-south-2.on.aws:443").as_deref(), Some("123456789012"));
        assert_eq!(super::ecr_account("123456789012.dkr.ecr.eu-west-3.amazonaws.com").as_deref(), Some("123456789012"));
        assert_eq!(super::bare("localhost:5000"), "localhost");
        assert_eq!(super::bare("[::1]:5000"), "[::1]");
        assert_eq!(super::bare("quay.io"), "quay.io");
    }

    #[test]
    fn read_only_hosts_say_why() {
        for host in ["mirror.gcr.io", "k8s.gcr.io", "public.ecr.aws", "public.ecr.aws:443"] {
            assert!(super::read_only(host).is_some(), "{host}");
        }
        assert!(super::read_only("public.ecr.aws").unwrap().contains("ecr-public"));
        for host in ["gcr.io", "eu.gcr.io", "ghcr.io", "123456789012.dkr.ecr.us-east-1.amazonaws.com"] {
            assert_eq!(super::read_only(host), None, "{host}");
        }
    }
}
