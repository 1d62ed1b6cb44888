//! BSI TR-ESOR C.2 evidence records: every ER_OK passes every check that
//! needs no data; every ER_NOK fails where it is broken.

use bewahr::ers::EvidenceRecord;
use bewahr::verify::{self, AlgorithmPolicy, Indication, NoData, Options, SubIndication};
use der::Encode;

use crate::support::*;

/// Verifies a C.2 record trusting the self-signed certificates its token carries,
/// at one day after its genTime.
fn verify_c2(name: &str) -> verify::Report {
    let bytes = std::fs::read(c2(name)).unwrap();
    let (trusted, at) = c2_trust(&bytes);
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&trusted, at, &policy);
    verify::verify_der(&bytes, &mut NoData, &opts)
}

#[test]
fn er_ok_pass_every_check_that_needs_no_data() {
    for name in [
        "ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA384_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA512_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-224_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-256_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-384_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-512_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_SHA256-DGN_XAIP_OK_SC1.ers",
        "ER_SHA256-DGN_XAIP_OK_SC2.ers",
        "ER_SHA256-DGN_XAIP_OK_SC3.ers",
        "ER_OK_SHA224_DFN_XAIP_OK_SIG_OK.ers",
    ] {
        let r = verify_c2(name);
        for a in &r.archive_time_stamps {
            assert_eq!(a.indication, Indication::Passed, "{name}: {}", r.to_text());
        }
        assert_eq!(r.indication, Indication::Indeterminate, "{name}");
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::SignedDataNotFound),
            "{name}: {}",
            r.to_text()
        );
        assert!(!r.data_checked);
    }
}

#[test]
fn sha1_records_are_reported_as_hash_algorithm_not_suitable() {
    for name in [
        "ER_OK_SHA1_DFN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA1_DFN_XAIP_OK_SIG_OK.ers",
    ] {
        let r = verify_c2(name);
        assert_eq!(r.indication, Indication::Indeterminate, "{name}");
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::CryptoConstraintsFailureNoPoe),
            "{name}: {}",
            r.to_text()
        );
        assert!(r.summary.contains("not suitable"), "{}", r.summary);
    }
}

#[test]
fn er_nok_fail_with_hash_failure() {
    for name in [
        "ER_NOK_SHA224_DFN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA256_DGN_XAIP_OK.ers",
        "ER_NOK_SHA256_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA384_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA512_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA3-224_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA3-256_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA3-384_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA3-512_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_NOK_XAIP_OK_SIG_OK.ers",
    ] {
        let r = verify_c2(name);
        assert_eq!(r.indication, Indication::Failed, "{name}: {}", r.to_text());
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::HashFailure),
            "{name}: {}",
            r.to_text()
        );
    }
}

#[test]
fn the_c2_single_object_variants_use_different_readings() {
    // SC1: time-stamp directly over h; SC2: [{h}] carried up; SC3: [{h}] hashed
    let r = verify_c2("ER_SHA256-DGN_XAIP_OK_SC1.ers");
    assert!(r.archive_time_stamps[0]
        .hash_tree
        .as_deref()
        .unwrap()
        .starts_with("none"));
    let r = verify_c2("ER_SHA256-DGN_XAIP_OK_SC2.ers");
    assert!(
        r.archive_time_stamps[0]
            .hash_tree
            .as_deref()
            .unwrap()
            .contains("carried"),
        "{:?}",
        r.archive_time_stamps[0].hash_tree
    );
    let r = verify_c2("ER_SHA256-DGN_XAIP_OK_SC3.ers");
    assert!(
        r.archive_time_stamps[0]
            .hash_tree
            .as_deref()
            .unwrap()
            .contains("literal"),
        "{:?}",
        r.archive_time_stamps[0].hash_tree
    );
}

#[test]
fn sc_variants_check_the_data_digest() {
    // the SC records cover one hash; give it as --digest and a wrong one
    let bytes = std::fs::read(c2("ER_SHA256-DGN_XAIP_OK_SC2.ers")).unwrap();
    let er = EvidenceRecord::from_der_checked(&bytes).unwrap();
    let h = er.archive_time_stamp_sequence[0][0]
        .reduced_hashtree
        .as_ref()
        .unwrap()[0][0]
        .as_bytes()
        .to_vec();
    let o = run(bewahr()
        .args(["verify", "--json", "--at", "2022-08-05T00:00:00Z", "--er"])
        .arg(c2("ER_SHA256-DGN_XAIP_OK_SC2.ers"))
        .arg("--digest")
        .arg(format!("sha256:{}", hex::encode(&h))));
    let j = json(&o);
    assert_eq!(j["data_checked"], true, "{j}");
    assert_eq!(
        j["archive_time_stamps"][0]["indication"], "INDETERMINATE",
        "untrusted TSA: {j}"
    );
    assert_eq!(
        j["archive_time_stamps"][0]["sub_indication"], "NO_POE",
        "{j}"
    );
    let mut wrong = h.clone();
    wrong[0] ^= 1;
    let o = run(bewahr()
        .args(["verify", "--json", "--at", "2022-08-05T00:00:00Z", "--er"])
        .arg(c2("ER_SHA256-DGN_XAIP_OK_SC2.ers"))
        .arg("--digest")
        .arg(format!("sha256:{}", hex::encode(&wrong))));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["sub_indication"], "HASH_FAILURE");
}

#[test]
fn encode_decode_is_byte_exact() {
    for e in std::fs::read_dir(c2("")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "ers") {
            let b = std::fs::read(&p).unwrap();
            assert_eq!(
                EvidenceRecord::from_der_checked(&b)
                    .unwrap()
                    .to_der()
                    .unwrap(),
                b
            );
        }
    }
}
