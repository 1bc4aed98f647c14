//! The answers: manifests, blobs (ranges, verification), tag lists (`n`, `last`, `Link`) and
//! referrers (`artifactType` filtering), with the distribution spec's headers and error
//! bodies. Errors never carry server paths or OS messages: those go to the log, the client
//! gets the spec's code.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::ops::RangeInclusive;
use std::sync::Arc;

use super::blobs::{BlobFacts, Verified, Wanted, file_body, wanted};
use super::routes::{Refusal, Route, page, query_param, route};
use crate::registry::DOCKER_CONTENT_DIGEST;
use crate::spec::digest::Digest;
use crate::spec::manifest::OCI_INDEX;
use crate::static_registry::referrers;
use crate::static_registry::root::{BlobSource, StaticError, StaticRoot};

/// What every request shares.
pub struct App {
    pub root: StaticRoot,
    /// Bytes read from a blob's file at a time.
    pub piece: usize,
    /// Hash blobs before they are first served (`--verify-blobs`).
    pub verify: bool,
    pub verified: Verified,
}

pub async fn handle(State(app): State<Arc<App>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let head = method == Method::HEAD;
    let response = if method != Method::GET && !head {
        error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "this registry is read-only", head)
    } else if !super::files::is_registry_path(uri.path()) {
        super::files::answer(&app, uri.path(), &headers, head).await
    } else {
        let answer = match route(uri.path()) {
            Err(Refusal { status, code, message }) => Err(error(status, code, message, head)),
            Ok(Route::Base) => Ok(ok(HeaderMap::new(), "application/json", Body::from("{}"), 2, head)),
            Ok(Route::Manifest { repo, reference }) => manifest(&app, &repo, reference.as_deref(), head).await,
            Ok(Route::Blob { repo, digest }) => blob(&app, &repo, digest.as_ref(), &headers, head).await,
            Ok(Route::Tags { repo }) => tags(&app, &repo, uri.query(), head).await,
            Ok(Route::Referrers { repo, subject }) => referrers(&app, &repo, subject.as_ref(), uri.query(), head).await,
        };
        answer.unwrap_or_else(|e| e)
    };
    tracing::info!(%method, path = uri.path(), status = response.status().as_u16(), "served");
    response
}

type Answer = Result<Response, Response>;

async fn manifest(app: &App, repo: &str, reference: Option<&str>, head: bool) -> Answer {
    let unknown = || error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown to registry", head);
    let reference = reference.ok_or_else(unknown)?;
    let (bytes, media_type) =
        app.root.read_manifest(repo, reference).await.map_err(|e| internal(&e, head))?.ok_or_else(unknown)?;
    let digest = Digest::of(&bytes);
    if reference.parse::<Digest>().is_ok_and(|d| d != digest) {
        let e = StaticError::Invalid {
            root: app.root.to_string(),
            message: format!("{repo}@{reference} does not match its content"),
        };
        return Err(internal(&e, head));
    }
    let mut headers = HeaderMap::new();
    insert(&mut headers, DOCKER_CONTENT_DIGEST, digest.as_str());
    insert(&mut headers, header::ETAG.as_str(), &format!("\"{digest}\""));
    let len = bytes.len() as u64;
    Ok(ok(headers, &media_type, Body::from(bytes), len, head))
}

async fn blob(app: &App, repo: &str, digest: Option<&Digest>, request: &HeaderMap, head: bool) -> Answer {
    let unknown = || error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry", head);
    let digest = digest.ok_or_else(unknown)?;
    if head {
        let (size, version) =
            app.root.stat_blob(repo, digest).await.map_err(|e| internal(&e, head))?.ok_or_else(unknown)?;
        let verified = app.verified.known_good(repo, digest, &version);
        return Ok(ok(blob_headers(digest, verified), "application/octet-stream", Body::empty(), size, head));
    }
    let blob = app.root.open_blob(repo, digest).await.map_err(|e| internal(&e, head))?.ok_or_else(unknown)?;
    let verified = match app.verify {
        true => {
            let facts = BlobFacts::of(&blob);
            app.verified.check(&app.root, repo, digest, &facts, app.piece).await.map_err(|e| internal(&e, head))?
        }
        false => app.verified.known_good(repo, digest, &blob.version),
    };
    if app.verify && !verified {
        let e = StaticError::Invalid {
            root: app.root.to_string(),
            message: format!("{repo}: blob {digest} does not match its digest"),
        };
        return Err(internal(&e, head));
    }
    let headers = blob_headers(digest, verified);
    let content_type = "application/octet-stream";
    let size = blob.size;
    let (status, range) = match part(request, size, &format!("\"{digest}\""), &headers, content_type, head) {
        Part::Answer(done) => return Ok(done),
        Part::Bytes(status, range) => (status, range),
    };
    let body = match blob.body {
        BlobSource::File(file) => Body::from_stream(file_body(file, range.clone(), app.piece)),
        BlobSource::Stream(whole) if status == StatusCode::OK => Body::from_stream(whole),
        BlobSource::Stream(_) => {
            let part = app
                .root
                .blob_range(repo, digest, range.clone())
                .await
                .map_err(|e| internal(&e, head))?
                .ok_or_else(unknown)?;
            Body::from_stream(part)
        }
    };
    Ok(ranged(headers, status, range, size, content_type, body, head))
}

