//! XAdES validation (issue 13): the C.2 XAdES data, signatures made at
//! test time by independent tools (signxml for XAdES, xmlsec1 for plain
//! XML-DSig) valid and broken in each place a signature can break, and
//! hostile XML.

use std::path::Path;
use std::sync::OnceLock;

use bewahr::signature::{
    self, conclude, examine, Context, Format, Indication, SubIndication, ValidationData,
    ValidationReport,
};

use crate::support::*;

fn validate_with(
    doc: &[u8],
    sig: Option<&[u8]>,
    anchors: &[x509_cert::Certificate],
    data: &ValidationData,
) -> ValidationReport {
    let ctx = Context {
        anchors,
        at: time::OffsetDateTime::now_utc(),
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&signature::xml_engine::ENGINE),
    };
    conclude(examine(doc, sig, &ctx), data, &ctx).0
}

fn validate(doc: &[u8], sig: Option<&[u8]>) -> ValidationReport {
    validate_with(doc, sig, &[], &ValidationData::default())
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(c2(name)).unwrap()
}

fn verifies(r: &ValidationReport) -> bool {
    !r.signatures.is_empty()
        && r.signatures.iter().all(|s| {
            s.findings
                .iter()
                .any(|f| f.message.starts_with("the signature value verifies"))
                && s.findings
                    .iter()
                    .all(|f| f.indication != Indication::TotalFailed)
        })
}

fn outcome(r: &ValidationReport) -> (Option<Indication>, Option<SubIndication>) {
    (r.indication, r.sub_indication)
}

#[test]
fn c2_xades_ok_files_verify_and_nok_files_fail() {
    let enveloped = read("SHA512-enveloped-test-01.xml-signed-xades-baseline-b.xml");
    let enveloping = read("document-XADES-enveloping.xml");
    let document = read("002-test-document.xml");
    let detached = read("002-test-document-XADES-detached.xml");
    for (name, r) in [
        ("enveloped", validate(&enveloped, None)),
        ("enveloping", validate(&enveloping, None)),
        ("detached", validate(&document, Some(&detached))),
    ] {
        assert_eq!(r.format, Format::Xades, "{name}");
        assert!(verifies(&r), "{name}: {}", r.to_text());
        // their roots are not trust anchors here: only that is missing
        assert_eq!(
            outcome(&r),
            (
                Some(Indication::Indeterminate),
                Some(SubIndication::NoCertificateChainFound)
            ),
            "{name}: {}",
            r.to_text()
        );
        let s = &r.signatures[0];
        assert!(s.signer.is_some() && s.signing_time.is_some(), "{name}");
        assert!(
            s.qualification.as_ref().is_some_and(|q| q.qualified),
            "{name}"
        );
    }
    // the enveloped seal: ECDSA P-256 with SHA-512, XPath Filter 2.0
    let r = validate(&enveloped, None);
    assert_eq!(
        r.signatures[0].signature_algorithm.as_deref(),
        Some("ecdsa-p256-sha512")
    );

    // the NOK twins: their SignedProperties reference is manipulated
    for (name, r) in [
        (
            "enveloped NOK",
            validate(
                &read("SHA512-enveloped-test-01.xml-signed-xades-baseline-b-NOK.xml"),
                None,
            ),
        ),
        (
            "enveloping NOK",
            validate(&read("document-XADES-enveloping-NOK.xml"), None),
        ),
        (
            "detached NOK",
            validate(
                &document,
                Some(&read("002-test-document-XADES-detached-NOK.xml")),
            ),
        ),
    ] {
        assert_eq!(
            outcome(&r),
            (
                Some(Indication::TotalFailed),
                Some(SubIndication::HashFailure)
            ),
            "{name}: {}",
            r.to_text()
        );
    }
    // a detached signature alone: the signed data is not there
    let r = validate(&detached, None);
    assert_eq!(
        outcome(&r),
        (
            Some(Indication::Indeterminate),
            Some(SubIndication::SignedDataNotFound)
        ),
        "{}",
        r.to_text()
    );
    // the right signature over another document
    let r = validate(b"<other/>", Some(&detached));
    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));
}

/// The signatures made by tests/fixtures/xades-peer.py (signxml), once per run.
fn peer() -> Option<&'static Path> {
    static DIR: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    DIR.get_or_init(|| {
        if !have("python3", &["-c", "import signxml.xades, cryptography"]) {
            return None;
        }
        let dir = tempdir();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xades-peer.py");
        let out = run(std::process::Command::new("python3")
            .arg(script)
            .arg(dir.path()));
        assert!(
            out.status.success(),
            "xades-peer.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(dir)
    })
    .as_ref()
    .map(|d| d.path())
}

