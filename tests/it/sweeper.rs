//! The sweeper for unreferenced content, and deletions: a deletion removes
//! no content itself (its answer and time say nothing about other tenants'
//! content); the sweeper removes what no version references and no
//! submission in flight has pinned, never content a racing submission of
//! identical bytes needs.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use sha2::Digest;

use crate::api::{archive_seams, archive_with, send, Db, TestArchive};

async fn call(
    a: &TestArchive,
    m: Method,
    uri: &str,
    who: &str,
    body: &str,
) -> (StatusCode, Vec<u8>) {
    call_with(&a.raw, &a.tokens[who], m, uri, body).await
}

async fn call_with(
    router: &axum::Router,
    token: &str,
    m: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, Vec<u8>) {
    let r = Request::builder()
        .method(m)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (st, _, b) = send(router, r).await;
    (st, b)
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

async fn submit(a: &TestArchive, who: &str, doc: &str) -> String {
    let (st, b) = call(a, Method::POST, "/v1/objects", who, doc).await;
    assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    json(&b)["aoid"].as_str().unwrap().to_string()
}

async fn sealed(a: &TestArchive, aoid: &str, who: &str) {
    let (st, b) = call(
        a,
        Method::GET,
        &format!("/v1/objects/{aoid}/evidence?wait=20"),
        who,
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
}

fn sha(doc: &str) -> [u8; 32] {
    sha2::Sha256::digest(doc.as_bytes()).into()
}

async fn swept(a: &TestArchive) -> Value {
    let (st, b) = call(a, Method::POST, "/v1/admin/sweeper/run", "operator", "").await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    json(&b)
}

async fn sweeping_archive() -> Option<TestArchive> {
    archive_with(
        Db::Sqlite,
        |c| {
            c.store.sweep_interval_secs = 0;
            c.store.sweep_grace_secs = 0;
        },
        None,
    )
    .await
}

/// Tenant t1 deletes its object while tenant t2 submits the same bytes and
/// the sweeper runs, all three at once, many times: t2's content is always
/// there afterwards (the sweeper re-checks every candidate in the writer,
/// serialised with the commits, and skips what a submission has pinned).
/// The store answers `exists` 150 ms late, so that t2's submission finds
/// the content stored (before the deletion), and reaches the writer only
/// after the deletion committed and the sweeper looked: without the pins
/// the sweeper removes the content under it (t2 gets a 500, or a version
/// without content).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_racing_a_submission_of_identical_bytes_keeps_the_content() {
    let faults = bewahr::testing::Faults::default();
    faults.slow_exists(std::time::Duration::from_millis(150));
    let Some(a) = archive_seams(
        Db::Sqlite,
        |c| {
            c.store.sweep_interval_secs = 0;
            c.store.sweep_grace_secs = 0;
        },
        None,
        bewahr::seal::system_clock(),
        faults.seams(),
    )
    .await
    else {
        return;
    };
    let mut pinned = 0;
    let (router, admin, t2) = (
        a.raw.clone(),
        a.tokens["admin"].clone(),
        a.tokens["t2-submitter"].clone(),
    );
    for i in 0..12u64 {
        let doc = format!("Derselbe Bescheid, Runde {i}");
        let first = submit(&a, "submitter", &doc).await;
        sealed(&a, &first, "auditor").await;
        let del = {
            let (router, admin, first) = (router.clone(), admin.clone(), first.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i % 3 * 10)).await;
                let uri = format!("/v1/objects/{first}");
                call_with(&router, &admin, Method::DELETE, &uri, "").await
            })
        };
        let sub = {
            let (router, t2, doc) = (router.clone(), t2.clone(), doc.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i % 2)).await;
                call_with(&router, &t2, Method::POST, "/v1/objects", &doc).await
            })
        };
        let sweep = {
            let sweeper = a.state().sweeper.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50 + i % 4 * 15)).await;
                sweeper.run_now().await.unwrap()
            })
        };
        let (st, b) = del.await.unwrap();
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let (st, b) = sub.await.unwrap();
        assert_eq!(
            st,
            StatusCode::CREATED,
            "round {i}: {}",
            String::from_utf8_lossy(&b)
        );
        let second = json(&b)["aoid"].as_str().unwrap().to_string();
        pinned += sweep.await.unwrap().pinned;
        swept(&a).await;
        let (st, body) = call(
            &a,
            Method::GET,
            &format!("/v1/objects/{second}/versions/1/content"),
            "t2-auditor",
            "",
        )
        .await;
        assert_eq!(st, StatusCode::OK, "round {i}");
        assert_eq!(body, doc.as_bytes(), "round {i}");
        sealed(&a, &second, "t2-auditor").await;
    }
    assert!(
        pinned > 0,
        "the race was never run: the sweeper never found t2's content in flight"
    );
}

