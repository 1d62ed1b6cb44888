//! The built-in development TSA: its tokens pass bewahr's own checks and
//! `openssl ts -verify`; evidence records over its time-stamps verify.

use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::tsp::devtsa::DevTsa;
use bewahr::tsp::{check_response, ResponseError};
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};
use der::EncodePem;
use time::OffsetDateTime;

use crate::support::*;

fn tsa() -> DevTsa {
    DevTsa::generate(OffsetDateTime::now_utc()).unwrap().0
}

#[test]
fn evidence_records_over_a_dev_tsa_time_stamp_verify() {
    let tsa = tsa();
    let docs: Vec<Vec<u8>> = (0..37)
        .map(|i| format!("Bescheid {i}").into_bytes())
        .collect();
    let alg = DigestAlgorithm::Sha256;
    let tree =
        HashTree::from_hashes(alg, docs.iter().map(|d| alg.digest(d)).collect::<Vec<_>>()).unwrap();
    let now = OffsetDateTime::now_utc();
    let token = tsa.timestamp(alg, tree.root(), None, now).unwrap();
    let policy = AlgorithmPolicy::default();
    let root = &tsa.certificates()[1..];
    for (i, d) in docs.iter().enumerate() {
        let er = record_for_leaf(&tree, i, &token).unwrap();
        let opts = Options::new(root, now, &policy);
        let r = verify::verify_der(&er, &mut InMemory(vec![d.clone()]), &opts);
        assert_eq!(
            r.indication,
            Indication::Passed,
            "leaf {i}: {}",
            r.to_text()
        );
        // another document fails
        let r = verify::verify_der(&er, &mut InMemory(vec![b"forged".to_vec()]), &opts);
        assert_eq!(r.indication, Indication::Failed);
    }
}

#[test]
fn a_single_object_record_verifies() {
    let tsa = tsa();
    let alg = DigestAlgorithm::Sha512;
    let tree = HashTree::from_hashes(alg, [alg.digest(b"only one")]).unwrap();
    let now = OffsetDateTime::now_utc();
    let token = tsa.timestamp(alg, tree.root(), None, now).unwrap();
    let er = record_for_leaf(&tree, 0, &token).unwrap();
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&tsa.certificates()[1..], now, &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![b"only one".to_vec()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
}

#[test]
fn responses_are_checked_against_their_request() {
    let tsa = tsa();
    let now = OffsetDateTime::now_utc();
    let a = bewahr::tsp::client::new_request(DigestAlgorithm::Sha256, vec![1; 32], None);
    let b = bewahr::tsp::client::new_request(DigestAlgorithm::Sha256, vec![1; 32], None);
    let c = bewahr::tsp::client::new_request(DigestAlgorithm::Sha256, vec![2; 32], None);
    let resp_a = tsa.respond(&a.to_der(), now);
    assert!(check_response(&a, &resp_a, &tsa.certificates()[1..]).is_ok());
    assert!(matches!(
        check_response(&b, &resp_a, &[]),
        Err(ResponseError::NonceMismatch { .. })
    ));
    let mut c_same_nonce = c.clone();
    c_same_nonce.nonce = a.nonce.clone();
    assert!(matches!(
        check_response(&c_same_nonce, &resp_a, &[]),
        Err(ResponseError::ImprintMismatch { .. })
    ));
    // a policy the TSA does not have is refused by the TSA
    let p = bewahr::tsp::client::new_request(
        DigestAlgorithm::Sha256,
        vec![1; 32],
        Some(const_oid::ObjectIdentifier::new_unwrap("1.2.3.4")),
    );
    let err = check_response(&p, &tsa.respond(&p.to_der(), now), &[]).unwrap_err();
    assert!(
        matches!(err, ResponseError::Rejected { status: 2, .. }),
        "{err}"
    );
    // garbage
    assert!(matches!(
        check_response(&a, b"\x30\x03\x02\x01", &[]),
        Err(ResponseError::Malformed(_))
    ));
    // a TSA that is not trusted
    let other = DevTsa::generate(now).unwrap().0;
    let err = check_response(&a, &resp_a, &other.certificates()[1..]).unwrap_err();
    assert!(matches!(err, ResponseError::Untrusted(_)), "{err}");
}

#[test]
fn the_dev_tsa_is_kept_across_restarts() {
    let dir = tempdir();
    let now = OffsetDateTime::now_utc();
    let a = DevTsa::load_or_create(dir.path(), now).unwrap();
    let b = DevTsa::load_or_create(dir.path(), now).unwrap();
    assert_eq!(a.certificates(), b.certificates());
    std::fs::write(dir.path().join("dev-tsa-key.p8"), b"junk").unwrap();
    assert!(DevTsa::load_or_create(dir.path(), now).is_err());
}

#[test]
fn openssl_ts_verifies_dev_tsa_tokens() {
    if !have("openssl", &["version"]) {
        return;
    }
    let tsa = tsa();
    let dir = tempdir();
    let data = b"ein versiegelter Bescheid";
    let req = bewahr::tsp::client::new_request(
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha256.digest(data),
        None,
    );
    let resp = tsa.respond(&req.to_der(), OffsetDateTime::now_utc());
    std::fs::write(dir.path().join("resp.tsr"), &resp).unwrap();
    std::fs::write(dir.path().join("data"), data).unwrap();
    let root = tsa.certificates()[1]
        .to_pem(der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(dir.path().join("root.pem"), root).unwrap();
    let o = run(std::process::Command::new("openssl")
        .args([
            "ts", "-verify", "-in", "resp.tsr", "-data", "data", "-CAfile", "root.pem",
        ])
        .current_dir(dir.path()));
    assert!(
        o.status.success(),
        "openssl ts -verify: {} {}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("Verification: OK"));
    // and a changed document does not verify
    std::fs::write(dir.path().join("data"), b"ein anderer Bescheid").unwrap();
    let o = run(std::process::Command::new("openssl")
        .args([
            "ts", "-verify", "-in", "resp.tsr", "-data", "data", "-CAfile", "root.pem",
        ])
        .current_dir(dir.path()));
    assert!(!o.status.success());
}
