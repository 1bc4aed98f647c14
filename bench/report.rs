//! The results file, the goals (issues 7 and 17) judged against it, the plots and the summary.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::plot::{self, Chart, P, Series};
use crate::support::{Machine, Stats};
use crate::{cleanup, digest, noop, push, serve};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    pub machine: Option<Machine>,
    pub goals: Vec<Goal>,
    pub noop: Option<Vec<noop::Point>>,
    /// The archive tools (wharf push, crane, regctl, skopeo) by archive size.
    #[serde(default)]
    pub archive_push: Option<Vec<push::ArchivePoint>>,
    /// From the engine: docker push, skopeo, build-and-publish with each builder.
    #[serde(default)]
    pub engine_push: Option<Vec<push::EnginePoint>>,
    pub codec: Option<push::Codec>,
    pub digest: Option<Vec<digest::Point>>,
    pub cleanup: Option<Vec<cleanup::Point>>,
    #[serde(default)]
    pub serve: Option<Vec<serve::Phase>>,
    /// 1-minute load average when each case started and ended (other work on the machine).
    #[serde(default)]
    pub load: std::collections::BTreeMap<String, (f64, f64)>,
}

impl Results {
    /// Cases measured now replace those of `previous`; the others stay as they were.
    pub fn merged_into(self, previous: Results) -> Results {
        let mut load = previous.load;
        load.extend(self.load);
        Results {
            machine: self.machine.or(previous.machine),
            goals: Vec::new(),
            noop: self.noop.or(previous.noop),
            archive_push: self.archive_push.or(previous.archive_push),
            engine_push: self.engine_push.or(previous.engine_push),
            codec: self.codec.or(previous.codec),
            digest: self.digest.or(previous.digest),
            cleanup: self.cleanup.or(previous.cleanup),
            serve: self.serve.or(previous.serve),
            load,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goal {
    pub case: String,
    pub goal: String,
    pub measured: String,
    pub met: bool,
}

fn goal(case: &str, goal: &str, measured: String, met: bool) -> Goal {
    Goal { case: case.into(), goal: goal.into(), measured, met }
}

/// Each goal at the size it is set for (or the largest size measured, in quick mode).
pub fn goals(r: &Results) -> Vec<Goal> {
    let mut g = Vec::new();
    if let Some(p) = r.noop.as_ref().and_then(|v| v.iter().find(|p| p.images == 1000).or(v.last())) {
        let n = p.images;
        g.push(goal(
            "1 no-op rebuild",
            &format!("≤ 2 s wall ({n} images)"),
            format!("{:.2} s", p.wall_secs.median),
            p.wall_secs.median <= 2.0,
        ));
        let per_image = (p.requests.total - p.per_run_requests) as f64 / n as f64;
        g.push(goal(
            "1 no-op rebuild",
            "≤ 1 registry request per image",
            format!(
                "{per_image:.2} per image + {} per run ({} for {n}); fresh runner {:.2} per image, {:.2} s",
                p.per_run_requests, p.requests.total, p.fresh_requests_per_image, p.fresh_wall_secs.median
            ),
            per_image <= 1.0,
        ));
    }
    if let Some(v) = &r.archive_push
        && let Some(p) = v.iter().find(|p| p.image_bytes == 1 << 30).or(v.last())
    {
        let size = format!("{} MiB archive", p.image_bytes >> 20);
        g.push(goal(
            "2 push",
            &format!("wharf push ≥ 1.2× crane push ({size})"),
            format!("{:.2}×", p.vs_crane),
            p.vs_crane >= 1.2,
        ));
        g.push(goal(
            "2 push",
            &format!("wharf push ≥ 1.3× skopeo copy ({size})"),
            format!("{:.2}× (regctl image import: {:.2}×)", p.vs_skopeo, p.vs_regctl),
            p.vs_skopeo >= 1.3,
        ));
        let rss: Vec<f64> = v.iter().map(|p| p.wharf_push.rss_mib.median).collect();
        let (lo, hi) = (rss.iter().copied().fold(f64::INFINITY, f64::min), rss.iter().copied().fold(0.0, f64::max));
        let sizes = format!("{} MiB to {} MiB", v[0].image_bytes >> 20, v[v.len() - 1].image_bytes >> 20);
        g.push(goal(
            "2 push",
            &format!("wharf push RSS flat from {sizes} (±10 %)"),
            format!("{lo:.0} to {hi:.0} MiB"),
            hi <= lo * 1.1,
        ));
    }
    let wharf_rss = r.archive_push.iter().flatten().map(|p| p.wharf_push.rss_mib.max);
    let engine_rss =
        r.engine_push.iter().flatten().flat_map(|p| {
            [p.wharf_cold_buildkit.rss_mib.max, p.wharf_cold_legacy.rss_mib.max, p.wharf_warm.rss_mib.max]
        });
    let rss = wharf_rss.chain(engine_rss).fold(f64::NAN, f64::max);
    if !rss.is_nan() {
        g.push(goal("2 push", "peak RSS ≤ 64 MiB (every wharf run)", format!("{rss:.0} MiB"), rss <= 64.0));
    }
    if let Some(p) = r.engine_push.as_ref().and_then(|v| v.last()) {
        let size = format!("{} MiB", p.image_bytes >> 20);
        g.push(goal(
            "2 push",
            &format!("cold build-and-publish ≥ 1.5× docker push, legacy builder ({size})"),
            format!(
                "{:.2}× (BuildKit: {:.2}×; skopeo docker-daemon: {:.2}×)",
                p.vs_docker_push_legacy, p.vs_docker_push_buildkit, p.vs_skopeo_daemon
            ),
            p.vs_docker_push_legacy >= 1.5,
        ));
    }
    if let (Some(v), Some(m)) = (&r.digest, &r.machine)
        && let Some(p) = v.last()
    {
        g.push(goal(
            "3 context digest",
            &format!("≥ 60 % of the hashing limit ({:.2} GB/s; {} files)", m.sha256_limit / 1e9, p.files),
            format!("{:.2} GB/s = {:.0} %", p.bytes_per_sec / 1e9, 100.0 * p.fraction_of_limit),
            p.fraction_of_limit >= 0.6,
        ));
    }
    for registry in crate::cleanup::REGISTRIES {
        let points: Vec<&crate::cleanup::Point> =
            r.cleanup.iter().flatten().filter(|p| p.registry == registry).collect();
        if let Some(p) = points.iter().find(|p| p.tags.abs_diff(10_000) < 10).filter(|_| registry == "distribution") {
            g.push(goal(
                "4 cleanup planning",
                &format!("≤ 5 s ({} tags, {registry})", p.tags),
                format!("{:.2} s", p.plan_secs.median),
                p.plan_secs.median <= 5.0,
            ));
        }
        if let Some(p) = points.last() {
            g.push(goal(
                "4 cleanup planning",
                &format!("list requests = pages ({} tags, {registry})", p.tags),
                format!("{} list request(s), {} page(s)", p.list_requests, p.pages),
                p.list_requests == p.pages,
            ));
            g.push(goal(
                "4 cleanup planning",
                &format!("peak RSS ≤ 200 MiB ({} tags, {registry})", p.tags),
                format!("{:.0} MiB, {:.2} s", p.max_rss_mib, p.plan_secs.median),
                p.max_rss_mib <= 200.0,
            ));
        }
    }
    for p in r.serve.iter().flatten().filter(|p| p.server == "wharf serve") {
        let case = "5 serve";
        match p.phase.as_str() {
            "downloads" => {
                let what = format!("peak RSS ≤ 64 MiB ({} parallel downloads)", p.connections);
                g.push(goal(case, &what, format!("{:.1} MiB", p.peak_rss_mib), p.peak_rss_mib <= 64.0));
                g.push(goal(case, "no errors under downloads", format!("{} errors", p.errors), p.errors == 0));
            }
            "idle" => {
                let what = format!("a normal client is served during {} idle connections", p.connections);
                g.push(goal(
                    case,
                    &what,
                    format!("{} failed, p99 {:.0} ms", p.normal.failed, p.normal.p99_ms),
                    p.normal.failed == 0,
                ));
            }
            _ => {}
        }
    }
    g
}

/// One tool's measurements in an archive push point.
type ToolOf = fn(&push::ArchivePoint) -> &push::Measured;

fn point(x: f64, s: &Stats) -> P {
    P { x, y: s.median, lo: s.min, hi: s.max }
}

pub fn plots(r: &Results, out: &Path) -> Result<()> {
    if let Some(v) = &r.noop {
        plot::draw(
            &out.join("noop.png"),
            &Chart {
                title: "Case 1: no-op build-and-publish",
                x_label: "images in the project",
                y_label: "wall time, s (median, min–max)",
                series: vec![
                    Series {
                        name: "wharf, same runner".into(),
                        points: v.iter().map(|p| point(p.images as f64, &p.wall_secs)).collect(),
                    },
                    Series {
                        name: "wharf, fresh runner (empty cache)".into(),
                        points: v.iter().map(|p| point(p.images as f64, &p.fresh_wall_secs)).collect(),
                    },
                ],
                lines: vec![("goal at 1,000 images: 2 s".into(), 2.0)],
            },
        )?;
        plot::draw(
            &out.join("noop-requests.png"),
            &Chart {
                title: "Case 1: registry requests of a no-op run",
                x_label: "images in the project",
                y_label: "requests per image",
                series: vec![
                    Series {
                        name: "wharf, same runner".into(),
                        points: v.iter().map(|p| P::exact(p.images as f64, p.requests_per_image)).collect(),
                    },
                    Series {
                        name: "wharf, fresh runner (empty cache)".into(),
                        points: v.iter().map(|p| P::exact(p.images as f64, p.fresh_requests_per_image)).collect(),
                    },
                ],
                lines: vec![("goal: 1 per image".into(), 1.0)],
            },
        )?;
    }
    if let Some(v) = &r.archive_push {
        let mib = |p: &push::ArchivePoint| (p.image_bytes >> 20) as f64;
        let tools: [(&str, ToolOf); 4] = [
            ("wharf push", |p| &p.wharf_push),
            ("crane push", |p| &p.crane_push),
            ("regctl image import", |p| &p.regctl_import),
            ("skopeo copy docker-archive:", |p| &p.skopeo_archive),
        ];
        let series = |f: fn(&push::Measured) -> &Stats| -> Vec<Series> {
            tools
                .iter()
                .map(|(name, m)| Series {
                    name: (*name).into(),
                    points: v.iter().map(|p| point(mib(p), f(m(p)))).collect(),
                })
                .collect()
        };
        plot::draw(
            &out.join("push.png"),
            &Chart {
                title: "Case 2: push of a docker archive (8 incompressible layers) to a fresh registry",
                x_label: "image size, MiB",
                y_label: "wall time, s (median, min–max)",
                series: series(|m| &m.secs),
                lines: vec![],
            },
        )?;
        plot::draw(
            &out.join("push-rss.png"),
            &Chart {
                title: "Case 2: peak RSS while pushing a docker archive",
                x_label: "image size, MiB",
                y_label: "peak RSS, MiB",
                series: series(|m| &m.rss_mib),
                lines: vec![("goal for wharf: 64 MiB".into(), 64.0)],
            },
        )?;
    }
    if let (Some(v), Some(m)) = (&r.digest, &r.machine) {
        plot::draw(
            &out.join("digest.png"),
            &Chart {
                title: "Case 3: context digest, warm page cache",
                x_label: "files (mean size constant)",
                y_label: "time, s (median, min–max)",
                series: vec![Series {
                    name: "wharf context digest".into(),
                    points: v.iter().map(|p| point(p.files as f64, &p.secs)).collect(),
                }],
                lines: vec![],
            },
        )?;
        plot::draw(
            &out.join("digest-throughput.png"),
            &Chart {
                title: "Case 3: context digest throughput",
                x_label: "files (mean size constant)",
                y_label: "GB/s",
                series: vec![Series {
                    name: "wharf context digest".into(),
                    points: v.iter().map(|p| P::exact(p.files as f64, p.bytes_per_sec / 1e9)).collect(),
                }],
                lines: vec![
                    (format!("limit: openssl sha256 × {} cores", m.cores), m.sha256_limit / 1e9),
                    ("goal: 60 % of the limit".into(), m.sha256_limit * 0.6 / 1e9),
                ],
            },
        )?;
    }
    if let Some(v) = &r.cleanup {
        let series = |f: fn(&crate::cleanup::Point) -> P| -> Vec<Series> {
            crate::cleanup::REGISTRIES
                .iter()
                .map(|reg| Series {
                    name: format!(
                        "wharf on {}",
                        if *reg == "crane" { "go-containerregistry's registry" } else { "distribution 2.8" }
                    ),
                    points: v.iter().filter(|p| p.registry == *reg).map(f).collect(),
                })
                .collect()
        };
        plot::draw(
            &out.join("cleanup.png"),
            &Chart {
                title: "Case 4: cleanup --dry-run --keep-last 1",
                x_label: "tags in the repository",
                y_label: "plan time, s (median, min–max)",
                series: series(|p| point(p.tags as f64, &p.plan_secs)),
                lines: vec![("goal at 10,000 tags: 5 s".into(), 5.0)],
            },
        )?;
        plot::draw(
            &out.join("cleanup-rss.png"),
            &Chart {
                title: "Case 4: peak RSS of cleanup planning",
                x_label: "tags in the repository",
                y_label: "peak RSS, MiB",
                series: series(|p| P::exact(p.tags as f64, p.max_rss_mib)),
                lines: vec![("goal at 100,000 tags: 200 MiB".into(), 200.0)],
            },
        )?;
    }
    Ok(())
}

pub fn summary(r: &Results) -> String {
    let mut s = String::new();
    if let Some(m) = &r.machine {
        s.push_str(&format!(
            "machine: {} × {} cores, {:.0} GiB, kernel {}; load {:.2} before, {:.2} after; sha256 {:.2} GB/s per core; {} build of {:.1} MiB{}\n",
            m.cpu,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.load_before,
            m.load_after,
            m.sha256_per_core / 1e9,
            m.profile,
            m.wharf_binary_bytes as f64 / 1048576.0,
            if m.quick { ", QUICK (sizes too small to judge goals)" } else { "" }
        ));
    }
    for p in r.noop.iter().flatten() {
        s.push_str(&format!(
            "no-op {:>4} images: {} (CPU {:.2} s), {:.2} requests/image {:?}\n",
            p.images,
            p.wall_secs.show("s"),
            p.cpu_secs.median,
            p.requests_per_image,
            p.requests.by_kind
        ));
        s.push_str(&format!(
            "  fresh runner: {}, {:.2} requests/image {:?}\n",
            p.fresh_wall_secs.show("s"),
            p.fresh_requests_per_image,
            p.fresh_requests.by_kind
        ));
    }
    let show =
        |m: &push::Measured| format!("{} ({:.1} CPU-s, {:.0} MiB)", m.secs.show("s"), m.cpu_secs.median, m.rss_mib.max);
    for p in r.archive_push.iter().flatten() {
        s.push_str(&format!(
            "push archive {:>5} MiB: wharf push {} | crane {} | regctl {} | skopeo {} | ×{:.2} crane, ×{:.2} regctl, ×{:.2} skopeo\n",
            p.image_bytes >> 20,
            show(&p.wharf_push),
            show(&p.crane_push),
            show(&p.regctl_import),
            show(&p.skopeo_archive),
            p.vs_crane,
            p.vs_regctl,
            p.vs_skopeo
        ));
    }
    for p in r.engine_push.iter().flatten() {
        s.push_str(&format!(
            "push engine {:>5} MiB: docker push {} | skopeo daemon {} | wharf cold BuildKit {} | cold legacy {} | warm {} | ×{:.2} docker (legacy), ×{:.2} docker (BuildKit), ×{:.2} skopeo daemon\n",
            p.image_bytes >> 20,
            p.docker_push.secs.show("s"),
            p.skopeo_daemon.secs.show("s"),
            show(&p.wharf_cold_buildkit),
            show(&p.wharf_cold_legacy),
            show(&p.wharf_warm),
            p.vs_docker_push_legacy,
            p.vs_docker_push_buildkit,
            p.vs_skopeo_daemon
        ));
    }
    if let Some(c) = &r.codec {
        s.push_str(&format!(
            "one core on noise: gzip -1 {:.0} MB/s (ratio {:.3}), gzip stored {:.0} MB/s, sha256 {:.0} MB/s\n",
            c.gzip_level1 / 1e6,
            c.gzip_level1_ratio,
            c.gzip_level0_stored / 1e6,
            c.sha256 / 1e6
        ));
    }
    for p in r.digest.iter().flatten() {
        s.push_str(&format!(
            "digest {:>6} files {:>6.0} MiB: {}, {:.2} GB/s ({:.0} % of limit), walk alone {:.3} s, CPU {:.2} s = {:.2} GB per CPU-second\n",
            p.files,
            p.bytes as f64 / 1048576.0,
            p.secs.show("s"),
            p.bytes_per_sec / 1e9,
            100.0 * p.fraction_of_limit,
            p.scan_secs,
            p.cpu_secs.median,
            p.bytes_per_cpu_sec / 1e9
        ));
    }
    for p in r.cleanup.iter().flatten() {
        s.push_str(&format!(
            "cleanup {:12} {:>6} tags: {} (CPU {:.2} s, {:.0} MiB), {} requests ({} list), {} deletions planned\n",
            p.registry,
            p.tags,
            p.plan_secs.show("s"),
            p.cpu_secs.median,
            p.max_rss_mib,
            p.requests.total,
            p.list_requests,
            p.planned_deletions
        ));
    }
    for p in r.serve.iter().flatten() {
        s.push_str(&format!(
            "serve {:16} {:18} {:>5} conns: peak RSS {:>7.1} MiB, {:>4} errors, {:>5} answered, {:>4} completed, {:>6.2} GB in {:.0} s, {} closed by server; normal p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} of {} failed)\n",
            p.server, p.phase, p.connections, p.peak_rss_mib, p.errors, p.answered, p.completed, p.bytes as f64 / 1e9, p.secs,
            p.closed_by_server, p.normal.p50_ms, p.normal.p99_ms, p.normal.max_ms, p.normal.failed, p.normal.requests
        ));
    }
    for g in &r.goals {
        s.push_str(&format!(
            "[{}] {}: {} — measured {}\n",
            if g.met { "met" } else { "GAP" },
            g.case,
            g.goal,
            g.measured
        ));
    }
    s
}
