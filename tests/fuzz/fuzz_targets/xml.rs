//! Fuzz target `xml`: the body is `bewahr::fuzzing::xml`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/xml/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::xml(data));
