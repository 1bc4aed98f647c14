//! The fuzz targets' bodies, shared by the libFuzzer binaries (`fuzz_targets/`) and by the
//! stable corpus replay in the main crate (`tests/fuzz_corpus.rs` includes `targets.rs`).
pub mod targets;
