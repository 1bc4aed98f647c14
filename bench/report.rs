//! The results file, the goals of issue 7 judged against it, the plots and the summary.

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
    pub push: Option<Vec<push::Point>>,
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
            push: self.push.or(previous.push),
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
    if let Some(p) = r.noop.as_ref().and_then(|v| v.iter().find(|p| p.images == 50).or(v.last())) {
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
    if let Some(v) = &r.push
        && let Some(p) = v.last()
    {
        let size = format!("{} MiB", p.image_bytes >> 20);
        g.push(goal(
            "2 push",
            &format!("≥ 1.0× skopeo ({size})"),
            format!(
                "{:.2}× (wharf push vs docker-archive), {:.2}× (build-and-publish vs docker-daemon)",
                p.vs_skopeo_archive, p.vs_skopeo_daemon
            ),
            p.vs_skopeo_archive >= 1.0 && p.vs_skopeo_daemon >= 1.0,
        ));
        g.push(goal(
            "2 push",
            &format!("≥ 1.5× docker push ({size})"),
            format!("{:.2}×", p.vs_docker_push),
            p.vs_docker_push >= 1.5,
        ));
        let rss = p.wharf_cold_rss_mib.max.max(p.wharf_warm_rss_mib.max).max(p.wharf_push_archive_rss_mib.max);
        g.push(goal("2 push", "peak RSS ≤ 64 MiB", format!("{rss:.0} MiB"), rss <= 64.0));
        if let Some(small) = v.first().filter(|s| s.layer_bytes * 2 == p.layer_bytes) {
            let peak = |q: &push::Point| q.wharf_cold_rss_mib.median.max(q.wharf_push_archive_rss_mib.median);
            let (a, b) = (peak(small), peak(p));
            g.push(goal(
                "2 push",
                "RSS flat when the layer size doubles (±10 %)",
                format!("{a:.0} → {b:.0} MiB"),
                b <= a * 1.1,
            ));
        }
    }
    if let (Some(v), Some(m)) = (&r.digest, &r.machine)
        && let Some(p) = v.last()
    {
        g.push(goal(
            "3 context digest",
            &format!("≥ 50 % of the hashing limit ({:.2} GB/s; {} files)", m.sha256_limit / 1e9, p.files),
            format!("{:.2} GB/s = {:.0} %", p.bytes_per_sec / 1e9, 100.0 * p.fraction_of_limit),
            p.fraction_of_limit >= 0.5,
        ));
    }
    if let Some(p) = r.cleanup.as_ref().and_then(|v| v.last()) {
        g.push(goal(
            "4 cleanup planning",
            &format!("≤ 5 s ({} tags)", p.tags),
            format!("{:.2} s", p.plan_secs.median),
            p.plan_secs.median <= 5.0,
        ));
        g.push(goal(
            "4 cleanup planning",
            "list requests = pages",
            format!("{} list request(s), {} page(s)", p.list_requests, p.pages),
            p.list_requests == p.pages,
        ));
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
                lines: vec![("goal at 50 images: 2 s".into(), 2.0)],
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
    if let Some(v) = &r.push {
        let mib = |p: &push::Point| (p.image_bytes >> 20) as f64;
        let series = |name: &str, f: fn(&push::Point) -> &Stats| Series {
            name: name.into(),
            points: v.iter().map(|p| point(mib(p), f(p))).collect(),
        };
        plot::draw(
            &out.join("push.png"),
            &Chart {
                title: "Case 2: push of 8 incompressible layers to a fresh registry",
                x_label: "image size, MiB",
                y_label: "wall time, s (median, min–max)",
                series: vec![
                    series("docker push", |p| &p.docker_push),
                    series("skopeo copy docker-daemon:", |p| &p.skopeo_daemon),
                    series("skopeo copy docker-archive:", |p| &p.skopeo_archive),
                    series("wharf (save + convert + upload)", |p| &p.wharf_cold),
                    series("wharf (upload only, warm cache)", |p| &p.wharf_warm),
                    series("wharf push docker-archive", |p| &p.wharf_push_archive),
                ],
                lines: vec![],
            },
        )?;
        plot::draw(
            &out.join("push-rss.png"),
            &Chart {
                title: "Case 2: peak RSS while pushing",
                x_label: "image size, MiB",
                y_label: "peak RSS, MiB",
                series: vec![
                    series("wharf (save + convert + upload)", |p| &p.wharf_cold_rss_mib),
                    series("wharf (upload only)", |p| &p.wharf_warm_rss_mib),
                    series("wharf push docker-archive", |p| &p.wharf_push_archive_rss_mib),
                    series("skopeo copy docker-archive:", |p| &p.skopeo_archive_rss_mib),
                ],
                lines: vec![("goal: 64 MiB".into(), 64.0)],
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
                    ("goal: 50 % of the limit".into(), m.sha256_limit / 2e9),
                ],
            },
        )?;
    }
    if let Some(v) = &r.cleanup {
        plot::draw(
            &out.join("cleanup.png"),
            &Chart {
                title: "Case 4: cleanup --dry-run --keep-last 1",
                x_label: "tags in the repository",
                y_label: "plan time, s (median, min–max)",
                series: vec![Series {
                    name: "wharf".into(),
                    points: v.iter().map(|p| point(p.tags as f64, &p.plan_secs)).collect(),
                }],
                lines: vec![("goal at 10,000 tags: 5 s".into(), 5.0)],
            },
        )?;
    }
    Ok(())
}

pub fn summary(r: &Results) -> String {
    let mut s = String::new();
    if let Some(m) = &r.machine {
        s.push_str(&format!(
            "machine: {} × {} cores, {:.0} GiB, kernel {}; load {:.2} before, {:.2} after; sha256 {:.2} GB/s per core; {} build{}\n",
            m.cpu,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.load_before,
            m.load_after,
            m.sha256_per_core / 1e9,
            m.profile,
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
    for p in r.push.iter().flatten() {
        s.push_str(&format!(
            "push {:>5} MiB: docker {} | skopeo archive {} (CPU {:.1} s) | wharf push archive {} (CPU {:.1} s) | skopeo daemon {} | wharf {} (CPU {:.1} s; warm {}) | wharf RSS {:.0} MiB | ×{:.2} docker, ×{:.2} skopeo archive, ×{:.2} skopeo daemon\n",
            p.image_bytes >> 20,
            p.docker_push.show("s"),
            p.skopeo_archive.show("s"),
            p.skopeo_archive_cpu_secs.median,
            p.wharf_push_archive.show("s"),
            p.wharf_push_archive_cpu_secs.median,
            p.skopeo_daemon.show("s"),
            p.wharf_cold.show("s"),
            p.wharf_cold_cpu_secs.median,
            p.wharf_warm.show("s"),
            p.wharf_cold_rss_mib.max.max(p.wharf_push_archive_rss_mib.max),
            p.vs_docker_push,
            p.vs_skopeo_archive,
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
            "cleanup {:>6} tags: {} (CPU {:.2} s), {} requests ({} list), {} deletions planned\n",
            p.tags,
            p.plan_secs.show("s"),
            p.cpu_secs.median,
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
