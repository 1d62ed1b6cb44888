//! Evidence over an XAIP version (TR-ESOR-ERS, TR-ESOR-F 1.3): the C.2
//! records made by qualified TSAs over `XAIP_OK_SIG_OK.xml` prove that
//! package's version V001 as bewahr reads it; the broken ones and altered
//! packages do not. The C.2 files are read as they are; altered copies are
//! made at test time in a temporary directory.

use base64::Engine;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options, SubIndication};
use bewahr_xaip::{ObjectKind, References, Xaip, XaipError};

use crate::support::*;

fn package(name: &str) -> Xaip {
    Xaip::parse(&std::fs::read(c2(name)).unwrap()).unwrap()
}

fn objects(x: &Xaip, version: &str) -> Vec<Vec<u8>> {
    x.protected_objects(version, &References::default())
        .unwrap()
        .into_iter()
        .map(|o| o.bytes)
        .collect()
}

/// Verifies a C.2 record over `data`, trusting the self-signed
/// certificates its token carries, one day after its genTime.
fn verify_over(record: &str, data: Vec<Vec<u8>>) -> verify::Report {
    let bytes = std::fs::read(c2(record)).unwrap();
    let (trusted, at) = c2_trust(&bytes);
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&trusted, at, &policy);
    verify::verify_der(&bytes, &mut InMemory(data), &opts)
}

#[test]
fn the_protected_objects_of_xaip_ok_sig_ok() {
    let x = package("XAIP_OK_SIG_OK.xml");
    assert_eq!(x.versions(), ["V001"]);
    let objs = x.protected_objects("V001", &References::default()).unwrap();
    let ids: Vec<_> = objs.iter().map(|o| (o.id.as_str(), o.kind)).collect();
    assert_eq!(
        ids,
        [
            ("DO-01", ObjectKind::DataObject),
            ("CR-01", ObjectKind::Credential),
            ("MDO-01", ObjectKind::MetaDataObject),
            ("DO-02", ObjectKind::DataObject),
            ("CR-02", ObjectKind::Credential),
        ]
    );
    // the package's own checksums are over the decoded bytes
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&objs[0].bytes)),
        "c32fed6d9f6a9cc17c4a098a72f30928283255924fda4fc64d88dc964e5f7c29"
    );
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&objs[2].bytes)),
        "9f53019cc67f21fe8bd6c38d2e08bba9a704278c6f3b75a89b2c945f462a1f4a"
    );
    // a CAdES signature as a credential: its DER
    assert_eq!(&objs[1].bytes[..2], &[0x30, 0x80]);
}

#[test]
fn c2_records_prove_xaip_ok_sig_ok_version_v001() {
    let data = objects(&package("XAIP_OK_SIG_OK.xml"), "V001");
    for name in [
        "ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA384_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA512_DGN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-256_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-384_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-512_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA224_DFN_XAIP_OK_SIG_OK.ers",
        "ER_OK_SHA3-224_OPENSSL_XAIP_OK_SIG_OK.ers",
    ] {
        let r = verify_over(name, data.clone());
        assert!(r.data_checked, "{name}");
        assert_eq!(r.indication, Indication::Passed, "{name}: {}", r.to_text());
    }
}

#[test]
fn a_c2_record_with_a_retired_hash_covers_the_package_but_is_not_suitable() {
    let data = objects(&package("XAIP_OK_SIG_OK.xml"), "V001");
    {
        let name = "ER_OK_SHA1_DFN_XAIP_OK_SIG_OK.ers";
        let r = verify_over(name, data.clone());
        assert!(r.data_checked, "{name}");
        assert_ne!(
            r.sub_indication,
            Some(SubIndication::HashFailure),
            "{name}: the data must match: {}",
            r.to_text()
        );
        assert_ne!(r.indication, Indication::Passed, "{name}: {}", r.to_text());
    }
}

