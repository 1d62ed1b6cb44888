//! Evidence records as the field writes them (issue 16): one vector per
//! defect in `tests/vectors/field/` (made by `python3
//! tests/vectors/field/make.py`, see its README), each verified through the
//! library and, where it matters, through `bewahr verify`.

use std::path::PathBuf;

use bewahr::signature::ValidationData;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Profile, Report, SubIndication};
use time::macros::datetime;

use crate::support::*;

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/field")
        .join(name)
}

fn certs(name: &str) -> Vec<x509_cert::Certificate> {
    x509_cert::Certificate::load_pem_chain(&std::fs::read(vector(name)).unwrap()).unwrap()
}

/// Verifies a vector for doc-0 (or `doc`), trusting `anchor`, as of 2026-01-01.
fn check_with(
    name: &str,
    doc: &str,
    anchor: &str,
    profile: Profile,
    given: &ValidationData,
) -> Report {
    let er = std::fs::read(vector(name)).unwrap();
    let data = std::fs::read(vector(doc)).unwrap();
    let trusted = certs(anchor);
    let policy = AlgorithmPolicy::default();
    let mut opts = verify::Options::new(&trusted, datetime!(2026-01-01 0:00 UTC), &policy);
    opts.profile = profile;
    opts.validation_data = given;
    verify::verify_der(&er, &mut InMemory(vec![data]), &opts)
}

fn check(name: &str, profile: Profile) -> Report {
    check_with(
        name,
        "doc-0.txt",
        "root.pem",
        profile,
        &ValidationData::default(),
    )
}

fn assert_result(r: &Report, i: Indication, s: Option<SubIndication>) {
    assert_eq!((r.indication, r.sub_indication), (i, s), "{}", r.to_text());
}

fn passes_tr_esor(name: &str) -> Report {
    let r = check(name, Profile::TrEsor);
    assert_result(&r, Indication::Passed, None);
    assert!(r.data_checked);
    r
}

#[test]
fn ocsp_responses_in_the_token_are_read_and_used() {
    // defect 1: RFC 5940 OCSP in SignedData.crls ([1] other)
    for name in [
        "ocsp-in-token.ers",
        "ocsp-basic-in-token.ers", // TR-ESOR-ERS: id-pkix-ocsp-basic with a BasicOCSPResponse
        "ocsp-in-token-version3.ers",
    ] {
        let r = passes_tr_esor(name);
        let rev = &r.archive_time_stamps[0].revocation;
        assert_eq!(rev.len(), 1, "{name}: {}", r.to_text());
        assert_eq!(rev[0].kind, Some("OCSP"));
        assert_eq!(rev[0].status, "good");
        assert_eq!(rev[0].source, Some(verify::tsa::Source::Token));
        let certs = &r.archive_time_stamps[0].certificates;
        assert_eq!(certs[0].role, "tsa");
        assert_eq!(certs[0].source, verify::tsa::Source::Token);
        assert_eq!(certs[1].role, "trust-anchor");
    }
    // a version 3 SignedData with an `other` entry is read, with a note (RFC 5652 5.1 says 5)
    let r = check("ocsp-in-token-version3.ers", Profile::TrEsor);
    assert!(r.to_text().contains("prescribes 5"), "{}", r.to_text());
}

#[test]
fn crls_in_the_token_as_received() {
    for name in ["crl-in-token.ers", "crl-ber-in-token.ers"] {
        let r = passes_tr_esor(name);
        let rev = &r.archive_time_stamps[0].revocation;
        assert_eq!(
            (rev[0].kind, rev[0].status),
            (Some("CRL"), "good"),
            "{name}"
        );
    }
    // an `other` format bewahr does not know is kept and named; the CRL beside it is used
    let r = passes_tr_esor("unknown-other-revocation.ers");
    assert!(
        r.to_text().contains("1.3.6.1.4.1.32473.7"),
        "{}",
        r.to_text()
    );
}

#[test]
fn policies_of_fewer_than_three_arcs() {
    // defect 2
    for (name, policy) in [("policy-1.2.ers", "1.2"), ("policy-1.1.1.ers", "1.1.1")] {
        let r = passes_tr_esor(name);
        assert_eq!(r.archive_time_stamps[0].policy.as_deref(), Some(policy));
    }
}

#[test]
fn signed_data_version_1_is_malformed() {
    // defect 3
    let r = check("signeddata-version1.ers", Profile::Rfc4998);
    assert_result(&r, Indication::Failed, Some(SubIndication::FormatFailure));
    assert!(r.summary.contains("version 1"), "{}", r.summary);
}

#[test]
fn reduced_trees_that_list_the_computed_value() {
    // defect 4
    let r = passes_tr_esor("tree-value-listed.ers");
    assert!(
        r.archive_time_stamps[0]
            .hash_tree
            .as_deref()
            .unwrap()
            .contains("already listed"),
        "{:?}",
        r.archive_time_stamps[0].hash_tree
    );
    // four identical documents: the second list holds a value equal to the computed one, and it counts
    let r = check_with(
        "tree-duplicate-leaves.ers",
        "doc-0.txt",
        "root.pem",
        Profile::TrEsor,
        &ValidationData::default(),
    );
    assert_result(&r, Indication::Passed, None);
    assert!(r.archive_time_stamps[0]
        .hash_tree
        .as_deref()
        .unwrap()
        .contains("literal"));
    // and another document is still not covered
    let r = check_with(
        "tree-duplicate-leaves.ers",
        "doc-1.txt",
        "root.pem",
        Profile::Rfc4998,
        &ValidationData::default(),
    );
    assert_result(&r, Indication::Failed, Some(SubIndication::HashFailure));
}

