//! Case 2, push throughput: one image of 8 layers of incompressible data, pushed to a fresh
//! registry each time (so nothing can be mounted or skipped) by `docker push`, by `skopeo
//! copy` and by wharf.
//!
//! The image is built once with `docker build` (`FROM scratch`, 8 × `COPY` of a noise file).
//! - `docker push`: from the engine (the engine tars and gzips each layer).
//! - `skopeo copy docker-archive:` from a `docker save` archive made once (skopeo gzips).
//! - `skopeo copy docker-daemon:`: from the engine (skopeo saves, then gzips).
//! - wharf, cold: `build-and-publish` of a project whose Dockerfile is `FROM` that image, its
//!   stage kept in the engine (`--stages-storage :local`) and wharf's cache emptied first:
//!   wharf saves the image from the engine, converts it to OCI (gzip level 1, layers in
//!   parallel) and uploads (4 blobs at once). This is the path of a real publish.
//! - wharf, warm: the same with the converted image still in wharf's cache: upload only, as
//!   from an OCI layout.
//! - `wharf push` of the `docker save` archive skopeo reads: the same input and the same work
//!   (read the archive, gzip, upload), so this is the comparison with `skopeo copy
//!   docker-archive:`; the cold build-and-publish compares with `skopeo copy docker-daemon:`.
//!
//! Peak RSS of every wharf run comes from `/usr/bin/time`.

use anyhow::{Context as _, Result, ensure};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::registry::Registry;
use crate::support::{Env, Noise, Stats, mib, run, timed, write_noise};

pub const LAYERS: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub layer_bytes: u64,
    pub image_bytes: u64,
    pub docker_push: Stats,
    pub skopeo_archive: Stats,
    pub skopeo_daemon: Stats,
    pub wharf_cold: Stats,
    pub wharf_warm: Stats,
    /// `wharf push` of the archive `skopeo copy docker-archive:` reads.
    #[serde(default)]
    pub wharf_push_archive: Stats,
    #[serde(default)]
    pub wharf_push_archive_rss_mib: Stats,
    #[serde(default)]
    pub wharf_push_archive_cpu_secs: Stats,
    pub wharf_cold_rss_mib: Stats,
    pub wharf_warm_rss_mib: Stats,
    pub skopeo_archive_rss_mib: Stats,
    /// User + system CPU time (docker push's work happens in the engine, not counted).
    pub wharf_cold_cpu_secs: Stats,
    pub skopeo_archive_cpu_secs: Stats,
    /// Ratios of median times: reference / wharf (> 1: wharf is faster). Against docker push
    /// and skopeo's docker-daemon source: the cold build-and-publish (engine → registry);
    /// against skopeo's docker-archive source: `wharf push` of the same archive.
    pub vs_docker_push: f64,
    pub vs_skopeo_archive: f64,
    pub vs_skopeo_daemon: f64,
}

/// Compression and hashing throughput on incompressible data, one core, bytes/s.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Codec {
    pub bytes: u64,
    pub gzip_level1: f64,
    pub gzip_level0_stored: f64,
    pub sha256: f64,
    /// Output / input at level 1.
    pub gzip_level1_ratio: f64,
}

pub fn run_case(env: &Env, layer_sizes: &[u64]) -> Result<Vec<Point>> {
    layer_sizes.iter().map(|&l| one(env, l).with_context(|| format!("push of {LAYERS} × {} MiB", mib(l)))).collect()
}

