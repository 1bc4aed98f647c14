//! A GitHub packages API fake plus the bit of ghcr.io's distribution API a throwaway manifest
//! needs, modelled on <https://docs.github.com/en/rest/packages/packages>:
//!
//! - versions (one per manifest digest, newest first, tags in `metadata.container.tags`, or
//!   `metadata.docker.tag` for `docker` packages) are listed two per page with
//!   `Link: rel="next"`; one version can be read; `DELETE …/versions/{id}` removes the version
//!   with every tag on it, and `DELETE …/packages/{type}/{name}` the package;
//! - deleting the last tagged version answers 400 "You cannot delete the last tagged version of
//!   a package. You must delete the package instead." (as reported in
//!   actions/delete-package-versions#231);
//! - `GET /user` gives the token's login (`bob`), except to the Actions token
//!   (403 "Resource not accessible by integration"); `bob`'s packages live under `/user/…`,
//!   `/users/bob/…` shows only public ones, and `acme` is the one organisation;
//! - the same routes answer under `/api/v3` (GitHub Enterprise Server);
//! - requests must carry the documented Accept and API-version headers.

use super::Listings as _;
use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, unexpected};
use serde_json::json as j;
use wharf::drivers::{Driver, DriverOptions, GithubDriver, UntagMethod};
use wharf::registry::{CredentialStore, Repository};
use wharf::spec::digest::Digest;
use wiremock::{Request, ResponseTemplate};

pub const FULL: &str = "Bearer ghp_full";
const READ_ONLY: &str = "Bearer ghp_read";
const ACTIONS: &str = "Bearer ghs_actions";
/// The login behind the personal tokens.
const LOGIN: &str = "bob";
/// Packages anyone can see under `/users/bob/…`.
const PUBLIC: &[&str] = &["bob/public-app"];
pub const LAST_TAGGED: &str =
    "You cannot delete the last tagged version of a package. You must delete the package instead.";

pub fn version_id(d: &Digest) -> u64 {
    u64::from_str_radix(&d.hex()[..12], 16).unwrap()
}

