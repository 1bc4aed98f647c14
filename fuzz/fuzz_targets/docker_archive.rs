#![no_main]
//! `cargo fuzz run docker_archive`: see `src/targets.rs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::targets::docker_archive(data));
