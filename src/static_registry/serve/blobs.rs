//! Blob bodies with bounded memory, byte ranges, and digest verification.
//!
//! - A directory root's blob is read from the file opened (without following links) for
//!   the request, one fixed-size piece at a time (straight from the page cache when it holds
//!   the piece, else `pread` on tokio's blocking pool), each piece handed to hyper and freed
//!   once sent; hyper asks for the next piece only when its
//!   own write buffer (capped at the same size) has room. So a download holds at most a few
//!   pieces, whatever the blob's size or the client's speed.
//! - `Range: bytes=a-b` (one range, RFC 9110 section 14) answers 206 with `Content-Range`;
//!   an unsatisfiable range answers 416 with `Content-Range: bytes */<size>`; several ranges,
//!   a malformed header, or an `If-Range` that does not match the blob's ETag get the whole
//!   blob (200), as RFC 9110 allows.
//! - With `--verify-blobs`, a blob is hashed once (per version of its file or object) before
//!   it is first served; one whose bytes do not match its name is not served. Only verified
//!   blobs are sent with `Cache-Control: immutable`.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::HashMap;
use std::io;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use crate::spec::digest::Digest;
use crate::static_registry::root::{BlobSource, OpenBlob, StaticError, StaticRoot};

/// Reads `range` of `file` in pieces of `piece` bytes.
pub fn file_body(
    file: Arc<std::fs::File>,
    range: RangeInclusive<u64>,
    piece: usize,
) -> BoxStream<'static, io::Result<Bytes>> {
    let end = range.end().saturating_add(1);
    futures::stream::try_unfold(*range.start(), move |pos| {
        let file = file.clone();
        async move {
            if pos >= end {
                return Ok(None);
            }
            let len = piece.min(usize::try_from(end - pos).unwrap_or(usize::MAX));
            // A cached piece is ready at once and the socket often is too, so without this a
            // download would send until tokio's budget runs out (megabytes) before other
            // connections, new ones included, get a turn: one piece per turn keeps them fair.
            tokio::task::yield_now().await;
            // Allocated here, on the async side, and freed there once sent.
            let mut buf = vec![0u8; len];
            let (buf, n) = match read_cached(&file, &mut buf, pos) {
                Some(n) => (buf, n),
                None => tokio::task::spawn_blocking(move || read_at_most(&file, buf, pos))
                    .await
                    .map_err(io::Error::other)??,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the blob's file got shorter while it was sent",
                ));
            }
            Ok(Some((Bytes::from(buf).slice(..n), pos + n as u64)))
        }
    })
    .boxed()
}

/// Reads what the page cache already holds at `pos` without blocking (`preadv2` with
/// `RWF_NOWAIT`, Linux 4.14+), so a cached blob costs no trip to the blocking pool; `None`
/// when the data is not cached (or the file system cannot tell): read it on the pool then.
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, buf: &mut [u8], pos: u64) -> Option<usize> {
    use rustix::io::{ReadWriteFlags, preadv2};
    match preadv2(file, &mut [io::IoSliceMut::new(buf)], pos, ReadWriteFlags::NOWAIT) {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_: &std::fs::File, _: &mut [u8], _: u64) -> Option<usize> {
    None
}

fn read_at_most(file: &std::fs::File, mut buf: Vec<u8>, pos: u64) -> io::Result<(Vec<u8>, usize)> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], pos + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((buf, filled))
}

/// What a request's `Range` asks for, given the blob's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Whole,
    Part(RangeInclusive<u64>),
    Unsatisfiable,
}

/// Decides what to send for `range` (the `Range` header) of a blob of `size` bytes;
/// `if_range_matches` is false when an `If-Range` names another version.
pub fn wanted(range: Option<&str>, size: u64, if_range_matches: bool) -> Wanted {
    use http_range_header::RangeUnsatisfiableError as E;
    let Some(range) = range.filter(|_| if_range_matches) else { return Wanted::Whole };
    let Ok(parsed) = http_range_header::parse_range_header(range) else { return Wanted::Whole };
    if parsed.ranges.len() != 1 {
        return Wanted::Whole;
    }
    if size == 0 {
        return Wanted::Unsatisfiable;
    }
    match parsed.validate(size) {
        Ok(mut ranges) => match ranges.pop() {
            Some(r) if r.start() <= r.end() && *r.end() < size => Wanted::Part(r),
            _ => Wanted::Unsatisfiable,
        },
        // A suffix longer than the blob is the whole blob (RFC 9110 section 14.1.2).
        Err(E::FileSuffixOutOfBounds) => Wanted::Part(0..=size - 1),
        Err(_) => Wanted::Unsatisfiable,
    }
}

/// What verifying an opened blob needs (its stream, not `Sync`, stays with the request).
pub struct BlobFacts {
    pub size: u64,
    pub version: String,
    /// A directory root's file; `None` for an object.
    pub file: Option<Arc<std::fs::File>>,
}

