//! TLS termination and client certificates (mutual TLS) against the real
//! router, with a PKI made by tests/fixtures/tls-pki.sh (openssl): bearer
//! tokens work over TLS; a client certificate from `server.client_ca` names
//! its tenant (O) and role (OU); one from another CA, or none without a
//! token, gets 401.

use std::path::PathBuf;

use crate::api::{archive_with, send, Db};
use crate::support::*;

/// The TLS tests' PKI, made once per test process: two tests running the
/// script at once in the same directory would overwrite each other's files.
fn pki() -> PathBuf {
    static PKI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bewahr-tls-pki-{}", std::process::id()));
        let st = std::process::Command::new("bash")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls-pki.sh"))
            .arg(&dir)
            .status()
            .expect("bash");
        assert!(st.success(), "tls-pki.sh failed");
        dir
    })
    .clone()
}

/// Serves the archive over TLS (the server certificate of `pki`, client
/// certificates from the CA in `client_ca`); the base URL.
async fn serve_tls(
    a: &crate::api::TestArchive,
    pki: &std::path::Path,
    client_ca: &std::path::Path,
) -> String {
    let cfg = bewahr::tls::server_config(
        &pki.join("server.crt"),
        &pki.join("server.key"),
        Some(&x509_cert::Certificate::load_pem_chain(&std::fs::read(client_ca).unwrap()).unwrap()),
    )
    .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://127.0.0.1:{}", l.local_addr().unwrap().port());
    tokio::spawn(bewahr::tls::serve(
        l,
        a.raw.clone(),
        Some(cfg),
        bewahr::tls::ServeOptions {
            header_timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
        std::future::pending(),
    ));
    base
}

fn client(pki: &std::path::Path, identity: Option<&str>) -> reqwest::Client {
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(pki.join("server-ca.crt")).unwrap()).unwrap();
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(ca);
    if let Some(id) = identity {
        b = b.identity(reqwest::Identity::from_pem(&std::fs::read(pki.join(id)).unwrap()).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_tokens_or_client_certificates() {
    if !have("openssl", &["version"]) {
        return;
    }
    let pki = pki();
    let path = |f: &str| pki.join(f).display().to_string();
    let (ca, cert, key) = (
        path("client-ca.crt"),
        path("server.crt"),
        path("server.key"),
    );
    let Some(a) = archive_with(
        Db::Sqlite,
        |c| {
            c.server.client_ca = ca;
            c.server.tls_cert = cert;
            c.server.tls_key = key;
        },
        None,
    )
    .await
    else {
        return;
    };
    let base = serve_tls(&a, &pki, &pki.join("client-ca.crt")).await;

    // an object of t1 and one of t2
    let mut ids = Vec::new();
    for who in ["submitter", "t2-submitter"] {
        let r = client(&pki, None)
            .post(format!("{base}/v1/objects"))
            .bearer_auth(&a.tokens[who])
            .body("über TLS")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "a token over TLS");
        let j: serde_json::Value = r.json().await.unwrap();
        ids.push(j["aoid"].as_str().unwrap().to_string());
    }
    // the auditor's certificate: its tenant's objects, not the other's
    let auditor = client(&pki, Some("auditor.pem"));
    let r = auditor
        .get(format!("{base}/v1/objects/{}", ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = auditor
        .get(format!("{base}/v1/objects/{}", ids[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = auditor
        .post(format!("{base}/v1/objects"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "an auditor does not submit");
    // the operator's certificate reaches the admin endpoints
    let r = client(&pki, Some("operator.pem"))
        .get(format!("{base}/v1/admin/renewals"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // a certificate from an unknown CA, or nothing at all: 401
    // a certificate of the right CA that is not for client authentication
    // (no id-kp-clientAuth), one of another CA, and none at all
    for c in [
        client(&pki, Some("mailonly.pem")),
        client(&pki, Some("stranger.pem")),
        client(&pki, None),
    ] {
        let r = c
            .get(format!("{base}/v1/objects/{}", ids[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // the audit trail names the certificate (by its fingerprint)
    let mut found = false;
    for _ in 0..100 {
        let (_, _, body) = send(
            &a.router,
            axum::http::Request::get("/v1/audit?limit=1000")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
        let t: serde_json::Value = serde_json::from_slice(&body).unwrap();
        found = t.as_array().unwrap().iter().any(|e| {
            e["actor"]
                .as_str()
                .unwrap_or("")
                .starts_with("auditor token cert:")
                && e["result"] == "404"
        });
        if found {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(found, "the certificate's requests are in the audit trail");

    // the web interface: signing in with the connection's certificate
    for (identity, signed_in) in [("auditor.pem", true), ("stranger.pem", false)] {
        let c = client(&pki, Some(identity));
        let r = c.get(format!("{base}/ui/login")).send().await.unwrap();
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|v| v.starts_with("bewahr_login="))
            .unwrap();
        assert!(cookie.contains("Secure"), "{cookie}");
        let form_cookie = cookie.split(';').next().unwrap().to_string();
        let page = r.text().await.unwrap();
        assert!(
            page.contains("id=\"login-certificate\""),
            "the certificate button over TLS"
        );
        let csrf = crate::ui::hidden(&page, "csrf");
        let r = c
            .post(format!("{base}/ui/login"))
            .header("cookie", &form_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("method", "certificate"),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        if !signed_in {
            assert_eq!(r.status(), 401, "a certificate of another CA");
            continue;
        }
        assert_eq!(r.status(), 303);
        let session = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|v| v.starts_with("bewahr_session="))
            .unwrap();
        assert!(
            session.contains("Secure") && session.contains("HttpOnly"),
            "{session}"
        );
        let session = session.split(';').next().unwrap().to_string();
        let r = c
            .get(format!("{base}/ui/objects/{}", ids[0]))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(
            status, 200,
            "the certificate session reads its tenant's object: {body}"
        );
        let r = c
            .get(format!("{base}/ui/objects/{}", ids[1]))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "not the other tenant's");
        // the session without the certificate on the connection: sign in again
        let r = client(&pki, None)
            .get(format!("{base}/ui/objects/{}", ids[0]))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(a) = archive_with(Db::Sqlite, |_| {}, None).await else {
        return;
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(bewahr::tls::serve(
        l,
        a.raw.clone(),
        None,
        bewahr::tls::ServeOptions {
            header_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        std::future::pending(),
    ));
    // a well-behaved client is served
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // one that stops in the middle of its headers is disconnected
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or(0);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
}

/// Client certificates are checked for revocation at the CRL their
/// certificate names (fail closed): a revoked one gets 401, and so does one
/// whose CRL cannot be fetched; a good one is let in. The CA and the CRL
/// are made by tests/fixtures/tls-crl.sh (openssl ca), the CRL is served
/// over HTTP on the loopback.
#[tokio::test(flavor = "multi_thread")]
async fn client_certificates_are_checked_for_revocation() {
    if !have("openssl", &["version"]) {
        return;
    }
    let server_pki = pki();
    // the CRL's server first, to know its port
    let crl_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = crl_listener.local_addr().unwrap().port();
    let dead = free_port();
    let dir = std::env::temp_dir().join(format!("bewahr-tls-crl-{}", std::process::id()));
    let st = std::process::Command::new("bash")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls-crl.sh"))
        .arg(&dir)
        .arg(port.to_string())
        .arg(dead.to_string())
        .status()
        .expect("bash");
    assert!(st.success(), "tls-crl.sh failed");
    let crl = std::fs::read(dir.join("ca.crl")).unwrap();
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = fetched.clone();
    let crl_app = axum::Router::new().route(
        "/ca.crl",
        axum::routing::get(move || {
            let crl = crl.clone();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { ([("content-type", "application/pkix-crl")], crl) }
        }),
    );
    tokio::spawn(async move { axum::serve(crl_listener, crl_app).await });

    let ca = dir.join("crl-ca.crt").display().to_string();
    let Some(a) = archive_with(
        Db::Sqlite,
        |c| {
            c.server.client_ca = ca;
            c.server.tls_cert = server_pki.join("server.crt").display().to_string();
            c.server.tls_key = server_pki.join("server.key").display().to_string();
        },
        None,
    )
    .await
    else {
        return;
    };
    let base = serve_tls(&a, &server_pki, &dir.join("crl-ca.crt")).await;
    let status = |id: &'static str| {
        let c = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(
                    &std::fs::read(server_pki.join("server-ca.crt")).unwrap(),
                )
                .unwrap(),
            )
            .identity(reqwest::Identity::from_pem(&std::fs::read(dir.join(id)).unwrap()).unwrap())
            .build()
            .unwrap();
        let url = format!("{base}/v1/audit");
        async move { c.get(url).send().await.unwrap().status() }
    };
    assert_eq!(status("good.pem").await, 200, "a good certificate");
    assert!(
        fetched.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the CRL was fetched"
    );
    assert_eq!(status("revoked.pem").await, 401, "a revoked certificate");
    assert_eq!(
        status("unreachable.pem").await,
        401,
        "no revocation status: fail closed"
    );
    // the refusal reaches the operator's audit trail, with its reason
    let mut trail = String::new();
    for _ in 0..100 {
        let req = axum::http::Request::get("/v1/audit?limit=1000")
            .header("authorization", format!("Bearer {}", a.tokens["operator"]))
            .body(axum::body::Body::empty())
            .unwrap();
        let (_, _, body) = send(&a.raw, req).await;
        trail = String::from_utf8_lossy(&body).to_string();
        if trail.contains("revoked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(trail.contains("revoked"), "{trail}");
}
