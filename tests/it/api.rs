//! The archive service through its real router (`app(state)` + `oneshot`),
//! on SQLite and on PostgreSQL.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use bewahr::access::Role;
use bewahr::alg::DigestAlgorithm;
use bewahr::api::{app, AppState};
use bewahr::config::Config;
use bewahr::seal::{system_clock, Stamper};
use bewahr::server::Archive;
use bewahr::tsp::client::{TsaClient, TsaEndpoint};
use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};
use tower::ServiceExt;

use crate::support::*;

/// A catalog for one test: SQLite in the data dir, or a fresh PostgreSQL database.
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestArchive {
    pub _dir: tempfile::TempDir,
    pub archive: Archive,
    /// The router behind a test client that sends each request with the
    /// token of the role it needs (tenant `t1`), unless it has one.
    pub router: Router,
    /// The router as it is: the tests of authentication use it.
    pub raw: Router,
    /// Tokens: `submitter`, `auditor`, `admin` of tenant `t1`,
    /// `t2-submitter`, `t2-auditor` of tenant `t2`, and `operator`.
    pub tokens: std::collections::HashMap<&'static str, String>,
    pg_db: Option<String>,
    /// The S3 server of a run with `BEWAHR_TEST_STORE=s3`.
    _moto: Option<crate::s3::Moto>,
}

/// The role a request needs, for the test client.
fn role_for(method: &axum::http::Method, path: &str) -> &'static str {
    if path.starts_with("/v1/admin") || path == "/metrics" {
        "operator"
    } else if method == axum::http::Method::POST && path.starts_with("/v1/objects") {
        "submitter"
    } else {
        "auditor"
    }
}

impl TestArchive {
    pub fn state(&self) -> &AppState {
        &self.archive.state
    }
}

impl Drop for TestArchive {
    fn drop(&mut self) {
        if let Some(db) = self.pg_db.take() {
            drop_pg_database(&db);
        }
    }
}

/// Removes a test's database (best effort: pools may still hold
/// connections; WITH (FORCE) ends them).
pub fn drop_pg_database(db: &str) {
    let _ = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        ])
        .output();
}

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh PostgreSQL database, or `None` (skip) when PostgreSQL is not there outside CI.
pub async fn pg_database() -> Option<String> {
    use sqlx::Connection;
    let mut c = match sqlx::PgConnection::connect(PG_ADMIN).await {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("BEWAHR_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("PostgreSQL at 127.0.0.1:5432 is required: {e}");
            }
            eprintln!("SKIPPED: PostgreSQL is not reachable ({e})");
            return None;
        }
    };
    let mut r = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut r).unwrap();
    let name = format!("bewahr_t_{}", hex::encode(r));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .unwrap();
    Some(name)
}

pub async fn archive_with(
    db: Db,
    tweak: impl FnOnce(&mut Config),
    stamper: Option<Stamper>,
) -> Option<TestArchive> {
    archive_at(db, tweak, stamper, system_clock()).await
}

/// An archive on a clock of the test's.
pub async fn archive_at(
    db: Db,
    tweak: impl FnOnce(&mut Config),
    stamper: Option<Stamper>,
    clock: bewahr::seal::Clock,
) -> Option<TestArchive> {
    archive_seams(db, tweak, stamper, clock, Default::default()).await
}

