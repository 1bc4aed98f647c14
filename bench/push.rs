//! Case 2, push throughput: images of 8 layers of incompressible data, pushed to a fresh
//! registry each time (so nothing can be mounted or skipped).
//!
//! From a `docker save` archive (written by [`crate::archive`], 256 MiB to 4 GiB), the
//! archive tools, each reading the same file:
//! - `wharf push ARCHIVE` (gzip, level 0 for layers that do not compress; upload);
//! - `crane push ARCHIVE` (go-containerregistry; gzip at its default level);
//! - `regctl image import` (regclient);
//! - `skopeo copy docker-archive:` (containers/image; gzip).
//!
//! From the engine's image store, one image (8 × `COPY` of a noise file, built once):
//! - `docker push` (the engine tars and gzips each layer);
//! - `skopeo copy docker-daemon:` (skopeo saves, then gzips);
//! - wharf, cold: `build-and-publish` of a project whose Dockerfile is `FROM` that image, its
//!   stage removed from the engine and wharf's cache emptied first, once with each builder
//!   (BuildKit, the default, and `--builder legacy`): the build, then the engine's export
//!   streamed into the converter, each blob uploaded as soon as it is converted;
//! - wharf, warm: the same with the converted image still in wharf's cache: upload only.
//!
//! Peak RSS of every run comes from `/usr/bin/time`. The registries keep their storage in
//! `/dev/shm` when it has room (the pushed gigabytes stay off the shared disk, and no disk
//! writeback lands in the middle of a run); every tool pushes to the same kind of registry.

use anyhow::{Context as _, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::registry::{Registry, RegistryConfig};
use crate::support::{Env, Noise, Stats, Timed, mib, run, timed, write_noise};

pub const LAYERS: usize = 8;

/// Runs of one tool: wall time, peak RSS and CPU time (user + system).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Measured {
    pub secs: Stats,
    pub rss_mib: Stats,
    pub cpu_secs: Stats,
}

impl Measured {
    fn of(runs: &[Timed]) -> Measured {
        Measured {
            secs: Stats::of(runs.iter().map(|t| t.secs).collect()),
            rss_mib: Stats::of(runs.iter().map(|t| t.max_rss_kib as f64 / 1024.0).collect()),
            cpu_secs: Stats::of(runs.iter().map(|t| t.cpu_secs).collect()),
        }
    }
}

/// The archive tools on one archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivePoint {
    pub layer_bytes: u64,
    pub image_bytes: u64,
    pub wharf_push: Measured,
    pub crane_push: Measured,
    pub regctl_import: Measured,
    pub skopeo_archive: Measured,
    /// Ratios of median times, reference / wharf push (> 1: wharf is faster).
    pub vs_crane: f64,
    pub vs_regctl: f64,
    pub vs_skopeo: f64,
}

/// The engine tools on one image in the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnginePoint {
    pub layer_bytes: u64,
    pub image_bytes: u64,
    pub docker_push: Measured,
    pub skopeo_daemon: Measured,
    /// Cold `build-and-publish` with BuildKit (the default builder).
    pub wharf_cold_buildkit: Measured,
    /// Cold `build-and-publish --builder legacy`.
    pub wharf_cold_legacy: Measured,
    /// Upload only (the converted image in wharf's cache).
    pub wharf_warm: Measured,
    /// docker push / cold build-and-publish, each builder.
    pub vs_docker_push_legacy: f64,
    pub vs_docker_push_buildkit: f64,
    /// skopeo copy docker-daemon: / cold build-and-publish (BuildKit).
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

/// Where the third-party tools are: `WHARF_TOOLS`, else `../shared/tools` beside the
/// repository (as for the e2e tests).
pub fn tool(name: &str) -> Result<PathBuf> {
    let dir = std::env::var_os("WHARF_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools"));
    let path = dir.join(name);
    ensure!(
        path.is_file(),
        "{} not found: the push case compares with the prebuilt tools of ../shared/tools (or WHARF_TOOLS=DIR)",
        path.display()
    );
    Ok(path)
}

/// A fresh registry, its storage in `/dev/shm` when that has room for `bytes` twice over.
fn registry_for(bytes: u64) -> Registry {
    let shm = Path::new("/dev/shm");
    let room = rustix::fs::statvfs(shm).map(|s| s.f_bavail * s.f_frsize).unwrap_or(0);
    let parent = (room > bytes.saturating_mul(2)).then(|| shm.to_path_buf());
    Registry::start_with(RegistryConfig { parent, ..Default::default() })
}

