//! Signature and seal validation on the BSI TR-ESOR C.2 data: every OK file
//! validates cryptographically, every NOK one fails with the right
//! sub-indication. Their roots are not trust anchors here, so a valid one
//! ends in INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND unless its own root is
//! configured.

use bewahr::signature::{
    self, conclude, examine, Context, Format, Indication, SubIndication, ValidationData,
    ValidationReport,
};

use crate::support::*;

fn at() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn validate(
    doc: &[u8],
    sig: Option<&[u8]>,
    anchors: &[x509_cert::Certificate],
) -> ValidationReport {
    let ctx = Context {
        anchors,
        at: at(),
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&signature::xml_engine::ENGINE),
    };
    let ex = examine(doc, sig, &ctx);
    conclude(ex, &ValidationData::default(), &ctx).0
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(c2(name)).unwrap()
}

/// The self-signed root of the first signer's chain, from the signature itself.
fn own_root(report: &ValidationReport) -> Option<String> {
    report
        .signatures
        .first()
        .and_then(|s| s.chain.last().cloned())
}

fn crypto_passed(r: &ValidationReport) {
    assert!(!r.signatures.is_empty(), "{}", r.to_text());
    for s in &r.signatures {
        assert!(
            s.findings
                .iter()
                .any(|f| f.message.starts_with("the signature value verifies")),
            "{}",
            r.to_text()
        );
        assert!(
            s.findings
                .iter()
                .all(|f| f.indication != Indication::TotalFailed),
            "{}",
            r.to_text()
        );
    }
}

#[test]
fn cades_detached_and_enveloping() {
    let doc = read("TXT_DATA.txt");
    for (sig, fmt) in [
        (Some(read("TXT_DATA.txt.p7s")), Format::CadesDetached),
        (None, Format::CadesEnveloping),
    ] {
        let document = if sig.is_some() {
            doc.clone()
        } else {
            read("TXT_DATA.txt.p7m")
        };
        let r = validate(&document, sig.as_deref(), &[]);
        assert_eq!(r.format, fmt);
        crypto_passed(&r);
        assert_eq!(
            r.indication,
            Some(Indication::Indeterminate),
            "{}",
            r.to_text()
        );
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::NoCertificateChainFound)
        );
        let s = &r.signatures[0];
        assert!(
            s.signer.as_deref().unwrap().contains("TR-ESOR"),
            "{:?}",
            s.signer
        );
        let q = s.qualification.as_ref().expect("QcStatements");
        assert!(q.qualified && q.kind == "signature", "{q:?}");
        assert!(s.signing_time.is_some());
    }
}

#[test]
fn cades_nok_fail() {
    let doc = read("TXT_DATA.txt");
    let r = validate(&doc, Some(&read("TXT_DATA_NOK.txt.p7s")), &[]);
    assert_eq!(
        r.indication,
        Some(Indication::TotalFailed),
        "{}",
        r.to_text()
    );
    let r2 = validate(&read("TXT_DATA_NOK.txt.p7m"), None, &[]);
    assert_eq!(
        r2.indication,
        Some(Indication::TotalFailed),
        "{}",
        r2.to_text()
    );
    for r in [&r, &r2] {
        assert!(
            matches!(
                r.sub_indication,
                Some(SubIndication::HashFailure | SubIndication::SigCryptoFailure)
            ),
            "{}",
            r.to_text()
        );
    }
    // the right signature over the wrong document
    let r = validate(b"another document", Some(&read("TXT_DATA.txt.p7s")), &[]);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::HashFailure),
        "{}",
        r.to_text()
    );
    // a detached signature alone: the signed data is missing
    let r = validate(&read("TXT_DATA.txt.p7s"), None, &[]);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::SignedDataNotFound),
        "{}",
        r.to_text()
    );
}

#[test]
fn pades_visible() {
    // PADES_VISIBLE_SIG_NOK.pdf is byte-identical to PADES_VISIBLE.pdf in the C.2 data
    assert_eq!(read("PADES_VISIBLE.pdf"), read("PADES_VISIBLE_SIG_NOK.pdf"));
    let pdf = read("PADES_VISIBLE.pdf");
    let r = validate(&pdf, None, &[]);
    assert_eq!(r.format, Format::Pades);
    crypto_passed(&r);
    assert_eq!(r.signatures.len(), 1);
    assert_eq!(r.signatures[0].covers_whole_document, Some(true));
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::NoCertificateChainFound)
    );
    // one byte changed inside the signed range: HASH_FAILURE
    let mut changed = pdf.clone();
    changed[20000] ^= 0x01;
    let r = validate(&changed, None, &[]);
    assert_eq!(
        r.indication,
        Some(Indication::TotalFailed),
        "{}",
        r.to_text()
    );
    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));
    // appended bytes (an incremental update): the signature still verifies but no longer covers the file
    let mut updated = pdf.clone();
    updated.extend_from_slice(b"\n1 0 obj\n<< >>\nendobj\n%%EOF\n");
    let r = validate(&updated, None, &[]);
    crypto_passed(&r);
    assert_eq!(
        r.signatures[0].covers_whole_document,
        Some(false),
        "{}",
        r.to_text()
    );
}

