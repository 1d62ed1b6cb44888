//! Versions of an archived XAIP over S.4 (TR-ESOR-E ArchiveUpdate, C.2
//! M-UP-01 to M-UP-09) through the real router, with the C.2 DXAIPs byte
//! for byte except for what the test cases themselves change (the AOID,
//! and a date the files cannot carry): what is accepted, which code a
//! refusal gets (and that it leaves nothing), retrieval of the union of
//! the versions, and each version's evidence record verified against it.

use bewahr::verify::Indication;

use crate::api::{archive, count_versions, js, post, send, Db, TestArchive};
use crate::s4::{el, evidence_records, result, soap, unb64, ERROR, OK};
use crate::s4_xaip::{
    check_record, file, objects_of, package_in, package_text, submit, UNKNOWN_OPTIONAL_INPUT,
};

/// A C.2 DXAIP template with the AOID inserted (C.2: "Insert AOID-01
/// into the prepared DXAIP_OK-template").
fn dxaip(name: &str, aoid: &str) -> String {
    let t = package_text(&file(name));
    assert!(t.contains("TO_BE_CHANGED"), "{name}");
    t.replacen("TO_BE_CHANGED", aoid, 1)
}

async fn update(a: &TestArchive, package: &str, optional: &str) -> String {
    let (st, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveUpdateRequest RequestID=\"UP\">{optional}{package}</tr:ArchiveUpdateRequest>"),
    )
    .await;
    assert_eq!(st, axum::http::StatusCode::OK, "{resp}");
    resp
}

async fn new_object(a: &TestArchive) -> String {
    let resp = submit(a, &file("XAIP_OK.xml")).await;
    result(&resp, OK, None);
    el(&resp, "AOID").unwrap().to_string()
}

