//! RFC 6283 (XML) evidence records: EU DSS's records (tests/vectors/rfc6283)
//! verify through the same verifier as RFC 4998 records: a single chain, a
//! hash-tree renewal (exclusive C14N) and a time-stamp renewal after a
//! hash-tree renewal over an XML data object (inclusive C14N with
//! comments); changed data or a changed record fails; `bewahr verify`
//! tells the XML form by its content.

use std::path::PathBuf;

use bewahr::signature::xml_engine::ers;
use bewahr::verify::{AlgorithmPolicy, Indication, NoData, Options, SubIndication};

use crate::support::*;

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc6283")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(vector(name)).unwrap()
}

/// The TSAs' roots (or, where a token lacks its root, the issuing CA) and
/// a day after the last time-stamp.
fn trust(record: &[u8]) -> (Vec<x509_cert::Certificate>, time::OffsetDateTime) {
    let Ok(rec) = ers::read(record) else {
        return (vec![], time::OffsetDateTime::now_utc());
    };
    let mut trusted = vec![];
    let mut last = time::OffsetDateTime::UNIX_EPOCH;
    for c in &rec.walk.chains {
        for s in &c.stamps {
            let t = bewahr::tsp::token::check_token(&s.token, &[]).unwrap();
            last = last.max(t.gen_time);
            let roots: Vec<_> = t
                .certificates
                .iter()
                .filter(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
                .cloned()
                .collect();
            let anchors = if roots.is_empty() {
                t.certificates
                    .iter()
                    .filter(|c| c.tbs_certificate.subject == t.signer.tbs_certificate.issuer)
                    .cloned()
                    .collect()
            } else {
                roots
            };
            trusted.extend(anchors);
        }
    }
    (trusted, last + time::Duration::days(1))
}

fn verify_over(record: &[u8], objects: &[Vec<u8>]) -> bewahr::verify::Report {
    let (trusted, at) = trust(record);
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&trusted, at, &policy);
    ers::verify_xml(record, Some(objects), &mut NoData, &opts)
}

#[test]
fn dss_records_verify() {
    let plain = read("371e4226-d580-401d-845b-7429c4afcf4c");
    let xml = read("valid-xades-t.xml");
    for (name, data, chains, stamps) in [
        ("er-chain-single.xml", &plain, 1, 1),
        ("er-chain-renewal.xml", &plain, 2, 2),
        ("er-chain-renewal-tst-renewal.xml", &xml, 2, 3),
    ] {
        let record = read(name);
        assert!(ers::is_xml_record(&record), "{name}");
        let r = verify_over(&record, std::slice::from_ref(data));
        assert_eq!(r.indication, Indication::Passed, "{name}: {}", r.to_text());
        assert!(r.data_checked, "{name}");
        assert_eq!(r.chains, chains, "{name}");
        assert_eq!(r.archive_time_stamps.len(), stamps, "{name}");
    }
    // the renewals are checked, each with its own input
    let r = verify_over(
        &read("er-chain-renewal-tst-renewal.xml"),
        std::slice::from_ref(&xml),
    );
    let covers: Vec<&str> = r.archive_time_stamps.iter().map(|a| a.covers).collect();
    assert_eq!(
        covers,
        [
            "the data",
            "the data and the previous chains (hash-tree renewal)",
            "the previous time-stamp (time-stamp renewal)"
        ]
    );
}

#[test]
fn changed_data_or_record_fails() {
    let plain = read("371e4226-d580-401d-845b-7429c4afcf4c");
    let xml = read("valid-xades-t.xml");
    // another document
    let r = verify_over(
        &read("er-chain-renewal.xml"),
        &[b"another document".to_vec()],
    );
    assert_eq!(
        (r.indication, r.sub_indication),
        (Indication::Failed, Some(SubIndication::HashFailure)),
        "{}",
        r.to_text()
    );
    // the XML document changed in a way canonicalisation does not undo
    let changed = String::from_utf8(xml.clone())
        .unwrap()
        .replacen("2023-11-27T00:02:25Z", "2023-11-28T00:02:25Z", 1)
        .into_bytes();
    assert_ne!(changed, xml);
    let r = verify_over(&read("er-chain-renewal-tst-renewal.xml"), &[changed]);
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());
    // a digest value in chain 1 changed: the hash-tree renewal's input (the
    // earlier chains) no longer matches what chain 2 time-stamped
    let record = String::from_utf8(read("er-chain-renewal.xml")).unwrap();
    let first = record.find("<ers:DigestValue>").unwrap() + "<ers:DigestValue>".len();
    let mut tampered = record.into_bytes();
    tampered[first + 3] = if tampered[first + 3] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let r = verify_over(&tampered, std::slice::from_ref(&plain));
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());
    // not a record at all
    let r = verify_over(
        b"<ers:EvidenceRecord xmlns:ers=\"urn:ietf:params:xml:ns:ers\" Version=\"1.0\"/>",
        &[plain],
    );
    assert_eq!(
        (r.indication, r.sub_indication),
        (Indication::Failed, Some(SubIndication::FormatFailure))
    );
}

#[test]
fn bewahr_verify_reads_xml_records() {
    let record = read("er-chain-renewal-tst-renewal.xml");
    let (trusted, at) = trust(&record);
    let dir = tempdir();
    let anchors = dir.path().join("tsa.pem");
    let pem: String = trusted
        .iter()
        .map(|c| {
            use der::EncodePem;
            c.to_pem(der::pem::LineEnding::LF).unwrap()
        })
        .collect();
    std::fs::write(&anchors, pem).unwrap();
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = run(bewahr()
        .args(["verify", "--er"])
        .arg(vector("er-chain-renewal-tst-renewal.xml"))
        .arg("--data")
        .arg(vector("valid-xades-t.xml"))
        .arg("--tsa-cert")
        .arg(&anchors)
        .args(["--at", &at]));
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("RFC 6283"), "{}", stdout(&out));
    // the wrong document
    let out = run(bewahr()
        .args(["verify", "--er"])
        .arg(vector("er-chain-renewal-tst-renewal.xml"))
        .arg("--data")
        .arg(vector("371e4226-d580-401d-845b-7429c4afcf4c"))
        .arg("--tsa-cert")
        .arg(&anchors)
        .args(["--at", &at]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