/// An archive with storage seams replaced (`bewahr::testing`).
pub async fn archive_seams(
    db: Db,
    tweak: impl FnOnce(&mut Config),
    stamper: Option<Stamper>,
    clock: bewahr::seal::Clock,
    seams: bewahr::server::Seams,
) -> Option<TestArchive> {
    let dir = tempdir();
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.path().to_path_buf();
    cfg.batch.interval_ms = 100;
    cfg.batch.retry_min_ms = 50;
    cfg.batch.retry_max_ms = 200;
    let mut pg_db = None;
    if let Db::Postgres = db {
        let name = pg_database().await?;
        cfg.catalog.url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        pg_db = Some(name);
    }
    // BEWAHR_TEST_STORE=s3: the same tests on the S3 store (a moto server
    // per archive), as `.ci/run` runs the storage-related ones
    let mut moto = None;
    if std::env::var("BEWAHR_TEST_STORE").as_deref() == Ok("s3") {
        let m = crate::s3::moto().await?;
        crate::s3::make_bucket(&crate::s3::client(&m.endpoint), "archive", true).await;
        crate::s3::s3_config(&mut cfg.store, &m.endpoint, "archive");
        moto = Some(m);
    }
    tweak(&mut cfg);
    let archive = bewahr::server::start_with_seams(&cfg, clock, stamper, seams)
        .await
        .unwrap();
    let raw = app(archive.state.clone());
    let c = &archive.state.catalog;
    let mut tokens = std::collections::HashMap::new();
    for t in ["t1", "t2"] {
        c.create_tenant(t, "test", 0).await.unwrap();
    }
    for (name, role, tenant) in [
        ("submitter", Role::Submitter, Some("t1")),
        ("auditor", Role::Auditor, Some("t1")),
        ("admin", Role::Admin, Some("t1")),
        ("t2-submitter", Role::Submitter, Some("t2")),
        ("t2-auditor", Role::Auditor, Some("t2")),
        ("operator", Role::Operator, None),
    ] {
        let (_, token) = c
            .create_token(tenant, role, name, None, "test", 0)
            .await
            .unwrap();
        tokens.insert(name, token);
    }
    let by_role = std::sync::Arc::new(tokens.clone());
    let router = raw.clone().layer(axum::middleware::from_fn(
        move |mut req: Request<Body>, next: axum::middleware::Next| {
            let by_role = by_role.clone();
            async move {
                if !req.headers().contains_key(header::AUTHORIZATION) {
                    let role = role_for(req.method(), req.uri().path());
                    let v = format!("Bearer {}", by_role[role]);
                    req.headers_mut()
                        .insert(header::AUTHORIZATION, v.parse().unwrap());
                }
                next.run(req).await
            }
        },
    ));
    Some(TestArchive {
        _dir: dir,
        archive,
        router,
        raw,
        tokens,
        pg_db,
        _moto: moto,
    })
}

pub async fn archive(db: Db) -> Option<TestArchive> {
    archive_with(db, |_| {}, None).await
}

