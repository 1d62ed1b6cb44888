//! Time-stamp tokens and TSA responses from untrusted bytes.
#![no_main]

use bewahr::alg::DigestAlgorithm;
use bewahr::tsp::{check_response, check_token, TsaRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_token(data, &[]);
    let req = TsaRequest { algorithm: DigestAlgorithm::Sha256, imprint: vec![0; 32], nonce: vec![1], policy: None };
    let _ = check_response(&req, data, &[]);
});