#[test]
fn an_anchor_that_expired_before_gen_time_is_information() {
    // defect 5
    let r = check_with(
        "anchor-expired.ers",
        "doc-0.txt",
        "root-expired-2024.pem",
        Profile::Rfc4998,
        &ValidationData::default(),
    );
    assert_result(&r, Indication::Passed, None);
    assert!(
        r.to_text().contains("trust anchor has no validity period"),
        "{}",
        r.to_text()
    );
}

#[test]
fn the_tsa_certificates_status() {
    // defect 6: revoked before genTime fails, after genTime limits the proof
    let r = check("tsa-revoked-before-gentime.ers", Profile::Rfc4998);
    assert_result(&r, Indication::Failed, Some(SubIndication::Revoked));
    let r = check("tsa-revoked-after-gentime.ers", Profile::Rfc4998);
    assert_result(
        &r,
        Indication::Indeterminate,
        Some(SubIndication::RevokedNoPoe),
    );
    // no revocation data: a note under RFC 4998, a failure under TR-ESOR
    let r = check("no-revocation-data.ers", Profile::Rfc4998);
    assert_result(&r, Indication::Passed, None);
    assert!(r.to_text().contains("was not checked"), "{}", r.to_text());
    let r = check("no-revocation-data.ers", Profile::TrEsor);
    assert_result(&r, Indication::Indeterminate, Some(SubIndication::TryLater));
    // ... unless it is given
    let mut given = ValidationData::default();
    given.add_ocsp(&std::fs::read(vector("ocsp-good.der")).unwrap());
    let r = check_with(
        "no-revocation-data.ers",
        "doc-0.txt",
        "root.pem",
        Profile::TrEsor,
        &given,
    );
    assert_result(&r, Indication::Passed, None);
    assert_eq!(
        r.archive_time_stamps[0].revocation[0].source,
        Some(verify::tsa::Source::Given)
    );
    // ... or in the record's cryptoInfos (RFC 5126 revocationValues)
    let r = passes_tr_esor("ocsp-in-cryptoinfos.ers");
    assert_eq!(
        r.archive_time_stamps[0].revocation[0].source,
        Some(verify::tsa::Source::CryptoInfos)
    );
    assert!(r.findings.iter().any(|f| f.message.contains("cryptoInfos")));
}

#[test]
fn hashes_inside_the_signatures_are_rated() {
    // defect 7: SHA-1 in the token's signature, and in the TSA certificate's
    for (name, what) in [
        (
            "sha1-token-signature.ers",
            "the time-stamp's signature uses sha1",
        ),
        ("sha1-tsa-certificate.ers", "uses sha1"),
    ] {
        let r = check(name, Profile::Rfc4998);
        assert_result(
            &r,
            Indication::Indeterminate,
            Some(SubIndication::CryptoConstraintsFailureNoPoe),
        );
        assert!(r.to_text().contains(what), "{name}: {}", r.to_text());
    }
    let r = check("sha1-tsa-certificate.ers", Profile::Rfc4998);
    assert!(r.to_text().contains("the signature on certificate"));
}

#[test]
fn algorithm_identifiers_and_ber_as_tsas_write_them() {
    // defect 8: NULL and absent parameters mean the same algorithm
    passes_tr_esor("null-parameters.ers");
    passes_tr_esor("absent-parameters.ers");
    // a BER token, renewed by a time-stamp over its bytes as received
    let r = passes_tr_esor("ber-token-renewed.ers");
    assert_eq!(r.archive_time_stamps.len(), 2);
    assert!(
        r.archive_time_stamps[0]
            .findings
            .iter()
            .any(|f| f.message.contains("BER")),
        "{}",
        r.to_text()
    );
}

#[test]
fn bewahr_verify_takes_the_profile_and_revocation_data() {
    let base = |profile: &str| {
        let mut c = bewahr();
        c.args([
            "verify",
            "--json",
            "--at",
            "2026-01-01T00:00:00Z",
            "--profile",
            profile,
        ])
        .arg("--er")
        .arg(vector("no-revocation-data.ers"))
        .arg("--data")
        .arg(vector("doc-0.txt"))
        .arg("--tsa-cert")
        .arg(vector("root.pem"));
        c
    };
    assert_eq!(run(&mut base("rfc4998")).status.code(), Some(0));
    let o = run(&mut base("tr-esor"));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(json(&o)["sub_indication"], "TRY_LATER");
    for file in ["ocsp-good.der", "crl.der"] {
        let o = run(base("tr-esor").arg("--revocation").arg(vector(file)));
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stdout(&o));
        assert_eq!(
            json(&o)["archive_time_stamps"][0]["revocation"][0]["source"],
            "given"
        );
    }
    let o = run(base("tr-esor").arg("--revocation").arg(vector("doc-0.txt")));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--revocation"));
    let o = run(&mut base("nonsense"));
    assert_eq!(o.status.code(), Some(2));
}
