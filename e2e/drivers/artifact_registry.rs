//! A Google Artifact Registry REST fake: tags of a package (the image path URL-encoded) paged
//! with `nextPageToken`, one tag, and `DELETE …/tags/{tag}`; an OAuth bearer token, and a
//! reader's token gets 403 on delete.

use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use serde_json::json as j;
use wharf::drivers::{ArtifactRegistryDriver, Driver, DriverOptions};
use wharf::registry::{Credential, CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

const PACKAGE: &str = "/v1/projects/proj/locations/europe-west1/repositories/repo/packages/team%2Fapp";

fn handle(s: &mut State, req: &Request, _base: &str) -> ResponseTemplate {
    let auth = header(req, "authorization");
    let full = auth == Some("Bearer ya29.admin");
    if !full && auth != Some("Bearer ya29.reader") {
        return json(401, j!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}));
    }
    let path = req.url.path().to_string();
    let Some(rest) = path.strip_prefix(PACKAGE) else { return unexpected(req) };
    let name = |t: &str| format!("projects/proj/locations/europe-west1/repositories/repo/packages/team%2Fapp/tags/{t}");
    let version = |d: &str| format!("projects/proj/locations/europe-west1/repositories/repo/packages/team%2Fapp/versions/{d}");
    let repo = s.repos.get("proj/repo/team/app").cloned().unwrap_or_default();
    match (req.method.as_str(), rest) {
        ("GET", "/tags") => {
            assert_eq!(query(req, "pageSize").as_deref(), Some("1000"));
            let all: Vec<(String, String)> = repo.tags.iter().map(|(t, d)| (t.clone(), d.to_string())).collect();
            let n: usize = query(req, "pageToken").map_or(1, |t| t.trim_start_matches("page-").parse().unwrap());
            let (items, more) = page(&all, n, 3);
            let tags: Vec<_> = items.iter().map(|(t, d)| j!({"name": name(t), "version": version(d)})).collect();
            let next = more.then(|| format!("page-{}", n + 1));
            json(200, j!({"tags": tags, "nextPageToken": next}))
        }
        ("GET", tag) => match repo.tags.get(tag.trim_start_matches("/tags/")) {
            Some(d) => json(200, j!({"name": name(tag), "version": version(d.as_str())})),
            None => json(404, j!({"error": {"code": 404, "status": "NOT_FOUND"}})),
        },
        ("DELETE", tag) => {
            if !full {
                return json(403, j!({"error": {"code": 403, "message": "Permission 'artifactregistry.tags.delete' denied", "status": "PERMISSION_DENIED"}}));
            }
            match remove_tag(s, "proj/repo/team/app", tag.trim_start_matches("/tags/")) {
                Some(_) => json(200, j!({})),
                None => json(404, j!({"error": {"code": 404, "status": "NOT_FOUND"}})),
            }
        }
        _ => unexpected(req),
    }
}

async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo: Repository = "europe-west1-docker.pkg.dev/proj/repo/team/app".parse().unwrap();
    let driver = |token: &str| {
        let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
        opts.tokens.google = Some(token.into());
        Box::new(ArtifactRegistryDriver::new(&opts).unwrap()) as Box<dyn Driver>
    };
    let (driver, weak) = (driver("ya29.admin"), driver("ya29.reader"));
    FakeFixture { fake, key: "proj/repo/team/app".into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture().await).await;
}

#[tokio::test]
async fn the_gcloud_helper_login_is_used_as_the_token() {
    let f = fixture().await;
    let d = f.fake.seed("proj/repo/team/app", &["v1"]);
    let creds = CredentialStore::new().with_explicit("europe-west1-docker.pkg.dev", Credential::basic("oauth2accesstoken", "ya29.admin"));
    let driver = ArtifactRegistryDriver::new(&options(fast_client(creds), f.fake.url())).unwrap();
    assert_eq!(driver.list_tags(&f.repo).await.unwrap()[0].digest, d);
    assert_eq!(f.fake.log(), [format!("GET {PACKAGE}/tags?pageSize=1000")]);
}
