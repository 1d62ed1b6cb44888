//! bewahr's RFC 3161 client against `openssl ts -reply` behind a small HTTP
//! wrapper, and evidence records over OpenSSL time-stamps (RSA-3072).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::tsp::client::{AttemptError, TsaClient, TsaEndpoint};
use bewahr::tsp::ResponseError;

use crate::support::*;

#[derive(Clone)]
struct Wrapper {
    dir: PathBuf,
    /// when set, answers every request with the first response it made (a replaying TSA)
    replay: bool,
    first: Arc<Mutex<Option<Vec<u8>>>>,
}

async fn reply(State(w): State<Wrapper>, body: Bytes) -> impl IntoResponse {
    if w.replay {
        if let Some(r) = w.first.lock().unwrap().clone() {
            return ([(header::CONTENT_TYPE, "application/timestamp-reply")], r);
        }
    }
    let tmp = tempdir();
    let q = tmp.path().join("q.tsq");
    let r = tmp.path().join("r.tsr");
    std::fs::write(&q, &body).unwrap();
    let st = tokio::process::Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(w.dir.join("tsa.cnf"))
        .arg("-queryfile")
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .output()
        .await
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let resp = std::fs::read(&r).unwrap();
    w.first.lock().unwrap().get_or_insert(resp.clone());
    (
        [(header::CONTENT_TYPE, "application/timestamp-reply")],
        resp,
    )
}

/// Starts the wrapper on a loopback port; returns its URL.
pub(crate) async fn serve(replay: bool) -> String {
    let w = Wrapper {
        dir: openssl_tsa().to_path_buf(),
        replay,
        first: Arc::new(Mutex::new(None)),
    };
    let app = axum::Router::new()
        .route("/", axum::routing::post(reply))
        .with_state(w);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

pub(crate) fn ca() -> Vec<x509_cert::Certificate> {
    x509_cert::Certificate::load_pem_chain(&std::fs::read(openssl_tsa().join("ca.crt")).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn client_gets_checked_tokens_from_openssl_and_fails_over() {
    if !have("openssl", &["version"]) {
        return;
    }
    let url = serve(false).await;
    // a TSA that is down comes first: the client must move on to the next
    let mut dead = TsaEndpoint::new("down", "http://127.0.0.1:9/");
    dead.retries = 1;
    dead.backoff = Duration::from_millis(10);
    let mut ok = TsaEndpoint::new("openssl", url);
    ok.trusted = ca();
    let client = TsaClient::new(vec![dead, ok]).unwrap();
    let imprint = DigestAlgorithm::Sha256.digest(b"root of a batch");
    let issued = client
        .timestamp(DigestAlgorithm::Sha256, &imprint)
        .await
        .unwrap();
    assert_eq!(issued.tsa, "openssl");
    assert_eq!(issued.granted.checked.imprint, imprint);
    assert!(
        issued
            .granted
            .checked
            .signature_algorithm
            .starts_with("rsa3072-pkcs1v15-sha256"),
        "{}",
        issued.granted.checked.signature_algorithm
    );
    // SHA-512 and SHA3-256 imprints too
    for alg in [DigestAlgorithm::Sha512, DigestAlgorithm::Sha3_256] {
        client.timestamp(alg, &alg.digest(b"x")).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_answer_is_refused_for_its_nonce() {
    if !have("openssl", &["version"]) {
        return;
    }
    let url = serve(true).await;
    let client = TsaClient::new(vec![TsaEndpoint::new("replaying", url)]).unwrap();
    let imprint = DigestAlgorithm::Sha256.digest(b"a");
    client
        .timestamp(DigestAlgorithm::Sha256, &imprint)
        .await
        .unwrap();
    let err = client
        .timestamp(DigestAlgorithm::Sha256, &imprint)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.attempts[0].1,
            AttemptError::Response(ResponseError::NonceMismatch { .. })
        ),
        "{err}"
    );
    let err = client
        .timestamp(
            DigestAlgorithm::Sha256,
            &DigestAlgorithm::Sha256.digest(b"b"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.attempts[0].1,
            AttemptError::Response(
                ResponseError::ImprintMismatch { .. } | ResponseError::NonceMismatch { .. }
            )
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_records_over_openssl_time_stamps_verify_on_the_command_line() {
    if !have("openssl", &["version"]) {
        return;
    }
    let url = serve(false).await;
    let client = TsaClient::new(vec![TsaEndpoint::new("openssl", url)]).unwrap();
    let dir = tempdir();
    let docs: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 1000 + i]).collect();
    let alg = DigestAlgorithm::Sha256;
    let tree =
        HashTree::from_hashes(alg, docs.iter().map(|d| alg.digest(d)).collect::<Vec<_>>()).unwrap();
    let issued = client.timestamp(alg, tree.root()).await.unwrap();
    for (i, d) in docs.iter().enumerate() {
        let er = dir.path().join(format!("{i}.ers"));
        let data = dir.path().join(format!("{i}.bin"));
        std::fs::write(
            &er,
            record_for_leaf(&tree, i, &issued.granted.token).unwrap(),
        )
        .unwrap();
        std::fs::write(&data, d).unwrap();
        let o = run(bewahr()
            .args(["verify", "--json", "--er"])
            .arg(&er)
            .arg("--data")
            .arg(&data)
            .arg("--tsa-cert")
            .arg(openssl_tsa().join("ca.crt")));
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        // without trusting the root: indeterminate, NO_POE
        let o = run(bewahr()
            .args(["verify", "--json", "--er"])
            .arg(&er)
            .arg("--data")
            .arg(&data));
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(json(&o)["sub_indication"], "NO_POE");
        // a changed document fails
        std::fs::write(&data, b"tampered").unwrap();
        let o = run(bewahr()
            .args(["verify", "--json", "--er"])
            .arg(&er)
            .arg("--data")
            .arg(&data)
            .arg("--tsa-cert")
            .arg(openssl_tsa().join("ca.crt")));
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(json(&o)["sub_indication"], "HASH_FAILURE");
    }
}
