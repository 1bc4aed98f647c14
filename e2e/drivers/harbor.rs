//! A Harbor v2.0 API fake: artifacts with their tags (paged with `page`/`page_size`), one
//! artifact by tag, and `DELETE …/artifacts/{digest}/tags/{tag}`. Repository names holding `/`
//! must arrive encoded twice (`team%252Fapp`); HTTP Basic auth, a robot account without the
//! delete permission gets 403.

use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use base64::Engine as _;
use serde_json::json as j;
use wharf::drivers::{Driver, HarborDriver};
use wharf::registry::{Credential, CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn handle(s: &mut State, req: &Request, _base: &str) -> ResponseTemplate {
    let auth = header(req, "authorization").unwrap_or_default().to_string();
    let full = auth == basic("robot$ci", "full-secret");
    if !full && auth != basic("robot$reader", "read-secret") {
        return json(401, j!({"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]}));
    }
    let path = req.url.path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (project, name, rest) = match parts.as_slice() {
        ["api", "v2.0", "projects", project, "repositories", name, "artifacts", rest @ ..] => (*project, *name, rest),
        _ => return unexpected(req),
    };
    if name.contains("%2F") && !name.contains("%252F") {
        return json(
            404,
            j!({"errors": [{"code": "NOT_FOUND", "message": "repository names must be double-encoded"}]}),
        );
    }
    let key = format!("{project}/{}", name.replace("%252F", "/"));
    let not_found = || json(404, j!({"errors": [{"code": "NOT_FOUND", "message": "artifact not found"}]}));
    let Some(repo) = s.repos.get(&key).cloned() else { return not_found() };
    let artifact = |d: &wharf::spec::digest::Digest| {
        let tags: Vec<_> = repo.tags_of(d).iter().map(|t| j!({"name": t, "repository_id": 1})).collect();
        j!({"digest": d.to_string(), "media_type": "application/vnd.oci.image.manifest.v1+json", "tags": if tags.is_empty() { serde_json::Value::Null } else { j!(tags) }})
    };
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            assert_eq!(query(req, "with_tag").as_deref(), Some("true"));
            let size: usize = query(req, "page_size").and_then(|p| p.parse().ok()).unwrap_or(10);
            let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let all: Vec<_> = repo.manifests.iter().cloned().collect();
            let (items, _) = page(&all, n, size);
            json(200, j!(items.iter().map(artifact).collect::<Vec<_>>()))
                .insert_header("x-total-count", all.len().to_string().as_str())
        }
        ("GET", [reference]) => match repo.tags.get(*reference) {
            Some(d) => json(200, artifact(d)),
            None => not_found(),
        },
        ("DELETE", [digest, "tags", tag]) => {
            if !full {
                return json(403, j!({"errors": [{"code": "FORBIDDEN", "message": "forbidden"}]}));
            }
            if repo.tags.get(*tag).map(|d| d.to_string()) != Some(digest.to_string()) {
                return not_found();
            }
            remove_tag(s, &key, tag);
            ResponseTemplate::new(200)
        }
        _ => unexpected(req),
    }
}

async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo: Repository = "harbor.example.com/library/team/app".parse().unwrap();
    let driver = |user: &str, password: &str| -> Box<dyn Driver> {
        let creds = CredentialStore::new().with_explicit("harbor.example.com", Credential::basic(user, password));
        Box::new(HarborDriver::new(&options(fast_client(creds), fake.url()), &repo).unwrap())
    };
    let (driver, weak) = (driver("robot$ci", "full-secret"), driver("robot$reader", "read-secret"));
    FakeFixture { fake, key: "library/team/app".into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture().await).await;
}

#[tokio::test]
async fn nested_names_are_encoded_twice() {
    let f = fixture().await;
    let d = f.fake.seed("library/team/app", &["v1", "v2"]);
    f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!(
        f.fake.log(),
        [
            "GET /api/v2.0/projects/library/repositories/team%252Fapp/artifacts/v1".to_string(),
            format!("DELETE /api/v2.0/projects/library/repositories/team%252Fapp/artifacts/{d}/tags/v1"),
        ]
    );
}

#[tokio::test]
async fn a_404_on_a_later_page_is_an_error_not_the_end_of_the_list() {
    conformance::a_vanishing_page_is_an_error(handle, "library/app", 101, |fake| {
        let repo: Repository = "harbor.example.com/library/app".parse().unwrap();
        let creds =
            CredentialStore::new().with_explicit("harbor.example.com", Credential::basic("robot$ci", "full-secret"));
        (Box::new(HarborDriver::new(&options(fast_client(creds), fake.url()), &repo).unwrap()), repo)
    })
    .await;
}
