//! The fuzz targets on the stable toolchain, for CI: every committed input
//! (`fuzz/corpus/<target>/`, and `fuzz/regressions/<target>/` for inputs that once crashed)
//! is replayed, then a short deterministic mutation run starts from them. Seconds, not
//! minutes; the real fuzzing is `scripts/fuzz` (cargo-fuzz, libFuzzer).
//!
//! `WHARF_FUZZ_SECONDS=N` makes the mutation run last N seconds per target (a stable-only
//! fuzzer when libFuzzer is not available); `WHARF_FUZZ_SEED` changes where it starts.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        out.extend(files.into_iter().filter(|p| p.is_file()).map(|p| {
            let data = std::fs::read(&p).expect("read a corpus file");
            (p, data)
        }));
    }
    out
}

/// Runs `f` on `data`; on a panic, saves the input and fails naming it.
fn check(target: &str, f: fn(&[u8]), data: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| f(data))).is_err() {
        let dir = std::env::temp_dir().join("wharf-fuzz-crashes").join(target);
        std::fs::create_dir_all(&dir).ok();
        let path = dir.join(format!("crash-{:016x}", fxhash(data)));
        std::fs::write(&path, data).ok();
        panic!(
            "{target}: input from {origin} panics; saved to {} (copy it to fuzz/regressions/{target}/ once fixed)",
            path.display()
        );
    }
}

fn fxhash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn every_corpus_input_replays_without_a_panic() {
    for (target, f) in targets::ALL {
        let inputs = inputs(target);
        assert!(!inputs.is_empty(), "{target} has no corpus in fuzz/corpus/{target}");
        for (path, data) in inputs {
            check(target, f, &data, &path.display().to_string());
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens worth inserting: structure the parsers look for.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\n",
    b"---\n",
    b"image: ",
    b"sha256:",
    b"@",
    b"/",
    b"..",
    b"\\",
    b"=",
    b"realm=",
    b"\0",
    b"\xff",
    b"99999999999999999999",
    b"-1",
    b"\"size\":",
    b"\"digest\":",
    b"\"mediaType\":",
    b"\"manifests\":",
];

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(d.len() + 1);
        match rng.below(7) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            2 => {
                let end = (at + rng.below(64)).min(d.len());
                d.drain(at..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                d.splice(at..at, t.iter().copied());
            }
            4 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + rng.below(256)).min(other.len());
                d.splice(at..at, other[start..end].iter().copied());
            }
            5 if !d.is_empty() => {
                let start = rng.below(d.len());
                let end = (start + rng.below(32)).min(d.len());
                let copy = d[start..end].to_vec();
                d.splice(at..at, copy);
            }
            _ => d.truncate(at),
        }
    }
    d
}

#[test]
fn a_short_mutation_run_from_the_corpus_finds_no_panic() {
    let seconds: f64 = std::env::var("WHARF_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.5);
    let seed: u64 = std::env::var("WHARF_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    for (target, f) in targets::ALL {
        let corpus: Vec<Vec<u8>> = inputs(target).into_iter().map(|(_, d)| d).collect();
        let mut rng = Rng(seed ^ fxhash(target.as_bytes()) | 1);
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let mut runs = 0u64;
        while Instant::now() < deadline {
            let (a, b) = (&corpus[rng.below(corpus.len())], &corpus[rng.below(corpus.len())]);
            let input = mutate(&mut rng, a, b);
            check(target, f, &input, &format!("mutation run {runs} (seed {seed})"));
            runs += 1;
        }
        eprintln!("{target}: {runs} mutated inputs in {seconds}s");
    }
}
