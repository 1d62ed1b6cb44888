//! LXAIPs and DLXAIPs over S.4 with the upload and download interface
//! (TR-ESOR-E section 6, C.2 CONFIG_LXAIP: M-SU-01a, M-SU-02a, M-SU-06a,
//! M-UP-01a, M-RE-01a, M-EV-01a, M-DE-01a/02a, M-ADD-03a), through the
//! real router, with the C.2 packages byte for byte except for what the
//! test procedure itself changes: the AOID of a DLXAIP, and each
//! `REF_*` URI, which C.2 replaces by the reference the upload gave
//! ("A reference to TXT_DATA.txt, which has been uploaded in advance").
//!
//! C.2 names the uploaded files (`TXT_DATA_50.txt`, `PDF_DATA_50.pdf`,
//! ...) but ships only some of them; the others are the objects of C.2's
//! own XAIPs (the PDF and the metadata of `XAIP_OK_SIG_OK.xml`, the
//! signatures of its DXAIPs). Each reference is matched to its file by
//! the digest the package gives, so every package gets exactly the bytes
//! it was written for.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use bewahr::verify::Indication;

use crate::api::{archive, archive_with, count_versions, send, Db, TestArchive};
use crate::s4::{el, result, soap, unb64, ERROR, OK};
use crate::s4_xaip::{check_record, file, objects_of, package_in, package_text, submit};

const LXAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/lxaip/1.3";
const XAIP_FORMAT: &str = "http://www.bsi.bund.de/tr-esor/xaip/1.3";

/// Every file C.2's LXAIPs refer to, as bytes.
fn c2_files() -> Vec<Vec<u8>> {
    let x = bewahr_xaip::Xaip::parse(&file("XAIP_OK_SIG_OK.xml")).unwrap();
    let mut out: Vec<Vec<u8>> = x
        .protected_objects("V001", &Default::default())
        .unwrap()
        .into_iter()
        .map(|o| o.bytes)
        .collect();
    for name in [
        "TXT_DATA.txt",
        "TXT_DATA.txt.p7s",
        "TXT_DATA.txt.p7m",
        "TXT_DATA_NOK.txt.p7s",
        "TXT_DATA_NOK.txt.p7m",
        "XML_DATA.xml",
        "ER_NOK_SHA256_DGN_XAIP_OK.ers",
    ] {
        out.push(file(name));
    }
    // the detached signatures over XML_DATA.xml that C.2's DXAIPs carry
    for name in ["DXAIP_OK_SIG_OK.xml", "DXAIP_OK_SIG_NOK.xml"] {
        let t = String::from_utf8(file(name)).unwrap();
        let mut rest = t.as_str();
        while let Some(i) = rest.find("Base64Signature") {
            let after = &rest[i..];
            let start = after.find('>').unwrap() + 1;
            let end = after[start..].find('<').unwrap() + start;
            if end > start + 100 {
                out.push(unb64(
                    &after[start..end]
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>(),
                ));
            }
            rest = &after[end..];
        }
    }
    out
}

/// Uploads `bytes` as `who`: the status and the response document.
async fn upload_as(a: &TestArchive, who: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let req = Request::post("/s4/upload")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[who]))
        .body(Body::from(bytes))
        .unwrap();
    let (st, h, b) = send(&a.raw, req).await;
    let text = String::from_utf8(b).unwrap();
    assert_eq!(
        h[header::CONTENT_TYPE],
        "application/xml; charset=utf-8",
        "{text}"
    );
    if let Err(e) = bewahr::s4::message::document_is_valid(text.as_bytes()) {
        panic!("the upload response is not valid against the S.4 schema: {e}\n{text}");
    }
    (st, text)
}

/// Uploads a file; the URI of the reference the archive gave, checked
/// against the file's SHA-256.
async fn upload(a: &TestArchive, bytes: &[u8]) -> String {
    let (st, text) = upload_as(a, "submitter", bytes.to_vec()).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(el(&text, "ResultMajor"), Some(OK), "{text}");
    use sha2::Digest;
    assert_eq!(
        unb64(el(&text, "DigestValue").unwrap()),
        sha2::Sha256::digest(bytes).to_vec()
    );
    let at = text.find("URI=\"").unwrap() + 5;
    let uri = &text[at..at + text[at..].find('"').unwrap()];
    assert!(uri.starts_with("urn:bewahr:upload:"), "{uri}");
    uri.to_string()
}

