//! Connection policy of the serve loop (`tls::serve`): the connection cap,
//! the idle timeout for HTTP/1.1 and HTTP/2 (a slow request in flight is
//! not idle), and graceful shutdown.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::{archive_with, Db, TestArchive};

async fn serve(a: &TestArchive, opts: bewahr::tls::ServeOptions) -> std::net::SocketAddr {
    serve_until(a, opts, std::future::pending()).await
}

async fn serve_until(
    a: &TestArchive,
    opts: bewahr::tls::ServeOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(bewahr::tls::serve(l, a.raw.clone(), None, opts, stop));
    addr
}

/// An archive that never seals (evidence requests wait their full `wait`
/// and answer 409) and one object in it.
async fn never_sealed() -> Option<(TestArchive, String)> {
    let a = archive_with(Db::Sqlite, |c| c.batch.interval_ms = 3_600_000, None).await?;
    let (st, _, body) = crate::api::send(
        &a.router,
        crate::api::post("/v1/objects", "text/plain", "pending for a while"),
    )
    .await;
    assert_eq!(st, 201);
    let aoid = crate::api::js(&body)["aoid"].as_str().unwrap().to_string();
    Some((a, aoid))
}

/// A request for the evidence of `aoid` that takes `wait` seconds.
fn slow_request(a: &TestArchive, aoid: &str, wait: u32) -> String {
    format!(
        "GET /v1/objects/{aoid}/evidence?wait={wait} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        a.tokens["auditor"]
    )
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads one HTTP/1.1 response (headers and a Content-Length body), or
/// `None` when nothing complete arrives within `within`.
async fn response(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(text);
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether the server closes the connection within `within` (EOF or reset).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_connection_cap_clients_wait_until_a_slot_frees() {
    let Some(a) = archive_with(Db::Sqlite, |_| {}, None).await else {
        return;
    };
    let addr = serve(
        &a,
        bewahr::tls::ServeOptions {
            max_connections: 2,
            idle_timeout: Duration::from_secs(60),
            ..Default::default()
        },
    )
    .await;
    // two kept-alive connections take both slots
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    for s in [&mut first, &mut second] {
        s.write_all(HEALTH).await.unwrap();
        let r = response(s, Duration::from_secs(5)).await.expect("served");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    // a third connects (the kernel's backlog) but is not served
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    assert!(
        response(&mut third, Duration::from_millis(800))
            .await
            .is_none(),
        "a third connection was served beyond the cap of two"
    );
    // the kept-alive ones are still served meanwhile
    second.write_all(HEALTH).await.unwrap();
    assert!(response(&mut second, Duration::from_secs(5))
        .await
        .is_some());
    // one closes: the waiting client is taken and answered
    drop(first);
    let r = response(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a slot was free");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_http1_connection_is_closed_but_a_slow_request_is_not() {
    // sealing never runs: evidence waits the full `wait` and answers 409
    let Some((a, aoid)) = never_sealed().await else {
        return;
    };
    let addr = serve(
        &a,
        bewahr::tls::ServeOptions {
            idle_timeout: Duration::from_millis(400),
            ..Default::default()
        },
    )
    .await;
    // idle after one request: closed within a few ticks
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(HEALTH).await.unwrap();
    assert!(response(&mut s, Duration::from_secs(5)).await.is_some());
    let t = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(5)).await,
        "an idle connection stays open"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "closed too early: {:?}",
        t.elapsed()
    );
    // a request that takes 2 s (5 times the idle timeout) is answered
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = slow_request(&a, &aoid, 2);
    s.write_all(req.as_bytes()).await.unwrap();
    let t = Instant::now();
    let r = response(&mut s, Duration::from_secs(10))
        .await
        .expect("the slow request was answered");
    assert!(r.starts_with("HTTP/1.1 409"), "{r}");
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_http2_connection_gets_goaway() {
    let Some(a) = archive_with(Db::Sqlite, |_| {}, None).await else {
        return;
    };
    let addr = serve(
        &a,
        bewahr::tls::ServeOptions {
            idle_timeout: Duration::from_millis(400),
            ..Default::default()
        },
    )
    .await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("HTTP/2 with prior knowledge");
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://{addr}/healthz"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    // idle from here: the server ends the connection (GOAWAY, then close)
    let t = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection stays open");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    let Some((a, aoid)) = never_sealed().await else {
        return;
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let addr = serve_until(
        &a,
        bewahr::tls::ServeOptions {
            drain_deadline: Duration::from_secs(10),
            ..Default::default()
        },
        async move {
            let _ = rx.await;
        },
    )
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = slow_request(&a, &aoid, 2);
    s.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(()).unwrap();
    // the request in flight is answered in full
    let r = response(&mut s, Duration::from_secs(10))
        .await
        .expect("answered during the drain");
    assert!(r.starts_with("HTTP/1.1 409"), "{r}");
    // the listener is gone: new connections are refused (or never served)
    tokio::time::sleep(Duration::from_millis(200)).await;
    match TcpStream::connect(addr).await {
        Err(_) => {}
        Ok(mut late) => {
            let _ = late.write_all(HEALTH).await;
            assert!(response(&mut late, Duration::from_millis(800))
                .await
                .is_none());
        }
    }
}
