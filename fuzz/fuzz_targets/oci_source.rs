#![no_main]
//! `cargo fuzz run oci_source`: see `src/targets.rs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_fuzz::targets::oci_source(data));
