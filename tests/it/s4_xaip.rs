//! XAIP submission over S.4 (TR-ESOR-E ArchiveSubmission, C.2 M-SU-01 to
//! M-SU-06) through the real router, with the C.2 packages byte for byte:
//! what is accepted, what is refused with which code (and that a refused
//! package leaves nothing), retrieval of the package with the archive's
//! AOID, and the evidence record of the version, which `bewahr verify
//! --xaip` checks against the retrieved package offline.

use axum::http::StatusCode;
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};

use crate::api::{archive, count_versions, get, send, Db, TestArchive};
use crate::s4::{el, result, soap, unb64, ERROR, OK};
use crate::support::{bewahr, c2, run, tempdir};

/// A C.2 package as the body of an ArchiveSubmissionRequest (its XML
/// declaration, if any, cannot stand inside the envelope).
fn package_text(bytes: &[u8]) -> String {
    let t = String::from_utf8(bytes.to_vec()).unwrap();
    match t.strip_prefix("<?xml") {
        Some(r) => r.split_once("?>").unwrap().1.to_string(),
        None => t,
    }
}

async fn submit(a: &TestArchive, package: &[u8]) -> String {
    let (st, resp) = soap(
        a,
        "submitter",
        &format!(
            "<tr:ArchiveSubmissionRequest RequestID=\"SU\">{}</tr:ArchiveSubmissionRequest>",
            package_text(package)
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    resp
}

fn file(name: &str) -> Vec<u8> {
    std::fs::read(c2(name)).unwrap()
}

/// `XAIP_OK.xml` with a submission time of `at` (C.2 cannot carry a time
/// that is "now" when the test runs).
fn with_submission_time(at: time::OffsetDateTime) -> Vec<u8> {
    let t = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let s = String::from_utf8(file("XAIP_OK.xml")).unwrap();
    let s = s.replacen(
        "<xaip:clientID>BSI-Test-Client</xaip:clientID>",
        &format!("<xaip:clientID>BSI-Test-Client</xaip:clientID><xaip:submissionTime>{t}</xaip:submissionTime>"),
        1,
    );
    assert!(s.contains("submissionTime"));
    s.into_bytes()
}

/// The C.2 submission table: each package, the code TR-ESOR-E and C.2
/// expect, and that refused packages leave nothing.
async fn c2_submission_cases(db: Db) {
    let Some(a) = archive(db).await else { return };
    let before = count_versions(&a).await;
    let now = time::OffsetDateTime::now_utc();
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        // M-SU-02: against the schema (a dataObject in a packageInfoUnit)
        ("XAIP_NOK", file("XAIP_NOK.xml"), "arl/XAIP_NOK"),
        // M-SU-02 step 2: XAIPVersion 1.1.0
        (
            "XAIP_NOK_VERSION",
            file("XAIP_NOK_VERSION.xml"),
            "arl/XAIP_NOK",
        ),
        // M-SU-03: the retention period ended in 2021
        (
            "XAIP_NOK_EXPIRED",
            file("XAIP_NOK_EXPIRED.xml"),
            "arl/XAIP_NOK_EXPIRED",
        ),
        // M-SU-04: both C.2 times are in the past by now; the future one is made here
        (
            "XAIP_NOK_SUBMTIME_PAST",
            file("XAIP_NOK_SUBMTIME_PAST.xml"),
            "arl/XAIP_NOK_SUBMTIME",
        ),
        (
            "XAIP_NOK_SUBMTIME_FUTURE",
            file("XAIP_NOK_SUBMTIME_FUTURE.xml"),
            "arl/XAIP_NOK_SUBMTIME",
        ),
        (
            "submissionTime now + 30 days",
            with_submission_time(now + time::Duration::days(30)),
            "arl/XAIP_NOK_SUBMTIME",
        ),
        // M-SU-05: CR-01 is related to the PDF but signs the text
        ("XAIP_NOK_SIG", file("XAIP_NOK_SIG.xml"), "arl/XAIP_NOK_SIG"),
        // M-SU-06: the evidence record CR-05 is a CMS p7m
        ("XAIP_NOK_ER", file("XAIP_NOK_ER.xml"), "arl/XAIP_NOK_ER"),
    ];
    for (name, package, minor) in &refused {
        let resp = submit(&a, package).await;
        result(&resp, ERROR, Some(minor));
        assert!(
            el(&resp, "ResultMessage").is_some_and(|m| !m.is_empty()),
            "{name}: the refusal says why\n{resp}"
        );
        assert!(el(&resp, "AOID").is_none(), "{name}");
    }
    assert_eq!(
        count_versions(&a).await,
        before,
        "a refused package leaves nothing"
    );

    // M-SU-01: accepted, each a new archive object with its AOID
    for package in [
        file("XAIP_OK.xml"),
        file("XAIP_OK_SIG_OK.xml"),
        with_submission_time(now - time::Duration::hours(2)),
    ] {
        let resp = submit(&a, &package).await;
        result(&resp, OK, None);
        assert!(el(&resp, "AOID").is_some_and(|x| !x.is_empty()), "{resp}");
    }
    assert_eq!(count_versions(&a).await, before + 3);

    // the object's metadata come from the package
    let resp = submit(&a, &file("XAIP_OK.xml")).await;
    let aoid = el(&resp, "AOID").unwrap().to_string();
    let (st, _, body) = send(&a.router, get(&format!("/v1/objects/{aoid}"))).await;
    assert_eq!(st, StatusCode::OK);
    let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let v = &view["versions"][0];
    assert_eq!(v["system"], "BSI-Test-Client", "{view}");
    assert_eq!(v["retention_until"], "2100-01-01", "{view}");
    assert_eq!(v["meta"]["xaip.version"], "V001", "{view}");
    assert_eq!(v["media_type"], "application/vnd.bsi.tr-esor.xaip+xml");
}

#[tokio::test]
async fn c2_xaip_submission_sqlite() {
    c2_submission_cases(Db::Sqlite).await
}

#[tokio::test]
async fn c2_xaip_submission_postgres() {
    c2_submission_cases(Db::Postgres).await
}

/// M-SU-01 then M-RE-01 and M-EV-01 on one package: retrieval gives the
/// package with the archive's AOID in its header and every protected
/// object as submitted; the version's evidence record verifies against
/// the retrieved package, in the library and offline with `bewahr verify
/// --xaip`, and fails for a package whose data was changed.
#[tokio::test]
async fn an_archived_xaip_comes_back_with_its_aoid_and_its_evidence_proves_it() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let original = file("XAIP_OK_SIG_OK.xml");
    let resp = submit(&a, &original).await;
    result(&resp, OK, None);
    let aoid = el(&resp, "AOID").unwrap().to_string();

    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            "<tr:ArchiveRetrievalRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveRetrievalRequest>"
        ),
    )
    .await;
    result(&resp, OK, None);
    let start = resp.find("<xaip:XAIP").expect("an XAIP in the response");
    let end = resp.rfind("</xaip:XAIP>").unwrap() + "</xaip:XAIP>".len();
    let retrieved = resp[start..end].as_bytes().to_vec();
    let x = bewahr_xaip::Xaip::parse_valid(&retrieved).unwrap();
    assert_eq!(x.aoid().as_deref(), Some(aoid.as_str()));
    let objects = |x: &bewahr_xaip::Xaip| -> Vec<Vec<u8>> {
        x.protected_objects("V001", &Default::default())
            .unwrap()
            .into_iter()
            .map(|o| o.bytes)
            .collect()
    };
    let first = bewahr_xaip::Xaip::parse(&original).unwrap();
    assert_eq!(objects(&x), objects(&first));
    assert_eq!(objects(&x).len(), 5, "DO-01, CR-01, MDO-01, DO-02, CR-02");

    // ArchiveEvidence: the version's record (waits for the batch)
    let (_, resp) = soap(
        &a,
        "auditor",
        &format!("<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID><tr:VersionID>V001</tr:VersionID></tr:ArchiveEvidenceRequest>"),
    )
    .await;
    result(&resp, OK, None);
    assert!(
        resp.contains(&format!("AOID=\"{aoid}\"")) && resp.contains("VersionID=\"V001\""),
        "{resp}"
    );
    let er = unb64(el(&resp, "asn1EvidenceRecord").unwrap());
    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r = verify::verify_der(&er, &mut InMemory(objects(&x)), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // one decoded byte of the text document changed: the record fails
    let mut changed = objects(&x);
    changed[0][3] ^= 1;
    let r = verify::verify_der(&er, &mut InMemory(changed), &opts);
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());

    // offline: the retrieved package, the record, the TSA's certificates
    let dir = tempdir();
    let (st, _, pem) = send(&a.router, get("/v1/tsa/certificates")).await;
    assert_eq!(st, StatusCode::OK);
    for (name, bytes) in [("pkg.xml", &retrieved), ("v1.ers", &er), ("tsa.pem", &pem)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let verify_cli = |pkg: &str| {
        run(bewahr()
            .args(["verify", "--xaip"])
            .arg(dir.path().join(pkg))
            .arg("--er")
            .arg(dir.path().join("v1.ers"))
            .arg("--tsa-cert")
            .arg(dir.path().join("tsa.pem")))
    };
    let o = verify_cli("pkg.xml");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // the same package with the record in it (IncludeERS), and with one
    // character of its text document changed
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest><dss:OptionalInputs><tr:IncludeERS>urn:ietf:rfc:4998</tr:IncludeERS></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID></tr:ArchiveRetrievalRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let with_er = &resp[resp.find("<xaip:XAIP").unwrap()..resp.rfind("</xaip:XAIP>").unwrap() + 12];
    let carried = bewahr_xaip::Xaip::parse_valid(with_er.as_bytes())
        .unwrap()
        .embedded_records("V001")
        .unwrap();
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0].der, er);
    let text = String::from_utf8(retrieved.clone()).unwrap();
    let tampered = text.replacen("DQpCdW5kZXNhbXQ", "DQpCdW5kZXNhbXR", 1);
    assert_ne!(tampered, text);
    std::fs::write(dir.path().join("tampered.xml"), tampered).unwrap();
    let o = verify_cli("tampered.xml");
    assert_ne!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