pub fn handle(s: &mut State, req: &Request, base: &str) -> ResponseTemplate {
    let raw = req.url.path().to_string();
    let path = raw.strip_prefix("/api/v3").unwrap_or(&raw);
    let method = req.method.as_str();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.first() == Some(&"v2") {
        return registry(s, req, &parts);
    }
    let auth = header(req, "authorization");
    if ![Some(FULL), Some(READ_ONLY), Some(ACTIONS)].contains(&auth) {
        return json(401, j!({"message": "Requires authentication"}));
    }
    if header(req, "accept") != Some("application/vnd.github+json")
        || header(req, "x-github-api-version") != Some("2022-11-28")
    {
        return json(400, j!({"message": "missing Accept or X-GitHub-Api-Version"}));
    }
    if path == "/user" {
        if auth == Some(ACTIONS) {
            return json(403, j!({"message": "Resource not accessible by integration"}));
        }
        return json(200, j!({"login": LOGIN, "type": "User"}));
    }
    let (owner, public_only, rest) = match parts.as_slice() {
        ["user", rest @ ..] if auth != Some(ACTIONS) => (LOGIN, false, rest),
        ["orgs", "acme", rest @ ..] => ("acme", false, rest),
        ["users", user, rest @ ..] if *user != "acme" => (*user, true, rest),
        ["orgs" | "users" | "user", ..] => return json(404, j!({"message": "Not Found"})),
        _ => return unexpected(req),
    };
    let (kind, package, tail) = match rest {
        ["packages", kind @ ("container" | "docker"), package, tail @ ..] => (*kind, *package, tail),
        _ => return unexpected(req),
    };
    if package.contains('/') {
        return json(404, j!({"message": "package names with / must be URL-encoded"}));
    }
    let name = package.replace("%2F", "/");
    let key = match kind {
        "container" => format!("{owner}/{name}"),
        // docker.pkg.github.com/OWNER/REPOSITORY/IMAGE is the docker package IMAGE.
        _ => s
            .repos
            .keys()
            .find(|k| {
                k.starts_with(&format!("{owner}/")) && k.split('/').count() == 3 && k.ends_with(&format!("/{name}"))
            })
            .cloned()
            .unwrap_or_default(),
    };
    if public_only && !PUBLIC.contains(&key.as_str()) {
        return json(404, j!({"message": "Package not found."}));
    }
    let Some(repo) = s.repos.get(&key).cloned() else { return json(404, j!({"message": "Package not found."})) };
    let version = |d: &Digest| {
        let tags = repo.tags_of(d);
        let created = repo.pushed.get(d).copied().unwrap_or_default();
        let metadata = if kind == "docker" {
            j!({"package_type": "docker", "docker": {"tag": tags}})
        } else {
            j!({"package_type": "container", "container": {"tags": tags}})
        };
        j!({"id": version_id(d), "name": d.to_string(), "created_at": format!("2024-01-01T{:02}:{:02}:{:02}Z", created / 3600, created / 60 % 60, created % 60), "metadata": metadata})
    };
    let find = |id: &str| repo.manifests.iter().find(|d| version_id(d).to_string() == id).cloned();
    match (method, tail) {
        ("GET", ["versions"]) => {
            assert_eq!(query(req, "per_page").as_deref(), Some("100"));
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let mut all: Vec<Digest> = repo.manifests.iter().cloned().collect();
            all.sort_by_key(|d| std::cmp::Reverse(repo.pushed.get(d).copied().unwrap_or_default()));
            let (items, more) = page(&all, n, 2);
            let mut resp = json(200, j!(items.iter().map(version).collect::<Vec<_>>()));
            if more {
                let link = format!("<{base}{raw}?per_page=100&page={}>; rel=\"next\"", n + 1);
                resp = resp.insert_header("link", link.as_str());
            }
            resp
        }
        ("GET", ["versions", id]) => match find(id) {
            Some(d) => json(200, version(&d)),
            None => json(404, j!({"message": "Not Found"})),
        },
        ("DELETE", ["versions", id]) => {
            if auth != Some(FULL) {
                return json(403, j!({"message": "You must have the delete:packages scope"}));
            }
            let Some(d) = find(id) else { return json(404, j!({"message": "Not Found"})) };
            if !repo.tags_of(&d).is_empty() && !repo.manifests.iter().any(|o| *o != d && !repo.tags_of(o).is_empty()) {
                return json(400, j!({"message": LAST_TAGGED}));
            }
            let r = s.repos.get_mut(&key).unwrap();
            r.manifests.remove(&d);
            r.tags.retain(|_, v| *v != d);
            ResponseTemplate::new(204)
        }
        ("DELETE", []) => {
            if auth != Some(FULL) {
                return json(403, j!({"message": "You must have the delete:packages scope"}));
            }
            s.repos.remove(&key);
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
            if *d == empty.as_str() {
                ResponseTemplate::new(200).set_body_string("{}")
            } else {
                ResponseTemplate::new(404)
            }
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
                    if method == "GET" {
                        resp.set_body_raw(body, "application/vnd.oci.image.manifest.v1+json")
                    } else {
                        resp.insert_header("content-length", body.len().to_string().as_str())
                    }
                }
                None => ResponseTemplate::new(404),
            }
        }
        ("PUT", ["v2", rest @ .., "manifests", tag]) if !rest.is_empty() => {
            let d = Digest::of(&req.body);
            s.clock += 1;
            let now = s.clock;
            let r = s.repos.entry(rest.join("/")).or_default();
            r.pushed.insert(d.clone(), now);
            r.manifests.insert(d.clone());
            r.bodies.insert(d.clone(), req.body.clone());
            r.tags.insert(tag.to_string(), d.clone());
            ResponseTemplate::new(201).insert_header("docker-content-digest", d.as_str())
        }
        _ => unexpected(req),
    }
}

pub fn driver_at(api: url::Url, token: &str) -> Box<dyn Driver> {
    let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), api);
    opts.settings.set("github-token", token).unwrap();
    Box::new(GithubDriver::new(&opts, &"ghcr.io/acme/app".parse().unwrap()).unwrap())
}

fn driver(fake: &Fake, token: &str) -> Box<dyn Driver> {
    driver_at(fake.url(), token)
}

/// `HOST:PORT/PATH`: the registry is the fake too, so the throwaway PUT lands there.
pub async fn fixture_for(path: &str) -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), path).unwrap();
    let (driver, weak) = (driver(&fake, "ghp_full"), driver(&fake, "ghp_read"));
    FakeFixture { fake, key: path.into(), repo, driver, weak }
}

