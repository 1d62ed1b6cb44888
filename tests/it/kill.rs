//! Fault injection: `kill -9` of the real server mid-ingest and mid-sealing.
//! Afterwards every acknowledged object is there with its exact bytes, every
//! object is pending or preserved, and every preserved one has a valid
//! evidence record.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Options};

use crate::support::*;

fn spawn(dir: &std::path::Path, port: u16, interval_ms: u64) -> Child {
    bewahr()
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("BEWAHR_BATCH__INTERVAL_MS", interval_ms.to_string())
        .env("BEWAHR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
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
    let http = reqwest::Client::new();
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
    let pem = http
        .get(format!("{base}/v1/tsa/certificates"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let certs = x509_cert::Certificate::load_pem_chain(&pem).unwrap();
    let trusted = &certs[1..];
    let policy = AlgorithmPolicy::default();
    let opts = Options {
        trusted,
        extra_certificates: &[],
        at: time::OffsetDateTime::now_utc(),
        policy: &policy,
    };
    for (i, (aoid, doc)) in acknowledged.iter().enumerate() {
        let obj: serde_json::Value = serde_json::from_slice(
            &http
                .get(format!("{base}/v1/objects/{aoid}"))
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
            let body = http
                .get(format!("{base}/v1/objects/{aoid}/versions/1/content"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(&body[..], &doc[..], "{aoid}: content differs");
            let r = http
                .get(format!("{base}/v1/objects/{aoid}/evidence?wait=30"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{aoid}: no evidence after restart");
            let er = r.bytes().await.unwrap();
            let rep = verify::verify_der(&er, &mut InMemory(vec![doc.clone()]), &opts);
            assert_eq!(
                rep.indication,
                Indication::Passed,
                "{aoid}: {}",
                rep.to_text()
            );
        }
    }
    // nothing is stuck: everything gets sealed
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h: serde_json::Value = http
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