fn anchor_and_crl(dir: &Path) -> (Vec<x509_cert::Certificate>, ValidationData) {
    let anchors =
        signature::parse_certificates(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut data = ValidationData::default();
    data.add_crl(&std::fs::read(dir.join("crl.der")).unwrap());
    (anchors, data)
}

#[test]
fn signxml_signatures_pass_and_each_break_is_found() {
    let Some(dir) = peer() else { return };
    let (anchors, crl) = anchor_and_crl(dir);
    let file = |n: &str| std::fs::read(dir.join(n)).unwrap();
    // valid: enveloped (RSA-3072, C14N 1.1), enveloping, ECDSA P-256 (r||s)
    for name in ["enveloped.xml", "enveloping.xml", "ecdsa.xml"] {
        let r = validate_with(&file(name), None, &anchors, &crl);
        assert_eq!(
            r.indication,
            Some(Indication::TotalPassed),
            "{name}: {}",
            r.to_text()
        );
        assert!(r.to_text().contains("SigningCertificateV2"), "{name}");
    }
    // broken, each in one place
    for (name, want) in [
        // the signed document changed
        (
            "broken-document.xml",
            (Indication::TotalFailed, SubIndication::HashFailure),
        ),
        // ds:SignedInfo changed (its references still match)
        (
            "broken-signedinfo.xml",
            (Indication::TotalFailed, SubIndication::SigCryptoFailure),
        ),
        (
            "broken-signature-value.xml",
            (Indication::TotalFailed, SubIndication::SigCryptoFailure),
        ),
        // the signed signing-certificate digest names no certificate it carries
        (
            "broken-signing-cert.xml",
            (
                Indication::Indeterminate,
                SubIndication::NoSigningCertificateFound,
            ),
        ),
        // a transform removed: the reference now covers the signature too
        (
            "broken-transform.xml",
            (Indication::TotalFailed, SubIndication::HashFailure),
        ),
        // a second element with the SignedProperties' Id
        (
            "wrapped.xml",
            (Indication::TotalFailed, SubIndication::FormatFailure),
        ),
    ] {
        let r = validate_with(&file(name), None, &anchors, &crl);
        assert_eq!(
            outcome(&r),
            (Some(want.0), Some(want.1)),
            "{name}: {}",
            r.to_text()
        );
    }
    let r = validate_with(&file("wrapped.xml"), None, &anchors, &crl);
    assert!(
        r.to_text().contains("signature-wrapping"),
        "{}",
        r.to_text()
    );
}

#[test]
fn xmlsec1_plain_xml_dsig_verifies() {
    let Some(dir) = peer() else { return };
    if !have("xmlsec1", &["--version"]) {
        return;
    }
    let out = run(std::process::Command::new("xmlsec1")
        .current_dir(dir)
        .args([
            "--sign",
            "--privkey-pem",
            "signer-key.pem,signer.pem",
            "--output",
            "xmlsec.xml",
            "xmlsec-template.xml",
        ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (anchors, crl) = anchor_and_crl(dir);
    let signed = std::fs::read(dir.join("xmlsec.xml")).unwrap();
    let r = validate_with(&signed, None, &anchors, &crl);
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    assert!(r.to_text().contains("plain XML-DSig"), "{}", r.to_text());
    // the text changed after signing
    let changed = String::from_utf8(signed)
        .unwrap()
        .replace("wird erteilt", "wird versagt");
    let r = validate_with(changed.as_bytes(), None, &anchors, &crl);
    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));
}

#[test]
fn hostile_xml_is_refused_without_harm() {
    let sig = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>"#;
    // entity expansion (a DTD)
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;{sig}</l>"#
    );
    // an external entity
    let external = format!(
        r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]><l>&x;{sig}</l>"#
    );
    // deep nesting
    let deep = format!("{}{sig}{}", "<a>".repeat(50_000), "</a>".repeat(50_000));
    // a huge attribute (beyond libxml2's 10 MB limit without XML_PARSE_HUGE)
    let huge = format!(r#"<a x="{}">{sig}</a>"#, "x".repeat(11_000_000));
    for (name, xml) in [
        ("entities", laughs),
        ("external entity", external),
        ("deep", deep),
        ("huge attribute", huge),
    ] {
        let r = validate(xml.as_bytes(), None);
        assert_eq!(r.format, Format::Xades, "{name}");
        assert_eq!(
            outcome(&r),
            (
                Some(Indication::TotalFailed),
                Some(SubIndication::FormatFailure)
            ),
            "{name}: {}",
            r.to_text()
        );
        assert!(
            !r.to_text().contains("root:"),
            "{name}: file content leaked"
        );
    }
    // a reference to a file or URL is never followed: only the caller's data counts
    let sneaky = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="file:///etc/passwd"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#;
    let r = validate(sneaky.as_bytes(), None);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::SignedDataNotFound),
        "{}",
        r.to_text()
    );
}