#[test]
fn c2_nok_records_fail_over_the_package() {
    let data = objects(&package("XAIP_OK_SIG_OK.xml"), "V001");
    for name in [
        "ER_NOK_SHA256_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA384_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA512_DGN_XAIP_OK_SIG_OK.ers",
        "ER_NOK_SHA3-256_OPENSSL_XAIP_OK_SIG_OK.ers",
        "ER_NOK_XAIP_OK_SIG_OK.ers",
    ] {
        let r = verify_over(name, data.clone());
        assert_eq!(r.indication, Indication::Failed, "{name}: {}", r.to_text());
    }
}

/// A copy of a C.2 package with `edit` applied, in `dir`.
fn altered(
    dir: &std::path::Path,
    name: &str,
    edit: impl FnOnce(String) -> String,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(c2(name)).unwrap();
    let out = dir.join(format!("altered-{name}"));
    let new = edit(text.clone());
    assert_ne!(new, text, "the edit must change the package");
    std::fs::write(&out, new).unwrap();
    out
}

#[test]
fn an_altered_package_fails() {
    let dir = tempdir();
    // one character of DO-01's base64 content ("DQpCdW5k..." -> "DQpDdW5k...")
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(">DQpCdW5k", ">DQpDdW5k", 1)
    });
    let x = Xaip::parse(&std::fs::read(&p).unwrap()).unwrap();
    let r = verify_over("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers", objects(&x, "V001"));
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());
    assert_eq!(r.sub_indication, Some(SubIndication::HashFailure));
    // one character of MDO-01's metadata (base64 "PG5z" -> "PG5y"): fails too
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(
            "<xaip:binaryMetaData MimeType=\"application/xml\">PG5z",
            "<xaip:binaryMetaData MimeType=\"application/xml\">PG5y",
            1,
        )
    });
    let x = Xaip::parse(&std::fs::read(&p).unwrap()).unwrap();
    let r = verify_over("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers", objects(&x, "V001"));
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());
    // an object taken out of the version's protected objects: the record
    // still proves the other four (RFC 4998 section 5.3: a record over a
    // data-object group proves each object of it; the first list may hold
    // more hashes than the objects checked), and the command line names
    // the objects it checked
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(
            "<xaip:protectedObjectPointer>CR-02</xaip:protectedObjectPointer>",
            "<xaip:unprotectedObjectPointer>CR-02</xaip:unprotectedObjectPointer>",
            1,
        )
    });
    let x = Xaip::parse(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(objects(&x, "V001").len(), 4);
    let r = verify_over("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers", objects(&x, "V001"));
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // white space and line breaks inside base64 do not change the bytes
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(">DQpCdW5k", ">DQpC\n\t\tdW5k", 1)
    });
    let x = Xaip::parse(&std::fs::read(&p).unwrap()).unwrap();
    let r = verify_over("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers", objects(&x, "V001"));
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
}

#[test]
fn bad_packages_get_clear_errors() {
    let x = package("XAIP_OK_SIG_OK.xml");
    assert!(matches!(
        x.protected_objects("V002", &References::default()),
        Err(XaipError::UnknownVersion { .. })
    ));
    let dir = tempdir();
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(
            "<xaip:protectedObjectPointer>CR-02</xaip:protectedObjectPointer>",
            "<xaip:protectedObjectPointer>CR-99</xaip:protectedObjectPointer>",
            1,
        )
    });
    let x = Xaip::parse(&std::fs::read(&p).unwrap()).unwrap();
    let e = x
        .protected_objects("V001", &References::default())
        .unwrap_err();
    assert!(e.to_string().contains("CR-99"), "{e}");
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen("dataObjectID=\"DO-02\"", "dataObjectID=\"DO-01\"", 1)
    });
    assert!(matches!(
        Xaip::parse(&std::fs::read(&p).unwrap()),
        Err(XaipError::DuplicateId(id)) if id == "DO-01"
    ));
    assert!(matches!(
        Xaip::parse(b"<x:other xmlns:x=\"urn:x\"/>"),
        Err(XaipError::NotXaip(_))
    ));
}

