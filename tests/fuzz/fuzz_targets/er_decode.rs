//! Fuzz target `er_decode`: the body is `bewahr::fuzzing::er_decode`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/er_decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::er_decode(data));