/// The archive tools over archives of `LAYERS` layers of each size; every archive is
/// written for the case and removed after it.
pub fn archives(env: &Env, layer_sizes: &[u64]) -> Result<Vec<ArchivePoint>> {
    let (crane, regctl) = (tool("crane")?, tool("regctl")?);
    let regctl_home = env.fresh_dir("regctl-home")?;
    let mut out = Vec::new();
    for &layer in layer_sizes {
        let image_bytes = layer * LAYERS as u64;
        let dir = env.fresh_dir(&format!("archive-{}m", layer >> 20))?;
        let archive = dir.join("image.tar");
        eprintln!("  writing a {} MiB archive ({LAYERS} layers)", image_bytes >> 20);
        crate::archive::write(&archive, LAYERS, layer)?;
        let a = archive.to_string_lossy().into_owned();
        let staging = dir.join("staging");
        std::fs::create_dir_all(&staging)?;
        let s = staging.to_string_lossy().into_owned();
        let (mut w, mut c, mut r, mut k) = (vec![], vec![], vec![], vec![]);
        for n in 0..env.runs {
            eprintln!("  push of a {} MiB archive, run {}", image_bytes >> 20, n + 1);
            w.push(one_push(image_bytes, "wharf push", "bench/wharf", |host| {
                env.wharf(&[
                    "push",
                    &a,
                    &format!("{host}/bench/wharf:1"),
                    "--work-dir",
                    &s,
                    "--no-default-annotations",
                    "--output",
                    "json",
                ])
            })?);
            c.push(one_push(image_bytes, "crane push", "bench/crane", |host| {
                let mut cmd = Command::new(&crane);
                cmd.args(["push", "--insecure", &a, &format!("{host}/bench/crane:1")]);
                cmd
            })?);
            r.push(one_push(image_bytes, "regctl image import", "bench/regctl", |host| {
                let mut cmd = Command::new(&regctl);
                cmd.env("HOME", &regctl_home).args([
                    "--host",
                    &format!("reg={host},tls=disabled"),
                    "image",
                    "import",
                    &format!("{host}/bench/regctl:1"),
                    &a,
                ]);
                cmd
            })?);
            k.push(one_push(image_bytes, "skopeo copy docker-archive:", "bench/skopeo", |host| {
                let mut cmd = Command::new("skopeo");
                cmd.args([
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    &format!("docker-archive:{a}"),
                    &format!("docker://{host}/bench/skopeo:1"),
                ]);
                cmd
            })?);
        }
        std::fs::remove_dir_all(&dir)?;
        let (wharf_push, crane_push, regctl_import, skopeo_archive) =
            (Measured::of(&w), Measured::of(&c), Measured::of(&r), Measured::of(&k));
        let vs = |m: &Measured| m.secs.median / wharf_push.secs.median;
        out.push(ArchivePoint {
            layer_bytes: layer,
            image_bytes,
            vs_crane: vs(&crane_push),
            vs_regctl: vs(&regctl_import),
            vs_skopeo: vs(&skopeo_archive),
            wharf_push,
            crane_push,
            regctl_import,
            skopeo_archive,
        });
    }
    Ok(out)
}

/// One timed push to a fresh registry (`cmd` gets its host), checked afterwards.
fn one_push(image_bytes: u64, what: &str, repo: &str, cmd: impl FnOnce(&str) -> Command) -> Result<Timed> {
    let reg = registry_for(image_bytes);
    let t = timed(&mut cmd(&reg.host())).with_context(|| what.to_string())?;
    check_pushed(&reg, repo, "1")?;
    eprintln!("    {what} {:.2} s, {:.0} MiB RSS, {:.2} CPU-s", t.secs, t.max_rss_kib as f64 / 1024.0, t.cpu_secs);
    Ok(t)
}

/// The engine tools over an image of `LAYERS` layers of each size, built in the engine.
pub fn engine(env: &Env, layer_sizes: &[u64]) -> Result<Vec<EnginePoint>> {
    layer_sizes
        .iter()
        .map(|&l| engine_point(env, l).with_context(|| format!("push of {LAYERS} × {} MiB from the engine", mib(l))))
        .collect()
}

