//! Case 3, context digest: the time wharf takes to turn a build context into the digest a
//! stage digest is made of (`wharf::build::context`: walk with `.dockerignore`, hash every
//! file on all cores, combine), warm page cache, against the machine's hashing limit
//! (`openssl speed -evp sha256` on one core × cores).
//!
//! The data: files of incompressible bytes, sizes spread around a mean (1 GiB / 50,000 files
//! in the full run), 500 to a directory. The smaller contexts are nested inside the larger
//! ones (`s50000/s10000/s1000`), so the data is written once.

use anyhow::{Context as _, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wharf::build::context::{Context, EntryKind};

use crate::support::{Env, Noise, Stats, own_cpu_secs, write_noise};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub files: usize,
    pub bytes: u64,
    pub secs: Stats,
    /// bytes / median seconds.
    pub bytes_per_sec: f64,
    /// Of the machine's hashing limit.
    pub fraction_of_limit: f64,
    /// Walking the tree alone (no hashing), median seconds.
    pub scan_secs: f64,
    /// CPU time (all threads, user + system) of one digest: what the work costs whatever the
    /// machine's load.
    pub cpu_secs: Stats,
    /// bytes / median CPU seconds: compare with the per-core limit.
    pub bytes_per_cpu_sec: f64,
}

/// `counts` ascending; `mean` bytes per file.
pub fn run(env: &Env, counts: &[usize], mean: u64, limit: f64) -> Result<Vec<Point>> {
    let root = env.work.join("digest-data");
    let dirs = prepare(&root, counts, mean)?;
    let mut out = Vec::new();
    for (&n, dir) in counts.iter().zip(&dirs) {
        let (files, bytes) = measure_size(dir)?;
        ensure!(files == n, "{}: {files} files, {n} expected", dir.display());
        // Warm the page cache, and check that the digest is stable.
        let first = digest(dir)?;
        let mut secs = Vec::new();
        let mut scans = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..env.runs {
            let (t, c) = (Instant::now(), own_cpu_secs());
            let d = digest(dir)?;
            secs.push(t.elapsed().as_secs_f64());
            cpu.push(own_cpu_secs() - c);
            ensure!(d == first, "the digest of {} changed between runs", dir.display());
            let t = Instant::now();
            Context::scan(dir, None)?;
            scans.push(t.elapsed().as_secs_f64());
        }
        let secs = Stats::of(secs);
        let rate = bytes as f64 / secs.median;
        eprintln!(
            "  context digest, {n} files, {:.0} MiB: {} → {:.2} GB/s, {:.0}% of the limit",
            bytes as f64 / 1048576.0,
            secs.show("s"),
            rate / 1e9,
            100.0 * rate / limit
        );
        let cpu = Stats::of(cpu);
        out.push(Point {
            files: n,
            bytes,
            bytes_per_sec: rate,
            fraction_of_limit: rate / limit,
            scan_secs: Stats::of(scans).median,
            bytes_per_cpu_sec: bytes as f64 / cpu.median,
            cpu_secs: cpu,
            secs,
        });
    }
    Ok(out)
}

/// The context digest exactly as `build-and-publish` computes it for `COPY . …`.
fn digest(dir: &Path) -> Result<String> {
    let ctx = Context::scan(dir, None)?;
    let entries: Vec<_> = ctx.entries.iter().collect();
    Ok(Context::digest(&entries)?)
}

fn measure_size(dir: &Path) -> Result<(usize, u64)> {
    let ctx = Context::scan(dir, None)?;
    let mut files = 0;
    let mut bytes = 0;
    for e in &ctx.entries {
        if let EntryKind::File { size, .. } = e.kind {
            files += 1;
            bytes += size;
        }
    }
    Ok((files, bytes))
}

/// Writes the nested contexts unless a previous run left them complete; returns their roots,
/// smallest first.
fn prepare(root: &Path, counts: &[usize], mean: u64) -> Result<Vec<PathBuf>> {
    let marker =
        root.join(format!("complete-{}-{mean}", counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("-")));
    // Nested: the largest context holds the next one as a subdirectory, and so on.
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut dir = root.to_path_buf();
    for &n in counts.iter().rev() {
        dir = dir.join(format!("s{n}"));
        dirs.push(dir.clone());
    }
    dirs.reverse();
    if marker.exists() {
        return Ok(dirs);
    }
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    std::fs::create_dir_all(&dirs[0])?;
    eprintln!("  writing {} files of ~{mean} bytes under {}", counts.last().copied().unwrap_or(0), root.display());
    let mut noise = Noise::new(3);
    let mut have = 0;
    for (k, &n) in counts.iter().enumerate() {
        let mut i = 0;
        while have < n {
            let sub = dirs[k].join(format!("d{:03}", i / 500));
            std::fs::create_dir_all(&sub)?;
            let size = mean / 2 + noise.next_below(mean);
            write_noise(&sub.join(format!("f{i:05}.bin")), size, (k * 1_000_000 + i) as u64)
                .context("writing context data")?;
            i += 1;
            have += 1;
        }
    }
    std::fs::write(marker, b"")?;
    Ok(dirs)
}
