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

/// The archive's stamper with TSA validation data: the token it hands back
/// carries the TSA's OCSP response (fetched from certomancer's responder)
/// and verifies under the TR-ESOR profile with nothing else given.
#[tokio::test(flavor = "multi_thread")]
async fn sealed_tokens_carry_the_tsas_revocation_data() {
    use bewahr::seal::Stamper;
    use bewahr::signature::fetch::Fetcher;
    use bewahr::verify::{self, AlgorithmPolicy, InMemory, Indication, Profile, SubIndication};

    let Some(c) = start().await else { return };
    let fetcher = || Fetcher::new(Duration::from_secs(5), time::Duration::days(1));
    let alg = DigestAlgorithm::Sha256;
    let docs: Vec<Vec<u8>> = (0..3).map(|i| vec![b'x' + i as u8; 64]).collect();
    let tree =
        HashTree::from_hashes(alg, docs.iter().map(|d| alg.digest(d)).collect::<Vec<_>>()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let policy = AlgorithmPolicy::default();
    let judge = |token: &[u8], profile: Profile| {
        let er = record_for_leaf(&tree, 0, token).unwrap();
        let mut opts = verify::Options::new(&c.root, now + time::Duration::days(1), &policy);
        opts.profile = profile;
        verify::verify_der(&er, &mut InMemory(vec![docs[0].clone()]), &opts)
    };

    // as the TSA sent it: no revocation data, so the TR-ESOR profile does not pass
    let plain = Stamper::remote(TsaClient::new(vec![endpoint(&c, "tsa")]).unwrap());
    let s = plain.stamp(alg, tree.root(), now).await.unwrap();
    let r = judge(&s.token, Profile::TrEsor);
    assert_eq!(
        r.sub_indication,
        Some(SubIndication::TryLater),
        "{}",
        r.to_text()
    );

    // through the archive's stamper: OCSP embedded, PASSED, the source is the token
    let stamper = Stamper::remote(TsaClient::new(vec![endpoint(&c, "tsa")]).unwrap())
        .with_tsa_validation(fetcher(), true);
    let s = stamper.stamp(alg, tree.root(), now).await.unwrap();
    let sd = bewahr::tsp::token::signed_data(&s.token).unwrap();
    assert_eq!(sd.version, 5, "an `other` entry in crls makes it version 5");
    assert_eq!(sd.revocation.ocsp_responses.len(), 1);
    let r = judge(&s.token, Profile::TrEsor);
    assert_eq!(r.indication, Indication::Passed, "{}", r.to_text());
    let rev = &r.archive_time_stamps[0].revocation[0];
    assert_eq!((rev.kind, rev.status), (Some("OCSP"), "good"));
    assert_eq!(rev.source, Some(verify::tsa::Source::Token));
    assert_eq!(
        r.archive_time_stamps[0].certificates.last().unwrap().source,
        verify::tsa::Source::Token,
        "the root was added to the token"
    );
    // Bouncy Castle reads the augmented token (version 5, OCSP as `other`) and the record
    let dir = tempdir();
    let (erp, dp) = (dir.path().join("0.ers"), dir.path().join("0.bin"));
    std::fs::write(&erp, record_for_leaf(&tree, 0, &s.token).unwrap()).unwrap();
    std::fs::write(&dp, &docs[0]).unwrap();
    crate::bouncycastle::validate_with_bc(&erp, &dp);

    // a TSA whose certificate is revoked (since 2025-01-01): refused outright
    let revoked = Stamper::remote(TsaClient::new(vec![endpoint(&c, "tsa-revoked")]).unwrap())
        .with_tsa_validation(fetcher(), false);
    let err = revoked.stamp(alg, tree.root(), now).await.unwrap_err();
    assert!(err.contains("revoked"), "{err}");

    // a TSA whose trusted certificates are not configured (no path, so no
    // issuer to ask): kept as it came by default, refused under the TR-ESOR profile
    let mut ep = endpoint(&c, "tsa");
    ep.trusted = vec![];
    let lax = Stamper::remote(TsaClient::new(vec![ep.clone()]).unwrap())
        .with_tsa_validation(fetcher(), false);
    let s = lax.stamp(alg, tree.root(), now).await.unwrap();
    assert!(bewahr::tsp::token::signed_data(&s.token)
        .unwrap()
        .revocation
        .ocsp_responses
        .is_empty());
    let strict =
        Stamper::remote(TsaClient::new(vec![ep]).unwrap()).with_tsa_validation(fetcher(), true);
    let err = strict.stamp(alg, tree.root(), now).await.unwrap_err();
    assert!(err.contains("tr-esor"), "{err}");
}
