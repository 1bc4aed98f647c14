//! An Azure Container Registry fake: `POST /oauth2/exchange` (Azure AD token → refresh token),
//! `POST /oauth2/token` (refresh token + scope → access token; a `delete` scope only for the
//! identity with AcrDelete), `GET /acr/v1/{name}/_tags` paged with `Link`, one tag, and
//! `DELETE /acr/v1/{name}/_tags/{tag}` (202). Form bodies and bearer tokens are checked.

use super::Listings as _;
use super::conformance::{self, FakeFixture, fast_client, options};
use super::fake::{Fake, State, header, json, page, query, remove_tag, unexpected};
use serde_json::json as j;
use std::collections::HashMap;
use wharf::drivers::{AcrDriver, Driver, DriverOptions};
use wharf::registry::{CredentialStore, Repository};
use wiremock::{Request, ResponseTemplate};

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body).into_owned().collect()
}

fn handle(s: &mut State, req: &Request, _base: &str) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let form_ok = header(req, "content-type") == Some("application/x-www-form-urlencoded");
    match (req.method.as_str(), path.as_str()) {
        // Azure AD (the fake is also the authority): client credentials for tenant `tenant-1`.
        ("POST", "/tenant-1/oauth2/v2.0/token") => {
            let f = form(req);
            assert!(form_ok && f.get("grant_type").is_some_and(|g| g == "client_credentials"), "{f:?}");
            if f.get("client_id").map(String::as_str) != Some("app-id")
                || f.get("client_secret").map(String::as_str) != Some("sp-secret")
            {
                return json(
                    401,
                    j!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215]}),
                );
            }
            return json(
                200,
                j!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "aad-deleter"}),
            );
        }
        ("POST", "/oauth2/exchange") => {
            let f = form(req);
            let refresh = match (f.get("grant_type").map(String::as_str), f.get("access_token").map(String::as_str)) {
                (Some("access_token"), Some("aad-deleter")) => "refresh-deleter",
                (Some("access_token"), Some("aad-reader")) => "refresh-reader",
                _ => return json(401, j!({"errors": [{"code": "UNAUTHORIZED", "message": "invalid AAD token"}]})),
            };
            assert!(form_ok && f.get("service").is_some_and(|s| s == "127.0.0.1"), "{f:?}");
            return json(200, j!({"refresh_token": refresh}));
        }
        ("GET", "/oauth2/token") => {
            // Username and password (admin user, service principal, repository token): Basic auth.
            use base64::Engine as _;
            let admin = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("x:admin-password"));
            if header(req, "authorization") != Some(admin.as_str()) {
                return json(401, j!({"errors": [{"code": "UNAUTHORIZED"}]}));
            }
            assert_eq!(query(req, "service").as_deref(), Some("127.0.0.1"));
            let scope = query(req, "scope").unwrap_or_default();
            let token = if scope.ends_with(",delete") { "access-delete" } else { "access-read" };
            return json(200, j!({"access_token": token}));
        }
        ("POST", "/oauth2/token") => {
            let f = form(req);
            assert!(form_ok && f.get("grant_type").is_some_and(|g| g == "refresh_token"), "{f:?}");
            let scope = f.get("scope").cloned().unwrap_or_default();
            let token = match f.get("refresh_token").map(String::as_str) {
                Some("refresh-deleter") if scope.ends_with(":metadata_read,delete") => "access-delete",
                Some("refresh-deleter" | "refresh-reader") if scope.ends_with(":metadata_read") => "access-read",
                // ACR grants what the identity may do: no delete for the reader.
                Some("refresh-reader") => "access-read",
                _ => return json(401, j!({"errors": [{"code": "UNAUTHORIZED"}]})),
            };
            assert_eq!(scope.split(':').nth(1), Some("team/app"), "{scope}");
            return json(200, j!({"access_token": token}));
        }
        _ => {}
    }
    let auth = header(req, "authorization");
    if auth != Some("Bearer access-read") && auth != Some("Bearer access-delete") {
        return json(401, j!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}));
    }
    let Some(rest) = path.strip_prefix("/acr/v1/team/app/_tags") else { return unexpected(req) };
    let Some(repo) = s.repos.get("team/app").cloned() else {
        return json(404, j!({"errors": [{"code": "NAME_UNKNOWN"}]}));
    };
    match (req.method.as_str(), rest) {
        ("GET", "") => {
            assert_eq!(query(req, "n").as_deref(), Some("100"));
            let all: Vec<(String, String)> = repo.tags.iter().map(|(t, d)| (t.clone(), d.to_string())).collect();
            let start =
                query(req, "last").map_or(0, |l| all.iter().position(|(t, _)| *t == l).map_or(all.len(), |i| i + 1));
            let (items, more) = page(&all[start..], 1, 2);
            let tags: Vec<_> = items
                .iter()
                .map(|(t, d)| j!({"name": t, "digest": d, "changeableAttributes": {"deleteEnabled": true}}))
                .collect();
            let mut resp = json(200, j!({"registry": "x.azurecr.io", "imageName": "team/app", "tags": tags}));
            if more {
                let link = format!("</acr/v1/team/app/_tags?last={}&n=100>; rel=\"next\"", items.last().unwrap().0);
                resp = resp.insert_header("link", link.as_str());
            }
            resp
        }
        ("GET", tag) => match repo.tags.get(tag.trim_start_matches('/')) {
            Some(d) => json(
                200,
                j!({"registry": "x.azurecr.io", "imageName": "team/app", "tag": {"name": tag.trim_start_matches('/'), "digest": d.to_string()}}),
            ),
            None => json(404, j!({"errors": [{"code": "TAG_UNKNOWN"}]})),
        },
        ("DELETE", tag) => {
            if auth != Some("Bearer access-delete") {
                return json(401, j!({"errors": [{"code": "UNAUTHORIZED", "message": "insufficient scope"}]}));
            }
            match remove_tag(s, "team/app", tag.trim_start_matches('/')) {
                Some(_) => ResponseTemplate::new(202),
                None => json(404, j!({"errors": [{"code": "TAG_UNKNOWN"}]})),
            }
        }
        _ => unexpected(req),
    }
}

