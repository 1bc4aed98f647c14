//! Case 4, cleanup planning: `wharf cleanup --dry-run --keep-last 1` on a repository with N
//! tags, as `build-and-publish` leaves them in monorepo mode: per publish an image tag
//! (`app-build-K`), its stage (`wharf-stage-<digest>`) and its publish record
//! (`wharf-meta-<commit>-<stage>`). Measures the plan time, wharf's CPU time and peak RSS,
//! and the requests, counting tag list requests against the pages the registry serves, on
//! two registries: distribution 2.8 (one page, whatever `n`; requests from its access log)
//! and go-containerregistry's (`crane registry serve`, in memory, pages of `n` continued by
//! `last`; requests from its log).
//!
//! The repository is prepared fast through wharf's registry client: every image manifest
//! shares one config and one layer blob and differs by an annotation; records are written by
//! `wharf::publish::meta::write`, dated a day back so that the fresh window keeps none.

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use chrono::{Duration as ChronoDuration, Utc};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use wharf::naming::{self, Layout};
use wharf::publish::meta;
use wharf::registry::{Client, ClientOptions, Repository};
use wharf::spec::digest::Digest;
use wharf::spec::manifest::{EMPTY_JSON, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};

use crate::registry::Registry;
use crate::support::{Env, Requests, Stats, timed};

/// The registries the case runs on.
pub const REGISTRIES: [&str; 2] = ["distribution", "crane"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// `distribution` (2.8) or `crane` (go-containerregistry's registry).
    #[serde(default = "distribution")]
    pub registry: String,
    pub tags: usize,
    pub prepare_secs: f64,
    pub plan_secs: Stats,
    /// wharf's user + system CPU time (the rest of the wall time is waiting for the registry).
    pub cpu_secs: Stats,
    pub requests: Requests,
    pub list_requests: usize,
    pub pages: usize,
    pub planned_deletions: usize,
    pub kept: usize,
    pub max_rss_mib: f64,
}

fn distribution() -> String {
    "distribution".into()
}

pub fn run(env: &Env, sizes: &[usize]) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for registry in REGISTRIES {
        for &n in sizes {
            out.push(one(env, registry, n).with_context(|| format!("cleanup planning over {n} tags on {registry}"))?);
        }
    }
    Ok(out)
}

/// A registry of the case, stopped when dropped.
enum Server {
    Distribution(Registry),
    Crane { child: std::process::Child, port: u16, log: tempfile::NamedTempFile },
}

