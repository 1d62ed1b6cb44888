//! Fuzz target `revocation`: the body is `bewahr::fuzzing::revocation_data`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/revocation/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::revocation_data(data));
