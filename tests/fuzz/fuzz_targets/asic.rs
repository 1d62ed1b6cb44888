//! Fuzz target `asic`: the body is `bewahr::fuzzing::asic`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/asic/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::asic(data));
