//! A GitHub packages API fake plus the bit of ghcr.io's distribution API a throwaway manifest
//! needs. Versions (one per manifest digest, tags in `metadata.container.tags`) are listed two
//! per page with `Link: rel="next"`; `DELETE …/versions/{id}` removes the version with every
//! tag on it, as GitHub does. Organisation packages live under `/orgs/acme`, user packages
//! under `/users/bob`. Requests must carry the documented Accept and API-version headers.

use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, unexpected};
use serde_json::json as j;
use wharf::digest::Digest;
use wharf::drivers::{Driver, DriverOptions, GithubDriver, UntagMethod};
use wharf::registry::{CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

const FULL: &str = "Bearer ghp_full";
const READ_ONLY: &str = "Bearer ghp_read";

fn version_id(d: &Digest) -> u64 {
    u64::from_str_radix(&d.hex()[..12], 16).unwrap()
}

fn handle(s: &mut State, req: &Request, base: &str) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let method = req.method.as_str();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.first() == Some(&"v2") {
        return registry(s, req, &parts);
    }
    let auth = header(req, "authorization");
    if auth != Some(FULL) && auth != Some(READ_ONLY) {
        return json(401, j!({"message": "Requires authentication"}));
    }
    if header(req, "accept") != Some("application/vnd.github+json") || header(req, "x-github-api-version") != Some("2022-11-28") {
        return json(400, j!({"message": "missing Accept or X-GitHub-Api-Version"}));
    }
    let (kind, owner, package, rest) = match parts.as_slice() {
        [kind @ ("orgs" | "users"), owner, "packages", "container", package, "versions", rest @ ..] => (*kind, *owner, *package, rest),
        _ => return unexpected(req),
    };
    if (kind == "orgs") != (owner == "acme") {
        return json(404, j!({"message": "Not Found"}));
    }
    let key = format!("{owner}/{}", package.replace("%2F", "/"));
    if package.contains('/') {
        return json(404, j!({"message": "package names with / must be URL-encoded"}));
    }
    let Some(repo) = s.repos.get(&key).cloned() else { return json(404, j!({"message": "Package not found."})) };
    match (method, rest) {
        ("GET", []) => {
            assert_eq!(query(req, "per_page").as_deref(), Some("100"));
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let all: Vec<Digest> = repo.manifests.iter().cloned().collect();
            let (items, more) = page(&all, n, 2);
            let versions: Vec<_> = items
                .iter()
                .map(|d| j!({"id": version_id(d), "name": d.to_string(), "metadata": {"package_type": "container", "container": {"tags": repo.tags_of(d)}}}))
                .collect();
            let mut resp = json(200, j!(versions));
            if more {
                let link = format!("<{base}/{kind}/{owner}/packages/container/{package}/versions?per_page=100&page={}>; rel=\"next\"", n + 1);
                resp = resp.insert_header("link", link.as_str());
            }
            resp
        }
        ("DELETE", [id]) => {
            if auth != Some(FULL) {
                return json(403, j!({"message": "You must have the delete:packages scope"}));
            }
            let Some(d) = repo.manifests.iter().find(|d| version_id(d).to_string() == *id).cloned() else {
                return json(404, j!({"message": "Not Found"}));
            };
            let r = s.repos.get_mut(&key).unwrap();
            r.manifests.remove(&d);
            r.tags.retain(|_, v| *v != d);
            ResponseTemplate::new(204)
        }
        _ => unexpected(req),
    }
}

/// ghcr.io's distribution API: the empty blob exists, manifests can be PUT by tag.
fn registry(s: &mut State, req: &Request, parts: &[&str]) -> ResponseTemplate {
    let empty = Digest::of(b"{}");
    match (req.method.as_str(), parts) {
        ("GET", ["v2", ""]) => json(200, j!({})),
        ("HEAD", ["v2", rest @ .., "blobs", d]) if !rest.is_empty() => {
            if *d == empty.as_str() { ResponseTemplate::new(200).set_body_string("{}") } else { ResponseTemplate::new(404) }
        }
        (method @ ("GET" | "HEAD"), ["v2", rest @ .., "manifests", reference]) if !rest.is_empty() => {
            // By digest or by tag, as ghcr.io answers.
            let found = s.repos.get(&rest.join("/")).and_then(|r| {
                let digest = r.tags.get(*reference).cloned().or_else(|| reference.parse::<Digest>().ok())?;
                r.bodies.get(&digest).map(|b| (digest, b.clone()))
            });
            match found {
                Some((digest, body)) => {
                    let resp = ResponseTemplate::new(200)
                        .insert_header("docker-content-digest", digest.as_str())
                        .insert_header("content-type", "application/vnd.oci.image.manifest.v1+json");
                    if method == "GET" { resp.set_body_raw(body, "application/vnd.oci.image.manifest.v1+json") } else { resp.insert_header("content-length", body.len().to_string().as_str()) }
                }
                None => ResponseTemplate::new(404),
            }
        }
        ("PUT", ["v2", rest @ .., "manifests", tag]) if !rest.is_empty() => {
            let d = Digest::of(&req.body);
            let r = s.repos.entry(rest.join("/")).or_default();
            r.manifests.insert(d.clone());
            r.bodies.insert(d.clone(), req.body.clone());
            r.tags.insert(tag.to_string(), d.clone());
            ResponseTemplate::new(201).insert_header("docker-content-digest", d.as_str())
        }
        _ => unexpected(req),
    }
}