#[test]
fn lxaip_references_are_resolved_and_their_digests_checked() {
    let dir = tempdir();
    let pkg = dir.path().join("lxaip.xml");
    let doc = b"Bundesamt\r\n".to_vec();
    use sha2::Digest;
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&doc));
    std::fs::write(
        &pkg,
        format!(
            r#"<xaip:XAIP XAIPVersion="1.3.0" xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:asic="http://uri.etsi.org/02918/v1.2.1#">
<xaip:packageHeader packageID="P"><xaip:versionManifest VersionID="V001"><xaip:preservationInfo><xaip:retentionPeriod>2100-01-01</xaip:retentionPeriod></xaip:preservationInfo>
<xaip:packageInfoUnit packageUnitID="U"><xaip:protectedObjectPointer>DO-01</xaip:protectedObjectPointer></xaip:packageInfoUnit></xaip:versionManifest>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></xaip:packageHeader>
<xaip:dataObjectsSection><xaip:dataObject dataObjectID="DO-01"><xaip:xmlData><asic:DataObjectReference URI="doc.txt">
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue>
</asic:DataObjectReference></xaip:xmlData></xaip:dataObject></xaip:dataObjectsSection></xaip:XAIP>"#
        ),
    )
    .unwrap();
    let x = Xaip::parse(&std::fs::read(&pkg).unwrap()).unwrap();
    let refs = References {
        dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    // the file is missing
    assert!(x.protected_objects("V001", &refs).is_err());
    std::fs::write(dir.path().join("doc.txt"), &doc).unwrap();
    let objs = x.protected_objects("V001", &refs).unwrap();
    assert_eq!(objs[0].bytes, doc);
    // without a directory, and with a file that does not match
    assert!(x.protected_objects("V001", &References::default()).is_err());
    std::fs::write(dir.path().join("doc.txt"), b"other").unwrap();
    let e = x.protected_objects("V001", &refs).unwrap_err();
    assert!(e.to_string().contains("hashValueMismatch"), "{e}");
}

#[test]
fn xml_metadata_is_hashed_as_its_canonical_element() {
    // XAIP_NOK_ER.xml carries its metadata as XML: the whole metaDataObject,
    // exclusive C14N (the header's method), tags and all
    let x = package("XAIP_NOK_ER.xml");
    let objs = x.protected_objects("V001", &References::default()).unwrap();
    let mdo = objs.iter().find(|o| o.id == "MDO-01").unwrap();
    let text = String::from_utf8(mdo.bytes.clone()).unwrap();
    assert!(
        text.starts_with(
            r#"<xaip:metaDataObject xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip" metaDataID="MDO-01" relatedObjects="DO-01">"#
        ),
        "{text}"
    );
    assert!(text.contains("<ns1:Value>Der Wert für die Testzwecke</ns1:Value>"));
    assert!(text.ends_with("</xaip:metaDataObject>"));
    // the package's credential CR-05 is only an unprotected pointer
    assert!(objs.iter().all(|o| o.id != "CR-05"));
}

