#![no_main]
//! `cargo fuzz run reference`: see `src/targets.rs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::targets::reference(data));
