//! Fault injection: `kill -9` of the real server mid-ingest, mid-sealing and
//! mid-renewal. Afterwards every acknowledged object is there with its exact
//! bytes, every object is pending or preserved, every preserved one has a
//! valid evidence record, and an interrupted renewal is redone exactly once.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};

use crate::support::*;

pub fn spawn(dir: &std::path::Path, port: u16, interval_ms: u64) -> Child {
    bewahr()
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("BEWAHR_BATCH__INTERVAL_MS", interval_ms.to_string())
        .env("BEWAHR_RENEWAL__AUTOMATIC", "false")
        .env("BEWAHR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A token of `role` (of the tenant `kill`, but for the operator), made
/// with the command line on the data dir.
pub fn token(dir: &std::path::Path, role: &str) -> String {
    let mut c = bewahr();
    c.args(["token", "create", "--role", role, "--data-dir"])
        .arg(dir);
    if role != "operator" {
        c.args(["--tenant", "kill"]);
    }
    let o = run(&mut c);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stdout(&o).lines().last().unwrap().to_string()
}

/// A tenant and tokens made with the command line on the data dir: (submitter, auditor, operator) clients.
pub fn clients(dir: &std::path::Path) -> (reqwest::Client, reqwest::Client, reqwest::Client) {
    let o = run(bewahr()
        .args(["tenant", "create", "kill", "--data-dir"])
        .arg(dir));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let token = |role: &str| bearer_client(&token(dir, role));
    (token("submitter"), token("auditor"), token("operator"))
}

/// An HTTP client that sends `token` with every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// The server's TSA certificates (PEM: TSA, root).
pub async fn tsa_pem(http: &reqwest::Client, base: &str) -> Vec<u8> {
    http.get(format!("{base}/v1/tsa/certificates"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The development TSA's root, from the server (its certificate list is TSA, root).
pub async fn trust_anchors(http: &reqwest::Client, base: &str) -> Vec<x509_cert::Certificate> {
    let pem = tsa_pem(http, base).await;
    x509_cert::Certificate::load_pem_chain(&pem).unwrap()[1..].to_vec()
}

/// `aoid`'s evidence record from `base` verifies (Passed) over `doc`, and
/// its content is `doc` byte for byte; the verification report.
pub async fn object_intact(
    aud: &reqwest::Client,
    base: &str,
    aoid: &str,
    doc: &[u8],
    opts: &Options<'_>,
) -> verify::Report {
    let r = aud
        .get(format!("{base}/v1/objects/{aoid}/evidence?wait=30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{aoid}: no evidence");
    let er = r.bytes().await.unwrap();
    let rep = verify::verify_der(&er, &mut InMemory(vec![doc.to_vec()]), opts);
    assert_eq!(
        rep.indication,
        Indication::Passed,
        "{aoid}: {}",
        rep.to_text()
    );
    // (a version's content is served once it is sealed)
    let body = aud
        .get(format!("{base}/v1/objects/{aoid}/versions/1/content"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], doc, "{aoid}: content differs");
    rep
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_ingest_and_mid_sealing_loses_nothing_acknowledged() {
    let dir = tempdir();
    let (http, aud, op) = clients(dir.path());
    let mut acknowledged: Vec<(String, Vec<u8>)> = Vec::new();
    let mut n = 0u64;
    for round in 0..6 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        // short batch intervals so that kills also land while sealing
        let mut child = spawn(dir.path(), port, 20 + round * 15);
        wait_ready(&http, &base).await;
        let started = Instant::now();
        let kill_after = Duration::from_millis(300 + (round * 170) % 500);
        let mut tasks = Vec::new();
        for w in 0..8 {
            let http = http.clone();
            let base = base.clone();
            let first = n + w * 100_000;
            tasks.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                for i in 0.. {
                    let doc = format!("round {round} writer {w} document {i} {first}")
                        .repeat(1 + (i % 50) as usize)
                        .into_bytes();
                    match http
                        .post(format!("{base}/v1/objects?title=kill-test"))
                        .header("content-type", "text/plain")
                        .body(doc.clone())
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 201 => {
                            let j: serde_json::Value =
                                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                            ok.push((j["aoid"].as_str().unwrap().to_string(), doc));
                        }
                        _ => break, // killed: this one was not acknowledged
                    }
                }
                ok
            }));
        }
        tokio::time::sleep(kill_after.saturating_sub(started.elapsed())).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for t in tasks {
            acknowledged.extend(t.await.unwrap());
        }
        n += 1_000_000;
    }
    assert!(
        acknowledged.len() > 50,
        "the test should ingest something: {}",
        acknowledged.len()
    );

    // restart and check everything
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), port, 50);
    wait_ready(&http, &base).await;
    let trusted = &trust_anchors(&http, &base).await;
    let policy = AlgorithmPolicy::default();
    let opts = Options::new(trusted, time::OffsetDateTime::now_utc(), &policy);
    for (i, (aoid, doc)) in acknowledged.iter().enumerate() {
        let obj: serde_json::Value = serde_json::from_slice(
            &aud.get(format!("{base}/v1/objects/{aoid}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let state = obj["versions"][0]["state"]
            .as_str()
            .unwrap_or_else(|| panic!("acknowledged {aoid} is lost: {obj}"))
            .to_string();
        assert!(
            state == "pending" || state == "preserved",
            "{aoid}: {state}"
        );
        // every 7th: content and evidence in full (all of them would be slow in debug builds)
        if i % 7 == 0 {
            object_intact(&aud, &base, aoid, doc, &opts).await;
        }
    }
    // nothing is stuck: everything gets sealed
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h: serde_json::Value = op
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| {
                let pending = t
                    .lines()
                    .find(|l| l.starts_with("bewahr_pending_objects"))
                    .and_then(|l| l.split_whitespace().last())
                    .unwrap_or("1")
                    .to_string();
                serde_json::json!(pending)
            })
            .unwrap();
        if h == "0" || Instant::now() > deadline {
            assert_eq!(h, "0", "objects stay pending after restart");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Submits `doc` to `base` (201 expected); its AOID.
pub async fn submit(sub: &reqwest::Client, base: &str, doc: &[u8]) -> String {
    let r = sub
        .post(format!("{base}/v1/objects"))
        .header("content-type", "application/octet-stream")
        .body(doc.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let j: serde_json::Value = r.json().await.unwrap();
    j["aoid"].as_str().unwrap().to_string()
}

pub async fn post_renewal(http: &reqwest::Client, base: &str, body: serde_json::Value) -> i64 {
    let r = http
        .post(format!("{base}/v1/admin/renewals"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn runs(http: &reqwest::Client, base: &str) -> Vec<serde_json::Value> {
    let j: serde_json::Value = http
        .get(format!("{base}/v1/admin/renewals"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    j["runs"].as_array().unwrap().clone()
}

/// Waits until every renewal run the server knows is done.
async fn all_runs_done(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !runs(http, base).await.iter().all(|r| r["state"] == "done") {
        assert!(Instant::now() < deadline, "{:?}", runs(http, base).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_renewal_leaves_every_record_valid_and_renews_once() {
    let dir = tempdir();
    let (sub, aud, http) = clients(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), port, 50);
    wait_ready(&http, &base).await;
    // 240 documents of 256 KiB: rehashing them takes a moment, even more in debug builds
    let mut docs = Vec::new();
    for i in 0..240u32 {
        let doc: Vec<u8> = (0..256 * 1024u32)
            .map(|j| (j.wrapping_mul(i + 7) >> 3) as u8)
            .collect();
        docs.push((submit(&sub, &base, &doc).await, doc));
    }
    let last = &docs.last().unwrap().0;
    let r = aud
        .get(format!("{base}/v1/objects/{last}/evidence?wait=30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // hash-tree renewal, killed twice; then time-stamp renewal, killed once
    let mut kills = 0;
    for (round, delay_ms) in [(0, 40u64), (1, 120), (2, 10), (3, 0)] {
        if round > 0 {
            let port = free_port();
            let b = format!("http://127.0.0.1:{port}");
            child = spawn(dir.path(), port, 50);
            wait_ready(&http, &b).await;
            if round == 2 {
                // the hash-tree renewal is redone after its restarts
                all_runs_done(&http, &b).await;
                post_renewal(&http, &b, serde_json::json!({"kind": "timestamp"})).await;
            }
            if round == 3 {
                all_runs_done(&http, &b).await;
                let all = runs(&http, &b).await;
                assert_eq!(all.len(), 2, "{all:?}");
                assert!(
                    all.iter()
                        .any(|r| r["kind"] == "hashtree" && r["attempts"].as_i64().unwrap() >= 2),
                    "the hash-tree renewal was interrupted and redone: {all:?}"
                );
                // every record: chain 1 (SHA-256, one time-stamp), chain 2 (SHA-512, renewed once)
                let trusted = trust_anchors(&http, &b).await;
                let policy = AlgorithmPolicy::default();
                let opts = Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
                for (aoid, doc) in &docs {
                    let er = aud
                        .get(format!("{b}/v1/objects/{aoid}/evidence"))
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    let rep = verify::verify_der(&er, &mut InMemory(vec![doc.clone()]), &opts);
                    assert_eq!(
                        rep.indication,
                        Indication::Passed,
                        "{aoid}: {}",
                        rep.to_text()
                    );
                    assert_eq!(rep.chains, 2, "{aoid}: {}", rep.to_text());
                    assert_eq!(
                        rep.archive_time_stamps.len(),
                        3,
                        "{aoid}: {}",
                        rep.to_text()
                    );
                }
                break;
            }
        } else {
            post_renewal(
                &http,
                &base,
                serde_json::json!({"kind": "hashtree", "digest_algorithm": "sha512"}),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 3);
    child.kill().unwrap();
    child.wait().unwrap();
}