fn engine_point(env: &Env, layer: u64) -> Result<EnginePoint> {
    let tag = format!("{}m", layer >> 20);
    let image = format!("wharf-bench/push-{tag}:1");
    let dir = env.work.join(format!("push-{tag}"));
    prepare_image(env, &dir, &image, layer)?;
    let project = env.fresh_dir(&format!("push-{tag}-wharf"))?;
    std::fs::write(project.join("wharf.yaml"), format!("project: push{tag}\nconfigVersion: 1\n---\nimage: big\n"))?;
    std::fs::write(project.join("Dockerfile"), format!("FROM {image}\n"))?;
    let cache = env.work.join(format!("push-{tag}-cache"));
    let (p, c) = (project.to_string_lossy().into_owned(), cache.to_string_lossy().into_owned());
    let stages = format!("wharf-stages/push{tag}");
    let image_bytes = layer * LAYERS as u64;
    let (mut docker, mut daemon, mut buildkit, mut legacy, mut warm) = (vec![], vec![], vec![], vec![], vec![]);
    for r in 0..env.runs {
        eprintln!("  push {} MiB from the engine, run {}", image_bytes >> 20, r + 1);
        {
            let reg = registry_for(image_bytes);
            let dest = format!("{}/bench/docker:1", reg.host());
            run(&mut env.docker(&["tag", &image, &dest]))?;
            let t = timed(&mut env.docker(&["push", "-q", &dest]))?;
            run(&mut env.docker(&["rmi", &dest]))?;
            check_pushed(&reg, "bench/docker", "1")?;
            eprintln!("    docker push {:.2} s", t.secs);
            docker.push(t);
        }
        daemon.push(one_push(image_bytes, "skopeo copy docker-daemon:", "bench/skopeo", |host| {
            let mut cmd = Command::new("skopeo");
            cmd.args([
                "copy",
                "-q",
                "--src-daemon-host",
                &env.docker_host,
                "--dest-tls-verify=false",
                &format!("docker-daemon:{image}"),
                &format!("docker://{host}/bench/skopeo:1"),
            ]);
            cmd
        })?);
        for builder in ["buildkit", "legacy"] {
            // Cold: the stage is built again (its tag removed from the engine) and exported
            // into an empty cache.
            remove_stages(env, &stages)?;
            if cache.exists() {
                std::fs::remove_dir_all(&cache)?;
            }
            let t = publish(env, &p, &c, builder, image_bytes)?;
            eprintln!(
                "    wharf build-and-publish (cold, {builder}) {:.2} s, {:.0} MiB RSS",
                t.secs,
                t.max_rss_kib as f64 / 1024.0
            );
            if builder == "buildkit" { buildkit.push(t) } else { legacy.push(t) }
        }
        let t = publish(env, &p, &c, "legacy", image_bytes)?;
        eprintln!(
            "    wharf build-and-publish (warm cache) {:.2} s, {:.0} MiB RSS",
            t.secs,
            t.max_rss_kib as f64 / 1024.0
        );
        warm.push(t);
    }
    remove_stages(env, &stages)?;
    free_disk(env, &image, &[&dir, &project, &cache])?;
    let (docker_push, skopeo_daemon) = (Measured::of(&docker), Measured::of(&daemon));
    let (wharf_cold_buildkit, wharf_cold_legacy) = (Measured::of(&buildkit), Measured::of(&legacy));
    Ok(EnginePoint {
        layer_bytes: layer,
        image_bytes,
        vs_docker_push_legacy: docker_push.secs.median / wharf_cold_legacy.secs.median,
        vs_docker_push_buildkit: docker_push.secs.median / wharf_cold_buildkit.secs.median,
        vs_skopeo_daemon: skopeo_daemon.secs.median / wharf_cold_buildkit.secs.median,
        docker_push,
        skopeo_daemon,
        wharf_cold_buildkit,
        wharf_cold_legacy,
        wharf_warm: Measured::of(&warm),
    })
}

/// `build-and-publish` of the project to a fresh registry, checked: every layer and the
/// config uploaded once.
fn publish(env: &Env, project: &str, cache: &str, builder: &str, image_bytes: u64) -> Result<Timed> {
    let reg = registry_for(image_bytes);
    let repo = format!("{}/bench", reg.host());
    let args = [
        "build-and-publish",
        "--dir",
        project,
        "--repo",
        &repo,
        "--stages-storage",
        ":local",
        "--cache-dir",
        cache,
        "--builder",
        builder,
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
    Ok(t)
}

/// Removes wharf's stage tags of the project from the engine (the image itself stays).
fn remove_stages(env: &Env, stages: &str) -> Result<()> {
    let tags = run(&mut env.docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "--filter",
        &format!("reference={stages}"),
    ]))?;
    for t in tags.split_whitespace() {
        run(&mut env.docker(&["rmi", t]))?;
    }
    Ok(())
}

/// `docker build` of `FROM scratch` + one `COPY` per noise file, unless the engine has it.
fn prepare_image(env: &Env, dir: &Path, image: &str, layer: u64) -> Result<()> {
    if run(&mut env.docker(&["image", "inspect", image])).is_ok() {
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
/// of 128 MiB) and the files made for it.
fn free_disk(env: &Env, image: &str, dirs: &[&Path]) -> Result<()> {
    run(&mut env.docker(&["image", "rm", "-f", image]))?;
    for d in dirs {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
    }
    Ok(())
}

/// The registry holds `repo:tag` with its 8 layers, each gzip (what every tool here is
/// asked to push, and what a client pulling it expects).
fn check_pushed(reg: &Registry, repo: &str, tag: &str) -> Result<()> {
    let out = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/{repo}:{tag}", reg.host()),
    ]))?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let layers = v["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
    ensure!(layers.len() == LAYERS, "{repo}:{tag} has {} layers, expected {LAYERS}", layers.len());
    for l in layers {
        let media_type = l["mediaType"].as_str().unwrap_or_default();
        if !media_type.ends_with("gzip") {
            bail!("{repo}:{tag} has a layer of type {media_type:?}, not gzip");
        }
    }
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
