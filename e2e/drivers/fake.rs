//! Stateful wiremock fakes of the registries' native APIs.
//!
//! A [`Fake`] holds repositories (tag → digest, plus untagged manifests), logs every request,
//! and can answer the next N requests with 429. Each vendor module routes requests by method
//! and exact raw path (percent-encoding included) and checks the auth header the vendor
//! documents; anything else gets a 404 with the request in the body, so an unexpected request
//! fails the test loudly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use wharf::spec::digest::Digest;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Default, Clone)]
pub struct Repo {
    pub tags: BTreeMap<String, Digest>,
    pub manifests: BTreeSet<Digest>,
    /// Manifest bytes by digest (seeded images are real, tiny OCI manifests).
    pub bodies: BTreeMap<Digest, Vec<u8>>,
    /// When each manifest was pushed, by the fake's clock.
    pub pushed: BTreeMap<Digest, u64>,
}

impl Repo {
    pub fn tags_of(&self, d: &Digest) -> Vec<String> {
        self.tags.iter().filter(|(_, v)| *v == d).map(|(k, _)| k.clone()).collect()
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub repos: BTreeMap<String, Repo>,
    /// Answer this many of the next requests with 429.
    pub rate_limit: usize,
    pub retry_after: String,
    /// How those answers look instead, when set: status and headers (GitHub's 403 with
    /// `x-ratelimit-remaining: 0`, Docker Hub's `X-Retry-After`).
    pub limit_answer: Option<(u16, Vec<(String, String)>)>,
    /// A clock for the order manifests were pushed in (see [`Repo::pushed`]).
    pub clock: u64,
    /// Settings a vendor's fake reads (token lifetimes, revocations).
    pub knobs: BTreeMap<&'static str, u64>,
    /// `METHOD raw-path?query` of every request, in order.
    pub log: Vec<String>,
}

pub type Shared = Arc<Mutex<State>>;

pub struct Fake {
    pub server: MockServer,
    pub state: Shared,
}

type Handler = dyn Fn(&mut State, &Request, &str) -> ResponseTemplate + Send + Sync;

struct Vendor {
    state: Shared,
    base: String,
    handler: Box<Handler>,
}

impl Respond for Vendor {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let line = match req.url.query() {
            Some(q) => format!("{} {}?{q}", req.method, req.url.path()),
            None => format!("{} {}", req.method, req.url.path()),
        };
        state.log.push(line);
        if state.rate_limit > 0 {
            state.rate_limit -= 1;
            if let Some((status, headers)) = &state.limit_answer {
                let mut resp =
                    ResponseTemplate::new(*status).set_body_string(r#"{"message":"API rate limit exceeded"}"#);
                for (k, v) in headers {
                    resp = resp.insert_header(k.as_str(), v.as_str());
                }
                return resp;
            }
            let after = state.retry_after.clone();
            return ResponseTemplate::new(429)
                .insert_header("retry-after", after.as_str())
                .set_body_string(r#"{"message":"rate limited"}"#);
        }
        (self.handler)(&mut state, req, &self.base)
    }
}

impl Fake {
    /// A fake whose `handler(state, request, base_uri)` answers every request.
    pub async fn start(
        handler: impl Fn(&mut State, &Request, &str) -> ResponseTemplate + Send + Sync + 'static,
    ) -> Fake {
        let server = MockServer::start().await;
        let state: Shared = Arc::new(Mutex::new(State { retry_after: "0".into(), ..Default::default() }));
        let vendor = Vendor { state: state.clone(), base: server.uri(), handler: Box::new(handler) };
        Mock::given(any()).respond_with(vendor).mount(&server).await;
        Fake { server, state }
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&self.server.uri()).unwrap()
    }

    /// A new image in `repo` with `tags`; returns its digest.
    pub fn seed(&self, repo: &str, tags: &[&str]) -> Digest {
        let empty = Digest::of(b"{}");
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.as_str(), "size": 2},
            "layers": [],
            "annotations": {"seed": format!("{} {:?}", rand::random::<u64>(), tags)},
        })
        .to_string()
        .into_bytes();
        let d = Digest::of(&body);
        let mut s = self.state.lock().unwrap();
        s.clock += 1;
        let now = s.clock;
        let r = s.repos.entry(repo.to_string()).or_default();
        r.pushed.insert(d.clone(), now);
        r.manifests.insert(d.clone());
        r.bodies.insert(d.clone(), body);
        for t in tags {
            r.tags.insert(t.to_string(), d.clone());
        }
        d
    }

    pub fn tag(&self, repo: &str, tag: &str) -> Option<Digest> {
        self.state.lock().unwrap().repos.get(repo).and_then(|r| r.tags.get(tag).cloned())
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn rate_limit(&self, n: usize, retry_after: &str) {
        let mut s = self.state.lock().unwrap();
        s.rate_limit = n;
        s.retry_after = retry_after.to_string();
        s.limit_answer = None;
    }

    /// Answers the next `n` requests with `status` and `headers`.
    pub fn limit_with(&self, n: usize, status: u16, headers: &[(&str, String)]) {
        let mut s = self.state.lock().unwrap();
        s.rate_limit = n;
        s.limit_answer = Some((status, headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()));
    }
}

pub fn json(status: u16, v: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(v.to_string()).insert_header("content-type", "application/json")
}

/// What the fake answers to a request it does not know.
pub fn unexpected(req: &Request) -> ResponseTemplate {
    json(404, serde_json::json!({"message": format!("fake: unexpected {} {}", req.method, req.url)}))
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn query(req: &Request, name: &str) -> Option<String> {
    req.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Splits a slice into page `page` (1-based) of `size`; returns the items and whether more follow.
pub fn page<T: Clone>(items: &[T], page: usize, size: usize) -> (Vec<T>, bool) {
    let start = (page.saturating_sub(1)) * size;
    let chunk: Vec<T> = items.iter().skip(start).take(size).cloned().collect();
    (chunk, start + size < items.len())
}

/// Removes `tag`; the manifest stays (it may be untagged now).
pub fn remove_tag(state: &mut State, repo: &str, tag: &str) -> Option<Digest> {
    state.repos.get_mut(repo)?.tags.remove(tag)
}

/// Unix time in seconds, for rate-limit headers.
pub fn epoch_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// `handler`, except that a request for page `n` (query `page=n`) of anything answers 404, as
/// when the list changed or access went away while it was read.
pub fn page_vanishes(
    n: usize,
    handler: fn(&mut State, &Request, &str) -> ResponseTemplate,
) -> impl Fn(&mut State, &Request, &str) -> ResponseTemplate + Send + Sync + 'static {
    move |s, req, base| {
        if query(req, "page").and_then(|p| p.parse::<usize>().ok()) == Some(n)
            || query(req, "pageToken") == Some(format!("page-{n}"))
        {
            return json(404, serde_json::json!({"message": "404 Not Found"}));
        }
        handler(s, req, base)
    }
}
