//! `wharf serve`: a static root (see [`static_root`](crate::static_registry::root)) served as
//! a read-only OCI registry, for `docker pull`, skopeo, crane, regctl, oras and the
//! distribution-spec conformance suite.
//!
//! `GET`/`HEAD` of `/v2/`, `/v2/<repo>/manifests/<tag|digest>`, `/v2/<repo>/blobs/<digest>`
//! (with `Range`), `/v2/<repo>/tags/list` (with `n`, `last` and `Link`) and
//! `/v2/<repo>/referrers/<digest>` (with `artifactType`): [`routes`] parses,
//! [`handlers`] answers, [`blobs`] streams. Anything else below `/v2` is a 404 or 405 with
//! the spec's error body. Paths outside `/v2` are the files of static file distribution
//! (`/<name>/<version>/<os>/<arch>/<file>`, [`files`]), served with their content type.
//!
//! Made to face the internet, with limits taken from the libraries rather than written here:
//! - hyper's HTTP/1 `header_read_timeout`: a connection (new, or idle between requests) that
//!   does not send a whole request header in time is closed;
//! - tokio-io-timeout's write timeout: a response the client stops reading is dropped;
//! - tower's `ConcurrencyLimit`, applied to connections: no more are accepted while the
//!   maximum is open (the kernel's backlog holds the rest);
//! - hyper's `max_buf_size` (its minimum, 8 KiB) and fixed-size blob pieces: memory grows
//!   with connections × buffer, never with blob sizes or slow clients;
//! - hyper-util's graceful shutdown on SIGTERM or Ctrl-C: stop accepting, let the requests
//!   in flight finish (up to a grace period), then exit.
//!
//! At start the soft limit of open files is raised to the hard one (as Go programs do), and
//! the connection limit is kept below it, so the server never runs out of descriptors.

mod blobs;
mod files;
mod handlers;
pub mod routes;

use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::{Service, ServiceExt};

use crate::static_registry::root::StaticRoot;
use handlers::App;

/// The server's limits (`wharf serve` flags).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time to send a whole request header, from when the connection opens or its previous
    /// response ends: also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// A response whose client reads nothing for this long is dropped.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Bytes read from a blob at a time (a download holds about two such pieces).
    pub buffer: usize,
    /// Hash every blob once before it is first served.
    pub verify_blobs: bool,
    /// How long requests in flight may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            buffer: 16 * 1024,
            verify_blobs: false,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// hyper's buffer per connection, its minimum: request headers must fit (registry clients send
/// a few hundred bytes), and hyper takes the next piece of a blob only once what it holds
/// drops below this, so a slow client holds about one piece plus this.
const HYPER_BUFFER: usize = 8 * 1024;
/// Descriptors kept for everything but connections (listener, files being read, S3, logs).
const SPARE_DESCRIPTORS: u64 = 64;

/// Serves `root` on `addr` until SIGTERM or Ctrl-C; `on_ready` gets the bound address (port
/// 0 works) and the connection limit in force.
pub async fn serve(
    root: StaticRoot,
    addr: SocketAddr,
    opts: ServeOptions,
    on_ready: impl FnOnce(SocketAddr, usize),
) -> std::io::Result<()> {
    let max_connections = connection_limit(opts.max_connections);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_ready(listener.local_addr()?, max_connections);
    let app =
        Arc::new(App { root, piece: opts.buffer.max(4096), verify: opts.verify_blobs, verified: Default::default() });
    let router = Router::new().fallback(handlers::handle).with_state(app);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(nonzero(opts.header_read_timeout))
        .max_buf_size(HYPER_BUFFER)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // One "request" of this service is a whole connection: its concurrency limit is the
    // connection limit, and a permit is held until the connection closes.
    let mut connections = tower::ServiceBuilder::new().concurrency_limit(max_connections).service_fn(
        |conn: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>| async move {
            conn.await;
            Ok::<(), std::convert::Infallible>(())
        },
    );
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let ready = tokio::select! {
            ready = connections.ready() => ready,
            () = &mut stop => break,
        };
        let Ok(slot) = ready;
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or memory: wait a little instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutWriter::new(stream);
        io.set_timeout(nonzero(opts.idle_timeout));
        let io = hyper_util::rt::TokioIo::new(Box::pin(io));
        let conn = http.serve_connection(io, hyper_util::service::TowerToHyperService::new(router.clone()));
        let conn = graceful.watch(conn);
        let fut = slot.call(Box::pin(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
        }));
        tokio::spawn(fut);
    }
    drop(listener);
    tracing::info!("shutting down: waiting for {} connection(s)", graceful.count());
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(opts.shutdown_grace) => tracing::warn!("requests still running after {:?}; exiting", opts.shutdown_grace),
    }
    Ok(())
}

/// A timeout of 0 is none.
fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// `wanted`, kept below the limit of open files (raised to its hard limit first).
fn connection_limit(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!("cannot raise the limit of open files: {e}");
        }
    }
    let Some(files) = getrlimit(Resource::Nofile).current else { return wanted.max(1) };
    let most = usize::try_from(files.saturating_sub(SPARE_DESCRIPTORS).max(1)).unwrap_or(usize::MAX);
    if wanted > most {
        tracing::warn!(
            "serving at most {most} connections at once (not {wanted}): this process may open {files} files (ulimit -n)"
        );
    }
    wanted.clamp(1, most)
}

/// SIGTERM (what service managers and `docker stop` send) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(_) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {}
    }
}