fn versions_listings(log: &[String]) -> usize {
    log.iter().filter(|l| l.starts_with("GET ") && l.ends_with("/versions?per_page=100")).count()
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
    assert_eq!(
        log.last().unwrap(),
        &format!("DELETE /orgs/acme/packages/container/team%2Fapp/versions/{}", version_id(&alone))
    );

    let out = f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!((out.method, &out.digest), (UntagMethod::ThrowawayManifest, &shared));
    let state = f.fake.state.lock().unwrap().repos["acme/team/app"].clone();
    assert_eq!(state.tags_of(&shared), ["latest"], "the sibling keeps its version");
    assert_eq!(state.manifests.len(), 1, "the throwaway version was deleted: {:?}", state.manifests);
    let log = f.fake.log();
    assert!(log.iter().any(|l| l == "PUT /v2/acme/team/app/manifests/v1"), "{log:#?}");
    assert!(log.last().unwrap().starts_with("DELETE /orgs/acme/packages/container/team%2Fapp/versions/"), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.starts_with("DELETE") && l.ends_with(&version_id(&shared).to_string())),
        "the shared version is never deleted: {log:#?}"
    );
}

/// "List package versions for a package owned by the authenticated user" is `/user/…`; the
/// `/users/{username}/…` form shows what the public sees, so a private package of the token's
/// own user is only found under `/user/…`.
#[tokio::test]
async fn the_token_users_private_packages_are_under_user() {
    let f = fixture_for("bob/app").await;
    let d = f.fake.seed("bob/app", &["x"]);
    let tags = f.driver.list_tags(&f.repo).await.unwrap();
    assert_eq!(tags.len(), 1, "{:?}", f.fake.log());
    assert_eq!(tags[0].digest, d);
    assert_eq!(f.fake.log(), ["GET /user", "GET /user/packages/container/app/versions?per_page=100"]);
    f.fake.seed("bob/app", &["y"]);
    f.driver.untag(&f.repo, "x").await.unwrap();
    assert!(
        f.fake.log().last().unwrap().starts_with("DELETE /user/packages/container/app/versions/"),
        "{:?}",
        f.fake.log()
    );
}

/// The Actions `GITHUB_TOKEN` has no user (`GET /user` answers 403): organisation, then user.
#[tokio::test]
async fn a_token_without_a_user_tries_the_organisation_then_the_user() {
    let f = fixture_for("acme/app").await;
    f.fake.seed("acme/app", &["x"]);
    let actions = driver(&f.fake, "ghs_actions");
    assert_eq!(actions.list_tags(&f.repo).await.unwrap().len(), 1);
    assert_eq!(f.fake.log(), ["GET /user", "GET /orgs/acme/packages/container/app/versions?per_page=100"]);

    let g = fixture_for("bob/public-app").await;
    g.fake.seed("bob/public-app", &["x"]);
    assert_eq!(driver(&g.fake, "ghs_actions").list_tags(&g.repo).await.unwrap().len(), 1);
    assert_eq!(
        g.fake.log(),
        [
            "GET /user",
            "GET /orgs/bob/packages/container/public-app/versions?per_page=100",
            "GET /users/bob/packages/container/public-app/versions?per_page=100"
        ]
    );
}

#[tokio::test]
async fn a_404_on_a_later_page_is_an_error_not_the_end_of_the_list() {
    conformance::a_vanishing_page_is_an_error(handle, "acme/app", 3, |fake| {
        (driver(fake, "ghp_full"), Repository::new(&fake.server.address().to_string(), "acme/app").unwrap())
    })
    .await;
}

/// GitHub's primary rate limit answers 403 with `x-ratelimit-remaining: 0` and the reset time;
/// secondary limits 403 with `retry-after`
/// (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
#[tokio::test]
async fn rate_limit_403s_are_waited_out_and_never_called_permission_failures() {
    use super::fake::epoch_now;
    let f = fixture_for("acme/app").await;
    f.fake.seed("acme/app", &["x"]);
    f.fake.limit_with(
        1,
        403,
        &[("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", (epoch_now() + 1).to_string())],
    );
    let started = std::time::Instant::now();
    assert_eq!(f.driver.list_tags(&f.repo).await.unwrap().len(), 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "waited for the reset: {:?}",
        started.elapsed()
    );
    f.fake.limit_with(1, 403, &[("retry-after", "1".into())]);
    assert_eq!(f.driver.list_tags(&f.repo).await.unwrap().len(), 1, "secondary limit waited out");

    f.fake.limit_with(
        100,
        403,
        &[("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", (epoch_now() + 3600).to_string())],
    );
    let err = f.driver.list_tags(&f.repo).await.unwrap_err();
    let text = err.to_string();
    assert!(!err.is_auth() && err.is_rate_limited(), "{text}");
    assert!(text.contains("rate limited") && !text.contains("delete:packages"), "{text}");
    assert!(err.retry_after().is_some_and(|w| w.as_secs() > 3500), "{:?}", err.retry_after());
}

