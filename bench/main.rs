//! wharf's benchmark suite. Run it through `bench/run [--quick]`, which installs and starts
//! what it needs (engine, registry binary, skopeo) and builds this binary and wharf.
//!
//! Cases (README, "Benchmarks"): 1 no-op rebuild, 2 push throughput, 3 context digest,
//! 4 cleanup planning, each at several sizes, and 5 serving under load (wharf serve and
//! distribution 2.8, bounded in time); results go to `latest.json` and PNG plots in
//! the output directory. `--quick` runs small sizes and checks what each case measures
//! (images published, tags planned), never times.

mod archive;
mod cleanup;
mod digest;
mod noop;
mod plot;
mod push;
#[path = "../e2e/support/registry.rs"]
#[allow(dead_code)]
mod registry;
mod report;
mod serve;
mod support;

use anyhow::{Context as _, Result};
use clap::Parser;
use std::path::PathBuf;

use support::{Env, Machine};

#[derive(Parser, Debug)]
#[command(name = "bench", about = "wharf's benchmarks (run through bench/run)")]
struct Args {
    /// Small sizes and two runs per case: checks that every case works, for CI.
    #[arg(long)]
    quick: bool,
    /// The wharf binary to measure.
    #[arg(long)]
    wharf: PathBuf,
    /// Engine endpoint (scripts/lib.sh's dockerd).
    #[arg(long, env = "DOCKER_HOST")]
    docker_host: String,
    /// Cases to run (default: all): noop, push, digest, cleanup, serve.
    #[arg(long = "case", value_name = "NAME")]
    cases: Vec<String>,
    /// Only these sizes of the cases run (images, layer MiB, files, tags), e.g. to profile one.
    #[arg(long = "size", value_name = "N")]
    only_sizes: Vec<u64>,
    /// Runs per measurement (default: 5; 3 for push; 2 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Where latest.json and the plots go (default: bench/results, or WORK/results with --quick).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scratch space (data, projects, caches).
    #[arg(long, default_value = "/tmp/wharf-bench")]
    work: PathBuf,
    /// Build profile of the binaries, for the record.
    #[arg(long, default_value = "release")]
    profile: String,
}

/// Sizes of one mode.
struct Sizes {
    noop_images: Vec<usize>,
    /// Layer sizes of the archives the archive tools push (8 layers each).
    archive_layers: Vec<u64>,
    /// Layer sizes of the images pushed from the engine.
    push_layers: Vec<u64>,
    digest_files: Vec<usize>,
    digest_mean: u64,
    cleanup_tags: Vec<usize>,
    codec_bytes: u64,
    serve: serve::Load,
}

fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            noop_images: vec![3, 6],
            archive_layers: vec![1 << 20, 2 << 20],
            push_layers: vec![2 << 20],
            digest_files: vec![200, 1000],
            digest_mean: 4096,
            cleanup_tags: vec![30, 90],
            codec_bytes: 8 << 20,
            serve: serve::Load { downloads: 100, layer_bytes: 4 << 20, idle: 100, secs: 2 },
        }
    } else {
        Sizes {
            noop_images: vec![10, 50, 200, 1000],
            // 256 MiB to 4 GiB.
            archive_layers: vec![32 << 20, 64 << 20, 128 << 20, 256 << 20, 512 << 20],
            push_layers: vec![128 << 20],
            digest_files: vec![1000, 10_000, 50_000],
            // 1 GiB over 50,000 files.
            digest_mean: (1u64 << 30) / 50_000,
            cleanup_tags: vec![1000, 3000, 10_000, 30_000, 100_000],
            codec_bytes: 256 << 20,
            serve: serve::Load { downloads: 2000, layer_bytes: 50 << 20, idle: 1100, secs: 15 },
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let want = |c: &str| args.cases.is_empty() || args.cases.iter().any(|x| x == c);
    std::fs::create_dir_all(&args.work)?;
    std::fs::create_dir_all(args.work.join("docker-config"))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| if args.quick { args.work.join("results") } else { PathBuf::from("bench/results") });
    std::fs::create_dir_all(&out)?;
    let runs = args.runs.unwrap_or(if args.quick { 2 } else { 5 });
    let env = Env {
        wharf: std::fs::canonicalize(&args.wharf).context("--wharf")?,
        docker_host: args.docker_host.clone(),
        work: args.work.clone(),
        runs,
    };
    let mut s = sizes(args.quick);
    if !args.only_sizes.is_empty() {
        let keep = |n: u64| args.only_sizes.contains(&n);
        s.noop_images.retain(|&n| keep(n as u64));
        s.archive_layers.retain(|&l| keep(l >> 20));
        s.push_layers.retain(|&l| keep(l >> 20));
        s.digest_files.retain(|&n| keep(n as u64));
        s.cleanup_tags.retain(|&n| keep(n as u64));
    }

    let load_before = support::load_average();
    eprintln!("==> machine: load {load_before:.2}; measuring the SHA-256 limit (openssl speed)");
    let sha256_per_core = support::openssl_sha256(if args.quick { 1 } else { 3 })?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut results = report::Results::default();

    let mut load = |case: &str, before: f64| {
        results.load.insert(case.to_string(), (before, support::load_average()));
    };
    let mut measured = report::Results::default();
    if want("digest") {
        eprintln!("==> case 3: context digest");
        let before = support::load_average();
        measured.digest = Some(digest::run(&env, &s.digest_files, s.digest_mean, sha256_per_core * cores as f64)?);
        load("digest", before);
    }
    if want("cleanup") {
        eprintln!("==> case 4: cleanup planning");
        let before = support::load_average();
        measured.cleanup = Some(cleanup::run(&env, &s.cleanup_tags)?);
        load("cleanup", before);
    }
    if want("noop") {
        eprintln!("==> case 1: no-op rebuild");
        let before = support::load_average();
        measured.noop = Some(noop::run(&env, &s.noop_images)?);
        load("noop", before);
    }
    if want("push") {
        eprintln!("==> case 2: push throughput");
        let before = support::load_average();
        let push_env = Env { runs: args.runs.unwrap_or(if args.quick { 2 } else { 3 }), ..env.clone() };
        measured.codec = Some(push::codec(s.codec_bytes)?);
        measured.archive_push = Some(push::archives(&push_env, &s.archive_layers)?);
        measured.engine_push = Some(push::engine(&push_env, &s.push_layers)?);
        load("push", before);
    }
    if want("serve") {
        eprintln!("==> case 5: serving under load");
        let before = support::load_average();
        let phases = serve::run(&env, s.serve)?;
        if args.quick {
            serve::check(&phases)?;
        }
        measured.serve = Some(phases);
        load("serve", before);
    }
    measured.load = std::mem::take(&mut results.load);
    // A run of some cases (`--case`, `--size`) updates those in latest.json and keeps the rest.
    let previous = std::fs::read_to_string(out.join("latest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<report::Results>(&t).ok());
    let partial = !args.cases.is_empty() || !args.only_sizes.is_empty();
    let mut results = match previous {
        Some(previous) if partial => measured.merged_into(previous),
        _ => measured,
    };

    results.machine = Some(Machine {
        cpu: support::cpu_model(),
        cores,
        memory_gib: support::memory_gib(),
        kernel: support::version_of(std::process::Command::new("uname").arg("-r")),
        load_before,
        load_after: support::load_average(),
        sha256_per_core,
        sha256_limit: sha256_per_core * cores as f64,
        profile: args.profile.clone(),
        quick: args.quick,
        docker_version: support::version_of(&mut env.docker(&[
            "version",
            "--format",
            "engine {{.Server.Version}}, CLI {{.Client.Version}}",
        ])),
        skopeo_version: support::version_of(std::process::Command::new("skopeo").arg("--version")),
        registry_version: support::version_of(std::process::Command::new(registry::REGISTRY_BIN).arg("--version")),
        wharf_binary_bytes: std::fs::metadata(&env.wharf).map(|m| m.len()).unwrap_or(0),
    });
    results.goals = report::goals(&results);
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(out.join("latest.json"), json)?;
    plot::init_font()?;
    report::plots(&results, &out)?;
    print!("{}", report::summary(&results));
    eprintln!("==> results in {}", out.display());
    if args.quick {
        // Every case checked what it measured (or the run stopped with an error above).
        let cases = [
            results.noop.is_some(),
            results.archive_push.is_some() && results.engine_push.is_some(),
            results.digest.is_some(),
            results.cleanup.is_some(),
            results.serve.is_some(),
        ];
        println!("bench: {} passed, 0 failed", cases.iter().filter(|c| **c).count());
    }
    Ok(())
}
