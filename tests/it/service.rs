//! The archive service layer through the REST interface: who may do what
//! (role, then id, then tenant, checked once per request by the
//! extractors), search, and uploads written off the async workers.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};

use crate::api::{archive, get, js, post, send, Db, TestArchive};

async fn submit(a: &TestArchive, query: &str, doc: &[u8]) -> String {
    let (st, _, body) = send(
        &a.router,
        post(&format!("/v1/objects?{query}"), "text/plain", doc.to_vec()),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    js(&body)["aoid"].as_str().unwrap().to_string()
}

fn as_token(a: &TestArchive, who: &str, method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", a.tokens[who]))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(if uri.ends_with("legal-hold") {
            r#"{"hold": false}"#
        } else {
            ""
        }))
        .unwrap()
}

/// The expected status of each object route for each caller, written out
/// by hand (not derived from the service's table): 403 when the role may
/// not, 404 for another tenant's object, else what the route answers.
#[tokio::test]
async fn every_object_route_checks_role_then_id_then_tenant() {
    // no sealing during the test: evidence answers 409 (pending) to everyone allowed
    let Some(a) =
        crate::api::archive_with(Db::Sqlite, |c| c.batch.interval_ms = 3_600_000, None).await
    else {
        return;
    };
    let aoid = submit(&a, "file_ref=AZ-1", b"an object of t1").await;
    use StatusCode as S;
    // caller order: submitter, auditor, admin (all t1), t2-auditor, operator
    let who = ["submitter", "auditor", "admin", "t2-auditor", "operator"];
    let o = format!("/v1/objects/{aoid}");
    let matrix: Vec<(Method, String, [StatusCode; 5])> = vec![
        (
            Method::GET,
            o.clone(),
            [S::OK, S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN],
        ),
        (
            Method::GET,
            format!("{o}/versions/1/content"),
            [S::OK, S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN],
        ),
        (
            Method::GET,
            format!("{o}/versions/1/validation"),
            [S::OK, S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN],
        ),
        (
            Method::GET,
            format!("{o}/evidence"),
            [
                S::CONFLICT,
                S::CONFLICT,
                S::CONFLICT,
                S::NOT_FOUND,
                S::FORBIDDEN,
            ],
        ),
        (
            Method::PUT,
            format!("{o}/legal-hold"),
            // t2's auditor may not set holds at all: 403 before any lookup
            [
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::NO_CONTENT,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            Method::GET,
            format!("/v1/audit?aoid={aoid}"),
            [S::OK, S::OK, S::OK, S::NOT_FOUND, S::OK],
        ),
    ];
    for (method, uri, expected) in &matrix {
        for (w, want) in who.iter().zip(expected) {
            let (st, _, body) = send(&a.raw, as_token(&a, w, method.clone(), uri)).await;
            assert_eq!(
                st,
                *want,
                "{method} {uri} as {w}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    // a malformed id: 403 for a role that may not, 404 for one that may
    for (w, want) in [("operator", S::FORBIDDEN), ("auditor", S::NOT_FOUND)] {
        let (st, _, _) = send(
            &a.raw,
            as_token(&a, w, Method::GET, "/v1/objects/not-an-id"),
        )
        .await;
        assert_eq!(st, want, "{w}");
    }
    // a version that is no number, zero, or absent: 404
    for n in ["abc", "0", "01", "-1", "2"] {
        let uri = format!("{o}/versions/{n}/content");
        let (st, _, _) = send(&a.raw, as_token(&a, "auditor", Method::GET, &uri)).await;
        assert_eq!(st, S::NOT_FOUND, "{n}");
    }
    // deleting: the tenant's submitter may ask (refused here only because
    // the version is pending), an auditor may not, whoever's object it is
    let (st, _, _) = send(&a.raw, as_token(&a, "submitter", Method::DELETE, &o)).await;
    assert_eq!(st, S::CONFLICT);
    let (st, _, _) = send(&a.raw, as_token(&a, "auditor", Method::DELETE, &o)).await;
    assert_eq!(st, S::FORBIDDEN);
    let (st, _, _) = send(&a.raw, as_token(&a, "t2-auditor", Method::DELETE, &o)).await;
    assert_eq!(st, S::FORBIDDEN);
}

/// `DELETE /v1/objects/{aoid}` by the tenant's admin, with a reason.
fn delete_as_admin(a: &TestArchive, aoid: &str) -> Request<Body> {
    Request::delete(format!("/v1/objects/{aoid}"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", a.tokens["admin"]),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"reason": "test", "requestor": "Amt 10"}"#))
        .unwrap()
}

async fn search(a: &TestArchive, who: &str, q: &str) -> (StatusCode, serde_json::Value) {
    let (st, _, body) = send(
        &a.raw,
        as_token(a, who, Method::GET, &format!("/v1/objects?{q}")),
    )
    .await;
    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (st, v)
}

fn aoids(v: &serde_json::Value) -> Vec<String> {
    v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["aoid"].as_str().unwrap().to_string())
        .collect()
}

async fn search_by_metadata(db: Db) {
    let Some(a) = archive(db).await else {
        return;
    };
    let bau1 = submit(
        &a,
        "file_ref=AZ-63-2026-17&title=Baugenehmigung%20Nord&system=eakte-1",
        b"a",
    )
    .await;
    let bau2 = submit(
        &a,
        "file_ref=AZ-63-2026-17&title=Bauvorbescheid&system=eakte-2",
        b"b",
    )
    .await;
    let other = submit(
        &a,
        "file_ref=AZ-10-2026-1&title=50%25_Rabatt&system=eakte-1",
        b"c",
    )
    .await;
    // another tenant, same file reference
    let (st, _, body) = send(
        &a.raw,
        Request::post("/v1/objects?file_ref=AZ-63-2026-17&title=Baugenehmigung")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", a.tokens["t2-submitter"]),
            )
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("t2's"))
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let t2 = js(&body)["aoid"].as_str().unwrap().to_string();

    let (st, v) = search(&a, "auditor", "file_ref=AZ-63-2026-17").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(aoids(&v), vec![bau1.clone(), bau2.clone()]);
    assert!(!aoids(&v).contains(&t2), "no other tenant's objects");
    assert_eq!(v["objects"][0]["title"], "Baugenehmigung Nord");
    assert_eq!(v["objects"][0]["latest_version"], 1);
    let (_, v) = search(&a, "t2-auditor", "file_ref=AZ-63-2026-17").await;
    assert_eq!(aoids(&v), vec![t2.clone()]);

    let (_, v) = search(&a, "submitter", "title=BAU").await;
    assert_eq!(
        aoids(&v),
        vec![bau1.clone(), bau2.clone()],
        "title parts without case"
    );
    let (_, v) = search(&a, "admin", "system=eakte-1").await;
    assert_eq!(aoids(&v), vec![bau1.clone(), other.clone()]);
    let (_, v) = search(&a, "auditor", "system=eakte-1&title=rabatt").await;
    assert_eq!(aoids(&v), vec![other.clone()]);
    // % and _ are no wildcards
    let (_, v) = search(&a, "auditor", "title=50%25_").await;
    assert_eq!(aoids(&v), vec![other.clone()]);
    let (_, v) = search(&a, "auditor", "title=5%25").await;
    assert!(aoids(&v).is_empty(), "{v}");

    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: time::Date| d.to_string();
    let (_, v) = search(
        &a,
        "auditor",
        &format!("submitted_from={}&submitted_to={}", day(today), day(today)),
    )
    .await;
    assert_eq!(aoids(&v).len(), 3);
    let tomorrow = today.next_day().unwrap();
    let (_, v) = search(&a, "auditor", &format!("submitted_from={}", day(tomorrow))).await;
    assert!(aoids(&v).is_empty());
    let yesterday = today.previous_day().unwrap();
    let (_, v) = search(&a, "auditor", &format!("submitted_to={}", day(yesterday))).await;
    assert!(aoids(&v).is_empty());

    // pages of two, in the order of creation, nothing twice
    let (_, p1) = search(&a, "auditor", "limit=2").await;
    assert_eq!(aoids(&p1), vec![bau1.clone(), bau2.clone()]);
    let next = p1["next"].as_str().expect("a next page").to_string();
    let (_, p2) = search(&a, "auditor", &format!("limit=2&after={next}")).await;
    assert_eq!(aoids(&p2), vec![other.clone()]);
    assert!(p2.get("next").is_none(), "{p2}");

    // bad queries: clear 400s; the operator has no tenant to search
    for q in [
        "submitted_from=31.12.2026",
        "after=junk",
        "colour=red",
        "file_ref=",
    ] {
        let (st, v) = search(&a, "auditor", q).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    let (st, _) = search(&a, "operator", "file_ref=AZ-63-2026-17").await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // a deleted object is found no more (sealed first: a pending one cannot be deleted)
    let (st, _, _) = send(
        &a.router,
        get(&format!("/v1/objects/{other}/evidence?wait=30")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, body) = send(&a.raw, delete_as_admin(&a, &other)).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, v) = search(&a, "auditor", "system=eakte-1").await;
    assert_eq!(aoids(&v), vec![bau1]);
}

#[tokio::test]
async fn search_by_metadata_sqlite() {
    search_by_metadata(Db::Sqlite).await;
}

#[tokio::test]
async fn search_by_metadata_postgres() {
    search_by_metadata(Db::Postgres).await;
}

/// A body of many pieces goes through the blocking hand-offs and comes
/// back byte for byte; one over the limit is refused and leaves no
/// version behind.
#[tokio::test]
async fn streamed_uploads_are_stored_exactly_and_limited() {
    let Some(a) =
        crate::api::archive_with(Db::Sqlite, |c| c.server.max_body_bytes = 3 << 20, None).await
    else {
        return;
    };
    // 2.5 MiB in pieces of odd sizes
    let mut doc = Vec::with_capacity(5 << 19);
    let mut x: u32 = 7;
    while doc.len() < 5 << 19 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        doc.push((x >> 16) as u8);
    }
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = doc
        .chunks(37_001)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(pieces));
    let (st, _, resp) = send(
        &a.router,
        post("/v1/objects", "application/octet-stream", body),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let v = js(&resp);
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&doc));
    assert_eq!(v["digests"]["sha256"], want);
    let aoid = v["aoid"].as_str().unwrap();
    let (st, _, back) = send(
        &a.router,
        get(&format!("/v1/objects/{aoid}/versions/1/content")),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(back == doc, "the content differs");

    // over the limit, streamed without a length: 413, nothing recorded
    let big: Vec<Result<bytes::Bytes, std::io::Error>> = (0..13)
        .map(|_| Ok(bytes::Bytes::from(vec![1u8; 256 << 10])))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(big));
    let (st, _, resp) = send(
        &a.router,
        post("/v1/objects", "application/octet-stream", body),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let (_, v) = search(&a, "auditor", "").await;
    assert_eq!(aoids(&v), vec![aoid.to_string()]);
}

/// A deletion and a new version of the same object, at the same moment,
/// many times: never do both succeed (the writer refuses a version of a
/// deleted object even when its ownership check passed before the
/// deletion committed), and a deleted object has no live version left.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_object_takes_no_new_version_however_close_the_race() {
    let Some(a) = archive(Db::Sqlite).await else {
        return;
    };
    let (mut deleted, mut versioned) = (0, 0);
    for i in 0..24 {
        let aoid = submit(&a, "file_ref=RACE", format!("race {i}").as_bytes()).await;
        // sealed first: a pending version would refuse the deletion anyway
        let (st, _, _) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/evidence?wait=30")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let new_version = post(
            &format!("/v1/objects/{aoid}/versions"),
            "text/plain",
            format!("race {i} v2"),
        );
        let (d, v) = tokio::join!(
            send(&a.raw, delete_as_admin(&a, &aoid)),
            send(&a.router, new_version)
        );
        match (d.0, v.0) {
            (StatusCode::OK, StatusCode::NOT_FOUND) => deleted += 1,
            (StatusCode::CONFLICT, StatusCode::CREATED) => versioned += 1,
            (ds, vs) => panic!(
                "deletion {ds} ({}) and new version {vs} ({})",
                String::from_utf8_lossy(&d.2),
                String::from_utf8_lossy(&v.2)
            ),
        }
        // (versions, live versions): a deleted object's rows stay as leaves
        // of their trees, without metadata
        let (versions, live): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) - COUNT(deleted_at) FROM versions WHERE aoid = $1",
        )
        .bind(&aoid)
        .fetch_one(a.state().catalog.pool())
        .await
        .unwrap();
        if d.0 == StatusCode::OK {
            assert_eq!(
                (versions, live),
                (1, 0),
                "a deleted object gained a version"
            );
        } else {
            assert_eq!((versions, live), (2, 2));
        }
    }
    eprintln!("race: {deleted} deleted first, {versioned} versioned first");
    assert_eq!(deleted + versioned, 24);
}

