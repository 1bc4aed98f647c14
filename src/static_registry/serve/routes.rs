//! What a request asks for: the distribution API's read endpoints, parsed and validated
//! before any file is opened (pure functions).
//!
//! The kind of request is the path's last two segments (`manifests/<ref>`, `blobs/<digest>`,
//! `referrers/<digest>`, `tags/list`); everything before them is the repository, checked
//! against the distribution grammar. A bad name, reference or digest is refused here with the
//! spec's error code: 404 for manifests and blobs, 400 for a referrers digest (the spec's
//! MUST). A well-formed digest of another algorithm than sha256 is simply unknown.

use axum::http::StatusCode;

use crate::registry::validate_tag;
use crate::spec::digest::Digest;
use crate::static_registry::root::validate_repo;

/// A request the registry answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    /// `reference` a tag or a sha256 digest; `None` for a digest of another algorithm.
    Manifest {
        repo: String,
        reference: Option<String>,
    },
    Blob {
        repo: String,
        digest: Option<Digest>,
    },
    Tags {
        repo: String,
    },
    Referrers {
        repo: String,
        subject: Option<Digest>,
    },
}

/// Why a request is refused before anything is read: status, spec error code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

const fn refuse(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
    Refusal { status, code, message }
}

const NOT_FOUND: Refusal = refuse(StatusCode::NOT_FOUND, "UNSUPPORTED", "no such endpoint in this read-only registry");
const NAME_INVALID: Refusal = refuse(StatusCode::NOT_FOUND, "NAME_INVALID", "invalid repository name");

