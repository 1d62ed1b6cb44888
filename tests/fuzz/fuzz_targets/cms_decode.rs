//! Fuzz target `cms_decode`: the body is `bewahr::fuzzing::cms_decode`, which
//! `cargo test` also runs over every file of `tests/fuzz/corpus/cms_decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bewahr::fuzzing::cms_decode(data));