/// Slow readers of large content hold no thread: with a blocking pool of
/// two threads, six downloads that stall after their first piece leave
/// room for a seventh to finish (each piece is read in a short blocking
/// task of its own, none while a client is slow to read).
#[test]
fn slow_readers_hold_no_blocking_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Some(a) = archive(Db::Sqlite).await else {
            return;
        };
        // 9 MiB: three chunks in the store
        let doc: Vec<u8> = (0..9u32 << 20).map(|i| (i % 251) as u8).collect();
        let (st, _, body) = send(
            &a.router,
            post("/v1/objects", "application/octet-stream", doc.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let aoid = js(&body)["aoid"].as_str().unwrap().to_string();
        let uri = format!("/v1/objects/{aoid}/versions/1/content");
        let mut stalled = Vec::new();
        for _ in 0..6 {
            let resp = tower::ServiceExt::oneshot(a.router.clone(), get(&uri))
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body().into_data_stream();
            // the first piece, then nothing: a client that stopped reading
            let first = futures_util::StreamExt::next(&mut body)
                .await
                .unwrap()
                .unwrap();
            assert!(!first.is_empty());
            stalled.push(body);
        }
        let done = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let (st, _, back) = send(&a.router, get(&uri)).await;
            (st, back)
        })
        .await
        .expect("a download finishes while six others stall");
        assert_eq!(done.0, StatusCode::OK);
        assert!(done.1 == doc, "the content differs");
        drop(stalled);
    });
}
