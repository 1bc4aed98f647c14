//! The S3 backend of a static root (`--static-root s3://BUCKET/PREFIX`), through aws-sdk-s3.
//!
//! Objects are named like the files of a directory root (`PREFIX/v2/<repo>/…`); each
//! manifest's media type is its object's `Content-Type`, so the bucket (or a CDN in front of
//! it) serves it right without a sidecar. Path-style addressing, so S3-compatible servers
//! (MinIO, moto, Ceph) work with `AWS_ENDPOINT_URL`. Blobs stream from disk; those over
//! [`MULTIPART_THRESHOLD`] go up in parts. Checksums are computed only where S3 requires
//! them, which every S3-compatible server accepts.

use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::path::Path;

use crate::static_registry::root::StaticError;

/// Blobs larger than this are uploaded in parts of this size (by default).
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;

/// A bucket and a key prefix.
#[derive(Clone)]
pub struct S3Root {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    part_size: u64,
}

impl std::fmt::Debug for S3Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Root({self})")
    }
}

impl std::fmt::Display for S3Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            p => write!(f, "s3://{}/{p}", self.bucket),
        }
    }
}

impl PartialEq for S3Root {
    fn eq(&self, other: &Self) -> bool {
        self.bucket == other.bucket && self.prefix == other.prefix
    }
}

impl Eq for S3Root {}

