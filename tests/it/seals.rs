//! Seals and signatures at ingest, end to end: a real test PKI (certomancer
//! with OCSP responder and CRL), documents signed by `openssl cms` and
//! pyHanko (tests/fixtures/signing), submitted through the real router;
//! the preserved validation data re-checked offline by `bewahr verify`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::api::{archive_with, get, js, multipart, post, send, Db, TestArchive};
use crate::support::*;

pub struct SigningPki {
    child: Child,
    pub dir: tempfile::TempDir,
    /// A listener that accepts and never answers: the `no-ocsp` certificate's responder.
    _hang: std::net::TcpListener,
}

impl Drop for SigningPki {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SigningPki {
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.out(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// Keys, signed documents and a running certomancer, or `None` (skip) without the tools.
pub async fn start() -> Option<SigningPki> {
    if !have("certomancer", &["--help"])
        || !have("python3", &["-c", "import pyhanko, certomancer"])
        || !have("openssl", &["version"])
    {
        return None;
    }
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempdir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // the OCSP responder and CRL of `no-ocsp`: accepts connections, never answers
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_at = hang.local_addr().unwrap().to_string();
    let ok = |st: std::process::ExitStatus, what: &str| assert!(st.success(), "{what} failed");
    ok(
        Command::new("bash")
            .arg(fixtures.join("certomancer/make-keys.sh"))
            .arg(dir.path())
            .status()
            .unwrap(),
        "make-keys.sh",
    );
    ok(
        Command::new("bash")
            .arg(fixtures.join("signing/make-signed.sh"))
            .arg(dir.path())
            .arg(dir.path().join("out"))
            .arg(&base)
            .env("NO_OCSP_HOSTPORT", &hang_at)
            .stdout(Stdio::null())
            .status()
            .unwrap(),
        "make-signed.sh",
    );
    let child = animate_certomancer(dir.path(), port);
    let pki = SigningPki {
        child,
        dir,
        _hang: hang,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http
            .get(format!("{base}/bewahr/certs/root/ca.cert.pem"))
            .send()
            .await
        {
            if r.status().is_success() {
                return Some(pki);
            }
        }
        assert!(Instant::now() < deadline, "certomancer did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn archive(
    pki: &SigningPki,
    db: Db,
    tweak: impl FnOnce(&mut bewahr::config::Config),
) -> Option<TestArchive> {
    let root = pki.out("certs/root.pem").display().to_string();
    archive_with(
        db,
        move |c| {
            c.validation.trust_anchors = vec![root];
            c.validation.fetch_timeout_ms = 6000;
            tweak(c);
        },
        None,
    )
    .await
}

/// Submits a document (with a detached signature) and returns status and JSON.
async fn submit(
    a: &TestArchive,
    doc: &[u8],
    sig: Option<&[u8]>,
    system: &str,
) -> (StatusCode, serde_json::Value) {
    let meta = format!("{{\"system\": \"{system}\"}}");
    let mut parts: Vec<(&str, &str, &[u8])> = vec![
        ("document", "application/octet-stream", doc),
        ("metadata", "application/json", meta.as_bytes()),
    ];
    if let Some(s) = sig {
        parts.push(("signature", "application/pkcs7-signature", s));
    }
    let (ct, body) = multipart(&parts);
    let (st, _, b) = send(&a.router, post("/v1/objects", &ct, body)).await;
    (st, js(&b))
}

fn ind(j: &serde_json::Value) -> (String, String) {
    let v = if j["validation"].is_object() {
        &j["validation"]
    } else {
        j
    };
    (
        v["indication"].as_str().unwrap_or("").to_string(),
        v["sub_indication"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn seals_at_ingest_with_a_real_pki() {
    let Some(pki) = start().await else { return };
    let a = archive(&pki, Db::Sqlite, |c| {
        c.validation.systems.insert(
            "strict".into(),
            bewahr::config::ValidationPolicy {
                on_failed: bewahr::config::OnOutcome::Reject,
                on_indeterminate: bewahr::config::OnOutcome::Reject,
                require_signature: true,
            },
        );
    })
    .await
    .expect("archive");
    let doc = pki.read("doc.txt");
    let changed = pki.read("doc-changed.txt");

    // valid seals and signatures of every format
    for (name, detached) in [
        ("cades/seal.p7s", true),
        ("cades/signer.p7s", true),
        ("cades/pss.p7s", true),
        ("cades/seal.p7m", false),
        ("pades/seal.pdf", false),
        ("pades/signer.pdf", false),
        ("pades/two-sigs.pdf", false),
        ("asic/seal.asics", false),
        ("asic/seal.asice", false),
    ] {
        let bytes = pki.read(name);
        let (st, j) = if detached {
            submit(&a, &doc, Some(&bytes), "eakte").await
        } else {
            submit(&a, &bytes, None, "eakte").await
        };
        assert_eq!(st, StatusCode::CREATED, "{name}: {j}");
        assert_eq!(ind(&j).0, "TOTAL_PASSED", "{name}: {j}");
        for s in j["validation"]["signatures"].as_array().unwrap() {
            assert_eq!(s["indication"], "TOTAL_PASSED", "{name}: {s}");
            assert_eq!(s["qualification"]["qualified"], true, "{name}: {s}");
        }
    }
    let (_, j) = submit(&a, &doc, Some(&pki.read("cades/seal.p7s")), "eakte").await;
    assert_eq!(
        j["validation"]["signatures"][0]["qualification"]["kind"], "seal",
        "{j}"
    );
    let (_, j) = submit(&a, &doc, Some(&pki.read("cades/signer.p7s")), "eakte").await;
    assert_eq!(
        j["validation"]["signatures"][0]["qualification"]["kind"], "signature",
        "{j}"
    );
    let (_, j) = submit(&a, &pki.read("pades/two-sigs.pdf"), None, "eakte").await;
    assert_eq!(
        j["validation"]["signatures"].as_array().unwrap().len(),
        2,
        "{j}"
    );

    // the revocation cache: the same signer again asks the responder nothing
    let fetcher = a
        .state()
        .ingest
        .validator
        .as_ref()
        .unwrap()
        .fetcher()
        .clone();
    let before = fetcher.stats();
    for _ in 0..3 {
        let (st, _) = submit(&a, &doc, Some(&pki.read("cades/seal.p7s")), "eakte").await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let after = fetcher.stats();
    assert_eq!(
        after.ocsp_requests, before.ocsp_requests,
        "{before:?} {after:?}"
    );
    assert!(
        after.cache_hits >= before.cache_hits + 6,
        "{before:?} {after:?}"
    );

    // refused by the default policy (TOTAL_FAILED): 422 with the report, nothing archived
    for (name, document, sig, sub) in [
        (
            "revoked",
            doc.clone(),
            Some(pki.read("cades/revoked.p7s")),
            "REVOKED",
        ),
        (
            "changed document",
            changed.clone(),
            Some(pki.read("cades/seal.p7s")),
            "HASH_FAILURE",
        ),
        (
            "changed PDF",
            pki.read("pades/seal-changed.pdf"),
            None,
            "HASH_FAILURE",
        ),
        (
            "revoked PDF",
            pki.read("pades/revoked.pdf"),
            None,
            "REVOKED",
        ),
        (
            "changed ASiC-E",
            pki.read("asic/changed.asice"),
            None,
            "HASH_FAILURE",
        ),
    ] {
        let (st, j) = submit(&a, &document, sig.as_deref(), "eakte").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {j}");
        assert_eq!(j["error"]["code"], "signature_refused", "{name}: {j}");
        assert_eq!(j["validation"]["indication"], "TOTAL_FAILED", "{name}: {j}");
        assert_eq!(j["validation"]["sub_indication"], sub, "{name}: {j}");
    }

    // accepted and recorded by the default policy (INDETERMINATE)
    let t0 = Instant::now();
    for (name, sig, sub) in [
        ("expired", "cades/expired.p7s", "OUT_OF_BOUNDS_NO_POE"),
        (
            "foreign root",
            "cades/foreign.p7s",
            "NO_CERTIFICATE_CHAIN_FOUND",
        ),
        ("hanging OCSP responder", "cades/no-ocsp.p7s", "TRY_LATER"),
    ] {
        let (st, j) = submit(&a, &doc, Some(&pki.read(sig)), "eakte").await;
        assert_eq!(st, StatusCode::CREATED, "{name}: {j}");
        assert_eq!(ind(&j), ("INDETERMINATE".into(), sub.into()), "{name}: {j}");
    }
    assert!(
        t0.elapsed() < Duration::from_secs(45),
        "a hanging responder held ingest for {:?}",
        t0.elapsed()
    );

    // a PDF changed by an incremental update after signing: valid, reported as not covering the whole file
    let (st, j) = submit(&a, &pki.read("pades/seal-updated.pdf"), None, "eakte").await;
    assert_eq!(st, StatusCode::CREATED, "{j}");
    let aoid = j["aoid"].as_str().unwrap().to_string();
    let (_, _, b) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/versions/1/validation")),
    )
    .await;
    let v = js(&b);
    assert_eq!(
        v["report"]["signatures"][0]["covers_whole_document"], false,
        "{v}"
    );

    // the strict system: INDETERMINATE and unsigned are refused too
    let (st, j) = submit(&a, &doc, Some(&pki.read("cades/expired.p7s")), "strict").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{j}");
    let (st, j) = submit(&a, &doc, None, "strict").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{j}");
    assert!(
        j["error"]["message"].as_str().unwrap().contains("requires"),
        "{j}"
    );
    let (st, j) = submit(&a, &doc, Some(&pki.read("cades/seal.p7s")), "strict").await;
    assert_eq!(st, StatusCode::CREATED, "{j}");

    // a signature part that is no signature: 400
    let (st, j) = submit(&a, &doc, Some(b"not a signature"), "eakte").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{j}");
}

async fn fetch(a: &TestArchive, uri: &str) -> Vec<u8> {
    let (st, _, b) = send(&a.router, get(uri)).await;
    assert_eq!(st, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&b));
    b
}

fn write(dir: &Path, name: &str, b: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn preserved_validation_data_rechecked_offline() {
    preserved_and_rechecked(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread")]
async fn preserved_validation_data_rechecked_offline_postgres() {
    preserved_and_rechecked(Db::Postgres).await
}

async fn preserved_and_rechecked(db: Db) {
    let Some(pki) = start().await else { return };
    let Some(a) = archive(&pki, db, |c| c.store.sweep_grace_secs = 0).await else {
        return;
    };
    let doc = pki.read("doc.txt");
    let sig = pki.read("cades/seal.p7s");
    let (st, j) = submit(&a, &doc, Some(&sig), "eakte").await;
    assert_eq!(st, StatusCode::CREATED, "{j}");
    let aoid = j["aoid"].as_str().unwrap().to_string();
    let base = format!("/v1/objects/{aoid}/versions/1/validation");

    // the report and the collected data: certificates, OCSP responses
    let v = js(&fetch(&a, &base).await);
    assert_eq!(v["indication"], "TOTAL_PASSED", "{v}");
    assert!(
        v["validation_data"]["certificates"]
            .as_array()
            .unwrap()
            .len()
            >= 3,
        "{v}"
    );
    assert!(
        !v["validation_data"]["ocsp_responses"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );
    let data = fetch(&a, &format!("{base}/data")).await;
    let report = fetch(&a, &format!("{base}/report")).await;
    assert_eq!(fetch(&a, &format!("{base}/signature")).await, sig);
    let er = fetch(&a, &format!("/v1/objects/{aoid}/evidence?wait=20")).await;
    let tsa = fetch(&a, "/v1/tsa/certificates").await;

    // the web interface's object page: the seal's validation on receipt, and
    // the record verified against the whole group (document, signature,
    // validation data, report)
    let mut jar = crate::ui::sign_in(&a, &a.tokens["auditor"]).await;
    let p = crate::ui::get(&a, &mut jar, &format!("/ui/objects/{aoid}")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body
            .contains("id=\"seal\" data-indication=\"TOTAL_PASSED\""),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("id=\"verdict\" data-indication=\"PASSED\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("/validation/data"), "{}", p.body);

    // the PKI goes away below: re-validation needs nothing but what was preserved
    let dir = tempdir();
    let d = dir.path();
    let root = write(
        d,
        "root.pem",
        &std::fs::read(pki.out("certs/root.pem")).unwrap(),
    );
    let args = |extra: &[&Path]| {
        let mut c = bewahr();
        c.arg("verify")
            .arg("--er")
            .arg(write(d, "e.ers", &er))
            .arg("--data")
            .arg(write(d, "doc.txt", &doc))
            .arg("--data")
            .arg(write(d, "report.json", &report))
            .arg("--tsa-cert")
            .arg(write(d, "tsa.pem", &tsa))
            .arg("--validate-signature")
            .arg("--signature")
            .arg(write(d, "seal.p7s", &sig))
            .arg("--trust-anchor")
            .arg(&root)
            .arg("--json");
        for e in extra {
            c.arg("--validation-data").arg(e);
        }
        c
    };
    drop(pki);
    let out = run(&mut args(&[&write(d, "data.der", &data)]));
    let j = json(&out);
    assert_eq!(j["evidence"]["indication"], "PASSED", "{j}");
    assert_eq!(j["signature"]["indication"], "TOTAL_PASSED", "{j}");
    assert!(j["signature"]["proof_of_existence"].is_string(), "{j}");
    assert_eq!(out.status.code(), Some(0), "{j}");

    // validation data that is not the preserved one is not covered by the record
    let mut other = bewahr::signature::ValidationData::from_der(&data).unwrap();
    other.ocsp_responses.clear();
    let out = run(&mut args(&[&write(d, "other.der", &other.to_der())]));
    let j = json(&out);
    assert_ne!(j["evidence"]["indication"], "PASSED", "{j}");
    assert_ne!(out.status.code(), Some(0));

    // the same over HTTP
    let (ct, body) = multipart(&[
        ("evidence", "application/octet-stream", &er),
        ("document", "text/plain", &doc),
        ("document", "application/json", &report),
        ("signature", "application/pkcs7-signature", &sig),
        ("validation_data", "application/octet-stream", &data),
    ]);
    let (st, _, b) = send(&a.router, post("/v1/verify", &ct, body)).await;
    let j = js(&b);
    assert_eq!(st, StatusCode::OK, "{j}");
    assert_eq!(j["indication"], "PASSED", "{j}");
    assert_eq!(j["signature"]["indication"], "TOTAL_PASSED", "{j}");

    // deleting the object lets the sweeper remove its preserved items from the store too
    let data_sha: [u8; 32] = bewahr::alg::DigestAlgorithm::Sha256
        .digest(&data)
        .try_into()
        .unwrap();
    assert!(a.state().ingest.store.has(&data_sha).unwrap());
    let req = axum::http::Request::delete(format!("/v1/objects/{aoid}"))
        .header("authorization", format!("Bearer {}", a.tokens["admin"]))
        .body(axum::body::Body::empty())
        .unwrap();
    let (st, _, b) = send(&a.router, req).await;
    assert!(st.is_success(), "{st}: {}", String::from_utf8_lossy(&b));
    assert!(
        a.state().ingest.store.has(&data_sha).unwrap(),
        "the deletion itself removes nothing"
    );
    let run = a.state().sweeper.run_now().await.unwrap();
    assert!(
        run.removed >= 2,
        "validation data and report at least: {run:?}"
    );
    assert!(!a.state().ingest.store.has(&data_sha).unwrap());
    let (st, _, _) = send(&a.router, get(&base)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