/// What to send of a body, as [`part`] decides.
pub(super) enum Part {
    /// The answer, ready: an empty body (200), or a range that cannot be satisfied (416).
    Answer(Response),
    /// These bytes: 200 with the whole body, or 206 with a part (see [`ranged`]).
    Bytes(StatusCode, RangeInclusive<u64>),
}

/// What to send of a body of `size` bytes, from the request's `Range` (one range, RFC 9110)
/// and `If-Range` (matched against `etag`).
pub(super) fn part(
    request: &HeaderMap,
    size: u64,
    etag: &str,
    headers: &HeaderMap,
    content_type: &str,
    head: bool,
) -> Part {
    let text = |name: header::HeaderName| request.get(name).and_then(|v| v.to_str().ok());
    let if_range = text(header::IF_RANGE).is_none_or(|v| v == etag);
    match wanted(text(header::RANGE), size, if_range) {
        Wanted::Whole if size == 0 => Part::Answer(ok(headers.clone(), content_type, Body::empty(), 0, head)),
        Wanted::Whole => Part::Bytes(StatusCode::OK, 0..=size - 1),
        Wanted::Part(r) => Part::Bytes(StatusCode::PARTIAL_CONTENT, r),
        Wanted::Unsatisfiable => {
            let mut headers = headers.clone();
            insert(&mut headers, header::CONTENT_RANGE.as_str(), &format!("bytes */{size}"));
            Part::Answer(with_status(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ok(headers, content_type, Body::empty(), 0, head),
            ))
        }
    }
}

/// The answer of [`part`]: `body` holds `range` of `size` bytes (with its `Content-Range`
/// when it is a part).
pub(super) fn ranged(
    mut headers: HeaderMap,
    status: StatusCode,
    range: RangeInclusive<u64>,
    size: u64,
    content_type: &str,
    body: Body,
    head: bool,
) -> Response {
    if status == StatusCode::PARTIAL_CONTENT {
        insert(
            &mut headers,
            header::CONTENT_RANGE.as_str(),
            &format!("bytes {}-{}/{size}", range.start(), range.end()),
        );
    }
    with_status(status, ok(headers, content_type, body, range.end() - range.start() + 1, head))
}

/// The headers of every blob answer; `immutable` only for a blob whose bytes were checked.
fn blob_headers(digest: &Digest, verified: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert(&mut headers, DOCKER_CONTENT_DIGEST, digest.as_str());
    insert(&mut headers, header::ETAG.as_str(), &format!("\"{digest}\""));
    insert(&mut headers, header::ACCEPT_RANGES.as_str(), "bytes");
    if verified {
        insert(&mut headers, header::CACHE_CONTROL.as_str(), "max-age=31536000, immutable");
    }
    headers
}

async fn tags(app: &App, repo: &str, query: Option<&str>, head: bool) -> Answer {
    let n = match query_param(query, "n") {
        None => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| error(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a non-negative integer", head))?,
        ),
    };
    let last = query_param(query, "last");
    let unknown = || error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry", head);
    let bytes = app.root.tags_list(repo).await.map_err(|e| internal(&e, head))?.ok_or_else(unknown)?;
    #[derive(serde::Deserialize)]
    struct List {
        #[serde(default)]
        tags: Vec<String>,
    }
    let list: List = serde_json::from_slice(&bytes).map_err(|e| {
        internal(&StaticError::Invalid { root: app.root.to_string(), message: format!("{repo}: tags/list: {e}") }, head)
    })?;
    let (tags, next) = page(list.tags, n, last.as_deref());
    let mut headers = HeaderMap::new();
    if let (Some(next), Some(n)) = (next, n) {
        let last: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        insert(&mut headers, header::LINK.as_str(), &format!("</v2/{repo}/tags/list?n={n}&last={last}>; rel=\"next\""));
    }
    let body = serde_json::json!({"name": repo, "tags": tags}).to_string();
    let len = body.len() as u64;
    Ok(ok(headers, "application/json", Body::from(body), len, head))
}

async fn referrers(app: &App, repo: &str, subject: Option<&Digest>, query: Option<&str>, head: bool) -> Answer {
    let mut found = match subject {
        Some(s) => referrers::read(&app.root, repo, s).await.map_err(|e| internal(&e, head))?,
        None => Vec::new(),
    };
    let mut headers = HeaderMap::new();
    if let Some(artifact_type) = query_param(query, "artifactType") {
        found = referrers::filter(found, &artifact_type);
        insert(&mut headers, "oci-filters-applied", "artifactType");
    }
    let body = referrers::index(&found);
    let len = body.len() as u64;
    Ok(ok(headers, OCI_INDEX, Body::from(body), len, head))
}

pub(super) fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A 200 with the API version header; a HEAD keeps the headers and drops the body.
pub(super) fn ok(mut headers: HeaderMap, content_type: &str, body: Body, len: u64, head: bool) -> Response {
    insert(&mut headers, header::CONTENT_TYPE.as_str(), content_type);
    insert(&mut headers, "docker-distribution-api-version", "registry/2.0");
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = if head { Body::empty() } else { body };
    (StatusCode::OK, headers, body).into_response()
}

pub(super) fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

/// The distribution spec's error body: `{"errors":[{"code","message"}]}`.
fn error(status: StatusCode, code: &str, message: &str, head: bool) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}).to_string();
    let len = body.len() as u64;
    with_status(status, ok(HeaderMap::new(), "application/json", Body::from(body), len, head))
}

/// A 500 that says nothing about the server; the cause goes to the log.
fn internal(e: &StaticError, head: bool) -> Response {
    tracing::warn!("{e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal error (see the server's log)", head)
}
