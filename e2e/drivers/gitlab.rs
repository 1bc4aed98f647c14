//! A GitLab container registry API fake. Project `group/sub/project` holds the registry
//! repository `group/sub/project/app` (id 7); longer prefixes are not projects (404). Tags are
//! paged two at a time with `X-Next-Page`; a tag's details carry its digest; `DELETE` removes
//! one tag. `PRIVATE-TOKEN` or `JOB-TOKEN`; a Reporter's token may list but not delete (403).

use super::Listings as _;
use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use serde_json::json as j;
use wharf::drivers::{Driver, DriverOptions, GitlabDriver};
use wharf::registry::{CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

const PROJECT: &str = "group%2Fsub%2Fproject";
const KEY: &str = "group/sub/project/app";

fn handle(s: &mut State, req: &Request, _base: &str) -> ResponseTemplate {
    let full =
        header(req, "private-token") == Some("glpat-maintainer") || header(req, "job-token") == Some("ci-job-token");
    if !full && header(req, "private-token") != Some("glpat-reporter") {
        return json(401, j!({"message": "401 Unauthorized"}));
    }
    let path = req.url.path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", "v4", "projects", project, "registry", "repositories", rest @ ..] if *project == PROJECT => rest,
        ["api", "v4", "projects", _, "registry", "repositories", ..] => {
            return json(404, j!({"message": "404 Project Not Found"}));
        }
        _ => return unexpected(req),
    };
    let paged = |all: Vec<serde_json::Value>| {
        assert_eq!(query(req, "per_page").as_deref(), Some("100"));
        let n: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let (items, more) = page(&all, n, 2);
        let next = if more { (n + 1).to_string() } else { String::new() };
        json(200, j!(items)).insert_header("x-next-page", next.as_str())
    };
    let repo = s.repos.get(KEY).cloned().unwrap_or_default();
    match (req.method.as_str(), rest) {
        ("GET", []) => paged(vec![
            j!({"id": 3, "name": "", "path": "group/sub/project", "project_id": 42}),
            j!({"id": 7, "name": "app", "path": KEY, "project_id": 42, "location": format!("registry.gitlab.com/{KEY}")}),
            j!({"id": 9, "name": "app/cache", "path": format!("{KEY}/cache"), "project_id": 42}),
        ]),
        ("GET", ["7", "tags"]) => {
            paged(repo.tags.keys().map(|t| j!({"name": t, "path": format!("{KEY}:{t}")})).collect())
        }
        ("GET", ["7", "tags", tag]) => match repo.tags.get(*tag) {
            Some(d) => json(200, j!({"name": tag, "digest": d.to_string(), "revision": d.hex(), "total_size": 2})),
            None => json(404, j!({"message": "404 Tag Not Found"})),
        },
        ("DELETE", ["7", "tags", tag]) => {
            if !full {
                return json(403, j!({"message": "403 Forbidden"}));
            }
            match remove_tag(s, KEY, tag) {
                Some(_) => ResponseTemplate::new(200),
                None => json(404, j!({"message": "404 Tag Not Found"})),
            }
        }
        _ => unexpected(req),
    }
}

fn driver(fake: &Fake, private: Option<&str>, job: Option<&str>) -> Box<dyn Driver> {
    let mut api = fake.url();
    api.set_path("/api/v4");
    let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), api);
    opts.settings.set("gitlab-token", private.unwrap_or_default()).unwrap();
    opts.settings.set("gitlab-job-token", job.unwrap_or_default()).unwrap();
    Box::new(GitlabDriver::new(&opts, &"gitlab.com/g/p".parse().unwrap()).unwrap())
}

async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo: Repository = format!("registry.gitlab.com/{KEY}").parse().unwrap();
    let (driver, weak) = (driver(&fake, Some("glpat-maintainer"), None), driver(&fake, Some("glpat-reporter"), None));
    FakeFixture { fake, key: KEY.into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture().await).await;
}

#[tokio::test]
async fn the_project_is_found_by_prefix_and_job_tokens_work() {
    let f = fixture().await;
    let d = f.fake.seed(KEY, &["v1", "v2"]);
    let job = driver(&f.fake, None, Some("ci-job-token"));
    let out = job.untag(&f.repo, "v1").await.unwrap();
    assert_eq!(out.digest, d);
    assert_eq!(
        f.fake.log(),
        [
            "GET /api/v4/projects/group%2Fsub%2Fproject%2Fapp/registry/repositories?per_page=100&page=1".to_string(),
            format!("GET /api/v4/projects/{PROJECT}/registry/repositories?per_page=100&page=1"),
            format!("GET /api/v4/projects/{PROJECT}/registry/repositories?per_page=100&page=2"),
            format!("GET /api/v4/projects/{PROJECT}/registry/repositories/7/tags/v1"),
            format!("DELETE /api/v4/projects/{PROJECT}/registry/repositories/7/tags/v1"),
        ]
    );
    assert_eq!(f.fake.tag(KEY, "v2"), Some(d));
}

/// GitLab answers 404 for a project the token cannot see, as for one that does not exist
/// (<https://docs.gitlab.com/api/rest/troubleshooting/#status-codes>): that is an error that
/// says so, not an empty list.
#[tokio::test]
async fn a_project_the_token_cannot_see_is_an_error_with_a_hint_not_no_tags() {
    let f = fixture().await;
    let hidden: Repository = "registry.gitlab.com/other/secret/app".parse().unwrap();
    let err = f.driver.list_tags(&hidden).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(404), "{text}");
    assert!(
        text.contains("other/secret/app or other/secret") && text.contains("cannot see") && text.contains("Reporter"),
        "{text}"
    );
    assert!(!err.is_auth());
}

/// A project that exists but has no such registry repository yet: nothing pushed, no tags.
#[tokio::test]
async fn a_visible_project_without_the_repository_has_no_tags() {
    let f = fixture().await;
    let fresh: Repository = "registry.gitlab.com/group/sub/project/never-pushed".parse().unwrap();
    assert!(f.driver.list_tags(&fresh).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_404_on_a_later_page_is_an_error() {
    conformance::a_vanishing_page_is_an_error(handle, KEY, 3, |fake| {
        (driver(fake, Some("glpat-maintainer"), None), format!("registry.gitlab.com/{KEY}").parse().unwrap())
    })
    .await;
}
