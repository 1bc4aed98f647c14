//! `wharf serve`: a static root (see [`static_root`](crate::publish::static_root)) served as
//! a read-only registry, enough for `docker pull`, skopeo and other clients.
//!
//! `GET`/`HEAD` of `/v2/`, `/v2/<repo>/manifests/<tag|digest>`, `/v2/<repo>/blobs/<digest>` and
//! `/v2/<repo>/tags/list`, with `Content-Type` (the manifest's media type from the sidecar),
//! `Docker-Content-Digest` and `Content-Length`. Blobs stream from disk (or from S3, for an
//! `s3://` root: wharf then proxies a bucket that has no registry API). Anything else is a
//! 404 or 405 with the distribution spec's error body. Paths are parsed and validated
//! against the distribution grammar before any file is opened, so nothing outside
//! `ROOT/v2` can be reached.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::spec::digest::Digest;
use crate::publish::static_root::{StaticRoot, validate_repo};
use crate::registry::{DOCKER_CONTENT_DIGEST, validate_tag};

/// What a request path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Manifest { repo: String, reference: String },
    Blob { repo: String, digest: Digest },
    Tags { repo: String },
    Unknown,
}

/// Parses a request path (percent-decoded here).
pub fn route(path: &str) -> Route {
    let Some(path) = percent_decode(path) else { return Route::Unknown };
    if path == "/v2" || path == "/v2/" {
        return Route::Base;
    }
    let Some(rest) = path.strip_prefix("/v2/") else { return Route::Unknown };
    let repo_ok = |r: &str| validate_repo(r).is_ok();
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        return if repo_ok(repo) { Route::Tags { repo: repo.into() } } else { Route::Unknown };
    }
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let valid = reference.parse::<Digest>().is_ok() || validate_tag(reference).is_ok();
        return if repo_ok(repo) && valid { Route::Manifest { repo: repo.into(), reference: reference.into() } } else { Route::Unknown };
    }
    if let Some((repo, digest)) = rest.rsplit_once("/blobs/") {
        return match digest.parse::<Digest>() {
            Ok(digest) if repo_ok(repo) => Route::Blob { repo: repo.into(), digest },
            _ => Route::Unknown,
        };
    }
    Route::Unknown
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Serves `root` on `addr` until Ctrl-C; `on_ready` gets the bound address (port 0 works).
pub async fn serve(root: StaticRoot, addr: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_ready(listener.local_addr()?);
    let app = Router::new().fallback(handle).with_state(Arc::new(root));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn handle(State(root): State<Arc<StaticRoot>>, method: Method, uri: Uri) -> Response {
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        return error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "this registry is read-only", head);
    }
    let response = match route(uri.path()) {
        Route::Base => Ok(ok(HeaderMap::new(), "application/json", Body::from("{}"), 2, head)),
        Route::Manifest { repo, reference } => manifest(&root, &repo, &reference, head).await,
        Route::Blob { repo, digest } => blob(&root, &repo, &digest, head).await,
        Route::Tags { repo } => tags(&root, &repo, head).await,
        Route::Unknown => Err(error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "no such repository or path", head)),
    };
    let response = response.unwrap_or_else(|e| e);
    tracing::info!(%method, path = uri.path(), status = response.status().as_u16(), "served");
    response
}

async fn manifest(root: &StaticRoot, repo: &str, reference: &str, head: bool) -> Result<Response, Response> {
    let unknown = || error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown", head);
    let (bytes, media_type) = match root.read_manifest(repo, reference).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(unknown()),
        Err(e) => return Err(internal(&e.to_string(), head)),
    };
    let digest = Digest::of(&bytes);
    if reference.parse::<Digest>().is_ok_and(|d| d != digest) {
        return Err(internal(&format!("{repo}@{reference} does not match its content"), head));
    }
    let mut headers = HeaderMap::new();
    insert(&mut headers, DOCKER_CONTENT_DIGEST, digest.as_str());
    insert(&mut headers, header::ETAG.as_str(), &format!("\"{digest}\""));
    let len = bytes.len() as u64;
    Ok(ok(headers, &media_type, Body::from(bytes), len, head))
}

async fn blob(root: &StaticRoot, repo: &str, digest: &Digest, head: bool) -> Result<Response, Response> {
    let (len, body) = match root.open_blob(repo, digest).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry", head)),
        Err(e) => return Err(internal(&e.to_string(), head)),
    };
    let mut headers = HeaderMap::new();
    insert(&mut headers, DOCKER_CONTENT_DIGEST, digest.as_str());
    insert(&mut headers, header::ETAG.as_str(), &format!("\"{digest}\""));
    insert(&mut headers, header::CACHE_CONTROL.as_str(), "max-age=31536000, immutable");
    let body = if head { Body::empty() } else { Body::from_stream(body) };
    Ok(ok(headers, "application/octet-stream", body, len, head))
}

async fn tags(root: &StaticRoot, repo: &str, head: bool) -> Result<Response, Response> {
    match root.tags_list(repo).await {
        Ok(Some(bytes)) => {
            let len = bytes.len() as u64;
            Ok(ok(HeaderMap::new(), "application/json", Body::from(bytes), len, head))
        }
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry", head)),
        Err(e) => Err(internal(&e.to_string(), head)),
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A 200 with the API version header; a HEAD keeps the headers and drops the body.
fn ok(mut headers: HeaderMap, content_type: &str, body: Body, len: u64, head: bool) -> Response {
    insert(&mut headers, header::CONTENT_TYPE.as_str(), content_type);
    insert(&mut headers, "docker-distribution-api-version", "registry/2.0");
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = if head { Body::empty() } else { body };
    (StatusCode::OK, headers, body).into_response()
}

/// The distribution spec's error body: `{"errors":[{"code","message"}]}`.
fn error(status: StatusCode, code: &str, message: &str, head: bool) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}).to_string();
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::CONTENT_TYPE.as_str(), "application/json");
    insert(&mut headers, "docker-distribution-api-version", "registry/2.0");
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    let body = if head { Body::empty() } else { Body::from(body) };
    (status, headers, body).into_response()
}

fn internal(message: &str, head: bool) -> Response {
    tracing::warn!("{message}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", message, head)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn routes_follow_the_distribution_api_and_stay_inside_the_root() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2/a/b/manifests/v1"), Route::Manifest { repo: "a/b".into(), reference: "v1".into() });
        assert_eq!(route(&format!("/v2/a/manifests/{D}")), Route::Manifest { repo: "a".into(), reference: D.into() });
        assert_eq!(route(&format!("/v2/a/manifests/{}", D.replace(':', "%3A"))), Route::Manifest { repo: "a".into(), reference: D.into() });
        assert_eq!(route(&format!("/v2/a/blobs/{D}")), Route::Blob { repo: "a".into(), digest: D.parse().unwrap() });
        assert_eq!(route("/v2/a/tags/list"), Route::Tags { repo: "a".into() });
        assert_eq!(route("/v2/manifests/tags/list"), Route::Tags { repo: "manifests".into() });
        for bad in ["/v2/../etc/manifests/v1", "/v2/a/%2e%2e/manifests/v1", "/v2/a/manifests/..", "/v2/_wharf/manifests/v1", "/v2/a/blobs/uploads/", "/etc/passwd", "/v2/a/manifests/%zz"] {
            assert_eq!(route(bad), Route::Unknown, "{bad}");
        }
    }
}