/// A C.2 (D)LXAIP with each `REF_*` reference replaced by the URI of its
/// file, uploaded now (C.2 step "to be done manually"); `used` gives the
/// URIs of references uploaded before (a package that reuses one).
async fn prepared(
    a: &TestArchive,
    name: &str,
    used: &mut HashMap<String, String>,
) -> (String, HashMap<String, Vec<u8>>) {
    let mut text = package_text(&file(name));
    let x = bewahr_xaip::Xaip::parse(text.as_bytes()).unwrap();
    let pool = c2_files();
    let mut files = HashMap::new();
    for r in x.references() {
        if r.digest_value.is_none() {
            // M-SU-02a's reference without a digest: refused as it is
            continue;
        }
        let uri = match used.get(&r.uri) {
            Some(u) => u.clone(),
            None => {
                let f = pool
                    .iter()
                    .find(|f| {
                        bewahr_xaip::package::digest_of(&r.digest_method, f) == r.digest_value
                    })
                    .unwrap_or_else(|| panic!("{name}: no C.2 file for {}", r.uri));
                let u = upload(a, f).await;
                files.insert(u.clone(), f.clone());
                used.insert(r.uri.clone(), u.clone());
                u
            }
        };
        text = text.replacen(&format!("URI=\"{}\"", r.uri), &format!("URI=\"{uri}\""), 1);
    }
    (text, files)
}

