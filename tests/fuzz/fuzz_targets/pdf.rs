//! Fuzz target `pdf`: the body is `bewahr::fuzzing::pdf`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/pdf/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::pdf(data));
