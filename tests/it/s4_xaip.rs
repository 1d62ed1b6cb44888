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
pub(crate) fn package_text(bytes: &[u8]) -> String {
    let t = String::from_utf8(bytes.to_vec()).unwrap();
    match t.strip_prefix("<?xml") {
        Some(r) => r.split_once("?>").unwrap().1.to_string(),
        None => t,
    }
}

/// The `xaip:XAIP` element of a retrieval response.
pub(crate) fn package_in(resp: &str) -> &str {
    let start = resp.find("<xaip:XAIP").expect("an XAIP in the response");
    let end = resp.rfind("</xaip:XAIP>").unwrap() + "</xaip:XAIP>".len();
    &resp[start..end]
}

/// The bytes TR-ESOR-ERS hashes for each protected object of V001.
fn objects(x: &bewahr_xaip::Xaip) -> Vec<Vec<u8>> {
    objects_of(x, "V001")
}

/// The bytes TR-ESOR-ERS hashes for each protected object of `version`.
pub(crate) fn objects_of(x: &bewahr_xaip::Xaip, version: &str) -> Vec<Vec<u8>> {
    x.protected_objects(version, &Default::default())
        .unwrap()
        .into_iter()
        .map(|o| o.bytes)
        .collect()
}

/// `bewahr verify --xaip PKG --er ER --tsa-cert tsa.pem`, the files in `dir`.
fn verify_offline(dir: &std::path::Path, pkg: &str, er: &str) -> std::process::Output {
    run(bewahr()
        .args(["verify", "--xaip"])
        .arg(dir.join(pkg))
        .arg("--er")
        .arg(dir.join(er))
        .arg("--tsa-cert")
        .arg(dir.join("tsa.pem")))
}