async fn fixture() -> FakeFixture {
    let fake = Fake::start(handle).await;
    let repo = Repository::new(&fake.server.address().to_string(), "team/app").unwrap();
    let driver = |aad: &str| {
        let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
        opts.settings.set("azure-token", aad).unwrap();
        Box::new(AcrDriver::new(&opts, &repo).unwrap()) as Box<dyn Driver>
    };
    let (driver, weak) = (driver("aad-deleter"), driver("aad-reader"));
    FakeFixture { fake, key: "team/app".into(), repo, driver, weak }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&fixture().await).await;
}

#[tokio::test]
async fn token_exchange_then_tag_delete() {
    let f = fixture().await;
    f.fake.seed("team/app", &["v1", "v2"]);
    f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!(
        f.fake.log(),
        [
            "POST /oauth2/exchange",
            "POST /oauth2/token",
            "GET /acr/v1/team/app/_tags/v1",
            "DELETE /acr/v1/team/app/_tags/v1"
        ]
    );
    let err = f.weak.untag(&f.repo, "v2").await.unwrap_err();
    assert!(err.to_string().contains("AcrDelete"), "{err}");
}

#[tokio::test]
async fn a_registry_username_and_password_get_a_token_with_basic_auth() {
    use wharf::registry::Credential;
    let f = fixture().await;
    let d = f.fake.seed("team/app", &["v1", "v2"]);
    let creds = CredentialStore::new().with_explicit(&f.repo.registry, Credential::basic("x", "admin-password"));
    let driver = AcrDriver::new(&options(fast_client(creds), f.fake.url()), &f.repo).unwrap();
    assert_eq!(driver.untag(&f.repo, "v1").await.unwrap().digest, d);
    assert_eq!(f.fake.tag("team/app", "v2"), Some(d));
    let log = f.fake.log();
    assert_eq!(
        log[0], "GET /oauth2/token?service=127.0.0.1&scope=repository%3Ateam%2Fapp%3Ametadata_read%2Cdelete",
        "{log:#?}"
    );
}

