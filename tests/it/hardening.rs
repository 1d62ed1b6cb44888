//! The security and reliability gaps of issue 12, each with the test that
//! would have caught it: oversized bodies, anonymous floods, token
//! administration, a catalog outage, worker supervision.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;

use crate::api::{archive, archive_with, send, Db, TestArchive};

fn from(ip: [u8; 4], mut r: Request<Body>) -> Request<Body> {
    r.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            ip, 40000,
        ))));
    r
}

fn bearer(method: Method, uri: &str, token: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body)
        .unwrap()
}

/// A body of `total` bytes in 64 KiB pieces that counts how many were pulled.
fn counted(total: usize, pulled: Arc<AtomicUsize>) -> Body {
    let piece = vec![b'x'; 64 << 10];
    let stream = futures_util::stream::unfold(0usize, move |sent| {
        let piece = piece.clone();
        let pulled = pulled.clone();
        async move {
            if sent >= total {
                return None;
            }
            pulled.fetch_add(piece.len(), Ordering::SeqCst);
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(piece)),
                sent + (64 << 10),
            ))
        }
    });
    Body::from_stream(stream)
}

async fn json(a: &TestArchive, r: Request<Body>) -> (StatusCode, Value) {
    let (st, _, b) = send(&a.raw, r).await;
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let op = a.tokens["operator"].clone();
    let admin = a.tokens["admin"].clone();
    // a declared GiB: 413 before one byte is read
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut r = bearer(
        Method::POST,
        "/v1/admin/tenants",
        &op,
        counted(1 << 30, pulled.clone()),
    );
    r.headers_mut().insert(
        header::CONTENT_LENGTH,
        (1u64 << 30).to_string().parse().unwrap(),
    );
    r.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    let (st, b) = json(&a, r).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(
        pulled.load(Ordering::SeqCst) <= 64 << 10,
        "read {} bytes",
        pulled.load(Ordering::SeqCst)
    );
    // a streamed GiB without a length: cut off at the limit (1 MiB by default)
    for (m, uri, token) in [
        (Method::PUT, "/v1/admin/algorithms", &op),
        (
            Method::DELETE,
            "/v1/objects/00000000-0000-4000-8000-000000000000",
            &admin,
        ),
        (Method::POST, "/v1/admin/tokens", &op),
    ] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let mut r = bearer(m.clone(), uri, token, counted(1 << 30, pulled.clone()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        let (st, b) = json(&a, r).await;
        let read = pulled.load(Ordering::SeqCst);
        assert!(
            st == StatusCode::PAYLOAD_TOO_LARGE || st == StatusCode::NOT_FOUND,
            "{m} {uri}: {st} {b}"
        );
        assert!(
            read <= (1 << 20) + (128 << 10),
            "{m} {uri}: read {read} bytes"
        );
        if st == StatusCode::PAYLOAD_TOO_LARGE {
            assert_eq!(b["error"]["code"], "too_large", "{b}");
        }
    }
    // the upload routes keep their own, larger limit
    let r = bearer(
        Method::POST,
        "/v1/objects",
        &a.tokens["submitter"],
        Body::from(vec![b'y'; 2 << 20]),
    );
    let (st, b) = json(&a, r).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_flood_is_limited_per_address_and_recorded_aggregated() {
    let Some(a) = archive_with(
        Db::Sqlite,
        |c| {
            c.server.auth_failures_per_minute = 60;
            c.server.auth_failure_burst = 20;
        },
        None,
    )
    .await
    else {
        return;
    };
    let op = a.tokens["operator"].clone();
    let trail_len = |a: &TestArchive| {
        let r = bearer(Method::GET, "/v1/audit?limit=10000", &op, Body::empty());
        let router = a.raw.clone();
        async move {
            let (_, _, b) = send(&router, r).await;
            let v: Value = serde_json::from_slice(&b).unwrap();
            v.as_array().unwrap().clone()
        }
    };
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..300 {
        let bad = format!("bwr_{:016x}_{}", i, "A".repeat(43));
        let r = from(
            [10, 0, 0, 66],
            bearer(Method::GET, "/v1/tsa/certificates", &bad, Body::empty()),
        );
        let (st, _, _) = send(&a.raw, r).await;
        *statuses.entry(st.as_u16()).or_insert(0) += 1;
    }
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 250,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&401).copied().unwrap_or(0) <= 40,
        "{statuses:?}"
    );
    // another address, and a valid token from anywhere, are not affected
    let r = from(
        [10, 0, 0, 7],
        bearer(
            Method::POST,
            "/v1/objects",
            &a.tokens["submitter"],
            Body::from("still accepted"),
        ),
    );
    let (st, b) = json(&a, r).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let r = from(
        [10, 0, 0, 7],
        bearer(
            Method::GET,
            "/v1/tsa/certificates",
            "bwr_x_y",
            Body::empty(),
        ),
    );
    let (st, _) = json(&a, r).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "another address is judged on its own"
    );
    // the trail holds a handful of entries for 300 failures, not 300
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let trail = trail_len(&a).await;
    let failures: Vec<&Value> = trail
        .iter()
        .filter(|e| e["action"] == "authentication failed")
        .collect();
    assert!(!failures.is_empty() && failures.len() <= 3, "{failures:#?}");
    // and the rest arrive when the interval ends
    let due = a.state().auth_guard.flush(i64::MAX / 2, true);
    assert!(
        due.iter().any(|e| e.detail.contains("10.0.0.66")),
        "{due:?}"
    );
    assert!(
        due.iter()
            .any(|e| e.detail.starts_with("3") || e.detail.starts_with("2")),
        "the count is recorded: {due:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_listed_named_in_the_trail_and_revoked_in_cascade() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let op = a.tokens["operator"].clone();
    let admin = a.tokens["admin"].clone();
    let create = |by: String, body: &'static str| {
        let router = a.raw.clone();
        async move {
            let mut r = bearer(Method::POST, "/v1/admin/tokens", &by, Body::from(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            let (st, _, b) = send(&router, r).await;
            assert_eq!(st, StatusCode::CREATED);
            let v: Value = serde_json::from_slice(&b).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["token"].as_str().unwrap().to_string(),
            )
        }
    };
    // an admin made by the operator makes a submitter
    let (admin2, admin2_tok) = create(op.clone(), r#"{"role": "admin", "tenant": "t1"}"#).await;
    let (sub, sub_tok) = create(admin2_tok.clone(), r#"{"role": "submitter"}"#).await;
    // the trail names the new tokens (once the audit queue has committed them)
    let mut details: Vec<String> = Vec::new();
    for _ in 0..50 {
        let (_, trail) = json(
            &a,
            bearer(Method::GET, "/v1/audit?limit=1000", &op, Body::empty()),
        )
        .await;
        details = trail
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["detail"].as_str().map(str::to_string))
            .collect();
        if details
            .iter()
            .any(|d| d.contains(&format!("token {sub} created")))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        details
            .iter()
            .any(|d| d.contains(&format!("token {sub} created"))),
        "{details:?}"
    );
    assert!(details
        .iter()
        .any(|d| d.contains(&format!("token {admin2} created"))));
    // listed: the operator sees all, the tenant admin its tenant's, no secrets
    let (st, all) = json(
        &a,
        bearer(Method::GET, "/v1/admin/tokens", &op, Body::empty()),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(ids.contains(&sub.as_str()) && ids.contains(&admin2.as_str()));
    assert!(
        !all.to_string().contains(&sub_tok[sub_tok.len() - 20..]),
        "no secret in the list"
    );
    let (_, mine) = json(
        &a,
        bearer(Method::GET, "/v1/admin/tokens", &admin, Body::empty()),
    )
    .await;
    assert!(
        mine.as_array().unwrap().iter().all(|t| t["tenant"] == "t1"),
        "{mine}"
    );
    // revoking the admin with cascade revokes the submitter it made
    let (st, _) = json(
        &a,
        bearer(
            Method::DELETE,
            &format!("/v1/admin/tokens/{admin2}?cascade=true"),
            &op,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = json(
        &a,
        bearer(Method::POST, "/v1/objects", &sub_tok, Body::from("x")),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "the submitter went with its creator"
    );
    let (_, all) = json(
        &a,
        bearer(Method::GET, "/v1/admin/tokens", &op, Body::empty()),
    )
    .await;
    let revoked = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id && t["revoked_at"].is_string())
    };
    assert!(revoked(&sub) && revoked(&admin2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_outage_answers_503_not_401() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    // workers are reported while all is well
    let (st, h) = json(&a, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    let names: Vec<&str> = h["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    for w in [
        "catalog-writer",
        "audit-queue",
        "sealer",
        "renewal-scheduler",
        "auth-audit",
    ] {
        assert!(names.contains(&w), "{names:?}");
    }
    assert!(
        h["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["state"] == "running"),
        "{h}"
    );
    // the catalog goes away: a token not in the cache cannot be checked
    a.state().catalog.pool().close().await;
    let (st, b) = json(
        &a,
        bearer(
            Method::GET,
            "/v1/tsa/certificates",
            &a.tokens["t2-auditor"],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["error"]["code"], "unavailable");
}
