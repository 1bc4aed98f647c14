//! A fault-injecting HTTP/1.1 proxy on loopback, in front of a real registry.
//!
//! Every client request is matched against the [`Rule`]s (method, a regex on the request
//! target with its query, and which occurrences of that match; each rule counts its own
//! matches); the first rule whose occurrence window holds the request applies its [`Fault`]. Other requests are forwarded to
//! the upstream over a fresh HTTP/1.0 connection (the upstream then ends its answer by closing,
//! so no response framing has to be parsed), with `Host` left as the proxy's address: the
//! registry builds its absolute `Location`s from it, so upload sessions come back through the
//! proxy too. Client connections stay keep-alive, as with a real server.
//!
//! Every request is recorded ([`Proxy::seen`]) with the fault it got and the status the
//! client saw, so tests can say "the manifest PUT was sent three times".
//!
//! The proxy has its own tokio runtime, so it serves plain `#[test]`s (wharf runs as a child
//! process) and `#[tokio::test]`s alike; it stops when dropped.

use regex::Regex;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (with an OCI error body) without forwarding.
    Status(u16),
    /// Answer 429 with `Retry-After: secs` without forwarding.
    TooManyRequests { retry_after: u64 },
    /// Wait, then forward (the upstream gets the request even if the client gave up).
    Stall(Duration),
    /// Forward the head and the first `after` bytes of the body, then drop the upstream
    /// connection and reset the client's: an upload broken in the middle.
    DropMidBody { after: usize },
    /// Reset the client's connection once the request is read; nothing is forwarded.
    ResetBeforeForward,
    /// Read the request, forward nothing and never answer, until the client goes away (a
    /// request in flight when the client is killed).
    Blackhole,
    /// Forward the request, let the upstream answer, then reset the client's connection
    /// instead of passing the answer on: the server did it, the client cannot know.
    ResetAfterForward,
}

/// Which requests get a fault.
#[derive(Debug, Clone)]
pub struct Rule {
    method: String,
    pattern: Regex,
    /// 1-based index of the first matching request that gets the fault.
    first: usize,
    /// How many matching requests from `first` on get it.
    count: usize,
    fault: Fault,
    matched: usize,
}

impl Rule {
    /// Every request whose method is `method` (`*` for any) and whose target (path and query)
    /// matches the regex `pattern` gets `fault`.
    pub fn new(method: &str, pattern: &str, fault: Fault) -> Rule {
        let pattern = Regex::new(pattern).unwrap_or_else(|e| panic!("rule pattern {pattern:?}: {e}"));
        Rule { method: method.to_string(), pattern, first: 1, count: usize::MAX, fault, matched: 0 }
    }

    /// Only the `n`th matching request (1-based).
    pub fn nth(self, n: usize) -> Rule {
        Rule { first: n, count: 1, ..self }
    }

    /// The first `n` matching requests.
    pub fn times(self, n: usize) -> Rule {
        Rule { first: 1, count: n, ..self }
    }

    /// Every matching request from the `n`th on.
    pub fn starting_at(self, n: usize) -> Rule {
        Rule { first: n, count: usize::MAX, ..self }
    }

    fn applies(&mut self, method: &str, target: &str) -> bool {
        if (self.method != "*" && self.method != method) || !self.pattern.is_match(target) {
            return false;
        }
        self.matched += 1;
        self.matched >= self.first && self.matched - self.first < self.count
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub fault: Option<Fault>,
    /// The status passed to the client (`None` when it got no answer, or not yet).
    pub status: Option<u16>,
    /// Whether the request carried an `Authorization` header.
    pub authorization: bool,
    pub at: Instant,
}

struct State {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
}

pub struct Proxy {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 in front of `upstream` (`host:port`), with no rules yet.
    pub fn start(upstream: &str) -> Proxy {
        Self::start_on(std::net::Ipv4Addr::LOCALHOST.into(), upstream)
    }