/// The deletion answer is the same whether another tenant holds identical
/// bytes or not, and the deletion removes nothing itself; the sweeper then
/// removes the unshared content and keeps the shared one.
#[tokio::test(flavor = "multi_thread")]
async fn the_deletion_answer_does_not_tell_whether_content_is_shared() {
    let Some(a) = sweeping_archive().await else {
        return;
    };
    let (shared, unshared) = ("Gemeinsamer Bescheid", "Eigener Bescheid");
    let s1 = submit(&a, "submitter", shared).await;
    let s2 = submit(&a, "t2-submitter", shared).await;
    let u1 = submit(&a, "submitter", unshared).await;
    for x in [&s1, &u1] {
        sealed(&a, x, "auditor").await;
    }
    let mut answers = Vec::new();
    for x in [&s1, &u1] {
        let (st, b) = call(&a, Method::DELETE, &format!("/v1/objects/{x}"), "admin", "").await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let mut v = json(&b);
        assert_eq!(v["aoid"], x.as_str());
        v.as_object_mut().unwrap().remove("aoid");
        answers.push(v);
    }
    assert_eq!(answers[0], answers[1], "the same answer, shared or not");
    let store = &a.state().ingest.store;
    assert!(
        store.has(&sha(shared)).unwrap() && store.has(&sha(unshared)).unwrap(),
        "the deletion removed nothing itself"
    );
    let run = swept(&a).await;
    assert_eq!(run["removed"], 1, "{run}");
    assert_eq!(run["bytes_removed"], unshared.len(), "{run}");
    assert!(
        !store.has(&sha(unshared)).unwrap(),
        "unshared content is gone"
    );
    assert!(store.has(&sha(shared)).unwrap(), "shared content stays");
    let (st, body) = call(
        &a,
        Method::GET,
        &format!("/v1/objects/{s2}/versions/1/content"),
        "t2-auditor",
        "",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, shared.as_bytes());
    let (st, status) = call(&a, Method::GET, "/v1/admin/sweeper", "operator", "").await;
    assert_eq!(st, StatusCode::OK);
    let status = json(&status);
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(status["runs"], 1, "{status}");
    assert_eq!(status["total_removed"], 1, "{status}");
    assert_eq!(status["last_run"]["trigger"], "admin", "{status}");
}

/// Unreferenced content stays while a submission has it pinned, or while
/// it is younger than the grace period; only operators see or run the sweeper.
#[tokio::test(flavor = "multi_thread")]
async fn pinned_or_young_content_is_never_swept() {
    let Some(a) = sweeping_archive().await else {
        return;
    };
    let store = a.state().ingest.store.clone();
    let mut pins = store.in_flight().pins();
    let s = store
        .put_content_pinned(b"mitten im Hochladen", &mut pins)
        .unwrap();
    store.sync().unwrap();
    let run = swept(&a).await;
    assert_eq!(
        (run["removed"].as_u64(), run["pinned"].as_u64()),
        (Some(0), Some(1)),
        "{run}"
    );
    assert!(store.has(&s.sha256).unwrap());
    drop(pins); // the submission gave up (refused, cancelled) without a catalog entry
    let run = swept(&a).await;
    assert_eq!(run["removed"], 1, "{run}");
    assert!(!store.has(&s.sha256).unwrap());
    for who in ["submitter", "auditor", "admin"] {
        let (st, _) = call(&a, Method::GET, "/v1/admin/sweeper", who, "").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
        let (st, _) = call(&a, Method::POST, "/v1/admin/sweeper/run", who, "").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }

    let Some(b) = archive_with(Db::Sqlite, |_| {}, None).await else {
        return;
    };
    let store = b.state().ingest.store.clone();
    let s = store.put_content(b"eben erst geschrieben").unwrap();
    store.sync().unwrap();
    let run = swept(&b).await;
    assert_eq!(
        (run["removed"].as_u64(), run["young"].as_u64()),
        (Some(0), Some(1)),
        "{run}"
    );
    assert!(store.has(&s.sha256).unwrap(), "within the grace period");
    let (_, status) = call(&b, Method::GET, "/v1/admin/sweeper", "operator", "").await;
    assert_eq!(json(&status)["grace_secs"], 3600);
}

/// `bewahr sweep run|status` against a running `bewahr serve`, with an
/// operator token; without one the command fails with exit code 2.
#[tokio::test(flavor = "multi_thread")]
async fn bewahr_sweep_runs_and_reports_through_the_admin_api() {
    use crate::support::{bewahr, free_port, run, stdout, tempdir};
    let dir = tempdir();
    let o = run(bewahr()
        .args(["token", "create", "--role", "operator", "--data-dir"])
        .arg(dir.path()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = stdout(&o).lines().last().unwrap().to_string();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = bewahr()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("BEWAHR_STORE__SWEEP_GRACE_SECS", "0")
        .env("BEWAHR_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !matches!(http.get(format!("{url}/readyz")).send().await, Ok(r) if r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sweep = |args: &[&str], token: Option<&str>| {
        let mut c = bewahr();
        c.arg("sweep")
            .args(args)
            .args(["--url", &url])
            .env_remove("BEWAHR_TOKEN");
        if let Some(t) = token {
            c.args(["--token", t]);
        }
        run(&mut c)
    };
    let o = sweep(&["run", "--json"], Some(&token));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = crate::support::json(&o);
    assert_eq!(r["trigger"], "admin", "{r}");
    assert_eq!(r["removed"], 0, "{r}");
    let o = sweep(&["status"], Some(&token));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.starts_with("sweeper idle:"), "{text}");
    assert!(
        text.contains("grace 0 s; 1 runs removed 0 contents"),
        "{text}"
    );
    let o = sweep(&["run"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("401"), "{o:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}