/// `s3://BUCKET[/PREFIX]` → bucket and prefix (no slashes at either end).
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?}: expected s3://BUCKET/PREFIX"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
        return Err(format!(
            "{url:?}: {bucket:?} is not a valid bucket name (3-63 lowercase letters, digits, '-' and '.')"
        ));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl S3Root {
    /// A root at `url` using the credentials, region and endpoint of `sdk` (us-east-1 when no
    /// region is configured).
    pub fn new(sdk: &aws_config::SdkConfig, url: &str) -> Result<S3Root, String> {
        let (bucket, prefix) = parse_url(url)?;
        let mut config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            config = config.region(Region::from_static("us-east-1"));
        }
        Ok(S3Root {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket,
            prefix,
            part_size: MULTIPART_THRESHOLD,
        })
    }

    /// Files larger than `bytes` go up in parts of `bytes` (S3 wants at least 5 MiB).
    pub fn with_part_size(mut self, bytes: u64) -> S3Root {
        self.part_size = bytes.max(5 * 1024 * 1024);
        self
    }

    fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() { rel.to_string() } else { format!("{}/{rel}", self.prefix) }
    }

    fn err<E: std::error::Error>(&self, op: &str, rel: &str, e: E) -> StaticError {
        StaticError::Invalid {
            root: self.to_string(),
            message: format!("{op} {}: {}", self.key(rel), DisplayErrorContext(e)),
        }
    }

    /// The object's size, or `None` when there is none.
    pub async fn head(&self, rel: &str) -> Result<Option<u64>, StaticError> {
        Ok(self.stat(rel).await?.map(|(size, _)| size))
    }

    /// The object's size and ETag, or `None` when there is none.
    pub async fn stat(&self, rel: &str) -> Result<Option<(u64, Option<String>)>, StaticError> {
        match self.client.head_object().bucket(&self.bucket).key(self.key(rel)).send().await {
            Ok(o) => Ok(Some((
                o.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                o.e_tag().map(str::to_string),
            ))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(self.err("HEAD", rel, e)),
        }
    }

    /// The object's last-modified time, or `None` when there is no such object.
    pub async fn modified(&self, rel: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, StaticError> {
        match self.client.head_object().bucket(&self.bucket).key(self.key(rel)).send().await {
            Ok(o) => Ok(o.last_modified().and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(self.err("HEAD", rel, e)),
        }
    }

    pub async fn put_bytes(&self, rel: &str, bytes: Bytes, content_type: &str) -> Result<(), StaticError> {
        let req = self.client.put_object().bucket(&self.bucket).key(self.key(rel)).content_type(content_type);
        req.body(ByteStream::from(bytes)).send().await.map_err(|e| self.err("PUT", rel, e))?;
        Ok(())
    }

    /// Uploads the file at `path`, streamed; in parts when it is large.
    pub async fn put_file(&self, rel: &str, path: &Path, content_type: &str) -> Result<(), StaticError> {
        let size = tokio::fs::metadata(path).await.map_err(|e| self.err("read", rel, e))?.len();
        if size > self.part_size {
            return self.put_multipart(rel, path, size, content_type).await;
        }
        let body = ByteStream::read_from()
            .path(path)
            .buffer_size(256 * 1024)
            .build()
            .await
            .map_err(|e| self.err("read", rel, e))?;
        let req = self.client.put_object().bucket(&self.bucket).key(self.key(rel)).content_type(content_type);
        req.body(body).send().await.map_err(|e| self.err("PUT", rel, e))?;
        Ok(())
    }

    async fn put_multipart(&self, rel: &str, path: &Path, size: u64, content_type: &str) -> Result<(), StaticError> {
        let key = self.key(rel);
        let started = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .send()
            .await;
        let upload_id = started.map_err(|e| self.err("start upload of", rel, e))?.upload_id.unwrap_or_default();
        let result = async {
            let mut parts = Vec::new();
            let mut offset = 0;
            while offset < size {
                let len = self.part_size.min(size - offset);
                let body = ByteStream::read_from().path(path).offset(offset).length(Length::Exact(len)).build().await;
                let body = body.map_err(|e| self.err("read", rel, e))?;
                let number = i32::try_from(parts.len() + 1).map_err(|e| self.err("upload", rel, e))?;
                let req =
                    self.client.upload_part().bucket(&self.bucket).key(&key).upload_id(&upload_id).part_number(number);
                let done = req.body(body).send().await.map_err(|e| self.err("upload part of", rel, e))?;
                parts.push(CompletedPart::builder().part_number(number).set_e_tag(done.e_tag).build());
                offset += len;
            }
            let completed = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
            let req = self.client.complete_multipart_upload().bucket(&self.bucket).key(&key).upload_id(&upload_id);
            match req.multipart_upload(completed).send().await {
                Ok(_) => Ok(()),
                // Some S3-compatible servers (moto 5.2) answer 200 with a body the SDK cannot
                // read; then the object itself decides.
                Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => match self.head(rel).await? {
                    Some(n) if n == size => Ok(()),
                    _ => Err(self.err("complete upload of", rel, e)),
                },
                Err(e) => Err(self.err("complete upload of", rel, e)),
            }
        }
        .await;
        if result.is_err() {
            let _ =
                self.client.abort_multipart_upload().bucket(&self.bucket).key(&key).upload_id(&upload_id).send().await;
        }
        result
    }

    /// A small object whole, with its content type; `None` when there is none.
    pub async fn get_bytes(&self, rel: &str, limit: u64) -> Result<Option<(Bytes, Option<String>)>, StaticError> {
        let Some((size, content_type, body)) = self.open(rel).await? else { return Ok(None) };
        if size > limit {
            return Err(StaticError::Invalid {
                root: self.to_string(),
                message: format!("{} has {size} bytes, more than {limit}", self.key(rel)),
            });
        }
        let bytes: Vec<Bytes> = body.try_collect().await.map_err(|e| self.err("GET", rel, e))?;
        Ok(Some((bytes.concat().into(), content_type)))
    }

    /// An object's size, content type and bytes as they arrive; `None` when there is none.
    pub async fn open(
        &self,
        rel: &str,
    ) -> Result<Option<(u64, Option<String>, BoxStream<'static, std::io::Result<Bytes>>)>, StaticError> {
        Ok(self.open_ranged(rel, None).await?.map(|o| (o.size, o.content_type, o.body)))
    }

    /// An object, or bytes `range` (inclusive) of it, as they arrive; `None` when there is none.
    pub async fn open_ranged(
        &self,
        rel: &str,
        range: Option<std::ops::RangeInclusive<u64>>,
    ) -> Result<Option<S3Object>, StaticError> {
        let mut req = self.client.get_object().bucket(&self.bucket).key(self.key(rel));
        if let Some(r) = range {
            req = req.range(format!("bytes={}-{}", r.start(), r.end()));
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.err("GET", rel, e)),
        };
        let size = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let content_type = out.content_type().map(str::to_string);
        let etag = out.e_tag().map(str::to_string);
        let stream = tokio_util::io::ReaderStream::with_capacity(out.body.into_async_read(), 64 * 1024);
        Ok(Some(S3Object { size, content_type, etag, body: stream.boxed() }))
    }

    /// The names directly below `rel_dir` (one level), every page.
    pub async fn list(&self, rel_dir: &str) -> Result<Vec<String>, StaticError> {
        Ok(self.list_entries(rel_dir).await?.into_iter().map(|e| e.name).collect())
    }

    /// The objects directly below `rel_dir` (one level) with their size and time, every page.
    pub async fn list_entries(&self, rel_dir: &str) -> Result<Vec<ObjectEntry>, StaticError> {
        self.list_below(rel_dir, true).await
    }

    /// Every object below `rel_dir`, at any depth, named by its path below `rel_dir`.
    pub async fn list_tree(&self, rel_dir: &str) -> Result<Vec<ObjectEntry>, StaticError> {
        self.list_below(rel_dir, false).await
    }

    async fn list_below(&self, rel_dir: &str, one_level: bool) -> Result<Vec<ObjectEntry>, StaticError> {
        let prefix = format!("{}/", self.key(rel_dir.trim_end_matches('/')));
        let mut req = self.client.list_objects_v2().bucket(&self.bucket).prefix(&prefix);
        if one_level {
            req = req.delimiter("/");
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("LIST", rel_dir, e))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectEntry {
                    name: o.key()?.strip_prefix(&prefix)?.to_string(),
                    size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    modified: o
                        .last_modified()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                })
            }));
        }
        Ok(out)
    }

    /// Deletes an object (absent is fine: S3 answers 204 either way).
    pub async fn delete(&self, rel: &str) -> Result<(), StaticError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(rel))
            .send()
            .await
            .map_err(|e| self.err("DELETE", rel, e))?;
        Ok(())
    }
}

/// An object being read: its size (of the range, when one was asked for), content type,
/// ETag, and bytes.
pub struct S3Object {
    pub size: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

/// One listed object (or file, for a directory root).
#[derive(Debug, Clone)]
pub struct ObjectEntry {
    pub name: String,
    pub size: u64,
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://images/site/").unwrap(), ("images".into(), "site".into()));
        assert_eq!(parse_url("s3://images").unwrap(), ("images".into(), "".into()));
        assert_eq!(parse_url("s3://my.bucket/a/b").unwrap(), ("my.bucket".into(), "a/b".into()));
        assert!(parse_url("s3://Bad_Bucket/x").is_err());
        assert!(parse_url("https://images/x").is_err());
    }
}