    /// The same, listening on `ip`.
    pub fn start_on(ip: std::net::IpAddr, upstream: &str) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let std_listener = std::net::TcpListener::bind((ip, 0)).expect("bind the proxy");
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = std_listener.local_addr().expect("proxy address");
        let state = Arc::new(State { upstream: upstream.to_string(), rules: Mutex::default(), seen: Mutex::default() });
        let accept_state = state.clone();
        runtime.spawn(async move {
            let listener = TcpListener::from_std(std_listener).expect("tokio listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(accept_state.clone(), stream));
            }
        });
        Proxy { addr, state, runtime: Some(runtime) }
    }

    /// `127.0.0.1:PORT` (or the address it listens on), to use as the registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Replaces the rules (their occurrence counters start from zero).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.state.rules.lock().expect("rules") = rules;
    }

    /// No faults from now on.
    pub fn clear_rules(&self) {
        self.set_rules(Vec::new());
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("seen").clone()
    }

    /// Requests so far with `method` whose target matches the regex `pattern`.
    pub fn count(&self, method: &str, pattern: &str) -> usize {
        let re = Regex::new(pattern).expect("pattern");
        self.seen().iter().filter(|s| s.method == method && re.is_match(&s.target)).count()
    }

    /// Requests that got a fault.
    pub fn faults(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.fault.is_some()).collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A request's head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

const MAX_HEAD: usize = 64 * 1024;

async fn serve_connection(state: Arc<State>, stream: TcpStream) {
    let mut client = BufReader::new(stream);
    // A TLS ClientHello (wharf probes HTTPS first on loopback): not HTTP, close.
    match client.fill_buf().await {
        Ok(buf) if buf.first() == Some(&0x16) || buf.is_empty() => return,
        Ok(_) => {}
        Err(_) => return,
    }
    while let Some(head) = read_head(&mut client).await {
        let fault = {
            let mut rules = state.rules.lock().expect("rules");
            // Every rule counts its matches; the first one whose window holds this request wins.
            let applying: Vec<Fault> = rules
                .iter_mut()
                .filter_map(|r| r.applies(&head.method, &head.target).then(|| r.fault.clone()))
                .collect();
            applying.into_iter().next()
        };
        let index = {
            let mut seen = state.seen.lock().expect("seen");
            let at = Instant::now();
            let authorization = head.header("authorization").is_some();
            seen.push(Seen {
                method: head.method.clone(),
                target: head.target.clone(),
                fault: fault.clone(),
                status: None,
                authorization,
                at,
            });
            seen.len() - 1
        };
        let status = handle(&state, &mut client, &head, fault).await.ok().flatten();
        if let Some(seen) = state.seen.lock().expect("seen").get_mut(index) {
            seen.status = status;
        }
        if status.is_none() {
            return;
        }
    }
}

