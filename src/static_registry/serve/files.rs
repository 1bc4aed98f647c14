//! The files of static file distribution ([`files`](crate::static_registry::files)), served
//! beside the registry: `GET`/`HEAD` of `/<name>/tags.json`, `/<name>/<version>/release.json`
//! and `/<name>/<version>/<os>/<arch>[/<variant>]/<file>`.
//!
//! Only such paths are answered, every part checked against the layout's grammar before
//! anything is opened ([`is_published_path`]: no `..`, no `_wharf`, no temporaries), and a
//! directory root's file is opened one component at a time without following links, as
//! blobs are. `Content-Type` by extension (the JSON documents as `application/json`,
//! unknown as `application/octet-stream`), `Content-Length`, an `ETag` (of the file's
//! version, or the object's), and `Range` as for blobs. Anything else is a plain 404.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::blobs::file_body;
use super::handlers::{App, Part, insert, ok, part, ranged};
use crate::static_registry::files::dest::content_type;
use crate::static_registry::files::names::is_published_path;
use crate::static_registry::objects::dir::{Contained, open_contained};
use crate::static_registry::root::{Objects, blocking};

/// Whether a request path is left to the registry (`/v2`, `/v2/…`) rather than to the files.
pub fn is_registry_path(path: &str) -> bool {
    path == "/v2" || path.starts_with("/v2/")
}

/// Answers a request for a published file.
pub async fn answer(app: &App, path: &str, request: &HeaderMap, head: bool) -> Response {
    let rel = match super::routes::percent_decode(path) {
        Some(decoded) => decoded.strip_prefix('/').unwrap_or(&decoded).to_string(),
        None => return not_found(head),
    };
    if !is_published_path(&rel) {
        return not_found(head);
    }
    let content_type = content_type(&rel);
    let result = match app.root.objects() {
        Objects::Dir(dir) => {
            let (root, rel_s) = (dir.to_path_buf(), rel.clone());
            match blocking(move || open_contained(&root, &rel_s)).await {
                Ok(Contained::File(file, meta)) => {
                    use std::os::unix::fs::MetadataExt;
                    let etag =
                        format!("\"{:x}-{:x}-{:x}.{:x}\"", meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec());
                    let headers = file_headers(&etag);
                    let size = meta.len();
                    match part(request, size, &etag, &headers, content_type, head) {
                        Part::Answer(done) => Ok(done),
                        Part::Bytes(status, range) => {
                            let body = Body::from_stream(file_body(Arc::new(file), range.clone(), app.piece));
                            Ok(ranged(headers, status, range, size, content_type, body, head))
                        }
                    }
                }
                Ok(Contained::Missing) => return not_found(head),
                Ok(Contained::Refused(why)) => {
                    tracing::warn!(root = %app.root, path = rel, "refused to serve {why}");
                    return not_found(head);
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Objects::S3(s3) => match s3.stat(&rel).await {
            Ok(None) => return not_found(head),
            Ok(Some((size, etag))) => {
                let etag = etag.unwrap_or_default();
                let headers = file_headers(&etag);
                match part(request, size, &etag, &headers, content_type, head) {
                    Part::Answer(done) => Ok(done),
                    // A HEAD reads nothing from the bucket.
                    Part::Bytes(..) if head => Ok(ok(headers, content_type, Body::empty(), size, head)),
                    Part::Bytes(status, range) => {
                        let asked = (status == StatusCode::PARTIAL_CONTENT).then(|| range.clone());
                        match s3.open_ranged(&rel, asked).await {
                            Ok(Some(object)) => Ok(ranged(
                                headers,
                                status,
                                range,
                                size,
                                content_type,
                                Body::from_stream(object.body),
                                head,
                            )),
                            Ok(None) => return not_found(head),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                }
            }
            Err(e) => Err(e.to_string()),
        },
    };
    result.unwrap_or_else(|e| {
        tracing::warn!(root = %app.root, path = rel, "{e}");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the server's log)\n", head)
    })
}

fn file_headers(etag: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::ACCEPT_RANGES.as_str(), "bytes");
    if !etag.is_empty() {
        insert(&mut headers, header::ETAG.as_str(), etag);
    }
    headers
}

fn not_found(head: bool) -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n", head)
}

fn plain(status: StatusCode, text: &'static str, head: bool) -> Response {
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8");
    headers.insert(header::CONTENT_LENGTH, text.len().into());
    (status, headers, if head { Body::empty() } else { Body::from(text) }).into_response()
}
