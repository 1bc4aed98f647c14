//! A Docker Hub API fake, after <https://docs.docker.com/reference/api/hub/latest/>:
//! `POST /v2/auth/token` (identifier + secret → an access token, a JWT that "expires in 10
//! minutes"; the fake's lifetime can be shortened and its tokens revoked), tag pages under
//! `/v2/namespaces/{ns}/repositories/{repo}/tags` with absolute `next` links, one tag's details,
//! and `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/` (trailing slash). A token without the
//! Delete scope lists but gets 403 on delete, as Hub does; an expired or revoked token gets 401.
//! Tags named `schema1-*` are listed without a digest, as Hub lists images it cannot describe.

use super::Listings as _;
use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, epoch_now, header, json, page, query, remove_tag, unexpected};
use base64::Engine as _;
use serde_json::json as j;
use wharf::drivers::{DockerHubDriver, Driver};
use wharf::registry::{Credential, CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

/// A JWT access token: its scope, generation and expiry in the claims.
fn issue(s: &mut State, scope: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let generation = s.knobs.get("generation").copied().unwrap_or(0) + 1;
    s.knobs.insert("generation", generation);
    let lifetime = s.knobs.get("lifetime").copied().unwrap_or(600);
    let claims = j!({"scope": scope, "gen": generation, "exp": epoch_now() + lifetime});
    format!("{}.{}.sig", b64.encode(r#"{"alg":"RS256","typ":"JWT"}"#), b64.encode(claims.to_string()))
}

/// The scope of a valid bearer token, or why it is refused.
fn scope(s: &State, auth: Option<&str>) -> Result<String, &'static str> {
    let token = auth.and_then(|a| a.strip_prefix("Bearer ")).ok_or("authentication required")?;
    let claims = token.split('.').nth(1).ok_or("not a token")?;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).map_err(|_| "not a token")?,
    )
    .map_err(|_| "not a token")?;
    if claims["exp"].as_u64().unwrap_or(0) < epoch_now() {
        return Err("token expired");
    }
    if claims["gen"].as_u64().unwrap_or(0) <= s.knobs.get("revoked_through").copied().unwrap_or(0) {
        return Err("token revoked");
    }
    Ok(claims["scope"].as_str().unwrap_or_default().to_string())
}

fn handle(s: &mut State, req: &Request, base: &str) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let method = req.method.as_str();
    if method == "POST" && path == "/v2/auth/token" {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let scope = match (body["identifier"].as_str(), body["secret"].as_str()) {
            (Some("alice"), Some("dckr_pat_full")) => "repo:admin",
            (Some("alice"), Some("dckr_pat_readwrite")) => "repo:write",
            _ => return json(401, j!({"detail": "Incorrect authentication credentials"})),
        };
        if header(req, "content-type") != Some("application/json") {
            return json(415, j!({"detail": "expected JSON"}));
        }
        return json(200, j!({"access_token": issue(s, scope)}));
    }
    let scope = match scope(s, header(req, "authorization")) {
        Ok(scope) => scope,
        Err(why) => return json(401, j!({"detail": why})),
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["v2", "namespaces", ns, "repositories", name, "tags"]) => {
            let key = format!("{ns}/{name}");
            let Some(repo) = s.repos.get(&key) else { return json(404, j!({"message": "object not found"})) };
            assert_eq!(query(req, "page_size").as_deref(), Some("100"), "{}", req.url);
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let all: Vec<(String, String)> = repo.tags.iter().map(|(t, d)| (t.clone(), d.to_string())).collect();
            let (items, more) = page(&all, n, 3);
            let next = more
                .then(|| format!("{base}/v2/namespaces/{ns}/repositories/{name}/tags?page={}&page_size=100", n + 1));
            let results: Vec<_> = items
                .iter()
                .map(|(t, d)| {
                    if t.starts_with("schema1-") {
                        j!({"name": t, "digest": null, "tag_status": "active"})
                    } else {
                        j!({"name": t, "digest": d, "tag_status": "active"})
                    }
                })
                .collect();
            json(200, j!({"count": all.len(), "next": next, "previous": null, "results": results}))
        }
        ("GET", ["v2", "namespaces", ns, "repositories", name, "tags", tag]) => {
            match s.repos.get(&format!("{ns}/{name}")).and_then(|r| r.tags.get(*tag)) {
                Some(d) => json(200, j!({"name": tag, "digest": d.to_string()})),
                None => json(404, j!({"message": "tag not found"})),
            }
        }
        ("DELETE", ["v2", "repositories", ns, name, "tags", tag, ""]) => {
            if scope != "repo:admin" {
                return json(403, j!({"detail": "token does not have the delete scope"}));
            }
            match remove_tag(s, &format!("{ns}/{name}"), tag) {
                Some(_) => ResponseTemplate::new(204),
                None => json(404, j!({"message": "tag not found"})),
            }
        }
        _ => unexpected(req),
    }
}

fn driver(fake: &Fake, secret: &str) -> Box<dyn Driver> {
    let creds = CredentialStore::new().with_explicit("docker.io", Credential::basic("alice", secret));
    let repo = "docker.io/acme/app".parse().unwrap();
    Box::new(DockerHubDriver::new(&options(fast_client(creds), fake.url()), &repo).unwrap())
}