fn one(env: &Env, layer: u64) -> Result<Point> {
    let tag = format!("{}m", layer >> 20);
    let image = format!("wharf-bench/push-{tag}:1");
    let dir = env.work.join(format!("push-{tag}"));
    prepare_image(env, &dir, &image, layer)?;
    let archive = dir.join("image.tar");
    if !archive.exists() {
        run(&mut env.docker(&["save", "-o", &archive.to_string_lossy(), &image]))?;
    }
    let project = env.fresh_dir(&format!("push-{tag}-wharf"))?;
    std::fs::write(project.join("wharf.yaml"), format!("project: push{tag}\nconfigVersion: 1\n---\nimage: big\n"))?;
    std::fs::write(project.join("Dockerfile"), format!("FROM {image}\n"))?;
    let cache = env.work.join(format!("push-{tag}-cache"));
    let (p, c) = (project.to_string_lossy().into_owned(), cache.to_string_lossy().into_owned());
    // Builds the stage in the engine once (publishing into the project's OCI layout).
    run(&mut env.wharf(&["build-and-publish", "--dir", &p, "--cache-dir", &c, "--output", "json"]))?;

    let mut docker = Vec::new();
    let mut skopeo_archive = Vec::new();
    let mut skopeo_daemon = Vec::new();
    let (mut cold, mut warm, mut cold_rss, mut warm_rss, mut skopeo_rss) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut cold_cpu, mut skopeo_cpu) = (vec![], vec![]);
    let (mut pushed, mut pushed_rss, mut pushed_cpu) = (vec![], vec![], vec![]);
    let staging = env.fresh_dir(&format!("push-{tag}-staging"))?;
    let image_bytes = layer * LAYERS as u64;
    for r in 0..env.runs {
        eprintln!("  push {} MiB, run {}", image_bytes >> 20, r + 1);
        {
            let reg = Registry::start();
            let dest = format!("{}/bench/docker:1", reg.host());
            run(&mut env.docker(&["tag", &image, &dest]))?;
            let t = timed(&mut env.docker(&["push", "-q", &dest]))?;
            run(&mut env.docker(&["rmi", &dest]))?;
            check_pushed(&reg, "bench/docker", "1")?;
            eprintln!("    docker push {:.2} s", t.secs);
            docker.push(t.secs);
        }
        {
            let reg = Registry::start();
            let dest = format!("docker://{}/bench/skopeo:1", reg.host());
            let t = timed(std::process::Command::new("skopeo").args([
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &format!("docker-archive:{}", archive.display()),
                &dest,
            ]))?;
            check_pushed(&reg, "bench/skopeo", "1")?;
            eprintln!("    skopeo copy docker-archive: {:.2} s, {:.0} MiB RSS", t.secs, t.max_rss_kib as f64 / 1024.0);
            skopeo_archive.push(t.secs);
            skopeo_rss.push(t.max_rss_kib as f64 / 1024.0);
            skopeo_cpu.push(t.cpu_secs);
        }
        {
            let reg = Registry::start();
            let dest = format!("docker://{}/bench/skopeo:1", reg.host());
            let mut cmd = std::process::Command::new("skopeo");
            cmd.args([
                "copy",
                "-q",
                "--src-daemon-host",
                &env.docker_host,
                "--dest-tls-verify=false",
                &format!("docker-daemon:{image}"),
                &dest,
            ]);
            let t = timed(&mut cmd)?;
            check_pushed(&reg, "bench/skopeo", "1")?;
            eprintln!("    skopeo copy docker-daemon: {:.2} s", t.secs);
            skopeo_daemon.push(t.secs);
        }
        {
            let reg = Registry::start();
            let dest = format!("{}/bench/pushed:1", reg.host());
            let args = [
                "push",
                &archive.to_string_lossy(),
                &dest,
                "--work-dir",
                &staging.to_string_lossy(),
                "--no-default-annotations",
                "--output",
                "json",
            ];
            let t = timed(&mut env.wharf(&args))?;
            check_pushed(&reg, "bench/pushed", "1")?;
            let rss = t.max_rss_kib as f64 / 1024.0;
            eprintln!("    wharf push docker-archive {:.2} s, {rss:.0} MiB RSS", t.secs);
            pushed.push(t.secs);
            pushed_rss.push(rss);
            pushed_cpu.push(t.cpu_secs);
        }
        for warm_cache in [false, true] {
            if !warm_cache && cache.exists() {
                std::fs::remove_dir_all(&cache)?;
            }
            let reg = Registry::start();
            let repo = format!("{}/bench", reg.host());
            let args = [
                "build-and-publish",
                "--dir",
                &p,
                "--repo",
                &repo,
                "--stages-storage",
                ":local",
                "--cache-dir",
                &c,
                "--tag-custom",
                "1",
                "--output",
                "json",
            ];
            let t = timed(&mut env.wharf(&args))?;
            check_pushed(&reg, "bench/big", "1")?;
            let report: serde_json::Value = serde_json::from_str(&t.stdout)?;
            let uploaded = report["images"][0]["stats"]["blobs_uploaded"].as_u64().unwrap_or(0);
            ensure!(
                uploaded as usize == LAYERS + 1,
                "wharf uploaded {uploaded} blobs, expected {} (layers and config)",
                LAYERS + 1
            );
            let rss = t.max_rss_kib as f64 / 1024.0;
            eprintln!(
                "    wharf ({}) {:.2} s, {rss:.0} MiB RSS",
                if warm_cache { "warm cache" } else { "cold" },
                t.secs
            );
            if warm_cache {
                warm.push(t.secs);
                warm_rss.push(rss);
            } else {
                cold.push(t.secs);
                cold_rss.push(rss);
                cold_cpu.push(t.cpu_secs);
            }
        }
    }
    free_disk(env, &image, &format!("wharf-stages/push{tag}"), &[&dir, &project, &cache, &staging])?;
    let (docker, skopeo_archive, skopeo_daemon, cold) =
        (Stats::of(docker), Stats::of(skopeo_archive), Stats::of(skopeo_daemon), Stats::of(cold));
    let pushed = Stats::of(pushed);
    Ok(Point {
        layer_bytes: layer,
        image_bytes,
        vs_docker_push: docker.median / cold.median,
        vs_skopeo_archive: skopeo_archive.median / pushed.median,
        vs_skopeo_daemon: skopeo_daemon.median / cold.median,
        docker_push: docker,
        skopeo_archive,
        skopeo_daemon,
        wharf_cold: cold,
        wharf_warm: Stats::of(warm),
        wharf_push_archive: pushed,
        wharf_push_archive_rss_mib: Stats::of(pushed_rss),
        wharf_push_archive_cpu_secs: Stats::of(pushed_cpu),
        wharf_cold_rss_mib: Stats::of(cold_rss),
        wharf_warm_rss_mib: Stats::of(warm_rss),
        skopeo_archive_rss_mib: Stats::of(skopeo_rss),
        wharf_cold_cpu_secs: Stats::of(cold_cpu),
        skopeo_archive_cpu_secs: Stats::of(skopeo_cpu),
    })
}

