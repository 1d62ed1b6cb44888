//! bewahr's RFC 3161 client against certomancer (`certomancer animate`), a
//! real TSA from PyPI: RSA PKCS#1 v1.5, ECDSA P-256 and RSASSA-PSS with the
//! maximum salt length; genTime chosen with `X-Certomancer-Fake-Time`.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use bewahr::alg::DigestAlgorithm;
use bewahr::ers::record_for_leaf;
use bewahr::hashtree::HashTree;
use bewahr::tsp::client::{AttemptError, TsaClient, TsaEndpoint};
use bewahr::tsp::ResponseError;

use crate::support::*;

struct Certomancer {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    root: Vec<x509_cert::Certificate>,
}

impl Drop for Certomancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Option<Certomancer> {
    if !have("certomancer", &["--help"]) {
        return None;
    }
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certomancer");
    let dir = tempdir();
    let st = Command::new("bash")
        .arg(fixtures.join("make-keys.sh"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = animate_certomancer(dir.path(), port);
    let mut c = Certomancer {
        child,
        base,
        _dir: dir,
        root: vec![],
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http
            .get(format!("{}/bewahr/certs/root/ca.cert.pem", c.base))
            .send()
            .await
        {
            if r.status().is_success() {
                let pem = r.bytes().await.unwrap();
                c.root = x509_cert::Certificate::load_pem_chain(&pem).unwrap();
                return Some(c);
            }
        }
        assert!(Instant::now() < deadline, "certomancer did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn endpoint(c: &Certomancer, service: &str) -> TsaEndpoint {
    let mut ep = TsaEndpoint::new(service, format!("{}/bewahr/tsa/{service}", c.base));
    ep.trusted = c.root.clone();
    ep
}

#[tokio::test(flavor = "multi_thread")]
async fn certomancer_time_stamps_pass_every_check() {
    let Some(c) = start().await else { return };
    for (service, scheme) in [
        ("tsa", "rsa3072-pkcs1v15-sha256"),
        ("tsa-ec", "ecdsa-p256-sha256"),
        ("tsa-pss", "rsa3072-pss-sha256-salt350"), // the largest salt: ring cannot, the rsa crate does
    ] {
        let client = TsaClient::new(vec![endpoint(&c, service)]).unwrap();
        for alg in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            let issued = client
                .timestamp(alg, &alg.digest(service.as_bytes()))
                .await
                .unwrap_or_else(|e| panic!("{service}: {e}"));
            assert_eq!(issued.granted.checked.signature_algorithm, scheme);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fake_time_sets_gen_time_and_the_record_verifies_then() {
    let Some(c) = start().await else { return };
    let mut ep = endpoint(&c, "tsa");
    ep.headers.push((
        "X-Certomancer-Fake-Time".into(),
        "2030-06-01T12:00:00+00:00".into(),
    ));
    let client = TsaClient::new(vec![ep]).unwrap();
    let alg = DigestAlgorithm::Sha256;
    let docs: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a' + i as u8; 100]).collect();
    let tree =
        HashTree::from_hashes(alg, docs.iter().map(|d| alg.digest(d)).collect::<Vec<_>>()).unwrap();
    let issued = client.timestamp(alg, tree.root()).await.unwrap();
    assert_eq!(
        issued.granted.checked.gen_time,
        time::macros::datetime!(2030-06-01 12:00 UTC)
    );

    let dir = tempdir();
    let ca = dir.path().join("root.pem");
    std::fs::write(
        &ca,
        der::EncodePem::to_pem(&c.root[0], der::pem::LineEnding::LF).unwrap(),
    )
    .unwrap();
    let er = dir.path().join("1.ers");
    let data = dir.path().join("1.bin");
    std::fs::write(
        &er,
        record_for_leaf(&tree, 1, &issued.granted.token).unwrap(),
    )
    .unwrap();
    std::fs::write(&data, &docs[1]).unwrap();
    let o = run(bewahr()
        .args(["verify", "--json", "--at", "2030-12-01T00:00:00Z", "--er"])
        .arg(&er)
        .arg("--data")
        .arg(&data)
        .arg("--tsa-cert")
        .arg(&ca));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        json(&o)["archive_time_stamps"][0]["gen_time"],
        "2030-06-01T12:00:00Z"
    );
    // judged after the TSA certificate ends (2060), the record needed renewal
    let o = run(bewahr()
        .args(["verify", "--json", "--at", "2061-01-01T00:00:00Z", "--er"])
        .arg(&er)
        .arg("--data")
        .arg(&data)
        .arg("--tsa-cert")
        .arg(&ca));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(json(&o)["sub_indication"], "OUT_OF_BOUNDS_NO_POE");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_the_tsa_ignores_is_caught() {
    let Some(c) = start().await else { return };
    let mut ep = endpoint(&c, "tsa");
    ep.policy = Some(const_oid::ObjectIdentifier::new_unwrap(
        "1.3.6.1.4.1.32473.9",
    ));
    let client = TsaClient::new(vec![ep]).unwrap();
    let err = client
        .timestamp(DigestAlgorithm::Sha256, &[7; 32])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.attempts[0].1,
            AttemptError::Response(ResponseError::PolicyMismatch { .. })
        ),
        "{err}"
    );
}