pub async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo: Repository = "acme/app".parse().unwrap();
    let (driver, weak) = (driver(&fake, "dckr_pat_full"), driver(&fake, "dckr_pat_readwrite"));
    FakeFixture { fake, key: "acme/app".into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture().await).await;
}

#[tokio::test]
async fn requests_are_the_documented_ones() {
    let f = fixture().await;
    f.fake.seed("acme/app", &["v1", "v2"]);
    f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!(
        f.fake.log(),
        [
            "POST /v2/auth/token",
            "GET /v2/namespaces/acme/repositories/app/tags/v1",
            "DELETE /v2/repositories/acme/app/tags/v1/",
        ]
    );
}

#[tokio::test]
async fn wrong_password_names_the_driver_and_the_delete_scope() {
    let f = fixture().await;
    let d = driver(&f.fake, "wrong");
    let err = d.untag(&f.repo, "v1").await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth(), "{text}");
    assert!(text.starts_with("dockerhub driver: delete tag docker.io/acme/app:v1: HTTP 401"), "{text}");
    assert!(text.contains("Delete scope") && !text.contains("wrong"), "{text}");
}

/// `wharf login docker.io` checks the login with the Hub API as well: a registry login the API
/// refuses would fail every listing and delete later.
#[tokio::test]
async fn check_login_trades_the_login_for_an_api_token() {
    let f = fixture().await;
    f.driver.check_login().await.unwrap();
    assert_eq!(f.fake.log(), ["POST /v2/auth/token"]);
    let err = driver(&f.fake, "wrong").check_login().await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth() && text.contains("log in") && !text.contains("wrong"), "{text}");
}

fn token_requests(f: &FakeFixture) -> usize {
    f.fake.log().iter().filter(|l| *l == "POST /v2/auth/token").count()
}

/// The access token "expires in 10 minutes" (AuthCreateTokenResponse): a run longer than the
/// token's life gets a new one before it runs out, read from the JWT's `exp`.
#[tokio::test]
async fn the_access_token_is_renewed_before_it_expires() {
    let f = fixture().await;
    f.fake.seed("acme/app", &["v1"]);
    f.fake.state.lock().unwrap().knobs.insert("lifetime", 2);
    f.driver.list_tags(&f.repo).await.unwrap();
    f.driver.list_tags(&f.repo).await.unwrap();
    assert_eq!(token_requests(&f), 1, "reused while fresh");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(f.driver.list_tags(&f.repo).await.unwrap().len(), 1);
    assert_eq!(token_requests(&f), 2, "{:#?}", f.fake.log());
}

/// A token refused with 401 (revoked, or expired early) is replaced once, then the request is
/// sent again.
#[tokio::test]
async fn a_401_gets_a_new_token_and_one_more_try() {
    let f = fixture().await;
    f.fake.seed("acme/app", &["v1", "v2"]);
    f.driver.list_tags(&f.repo).await.unwrap();
    f.fake.state.lock().unwrap().knobs.insert("revoked_through", 1);
    f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!(f.fake.tag("acme/app", "v1"), None);
    let log = f.fake.log();
    assert_eq!(
        &log[2..],
        [
            "GET /v2/namespaces/acme/repositories/app/tags/v1",
            "POST /v2/auth/token",
            "GET /v2/namespaces/acme/repositories/app/tags/v1",
            "DELETE /v2/repositories/acme/app/tags/v1/",
        ]
    );
}

/// Hub's API documented `X-Retry-After` as the Unix time to call again (docker/docs#22916
/// moved the text to `Retry-After` in seconds): both are honoured.
#[tokio::test]
async fn x_retry_after_is_honoured() {
    let f = fixture().await;
    f.fake.seed("acme/app", &["v1"]);
    f.driver.list_tags(&f.repo).await.unwrap();
    f.fake.limit_with(1, 429, &[("x-retry-after", (epoch_now() + 1).to_string())]);
    let started = std::time::Instant::now();
    f.driver.list_tags(&f.repo).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(500), "{:?}", started.elapsed());
    f.fake.limit_with(100, 429, &[("x-retry-after", (epoch_now() + 3600).to_string())]);
    let err = f.driver.list_tags(&f.repo).await.unwrap_err();
    assert!(err.retry_after().is_some_and(|w| w.as_secs() > 3500), "{err}: {:?}", err.retry_after());
    assert!(err.to_string().contains("rate limited"), "{err}");
}

#[tokio::test]
async fn a_tag_listed_without_a_digest_is_reported_as_broken() {
    let f = fixture().await;
    let d = f.fake.seed("acme/app", &["v1", "schema1-old"]);
    let (tags, broken) = f.driver.list_tags_checked(&f.repo).await.unwrap();
    assert_eq!(tags.iter().map(|t| (t.tag.as_str(), &t.digest)).collect::<Vec<_>>(), [("v1", &d)]);
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].tag, "schema1-old");
    assert!(broken[0].problem.contains("without a digest"), "{}", broken[0].problem);
}

#[tokio::test]
async fn a_404_on_a_later_page_is_an_error() {
    conformance::a_vanishing_page_is_an_error(handle, "acme/app", 4, |fake| {
        (driver(fake, "dckr_pat_full"), "acme/app".parse().unwrap())
    })
    .await;
}
