//! The distribution client against wiremock fakes, for what a stock distribution registry
//! cannot show: the Bearer token flow (Basic and identity-token credentials, caching), `Link`
//! pagination, retries with `Retry-After`, upload `Location` forms, digest verification,
//! Authorization on redirects and the plain-HTTP credential guard.

use bytes::Bytes;
use futures::StreamExt as _;
use std::time::Duration;
use wharf::registry::{Client, ClientOptions, Credential, CredentialStore, PushStatus, RegistryError, Repository};
use wharf::spec::digest::Digest;
use wharf::spec::manifest::OCI_MANIFEST;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

fn fast_client(credentials: CredentialStore) -> Client {
    let opts = ClientOptions {
        credentials,
        max_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        ..Default::default()
    };
    Client::new(opts).expect("client")
}

fn host_of(server: &MockServer) -> String {
    server.address().to_string()
}

fn repo(server: &MockServer, path: &str) -> Repository {
    Repository::new(&host_of(server), path).expect("repo")
}

/// Matches requests without an Authorization header.
struct NoAuthorization;

impl Match for NoAuthorization {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key("authorization")
    }
}

fn bearer_challenge(server: &MockServer) -> ResponseTemplate {
    let value = format!(r#"Bearer realm="{}/token",service="fake-registry",scope="repository:app:pull""#, server.uri());
    ResponseTemplate::new(401)
        .insert_header("www-authenticate", value.as_str())
        .set_body_string(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
}

async fn mount_tags_behind_bearer(server: &MockServer, token: &str, expected_calls: u64) {
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"name":"app","tags":["a","b"]}"#))
        .with_priority(1)
        .expect(expected_calls)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(bearer_challenge(server))
        .mount(server)
        .await;
}

#[tokio::test]
async fn bearer_flow_with_basic_credentials_caches_the_token() {
    let server = MockServer::start().await;
    mount_tags_behind_bearer(&server, "tok-1", 2).await;
    // base64("u:pw")
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("service", "fake-registry"))
        .and(query_param("scope", "repository:app:pull"))
        .and(header("authorization", "Basic dTpwdw=="))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"token":"tok-1","expires_in":300}"#))
        .expect(1)
        .mount(&server)
        .await;
    let creds = CredentialStore::new().with_explicit(&host_of(&server), Credential::basic("u", "pw"));
    let c = fast_client(creds);
    let r = repo(&server, "app");
    assert_eq!(c.list_tags(&r).await.unwrap(), ["a", "b"]);
    // Second call: the known challenge and the cached token are used directly.
    assert_eq!(c.clone().list_tags(&r).await.unwrap(), ["a", "b"]);
}