impl BlobFacts {
    pub fn of(blob: &OpenBlob) -> BlobFacts {
        let file = match &blob.body {
            BlobSource::File(f) => Some(f.clone()),
            BlobSource::Stream(_) => None,
        };
        BlobFacts { size: blob.size, version: blob.version.clone(), file }
    }
}

/// `repo@digest` and the version of its file or object.
type BlobVersion = (String, String);

/// Which blob versions were hashed and found right, so each is hashed once.
#[derive(Default)]
pub struct Verified {
    done: Mutex<HashMap<BlobVersion, Arc<tokio::sync::OnceCell<bool>>>>,
}

impl Verified {
    /// Whether this version of the blob was verified already (no work done here).
    pub fn known_good(&self, repo: &str, digest: &Digest, version: &str) -> bool {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.get(&(format!("{repo}@{digest}"), version.to_string())).and_then(|c| c.get().copied()).unwrap_or(false)
    }

    /// Hashes the blob once per version (concurrent first requests wait for one hash);
    /// `true` when its bytes match `digest`.
    pub async fn check(
        &self,
        root: &StaticRoot,
        repo: &str,
        digest: &Digest,
        blob: &BlobFacts,
        piece: usize,
    ) -> Result<bool, StaticError> {
        let (size, file) = (blob.size, blob.file.clone());
        let cell = {
            let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
            done.entry((format!("{repo}@{digest}"), blob.version.clone())).or_default().clone()
        };
        let ok = cell
            .get_or_try_init(|| async {
                let actual = match file {
                    Some(_) if size == 0 => Ok(Some(Digest::of(b""))),
                    Some(file) => hash_stream(file_body(file, 0..=size - 1, piece.max(64 * 1024))).await,
                    // An object is read once to hash it; the request then reads it again.
                    None => match root.open_blob(repo, digest).await? {
                        Some(OpenBlob { body: BlobSource::Stream(s), .. }) => hash_stream(s).await,
                        _ => Ok(None),
                    },
                };
                let actual = actual.map_err(|e| StaticError::Invalid { root: root.to_string(), message: format!("{repo}: blob {digest}: {e}") })?;
                let good = actual.as_ref() == Some(digest);
                if !good {
                    tracing::warn!(%root, repo, %digest, "refusing to serve a blob whose bytes do not match its digest");
                }
                Ok::<bool, StaticError>(good)
            })
            .await?;
        Ok(*ok)
    }
}

async fn hash_stream(mut body: BoxStream<'static, io::Result<Bytes>>) -> io::Result<Option<Digest>> {
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    while let Some(piece) = body.next().await {
        sha2::Digest::update(&mut hasher, &piece?);
    }
    Ok(Some(Digest::from_hasher(hasher)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(wanted(None, 10, true), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-3"), 10, true), Wanted::Part(0..=3));
        assert_eq!(wanted(Some("bytes=5-"), 10, true), Wanted::Part(5..=9));
        assert_eq!(wanted(Some("bytes=-3"), 10, true), Wanted::Part(7..=9));
        assert_eq!(wanted(Some("bytes=-30"), 10, true), Wanted::Part(0..=9), "a suffix longer than the blob");
        assert_eq!(wanted(Some("bytes=8-100"), 10, true), Wanted::Part(8..=9), "an end past the blob is cut");
        assert_eq!(wanted(Some("bytes=10-"), 10, true), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=20-30"), 10, true), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0, true), Wanted::Unsatisfiable, "nothing to send of an empty blob");
        assert_eq!(wanted(Some("bytes=0-1,4-5"), 10, true), Wanted::Whole, "several ranges: the whole blob");
        assert_eq!(wanted(Some("items=0-1"), 10, true), Wanted::Whole, "another unit is ignored");
        assert_eq!(wanted(Some("bytes=0-3"), 10, false), Wanted::Whole, "If-Range for another version");
    }

    #[tokio::test]
    async fn a_file_is_sent_in_pieces_of_the_buffer_size() {
        let mut tmp = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        std::io::Write::write_all(&mut tmp, &data).unwrap();
        let file = Arc::new(tmp);
        let pieces: Vec<Bytes> = file_body(file.clone(), 0..=99_999, 16 * 1024).try_collect().await.unwrap();
        assert!(pieces.iter().all(|p| p.len() <= 16 * 1024));
        assert_eq!(pieces.concat(), data);
        let part: Vec<Bytes> = file_body(file.clone(), 10..=20, 4).try_collect().await.unwrap();
        assert_eq!(part.concat(), &data[10..=20]);
        let past: Result<Vec<Bytes>, _> = file_body(file, 99_990..=100_010, 64).try_collect().await;
        assert!(past.is_err(), "a file shorter than announced ends the body with an error");
    }
}