/// A driver whose only credential is a service principal, with the fake as Azure AD authority.
fn service_principal_driver(f: &FakeFixture, secret: &str) -> AcrDriver {
    let mut opts = options(fast_client(CredentialStore::new()), f.fake.url());
    for (name, value) in [
        ("azure-tenant-id", "tenant-1"),
        ("azure-client-id", "app-id"),
        ("azure-client-secret", secret),
        ("azure-authority-host", f.fake.url().as_str()),
    ] {
        opts.settings.set(name, value).unwrap();
    }
    AcrDriver::new(&opts, &f.repo).unwrap()
}

#[tokio::test]
async fn a_service_principal_gets_the_azure_ad_token_with_client_credentials() {
    let f = fixture().await;
    let d = f.fake.seed("team/app", &["v1", "v2"]);
    let driver = service_principal_driver(&f, "sp-secret");
    assert_eq!(driver.list_tags(&f.repo).await.unwrap().len(), 2);
    assert_eq!(driver.untag(&f.repo, "v1").await.unwrap().digest, d);
    assert_eq!(f.fake.tag("team/app", "v2"), Some(d));
    let log = f.fake.log();
    assert_eq!(
        log,
        [
            "POST /tenant-1/oauth2/v2.0/token",
            "POST /oauth2/exchange",
            "POST /oauth2/token",
            "GET /acr/v1/team/app/_tags?n=100",
            "POST /oauth2/exchange",
            "POST /oauth2/token",
            "GET /acr/v1/team/app/_tags/v1",
            "DELETE /acr/v1/team/app/_tags/v1",
        ],
        "the Azure AD token is obtained once"
    );
    let requests = f.fake.server.received_requests().await.unwrap();
    let aad = requests.iter().find(|r| r.url.path() == "/tenant-1/oauth2/v2.0/token").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&aad.body),
        "grant_type=client_credentials&client_id=app-id&client_secret=sp-secret&scope=https%3A%2F%2Fcontainerregistry.azure.net%2F.default"
    );
    assert_eq!(aad.headers.get("content-type").unwrap(), "application/x-www-form-urlencoded");
}

#[tokio::test]
async fn a_refused_service_principal_names_the_variables_and_never_the_secret() {
    let f = fixture().await;
    f.fake.seed("team/app", &["v1"]);
    let driver = service_principal_driver(&f, "wrong-sp-secret-value");
    let err = driver.untag(&f.repo, "v1").await.unwrap_err();
    let text = format!("{err}\n{err:?}");
    assert!(!text.contains("wrong-sp-secret-value"), "{text}");
    assert!(
        text.contains("AADSTS7000215") && text.contains("AZURE_CLIENT_SECRET") && text.contains("HTTP 401"),
        "{text}"
    );
    assert_eq!(f.fake.log(), ["POST /tenant-1/oauth2/v2.0/token"], "nothing reaches the registry");
    assert!(f.fake.tag("team/app", "v1").is_some());
}

/// The tag list continues with `Link: </acr/v1/{name}/_tags?last=…&n=100>; rel="next"`; a
/// 404 there is an incomplete list, and a link to another host is never followed.
#[tokio::test]
async fn pagination_that_breaks_off_or_leaves_the_registry_is_an_error() {
    let vanishing = Fake::start(|s, req, base| {
        if query(req, "last").is_some() {
            return json(404, j!({"errors": [{"code": "NAME_UNKNOWN"}]}));
        }
        handle(s, req, base)
    })
    .await;
    let leaving = Fake::start(|s, req, base| {
        let resp = handle(s, req, base);
        if req.url.path() == "/acr/v1/team/app/_tags" {
            return resp
                .insert_header("link", "<https://elsewhere.example/acr/v1/team/app/_tags?last=b&n=100>; rel=\"next\"");
        }
        resp
    })
    .await;
    for (fake, expect) in [(vanishing, "incomplete"), (leaving, "another host")] {
        for t in ["a", "b", "c"] {
            fake.seed("team/app", &[t]);
        }
        let repo = Repository::new(&fake.server.address().to_string(), "team/app").unwrap();
        let mut opts: DriverOptions = options(fast_client(CredentialStore::new()), fake.url());
        opts.settings.set("azure-token", "aad-deleter").unwrap();
        let err = AcrDriver::new(&opts, &repo).unwrap().list_tags(&repo).await.unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!fake.log().iter().any(|l| l.contains("elsewhere")));
    }
}
