#![no_main]
//! `cargo fuzz run config_yaml`: see `src/targets.rs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::targets::config_yaml(data));