pub async fn send(
    router: &Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

pub fn post(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn js(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

pub fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "bewahr-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, ct, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn count_versions(a: &TestArchive) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM versions")
        .fetch_one(a.state().catalog.pool())
        .await
        .unwrap()
        .get(0)
}

async fn submit_and_preserve(db: Db) {
    let Some(a) = archive(db).await else { return };
    let doc = b"%PDF-1.7 Bescheid ueber die Baugenehmigung".to_vec();
    let (st, h, body) = send(&a.router, post("/v1/objects?file_ref=AZ%2063-2026%2F17&title=Baugenehmigung&retention_until=2056-12-31&system=eakte-1&meta.kind=Bescheid", "application/pdf", doc.clone())).await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let j = js(&body);
    let aoid = j["aoid"].as_str().unwrap().to_string();
    assert_eq!(j["version"], 1);
    assert_eq!(j["state"], "pending");
    assert_eq!(
        j["digests"]["sha256"],
        hex::encode(DigestAlgorithm::Sha256.digest(&doc))
    );
    assert_eq!(h[header::LOCATION], format!("/v1/objects/{aoid}"));

    // the evidence record, once the batch is sealed
    let (st, _, er) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&er));
    let policy = AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    let r = verify::verify_der(&er, &mut InMemory(vec![doc.clone()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());

    // the object and its state
    let (st, _, body) = send(&a.router, get(&format!("/v1/objects/{aoid}"))).await;
    assert_eq!(st, StatusCode::OK);
    let j = js(&body);
    assert_eq!(j["versions"][0]["state"], "preserved");
    assert_eq!(j["versions"][0]["file_ref"], "AZ 63-2026/17");
    assert_eq!(j["versions"][0]["meta"]["kind"], "Bescheid");
    assert_eq!(j["versions"][0]["media_type"], "application/pdf");

    // the content, exactly as submitted
    let (st, h, body) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/versions/1/content")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, doc);
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");

    // a new version (the Bescheid is amended), as multipart
    let amended = b"%PDF-1.7 Bescheid, geaendert".to_vec();
    let (ct, mp) = multipart(&[
        ("document", "application/pdf", &amended),
        (
            "metadata",
            "application/json",
            br#"{"title": "Baugenehmigung (Aenderung)", "meta": {"kind": "Aenderungsbescheid"}}"#,
        ),
    ]);
    let (st, _, body) = send(
        &a.router,
        post(&format!("/v1/objects/{aoid}/versions"), &ct, mp),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(js(&body)["version"], 2);
    let (st, _, er2) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/evidence?version=2&wait=20")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let r = verify::verify_der(&er2, &mut InMemory(vec![amended.clone()]), &opts);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    // version 1's record still proves version 1, not version 2
    let r = verify::verify_der(&er, &mut InMemory(vec![amended]), &opts);
    assert_eq!(r.indication, Indication::Failed);

    // the archive's own verification endpoint
    let (ct, mp) = multipart(&[
        ("evidence", "application/octet-stream", &er),
        ("document", "application/pdf", &doc),
    ]);
    let (st, _, body) = send(&a.router, post("/v1/verify", &ct, mp)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        js(&body)["indication"],
        "PASSED",
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_preserve_and_verify_sqlite() {
    submit_and_preserve(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_preserve_and_verify_postgres() {
    submit_and_preserve(Db::Postgres).await;
}

async fn bad_input_leaves_nothing(db: Db) {
    let Some(a) = archive_with(db, |c| c.server.max_body_bytes = 1000, None).await else {
        return;
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post("/v1/objects", "text/plain", ""),
            StatusCode::BAD_REQUEST,
            "empty_document",
        ),
        (
            post("/v1/objects?retention_until=2001-01-01", "text/plain", "x"),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            post("/v1/objects?retention_until=tomorrow", "text/plain", "x"),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            post("/v1/objects?colour=red", "text/plain", "x"),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            post("/v1/objects?meta.b%20ad=1", "text/plain", "x"),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            post("/v1/objects", "application/pdf", vec![0u8; 1001]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            post("/v1/objects", "multipart/form-data; boundary=x", "garbage"),
            StatusCode::BAD_REQUEST,
            "bad_multipart",
        ),
        (
            post(
                "/v1/objects/00000000-0000-4000-8000-000000000000/versions",
                "text/plain",
                "x",
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            post("/v1/objects/..%2F..%2Fetc/versions", "text/plain", "x"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/v1/objects/not-an-aoid"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            get("/v1/objects/00000000-0000-4000-8000-000000000000/evidence"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, want, code) in cases {
        let uri = req.uri().to_string();
        let (st, _, body) = send(&a.router, req).await;
        assert_eq!(st, want, "{uri}: {}", String::from_utf8_lossy(&body));
        let j = js(&body);
        assert_eq!(j["error"]["code"], code, "{uri}: {j}");
        assert!(!j["error"]["message"].as_str().unwrap().is_empty());
    }
    for (parts, code) in [
        (
            vec![("metadata", "application/json", &br#"{"title": "x"}"#[..])],
            "empty_document",
        ),
        (
            vec![
                ("document", "text/plain", &b"x"[..]),
                ("metadata", "application/json", &br#"{"titel": "x"}"#[..]),
            ],
            "invalid_metadata",
        ),
        (
            vec![
                ("document", "text/plain", &b"x"[..]),
                ("metadata", "application/json", &b"not json"[..]),
            ],
            "invalid_metadata",
        ),
        (
            vec![
                ("document", "text/plain", &b"x"[..]),
                ("other", "text/plain", &b"x"[..]),
            ],
            "bad_multipart",
        ),
        (
            vec![("document", "text/plain", &vec![1u8; 2000][..])],
            "too_large",
        ),
    ] {
        let (ct, mp) = multipart(&parts);
        let (st, _, body) = send(&a.router, post("/v1/objects", &ct, mp)).await;
        assert!(st.is_client_error(), "{code}: {st}");
        assert_eq!(js(&body)["error"]["code"], code);
    }
    assert_eq!(count_versions(&a).await, 0, "nothing half-stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_4xx_and_leaves_nothing_sqlite() {
    bad_input_leaves_nothing(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_4xx_and_leaves_nothing_postgres() {
    bad_input_leaves_nothing(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_evidence_is_409_and_identical_bytes_are_stored_once() {
    let Some(a) = archive_with(Db::Sqlite, |c| c.batch.interval_ms = 3_600_000, None).await else {
        return;
    };
    let mut aoids = vec![];
    for _ in 0..2 {
        let (st, _, body) = send(
            &a.router,
            post("/v1/objects", "text/plain", "the same bytes"),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        aoids.push(js(&body)["aoid"].as_str().unwrap().to_string());
    }
    assert_ne!(
        aoids[0], aoids[1],
        "each submission is its own archive object"
    );
    let (st, h, body) = send(
        &a.router,
        get(&format!("/v1/objects/{}/evidence", aoids[0])),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(js(&body), serde_json::json!({"state": "pending"}));
    assert!(h.contains_key(header::RETRY_AFTER));
    let (st, _, body) = send(&a.router, get(&format!("/v1/objects/{}", aoids[1]))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(js(&body)["versions"][0]["state"], "pending");
    // stored once
    let sha: [u8; 32] = DigestAlgorithm::Sha256
        .digest(b"the same bytes")
        .try_into()
        .unwrap();
    assert!(a.state().ingest.store.has(&sha).unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn service_endpoints() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let (st, _, body) = send(&a.router, post("/v1/objects", "text/plain", "counted")).await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (st, _, body) = send(&a.router, get("/healthz")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(js(&body)["status"], "ok");
    let (st, _, _) = send(&a.router, get("/readyz")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, body) = send(&a.router, get("/metrics")).await;
    assert_eq!(st, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    for m in [
        "bewahr_objects_total",
        "bewahr_bytes_total",
        "bewahr_pending_objects",
        "bewahr_http_request_duration_seconds",
    ] {
        assert!(text.contains(m), "{m} missing from /metrics:\n{text}");
    }
    let (st, _, body) = send(&a.router, get("/v1/openapi.json")).await;
    assert_eq!(st, StatusCode::OK);
    let doc = js(&body);
    for p in [
        "/v1/objects",
        "/v1/objects/{aoid}/evidence",
        "/v1/verify",
        "/v1/tsa/certificates",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} not in the OpenAPI document"
        );
    }
    let (st, _, body) = send(&a.router, get("/v1/tsa/certificates")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        x509_cert::Certificate::load_pem_chain(&body).unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tsa_outage_does_not_stop_ingest() {
    let mut dead = TsaEndpoint::new("down", "http://127.0.0.1:9/");
    dead.retries = 0;
    dead.timeout = Duration::from_millis(200);
    let stamper = Stamper::remote(TsaClient::new(vec![dead]).unwrap());
    let Some(a) = archive_with(Db::Sqlite, |_| {}, Some(stamper)).await else {
        return;
    };
    for i in 0..5 {
        let (st, _, _) = send(
            &a.router,
            post("/v1/objects", "text/plain", format!("doc {i}")),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, _, body) = send(&a.router, get("/healthz")).await;
    let j = js(&body);
    assert_eq!(j["status"], "degraded", "{j}");
    assert!(j["sealing"]["consecutive_failures"].as_u64().unwrap() >= 1);
    assert!(
        j["sealing"]["last_error"]
            .as_str()
            .unwrap()
            .contains("down"),
        "{j}"
    );
    let (_, _, body) = send(&a.router, get("/metrics")).await;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("bewahr_tsa_errors_total"));
    assert_eq!(a.state().catalog.pending_count().await.unwrap(), 5);
}

/// Many submissions at once land in one group commit: its multi-row
/// statements (of 256, 32, 4 and 1 rows) must give every submission its own
/// AOID, version and seq; a version of an unknown object in the same group
/// fails alone; the audit entries, written in the same transactions, chain.
async fn group_commit_of_many(db: Db) {
    let Some(a) = archive_with(db, |c| c.batch.interval_ms = 3_600_000, None).await else {
        return;
    };
    // objects to add versions to
    let mut firsts = Vec::new();
    for i in 0..3 {
        let (s, _, b) = send(
            &a.router,
            post("/v1/objects", "text/plain", format!("first {i}")),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        firsts.push(js(&b)["aoid"].as_str().unwrap().to_string());
    }
    let n = 300;
    let mut tasks = Vec::new();
    for i in 0..n {
        let r = a.router.clone();
        let uri = match i % 50 {
            0..=2 => format!("/v1/objects/{}/versions", firsts[i % 50]),
            3 => "/v1/objects/00000000-0000-4000-8000-000000000000/versions".to_string(),
            _ => format!("/v1/objects?title=doc-{i}&meta.n={i}"),
        };
        tasks.push(tokio::spawn(async move {
            let (s, _, b) = send(&r, post(&uri, "text/plain", format!("document {i}"))).await;
            (i, uri, s, b)
        }));
    }
    let mut created = std::collections::HashSet::new();
    let mut versions_of: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for t in tasks {
        let (i, uri, s, b) = t.await.unwrap();
        if uri.contains("00000000-0000-4000") {
            assert_eq!(
                s,
                StatusCode::NOT_FOUND,
                "{i}: {}",
                String::from_utf8_lossy(&b)
            );
            continue;
        }
        assert_eq!(
            s,
            StatusCode::CREATED,
            "{i}: {}",
            String::from_utf8_lossy(&b)
        );
        let v = js(&b);
        let aoid = v["aoid"].as_str().unwrap().to_string();
        if uri.contains("/versions") {
            assert!(uri.contains(&aoid));
            versions_of
                .entry(aoid)
                .or_default()
                .push(v["version"].as_i64().unwrap());
        } else {
            assert_eq!(v["version"], 1);
            assert!(created.insert(aoid.clone()), "AOID {aoid} given twice");
            // its own metadata came back with it
            let (s, _, b) = send(&a.router, get(&format!("/v1/objects/{aoid}"))).await;
            assert_eq!(s, StatusCode::OK);
            let o = js(&b);
            assert_eq!(o["versions"][0]["title"], format!("doc-{i}"), "{o}");
            assert_eq!(o["versions"][0]["meta"]["n"], i.to_string(), "{o}");
            let (_, _, body) = send(
                &a.router,
                get(&format!("/v1/objects/{aoid}/versions/1/content")),
            )
            .await;
            assert_eq!(body, format!("document {i}").into_bytes());
        }
    }
    assert_eq!(created.len(), n - 4 * n / 50);
    // the versions of each object are 2, 3, ... without gaps or repeats
    for (aoid, mut vs) in versions_of {
        vs.sort();
        assert_eq!(vs, (2..2 + vs.len() as i64).collect::<Vec<_>>(), "{aoid}");
    }
    // every seq once
    use sqlx::Row;
    let rows = sqlx::query("SELECT COUNT(*), COUNT(DISTINCT seq) FROM versions")
        .fetch_one(a.state().catalog.pool())
        .await
        .unwrap();
    assert_eq!(rows.get::<i64, _>(0), rows.get::<i64, _>(1));
    assert_eq!(rows.get::<i64, _>(0), 3 + n as i64 - (n / 50) as i64);
    // the audit trail: every request, one unbroken chain
    let mut chain = None;
    for _ in 0..100 {
        let report = bewahr::audit::verify_chain(&a.state().catalog)
            .await
            .unwrap()
            .unwrap();
        if report.entries >= 3 + n as i64 {
            chain = Some(report);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let chain = chain.expect("every request reached the audit trail");
    assert!(chain.entries >= 3 + n as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_commit_of_many_sqlite() {
    group_commit_of_many(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_commit_of_many_postgres() {
    group_commit_of_many(Db::Postgres).await;
}
