//! Host matchers for the [`DRIVERS`](super::DRIVERS) table: pure functions over a lowercase
//! `host[:port]`, tested against real-world names (including those werf gets wrong:
//! `registry.gitlab.com`, `*-docker.pkg.dev`, FIPS and China ECR endpoints).

use std::sync::LazyLock;

static ECR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$").expect("static regex")
});

/// The host without a `:port`.
pub(crate) fn bare(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
        _ => host,
    }
}

/// `<12 digits>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`
pub(crate) fn ecr(host: &str) -> bool {
    ECR.is_match(bare(host))
}

/// The region of an ECR host.
pub(crate) fn ecr_region(host: &str) -> Option<String> {
    let h = bare(host);
    if !ECR.is_match(h) {
        return None;
    }
    h.split('.').nth(3).map(str::to_string)
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

pub(crate) fn harbor(host: &str) -> bool {
    bare(host).starts_with("harbor.")
}

pub(crate) fn quay(host: &str) -> bool {
    bare(host) == "quay.io" || bare(host).starts_with("quay.")
}

/// `<location>-docker.pkg.dev`, and `gcr.io` / `<region>.gcr.io` (served by Artifact Registry).
pub(crate) fn artifact_registry(host: &str) -> bool {
    let h = bare(host);
    (h.ends_with("-docker.pkg.dev") && h.len() > "-docker.pkg.dev".len()) || h == "gcr.io" || h.ends_with(".gcr.io")
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
        assert_eq!(super::ecr_region("123456789012.dkr.ecr-fips.us-east-2.amazonaws.com").as_deref(), Some("us-east-2"));
        assert_eq!(super::ecr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443").as_deref(), Some("cn-north-1"));
        assert_eq!(super::ecr_region("example.com"), None);
        assert_eq!(super::bare("localhost:5000"), "localhost");
        assert_eq!(super::bare("[::1]:5000"), "[::1]");
        assert_eq!(super::bare("quay.io"), "quay.io");
    }
}