/// `docker build` of `FROM scratch` + one `COPY` per noise file, unless the engine has it.
fn prepare_image(env: &Env, dir: &Path, image: &str, layer: u64) -> Result<()> {
    if run(&mut env.docker(&["image", "inspect", image])).is_ok() && dir.join("image.tar").exists() {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!("  building {image}: {LAYERS} layers of {} MiB of noise", layer >> 20);
    let mut dockerfile = String::from("FROM scratch\n");
    for i in 0..LAYERS {
        write_noise(&dir.join(format!("layer{i}.bin")), layer, 1000 + i as u64 + layer)?;
        dockerfile.push_str(&format!("COPY layer{i}.bin /layer{i}.bin\n"));
    }
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    run(&mut env.docker(&["build", "-q", "-t", image, &dir.to_string_lossy()]))?;
    for i in 0..LAYERS {
        std::fs::remove_file(dir.join(format!("layer{i}.bin")))?;
    }
    Ok(())
}

/// Removes the image from the engine (vfs keeps a full tree per layer: 4.5 GiB for 8 layers
/// of 128 MiB), with wharf's stage tags on it, and the files made for it.
fn free_disk(env: &Env, image: &str, stages: &str, dirs: &[&Path]) -> Result<()> {
    let ids = run(&mut env.docker(&["images", "-q", "--filter", &format!("reference={stages}")]))?;
    for id in ids.split_whitespace().chain(std::iter::once(image)) {
        run(&mut env.docker(&["image", "rm", "-f", id]))?;
    }
    for d in dirs {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
    }
    Ok(())
}

/// The registry holds `repo:tag` with its 8 layers.
fn check_pushed(reg: &Registry, repo: &str, tag: &str) -> Result<()> {
    let out = run(std::process::Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/{repo}:{tag}", reg.host()),
    ]))?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let layers = v["layers"].as_array().map(|a| a.len()).unwrap_or(0);
    ensure!(layers == LAYERS, "{repo}:{tag} has {layers} layers, expected {LAYERS}");
    Ok(())
}

/// Throughput of gzip level 1, gzip level 0 (stored blocks, still gzip) and SHA-256 on one
/// core over `bytes` of noise: what converting an incompressible layer costs.
pub fn codec(bytes: u64) -> Result<Codec> {
    use flate2::{Compression, write::GzEncoder};
    use sha2::Digest as _;
    let mut data = vec![0u8; bytes as usize];
    Noise::new(7).fill(&mut data);
    let gzip = |level: u32| -> Result<(f64, usize)> {
        let t = Instant::now();
        let mut enc = GzEncoder::new(Vec::with_capacity(data.len() + (1 << 20)), Compression::new(level));
        enc.write_all(&data)?;
        let out = enc.finish()?;
        Ok((bytes as f64 / t.elapsed().as_secs_f64(), out.len()))
    };
    let (gzip_level1, out1) = gzip(1)?;
    let (gzip_level0_stored, _) = gzip(0)?;
    let t = Instant::now();
    let _ = sha2::Sha256::digest(&data);
    let sha256 = bytes as f64 / t.elapsed().as_secs_f64();
    Ok(Codec { bytes, gzip_level1, gzip_level0_stored, sha256, gzip_level1_ratio: out1 as f64 / bytes as f64 })
}