async fn c2_update_cases(db: Db) {
    let Some(a) = archive(db).await else { return };

    // M-UP-01: V002 and V003 of AOID-01
    let aoid1 = new_object(&a).await;
    let resp = update(&a, &dxaip("DXAIP_OK.xml", &aoid1), "").await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"), "{resp}");
    let resp = update(&a, &dxaip("DXAIP_OK_2.xml", &aoid1), "").await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V003"), "{resp}");
    // step 7: a version whose only new object is a signature over DO-01
    let aoid1z = new_object(&a).await;
    let resp = update(&a, &dxaip("DXAIP_OK_SIG_ONLY.xml", &aoid1z), "").await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"), "{resp}");

    let aoid4 = new_object(&a).await;
    let before = count_versions(&a).await;
    let expired = dxaip("DXAIP_NOK_EXPIRED.xml", &aoid4).replace("2100-01-01", "2021-01-01");
    let submitted_at = |at: time::OffsetDateTime| {
        let t = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let d = dxaip("DXAIP_NOK_SUBMTIME.xml", &aoid4);
        assert!(d.contains("2021-10-01T00:00:00.000+01:00"));
        d.replace("2021-10-01T00:00:00.000+01:00", &t)
    };
    let now = time::OffsetDateTime::now_utc();
    let refused: Vec<(&str, String, &str, &str)> = vec![
        // M-UP-02: an AOID the archive never assigned
        (
            "DXAIP_NOK_AOID",
            dxaip("DXAIP_NOK_AOID.xml", "AOID-03-never-assigned"),
            "",
            "arl/DXAIP_NOK_AOID",
        ),
        // M-UP-03: against the schema (an AOID inside a packageInfoUnit)
        (
            "DXAIP_NOK",
            dxaip("DXAIP_NOK.xml", &aoid4),
            "",
            "arl/DXAIP_NOK",
        ),
        // M-UP-04: the file's retention period (2100) is not over; C.2
        // means one that is
        ("DXAIP_NOK_EXPIRED", expired, "", "arl/DXAIP_NOK_EXPIRED"),
        // M-UP-05: a submission time in the past, then in the future
        (
            "DXAIP_NOK_SUBMTIME (past)",
            dxaip("DXAIP_NOK_SUBMTIME.xml", &aoid4),
            "",
            "arl/DXAIP_NOK_SUBMTIME",
        ),
        (
            "DXAIP_NOK_SUBMTIME (future)",
            submitted_at(now + time::Duration::days(30)),
            "",
            "arl/DXAIP_NOK_SUBMTIME",
        ),
        // M-UP-06: the text's signature related to the PDF (a placeholder)
        (
            "DXAIP_NOK_SIG",
            dxaip("DXAIP_NOK_SIG.xml", &aoid4),
            "",
            "arl/DXAIP_NOK_SIG",
        ),
        // M-UP-07: a CMS p7m posing as the version's evidence record
        (
            "DXAIP_NOK_ER",
            dxaip("DXAIP_NOK_ER.xml", &aoid4),
            "",
            "arl/DXAIP_NOK_ER",
        ),
        // M-UP-08 step 2: prevVersion V010
        (
            "DXAIP_NOK_VERSION (V010)",
            dxaip("DXAIP_NOK_VERSION.xml", &aoid4),
            "",
            "arl/DXAIP_NOK_Version",
        ),
        // M-UP-09 step 3: an unknown control among the OptionalInputs
        (
            "DXAIP_OK + unknown optional input",
            dxaip("DXAIP_OK.xml", &aoid4),
            UNKNOWN_OPTIONAL_INPUT,
            "arl/notSupported",
        ),
        // a DXAIP whose placeholder stands for nothing archived
        (
            "placeholder for no object",
            dxaip("DXAIP_OK.xml", &aoid4).replace(
                "<xaip:placeHolder objectID=\"DO-02\"/>",
                "<xaip:placeHolder objectID=\"DO-02\"/><xaip:placeHolder objectID=\"DO-77\"/>",
            ),
            "",
            "arl/DXAIP_NOK_ID",
        ),
    ];
    for (name, package, optional, minor) in &refused {
        let resp = update(&a, package, optional).await;
        result(&resp, ERROR, Some(minor));
        assert!(
            el(&resp, "ResultMessage").is_some_and(|m| !m.is_empty()),
            "{name}: the refusal says why\n{resp}"
        );
        assert!(el(&resp, "VersionID").is_none(), "{name}");
        eprintln!("{name}: {minor}: {}", el(&resp, "ResultMessage").unwrap());
    }
    assert_eq!(
        count_versions(&a).await,
        before,
        "a refused update leaves nothing"
    );

    // M-UP-08 steps 4 and 6; M-UP-09 steps 4 and 6
    let resp = update(&a, &dxaip("DXAIP_OK.xml", &aoid4), "").await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V002"));
    let stale = dxaip("DXAIP_NOK_VERSION.xml", &aoid4).replace(
        "<xaip:prevVersion>V010</xaip:prevVersion>",
        "<xaip:prevVersion>V001</xaip:prevVersion>",
    );
    let resp = update(&a, &stale, "").await;
    result(&resp, ERROR, Some("arl/DXAIP_NOK_Version"));
    let resp = update(&a, &dxaip("DXAIP_OK_2.xml", &aoid4), "").await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "VersionID"), Some("V003"));
    assert_eq!(count_versions(&a).await, before + 2);

    // an object submitted as a document, not an XAIP, takes no DXAIP
    let (st, _, body) = send(
        &a.router,
        post("/v1/objects", "text/plain", "a plain document"),
    )
    .await;
    assert_eq!(st, axum::http::StatusCode::CREATED);
    let plain = js(&body)["aoid"].as_str().unwrap().to_string();
    let resp = update(&a, &dxaip("DXAIP_OK.xml", &plain), "").await;
    result(&resp, ERROR, Some("arl/DXAIP_NOK_AOID"));

    union_and_evidence(&a, &aoid1).await;
}

