//! TR-ESOR S.4 over SOAP through the real router: the WSDL and its
//! schemas, RetrieveInfo as C.2 M-RI-01..03 ask it, ArchiveData
//! submissions and their retrieval, evidence, trace and deletion, refused
//! and malformed requests. Every response is checked against
//! `tr-esor-interfaces-v1.3.xsd`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use bewahr::s4::message::response_is_valid;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};

use crate::api::{archive, archive_with, count_versions, send, Db, TestArchive};
use crate::support::c2;

const NS: &str = concat!(
    r#"xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/""#,
    r#" xmlns:tr="http://www.bsi.bund.de/tr-esor/api/1.3""#,
    r#" xmlns:dss="urn:oasis:names:tc:dss:1.0:core:schema""#,
    r#" xmlns:xaip="http://www.bsi.bund.de/tr-esor/xaip""#,
    r#" xmlns:pres="http://uri.etsi.org/19512/v1.1.2#""#
);
pub const OK: &str = "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#ok";
pub const ERROR: &str = "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#error";
const WARNING: &str = "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#warning";
const MINOR: &str = "http://www.bsi.bund.de/tr-esor/api/1.3/resultminor/";
const ACTIVE: &str = "http://www.bsi.bund.de/tr-esor/V1.3/profile/S.4/v1.0";
const INACTIVE: &str = "http://www.bsi.bund.de/tr-esor/V1.3/profile/S.4/V0.5";
const CADES: &str = "http://uri.etsi.org/ades/CAdES";
const UNKNOWN_INPUT: &str = r#"<uoi:SomethingUnknown xmlns:uoi="http://bsi.bund.de/tr-esoe/unknownOptionalInput">?</uoi:SomethingUnknown>"#;

/// An S.4 call as `who`; the response envelope as text.
pub async fn soap(a: &TestArchive, who: &str, body: &str) -> (StatusCode, String) {
    let env = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope {NS}><soap:Header/><soap:Body>{body}</soap:Body></soap:Envelope>"#
    );
    raw(a, Some(who), env.into_bytes()).await
}

async fn raw(a: &TestArchive, who: Option<&str>, env: Vec<u8>) -> (StatusCode, String) {
    let mut r = Request::post("/s4").header(header::CONTENT_TYPE, "text/xml; charset=utf-8");
    if let Some(w) = who {
        r = r.header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[w]));
    }
    let (st, h, b) = send(&a.raw, r.body(Body::from(env)).unwrap()).await;
    if st == StatusCode::OK || st == StatusCode::INTERNAL_SERVER_ERROR {
        assert_eq!(h[header::CONTENT_TYPE], "text/xml; charset=utf-8");
    }
    (st, String::from_utf8(b).unwrap())
}

/// The text of each element `<prefix:local ...>` (any prefix), in order.
fn all<'a>(xml: &'a str, local: &str) -> Vec<&'a str> {
    let mut out = vec![];
    let mut rest = xml;
    let needle = format!(":{local}");
    while let Some(i) = rest.find(&needle) {
        let after = &rest[i + needle.len()..];
        let opening = rest[..i].rfind('<').is_some_and(|lt| {
            !rest[lt..i].contains(|c: char| c.is_whitespace() || c == '/' || c == '>')
        });
        if !opening || !after.starts_with(['>', ' ']) {
            rest = after;
            continue;
        }
        let start = after.find('>').unwrap() + 1;
        if after[..start].ends_with("/>") {
            out.push("");
            rest = &after[start..];
            continue;
        }
        let end = start + after[start..].find("</").unwrap();
        out.push(&after[start..end]);
        rest = &after[end..];
    }
    out
}

pub fn el<'a>(xml: &'a str, local: &str) -> Option<&'a str> {
    all(xml, local).into_iter().next()
}

/// Asserts the response's result (major, and minor below `resultminor/`)
/// and that the response is valid against the S.4 schema.
pub fn result(resp: &str, major: &str, minor: Option<&str>) {
    assert_eq!(el(resp, "ResultMajor"), Some(major), "{resp}");
    assert_eq!(
        el(resp, "ResultMinor"),
        minor.map(|m| format!("{MINOR}{m}")).as_deref(),
        "{resp}"
    );
    if let Err(e) = response_is_valid(resp.as_bytes()) {
        panic!("the response is not valid against the S.4 schema: {e}\n{resp}");
    }
}