#[test]
fn asic_containers() {
    for (name, fmt) in [
        ("ASIC_S_CADES_OK.asics", Format::AsicS),
        ("ASIC_E_CADES_OK.asice", Format::AsicE),
    ] {
        let r = validate(&read(name), None, &[]);
        assert_eq!(r.format, fmt, "{name}");
        crypto_passed(&r);
        assert_ne!(
            r.indication,
            Some(Indication::TotalFailed),
            "{name}: {}",
            r.to_text()
        );
    }
    for name in ["ASIC_S_CADES_NOK.asics", "ASIC_E_CADES_NOK.asice"] {
        let r = validate(&read(name), None, &[]);
        assert_eq!(
            r.indication,
            Some(Indication::TotalFailed),
            "{name}: {}",
            r.to_text()
        );
        assert!(
            matches!(
                r.sub_indication,
                Some(SubIndication::HashFailure | SubIndication::SigCryptoFailure)
            ),
            "{name}: {}",
            r.to_text()
        );
    }
    // XAdES in containers: the OK ones verify, the NOK ones (their
    // SignedProperties reference manipulated) fail
    for (name, fmt) in [
        ("ASIC_S_XADES_OK.asics", Format::AsicS),
        ("ASIC_E_XADES_OK.asice", Format::AsicE),
    ] {
        let r = validate(&read(name), None, &[]);
        assert_eq!(r.format, fmt, "{name}");
        crypto_passed(&r);
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::NoCertificateChainFound),
            "{name}: {}",
            r.to_text()
        );
        assert!(
            r.to_text()
                .contains("reference to 002-test-document.xml (sha512): the digest matches"),
            "{name}: {}",
            r.to_text()
        );
    }
    for name in ["ASIC_S_XADES_NOK.asics", "ASIC_E_XADES_NOK.asice"] {
        let r = validate(&read(name), None, &[]);
        assert_eq!(r.indication, Some(Indication::TotalFailed), "{name}");
        assert_eq!(r.sub_indication, Some(SubIndication::HashFailure), "{name}");
    }
    // ASIC_S_ER_NOK.asics holds the same files as ASIC_S_ER_OK.asics (only the ZIP
    // metadata differs) in the C.2 data: both are judged alike, neither fails
    let (ok, nok) = (
        signature::asic::open(&read("ASIC_S_ER_OK.asics")).unwrap(),
        signature::asic::open(&read("ASIC_S_ER_NOK.asics")).unwrap(),
    );
    assert_eq!(ok.data_objects, nok.data_objects);
    assert_eq!(ok.evidence_records, nok.evidence_records);
    for name in ["ASIC_S_ER_OK.asics", "ASIC_S_ER_NOK.asics"] {
        let r = validate(&read(name), None, &[]);
        assert_eq!(
            r.sub_indication,
            Some(SubIndication::NoCertificateChainFound),
            "{name}: {}",
            r.to_text()
        );
    }
    // time-stamps and evidence records in containers: OK ones are not failed, NOK ones are
    for (ok, nok) in [
        ("ASIC_S_TST_OK.asics", "ASIC_S_TST_NOK.asics"),
        ("ASIC_E_TST_OK.asice", "ASIC_E_TST_NOK.asice"),
        ("ASIC_E_ER_OK.asice", "ASIC_E_ER_NOK.asice"),
    ] {
        let r = validate(&read(ok), None, &[]);
        assert_ne!(
            r.indication,
            Some(Indication::TotalFailed),
            "{ok}: {}",
            r.to_text()
        );
        let r = validate(&read(nok), None, &[]);
        assert_eq!(
            r.indication,
            Some(Indication::TotalFailed),
            "{nok}: {}",
            r.to_text()
        );
    }
}

#[test]
fn unsigned_and_hostile_input() {
    for doc in [
        &b"plain text"[..],
        b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n",
        b"<?xml version=\"1.0\"?><a/>",
    ] {
        let r = validate(doc, None, &[]);
        assert_eq!(r.format, Format::None);
        assert_eq!(r.indication, None);
    }
    // a PDF whose ByteRange points outside the file, a CMS without signer, garbage
    let bad_pdf = b"%PDF-1.7\n<< /Type /Sig /ByteRange [0 10 20 99999] /Contents <3000> >>\n%%EOF";
    let r = validate(bad_pdf, None, &[]);
    assert_eq!(
        r.indication,
        Some(Indication::TotalFailed),
        "{}",
        r.to_text()
    );
    assert_eq!(r.sub_indication, Some(SubIndication::FormatFailure));
    let no_signer = signature::cades::parse(&[0x30, 0x03, 0x02, 0x01, 0x01]);
    assert!(no_signer.is_err());
    let mut p7s = read("TXT_DATA.txt.p7s");
    p7s.truncate(p7s.len() / 2);
    let r = validate(&read("TXT_DATA.txt"), Some(&p7s), &[]);
    assert_eq!(
        r.indication,
        Some(Indication::TotalFailed),
        "{}",
        r.to_text()
    );
}

#[test]
fn expired_signer_with_and_without_proof_of_existence() {
    // the C.2 signature carries only the signer's certificate (expired 2021-01-19);
    // trusted directly, it is out of bounds today, and valid as of a proof that
    // the signature existed in 2019 (what an evidence record gives)
    let doc = read("TXT_DATA.txt");
    let p7s = read("TXT_DATA.txt.p7s");
    let parsed = signature::cades::parse(&p7s).unwrap();
    let r = validate(&doc, Some(&p7s), &parsed.certificates);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::OutOfBoundsNoPoe),
        "{}",
        r.to_text()
    );
    assert!(own_root(&r).is_some());
    let poe = time::macros::datetime!(2019-10-26 12:00 UTC);
    let r = signature::revalidate(
        &doc,
        Some(&p7s),
        &ValidationData::default(),
        poe,
        &Context {
            anchors: &parsed.certificates,
            at: at(),
            poe: None,
            max_age: time::Duration::days(1),
            xml: Some(&signature::xml_engine::ENGINE),
        },
    );
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    assert_eq!(
        r.proof_of_existence.as_deref(),
        Some("2019-10-26T12:00:00Z")
    );
}
