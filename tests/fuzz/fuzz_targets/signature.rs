//! Fuzz target `signature`: the body is `bewahr::fuzzing::signature_examine`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/signature/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::signature_examine(data));