/// What a command printed.
fn said(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// C.2's unknown control (`uoi:SomethingUnknown`) as the OptionalInputs.
pub(crate) const UNKNOWN_OPTIONAL_INPUT: &str = r#"<dss:OptionalInputs><uoi:SomethingUnknown xmlns:uoi="http://bsi.bund.de/tr-esoe/unknownOptionalInput">?</uoi:SomethingUnknown></dss:OptionalInputs>"#;

/// The archive's record `der` over `objects`, checked now by the
/// verifier with the archive's own TSA trusted.
pub(crate) fn check_record(a: &TestArchive, der: &[u8], objects: Vec<Vec<u8>>) -> verify::Report {
    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    verify::verify_der(der, &mut InMemory(objects), &opts)
}

pub(crate) async fn submit(a: &TestArchive, package: &[u8]) -> String {
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

pub(crate) fn file(name: &str) -> Vec<u8> {
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
        eprintln!("{name}: {minor}: {}", el(&resp, "ResultMessage").unwrap());
    }
    // M-SU-07: XAIP_OK with an unknown control in OptionalInputs
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!(
            "<tr:ArchiveSubmissionRequest>{UNKNOWN_OPTIONAL_INPUT}{}</tr:ArchiveSubmissionRequest>",
            package_text(&file("XAIP_OK.xml"))
        ),
    )
    .await;
    result(&resp, ERROR, Some("arl/notSupported"));
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
    let retrieved = package_in(&resp).as_bytes().to_vec();
    let x = bewahr_xaip::Xaip::parse_valid(&retrieved).unwrap();
    assert_eq!(x.aoid().as_deref(), Some(aoid.as_str()));
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
    let r = check_record(&a, &er, objects(&x));
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // one decoded byte of the text document changed: the record fails
    let mut changed = objects(&x);
    changed[0][3] ^= 1;
    let r = check_record(&a, &er, changed);
    assert_eq!(r.indication, Indication::Failed, "{}", r.to_text());

    // offline: the retrieved package, the record, the TSA's certificates
    let dir = tempdir();
    let (st, _, pem) = send(&a.router, get("/v1/tsa/certificates")).await;
    assert_eq!(st, StatusCode::OK);
    for (name, bytes) in [("pkg.xml", &retrieved), ("v1.ers", &er), ("tsa.pem", &pem)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let verify_cli = |pkg: &str| verify_offline(dir.path(), pkg, "v1.ers");
    let o = verify_cli("pkg.xml");
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    // the same package with the record in it (IncludeERS), and with one
    // character of its text document changed
    let (_, resp) = soap(
        &a,
        "submitter",
        &format!("<tr:ArchiveRetrievalRequest><dss:OptionalInputs><tr:IncludeERS>urn:ietf:rfc:4998</tr:IncludeERS></dss:OptionalInputs><tr:AOID>{aoid}</tr:AOID></tr:ArchiveRetrievalRequest>"),
    )
    .await;
    result(&resp, OK, None);
    let with_er = package_in(&resp);
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

/// A real SOAP client built from the WSDL the running server publishes
/// (Python's zeep, `tests/fixtures/zeep_s4.py`): RetrieveInfo, the C.2
/// package submitted as zeep renders it from the WSDL's types, its
/// evidence and its retrieval; the record verifies offline against the
/// package zeep got back.
#[tokio::test(flavor = "multi_thread")]
async fn a_soap_client_built_from_the_wsdl_archives_an_xaip() {
    if !crate::support::have("python3", &["-c", "import zeep"]) {
        return;
    }
    let dir = tempdir();
    let (http, _, _) = crate::kill::clients(dir.path());
    let token = crate::kill::token(dir.path(), "submitter");
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Running(crate::kill::spawn(dir.path(), port, 50));
    crate::kill::wait_ready(&http, &base).await;
    let out = tempdir();
    let package = c2("XAIP_OK_SIG_OK.xml");
    let o = tokio::task::spawn_blocking({
        let (base, out) = (base.clone(), out.path().to_path_buf());
        move || {
            run(std::process::Command::new("python3")
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/zeep_s4.py"
                ))
                .arg(&base)
                .arg(&token)
                .arg(&package)
                .arg(&out))
        }
    })
    .await
    .unwrap();
    let printed = said(&o);
    assert!(o.status.success(), "{printed}");
    assert!(printed.contains("RetrieveInfo profiles"), "{printed}");
    let aoid = std::fs::read_to_string(out.path().join("aoid.txt")).unwrap();
    let retrieved = std::fs::read(out.path().join("retrieved.xml")).unwrap();
    let x = bewahr_xaip::Xaip::parse_valid(&retrieved).unwrap();
    assert_eq!(x.aoid().as_deref(), Some(aoid.as_str()));
    let pem = crate::kill::tsa_pem(&http, &base).await;
    std::fs::write(out.path().join("tsa.pem"), &pem).unwrap();
    let o = verify_offline(out.path(), "retrieved.xml", "v1.ers");
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
}

/// An S.4 envelope submitting `package` (no XML declaration in it).
fn submission_envelope(package: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tr="http://www.bsi.bund.de/tr-esor/api/1.3"><soap:Body><tr:ArchiveSubmissionRequest>{package}</tr:ArchiveSubmissionRequest></soap:Body></soap:Envelope>"#
    )
}

