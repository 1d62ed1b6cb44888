//! The bodies of the fuzz targets (`tests/fuzz/`), one function per parser
//! that hostile bytes reach: a submitter's document or signature, an
//! imported evidence record, a TSA's or responder's answer.
//!
//! They live here, not in the fuzz crate, so that `cargo test` replays every
//! committed corpus file and every crash input through exactly the code the
//! fuzzers ran (`tests/it/fuzzing.rs`), on stable Rust, without a fuzzing
//! toolchain. Each must return without panicking on any input, and checks
//! the properties that must hold (re-encoding is byte-exact, ...).

use der::{Decode, Encode};
use time::macros::datetime;

use crate::alg::DigestAlgorithm;
use crate::ers::EvidenceRecord;
use crate::signature::{self, ber, revocation, ValidationData};
use crate::tsp::signed_data::SignedData;
use crate::tsp::{check_response, check_token, TsaRequest};
use crate::verify::{self, AlgorithmPolicy, NoData, Options};

/// A fuzz target: its name (the corpus folder) and its body. The list of
/// targets is `bewahr::fuzzing::TARGETS` (the `xml` target's body needs the
/// XML engine, which the core does not link).
pub type Target = (&'static str, fn(&[u8]));

/// RFC 4998 evidence records: decode, re-encode (DER input re-encodes to
/// itself), verify without data, under both profiles.
pub fn er_decode(data: &[u8]) {
    if let Ok(er) = EvidenceRecord::from_der_checked(data) {
        let again = er.to_der().expect("a decoded record encodes");
        if ber::to_der(data).ok().as_deref() == Some(data) {
            assert_eq!(again, data, "a DER record re-encodes to its bytes");
        }
    }
    let policy = AlgorithmPolicy::default();
    let mut opts = Options::new(&[], datetime!(2026-01-01 0:00 UTC), &policy);
    let _ = verify::verify_der(data, &mut NoData, &opts);
    opts.profile = verify::Profile::TrEsor;
    let _ = verify::verify_der(data, &mut NoData, &opts);
}

/// RFC 3161 tokens and TimeStampResp messages.
pub fn tsp_decode(data: &[u8]) {
    let _ = check_token(data, &[]);
    let req = TsaRequest {
        algorithm: DigestAlgorithm::Sha256,
        imprint: vec![0; 32],
        nonce: vec![1],
        policy: None,
    };
    let _ = check_response(&req, data, &[]);
    // augmenting never breaks what it is given
    if let Ok(t) = crate::tsp::augment::add_validation_data(data, &[vec![0x30, 0x00]], &[], &[]) {
        let _ = SignedData::parse(&t);
    }
}

/// CMS SignedData in BER or DER, the BER converter and walker.
pub fn cms_decode(data: &[u8]) {
    if let Ok(d) = ber::to_der(data) {
        assert_eq!(ber::to_der(&d).as_ref(), Ok(&d), "BER to DER is idempotent");
    }
    if let Ok(n) = ber::tlv_len(data) {
        assert!(n <= data.len());
        let _ = ber::children(&data[..n]);
    }
    if let Ok(sd) = SignedData::parse(data) {
        assert_eq!(sd.signer_infos.len(), sd.raw_signed_attrs.len());
        let _ = sd.required_version();
    }
    let _ = signature::cades::parse(data);
}

/// OCSP responses, CRLs and preserved validation data.
pub fn revocation_data(data: &[u8]) {
    let cert = some_certificate();
    let _ = revocation::check_ocsp(data, &cert, &cert);
    let _ = revocation::check_crl(data, &cert, &cert);
    if let Ok(v) = ValidationData::from_der(data) {
        assert_eq!(v.to_der(), data, "validation data re-encodes to its bytes");
    }
    let _ = x509_cert::Certificate::from_der(data);
}

/// PDF signature dictionaries and byte ranges.
pub fn pdf(data: &[u8]) {
    if let Ok(sigs) = signature::pdf::signatures(data) {
        for s in &sigs {
            let [a, b] = signature::pdf::signed_ranges(data, s);
            assert!(a.len() + b.len() <= data.len());
            let _ = signature::pdf::revisions_after(data, s);
        }
    }
    let _ = signature::pdf::revisions(data);
}

/// ZIP / ASiC containers and their manifests.
pub fn asic(data: &[u8]) {
    let _ = signature::asic::open(data);
}

/// The whole of signature validation on one document, no network.
pub fn signature_examine(data: &[u8]) {
    let ctx = signature::Context {
        anchors: &[],
        at: datetime!(2026-01-01 0:00 UTC),
        poe: None,
        max_age: time::Duration::days(1),
        // the core links no XML engine: XML signatures are fuzzed by the
        // `xml` target, through bewahr-xmlsig (`bewahr::fuzzing::xml`)
        xml: None,
    };
    let ex = signature::examine(data, None, &ctx);
    let _ = signature::queries(&ex);
    let _ = signature::conclude(ex, &ValidationData::default(), &ctx);
}

/// A fixed certificate for checking revocation data against (the
/// development TSA's, made from a fixed seed, so no key is generated).
fn some_certificate() -> x509_cert::Certificate {
    static CERT: std::sync::OnceLock<x509_cert::Certificate> = std::sync::OnceLock::new();
    CERT.get_or_init(|| {
        x509_cert::Certificate::from_der(include_bytes!(
            "../../../tests/vectors/fuzz/certificate.der"
        ))
        .expect("the fixed certificate parses")
    })
    .clone()
}