/// Parses a request path (percent-decoded here).
pub fn route(path: &str) -> Result<Route, Refusal> {
    let path = percent_decode(path).ok_or(NAME_INVALID)?;
    if path == "/v2" || path == "/v2/" {
        return Ok(Route::Base);
    }
    let rest = path.strip_prefix("/v2/").ok_or(NOT_FOUND)?;
    let mut parts = rest.rsplitn(3, '/');
    let (Some(arg), Some(kind), Some(repo)) = (parts.next(), parts.next(), parts.next()) else { return Err(NOT_FOUND) };
    let repo_ok = || validate_repo(repo).map(|_| repo.to_string()).map_err(|_| NAME_INVALID);
    match (kind, arg) {
        ("tags", "list") => Ok(Route::Tags { repo: repo_ok()? }),
        ("manifests", reference) => {
            let repo = repo_ok()?;
            if reference.contains(':') {
                let digest = digest(reference, StatusCode::NOT_FOUND)?;
                Ok(Route::Manifest { repo, reference: digest.map(|d| d.to_string()) })
            } else {
                validate_tag(reference).map_err(|_| {
                    refuse(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown (not a valid tag)")
                })?;
                Ok(Route::Manifest { repo, reference: Some(reference.to_string()) })
            }
        }
        ("blobs", d) if !d.is_empty() => {
            Ok(Route::Blob { repo: repo_ok()?, digest: digest(d, StatusCode::NOT_FOUND)? })
        }
        ("referrers", d) => Ok(Route::Referrers { repo: repo_ok()?, subject: digest(d, StatusCode::BAD_REQUEST)? }),
        _ => Err(NOT_FOUND),
    }
}

/// A sha256 digest; `None` for a well-formed digest of another algorithm (`sha512:…`); a
/// malformed one is refused with `status` and `DIGEST_INVALID`.
fn digest(text: &str, status: StatusCode) -> Result<Option<Digest>, Refusal> {
    if let Ok(d) = text.parse::<Digest>() {
        return Ok(Some(d));
    }
    let invalid = refuse(status, "DIGEST_INVALID", "invalid digest (algorithm:hex, e.g. sha256 and 64 lowercase hex)");
    let (algorithm, encoded) = text.split_once(':').ok_or(invalid.clone())?;
    let component = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(component);
    let encoded_ok = !encoded.is_empty() && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    let hex =
        |n: usize| encoded.len() == n && encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let registered_ok = match algorithm {
        "sha256" => false,
        "sha512" => hex(128),
        _ => true,
    };
    if algorithm_ok && encoded_ok && registered_ok { Ok(None) } else { Err(invalid) }
}

pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The query's `key` (decoded), the first if repeated.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// One page of a tag list, as the spec's `n` and `last` ask: the tags after `last` (in
/// ASCII order), at most `n`, and the `last` of the next page when more remain.
pub fn page(mut tags: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, Option<String>) {
    tags.sort();
    tags.dedup();
    if let Some(last) = last {
        tags.retain(|t| t.as_str() > last);
    }
    match n {
        Some(n) if n < tags.len() => {
            tags.truncate(n);
            // n = 0 is an empty list without a Link.
            let next = tags.last().cloned();
            (tags, next)
        }
        _ => (tags, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn code(path: &str) -> (u16, &'static str) {
        let r = route(path).unwrap_err();
        (r.status.as_u16(), r.code)
    }

    #[test]
    fn routes_follow_the_distribution_api_and_stay_inside_the_root() {
        let manifest = |repo: &str, r: &str| Route::Manifest { repo: repo.into(), reference: Some(r.into()) };
        assert_eq!(route("/v2/"), Ok(Route::Base));
        assert_eq!(route("/v2/a/b/manifests/v1"), Ok(manifest("a/b", "v1")));
        assert_eq!(route(&format!("/v2/a/manifests/{D}")), Ok(manifest("a", D)));
        assert_eq!(route(&format!("/v2/a/manifests/{}", D.replace(':', "%3A"))), Ok(manifest("a", D)));
        assert_eq!(route(&format!("/v2/a/blobs/{D}")), Ok(Route::Blob { repo: "a".into(), digest: D.parse().ok() }));
        assert_eq!(
            route(&format!("/v2/a/referrers/{D}")),
            Ok(Route::Referrers { repo: "a".into(), subject: D.parse().ok() })
        );
        assert_eq!(route("/v2/a/tags/list"), Ok(Route::Tags { repo: "a".into() }));
        assert_eq!(route("/v2/manifests/tags/list"), Ok(Route::Tags { repo: "manifests".into() }));
        assert_eq!(
            route("/v2/a/manifests/b/manifests/v1"),
            Ok(manifest("a/manifests/b", "v1")),
            "the last two segments decide"
        );
        assert_eq!(
            route("/v2/a/b/tags/list/x/manifests/1"),
            Ok(manifest("a/b/tags/list/x", "1")),
            "a valid name; its file is missing"
        );
        assert_eq!(
            route(&format!("/v2/a/blobs/sha512:{}", "a".repeat(128))),
            Ok(Route::Blob { repo: "a".into(), digest: None })
        );
        for bad in
            ["/v2/../etc/manifests/v1", "/v2/a/%2e%2e/manifests/v1", "/v2/_wharf/manifests/v1", "/v2/a/manifests/%zz"]
        {
            assert_eq!(code(bad), (404, "NAME_INVALID"), "{bad}");
        }
        assert!(
            route(&format!("/v2/{}/manifests/v1", "a".repeat(300))).is_ok(),
            "too long for a file name: its file is missing"
        );
        assert_eq!(code("/v2/a/manifests/.."), (404, "MANIFEST_UNKNOWN"));
        assert_eq!(code("/v2/a/manifests/sha256:baddigeststring"), (404, "DIGEST_INVALID"));
        assert_eq!(code("/v2/a/blobs/sha256:0"), (404, "DIGEST_INVALID"));
        assert_eq!(code("/v2/a/referrers/sha256:0"), (400, "DIGEST_INVALID"), "the referrers API answers 400");
        assert_eq!(code("/v2/a/referrers/nodigest"), (400, "DIGEST_INVALID"));
        for unknown in ["/etc/passwd", "/v2/a/blobs/uploads/", "/v2/_catalog", "/v2/a"] {
            assert_eq!(code(unknown), (404, "UNSUPPORTED"), "{unknown}");
        }
    }

    #[test]
    fn tag_pages_follow_n_and_last() {
        let tags: Vec<String> = ["b", "a", "c", "1", "B"].iter().map(|t| t.to_string()).collect();
        assert_eq!(page(tags.clone(), None, None).0, ["1", "B", "a", "b", "c"], "ASCII order");
        assert_eq!(page(tags.clone(), Some(2), None), (vec!["1".into(), "B".into()], Some("B".into())));
        assert_eq!(page(tags.clone(), Some(2), Some("B")), (vec!["a".into(), "b".into()], Some("b".into())));
        assert_eq!(page(tags.clone(), Some(2), Some("b")), (vec!["c".into()], None), "the last page has no next");
        assert_eq!(page(tags.clone(), None, Some("1")).0, ["B", "a", "b", "c"], "last without n");
        assert_eq!(page(tags.clone(), Some(0), None), (vec![], None), "n=0: empty, no Link");
        assert_eq!(page(tags.clone(), Some(5), None).1, None, "exactly all: no next page");
        assert_eq!(page(tags, None, Some("zzz")).0, Vec::<String>::new());
        assert_eq!(query_param(Some("n=1&last=a%2Bb"), "last").as_deref(), Some("a+b"));
        assert_eq!(
            query_param(Some("artifactType=application%2Fvnd.x"), "artifactType").as_deref(),
            Some("application/vnd.x")
        );
    }
}