fn driver(fake: &Fake, token: &str) -> Box<dyn Driver> {
    let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
    opts.tokens.github = Some(token.into());
    Box::new(GithubDriver::new(&opts).unwrap())
}

/// `HOST:PORT/acme/team/app`: the registry is the fake too, so the throwaway PUT lands there.
async fn fixture_for(path: &str) -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), path).unwrap();
    let (driver, weak) = (driver(&fake, "ghp_full"), driver(&fake, "ghp_read"));
    FakeFixture { fake, key: path.into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture_for("acme/team/app").await).await;
}

#[tokio::test]
async fn a_last_tag_deletes_its_version_and_a_shared_one_goes_through_a_throwaway_version() {
    let f = fixture_for("acme/team/app").await;
    let shared = f.fake.seed("acme/team/app", &["v1", "latest"]);
    let alone = f.fake.seed("acme/team/app", &["v0"]);
    let out = f.driver.untag(&f.repo, "v0").await.unwrap();
    assert_eq!((out.method, &out.digest), (UntagMethod::LastTagVersion, &alone));
    let log = f.fake.log();
    assert_eq!(log.last().unwrap(), &format!("DELETE /orgs/acme/packages/container/team%2Fapp/versions/{}", version_id(&alone)));

    let out = f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!((out.method, &out.digest), (UntagMethod::ThrowawayManifest, &shared));
    let state = f.fake.state.lock().unwrap().repos["acme/team/app"].clone();
    assert_eq!(state.tags_of(&shared), ["latest"], "the sibling keeps its version");
    assert_eq!(state.manifests.len(), 1, "the throwaway version was deleted: {:?}", state.manifests);
    let log = f.fake.log();
    assert!(log.iter().any(|l| l == "PUT /v2/acme/team/app/manifests/v1"), "{log:#?}");
    assert!(log.last().unwrap().starts_with("DELETE /orgs/acme/packages/container/team%2Fapp/versions/"), "{log:#?}");
    assert!(!log.iter().any(|l| l.ends_with(&version_id(&shared).to_string())), "the shared version is never deleted: {log:#?}");
}

#[tokio::test]
async fn user_packages_are_found_under_users() {
    let f = fixture_for("bob/app").await;
    let d = f.fake.seed("bob/app", &["x"]);
    let tags = f.driver.list_tags(&f.repo).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].digest, d);
    let log = f.fake.log();
    assert_eq!(log, ["GET /orgs/bob/packages/container/app/versions?per_page=100", "GET /users/bob/packages/container/app/versions?per_page=100"]);
}

#[tokio::test]
async fn no_token_says_what_github_needs() {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), "acme/app").unwrap();
    let d = GithubDriver::new(&options(fast_client(CredentialStore::new()), fake.url())).unwrap();
    let err = d.list_tags(&repo).await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth(), "{text}");
    assert!(text.contains("github driver: list tags") && text.contains("delete:packages") && text.contains("GITHUB_TOKEN"), "{text}");
    assert!(fake.log().is_empty(), "nothing is sent without a token");
}

/// Cleanup's plan → apply → restore, through the GitHub driver: listing by the REST API,
/// re-checks and the journal by the distribution API, untag by version or throwaway.
#[tokio::test]
async fn cleanup_through_the_github_driver_keeps_siblings_and_restores() {
    use wharf::cleanup::run::{Keep, Settings, apply, make_plan};
    let f = fixture_for("acme/team/app").await;
    let x = f.fake.seed(&f.key, &["old", "release-1"]);
    let y = f.fake.seed(&f.key, &["older"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let project = wharf::config::parse_str(&dir.path().join("wharf.yaml"), dir.path(), "project: t\nconfigVersion: 1\n---\nimage: ~\n").unwrap();
    let keep = globset::Glob::new("release-*").unwrap().compile_matcher();
    let settings = Settings {
        project: Some(project),
        repo: f.repo.clone(),
        layout: wharf::naming::Layout::Monorepo,
        keep: Keep::Simple { last: None, within: None },
        keep_patterns: vec![("release-*".into(), keep)],
        fresh_window: None,
        include_unknown: true,
        static_root: None,
    };
    let client = fast_client(CredentialStore::new());
    let plan = make_plan(&settings, f.driver.as_ref(), &client).await.unwrap();
    let deletes: Vec<&str> = plan.deletions().map(|e| e.tag.as_str()).collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    let journal = dir.path().join("journal.jsonl");
    let outcome = apply(&plan, f.driver.as_ref(), &client, &journal).await.unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(f.fake.tag(&f.key, "release-1"), Some(x.clone()), "the sibling stays, same digest");
    assert_eq!(f.fake.tag(&f.key, "old"), None);
    assert_eq!(f.fake.tag(&f.key, "older"), None);

    let lines = wharf::cleanup::journal::read(&journal).unwrap();
    let restored = wharf::cleanup::execute::restore(&lines, &client).await;
    assert_eq!(restored.restored.len(), 2, "{:?}", restored.skipped);
    assert_eq!(f.fake.tag(&f.key, "old"), Some(x));
    assert_eq!(f.fake.tag(&f.key, "older"), Some(y));
}