/// `kill -9` of the real server while XAIPs arrive over S.4 (and batches
/// are sealed): after a restart every acknowledged package is there, comes
/// back with its AOID and the protected objects it was sent with, and its
/// version's record proves them.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_xaip_submissions_loses_nothing_acknowledged() {
    let dir = tempdir();
    let (sub, _, _) = crate::kill::clients(dir.path());
    let original = package_text(&file("XAIP_OK.xml"));
    let info = "<xaip:packageInfo>Information über diesen AIP</xaip:packageInfo>";
    assert!(original.contains(info));
    // each package differs (its packageInfo, not hashed); its data objects
    // are the same and stored once
    let template = std::sync::Arc::new(original.clone());
    let make = move |tag: &str| {
        template.replacen(
            info,
            &format!("<xaip:packageInfo>{tag}</xaip:packageInfo>"),
            1,
        )
    };
    let mut acknowledged: Vec<(String, String)> = vec![];
    for round in 0..3u64 {
        let port = crate::support::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut server = Running(crate::kill::spawn(dir.path(), port, 20 + round * 30));
        crate::kill::wait_ready(&sub, &base).await;
        let started = std::time::Instant::now();
        let mut tasks = vec![];
        for w in 0..4 {
            let (sub, base, make) = (sub.clone(), base.clone(), make.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = vec![];
                for i in 0.. {
                    let package = make(&format!("round {round} writer {w} package {i}"));
                    let r = sub
                        .post(format!("{base}/s4"))
                        .header("content-type", "text/xml; charset=utf-8")
                        .body(submission_envelope(&package))
                        .send()
                        .await;
                    let Ok(r) = r else { break };
                    let Ok(text) = r.text().await else { break };
                    if el(&text, "ResultMajor") != Some(OK) {
                        break;
                    }
                    ok.push((el(&text, "AOID").unwrap().to_string(), package));
                }
                ok
            }));
        }
        let kill_after = std::time::Duration::from_millis(400 + round * 250);
        tokio::time::sleep(kill_after.saturating_sub(started.elapsed())).await;
        server.0.kill().unwrap(); // SIGKILL
        server.0.wait().unwrap();
        for t in tasks {
            acknowledged.extend(t.await.unwrap());
        }
    }
    assert!(acknowledged.len() > 10, "{} packages", acknowledged.len());

    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Running(crate::kill::spawn(dir.path(), port, 50));
    crate::kill::wait_ready(&sub, &base).await;
    let trusted = crate::kill::trust_anchors(&sub, &base).await;
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let first = bewahr_xaip::Xaip::parse(original.as_bytes()).unwrap();
    let want = objects(&first);
    for (i, (aoid, package)) in acknowledged.iter().enumerate() {
        let call = |body: String| {
            let (sub, base) = (sub.clone(), base.clone());
            async move {
                sub.post(format!("{base}/s4"))
                    .header("content-type", "text/xml; charset=utf-8")
                    .body(format!(r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tr="http://www.bsi.bund.de/tr-esor/api/1.3"><soap:Body>{body}</soap:Body></soap:Envelope>"#))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let resp = call(format!(
            "<tr:ArchiveRetrievalRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveRetrievalRequest>"
        ))
        .await;
        assert_eq!(
            el(&resp, "ResultMajor"),
            Some(OK),
            "acknowledged {aoid} is lost: {resp}"
        );
        let x = bewahr_xaip::Xaip::parse_valid(package_in(&resp).as_bytes()).unwrap();
        assert_eq!(x.aoid().as_deref(), Some(aoid.as_str()));
        assert_eq!(objects(&x), want, "{aoid}");
        let tag = package
            .split("<xaip:packageInfo>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        assert!(resp.contains(tag), "{aoid}: not the package that was sent");
        // every 4th: the version's evidence record (debug builds are slow)
        if i % 4 == 0 {
            let resp = call(format!(
                "<tr:ArchiveEvidenceRequest><tr:AOID>{aoid}</tr:AOID></tr:ArchiveEvidenceRequest>"
            ))
            .await;
            assert_eq!(el(&resp, "ResultMajor"), Some(OK), "{aoid}: {resp}");
            let er = unb64(el(&resp, "asn1EvidenceRecord").unwrap());
            let r = verify::verify_der(&er, &mut InMemory(want.clone()), &opts);
            assert_eq!(r.indication, Indication::Passed, "{aoid}: {}", r.to_text());
        }
    }
}

/// A server process that is killed when the test ends, also when it fails
/// (a failed assertion must not leave `bewahr serve` running).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