#[tokio::test]
async fn versions_are_listed_once_per_run_not_per_untag() {
    let f = fixture_for("acme/app").await;
    for t in ["a", "b", "c"] {
        f.fake.seed("acme/app", &[t]);
    }
    f.fake.seed("acme/app", &["s1", "s2"]);
    assert_eq!(f.driver.list_tags(&f.repo).await.unwrap().len(), 5);
    let listed = versions_listings(&f.fake.log());
    assert_eq!(listed, 1);
    for t in ["a", "b"] {
        assert_eq!(f.driver.untag(&f.repo, t).await.unwrap().method, UntagMethod::LastTagVersion);
    }
    assert_eq!(
        versions_listings(&f.fake.log()),
        1,
        "a last-tag untag reads its one version, not the list: {:#?}",
        f.fake.log()
    );
    assert_eq!(f.driver.untag(&f.repo, "s1").await.unwrap().method, UntagMethod::ThrowawayManifest);
    assert_eq!(versions_listings(&f.fake.log()), 2, "a throwaway's version is looked up on the newest page");
    assert!(f.fake.tag("acme/app", "s2").is_some() && f.fake.tag("acme/app", "c").is_some());
}

/// A version read again before its delete: a tag added since the listing is not lost.
#[tokio::test]
async fn a_version_that_gained_a_tag_since_the_listing_is_not_deleted_with_it() {
    let f = fixture_for("acme/app").await;
    let d = f.fake.seed("acme/app", &["old"]);
    f.fake.seed("acme/app", &["other"]);
    f.driver.list_tags(&f.repo).await.unwrap();
    f.fake.state.lock().unwrap().repos.get_mut("acme/app").unwrap().tags.insert("hotfix".into(), d.clone());
    assert_eq!(f.driver.untag(&f.repo, "old").await.unwrap().method, UntagMethod::ThrowawayManifest);
    assert_eq!(f.fake.tag("acme/app", "hotfix"), Some(d));
}

#[tokio::test]
async fn the_last_tagged_version_is_refused_with_the_reason_before_any_delete() {
    let f = fixture_for("acme/app").await;
    f.fake.seed("acme/app", &["only"]);
    let err = f.driver.untag(&f.repo, "only").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("last tagged version") && text.contains("--purge"), "{text}");
    assert!(!f.fake.log().iter().any(|l| l.starts_with("DELETE")), "{:#?}", f.fake.log());
    assert!(f.fake.tag("acme/app", "only").is_some());
}

#[tokio::test]
async fn docker_pkg_github_com_images_are_docker_packages() {
    let fake = Fake::start(handle).await;
    let d = fake.seed("acme/repo/app", &["v1", "v2"]);
    let repo: Repository = "docker.pkg.github.com/acme/repo/app".parse().unwrap();
    let tags = driver(&fake, "ghp_full").list_tags(&repo).await.unwrap();
    assert_eq!(tags.iter().map(|t| (t.tag.as_str(), &t.digest)).collect::<Vec<_>>(), [("v1", &d), ("v2", &d)]);
    assert_eq!(fake.log(), ["GET /user", "GET /orgs/acme/packages/docker/app/versions?per_page=100"]);
}

/// GitHub Enterprise Server's REST API is `https://HOST/api/v3`; paths and `Link`s keep it.
#[tokio::test]
async fn github_enterprise_server_api_urls_keep_their_path() {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), "acme/app").unwrap();
    for t in ["a", "b", "c"] {
        fake.seed("acme/app", &[t]);
    }
    let mut api = fake.url();
    api.set_path("/api/v3");
    let ghes = driver_at(api, "ghp_full");
    assert_eq!(ghes.list_tags(&repo).await.unwrap().len(), 3);
    ghes.untag(&repo, "a").await.unwrap();
    let log = fake.log();
    assert_eq!(&log[..2], ["GET /api/v3/user", "GET /api/v3/orgs/acme/packages/container/app/versions?per_page=100"]);
    assert!(log.iter().filter(|l| !l.contains("/v2/")).all(|l| l.contains(" /api/v3/")), "{log:#?}");
    assert!(log.iter().any(|l| l.ends_with("versions?per_page=100&page=2")), "the next page followed: {log:#?}");
}

#[tokio::test]
async fn no_token_says_what_github_needs() {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), "acme/app").unwrap();
    let d = GithubDriver::new(&options(fast_client(CredentialStore::new()), fake.url()), &repo).unwrap();
    let err = d.list_tags(&repo).await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth(), "{text}");
    assert!(
        text.contains("github driver: list tags") && text.contains("delete:packages") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );
    assert!(fake.log().is_empty(), "nothing is sent without a token");
}