/// The `asn1EvidenceRecord`s ArchiveEvidence gives for `aoid`, in order.
pub async fn evidence_records(a: &TestArchive, aoid: &str) -> Vec<Vec<u8>> {
    let (_, resp) = soap(
        a,
        "auditor",
        &format!(
            "<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveEvidenceRequest>"
        ),
    )
    .await;
    result(&resp, OK, None);
    resp.split("<xaip:asn1EvidenceRecord>")
        .skip(1)
        .map(|r| unb64(r.split("</xaip:asn1EvidenceRecord>").next().unwrap()))
        .collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

async fn submit_data(a: &TestArchive, ty: &str, bytes: &[u8]) -> String {
    let (st, resp) = soap(
        a,
        "submitter",
        &format!(
            r#"<tr:ArchiveSubmissionRequest RequestID="SU-1"><tr:ArchiveData Type="{ty}" archiveDataID="AD-01" MimeType="application/pkcs7-mime">{}</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#,
            b64(bytes)
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    result(&resp, OK, None);
    assert!(resp.contains(r#"RequestID="SU-1""#), "{resp}");
    el(&resp, "AOID").unwrap().to_string()
}

#[tokio::test]
async fn the_wsdl_and_every_schema_it_imports_are_served() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let fetch = |uri: String| {
        let r = a.raw.clone();
        async move {
            let req = Request::get(uri.as_str())
                .header(header::HOST, "archiv.example:8443")
                .body(Body::empty())
                .unwrap();
            let (st, _, b) = send(&r, req).await;
            assert_eq!(st, StatusCode::OK, "{uri}");
            String::from_utf8(b).unwrap()
        }
    };
    // no token needed: the WSDL is what a client builds itself from
    let wsdl = fetch("/s4?wsdl".into()).await;
    assert!(wsdl.contains(r#"<soap:address location="http://archiv.example:8443/s4"/>"#));
    for op in [
        "RetrieveInfo",
        "ArchiveSubmission",
        "ArchiveTrace",
        "Verify",
    ] {
        assert!(wsdl.contains(&format!(
            r#"soapAction="http://www.bsi.bund.de/tr-esor/{op}""#
        )));
    }
    // follow every schemaLocation from the WSDL, as a client would
    let mut todo: Vec<String> = vec![];
    let mut seen = std::collections::BTreeSet::new();
    let locations = |base: &str, text: &str| -> Vec<String> {
        bewahr::s4::wsdl::imports(text)
            .into_iter()
            .map(|loc| resolve(&url_dir(base), &loc))
            // the few absolute locations in BSI's files point at their publishers
            .filter(|u| u.starts_with("http://archiv.example:8443/"))
            .collect()
    };
    todo.extend(locations("http://archiv.example:8443/s4", &wsdl));
    assert_eq!(todo.len(), 1);
    while let Some(u) = todo.pop() {
        if !seen.insert(u.clone()) {
            continue;
        }
        let path = u
            .strip_prefix("http://archiv.example:8443")
            .unwrap_or_else(|| panic!("{u} is not on this server"));
        let text = fetch(path.to_string()).await;
        todo.extend(locations(&u, &text));
    }
    assert!(seen.len() > 20, "{seen:?}");
    // and nothing else is served from there
    let (st, _, _) = send(&a.raw, crate::api::get("/s4/schemas/../../etc/passwd")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = send(
        &a.raw,
        crate::api::get("/s4/schemas/tr-esor-1.3/tr-esor-S-4-v1.3.wsdl"),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

fn url_dir(u: &str) -> String {
    u[..u.rfind('/').unwrap() + 1].to_string()
}

fn resolve(dir: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let (origin, path) = dir.split_at(dir.find("//").unwrap() + 2);
    let (host, path) = path.split_at(path.find('/').unwrap());
    let mut parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for seg in loc.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("{origin}{host}/{}", parts.join("/"))
}

/// C.2 M-RI-01, M-RI-02 and M-RI-03.
#[tokio::test]
async fn retrieve_info_as_c2_asks_it() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let ri = |inner: String| format!(r#"<tr:RetrieveInfoRequest>{inner}</tr:RetrieveInfoRequest>"#);
    let pid = |p: &str| format!("<tr:ProfileIdentifier>{p}</tr:ProfileIdentifier>");
    let status = |s: &str| format!("<tr:Status>{s}</tr:Status>");
    for (inner, want) in [
        (pid(ACTIVE), vec![ACTIVE]),
        (status("inactive"), vec![INACTIVE]),
        (status("all"), vec![ACTIVE, INACTIVE]),
        (status("active"), vec![ACTIVE]),
        (pid(ACTIVE) + &status("active"), vec![ACTIVE]),
        (pid(ACTIVE) + &status("inactive"), vec![]),
        (pid(ACTIVE) + &status("all"), vec![ACTIVE]),
        (String::new(), vec![ACTIVE]),
    ] {
        let (st, resp) = soap(&a, "submitter", &ri(inner.clone())).await;
        assert_eq!(st, StatusCode::OK);
        result(&resp, OK, None);
        assert_eq!(all(&resp, "ProfileIdentifier"), want, "{inner}");
    }
    let (_, resp) = soap(&a, "auditor", &ri(pid(ACTIVE))).await;
    assert!(resp.contains("<pres:SchemeIdentifier>http://uri.etsi.org/19512/scheme/pds+pgd+aug+wst+ers</pres:SchemeIdentifier>"));
    assert!(
        resp.contains("<pres:PreservationStorageModel>WithStorage</pres:PreservationStorageModel>")
    );
    assert!(resp.contains("<md:FormatID>urn:ietf:rfc:4998</md:FormatID>"));
    // M-RI-02
    let (_, resp) = soap(
        &a,
        "submitter",
        &ri(pid(
            "http://www.bsi.bund.de/tr-esor/V1.3000/profile/S.4/V1.0",
        )),
    )
    .await;
    result(&resp, ERROR, Some("arl/unknownURI"));
    // M-RI-03
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            r#"<tr:RetrieveInfoRequest><dss:OptionalInputs>{UNKNOWN_INPUT}</dss:OptionalInputs>{}</tr:RetrieveInfoRequest>"#,
            pid(ACTIVE)
        ),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
    assert!(all(&resp, "ProfileIdentifier").is_empty());
}

/// C.2 M-SU-08 (CAdES), M-RE, M-EV, M-DE and ArchiveTrace on one object,
/// on SQLite and PostgreSQL.
async fn archive_data_round_trip(db: Db) {
    let Some(a) = archive(db).await else { return };
    let doc = std::fs::read(c2("TXT_DATA.txt.p7m")).unwrap();
    let aoid = submit_data(&a, CADES, &doc).await;

    // retrieval: an XAIP with the document, byte for byte
    let req = |inner: &str| {
        format!(
            r#"<tr:ArchiveRetrievalRequest><tr:AOID>{aoid}</tr:AOID>{inner}</tr:ArchiveRetrievalRequest>"#
        )
    };
    let (st, resp) = soap(&a, "submitter", &req("")).await;
    assert_eq!(st, StatusCode::OK);
    result(&resp, OK, None);
    assert_eq!(el(&resp, "AOID"), Some(aoid.as_str()));
    assert!(resp.contains(r#"<xaip:versionManifest VersionID="V001">"#));
    assert!(resp.contains(r#"<xaip:dataObject dataObjectID="AD-01">"#));
    assert_eq!(unb64(el(&resp, "binaryData").unwrap()), doc);
    // with its evidence record, which proves the document
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            r#"<tr:ArchiveRetrievalRequest><dss:OptionalInputs><tr:IncludeERS>urn:ietf:rfc:4998</tr:IncludeERS></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID><tr:VersionID>ALL</tr:VersionID></tr:ArchiveRetrievalRequest>"#
        ),
    )
    .await;
    result(&resp, OK, None);
    let er = unb64(el(&resp, "asn1EvidenceRecord").unwrap());
    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![doc.clone()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // unknown versions: named, an error when nothing is left
    let (_, resp) = soap(
        &a,
        "auditor",
        &req("<tr:VersionID>V001</tr:VersionID><tr:VersionID>V007</tr:VersionID>"),
    )
    .await;
    result(
        &resp,
        WARNING,
        Some("arl/requestOnlyPartlySuccessfulWarning"),
    );
    assert!(el(&resp, "ResultMessage").unwrap().contains("V007"));
    let (_, resp) = soap(&a, "auditor", &req("<tr:VersionID>V007</tr:VersionID>")).await;
    result(&resp, ERROR, Some("arl/unknownVersionID"));
    // another tenant's object, and one that does not exist: unknown alike
    let (_, resp) = soap(&a, "t2-submitter", &req("")).await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
    let (_, resp) = soap(
        &a,
        "submitter",
        r#"<tr:ArchiveRetrievalRequest><tr:AOID>AOID-999</tr:AOID></tr:ArchiveRetrievalRequest>"#,
    )
    .await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(r#"<tr:ArchiveRetrievalRequest><dss:OptionalInputs><pres:POFormat>http://uri.etsi.org/ades/ASiC/type/ASiC-ERS</pres:POFormat></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID></tr:ArchiveRetrievalRequest>"#),
    )
    .await;
    result(&resp, ERROR, Some("arl/unknownPOFormat"));

    // evidence, as M-EV-01 asks it
    let ev = |inner: &str| {
        format!(
            r#"<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID>{inner}</tr:ArchiveEvidenceRequest>"#
        )
    };
    for inner in [
        "",
        "<tr:VersionID>V001</tr:VersionID>",
        "<tr:VersionID>ALL</tr:VersionID>",
    ] {
        let (_, resp) = soap(&a, "submitter", &ev(inner)).await;
        result(&resp, OK, None);
        assert!(
            resp.contains(&format!(
                r#"<xaip:evidenceRecord AOID="{aoid}" VersionID="V001">"#
            )),
            "{resp}"
        );
        assert_eq!(unb64(el(&resp, "asn1EvidenceRecord").unwrap()), er);
    }
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(r#"<tr:ArchiveEvidenceRequest><dss:OptionalInputs><tr:ERSFormat>urn:ietf:rfc:6283</tr:ERSFormat></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID></tr:ArchiveEvidenceRequest>"#),
    )
    .await;
    // the XML form (RFC 6283) of the same record: the same time-stamp token
    result(&resp, OK, None);
    assert!(resp.contains("<xaip:xmlEvidenceRecord"), "{resp}");
    let parsed = bewahr::ers::EvidenceRecord::from_der_checked(&er).unwrap();
    let token = parsed.archive_time_stamp_sequence[0][0]
        .time_stamp
        .as_bytes();
    assert_eq!(unb64(el(&resp, "TimeStampToken").unwrap()), token, "{resp}");
    let (_, resp) = soap(&a, "submitter", &ev("<tr:VersionID>V002</tr:VersionID>")).await;
    result(&resp, ERROR, Some("arl/unknownVersionID"));

    // the trail: the submission and every call since
    let resp = trace_until(&a, "submitter", &aoid, "S.4 ArchiveEvidence").await;
    let details = all(&resp, "Detail");
    assert!(
        details.iter().any(|d| d.contains("S.4 ArchiveSubmission")),
        "{resp}"
    );

    // deletion: no retention date, so no reason needed; then it is gone
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            r#"<tr:ArchiveDeletionRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveDeletionRequest>"#
        ),
    )
    .await;
    result(&resp, OK, None);
    let (_, resp) = soap(&a, "submitter", &req("")).await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
    // the trail of a deleted object stays readable
    trace_until(&a, "auditor", &aoid, "S.4 ArchiveDeletion").await;
    let (_, resp) = soap(
        &a,
        "submitter",
        r#"<tr:ArchiveTraceRequest><tr:AOID>AOID-999</tr:AOID></tr:ArchiveTraceRequest>"#,
    )
    .await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
}

/// ArchiveTrace until an entry's detail contains `needle` (the audit trail
/// is written by its own worker, a moment after the answer).
pub(crate) async fn trace_until(a: &TestArchive, who: &str, aoid: &str, needle: &str) -> String {
    for _ in 0..100 {
        let (_, resp) = soap(
            a,
            who,
            &format!(
                r#"<tr:ArchiveTraceRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveTraceRequest>"#
            ),
        )
        .await;
        result(&resp, OK, None);
        if all(&resp, "Detail").iter().any(|d| d.contains(needle)) {
            return resp;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no trail entry with {needle:?} for {aoid}");
}

#[tokio::test]
async fn archive_data_round_trip_sqlite() {
    archive_data_round_trip(Db::Sqlite).await;
}

#[tokio::test]
async fn archive_data_round_trip_postgres() {
    archive_data_round_trip(Db::Postgres).await;
}

/// M-DE: before the retention date a deletion needs ReasonOfDeletion.
#[tokio::test]
async fn deletion_before_the_retention_date_needs_a_reason() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let (st, _, b) = send(
        &a.router,
        crate::api::post(
            "/v1/objects?retention_until=2099-12-31",
            "text/plain",
            "Bescheid mit Aufbewahrungsfrist",
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let aoid = crate::api::js(&b)["aoid"].as_str().unwrap().to_string();
    let (st, _, _) = send(
        &a.router,
        crate::api::get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let del = |opt: &str| {
        format!(
            r#"<tr:ArchiveDeletionRequest>{opt}<tr:AOID>{aoid}</tr:AOID></tr:ArchiveDeletionRequest>"#
        )
    };
    let (_, resp) = soap(&a, "submitter", &del("")).await;
    result(&resp, ERROR, Some("arl/missingReasonOfDeletion"));
    assert!(el(&resp, "ResultMessage").unwrap().contains("2099-12-31"));
    // an auditor may not delete at all
    let (_, resp) = soap(&a, "auditor", &del("")).await;
    result(&resp, ERROR, Some("al/common#noPermission"));
    let reason = r#"<dss:OptionalInputs><tr:ReasonOfDeletion><tr:RequestorName>Amt 63, Frau Beispiel</tr:RequestorName><tr:RequestInfo>Widerruf des Antrags</tr:RequestInfo></tr:ReasonOfDeletion></dss:OptionalInputs>"#;
    let (_, resp) = soap(&a, "submitter", &del(reason)).await;
    result(&resp, OK, None);
    // the trail entry is written after the answer: under load a moment later
    let mut trail = String::new();
    for _ in 0..100 {
        let (st, _, b) = send(
            &a.router,
            crate::api::get(&format!("/v1/audit?aoid={aoid}&limit=1000")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        trail = String::from_utf8(b).unwrap();
        if trail.contains("S.4 ArchiveDeletion") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(trail.contains("S.4 ArchiveDeletion"), "{trail}");
    let (_, resp) = soap(&a, "submitter", &del(reason)).await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
}

/// Refusals: nothing is stored for any of them.
#[tokio::test]
async fn refused_submissions_store_nothing() {
    let Some(a) = archive_with(Db::Sqlite, |c| c.batch.interval_ms = 3_600_000, None).await else {
        return;
    };
    let before = count_versions(&a).await;
    let doc = b64(b"ein Dokument");
    let sub = |opt: &str, ty: &str| {
        format!(
            r#"<tr:ArchiveSubmissionRequest>{opt}<tr:ArchiveData Type="{ty}" archiveDataID="AD-01">{doc}</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#
        )
    };
    // C.2's unknown optional input (UP-09 step 3 and others)
    let (_, resp) = soap(
        &a,
        "submitter",
        &sub(
            &format!("<dss:OptionalInputs>{UNKNOWN_INPUT}</dss:OptionalInputs>"),
            CADES,
        ),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
    // a type the archive does not take
    let (_, resp) = soap(&a, "submitter", &sub("", "urn:example:unknown-type")).await;
    result(&resp, ERROR, Some("arl/unknownArchiveDataType"));
    // a role that may not submit
    let (_, resp) = soap(&a, "auditor", &sub("", CADES)).await;
    result(&resp, ERROR, Some("al/common#noPermission"));
    // a broken signature (C.2 SU-09: TXT_DATA_NOK.txt.p7m)
    let nok = std::fs::read(c2("TXT_DATA_NOK.txt.p7m")).unwrap();
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(r#"<tr:ArchiveSubmissionRequest><tr:ArchiveData Type="{CADES}" archiveDataID="AD-01">{}</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#, b64(&nok)),
    )
    .await;
    result(&resp, ERROR, Some("sal#invalidSignature"));
    // not base64
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(r#"<tr:ArchiveSubmissionRequest><tr:ArchiveData Type="{CADES}" archiveDataID="AD-01">%%%</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#),
    )
    .await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    // against the schema: ArchiveData without its required archiveDataID
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(r#"<tr:ArchiveSubmissionRequest><tr:ArchiveData Type="{CADES}">{doc}</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#),
    )
    .await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    assert!(
        el(&resp, "ResultMessage")
            .unwrap()
            .contains("archiveDataID"),
        "{resp}"
    );
    // a package that breaks the XAIP schema (C.2 XAIP_NOK: SU-02)
    let xaip_nok = std::fs::read_to_string(c2("XAIP_NOK.xml")).unwrap();
    // the package without its XML declaration, inside the request
    let body = match xaip_nok.find("?>") {
        Some(i) if xaip_nok.starts_with("<?xml") => &xaip_nok[i + 2..],
        _ => xaip_nok.as_str(),
    };
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!("<tr:ArchiveSubmissionRequest>{body}</tr:ArchiveSubmissionRequest>"),
    )
    .await;
    result(&resp, ERROR, Some("arl/XAIP_NOK"));
    assert_eq!(count_versions(&a).await, before);
}

/// Not S.4 at all: SOAP faults (HTTP 500); no credentials: 401.
#[tokio::test]
async fn malformed_messages_get_soap_faults() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let fault = |resp: &str, code: &str| {
        assert!(
            resp.contains(&format!("<faultcode>soap:{code}</faultcode>")),
            "{resp}"
        );
    };
    let (st, resp) = raw(&a, Some("submitter"), b"<not xml".to_vec()).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    fault(&resp, "Client");
    let (st, resp) = raw(
        &a,
        Some("submitter"),
        br#"<!DOCTYPE x [<!ENTITY a "b">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"#.to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    fault(&resp, "Client");
    let (_, resp) = raw(
        &a,
        Some("submitter"),
        br#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#
            .to_vec(),
    )
    .await;
    fault(&resp, "VersionMismatch");
    let (_, resp) = soap(&a, "submitter", "<tr:NoSuchRequest/>").await;
    fault(&resp, "Client");
    let (_, resp) = raw(
        &a,
        Some("submitter"),
        format!(r#"<soap:Envelope {NS}><soap:Header><x:Auth xmlns:x="urn:x" soap:mustUnderstand="1"/></soap:Header><soap:Body><tr:RetrieveInfoRequest/></soap:Body></soap:Envelope>"#).into_bytes(),
    )
    .await;
    fault(&resp, "MustUnderstand");
    // a SOAPAction that names another operation
    let req = Request::post("/s4")
        .header(header::CONTENT_TYPE, "text/xml")
        .header("SOAPAction", "\"http://www.bsi.bund.de/tr-esor/ArchiveDeletion\"")
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens["submitter"]))
        .body(Body::from(format!(
            r#"<soap:Envelope {NS}><soap:Body><tr:RetrieveInfoRequest/></soap:Body></soap:Envelope>"#
        )))
        .unwrap();
    let (st, _, b) = send(&a.raw, req).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    fault(&String::from_utf8(b).unwrap(), "Client");
    // without credentials: the HTTP interface's 401, before the body is read
    let (st, _) = raw(
        &a,
        None,
        format!(r#"<soap:Envelope {NS}><soap:Body><tr:RetrieveInfoRequest/></soap:Body></soap:Envelope>"#).into_bytes(),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}
