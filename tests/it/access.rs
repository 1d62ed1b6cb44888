//! Authentication, roles and tenant isolation through the real router:
//! missing, malformed, unknown, expired and revoked tokens get 401 with the
//! same message; a role that may not do something gets 403; another
//! tenant's object, or an absurd AOID, gets 404 exactly like an unknown one.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;

use crate::api::{archive, send, Db, TestArchive};
use crate::support::*;

fn req(method: Method, uri: &str, token: Option<&str>, body: Body, json: bool) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let ct = if json {
        "application/json"
    } else {
        "text/plain"
    };
    b.header(header::CONTENT_TYPE, ct).body(body).unwrap()
}

async fn call(
    a: &TestArchive,
    m: Method,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let json = body.starts_with('{');
    let (st, _, b) = send(
        &a.raw,
        req(m, uri, token, Body::from(body.to_string()), json),
    )
    .await;
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn submit(a: &TestArchive, who: &str, doc: &str) -> String {
    let (st, b) = call(a, Method::POST, "/v1/objects", Some(&a.tokens[who]), doc).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b["aoid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_bad_tokens_are_refused_alike() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    for uri in ["/healthz", "/readyz"] {
        let (st, _) = call(&a, Method::GET, uri, None, "").await;
        assert_eq!(st, StatusCode::OK, "{uri} needs no token");
    }
    let unknown = format!("bwr_{}_{}", "0123456789abcdef", "A".repeat(43));
    let wrong_secret = {
        let t = &a.tokens["auditor"];
        format!("{}{}", &t[..t.len() - 43], "B".repeat(43))
    };
    let mut messages = std::collections::BTreeSet::new();
    for uri in [
        "/v1/objects/00000000-0000-0000-0000-000000000000",
        "/v1/admin/renewals",
        "/metrics",
        "/v1/openapi.json",
        "/v1/tsa/certificates",
    ] {
        for token in [
            None,
            Some(""),
            Some("xyz"),
            Some(unknown.as_str()),
            Some(wrong_secret.as_str()),
        ] {
            let (st, _, body) =
                send(&a.raw, req(Method::GET, uri, token, Body::empty(), false)).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{uri} {token:?}");
            let b: Value = serde_json::from_slice(&body).unwrap();
            messages.insert(b["error"]["message"].as_str().unwrap().to_string());
        }
        // another scheme is no bearer token
        let r = Request::get(uri)
            .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
            .body(Body::empty())
            .unwrap();
        let (st, h, _) = send(&a.raw, r).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");
    }
    assert_eq!(messages.len(), 1, "the reason is not told: {messages:?}");

    // expired
    let c = &a.state().catalog;
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let (_, soon) = c
        .create_token(
            Some("t1"),
            bewahr::access::Role::Auditor,
            "short",
            Some(now + 300),
            "test",
            now,
        )
        .await
        .unwrap();
    let (st, _) = call(&a, Method::GET, "/v1/tsa/certificates", Some(&soon), "").await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (st, _) = call(&a, Method::GET, "/v1/tsa/certificates", Some(&soon), "").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "expired");

    // revoked, by the tenant's admin
    let admin = a.tokens["admin"].clone();
    let (st, b) = call(
        &a,
        Method::POST,
        "/v1/admin/tokens",
        Some(&admin),
        r#"{"role": "submitter", "label": "fachverfahren"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (id, tok) = (
        b["id"].as_str().unwrap().to_string(),
        b["token"].as_str().unwrap().to_string(),
    );
    submit(&a, "submitter", "x").await;
    let (st, _) = call(&a, Method::POST, "/v1/objects", Some(&tok), "new submitter").await;
    assert_eq!(st, StatusCode::CREATED, "the admin's new token works");
    let (st, _) = call(
        &a,
        Method::DELETE,
        &format!("/v1/admin/tokens/{id}"),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(
        &a,
        Method::POST,
        "/v1/objects",
        Some(&tok),
        "after revocation",
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_see_only_their_own_objects() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let mine = submit(&a, "submitter", "Bescheid der Stadt A").await;
    let theirs = submit(&a, "t2-submitter", "Bescheid der Stadt B").await;
    let (st, _) = call(
        &a,
        Method::GET,
        &format!("/v1/objects/{mine}/evidence?wait=20"),
        Some(&a.tokens["auditor"]),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let t1 = a.tokens["auditor"].clone();
    let t1s = a.tokens["submitter"].clone();
    let mut answers = std::collections::BTreeSet::new();
    for aoid in [theirs.as_str(), unknown] {
        for (m, uri, tok) in [
            (Method::GET, format!("/v1/objects/{aoid}"), &t1),
            (
                Method::GET,
                format!("/v1/objects/{aoid}/versions/1/content"),
                &t1,
            ),
            (Method::GET, format!("/v1/objects/{aoid}/evidence"), &t1),
            (Method::POST, format!("/v1/objects/{aoid}/versions"), &t1s),
        ] {
            let (st, b) = call(&a, m, &uri, Some(tok), "update").await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{uri}: {b}");
            answers.insert(b.to_string());
        }
    }
    assert_eq!(
        answers.len(),
        1,
        "another tenant's object looks like no object: {answers:?}"
    );
    // and the other way round
    let (st, _) = call(
        &a,
        Method::GET,
        &format!("/v1/objects/{mine}"),
        Some(&a.tokens["t2-auditor"]),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // absurd and hostile AOIDs
    for uri in [
        "/v1/objects/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/v1/objects/../../etc/passwd".to_string(),
        format!("/v1/objects/{}", "a".repeat(5000)),
        "/v1/objects/%00".to_string(),
        format!("/v1/objects/{}", mine.to_uppercase()),
    ] {
        let (st, _) = call(&a, Method::GET, &uri, Some(&t1), "").await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_does_what_it_may_and_no_more() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let aoid = submit(&a, "submitter", "Antrag").await;
    let (st, _) = call(
        &a,
        Method::GET,
        &format!("/v1/objects/{aoid}/evidence?wait=20"),
        Some(&a.tokens["submitter"]),
        "",
    )
    .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "a submitter reads its objects' evidence"
    );
    let content = format!("/v1/objects/{aoid}/versions/1/content");
    for (who, m, uri, want) in [
        // the eAkte system reads its own objects back (TR-ESOR ArchiveRetrieval)
        ("submitter", Method::GET, content.as_str(), StatusCode::OK),
        ("auditor", Method::GET, content.as_str(), StatusCode::OK),
        ("admin", Method::GET, content.as_str(), StatusCode::OK),
        (
            "auditor",
            Method::POST,
            "/v1/objects",
            StatusCode::FORBIDDEN,
        ),
        ("admin", Method::POST, "/v1/objects", StatusCode::FORBIDDEN),
        (
            "operator",
            Method::POST,
            "/v1/objects",
            StatusCode::FORBIDDEN,
        ),
        (
            "operator",
            Method::GET,
            content.as_str(),
            StatusCode::FORBIDDEN,
        ),
        (
            "submitter",
            Method::GET,
            "/v1/admin/renewals",
            StatusCode::FORBIDDEN,
        ),
        (
            "admin",
            Method::GET,
            "/v1/admin/renewals/plan",
            StatusCode::FORBIDDEN,
        ),
        (
            "operator",
            Method::GET,
            "/v1/admin/renewals",
            StatusCode::OK,
        ),
        ("auditor", Method::GET, "/metrics", StatusCode::FORBIDDEN),
        ("operator", Method::GET, "/metrics", StatusCode::OK),
        (
            "admin",
            Method::GET,
            "/v1/admin/algorithms",
            StatusCode::FORBIDDEN,
        ),
        (
            "operator",
            Method::GET,
            "/v1/admin/algorithms",
            StatusCode::OK,
        ),
        (
            "submitter",
            Method::POST,
            "/v1/admin/tokens",
            StatusCode::FORBIDDEN,
        ),
        (
            "auditor",
            Method::POST,
            "/v1/admin/tenants",
            StatusCode::FORBIDDEN,
        ),
        (
            "admin",
            Method::POST,
            "/v1/admin/tenants",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (st, b) = call(&a, m.clone(), uri, Some(&a.tokens[who]), "{}").await;
        assert_eq!(st, want, "{who} {m} {uri}: {b}");
    }
    // a tenant admin makes tokens for its own tenant only
    let admin = a.tokens["admin"].clone();
    for body in [
        r#"{"role": "operator"}"#,
        r#"{"role": "auditor", "tenant": "t2"}"#,
    ] {
        let (st, b) = call(&a, Method::POST, "/v1/admin/tokens", Some(&admin), body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}: {b}");
    }
    let (st, b) = call(
        &a,
        Method::POST,
        "/v1/admin/tokens",
        Some(&admin),
        r#"{"role": "king"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, _) = call(
        &a,
        Method::DELETE,
        "/v1/admin/tokens/ffffffffffffffff",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // the operator makes tenants
    let op = a.tokens["operator"].clone();
    let (st, _) = call(
        &a,
        Method::POST,
        "/v1/admin/tenants",
        Some(&op),
        r#"{"name": "kreis-7"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = call(
        &a,
        Method::POST,
        "/v1/admin/tenants",
        Some(&op),
        r#"{"name": "kreis-7"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = call(
        &a,
        Method::POST,
        "/v1/admin/tenants",
        Some(&op),
        r#"{"name": "../x"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, b) = call(
        &a,
        Method::POST,
        "/v1/admin/tokens",
        Some(&op),
        r#"{"role": "submitter", "tenant": "nowhere"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b}");
    let (st, b) = call(&a, Method::GET, "/v1/admin/tenants", Some(&op), "").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b, serde_json::json!(["kreis-7", "t1", "t2"]));
}

#[test]
fn tenants_and_tokens_from_the_command_line() {
    let dir = tempdir();
    let o = run(bewahr()
        .args(["tenant", "create", "musterstadt", "--data-dir"])
        .arg(dir.path()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(bewahr()
        .args(["tenant", "create", "musterstadt", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(o.status.code(), Some(2), "a tenant exists once");
    let o = run(bewahr()
        .args([
            "token",
            "create",
            "--role",
            "submitter",
            "--tenant",
            "musterstadt",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = stdout(&o).lines().last().unwrap().to_string();
    assert!(token.starts_with("bwr_"), "{token}");
    let o = run(bewahr()
        .args(["token", "create", "--role", "submitter", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(o.status.code(), Some(2), "a submitter needs a tenant");
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a tenant"));
    // the server accepts it
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = bewahr::catalog::Catalog::open(
            &format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("catalog.db").display()
            ),
            2,
        )
        .await
        .unwrap();
        let (p, _) = c.authenticate(&token, 0).await.unwrap();
        assert_eq!(p.role, bewahr::access::Role::Submitter);
        assert_eq!(p.tenant.as_ref().map(|t| t.as_str()), Some("musterstadt"));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_trail_records_who_did_what_and_shows_tampering() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let aoid = submit(&a, "submitter", "Bescheid").await;
    let aud = a.tokens["auditor"].clone();
    let (st, _) = call(
        &a,
        Method::GET,
        &format!("/v1/objects/{aoid}/evidence?wait=20"),
        Some(&aud),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = call(
        &a,
        Method::GET,
        "/v1/objects/00000000-0000-4000-8000-000000000000",
        Some("bwr_nonsense"),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // the trail is written right after each request
    let mut trail = Value::Null;
    for _ in 0..100 {
        let (st, b) = call(
            &a,
            Method::GET,
            &format!("/v1/audit?aoid={aoid}"),
            Some(&aud),
            "",
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        if b.as_array().unwrap().len() >= 2 {
            trail = b;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let actions: Vec<(String, String)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions[..2],
        [
            ("POST /v1/objects".to_string(), "201".to_string()),
            (
                "GET /v1/objects/{aoid}/evidence".to_string(),
                "200".to_string()
            )
        ],
        "{trail}"
    );
    assert!(trail[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("submitter token "));
    assert_eq!(trail[0]["tenant"], "t1");
    // other tenants cannot read it; the operator sees the failed login too
    let (st, _) = call(
        &a,
        Method::GET,
        &format!("/v1/audit?aoid={aoid}"),
        Some(&a.tokens["t2-auditor"]),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call(
        &a,
        Method::GET,
        "/v1/audit",
        Some(&a.tokens["submitter"]),
        "",
    )
    .await;
    // the eAkte system traces its own tenant's objects (TR-ESOR ArchiveTrace)
    assert_eq!(st, StatusCode::OK);
    let (st, t2) = call(
        &a,
        Method::GET,
        "/v1/audit?limit=1000",
        Some(&a.tokens["t2-auditor"]),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        t2.as_array().unwrap().iter().all(|e| e["tenant"] == "t2"),
        "t2 sees only its own entries: {t2}"
    );
    // the failed login's entry is written after its answer, like every
    // entry: under load it may come a moment later
    let mut all = Value::Null;
    for _ in 0..100 {
        (_, all) = call(
            &a,
            Method::GET,
            "/v1/audit?limit=1000",
            Some(&a.tokens["operator"]),
            "",
        )
        .await;
        if all
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["result"] == "401" && e["actor"] == "anonymous")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|e| e["result"] == "401" && e["actor"] == "anonymous"),
        "{all}"
    );

    // the chain verifies, with the head sealed into a batch
    let dir = a._dir.path().to_path_buf();
    let verify = || {
        crate::support::run(
            bewahr()
                .args(["audit", "verify", "--json", "--data-dir"])
                .arg(&dir),
        )
    };
    let (st, _) = call(
        &a,
        Method::POST,
        "/v1/objects",
        Some(&a.tokens["submitter"]),
        "second",
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(500)).await; // a batch seals the head by now
    let o = verify();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let j = crate::support::json(&o);
    assert!(j["entries"].as_i64().unwrap() >= 3, "{j}");
    assert!(j["sealed_heads"].as_i64().unwrap() >= 1, "{j}");

    // the command line appends to the same chain while the server runs
    let o = crate::support::run(
        bewahr()
            .args([
                "token",
                "create",
                "--role",
                "auditor",
                "--tenant",
                "t1",
                "--data-dir",
            ])
            .arg(&dir),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (st, _) = call(&a, Method::GET, "/v1/tsa/certificates", Some(&aud), "").await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = verify();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let (_, all) = call(
        &a,
        Method::GET,
        "/v1/audit?limit=1000",
        Some(&a.tokens["operator"]),
        "",
    )
    .await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "token create"
                && e["actor"].as_str().unwrap().starts_with("command line")),
        "{all}"
    );

    // change one entry in the database: the chain breaks there
    sqlx::query("UPDATE audit SET result = '200' WHERE seq = 3")
        .execute(a.state().catalog.pool())
        .await
        .unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("audit entry 3"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_trees_reveal_nothing_about_other_tenants_documents() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    // a guessable document of tenant t2 and one of t1, sealed in the same tree
    let guessable = "Antrag abgelehnt";
    let theirs = submit(&a, "t2-submitter", guessable).await;
    let mine = submit(&a, "submitter", "Bescheid der Stadt A").await;
    let (st, _, er) = send(
        &a.raw,
        req(
            Method::GET,
            &format!("/v1/objects/{mine}/evidence?wait=20"),
            Some(&a.tokens["auditor"]),
            Body::empty(),
            false,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (_, _, er2) = send(
        &a.raw,
        req(
            Method::GET,
            &format!("/v1/objects/{theirs}/evidence?wait=20"),
            Some(&a.tokens["t2-auditor"]),
            Body::empty(),
            false,
        ),
    )
    .await;
    let batch = |er: &[u8]| {
        bewahr::ers::EvidenceRecord::from_der_checked(er)
            .unwrap()
            .archive_time_stamp_sequence[0][0]
            .time_stamp
            .as_bytes()
            .to_vec()
    };
    assert_eq!(batch(&er), batch(&er2), "both are in one tree");
    let h = bewahr::alg::DigestAlgorithm::Sha256.digest(guessable.as_bytes());
    assert!(
        !er.windows(32).any(|w| w == h.as_slice()),
        "t1's evidence record must not carry the hash of t2's document"
    );
    // and the records are still plain RFC 4998: they verify, also with Bouncy Castle
    let dir = tempdir();
    let (erp, dp) = (dir.path().join("a.ers"), dir.path().join("a.txt"));
    std::fs::write(&erp, &er).unwrap();
    std::fs::write(&dp, "Bescheid der Stadt A").unwrap();
    crate::bouncycastle::validate_with_bc(&erp, &dp);
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_keeps_to_retention_and_legal_hold_and_every_other_record_valid() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let sub = a.tokens["submitter"].clone();
    let aud = a.tokens["auditor"].clone();
    let adm = a.tokens["admin"].clone();
    let post = |q: &'static str, doc: &'static str| {
        let sub = sub.clone();
        let a = &a;
        async move {
            let (st, b) = call(a, Method::POST, &format!("/v1/objects{q}"), Some(&sub), doc).await;
            assert_eq!(st, StatusCode::CREATED, "{b}");
            b["aoid"].as_str().unwrap().to_string()
        }
    };
    let kept = post(
        "?retention_until=2099-12-31",
        "Bescheid: aufbewahren bis 2099",
    )
    .await;
    let free = post("", "Mitteilung ohne Frist").await;
    let twin1 = post("", "dieselben Bytes").await;
    let twin2 = post("", "dieselben Bytes").await;
    let other = post("", "ein anderes Objekt im selben Baum").await;
    for x in [&kept, &free, &twin1, &twin2, &other] {
        let (st, _) = call(
            &a,
            Method::GET,
            &format!("/v1/objects/{x}/evidence?wait=20"),
            Some(&aud),
            "",
        )
        .await;
        assert_eq!(st, StatusCode::OK);
    }
    let del = |aoid: String, body: &'static str, who: String| {
        let a = &a;
        async move {
            call(
                a,
                Method::DELETE,
                &format!("/v1/objects/{aoid}"),
                Some(&who),
                body,
            )
            .await
        }
    };
    // the tenant's admin deletes, and its eAkte system may ask for a
    // deletion (TR-ESOR ArchiveDeletion); auditors and the operator may not
    for who in [&aud, &a.tokens["operator"]] {
        let (st, _) = del(free.clone(), "", who.clone()).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
    // another tenant's eAkte system may ask, but finds no such object
    let (st, _) = del(free.clone(), "", a.tokens["t2-submitter"].clone()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // before its retention date: only with reason and requestor
    let (st, b) = del(kept.clone(), "", adm.clone()).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2099-12-31"),
        "{b}"
    );
    let (st, b) = del(
        kept.clone(),
        r#"{"reason": "Widerspruch erfolgreich"}"#,
        adm.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "a requestor is needed too: {b}");
    let (st, b) = del(
        kept.clone(),
        r#"{"reason": "Widerspruch erfolgreich", "requestor": "Amtsleitung"}"#,
        adm.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["before_retention"], true);
    // the answer does not say whether the content went (another tenant may hold it)
    assert!(b.get("contents_removed").is_none(), "{b}");
    // a legal hold blocks any deletion
    let hold = |body: &'static str| {
        let a = &a;
        let (adm, free) = (adm.clone(), free.clone());
        async move {
            call(
                a,
                Method::PUT,
                &format!("/v1/objects/{free}/legal-hold"),
                Some(&adm),
                body,
            )
            .await
        }
    };
    let (st, _) = hold(r#"{"hold": true}"#).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "a hold needs a reason");
    let (st, _) = hold(r#"{"hold": true, "reason": "Verfahren 3 K 12/26"}"#).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = del(
        free.clone(),
        r#"{"reason": "x", "requestor": "y"}"#,
        adm.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legal hold"),
        "{b}"
    );
    let (st, _) = hold(r#"{"hold": false}"#).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = del(free.clone(), "", adm.clone()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    // identical content stays while another object refers to it
    let (st, b) = del(twin1.clone(), "", adm.clone()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b.get("contents_removed").is_none(), "no oracle: {b}");
    let (st, _, body) = send(
        &a.raw,
        req(
            Method::GET,
            &format!("/v1/objects/{twin2}/versions/1/content"),
            Some(&aud),
            Body::empty(),
            false,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, b"dieselben Bytes");
    // deleted objects are gone for every reader; their trail stays
    for x in [&kept, &free, &twin1] {
        for uri in [
            format!("/v1/objects/{x}"),
            format!("/v1/objects/{x}/evidence"),
            format!("/v1/objects/{x}/versions/1/content"),
        ] {
            let (st, _) = call(&a, Method::GET, &uri, Some(&aud), "").await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{uri}");
        }
        let (st, _) = del(x.clone(), "", adm.clone()).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "deleted once");
    }
    let mut trail = Value::Null;
    for _ in 0..100 {
        let (_, t) = call(
            &a,
            Method::GET,
            &format!("/v1/audit?aoid={kept}"),
            Some(&aud),
            "",
        )
        .await;
        if t.as_array().is_some_and(|t| {
            t.iter()
                .any(|e| e["action"] == "DELETE /v1/objects/{aoid}" && e["result"] == "200")
        }) {
            trail = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = trail
        .as_array()
        .expect("the deletion is in the trail")
        .iter()
        .rev()
        .find(|e| e["result"] == "200")
        .unwrap();
    assert!(d["detail"].as_str().unwrap().contains("Amtsleitung"), "{d}");
    // every other record in the same trees still verifies, also after a hash-tree renewal
    let (st, b) = call(
        &a,
        Method::POST,
        "/v1/admin/renewals",
        Some(&a.tokens["operator"]),
        r#"{"kind": "hashtree", "digest_algorithm": "sha512"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let run = a
        .state()
        .renewer
        .wait(b["id"].as_i64().unwrap(), Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.state, "done", "{run:?}");
    assert!(
        run.errors.is_empty(),
        "deleted versions are left out, not errors: {run:?}"
    );
    assert_eq!(run.chains, 2, "{run:?}");
    let trusted = a.state().renewer.ctx().trusted();
    for (x, doc) in [
        (&twin2, "dieselben Bytes"),
        (&other, "ein anderes Objekt im selben Baum"),
    ] {
        let (st, _, er) = send(
            &a.raw,
            req(
                Method::GET,
                &format!("/v1/objects/{x}/evidence"),
                Some(&aud),
                Body::empty(),
                false,
            ),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let rep = bewahr::verify::verify_der(
            &er,
            &mut bewahr::verify::InMemory(vec![doc.as_bytes().to_vec()]),
            &bewahr::verify::Options::new(
                &trusted,
                time::OffsetDateTime::now_utc(),
                &bewahr::verify::AlgorithmPolicy::default(),
            ),
        );
        assert_eq!(
            rep.indication,
            bewahr::verify::Indication::Passed,
            "{}",
            rep.to_text()
        );
        assert_eq!(rep.chains, 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_over_its_rate_limit_gets_429_others_do_not() {
    let Some(a) = crate::api::archive_with(
        Db::Sqlite,
        |c| {
            c.server.rate_limit_per_token = 5;
            c.server.rate_limit_burst = 5;
        },
        None,
    )
    .await
    else {
        return;
    };
    let mut codes = Vec::new();
    for _ in 0..8 {
        let (st, h, _) = send(
            &a.raw,
            req(
                Method::GET,
                "/v1/tsa/certificates",
                Some(&a.tokens["auditor"]),
                Body::empty(),
                false,
            ),
        )
        .await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            assert!(h.contains_key(header::RETRY_AFTER));
        }
        codes.push(st.as_u16());
    }
    assert_eq!(codes[..5], [200; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|&c| c == 429), "{codes:?}");
    let (st, _) = call(
        &a,
        Method::GET,
        "/v1/tsa/certificates",
        Some(&a.tokens["admin"]),
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "another token has its own bucket");
}