/// Serves one request; `Ok(None)` when the client connection must end without an answer.
async fn handle(
    state: &State,
    client: &mut BufReader<TcpStream>,
    head: &Head,
    fault: Option<Fault>,
) -> std::io::Result<Option<u16>> {
    if let Some(Fault::DropMidBody { after }) = fault {
        let len: usize = head.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let mut partial = vec![0u8; after.min(len)];
        client.read_exact(&mut partial).await?;
        if let Ok(mut up) = TcpStream::connect(&state.upstream).await {
            let _ = up.write_all(&upstream_head(head, Some(len))).await;
            let _ = up.write_all(&partial).await;
            let _ = up.flush().await;
            // Give the upstream a moment to read what it got before the connection drops.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        reset(client);
        return Ok(None);
    }
    let body = read_body(client, head).await?;
    match fault {
        Some(Fault::Status(code)) => answer_error(client, code, None).await.map(Some),
        Some(Fault::TooManyRequests { retry_after }) => answer_error(client, 429, Some(retry_after)).await.map(Some),
        Some(Fault::ResetBeforeForward) => {
            reset(client);
            Ok(None)
        }
        Some(Fault::Blackhole) => {
            let mut sink = [0u8; 1024];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            Ok(None)
        }
        Some(Fault::ResetAfterForward) => {
            let _ = forward(state, head, &body).await;
            reset(client);
            Ok(None)
        }
        Some(Fault::Stall(d)) => {
            tokio::time::sleep(d).await;
            relay(state, client, head, &body).await
        }
        Some(Fault::DropMidBody { .. }) | None => relay(state, client, head, &body).await,
    }
}

async fn relay(
    state: &State,
    client: &mut BufReader<TcpStream>,
    head: &Head,
    body: &[u8],
) -> std::io::Result<Option<u16>> {
    let (status, response) = forward(state, head, body).await?;
    client.get_mut().write_all(&response).await?;
    client.get_mut().flush().await?;
    Ok(Some(status))
}

/// An abortive close: the peer sees a connection reset.
fn reset(client: &mut BufReader<TcpStream>) {
    // Dropping the stream (the connection task ends right after) then sends an RST.
    let _ = client.get_ref().set_zero_linger();
}

async fn read_head(client: &mut BufReader<TcpStream>) -> Option<Head> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = client.read_line(&mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        total += n;
        if total > MAX_HEAD {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let mut parts = lines.first()?.split(' ');
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let headers = lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    Some(Head { method, target, headers })
}

/// The whole request body: `Content-Length` bytes, or a decoded chunked body.
async fn read_body(client: &mut BufReader<TcpStream>, head: &Head) -> std::io::Result<Vec<u8>> {
    if head.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            client.read_line(&mut line).await?;
            let size_hex = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0u8; size + 2];
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    let mut trailer = String::new();
                    if client.read_line(&mut trailer).await? == 0 || trailer.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            client.read_exact(&mut chunk).await?;
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let len: usize = head.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    client.read_exact(&mut body).await?;
    Ok(body)
}

/// The request head for the upstream: HTTP/1.0, hop-by-hop headers removed, `Content-Length`
/// set to `len` when there is a body.
fn upstream_head(head: &Head, len: Option<usize>) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.0\r\n", head.method, head.target);
    for (k, v) in &head.headers {
        let hop = ["connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"];
        if !hop.iter().any(|h| k.eq_ignore_ascii_case(h)) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if let Some(len) = len {
        out.push_str(&format!("Content-Length: {len}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// Sends the request upstream; returns the status and the answer re-framed for a keep-alive
/// HTTP/1.1 client.
async fn forward(state: &State, head: &Head, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut up = TcpStream::connect(&state.upstream).await?;
    let has_body = !body.is_empty() || head.header("content-length").is_some();
    up.write_all(&upstream_head(head, has_body.then_some(body.len()))).await?;
    up.write_all(body).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no response head"))?;
    let (head_bytes, rest) = (&raw[..split], &raw[split + 4..]);
    let text = String::from_utf8_lossy(head_bytes);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(502);
    let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    let is_head = head.method == "HEAD";
    for line in lines {
        let Some((k, v)) = line.split_once(':') else { continue };
        let k = k.trim();
        let drop = ["connection", "keep-alive", "transfer-encoding"].iter().any(|h| k.eq_ignore_ascii_case(h))
            || (!is_head && k.eq_ignore_ascii_case("content-length"));
        if !drop {
            out.push_str(&format!("{k}: {}\r\n", v.trim()));
        }
    }
    if !is_head {
        out.push_str(&format!("Content-Length: {}\r\n", rest.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !is_head {
        bytes.extend_from_slice(rest);
    }
    Ok((status, bytes))
}

async fn answer_error(
    client: &mut BufReader<TcpStream>,
    status: u16,
    retry_after: Option<u64>,
) -> std::io::Result<u16> {
    let (code, reason) = match status {
        429 => ("TOOMANYREQUESTS", "Too Many Requests"),
        500 => ("UNKNOWN", "Internal Server Error"),
        502 => ("UNAVAILABLE", "Bad Gateway"),
        503 => ("UNAVAILABLE", "Service Unavailable"),
        504 => ("UNAVAILABLE", "Gateway Timeout"),
        _ => ("UNKNOWN", "Injected"),
    };
    let body = format!(r#"{{"errors":[{{"code":"{code}","message":"injected by the test proxy"}}]}}"#);
    let mut out =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    if let Some(secs) = retry_after {
        out.push_str(&format!("Retry-After: {secs}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    client.get_mut().write_all(out.as_bytes()).await?;
    client.get_mut().flush().await?;
    Ok(status)
}
