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
    let anchors = pem_file(dir.path(), "tsa.pem", &trusted);
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

/// The archive gives a version's record in both forms: the XML one is
/// valid against RFC 6283's schema and proves the same document from the
/// same tree and time-stamp; XML whose bytes are not canonical is refused
/// with the reason (the XML form would hash its canonical form).
#[tokio::test]
async fn the_archive_serves_its_records_as_rfc6283_too() {
    use crate::api::{archive, get, js, multipart, post, send, Db};
    use axum::http::StatusCode;
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let submit = |doc: &'static [u8], ct: &'static str| {
        let a = &a;
        async move {
            let (ct, body) = multipart(&[("document", ct, doc)]);
            let (st, _, b) = send(&a.router, post("/v1/objects", &ct, body)).await;
            assert_eq!(st, StatusCode::CREATED);
            js(&b)["aoid"].as_str().unwrap().to_string()
        }
    };
    let doc: &[u8] = b"Bescheid: die Genehmigung wird erteilt.";
    let aoid = submit(doc, "text/plain").await;
    let (st, _, der) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, h, xml) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&xml));
    assert_eq!(h["content-type"], "application/xml");
    // valid against the RFC 6283 schema
    let parsed = bewahr_xaip::xml::parse(&xml).unwrap();
    bewahr_xaip::schema::validate_against(&parsed, bewahr_xaip::schema::Schema::Ers)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&xml)));
    // both verify, over the same document, with the same time-stamp
    let trusted = a.state().stamper.trust_anchors();
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r_xml = ers::verify_xml(&xml, Some(&[doc.to_vec()]), &mut NoData, &opts);
    let r_der = bewahr::verify::verify_der(
        &der,
        &mut bewahr::verify::InMemory(vec![doc.to_vec()]),
        &opts,
    );
    assert_eq!(r_xml.indication, Indication::Passed, "{}", r_xml.to_text());
    assert_eq!(r_der.indication, Indication::Passed, "{}", r_der.to_text());
    assert_eq!(
        r_xml.archive_time_stamps[0].serial_number,
        r_der.archive_time_stamps[0].serial_number
    );
    let token_der = bewahr::ers::EvidenceRecord::from_der_checked(&der)
        .unwrap()
        .archive_time_stamp_sequence[0][0]
        .time_stamp
        .as_bytes()
        .to_vec();
    assert_eq!(
        ers::read(&xml).unwrap().walk.chains[0].stamps[0].token,
        token_der
    );
    // another document fails in both
    let other = b"Bescheid: die Genehmigung wird versagt.".to_vec();
    let r = ers::verify_xml(&xml, Some(std::slice::from_ref(&other)), &mut NoData, &opts);
    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));

    // XML with a declaration: its bytes are not its canonical form
    let aoid = submit(b"<?xml version=\"1.0\"?>\n<a>x</a>", "application/xml").await;
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, b) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        js(&b)["error"]["code"],
        "not_expressible_in_rfc6283",
        "{}",
        js(&b)
    );
    // canonical XML is given
    let aoid = submit(b"<a>x</a>", "application/xml").await;
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?format=rfc6283")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?format=xades")),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}