#[test]
fn cli_verifies_a_record_against_a_package() {
    let o = run(bewahr()
        .args(["verify", "--json", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml"))
        .arg("--er")
        .arg(c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")));
    let j = json(&o);
    assert_eq!(j["data_checked"], true, "{j}");
    assert_ne!(j["sub_indication"], "HASH_FAILURE", "{j}");
    // no trusted TSA given: indeterminate, not failed
    assert_eq!(o.status.code(), Some(2), "{j}");

    let o = run(bewahr()
        .args(["verify", "--json", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml"))
        .arg("--er")
        .arg(c2("ER_NOK_SHA256_DGN_XAIP_OK_SIG_OK.ers")));
    assert_eq!(o.status.code(), Some(1));

    // an unknown version: a usage error that names the versions there are
    let o = run(bewahr()
        .args(["verify", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml"))
        .args(["--version", "V009", "--er"])
        .arg(c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("V009") && err.contains("V001"), "{err}");
}

#[test]
fn cli_takes_the_record_from_the_package_or_an_xaip_evidence_record() {
    let dir = tempdir();
    let er = std::fs::read(c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&er);
    // the record as a credential of version V001 (unprotected: the group stays)
    let p = altered(dir.path(), "XAIP_OK_SIG_OK.xml", |t| {
        t.replacen(
            "\t</xaip:credentialsSection>",
            &format!(
                "\t\t<xaip:credential credentialID=\"ER-01\" relatedObjects=\"V001\"><xaip:evidenceRecord><xaip:asn1EvidenceRecord>{b64}</xaip:asn1EvidenceRecord></xaip:evidenceRecord></xaip:credential>\n\t</xaip:credentialsSection>"
            ),
            1,
        )
    });
    let o = run(bewahr().args(["verify", "--json", "--xaip"]).arg(&p));
    let j = json(&o);
    assert_eq!(j["data_checked"], true, "{j}");
    assert_ne!(j["sub_indication"], "HASH_FAILURE", "{j}");

    // S.4's detached form: xaip:evidenceRecord with AOID and VersionID
    let detached = dir.path().join("er.xml");
    let write = |version: &str| {
        std::fs::write(
            &detached,
            format!(
                "<xaip:evidenceRecord xmlns:xaip=\"http://www.bsi.bund.de/tr-esor/xaip\" VersionID=\"{version}\"><xaip:asn1EvidenceRecord>{b64}</xaip:asn1EvidenceRecord></xaip:evidenceRecord>"
            ),
        )
        .unwrap()
    };
    write("V001");
    let o = run(bewahr()
        .args(["verify", "--json", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml"))
        .arg("--er")
        .arg(&detached));
    assert_eq!(json(&o)["data_checked"], true);
    write("V002");
    let o = run(bewahr()
        .args(["verify", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml"))
        .arg("--er")
        .arg(&detached));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("V002"));

    // a package without a record and no --er
    let o = run(bewahr()
        .args(["verify", "--xaip"])
        .arg(c2("XAIP_OK_SIG_OK.xml")));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--er"));
}

#[test]
fn c2_packages_against_the_xaip_schema() {
    // the schema-invalid C.2 packages (XAIP_NOK / DXAIP_NOK cases);
    // DLXAIP_OK_UP_03a_003 is one despite its name (textInfo twice: C.2
    // expects DXAIP_NOK for it in M-UP-03a step 3)
    let invalid = [
        "XAIP_NOK.xml",
        "XAIP_NOK_VERSION.xml",
        "DXAIP_NOK.xml",
        "DLXAIP_NOK.xml",
        "DLXAIP_OK_UP_03a_003.xml",
    ];
    let mut seen = 0;
    for e in std::fs::read_dir(c2("")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !(name.contains("XAIP") && name.ends_with(".xml")) {
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&p).unwrap();
        let r = Xaip::parse_valid(&bytes);
        if invalid.contains(&name.as_str()) {
            assert!(
                matches!(r, Err(XaipError::Invalid(_))),
                "{name} must not be valid"
            );
        } else {
            assert!(r.is_ok(), "{name}: {}", r.err().unwrap());
        }
    }
    assert!(seen > 50, "{seen} packages");
    // without the schema, the first thing wrong is what parsing names
    let nok = std::fs::read(c2("XAIP_NOK.xml")).unwrap();
    assert!(matches!(Xaip::parse(&nok), Err(XaipError::DuplicateId(id)) if id == "DO-01"));
    let e = package("XAIP_NOK_VERSION.xml").validate().unwrap_err();
    assert!(e.to_string().contains("1.3.0"), "{e}");
    // the command line refuses an invalid package before any record
    let o = run(bewahr()
        .args(["verify", "--xaip"])
        .arg(c2("XAIP_NOK.xml"))
        .arg("--er")
        .arg(c2("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("tr-esor-xaip-v1.3.xsd"));
}