/// Retrieval of every version gives their union (TR-ESOR-F; C.2's
/// `XAIP_OK_V1_V2_V3.xml`), valid against the XAIP schema, in which each
/// version's evidence record proves that version's protected objects;
/// retrieval of one version gives its manifest and what it names.
async fn union_and_evidence(a: &TestArchive, aoid: &str) {
    let (_, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest><tr:AOID>{aoid}</tr:AOID><tr:VersionID>ALL</tr:VersionID></tr:ArchiveRetrievalRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let union_resp = resp.clone();
    let union = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
    assert_eq!(union.versions(), ["V001", "V002", "V003"]);
    assert_eq!(union.aoid().as_deref(), Some(aoid));
    let (_, resp) = soap(
        a,
        "auditor",
        &format!("<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID><tr:VersionID>ALL</tr:VersionID></tr:ArchiveEvidenceRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let mut records = resp.split("<xaip:evidenceRecord ").skip(1);
    for (v, ids) in [
        ("V001", vec!["DO-01", "MDO-01", "DO-02"]),
        ("V002", vec!["DO-01", "MDO-01", "DO-02", "CR-01"]),
        ("V003", vec!["DO-01", "MDO-01", "CR-01", "DO-03", "CR-02"]),
    ] {
        let r = records
            .next()
            .unwrap_or_else(|| panic!("a record for {v}: {resp}"));
        assert!(
            r.starts_with(&format!("AOID=\"{aoid}\" VersionID=\"{v}\"")),
            "{r}"
        );
        let der = unb64(el(r, "asn1EvidenceRecord").unwrap());
        let objects = union.protected_objects(v, &Default::default()).unwrap();
        let got: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(got, ids, "{v}");
        let bytes: Vec<Vec<u8>> = objects.into_iter().map(|o| o.bytes).collect();
        let report = check_record(a, &der, bytes.clone());
        assert_eq!(
            report.indication,
            Indication::Passed,
            "{v}: {}",
            report.to_text()
        );
        // nor an object the version does not have
        let mut other = bytes;
        let last = other.len() - 1;
        other[last].push(b'!');
        let report = check_record(a, &der, other);
        assert_eq!(report.indication, Indication::Failed, "{v}");
    }

    // C.2 M-ADD-01 step 3: the union verified with the three records
    // beside it, one per version
    let beside: String = resp
        .split("<xaip:evidenceRecord ")
        .skip(1)
        .map(|r| {
            format!(
                "<xaip:evidenceRecord {}</xaip:evidenceRecord>",
                r.split("</xaip:evidenceRecord>").next().unwrap()
            )
        })
        .collect();
    let (_, verified) = soap(
        a,
        "auditor",
        &format!(
            r#"<dss:VerifyRequest><dss:OptionalInputs><vr:ReturnVerificationReport xmlns:vr="urn:oasis:names:tc:dss-x:1.0:profiles:verificationreport:schema#"/></dss:OptionalInputs><dss:InputDocuments><dss:Document><dss:InlineXML>{}</dss:InlineXML></dss:Document></dss:InputDocuments><dss:SignatureObject><dss:Other>{beside}</dss:Other></dss:SignatureObject></dss:VerifyRequest>"#,
            package_in(&union_resp)
        ),
    )
    .await;
    result(&verified, OK, None);
    assert_eq!(
        verified.matches("<esorvr:EvidenceRecordReport").count(),
        3,
        "{verified}"
    );

    // one version: V003 dropped DO-02, which the union still holds
    let (_, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest><dss:OptionalInputs><tr:IncludeERS>urn:ietf:rfc:4998</tr:IncludeERS></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID><tr:VersionID>V003</tr:VersionID></tr:ArchiveRetrievalRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let one = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
    assert_eq!(one.versions(), ["V003"]);
    assert_eq!(one.embedded_records("V003").unwrap().len(), 1);
    assert!(union
        .protected_ids("V001")
        .unwrap()
        .contains(&"DO-02".to_string()));
    assert!(
        !package_in(&resp).contains("dataObjectID=\"DO-02\""),
        "V003 dropped DO-02"
    );
}

#[tokio::test]
async fn c2_xaip_updates_sqlite() {
    c2_update_cases(Db::Sqlite).await
}

#[tokio::test]
async fn c2_xaip_updates_postgres() {
    c2_update_cases(Db::Postgres).await
}

/// TR-ESOR-E's optional inputs of ArchiveSubmission and ArchiveUpdate: an
/// AOID the caller chose (`xaip:AOID`; one in use is `existingAOID`) and
/// `vr:ReturnVerificationReport` (the report of what was submitted, also
/// with a refusal), each answer valid against the schema.
#[tokio::test]
async fn a_chosen_aoid_and_the_verification_report_of_a_submission() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    const VR: &str = r#"<vr:ReturnVerificationReport xmlns:vr="urn:oasis:names:tc:dss-x:1.0:profiles:verificationreport:schema#"/>"#;
    let with = |inputs: &str, package: &[u8]| {
        format!(
            "<tr:ArchiveSubmissionRequest><dss:OptionalInputs>{inputs}</dss:OptionalInputs>{}</tr:ArchiveSubmissionRequest>",
            package_text(package)
        )
    };
    let chosen = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b";
    let aoid_input = format!("<xaip:AOID>{chosen}</xaip:AOID>");
    let before = count_versions(&a).await;
    let (_, resp) = soap(&a, "submitter", &with(&aoid_input, &file("XAIP_OK.xml"))).await;
    result(&resp, OK, None);
    assert_eq!(el(&resp, "AOID"), Some(chosen));
    // the same AOID again: in use; nothing is stored
    let (_, resp) = soap(&a, "submitter", &with(&aoid_input, &file("XAIP_OK.xml"))).await;
    result(&resp, ERROR, Some("arl/existingAOID"));
    let (_, resp) = soap(
        &a,
        "submitter",
        &with("<xaip:AOID>AOID-01</xaip:AOID>", &file("XAIP_OK.xml")),
    )
    .await;
    result(&resp, ERROR, Some("al/common#parameterError"));
    assert_eq!(count_versions(&a).await, before + 1);
    // the object answers by the chosen AOID
    let resp = update(&a, &dxaip("DXAIP_OK.xml", chosen), "").await;
    result(&resp, OK, None);

    // a refused package with its report: the signature that fails it
    let (_, resp) = soap(&a, "submitter", &with(VR, &file("XAIP_NOK_SIG.xml"))).await;
    result(&resp, ERROR, Some("arl/XAIP_NOK_SIG"));
    assert!(
        resp.contains("<vr:VerificationReport") && resp.contains("XAIPReport"),
        "{resp}"
    );
    assert!(resp.contains("detail:invalid"), "{resp}");
    // an accepted one: the report, then the AOID
    let (_, resp) = soap(&a, "submitter", &with(VR, &file("XAIP_OK_SIG_OK.xml"))).await;
    result(&resp, OK, None);
    let (r, id) = (
        resp.find("VerificationReport").unwrap(),
        resp.find("<tr:AOID>").unwrap(),
    );
    assert!(r < id, "{resp}");
    let aoid = el(&resp, "AOID").unwrap().to_string();
    // an update with its report, then the VersionID
    let resp = update(
        &a,
        &dxaip("DXAIP_OK_SIG_OK.xml", &aoid),
        &format!("<dss:OptionalInputs>{VR}</dss:OptionalInputs>"),
    )
    .await;
    result(&resp, OK, None);
    assert!(
        resp.contains("XAIPReport") && el(&resp, "VersionID") == Some("V002"),
        "{resp}"
    );
    // a signed document's report
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            r#"<tr:ArchiveSubmissionRequest><dss:OptionalInputs>{VR}</dss:OptionalInputs><tr:ArchiveData Type="http://uri.etsi.org/ades/CAdES" archiveDataID="AD-1">{}</tr:ArchiveData></tr:ArchiveSubmissionRequest>"#,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, file("TXT_DATA.txt.p7m"))
        ),
    )
    .await;
    result(&resp, OK, None);
    assert!(resp.contains("IndividualReport"), "{resp}");
    // xaip:AOID is no optional input of an update
    let resp = update(
        &a,
        &dxaip("DXAIP_OK_2.xml", chosen),
        &format!("<dss:OptionalInputs>{aoid_input}</dss:OptionalInputs>"),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
}

/// ArchiveData (TR-ESOR-E 3.6): discrete data of an archived XAIP by
/// XPath, over the union of its versions; each location answers on its
/// own (`unknownLocation`, a malformed expression, an unknown Type).
#[tokio::test]
async fn archive_data_reads_the_package_by_xpath() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let aoid = new_object(&a).await;
    let resp = update(&a, &dxaip("DXAIP_OK.xml", &aoid), "").await;
    result(&resp, OK, None);
    const XPATH: &str = "http://www.w3.org/TR/2007/REC-xpath20-20070123/";
    let ask = |locations: &[(&str, &str)]| {
        let mut body = format!("<tr:ArchiveDataRequest><tr:AOID>{aoid}</tr:AOID>");
        for (ty, expr) in locations {
            body.push_str(&format!(
                "<tr:DataLocation Type=\"{ty}\"><tr:XPathFilter>{expr}</tr:XPathFilter></tr:DataLocation>"
            ));
        }
        body.push_str("</tr:ArchiveDataRequest>");
        body
    };
    let (_, resp) = soap(
        &a,
        "submitter",
        &ask(&[
            (XPATH, "//xaip:versionManifest/@VersionID"),
            (XPATH, "string(//xaip:packageHeader/xaip:AOID)"),
            (XPATH, "//xaip:versionManifest[@VersionID='V002']/xaip:preservationInfo/xaip:retentionPeriod"),
        ]),
    )
    .await;
    result(&resp, OK, None);
    let values: Vec<&str> = resp
        .split("<tr:Value>")
        .skip(1)
        .map(|v| v.split("</tr:Value>").next().unwrap())
        .collect();
    assert_eq!(values.len(), 3, "{resp}");
    assert_eq!(values[0], "V001\nV002");
    assert_eq!(values[1], aoid);
    assert!(
        values[2].contains("2100-01-01+01:00") && values[2].contains("retentionPeriod"),
        "{}",
        values[2]
    );

    // one location found, one not, one malformed, one of an unknown Type
    let (_, resp) = soap(
        &a,
        "submitter",
        &ask(&[
            (XPATH, "//xaip:dataObject/@dataObjectID"),
            (XPATH, "//xaip:nothing"),
            (XPATH, "//xaip:dataObject["),
            ("urn:example:sql", "SELECT 1"),
        ]),
    )
    .await;
    result(
        &resp,
        "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#warning",
        Some("arl/requestOnlyPartlySuccessfulWarning"),
    );
    for minor in [
        "arl/unknownLocation",
        "al/common#parameterError",
        "arl/notSupported",
    ] {
        assert!(resp.contains(minor), "{minor}: {resp}");
    }
    // an unknown object
    let (_, resp) = soap(
        &a,
        "submitter",
        &ask(&[(XPATH, "//xaip:AOID")]).replace(&aoid, "00000000-0000-4000-8000-000000000000"),
    )
    .await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
}

/// The records of every version of an updated XAIP, fetched by
/// ArchiveEvidence `ALL`, with the evidence that proves each version's
/// protected objects in the union.
async fn records_prove_the_union(a: &TestArchive, aoid: &str) -> Vec<bewahr::verify::Report> {
    let (_, resp) = soap(
        a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest><tr:AOID>{aoid}</tr:AOID><tr:VersionID>ALL</tr:VersionID></tr:ArchiveRetrievalRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let union = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
    let (_, resp) = soap(
        a,
        "auditor",
        &format!("<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID><tr:VersionID>ALL</tr:VersionID></tr:ArchiveEvidenceRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let mut out = vec![];
    for (v, r) in ["V001", "V002", "V003"]
        .iter()
        .zip(resp.split("<xaip:evidenceRecord ").skip(1))
    {
        let der = unb64(el(r, "asn1EvidenceRecord").unwrap());
        let objects = objects_of(&union, v);
        let report = check_record(a, &der, objects);
        assert_eq!(
            report.indication,
            Indication::Passed,
            "{v}: {}",
            report.to_text()
        );
        out.push(report);
    }
    assert_eq!(out.len(), 3);
    out
}

/// C.2 M-ADD-01 (time-stamp renewal, "resigning") and M-ADD-02 (hash-tree
/// renewal, "rehashing") on an XAIP with three versions: afterwards each
/// version's record still proves exactly that version's protected objects
/// in the union retrieval gives; hash-tree renewal rehashed the objects
/// the DXAIPs' placeholders stand for from the store.
#[tokio::test]
async fn c2_renewals_keep_every_version_of_an_xaip_proved() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let aoid = new_object(&a).await;
    for (d, v) in [("DXAIP_OK.xml", "V002"), ("DXAIP_OK_2.xml", "V003")] {
        let resp = update(&a, &dxaip(d, &aoid), "").await;
        result(&resp, OK, None);
        assert_eq!(el(&resp, "VersionID"), Some(v));
    }
    let before = records_prove_the_union(&a, &aoid).await;
    assert!(before
        .iter()
        .all(|r| r.chains == 1 && r.archive_time_stamps.len() == 1));
    let renew = |body: &'static str| {
        let a = &a;
        async move {
            let (st, _, b) = send(
                &a.router,
                post("/v1/admin/renewals", "application/json", body),
            )
            .await;
            assert_eq!(
                st,
                axum::http::StatusCode::ACCEPTED,
                "{}",
                String::from_utf8_lossy(&b)
            );
            let id = js(&b)["id"].as_i64().unwrap();
            let done = a
                .state()
                .renewer
                .wait(id, std::time::Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(done.state, "done", "{done:?}");
        }
    };
    // M-ADD-01: a new time-stamp over each chain
    renew(r#"{"kind": "timestamp"}"#).await;
    let resigned = records_prove_the_union(&a, &aoid).await;
    assert!(resigned
        .iter()
        .all(|r| r.chains == 1 && r.archive_time_stamps.len() == 2));
    // M-ADD-02: a new hash tree (SHA-512) over the stored objects
    renew(r#"{"kind": "hashtree", "digest_algorithm": "sha512"}"#).await;
    let rehashed = records_prove_the_union(&a, &aoid).await;
    assert!(
        rehashed.iter().all(|r| r.chains == 2),
        "{:?}",
        rehashed.iter().map(|r| r.chains).collect::<Vec<_>>()
    );
}

/// ImportEvidence (TR-ESOR-E A3.1.1-2): records an earlier archive made
/// for a version are checked completely (PASSED, to a trust anchor of
/// this archive) and then kept: ArchiveEvidence gives them beside the
/// archive's own, whose data-object group holds them. Here the earlier
/// archive is this one (its own TSA is its trust anchor); C.2's records
/// by qualified TSAs this archive does not trust are refused.
#[tokio::test]
async fn imported_evidence_is_checked_completely_and_kept() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let package = file("XAIP_OK_SIG_OK.xml");
    let resp = submit(&a, &package).await;
    let first = el(&resp, "AOID").unwrap().to_string();
    let earlier = evidence_records(&a, &first).await.remove(0);
    let with_import = |records: &str| {
        format!(
            "<tr:ArchiveSubmissionRequest><dss:OptionalInputs><tr:ImportEvidence>{records}</tr:ImportEvidence></dss:OptionalInputs>{}</tr:ArchiveSubmissionRequest>",
            package_text(&package)
        )
    };
    let record = |version: &str, der: &[u8]| {
        format!(
            "<xaip:evidenceRecord AOID=\"{first}\" VersionID=\"{version}\"><xaip:asn1EvidenceRecord>{}</xaip:asn1EvidenceRecord></xaip:evidenceRecord>",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
        )
    };
    let before = count_versions(&a).await;
    for (name, records) in [
        ("a record for another version", record("V002", &earlier)),
        (
            "a record whose TSA this archive does not trust (INDETERMINATE)",
            record("V001", &file("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers")),
        ),
        (
            "a record that does not prove the package",
            record("V001", &file("ER_NOK_SHA256_DGN_XAIP_OK_SIG_OK.ers")),
        ),
        (
            "a credential that is no evidence record",
            "<tr:CredentialID>CR-01</tr:CredentialID>".to_string(),
        ),
    ] {
        let (_, resp) = soap(&a, "submitter", &with_import(&records)).await;
        result(&resp, ERROR, Some("arl/XAIP_NOK_ER"));
        eprintln!("{name}: {}", el(&resp, "ResultMessage").unwrap());
    }
    assert_eq!(
        count_versions(&a).await,
        before,
        "a refused import stores nothing"
    );

    // the archive's own earlier record verifies completely: imported
    let (_, resp) = soap(&a, "submitter", &with_import(&record("V001", &earlier))).await;
    result(&resp, OK, None);
    let second = el(&resp, "AOID").unwrap().to_string();
    let records = evidence_records(&a, &second).await;
    assert_eq!(
        records.len(),
        2,
        "the archive's record, then the imported one"
    );
    assert_eq!(records[1], earlier);
    // the archive's record proves the package's objects and the imported record
    let x = bewahr_xaip::Xaip::parse(&package).unwrap();
    let mut objects: Vec<Vec<u8>> = x
        .protected_objects("V001", &Default::default())
        .unwrap()
        .into_iter()
        .map(|o| o.bytes)
        .collect();
    objects.push(earlier.clone());
    let report = check_record(&a, &records[0], objects);
    assert_eq!(
        report.indication,
        Indication::Passed,
        "{}",
        report.to_text()
    );
}

/// ImportEvidence with a document of its own (`ArchiveData`): the record
/// must verify completely over the decoded document; then it is kept with
/// the version, proved by the archive's own record, and given back after
/// it by ArchiveEvidence. A record over other bytes stores nothing.
#[tokio::test]
async fn imported_evidence_with_archive_data() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let doc = file("TXT_DATA.txt.p7m");
    let cades = "http://uri.etsi.org/ades/CAdES";
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let submit_data = |import: String| {
        format!(
            "<tr:ArchiveSubmissionRequest>{import}<tr:ArchiveData Type=\"{cades}\" archiveDataID=\"AD-01\">{}</tr:ArchiveData></tr:ArchiveSubmissionRequest>",
            b64(&doc)
        )
    };
    // an earlier record over the document: the archive's own
    let (_, resp) = soap(&a, "submitter", &submit_data(String::new())).await;
    result(&resp, OK, None);
    let first = el(&resp, "AOID").unwrap().to_string();
    let earlier = evidence_records(&a, &first).await.remove(0);
    let import = |der: &[u8]| {
        format!(
            "<dss:OptionalInputs><tr:ImportEvidence><xaip:evidenceRecord AOID=\"{first}\" VersionID=\"V001\"><xaip:asn1EvidenceRecord>{}</xaip:asn1EvidenceRecord></xaip:evidenceRecord></tr:ImportEvidence></dss:OptionalInputs>",
            b64(der)
        )
    };
    let before = count_versions(&a).await;
    for (name, der) in [
        (
            "over another document",
            file("ER_OK_SHA256_DGN_XAIP_OK_SIG_OK.ers"),
        ),
        ("not a record", file("TXT_DATA.txt.p7s")),
    ] {
        let (_, resp) = soap(&a, "submitter", &submit_data(import(&der))).await;
        result(&resp, ERROR, Some("al/common#parameterError"));
        eprintln!("{name}: {}", el(&resp, "ResultMessage").unwrap());
    }
    assert_eq!(count_versions(&a).await, before, "nothing stored");
    let (_, resp) = soap(&a, "submitter", &submit_data(import(&earlier))).await;
    result(&resp, OK, None);
    let second = el(&resp, "AOID").unwrap().to_string();
    let records = evidence_records(&a, &second).await;
    assert_eq!(
        records.len(),
        2,
        "the archive's record, then the imported one"
    );
    assert_eq!(records[1], earlier);
    let report = check_record(&a, &records[0], vec![doc.clone(), earlier.clone()]);
    assert_eq!(
        report.indication,
        Indication::Passed,
        "{}",
        report.to_text()
    );
}

/// C.2 M-RE-02 to 04, M-EV-02 to 04 and M-DE-01 to 05 on XAIPs: known and
/// unknown AOIDs and VersionIDs, unknown optional inputs, and deletion
/// with and without a reason before and after the retention period ends
/// (the archive's clock is moved past it, as C.2's "imported some days
/// ago" object is).
#[tokio::test]
async fn c2_retrieval_evidence_and_deletion_of_xaips() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let now = time::OffsetDateTime::now_utc();
    let at = std::sync::Arc::new(AtomicI64::new(now.unix_timestamp()));
    let clock: bewahr::seal::Clock = {
        let at = at.clone();
        std::sync::Arc::new(move || {
            time::OffsetDateTime::from_unix_timestamp(at.load(Ordering::SeqCst)).unwrap()
        })
    };
    let Some(a) = crate::api::archive_at(Db::Sqlite, |_| {}, None, clock).await else {
        return;
    };
    let aoid = new_object(&a).await;
    let resp = update(&a, &dxaip("DXAIP_OK.xml", &aoid), "").await;
    result(&resp, OK, None);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let call = |op: &str, aoid: &str, inner: &str, optional: &str| {
        format!("<tr:{op}Request>{optional}<tr:AOID>{aoid}</tr:AOID>{inner}</tr:{op}Request>")
    };
    let warning = "http://www.bsi.bund.de/tr-esor/api/1.3/resultmajor#warning";
    for op in ["ArchiveRetrieval", "ArchiveEvidence"] {
        // M-RE-02 / M-EV-02: known and unknown AOIDs
        let (_, resp) = soap(&a, "submitter", &call(op, &aoid, "", "")).await;
        result(&resp, OK, None);
        let (_, resp) = soap(&a, "submitter", &call(op, unknown, "", "")).await;
        result(&resp, ERROR, Some("arl/unknownAOID"));
        // M-RE-03 / M-EV-03: known and unknown VersionIDs
        let (_, resp) = soap(
            &a,
            "submitter",
            &call(
                op,
                &aoid,
                "<tr:VersionID>V002</tr:VersionID><tr:VersionID>V009</tr:VersionID>",
                "",
            ),
        )
        .await;
        result(
            &resp,
            warning,
            Some("arl/requestOnlyPartlySuccessfulWarning"),
        );
        assert!(
            el(&resp, "ResultMessage").unwrap().contains("V009"),
            "{resp}"
        );
        let (_, resp) = soap(
            &a,
            "submitter",
            &call(op, &aoid, "<tr:VersionID>V009</tr:VersionID>", ""),
        )
        .await;
        result(&resp, ERROR, Some("arl/unknownVersionID"));
        // M-RE-04 / M-EV-04: an unknown control among the OptionalInputs
        let (_, resp) = soap(
            &a,
            "submitter",
            &call(op, &aoid, "", UNKNOWN_OPTIONAL_INPUT),
        )
        .await;
        result(&resp, ERROR, Some("arl/notSupported"));
    }

    // M-DE-01: the retention period runs (2100): no deletion without a reason
    let (_, resp) = soap(&a, "submitter", &call("ArchiveDeletion", &aoid, "", "")).await;
    result(&resp, ERROR, Some("arl/missingReasonOfDeletion"));
    let (_, resp) = soap(&a, "submitter", &call("ArchiveRetrieval", &aoid, "", "")).await;
    result(&resp, OK, None);
    // ... an object whose retention period has ended is deleted without one
    let soon = (now + time::Duration::days(2)).date().to_string();
    let short =
        String::from_utf8(file("XAIP_OK.xml"))
            .unwrap()
            .replacen("2100-01-01+01:00", &soon, 1);
    let resp = submit(&a, short.as_bytes()).await;
    result(&resp, OK, None);
    let expired = el(&resp, "AOID").unwrap().to_string();
    // its batch is sealed before the clock moves on
    let (_, resp) = soap(&a, "auditor", &call("ArchiveEvidence", &expired, "", "")).await;
    result(&resp, OK, None);
    at.store(
        (now + time::Duration::days(5)).unix_timestamp(),
        Ordering::SeqCst,
    );
    let (_, resp) = soap(&a, "submitter", &call("ArchiveDeletion", &expired, "", "")).await;
    result(&resp, OK, None);
    let (_, resp) = soap(&a, "submitter", &call("ArchiveRetrieval", &expired, "", "")).await;
    result(&resp, ERROR, Some("arl/unknownAOID"));
    // M-DE-05: an unknown control; M-DE-02: with a reason
    let reason = "<dss:OptionalInputs><tr:ReasonOfDeletion><tr:RequestorName>Sachbearbeitung</tr:RequestorName><tr:RequestInfo>Akte abgegeben, Az. 1-2-3</tr:RequestInfo></tr:ReasonOfDeletion></dss:OptionalInputs>";
    let (_, resp) = soap(
        &a,
        "submitter",
        &call("ArchiveDeletion", &aoid, "", UNKNOWN_OPTIONAL_INPUT),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
    let (_, resp) = soap(&a, "submitter", &call("ArchiveDeletion", &aoid, "", reason)).await;
    result(&resp, OK, None);
    // M-DE-03 / M-DE-04: unknown objects, without and with a reason
    for optional in ["", reason] {
        let (_, resp) = soap(
            &a,
            "submitter",
            &call("ArchiveDeletion", unknown, "", optional),
        )
        .await;
        result(&resp, ERROR, Some("arl/unknownAOID"));
    }
    // the reason is in the object's trail (written as the answer leaves)
    let trail = crate::s4::trace_until(&a, "auditor", &aoid, "Akte abgegeben").await;
    assert!(trail.contains("requestor: Sachbearbeitung"), "{trail}");
}

/// A tenant may restrict the XAIP clientIDs it accepts (`[tenants.<t>]
/// client_ids`): another client's package, or one naming none, is refused
/// with `noPermission` and stores nothing.
#[tokio::test]
async fn a_tenant_accepts_only_its_client_ids() {
    let Some(a) = crate::api::archive_with(
        Db::Sqlite,
        |c| {
            c.tenants.insert(
                "t1".into(),
                bewahr::config::TenantSettings {
                    client_ids: vec!["BSI-Test-Client".into()],
                },
            );
        },
        None,
    )
    .await
    else {
        return;
    };
    let resp = submit(&a, &file("XAIP_OK.xml")).await;
    result(&resp, OK, None);
    let aoid = el(&resp, "AOID").unwrap().to_string();
    let before = count_versions(&a).await;
    let other = String::from_utf8(file("XAIP_OK.xml")).unwrap().replacen(
        "<xaip:clientID>BSI-Test-Client</xaip:clientID>",
        "<xaip:clientID>Fremdverfahren</xaip:clientID>",
        1,
    );
    let resp = submit(&a, other.as_bytes()).await;
    result(&resp, ERROR, Some("al/common#noPermission"));
    assert!(
        el(&resp, "ResultMessage")
            .unwrap()
            .contains("Fremdverfahren"),
        "{resp}"
    );
    let none = String::from_utf8(file("XAIP_OK.xml"))
        .unwrap()
        .replacen("<xaip:submissionInfo>\n\t\t\t\t<xaip:clientID>BSI-Test-Client</xaip:clientID>\n\t\t\t</xaip:submissionInfo>", "", 1);
    assert!(!none.contains("clientID"), "the C.2 layout changed");
    let resp = submit(&a, none.as_bytes()).await;
    result(&resp, ERROR, Some("al/common#noPermission"));
    // an update names its client too
    let d = dxaip("DXAIP_OK.xml", &aoid).replacen("BSI-Test-Client", "Fremdverfahren", 1);
    let resp = update(&a, &d, "").await;
    result(&resp, ERROR, Some("al/common#noPermission"));
    assert_eq!(count_versions(&a).await, before);
}
