#![no_main]
//! `cargo fuzz run www_authenticate`: see `src/targets.rs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::targets::www_authenticate(data));