/// Submits a document (with a detached signature) over REST.
async fn submit(
    a: &crate::api::TestArchive,
    doc: &[u8],
    sig: Option<&[u8]>,
) -> (axum::http::StatusCode, serde_json::Value) {
    let mut parts: Vec<(&str, &str, &[u8])> = vec![("document", "application/xml", doc)];
    if let Some(s) = sig {
        parts.push(("signature", "application/xml", s));
    }
    let (ct, body) = crate::api::multipart(&parts);
    let (st, _, b) = crate::api::send(&a.router, crate::api::post("/v1/objects", &ct, body)).await;
    (st, crate::api::js(&b))
}

/// XML documents are validated at ingest like CAdES and PAdES: the report
/// comes back with the answer, a broken seal is refused (the default
/// policy), and the report is kept with the version.
#[tokio::test(flavor = "multi_thread")]
async fn xades_is_validated_at_ingest() {
    let Some(a) = crate::api::archive(crate::api::Db::Sqlite).await else {
        return;
    };
    use axum::http::StatusCode;
    let document = read("002-test-document.xml");
    for (name, doc, sig) in [
        (
            "enveloped",
            read("SHA512-enveloped-test-01.xml-signed-xades-baseline-b.xml"),
            None,
        ),
        ("enveloping", read("document-XADES-enveloping.xml"), None),
        (
            "detached",
            document.clone(),
            Some(read("002-test-document-XADES-detached.xml")),
        ),
        ("ASiC-E", read("ASIC_E_XADES_OK.asice"), None),
    ] {
        let (st, j) = submit(&a, &doc, sig.as_deref()).await;
        assert_eq!(st, StatusCode::CREATED, "{name}: {j}");
        assert_eq!(
            j["validation"]["indication"], "INDETERMINATE",
            "{name}: {j}"
        );
        assert_eq!(
            j["validation"]["sub_indication"], "NO_CERTIFICATE_CHAIN_FOUND",
            "{name}: {j}"
        );
        assert!(
            j["validation"]["signatures"][0]["signer"].is_string(),
            "{name}: {j}"
        );
    }
    for (name, doc, sig) in [
        (
            "enveloped NOK",
            read("SHA512-enveloped-test-01.xml-signed-xades-baseline-b-NOK.xml"),
            None,
        ),
        (
            "detached NOK",
            document.clone(),
            Some(read("002-test-document-XADES-detached-NOK.xml")),
        ),
        ("ASiC-S NOK", read("ASIC_S_XADES_NOK.asics"), None),
    ] {
        let (st, j) = submit(&a, &doc, sig.as_deref()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {j}");
        assert_eq!(j["validation"]["indication"], "TOTAL_FAILED", "{name}: {j}");
        assert_eq!(
            j["validation"]["sub_indication"], "HASH_FAILURE",
            "{name}: {j}"
        );
    }
}

/// `XAIP_OK_SIG_OK.xml` with a third credential holding an XML signature
/// as a `ds:Signature` in its `dss:SignatureObject`, related to DO-01.
fn package_with_xml_credential(signature: &[u8]) -> Vec<u8> {
    let s = String::from_utf8(read("XAIP_OK_SIG_OK.xml")).unwrap();
    let sig = String::from_utf8(signature.to_vec()).unwrap();
    let sig = sig.trim_start_matches(|c| c != '<');
    let sig = match sig.strip_prefix("<?xml") {
        Some(rest) => &rest[rest.find("?>").unwrap() + 2..],
        None => sig,
    };
    let cred = format!(
        "<xaip:credential credentialID=\"CR-03\" relatedObjects=\"DO-01\"><dss:SignatureObject>{}</dss:SignatureObject></xaip:credential></xaip:credentialsSection>",
        sig.trim()
    );
    let out = s.replacen("</xaip:credentialsSection>", &cred, 1);
    assert!(out.contains("CR-03"));
    out.into_bytes()
}

/// An XAIP whose credential is a XAdES signature: validated in the
/// package's context at submission like a CMS credential (C.2 M-SU-05's
/// rule), not archived unexamined.
#[tokio::test]
async fn xaip_credentials_with_xades_are_validated() {
    let Some(a) = crate::api::archive(crate::api::Db::Sqlite).await else {
        return;
    };
    use crate::s4::{el, result, ERROR, OK};
    // an enveloping XAdES (it carries what it signs)
    let resp = crate::s4_xaip::submit(
        &a,
        &package_with_xml_credential(&read("document-XADES-enveloping.xml")),
    )
    .await;
    result(&resp, OK, None);
    assert!(el(&resp, "AOID").is_some_and(|x| !x.is_empty()), "{resp}");
    // its manipulated twin, and a detached XAdES whose related object is
    // not the document it signs
    for sig in [
        "document-XADES-enveloping-NOK.xml",
        "002-test-document-XADES-detached.xml",
    ] {
        let resp = crate::s4_xaip::submit(&a, &package_with_xml_credential(&read(sig))).await;
        result(&resp, ERROR, Some("arl/XAIP_NOK_SIG"));
        assert!(
            el(&resp, "ResultMessage").is_some_and(|m| m.contains("CR-03")),
            "{sig}: {resp}"
        );
    }
}

/// XAdES-T and -LT: signxml's baseline-B seal extended with a signature
/// time-stamp (the development TSA's, over the exclusive canonical
/// `ds:SignatureValue`), the CA certificate and the CA's CRL in the
/// unsigned properties. The time-stamp is a proof of existence; the
/// embedded CRL answers for the signer without any revocation data given;
/// a time-stamp over something else is not used.
#[test]
fn xades_t_and_lt_levels() {
    use bewahr::tsp::devtsa::DevTsa;
    let Some(dir) = peer() else { return };
    let now = time::OffsetDateTime::now_utc();
    let (tsa, _) = DevTsa::generate(now - time::Duration::hours(1)).unwrap();
    let signed = String::from_utf8(std::fs::read(dir.join("enveloped.xml")).unwrap()).unwrap();
    // what the signature time-stamp covers
    let doc = bewahr_xaip::xml::parse(signed.as_bytes()).unwrap();
    let sv =
        bewahr_xaip::xml::outermost(&doc, "http://www.w3.org/2000/09/xmldsig#", "SignatureValue");
    let c14n = bewahr_xaip::xml::canonicalize(
        &doc,
        &sv[0],
        bewahr_xaip::xml::C14n::Exclusive10 { comments: false },
    )
    .unwrap();
    let alg = bewahr::alg::DigestAlgorithm::Sha256;
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let ca_pem = std::fs::read(dir.join("ca.pem")).unwrap();
    let ca = signature::parse_certificates(&ca_pem).unwrap();
    let ca_der = {
        use der::Encode;
        ca[0].to_der().unwrap()
    };
    let crl = std::fs::read(dir.join("crl.der")).unwrap();
    let extend = |imprint: &[u8]| {
        let token = tsa
            .timestamp(alg, imprint, None, now - time::Duration::minutes(5))
            .unwrap();
        let unsigned = format!(
            r#"<xades:UnsignedProperties><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><xades:EncapsulatedTimeStamp>{}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp><xades:CertificateValues><xades:EncapsulatedX509Certificate>{}</xades:EncapsulatedX509Certificate></xades:CertificateValues><xades:RevocationValues><xades:CRLValues><xades:EncapsulatedCRLValue>{}</xades:EncapsulatedCRLValue></xades:CRLValues></xades:RevocationValues></xades:UnsignedSignatureProperties></xades:UnsignedProperties>"#,
            b64(&token),
            b64(&ca_der),
            b64(&crl)
        );
        let at =
            signed.find("</xades:SignedProperties>").unwrap() + "</xades:SignedProperties>".len();
        let mut out = signed.clone();
        out.insert_str(at, &unsigned);
        out.into_bytes()
    };
    let mut anchors = ca.clone();
    anchors.extend(tsa.certificates().last().cloned());
    // LT: no revocation data given beside the signature
    let lt = extend(&alg.digest(&c14n));
    let r = validate_with(&lt, None, &anchors, &ValidationData::default());
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    assert!(
        r.signatures[0].signature_timestamp.is_some(),
        "{}",
        r.to_text()
    );
    // B alone: the CRL is missing, TRY_LATER
    let r = validate_with(
        signed.as_bytes(),
        None,
        &anchors,
        &ValidationData::default(),
    );
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::TryLater),
        "{}",
        r.to_text()
    );
    // a time-stamp over something else is no proof of existence (and not a failure)
    let wrong = extend(&alg.digest(b"something else"));
    let r = validate_with(&wrong, None, &anchors, &ValidationData::default());
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    assert!(r.signatures[0].signature_timestamp.is_none());
    assert!(
        r.to_text().contains("not used as proof of existence"),
        "{}",
        r.to_text()
    );
}