async fn update(a: &TestArchive, package: &str) -> String {
    let (st, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveUpdateRequest RequestID=\"UP\">{package}</tr:ArchiveUpdateRequest>"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    resp
}

fn with_aoid(package: &str, aoid: &str) -> String {
    assert!(package.contains("TO_BE_CHANGED"));
    package.replacen("TO_BE_CHANGED", aoid, 1)
}

async fn retrieve(a: &TestArchive, aoid: &str, versions: &str, format: Option<&str>) -> String {
    let optional = format
        .map(|f| {
            format!("<dss:OptionalInputs><pres:POFormat>{f}</pres:POFormat></dss:OptionalInputs>")
        })
        .unwrap_or_default();
    let (st, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest>{optional}<tr:AOID>{aoid}</tr:AOID>{versions}</tr:ArchiveRetrievalRequest>"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    resp
}

async fn download(a: &TestArchive, who: &str, uri: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::get(format!("/s4/download?uri={uri}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[who]))
        .body(Body::empty())
        .unwrap();
    let (st, _, b) = send(&a.raw, req).await;
    (st, b)
}

async fn c2_lxaip_cases(db: Db) {
    let Some(a) = archive(db).await else { return };
    let mut used = HashMap::new();

    // M-SU-01a: LXAIP_OK and LXAIP_OK_SIG_OK without AOID
    let (lxaip1, files1) = prepared(&a, "LXAIP_OK_SU_01a_005.xml", &mut used).await;
    let resp = submit(&a, lxaip1.as_bytes()).await;
    result(&resp, OK, None);
    let aoid1 = el(&resp, "AOID").unwrap().to_string();
    let (lxaip2, _) = prepared(&a, "LXAIP_OK_SIG_OK_SU_01a_011.xml", &mut used).await;
    let resp = submit(&a, lxaip2.as_bytes()).await;
    result(&resp, OK, None);
    let aoid2 = el(&resp, "AOID").unwrap().to_string();
    // M-VE-01a: the archived LXAIP verified, its files the archive's, and
    // the version's record given beside it
    let (_, resp) = soap(
        &a,
        "auditor",
        &format!(
            "<tr:ArchiveEvidenceRequest><tr:AOID>{aoid2}</tr:AOID></tr:ArchiveEvidenceRequest>"
        ),
    )
    .await;
    result(&resp, OK, None);
    let record = &resp[resp.find("<xaip:evidenceRecord").unwrap()
        ..resp.find("</xaip:evidenceRecord>").unwrap() + "</xaip:evidenceRecord>".len()];
    let resp = retrieve(&a, &aoid2, "", Some(LXAIP_FORMAT)).await;
    result(&resp, OK, None);
    let archived = package_in(&resp).to_string();
    assert!(archived.contains("DataObjectReference"), "{archived}");
    let (_, resp) = soap(
        &a,
        "auditor",
        &format!(
            "<dss:VerifyRequest RequestID=\"VE\"><dss:InputDocuments><dss:Document><dss:InlineXML>{archived}</dss:InlineXML></dss:Document></dss:InputDocuments><dss:SignatureObject><dss:Other>{}</dss:Other></dss:SignatureObject></dss:VerifyRequest>",
            record.replacen("<xaip:evidenceRecord", "<xaip:evidenceRecord xmlns:xaip=\"http://www.bsi.bund.de/tr-esor/xaip\"", 1)
        ),
    )
    .await;
    result(&resp, OK, None);

    let before = count_versions(&a).await;
    // M-SU-02a: a reference without its DigestValue (schema)
    let (nok, _) = prepared(&a, "LXAIP_NOK.xml", &mut used).await;
    result(
        &submit(&a, nok.as_bytes()).await,
        ERROR,
        Some("arl/XAIP_NOK"),
    );
    // M-SU-06a: the evidence record is over another PDF
    let (nok_er, _) = prepared(&a, "LXAIP_NOK_ER_SU_06a_001.xml", &mut used).await;
    result(
        &submit(&a, nok_er.as_bytes()).await,
        ERROR,
        Some("arl/XAIP_NOK_ER"),
    );
    // a file that is not the one the reference's digest names
    let (mut wrong, _) = prepared(&a, "LXAIP_OK_UP_03a_001.xml", &mut used).await;
    let pdf_uri = used["REF_PDF_DATA_55"].clone();
    let txt_uri = upload(&a, &file("TXT_DATA.txt")).await;
    wrong = wrong.replacen(&pdf_uri, &txt_uri, 1);
    result(
        &submit(&a, wrong.as_bytes()).await,
        ERROR,
        Some("arl/XAIP_NOK"),
    );
    assert_eq!(
        count_versions(&a).await,
        before,
        "refused packages leave nothing"
    );

    // M-ADD-03a: a reference serves one package, also a refused one
    let (add1, _) = prepared(&a, "LXAIP_OK_ADD_03a_001.xml", &mut used).await;
    let resp = submit(&a, add1.as_bytes()).await;
    result(&resp, OK, None);
    let aoid300 = el(&resp, "AOID").unwrap().to_string();
    let resp = submit(&a, add1.as_bytes()).await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    assert!(resp.contains("used by another package"), "{resp}");
    let (add3, _) = prepared(&a, "LXAIP_NOK_ER_ADD_03a_003.xml", &mut used).await;
    result(
        &submit(&a, add3.as_bytes()).await,
        ERROR,
        Some("arl/XAIP_NOK_ER"),
    );
    let (add4, _) = prepared(&a, "LXAIP_OK_ADD_03a_004.xml", &mut used).await;
    result(
        &submit(&a, add4.as_bytes()).await,
        ERROR,
        Some("al/common#parameterError"),
    );
    let (add6, _) = prepared(&a, "LXAIP_OK_ADD_03a_006.xml", &mut used).await;
    let resp = submit(&a, add6.as_bytes()).await;
    result(&resp, OK, None);
    let aoid301 = el(&resp, "AOID").unwrap().to_string();
    let (add5, _) = prepared(&a, "DLXAIP_OK_ADD_03a_005.xml", &mut used).await;
    let resp = update(&a, &with_aoid(&add5, &aoid300)).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"), "{resp}");
    let (add7, _) = prepared(&a, "DLXAIP_OK_ADD_03a_007.xml", &mut used).await;
    result(
        &update(&a, &with_aoid(&add7, &aoid301)).await,
        ERROR,
        Some("al/common#parameterError"),
    );
    // another tenant's reference is unknown to this one
    let (st, other) = upload_as(&a, "t2-submitter", file("TXT_DATA.txt")).await;
    assert_eq!(st, StatusCode::OK);
    let at = other.find("URI=\"").unwrap() + 5;
    let other_uri = &other[at..at + other[at..].find('"').unwrap()];
    let (fresh, _) = prepared(&a, "LXAIP_OK_UP_09a_001.xml", &mut used).await;
    let theirs = fresh.replacen(&used["REF_TXT_DATA_58"], other_uri, 1);
    let resp = submit(&a, theirs.as_bytes()).await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    assert!(resp.contains("no upload of this tenant"), "{resp}");

    // M-UP-01a: V002 (a SHA3-512 reference) and V003 (SHA-512 references)
    let (up2, _) = prepared(&a, "DLXAIP_OK_UP_01a_002.xml", &mut used).await;
    let resp = update(&a, &with_aoid(&up2, &aoid1)).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"), "{resp}");
    // C.2 defect: the V003 DLXAIP reuses V002's packageUnitID PKDIUID-02,
    // so the versions could not be given back as one (schema-valid)
    // package: refused as TR-ESOR-E's DXAIP_NOK_ID, then sent with a
    // unit ID of its own (and its references uploaded again: the refused
    // package spent them)
    let (up3, _) = prepared(&a, "DLXAIP_OK_2_UP_01a_004.xml", &mut used).await;
    let resp = update(&a, &with_aoid(&up3, &aoid1)).await;
    result(&resp, ERROR, Some("arl/DXAIP_NOK_ID"));
    assert!(resp.contains("PKDIUID-02"), "{resp}");
    used.retain(|k, _| !k.ends_with("_54"));
    let (up3, _) = prepared(&a, "DLXAIP_OK_2_UP_01a_004.xml", &mut used).await;
    let up3 = up3.replacen(
        "packageUnitID=\"PKDIUID-02\"",
        "packageUnitID=\"PKDIUID-03\"",
        1,
    );
    let resp = update(&a, &with_aoid(&up3, &aoid1)).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V003"), "{resp}");

    // M-RE-01a: as submitted (POFormat lxaip), and as the XAIP it stands
    // for (POFormat xaip, and by default)
    let resp = retrieve(
        &a,
        &aoid1,
        "<tr:VersionID>V001</tr:VersionID>",
        Some(LXAIP_FORMAT),
    )
    .await;
    result(&resp, OK, None);
    let l = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
    let refs: Vec<String> = l.references().into_iter().map(|r| r.uri).collect();
    assert_eq!(refs.len(), 3);
    assert!(refs.iter().all(|u| files1.contains_key(u)), "{refs:?}");
    let all = retrieve(
        &a,
        &aoid1,
        "<tr:VersionID>ALL</tr:VersionID>",
        Some(XAIP_FORMAT),
    )
    .await;
    result(&all, OK, None);
    let default = retrieve(&a, &aoid1, "<tr:VersionID>ALL</tr:VersionID>", None).await;
    assert_eq!(package_in(&default), package_in(&all));
    let x = bewahr_xaip::Xaip::parse_valid(package_in(&all).as_bytes()).unwrap();
    assert!(x.references().is_empty(), "{}", package_in(&all));
    assert_eq!(x.versions(), ["V001", "V002", "V003"]);
    // M-EV-01a: each version's record proves that version's objects of
    // the XAIP, whose objects are the uploaded files
    for v in ["V001", "V002", "V003"] {
        let (_, resp) = soap(
            &a,
            "auditor",
            &format!("<tr:ArchiveEvidenceRequest><tr:AOID>{aoid1}</tr:AOID><tr:VersionID>{v}</tr:VersionID></tr:ArchiveEvidenceRequest>"),
        )
        .await;
        result(&resp, OK, None);
        let er = unb64(el(&resp, "asn1EvidenceRecord").unwrap());
        let objects = objects_of(&x, v);
        let r = check_record(&a, &er, objects.clone());
        assert_eq!(r.indication, Indication::Passed, "{v}: {}", r.to_text());
        if v == "V001" {
            let mut sorted = objects;
            sorted.sort();
            let mut uploaded: Vec<Vec<u8>> = files1.values().cloned().collect();
            uploaded.sort();
            assert_eq!(sorted, uploaded, "V001 protects exactly the uploaded files");
        }
    }

    // the download interface: the file of a reference of an archived package
    let (st, got) = download(&a, "auditor", &refs[0]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got, files1[&refs[0]]);
    for (who, uri) in [
        ("t2-auditor", refs[0].as_str()),
        ("auditor", "urn:bewahr:upload:00"),
        // uploaded, but no archived package refers to it
        ("auditor", txt_uri.as_str()),
    ] {
        let (st, body) = download(&a, who, uri).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{who} {uri}");
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("arl/unknownURI"), "{text}");
        bewahr::s4::message::document_is_valid(text.as_bytes()).unwrap();
    }

    // M-DE-02a: deleted, its files go with it
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!("<tr:ArchiveDeletionRequest><dss:OptionalInputs><tr:ReasonOfDeletion><tr:RequestorName>Test</tr:RequestorName><tr:RequestInfo>M-DE-02a</tr:RequestInfo></tr:ReasonOfDeletion></dss:OptionalInputs><tr:AOID>{aoid1}</tr:AOID></tr:ArchiveDeletionRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let (st, _) = download(&a, "auditor", &refs[0]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn c2_lxaip_sqlite() {
    c2_lxaip_cases(Db::Sqlite).await;
}

#[tokio::test]
async fn c2_lxaip_postgres() {
    c2_lxaip_cases(Db::Postgres).await;
}

/// TR-ESOR-E 6.1: no packages and no ASiC-AIPs by upload; nothing empty;
/// only the submitter's role uploads.
#[tokio::test]
async fn the_upload_refuses_packages_containers_of_packages_and_other_roles() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    for name in [
        "XAIP_OK.xml",
        "DXAIP_OK.xml",
        "LXAIP_OK.xml",
        "ASIC_AIP_LXAIP_OK_SIG_OK.asice",
    ] {
        let (st, text) = upload_as(&a, "submitter", file(name)).await;
        assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {text}");
        assert!(
            text.contains("arl/uploadDataFormatNotSupported"),
            "{name}: {text}"
        );
    }
    // an ASiC that holds no package is a file like any other
    let (st, text) = upload_as(&a, "submitter", file("ASIC_E_CADES_OK.asice")).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let (st, text) = upload_as(&a, "submitter", vec![]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{text}");
    let (st, text) = upload_as(&a, "auditor", file("TXT_DATA.txt")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("al/common#noPermission"), "{text}");
}

/// The sweeper keeps what an archived XAIP's evidence needs (its objects
/// are members of the version's group, not its document) and removes the
/// uploads no package used once their time ran out; an expired reference
/// is refused with the reason.
#[tokio::test]
async fn the_sweeper_keeps_package_objects_and_removes_expired_uploads() {
    let Some(a) = archive_with(
        Db::Sqlite,
        |c| {
            c.store.sweep_grace_secs = 0;
            c.server.lxaip_upload_ttl_hours = 0;
        },
        None,
    )
    .await
    else {
        return;
    };
    let resp = submit(&a, &file("XAIP_OK_SIG_OK.xml")).await;
    result(&resp, OK, None);
    let aoid = el(&resp, "AOID").unwrap().to_string();
    let unused = upload(&a, &file("TXT_DATA.txt.p7m")).await;
    let swept = a.state().sweeper.run_now().await.unwrap();
    assert!(swept.error.is_none(), "{swept:?}");
    assert_eq!(swept.uploads_expired, 1, "{swept:?}");
    assert!(swept.removed >= 1, "the unused upload's content: {swept:?}");
    // the package's objects are still there: retrieval, evidence, and the
    // store holds each object's bytes
    let resp = retrieve(&a, &aoid, "", None).await;
    result(&resp, OK, None);
    let x = bewahr_xaip::Xaip::parse(package_in(&resp).as_bytes()).unwrap();
    use sha2::Digest;
    for o in objects_of(&x, "V001") {
        let sha: [u8; 32] = sha2::Sha256::digest(&o).into();
        assert!(
            a.state().ingest.store.read_all(&sha).unwrap().is_some(),
            "a protected object of the XAIP was swept"
        );
    }
    let p7m: [u8; 32] = sha2::Sha256::digest(file("TXT_DATA.txt.p7m")).into();
    assert!(a.state().ingest.store.read_all(&p7m).unwrap().is_none());
    // the expired reference in a package
    let mut used = HashMap::from([("REF_CADES_ATT_TXT_DATA_53".to_string(), unused)]);
    let (dlxaip, _) = prepared(&a, "DLXAIP_OK_UP_01a_002.xml", &mut used).await;
    let resp = update(&a, &with_aoid(&dlxaip, &aoid)).await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    assert!(resp.contains("expired unused"), "{resp}");
}

async fn verify(a: &TestArchive, package: &str, beside: &str) -> String {
    let (st, resp) = soap(
        a,
        "auditor",
        &format!("<dss:VerifyRequest RequestID=\"VE\"><dss:InputDocuments><dss:Document><dss:InlineXML>{package}</dss:InlineXML></dss:Document></dss:InputDocuments>{beside}</dss:VerifyRequest>"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    resp
}

/// C.2 M-UP-03a, M-UP-07a, M-UP-09a (with M-RE-01a step 7), M-VE-02a,
/// M-VE-04a, M-VE-05a and M-DE-01a step 1.
#[tokio::test]
async fn c2_dlxaip_updates_verification_and_deletion() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let mut used = HashMap::new();
    // M-UP-03a: AOID-04a, then a DLXAIP against the schema (textInfo twice)
    let (l, _) = prepared(&a, "LXAIP_OK_UP_03a_001.xml", &mut used).await;
    let resp = submit(&a, l.as_bytes()).await;
    result(&resp, OK, None);
    let aoid4 = el(&resp, "AOID").unwrap().to_string();
    let before = count_versions(&a).await;
    let (d, _) = prepared(&a, "DLXAIP_OK_UP_03a_003.xml", &mut used).await;
    result(
        &update(&a, &with_aoid(&d, &aoid4)).await,
        ERROR,
        Some("arl/DXAIP_NOK"),
    );
    // M-UP-07a: a p7m posing as the version's evidence record
    let (d, _) = prepared(&a, "DLXAIP_NOK_ER.xml", &mut used).await;
    result(
        &update(&a, &with_aoid(&d, &aoid4)).await,
        ERROR,
        Some("arl/DXAIP_NOK_ER"),
    );
    assert_eq!(
        count_versions(&a).await,
        before,
        "refused updates leave nothing"
    );

    // M-UP-09a: an unknown optional input refuses the update (and spends
    // nothing: the request is refused before its package is read), then
    // V002 and V003
    let (l, _) = prepared(&a, "LXAIP_OK_UP_09a_001.xml", &mut used).await;
    let resp = submit(&a, l.as_bytes()).await;
    result(&resp, OK, None);
    let aoid5 = el(&resp, "AOID").unwrap().to_string();
    let (d3, _) = prepared(&a, "DLXAIP_OK_UP_09a_003.xml", &mut used).await;
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            "<tr:ArchiveUpdateRequest>{}{}</tr:ArchiveUpdateRequest>",
            crate::s4_xaip::UNKNOWN_OPTIONAL_INPUT,
            with_aoid(&d3, &aoid5)
        ),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
    let resp = update(&a, &with_aoid(&d3, &aoid5)).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"), "{resp}");
    // the C.2 defect of M-UP-01a again: V003 reuses V002's PKDIUID-02
    let (d6, _) = prepared(&a, "DLXAIP_OK_2_UP_09a_006.xml", &mut used).await;
    result(
        &update(&a, &with_aoid(&d6, &aoid5)).await,
        ERROR,
        Some("arl/DXAIP_NOK_ID"),
    );
    used.retain(|k, _| !k.ends_with("_60-1"));
    let (d6, _) = prepared(&a, "DLXAIP_OK_2_UP_09a_006.xml", &mut used).await;
    let d6 = d6.replacen(
        "packageUnitID=\"PKDIUID-02\"",
        "packageUnitID=\"PKDIUID-03\"",
        1,
    );
    let resp = update(&a, &with_aoid(&d6, &aoid5)).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V003"), "{resp}");
    // M-RE-01a step 7: all versions as one LXAIP, valid against the schema
    let resp = retrieve(
        &a,
        &aoid5,
        "<tr:VersionID>ALL</tr:VersionID>",
        Some(LXAIP_FORMAT),
    )
    .await;
    result(&resp, OK, None);
    let x = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
    assert_eq!(x.versions(), ["V001", "V002", "V003"]);

    // M-VE-04a: LXAIPs whose files are uploaded, not yet submitted. C.2
    // defect: the reference to "TXT_DATA_65_NOK.txt.p7s" carries the
    // digest of the valid TXT_DATA.txt.p7s, so the files its digests name
    // make a valid package. The test does what C.2's upload step means:
    // it uploads the invalid signature (TXT_DATA_NOK.txt.p7s, over another
    // text) and puts the reference the upload gave, digest included, into
    // the package.
    let (sig_nok, _) = prepared(&a, "LXAIP_OK_SIG_NOK_VE_04a_001.xml", &mut used).await;
    let as_is = verify(&a, &sig_nok, "").await;
    result(&as_is, OK, None);
    let bad = file("TXT_DATA_NOK.txt.p7s");
    let bad_uri = upload(&a, &bad).await;
    let sig_nok = {
        use sha2::Digest;
        let good_digest = "cPMTEfFms2y/UkzT5/gUqHI1WY/jSR+AbNo9QUSm2rY=";
        assert!(sig_nok.contains(good_digest));
        sig_nok
            .replacen(&used["REF_CADES_DET_NOK_TXT_DATA_65"], &bad_uri, 1)
            .replacen(
                good_digest,
                &base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bad)),
                1,
            )
    };
    result(
        &verify(&a, &sig_nok, "").await,
        ERROR,
        Some("arl/XAIP_NOK_SIG"),
    );
    let (er_nok, _) = prepared(&a, "LXAIP_OK_SIG_OK_VE_04a_002.xml", &mut used).await;
    let record = format!(
        "<dss:SignatureObject><dss:Other><xaip:evidenceRecord AOID=\"AOID-020202-030303\" VersionID=\"V001\"><xaip:asn1EvidenceRecord>{}</xaip:asn1EvidenceRecord></xaip:evidenceRecord></dss:Other></dss:SignatureObject>",
        base64::engine::general_purpose::STANDARD.encode(file("ER_NOK_XAIP_OK_SIG_OK.ers"))
    );
    result(
        &verify(&a, &er_nok, &record).await,
        ERROR,
        Some("arl/XAIP_NOK_ER"),
    );
    // verified, not spent: the references still serve a submission
    let resp = submit(&a, sig_nok.as_bytes()).await;
    result(&resp, ERROR, Some("arl/XAIP_NOK_SIG"));

    // M-VE-02a / M-VE-05a: DLXAIPs over AOID-101 (XAIP_OK_SIG_OK)
    let resp = submit(&a, &file("XAIP_OK_SIG_OK.xml")).await;
    result(&resp, OK, None);
    let aoid101 = el(&resp, "AOID").unwrap().to_string();
    let (ok, _) = prepared(&a, "DLXAIP_OK_SIG_OK.xml", &mut used).await;
    result(&verify(&a, &with_aoid(&ok, &aoid101), "").await, OK, None);
    let (nok, _) = prepared(&a, "DLXAIP_OK_SIG_NOK.xml", &mut used).await;
    result(
        &verify(&a, &with_aoid(&nok, &aoid101), "").await,
        ERROR,
        Some("arl/DXAIP_NOK_SIG"),
    );

    // M-DE-01a step 1: an LXAIP in its retention period needs a reason
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            "<tr:ArchiveDeletionRequest><tr:AOID>{aoid4}</tr:AOID></tr:ArchiveDeletionRequest>"
        ),
    )
    .await;
    result(&resp, ERROR, Some("arl/missingReasonOfDeletion"));
}