#[tokio::test]
async fn a_token_the_registry_stops_accepting_is_replaced() {
    let server = MockServer::start().await;
    let tags = ResponseTemplate::new(200).set_body_string(r#"{"name":"app","tags":["a"]}"#);
    for (token, uses) in [("t1", 1), ("t2", 1)] {
        Mock::given(method("GET"))
            .and(path("/v2/app/tags/list"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(tags.clone())
            .up_to_n_times(uses)
            .with_priority(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(bearer_challenge(&server))
        .mount(&server)
        .await;
    for token in ["t1", "t2"] {
        Mock::given(method("GET"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_string(format!(r#"{{"token":"{token}","expires_in":3600}}"#)),
            )
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = fast_client(CredentialStore::new());
    let r = repo(&server, "app");
    assert_eq!(c.list_tags(&r).await.unwrap(), ["a"]);
    // t1 is still cached but now refused: the client fetches t2 and repeats the request once.
    assert_eq!(c.list_tags(&r).await.unwrap(), ["a"]);
}

#[tokio::test]
async fn identity_token_is_exchanged_with_a_refresh_token_post() {
    let server = MockServer::start().await;
    mount_tags_behind_bearer(&server, "acc-9", 1).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=rt-secret"))
        .and(body_string_contains("service=fake-registry"))
        .and(body_string_contains("scope=repository%3Aapp%3Apull"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"access_token":"acc-9"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let creds = CredentialStore::new().with_explicit(&host_of(&server), Credential::IdentityToken("rt-secret".into()));
    assert_eq!(fast_client(creds).list_tags(&repo(&server, "app")).await.unwrap(), ["a", "b"]);
}

#[tokio::test]
async fn rejected_token_request_is_clear_and_hides_the_password() {
    let server = MockServer::start().await;
    mount_tags_behind_bearer(&server, "never", 0).await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(401).set_body_string(r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]}"#),
        )
        .mount(&server)
        .await;
    let creds = CredentialStore::new().with_explicit(&host_of(&server), Credential::basic("u", "hunter2"));
    let err = fast_client(creds).list_tags(&repo(&server, "app")).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert_eq!(err.status(), Some(401), "{text}");
    assert!(text.contains("/token") && text.contains("list tags") && !text.contains("hunter2"), "{text}");
    assert!(text.contains("user u") && text.contains("rejected"), "{text}");
}

#[tokio::test]
async fn link_pagination_is_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .and(query_param("n", "1000"))
        .and(query_param("last", "b"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(r#"<{}/v2/app/tags/list?n=1000&last=d>; rel="next""#, server.uri()).as_str(),
                )
                .set_body_string(r#"{"name":"app","tags":["c","d"]}"#),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .and(query_param("last", "d"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"name":"app","tags":["e"]}"#))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", r#"</v2/app/tags/list?n=1000&last=b>; rel="next""#)
                .set_body_string(r#"{"name":"app","tags":["a","b"]}"#),
        )
        .mount(&server)
        .await;
    let tags = fast_client(CredentialStore::new()).list_tags(&repo(&server, "app")).await.unwrap();
    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
}

#[tokio::test]
async fn transient_errors_are_retried_honouring_retry_after() {
    let server = MockServer::start().await;
    let d = Digest::of(b"x");
    let blob_path = format!("/v2/app/blobs/{d}");
    Mock::given(method("HEAD"))
        .and(path(blob_path.as_str()))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path(blob_path.as_str()))
        .respond_with(ResponseTemplate::new(200).insert_header("content-length", "1"))
        .mount(&server)
        .await;
    let c = fast_client(CredentialStore::new());
    let r = repo(&server, "app");
    assert_eq!(c.blob_exists(&r, &d).await.unwrap(), Some(1));

    // A Retry-After beyond the cap is not waited for: the error says it, and is retryable.
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let err = c.list_tags(&r).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("asks to wait 3600s"), "{err}");
}

#[tokio::test]
async fn retries_stop_after_the_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/t"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3) // the first try and max_retries = 2
        .mount(&server)
        .await;
    let err = fast_client(CredentialStore::new()).get_manifest(&repo(&server, "app"), "t").await.unwrap_err();
    assert_eq!(err.status(), Some(502), "{err}");
    assert!(
        err.to_string().contains("get manifest") && err.to_string().contains("/app:t (gave up after 3 attempts)"),
        "{err}"
    );
}

#[tokio::test]
async fn chunked_upload_follows_relative_and_absolute_locations() {
    let server = MockServer::start().await;
    let data = Bytes::from_static(b"0123456789abcdefghij");
    let d = Digest::of(&data);
    Mock::given(method("HEAD")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/v2/app/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/1"))
        .expect(1)
        .mount(&server)
        .await;
    let absolute = format!("{}/upload/2?state=s2", server.uri());
    // PATCH to `p` with `range`, answered 202 with the next location and the received range.
    let chunk = |p: &str, range: &str, body: &'static str, next: &str, received: &str| {
        Mock::given(method("PATCH"))
            .and(path(p))
            .and(header("content-range", range))
            .and(body_string_contains(body))
            .respond_with(ResponseTemplate::new(202).insert_header("location", next).insert_header("range", received))
            .expect(1)
    };
    chunk("/upload/1", "0-9", "0123456789", absolute.as_str(), "0-9").mount(&server).await;
    // A path-relative Location resolves against the URL that answered (RFC 3986).
    chunk("/upload/2", "10-19", "abcdefghij", "3", "0-19").mount(&server).await;
    Mock::given(method("PUT"))
        .and(path("/upload/3"))
        .and(query_param("digest", d.as_str()))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let opts = ClientOptions { monolithic_limit: 5, chunk_size: 10, max_retries: 0, ..Default::default() };
    let c = Client::new(opts).unwrap();
    assert_eq!(c.push_blob_bytes(&repo(&server, "app"), &d, data).await.unwrap(), PushStatus::Uploaded);
}

#[tokio::test]
async fn content_that_does_not_match_its_digest_is_refused() {
    let server = MockServer::start().await;
    let claimed = Digest::of(b"the real manifest");
    Mock::given(method("GET"))
        .and(path(format!("/v2/app/manifests/{claimed}").as_str()))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", OCI_MANIFEST).set_body_string("{}"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/app/blobs/{claimed}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 100_000]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b' '; 5 * 1024 * 1024]))
        .mount(&server)
        .await;
    let c = fast_client(CredentialStore::new());
    let r = repo(&server, "app");
    let err = c.get_manifest(&r, claimed.as_str()).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    let mut stream = c.get_blob(&r, &claimed).await.unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    assert!(matches!(last, Some(Err(RegistryError::DigestMismatch { .. }))), "{last:?}");
    let err = c.get_manifest(&r, "huge").await.unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn authorization_is_not_forwarded_to_blob_storage_on_redirect() {
    let (registry, storage) = (MockServer::start().await, MockServer::start().await);
    let body = Bytes::from_static(b"layer bytes");
    let d = Digest::of(&body);
    let blob_path = format!("/v2/app/blobs/{d}");
    Mock::given(method("GET"))
        .and(path(blob_path.as_str()))
        .and(header("authorization", "Basic dTpwdw=="))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/storage/blob", storage.uri()).as_str()),
        )
        .with_priority(1)
        .expect(1)
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path(blob_path.as_str()))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="r""#))
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/blob"))
        .and(NoAuthorization)
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.to_vec()))
        .expect(1)
        .mount(&storage)
        .await;
    let creds = CredentialStore::new().with_explicit(&host_of(&registry), Credential::basic("u", "pw"));
    let got = fast_client(creds).get_blob_bytes(&repo(&registry, "app"), &d, 1024).await.unwrap();
    assert_eq!(got, body);
}

#[tokio::test]
async fn credentials_never_go_over_plain_http_to_a_non_loopback_host() {
    let Some(ip) = crate::support::non_loopback_ip() else {
        eprintln!("skipped: this machine has no non-loopback address");
        return;
    };
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="r""#))
        .mount(&server)
        .await;
    let host = host_of(&server);
    let creds = CredentialStore::new().with_explicit(&host, Credential::basic("u", "pw"));
    let opts =
        ClientOptions { credentials: creds, insecure_hosts: vec![host.clone()], max_retries: 0, ..Default::default() };
    let err = Client::new(opts).unwrap().list_tags(&repo(&server, "app")).await.unwrap_err();
    assert!(matches!(err, RegistryError::InsecureCredentials { .. }), "{err}");
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(requests.iter().all(|r| !r.headers.contains_key("authorization")));
    // A host that is neither loopback nor listed is only tried over HTTPS.
    let err = fast_client(CredentialStore::new()).list_tags(&repo(&server, "app")).await.unwrap_err();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("--insecure-registry"), "{err}");
}

/// A hostile registry that never stops paging (a fresh `Link` each time, 1,000 new tags a page):
/// the listing stops at `max_tags` with an error, in bounded time and memory, rather than
/// running on or returning a partial list.
#[tokio::test]
async fn endless_tag_pages_stop_at_max_tags() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/endless/tags/list"))
        .respond_with(|req: &Request| {
            let page: usize =
                req.url.query_pairs().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let tags: Vec<String> = (0..1000).map(|i| format!("p{page:06}-{i:04}")).collect();
            ResponseTemplate::new(200)
                .insert_header(
                    "Link",
                    format!("</v2/endless/tags/list?n=1000&page={}>; rel=\"next\"", page + 1).as_str(),
                )
                .set_body_json(serde_json::json!({"name": "endless", "tags": tags}))
        })
        .mount(&server)
        .await;
    let client = Client::new(ClientOptions { max_tags: 5_000, ..Default::default() }).unwrap();
    let err = client.list_tags(&repo(&server, "endless")).await.unwrap_err();
    assert!(matches!(err, RegistryError::TooManyTags { limit: 5_000, .. }), "{err}");
    assert!(err.to_string().contains("--max-tags"), "{err}");
    let pages =
        server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/v2/endless/tags/list").count();
    assert_eq!(pages, 6, "stops on the page that passes the limit");
}
