//! A Quay v1 API fake: tag pages (`onlyActiveTags`, `limit`, `page`, `has_additional`), one tag
//! by `specificTag`, and `DELETE /api/v1/repository/{ns}/{repo}/tag/{tag}` with an OAuth
//! bearer token; a token without write access gets 403. Tags named `schema1-*` come without a
//! `manifest_digest` (the field is optional in Quay's API schema).

use super::Listings as _;
use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use serde_json::json as j;
use wharf::drivers::{Driver, DriverOptions, QuayDriver};
use wharf::registry::{CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

fn handle(s: &mut State, req: &Request, _base: &str) -> ResponseTemplate {
    let auth = header(req, "authorization");
    let full = auth == Some("Bearer quay-admin");
    if !full && auth != Some("Bearer quay-read") {
        return json(401, j!({"error": "Invalid bearer token format"}));
    }
    let path = req.url.path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["api", "v1", "repository", ns, name, "tag", ""]) => {
            let Some(repo) = s.repos.get(&format!("{ns}/{name}")) else {
                return json(404, j!({"error_message": "Not Found"}));
            };
            assert_eq!(query(req, "onlyActiveTags").as_deref(), Some("true"));
            let mut all: Vec<(String, String)> = repo.tags.iter().map(|(t, d)| (t.clone(), d.to_string())).collect();
            if let Some(t) = query(req, "specificTag") {
                all.retain(|(name, _)| *name == t);
            }
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let (items, more) = page(&all, n, 2);
            let tags: Vec<_> = items
                .iter()
                .map(|(t, d)| {
                    if t.starts_with("schema1-") {
                        j!({"name": t, "reversion": false})
                    } else {
                        j!({"name": t, "manifest_digest": d, "reversion": false})
                    }
                })
                .collect();
            json(200, j!({"tags": tags, "page": n, "has_additional": more}))
        }
        ("DELETE", ["api", "v1", "repository", ns, name, "tag", tag]) => {
            if !full {
                return json(403, j!({"error_message": "Unauthorized", "error_type": "insufficient_scope"}));
            }
            match remove_tag(s, &format!("{ns}/{name}"), tag) {
                Some(_) => ResponseTemplate::new(204),
                None => json(404, j!({"error_message": "Not Found"})),
            }
        }
        _ => unexpected(req),
    }
}

async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo: Repository = "quay.io/acme/app".parse().unwrap();
    let driver = |token: &str| {
        let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
        opts.settings.set("quay-token", token).unwrap();
        Box::new(QuayDriver::new(&opts, &repo).unwrap()) as Box<dyn Driver>
    };
    let (driver, weak) = (driver("quay-admin"), driver("quay-read"));
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
            "GET /api/v1/repository/acme/app/tag/?specificTag=v1&onlyActiveTags=true",
            "DELETE /api/v1/repository/acme/app/tag/v1"
        ]
    );
}

#[tokio::test]
async fn a_tag_without_a_manifest_digest_is_reported_as_broken() {
    let f = fixture().await;
    f.fake.seed("acme/app", &["v1", "schema1-old"]);
    let (tags, broken) = f.driver.list_tags_checked(&f.repo).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(broken.iter().map(|b| b.tag.as_str()).collect::<Vec<_>>(), ["schema1-old"]);
}

#[tokio::test]
async fn a_404_on_a_later_page_is_an_error_not_the_end_of_the_list() {
    conformance::a_vanishing_page_is_an_error(handle, "acme/app", 3, |fake| {
        let repo: Repository = "quay.io/acme/app".parse().unwrap();
        let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
        opts.settings.set("quay-token", "quay-admin").unwrap();
        (Box::new(QuayDriver::new(&opts, &repo).unwrap()), repo)
    })
    .await;
}
