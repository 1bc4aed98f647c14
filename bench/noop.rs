//! Case 1, no-op rebuild: `wharf build-and-publish` of a generated project of N images when
//! nothing changed since the last run. Measures wall time and the registry requests the run
//! makes (counted in the registry's access log), per image.
//!
//! The project is a git repository (so publish records are written and checked, as in CI),
//! published in the default repo mode (multirepo on a generic registry) with one custom tag.
//! Each image has its own context and Dockerfile (`COPY` of one small file onto busybox).
//! The first run builds and publishes everything (not measured); the measured runs follow,
//! on the same runner (wharf's cache kept) and as on a fresh runner (an empty cache).

use anyhow::{Context as _, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::registry::Registry;
use crate::support::{Env, Requests, Stats, git_commit_all, timed};

pub const BASE_IMAGE: &str = "wharf-example/busybox:1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub images: usize,
    /// The first, publishing run (builds through the engine's cache).
    pub first_run_secs: f64,
    pub wall_secs: Stats,
    /// wharf's user + system CPU time.
    pub cpu_secs: Stats,
    /// Requests of one no-op run (the last measured), by method and kind.
    pub requests: Requests,
    pub requests_per_image: f64,
    /// Requests made once per run whatever the project (the `/v2/` ping).
    pub per_run_requests: usize,
    /// The same no-op on a fresh runner: an empty wharf cache (`--cache-dir`).
    pub fresh_wall_secs: Stats,
    pub fresh_requests: Requests,
    pub fresh_requests_per_image: f64,
    pub max_rss_mib: f64,
}

pub fn run(env: &Env, sizes: &[usize]) -> Result<Vec<Point>> {
    sizes.iter().map(|&n| one(env, n).with_context(|| format!("no-op rebuild of {n} images"))).collect()
}

fn one(env: &Env, n: usize) -> Result<Point> {
    let dir = env.fresh_dir(&format!("noop-{n}"))?;
    generate(&dir, n)?;
    git_commit_all(&dir)?;
    let reg = Registry::start();
    let repo = format!("{}/bench", reg.host());
    let cache = env.work.join("noop-cache");
    let d = dir.to_string_lossy();
    let c = cache.to_string_lossy();
    let args = [
        "build-and-publish",
        "--dir",
        &d,
        "--repo",
        &repo,
        "--tag-custom",
        "bench",
        "--cache-dir",
        &c,
        "--output",
        "json",
    ];

    eprintln!("  no-op rebuild, {n} images: first run (publishes everything)");
    let first = timed(&mut env.wharf(&args))?;
    let report = check_report(&first.stdout, n, &repo, None)?;
    ensure!(report.iter().all(|i| i.manifest_written), "the first run must write every image's manifest");

    let mut walls = Vec::new();
    let mut cpu = Vec::new();
    let mut requests = Requests::default();
    let mut rss = 0;
    for r in 0..env.runs {
        let before = reg.log().len();
        let t = timed(&mut env.wharf(&args))?;
        requests = Requests::parse(&reg.log()[before..]);
        check_report(&t.stdout, n, &repo, Some(&report))?;
        eprintln!("    run {}: {:.3} s, {} requests", r + 1, t.secs, requests.total);
        walls.push(t.secs);
        cpu.push(t.cpu_secs);
        rss = rss.max(t.max_rss_kib);
    }
    ensure!(
        requests.count("PUT manifests") == 0 && requests.count("POST uploads") == 0,
        "a no-op run wrote to the registry: {requests:?}"
    );

    // A fresh runner: same project and commit, but an empty wharf cache (a new CI machine).
    let mut fresh_walls = Vec::new();
    let mut fresh_requests = Requests::default();
    for r in 0..env.runs {
        let empty = env.fresh_dir("noop-empty-cache")?;
        let e = empty.to_string_lossy();
        let fresh_args = [
            "build-and-publish",
            "--dir",
            &d,
            "--repo",
            &repo,
            "--tag-custom",
            "bench",
            "--cache-dir",
            &e,
            "--output",
            "json",
        ];
        let before = reg.log().len();
        let t = timed(&mut env.wharf(&fresh_args))?;
        fresh_requests = Requests::parse(&reg.log()[before..]);
        check_report(&t.stdout, n, &repo, Some(&report))?;
        eprintln!("    fresh runner, run {}: {:.3} s, {} requests", r + 1, t.secs, fresh_requests.total);
        fresh_walls.push(t.secs);
    }
    Ok(Point {
        images: n,
        first_run_secs: first.secs,
        wall_secs: Stats::of(walls),
        cpu_secs: Stats::of(cpu),
        requests_per_image: requests.total as f64 / n as f64,
        per_run_requests: requests.count("GET ping"),
        requests,
        fresh_wall_secs: Stats::of(fresh_walls),
        fresh_requests_per_image: fresh_requests.total as f64 / n as f64,
        fresh_requests,
        max_rss_mib: rss as f64 / 1024.0,
    })
}

/// `wharf.yaml` with images `img-000`… each in `images/img-NNN` (Dockerfile + one file).
pub fn generate(dir: &Path, n: usize) -> Result<()> {
    let mut yaml = String::from("project: bench\nconfigVersion: 1\n");
    for i in 0..n {
        let name = format!("img-{i:03}");
        let ctx = dir.join("images").join(&name);
        std::fs::create_dir_all(&ctx)?;
        std::fs::write(ctx.join("Dockerfile"), format!("FROM {BASE_IMAGE}\nCOPY data.txt /data.txt\n"))?;
        std::fs::write(ctx.join("data.txt"), format!("image {i}\n"))?;
        yaml.push_str(&format!("---\nimage: {name}\ncontext: images/{name}\n"));
    }
    std::fs::write(dir.join("wharf.yaml"), yaml)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub name: String,
    pub manifest: String,
    pub built: bool,
    pub manifest_written: bool,
    pub references: Vec<String>,
}

/// Checks that the report names every image with its `bench` tag; on a no-op run (`previous`
/// given) that nothing was built or written and every digest stayed.
fn check_report(stdout: &str, n: usize, repo: &str, previous: Option<&[Published]>) -> Result<Vec<Published>> {
    let v: serde_json::Value = serde_json::from_str(stdout).with_context(|| format!("report is not JSON: {stdout}"))?;
    let images = v["images"].as_array().context("no images in the report")?;
    ensure!(images.len() == n, "{} images in the report, {n} expected", images.len());
    let mut out = Vec::new();
    for img in images {
        let p = Published {
            name: img["name"].as_str().unwrap_or_default().to_string(),
            manifest: img["manifest_digest"].as_str().unwrap_or_default().to_string(),
            built: img["built"].as_bool().unwrap_or(true),
            manifest_written: img["stats"]["manifest_written"].as_bool().unwrap_or(true),
            references: img["references"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(String::from))
                .collect(),
        };
        let want = format!("{repo}/{}:bench", p.name);
        ensure!(p.references == [want.clone()], "{}: references {:?}, expected [{want}]", p.name, p.references);
        out.push(p);
    }
    if let Some(prev) = previous {
        for (a, b) in prev.iter().zip(&out) {
            ensure!(!b.built && !b.manifest_written, "{}: a no-op run built or wrote it", b.name);
            ensure!(a.manifest == b.manifest, "{}: manifest changed from {} to {}", b.name, a.manifest, b.manifest);
        }
    }
    Ok(out)
}