impl Server {
    fn start(kind: &str) -> Result<Server> {
        if kind == "distribution" {
            return Ok(Server::Distribution(Registry::start()));
        }
        let log = tempfile::NamedTempFile::new()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = std::process::Command::new(crate::push::tool("crane")?)
            .args(["registry", "serve", "--address", &format!("127.0.0.1:{port}")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen()?)
            .spawn()?;
        let server = Server::Crane { child, port, log };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        anyhow::bail!("crane registry serve did not start on port {port}")
    }

    fn host(&self) -> String {
        match self {
            Server::Distribution(r) => r.host(),
            Server::Crane { port, .. } => format!("127.0.0.1:{port}"),
        }
    }

    /// Its log so far: access log lines (distribution) or request lines (crane).
    fn log(&self) -> String {
        match self {
            Server::Distribution(r) => r.log(),
            Server::Crane { log, .. } => std::fs::read_to_string(log.path()).unwrap_or_default(),
        }
    }

    fn requests(&self, log: &str) -> Requests {
        match self {
            Server::Distribution(_) => Requests::parse(log),
            Server::Crane { .. } => Requests::parse_crane(log),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Crane { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn one(env: &Env, registry: &str, tags: usize) -> Result<Point> {
    let publishes = tags.div_ceil(3);
    let reg = Server::start(registry)?;
    let repo: Repository = format!("{}/bench", reg.host()).parse()?;
    let t = std::time::Instant::now();
    tokio::runtime::Runtime::new()?.block_on(fill(&repo, publishes))?;
    let prepare_secs = t.elapsed().as_secs_f64();
    eprintln!("  cleanup planning on {registry}, {} tags: prepared in {prepare_secs:.1} s", publishes * 3);

    let dir = env.fresh_dir(&format!("cleanup-{registry}-{tags}"))?;
    std::fs::write(dir.join("wharf.yaml"), "project: bench\nconfigVersion: 1\n---\nimage: app\n")?;
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n")?;
    let d = dir.to_string_lossy();
    let r = repo.to_string();
    // --max-tags: the largest size passes the default limit (100,000) by two tags.
    let args = [
        "cleanup",
        "--dir",
        &d,
        "--repo",
        &r,
        "--repo-mode",
        "monorepo",
        "--dry-run",
        "--keep-last",
        "1",
        "--max-tags",
        "1000000",
        "--output",
        "json",
    ];
    let mut secs = Vec::new();
    let mut cpu = Vec::new();
    let mut requests = Requests::default();
    let mut plan = Counts::default();
    let mut rss = 0;
    // The largest sizes take a minute a run: three runs are enough there.
    let runs = if tags >= 30_000 { env.runs.min(3) } else { env.runs };
    for k in 0..runs {
        let before = reg.log().len();
        let run = timed(&mut env.wharf(&args))?;
        requests = reg.requests(&reg.log()[before..]);
        plan = counts(&run.stdout)?;
        eprintln!(
            "    run {}: {:.3} s, {:.2} CPU-s, {:.0} MiB, {} requests, {} deletions planned",
            k + 1,
            run.secs,
            run.cpu_secs,
            run.max_rss_kib as f64 / 1024.0,
            requests.total,
            plan.delete
        );
        secs.push(run.secs);
        cpu.push(run.cpu_secs);
        rss = rss.max(run.max_rss_kib);
    }
    // keep-last 1: the newest image tag, its stage and its record stay; everything else goes.
    ensure!(
        plan.keep == 3 && plan.delete == publishes * 3 - 3,
        "plan keeps {} and deletes {}; expected 3 and {}",
        plan.keep,
        plan.delete,
        publishes * 3 - 3
    );
    ensure!(
        requests.count("DELETE manifests") == 0 && requests.count("PUT manifests") == 0,
        "a dry run changed the registry: {requests:?}"
    );
    // distribution sends every tag in one page; crane's registry pages by `n` (1,000) without
    // `Link`, so a full page is followed by one more request (which may find nothing).
    let pages = if registry == "distribution" { 1 } else { publishes * 3 / 1000 + 1 };
    Ok(Point {
        registry: registry.to_string(),
        tags: publishes * 3,
        prepare_secs,
        plan_secs: Stats::of(secs),
        cpu_secs: Stats::of(cpu),
        list_requests: requests.count("GET tags"),
        pages,
        requests,
        planned_deletions: plan.delete,
        kept: plan.keep,
        max_rss_mib: rss as f64 / 1024.0,
    })
}

#[derive(Debug, Default)]
struct Counts {
    keep: usize,
    delete: usize,
}

fn counts(stdout: &str) -> Result<Counts> {
    let v: serde_json::Value = serde_json::from_str(stdout)
        .with_context(|| format!("plan is not JSON: {}", &stdout[..stdout.len().min(2000)]))?;
    let mut c = Counts::default();
    for e in v["entries"].as_array().context("no entries in the plan")? {
        match e["action"].as_str() {
            Some("keep") => c.keep += 1,
            Some("delete") => c.delete += 1,
            other => anyhow::bail!("unexpected action {other:?}"),
        }
    }
    Ok(c)
}

/// `publishes` image tags, stages and records of image `app` in `repo` (monorepo layout).
async fn fill(repo: &Repository, publishes: usize) -> Result<()> {
    let client = Client::new(ClientOptions::default())?;
    let config =
        Bytes::from_static(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let layer = Bytes::from_static(b"bench layer");
    let (config_digest, layer_digest) = (Digest::of(&config), Digest::of(&layer));
    client.push_blob_bytes(repo, &config_digest, config.clone()).await?;
    client.push_blob_bytes(repo, &layer_digest, layer.clone()).await?;
    // The records' empty blob goes up once first: distribution 2.8 can lose a blob that many
    // uploads commit at the same moment, and then refuses the manifests naming it.
    client.push_blob_bytes(repo, &Digest::of(EMPTY_JSON), Bytes::from_static(EMPTY_JSON)).await?;
    let now = Utc::now();
    let client = &client;
    let results: Vec<Result<()>> = futures::stream::iter(0..publishes)
        .map(|k| {
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": { "mediaType": OCI_CONFIG, "digest": config_digest.as_str(), "size": config.len() },
                "layers": [{ "mediaType": OCI_LAYER_GZIP, "digest": layer_digest.as_str(), "size": layer.len() }],
                "annotations": { "bench.publish": k.to_string() },
            });
            async move {
                let bytes = Bytes::from(serde_json::to_vec(&manifest)?);
                let digest = Digest::of(&bytes);
                let stage = Digest::of(format!("stage {k}").as_bytes()).hex().to_string();
                let commit = Digest::of(format!("commit {k}").as_bytes()).hex()[..40].to_string();
                let tag = format!("build-{k}");
                let (_, image_tag) = naming::place(Layout::Monorepo, Some("app"), &tag);
                let (_, stage_tag) = naming::stage_place(Layout::Monorepo, &stage);
                client.put_manifest(repo, &stage_tag, OCI_MANIFEST, bytes.clone()).await?;
                client.put_manifest(repo, &image_tag, OCI_MANIFEST, bytes).await?;
                let record = meta::Record {
                    image: Some("app"),
                    commit: &commit,
                    stage: &stage,
                    manifest: &digest,
                    tags: vec![tag],
                    created: now - ChronoDuration::days(1) + ChronoDuration::seconds(k as i64),
                };
                meta::write(client, repo, Layout::Monorepo, &record).await?;
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}
