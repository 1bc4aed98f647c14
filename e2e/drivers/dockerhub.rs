//! A Docker Hub API fake: `POST /v2/auth/token` (identifier + secret → access_token), tag pages
//! under `/v2/namespaces/{ns}/repositories/{repo}/tags` with absolute `next` links, one tag's
//! details, and `DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/` (trailing slash). A token
//! without the Delete scope lists but gets 403 on delete, as Hub does.

use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use serde_json::json as j;
use wharf::drivers::{DockerHubDriver, Driver};
use wharf::registry::{Credential, CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

const FULL: &str = "Bearer hub-token-rwd";
const READ_ONLY: &str = "Bearer hub-token-rw";

fn handle(s: &mut State, req: &Request, base: &str) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let method = req.method.as_str();
    if method == "POST" && path == "/v2/auth/token" {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let token = match (body["identifier"].as_str(), body["secret"].as_str()) {
            (Some("alice"), Some("dckr_pat_full")) => "hub-token-rwd",
            (Some("alice"), Some("dckr_pat_readwrite")) => "hub-token-rw",
            _ => return json(401, j!({"detail": "Incorrect authentication credentials"})),
        };
        if header(req, "content-type") != Some("application/json") {
            return json(415, j!({"detail": "expected JSON"}));
        }
        return json(200, j!({"access_token": token}));
    }
    let auth = header(req, "authorization");
    if auth != Some(FULL) && auth != Some(READ_ONLY) {
        return json(401, j!({"detail": "authentication required"}));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["v2", "namespaces", ns, "repositories", name, "tags"]) => {
            let key = format!("{ns}/{name}");
            let Some(repo) = s.repos.get(&key) else { return json(404, j!({"message": "object not found"})) };
            assert_eq!(query(req, "page_size").as_deref(), Some("100"), "{}", req.url);
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let all: Vec<(String, String)> = repo.tags.iter().map(|(t, d)| (t.clone(), d.to_string())).collect();
            let (items, more) = page(&all, n, 3);
            let next = more.then(|| format!("{base}/v2/namespaces/{ns}/repositories/{name}/tags?page={}&page_size=100", n + 1));
            let results: Vec<_> = items.iter().map(|(t, d)| j!({"name": t, "digest": d, "tag_status": "active"})).collect();
            json(200, j!({"count": all.len(), "next": next, "previous": null, "results": results}))
        }
        ("GET", ["v2", "namespaces", ns, "repositories", name, "tags", tag]) => {
            match s.repos.get(&format!("{ns}/{name}")).and_then(|r| r.tags.get(*tag)) {
                Some(d) => json(200, j!({"name": tag, "digest": d.to_string()})),
                None => json(404, j!({"message": "tag not found"})),
            }
        }
        ("DELETE", ["v2", "repositories", ns, name, "tags", tag, ""]) => {
            if auth != Some(FULL) {
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
    Box::new(DockerHubDriver::new(&options(fast_client(creds), fake.url())).unwrap())
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
