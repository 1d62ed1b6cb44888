//! ASiC-ERS export (issue 13): `GET /v1/objects/{aoid}/versions/{n}/asic`
//! gives ASiC-S for a document alone and ASiC-E for a document with its
//! preserved signature and validation data, the version's evidence record
//! in `META-INF/evidencerecord.ers`; the container verifies as a whole
//! through the signature validator and `bewahr verify --asic`, and a
//! changed data object fails.

use axum::http::StatusCode;
use bewahr::signature::{self, asic, conclude, examine, Context, Indication};

use crate::api::{archive, get, js, multipart, post, send, Db, TestArchive};
use crate::support::*;

async fn submit(a: &TestArchive, parts: &[(&str, &str, &[u8])]) -> String {
    let (ct, body) = multipart(parts);
    let (st, _, b) = send(&a.router, post("/v1/objects", &ct, body)).await;
    assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let aoid = js(&b)["aoid"].as_str().unwrap().to_string();
    // sealed
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    aoid
}

/// Version 1 of `aoid` as the archive exports it: the headers and the container.
async fn asic_of(a: &TestArchive, aoid: &str) -> (axum::http::HeaderMap, Vec<u8>) {
    let (st, h, zip) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/versions/1/asic")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    (h, zip)
}

fn check(a: &TestArchive, zip: &[u8]) -> signature::ValidationReport {
    let anchors = a.state().stamper.trust_anchors();
    let ctx = Context {
        anchors: &anchors,
        at: time::OffsetDateTime::now_utc(),
        poe: None,
        max_age: time::Duration::days(1),
        xml: Some(&signature::xml_engine::ENGINE),
    };
    conclude(examine(zip, None, &ctx), &Default::default(), &ctx).0
}

#[tokio::test]
async fn versions_come_as_asic_containers_that_verify() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    // a document alone: ASiC-S
    let aoid = submit(
        &a,
        &[("document", "text/plain", b"Bescheid vom 6. Dezember")],
    )
    .await;
    let (h, zip) = asic_of(&a, &aoid).await;
    assert_eq!(h["content-type"], asic::MIMETYPE_S);
    let c = asic::open(&zip).unwrap();
    assert_eq!(c.kind, asic::AsicKind::Simple);
    assert_eq!(c.data_objects.len(), 1);
    assert_eq!(c.data_objects[0].1, b"Bescheid vom 6. Dezember");
    let r = check(&a, &zip);
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );

    // a document with a detached XML signature: ASiC-E with the signature,
    // the validation data and the report, each covered by the record
    let aoid = submit(
        &a,
        &[
            (
                "document",
                "application/xml",
                &std::fs::read(c2("002-test-document.xml")).unwrap(),
            ),
            (
                "signature",
                "application/xml",
                &std::fs::read(c2("002-test-document-XADES-detached.xml")).unwrap(),
            ),
        ],
    )
    .await;
    let (h, zip) = asic_of(&a, &aoid).await;
    assert_eq!(h["content-type"], asic::MIMETYPE_E);
    let c = asic::open(&zip).unwrap();
    let mut names: Vec<&str> = c.data_objects.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "document.xml",
            "signature.xml",
            "validation-data.der",
            "validation-report.json"
        ]
    );
    assert_eq!(c.manifests.len(), 1);
    let r = check(&a, &zip);
    assert_eq!(
        r.indication,
        Some(Indication::TotalPassed),
        "{}",
        r.to_text()
    );
    assert!(
        r.to_text().contains("evidence record (RFC 4998)"),
        "{}",
        r.to_text()
    );

    // bewahr verify --asic, with the archive's TSA trusted
    let dir = tempdir();
    pem_file(dir.path(), "tsa.pem", &a.state().stamper.trust_anchors());
    std::fs::write(dir.path().join("v1.asice"), &zip).unwrap();
    let verify_asic = |name: &str| {
        run(bewahr()
            .arg("verify")
            .arg("--asic")
            .arg(dir.path().join(name))
            .arg("--tsa-cert")
            .arg(dir.path().join("tsa.pem")))
    };
    let out = verify_asic("v1.asice");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // a data object changed inside the container: the manifest's digest
    // and the record both fail
    let changed: Vec<(String, Vec<u8>)> = c
        .data_objects
        .iter()
        .map(|(n, b)| {
            let mut b = b.clone();
            if n == "document.xml" {
                b.extend_from_slice(b"<!-- added -->");
            }
            (n.clone(), b)
        })
        .collect();
    let objects: Vec<asic::DataObject<'_>> = changed
        .iter()
        .map(|(n, b)| asic::DataObject {
            name: n,
            media_type: "application/octet-stream",
            bytes: b,
        })
        .collect();
    let forged = asic::with_evidence_record(&objects, &c.evidence_records[0].1).unwrap();
    let r = check(&a, &forged);
    assert_eq!(
        r.indication,
        Some(Indication::TotalFailed),
        "{}",
        r.to_text()
    );
    std::fs::write(dir.path().join("forged.asice"), &forged).unwrap();
    let out = verify_asic("forged.asice");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
