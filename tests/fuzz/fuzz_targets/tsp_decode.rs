//! Fuzz target `tsp_decode`: the body is `bewahr::fuzzing::tsp_decode`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/tsp_decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::tsp_decode(data));
