//! The S3 store against a real S3 server: moto's server mode (PyPI
//! `moto[server]`, installed by `.ci/run`), which keeps Object Lock,
//! versioning and conditional writes, one server per test. Where moto is
//! more lenient than S3 (it lets a COMPLIANCE retention be shortened), the
//! tests show that bewahr never asks it to.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{ObjectLockLegalHoldStatus, ObjectLockRetentionMode};
use aws_sdk_s3::Client;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use bewahr::alg::DigestAlgorithm;
use bewahr::config::{LockMode, StoreKind};
use bewahr::hashtree::HashTree;
use bewahr::store::{ContentStore, RocksStore, S3Settings, S3Store, Store, TreeStore, CHUNK};

use crate::api::{archive_with, get, js, send, Db};
use crate::support::{free_port, have};

/// A moto S3 server on a free port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto (`None`, the test skipped, if it is not installed outside
/// CI): `BEWAHR_MOTO` (as `.ci/run` sets it: moto below 5.2 in a venv) or
/// `moto_server` on the PATH.
pub async fn moto() -> Option<Moto> {
    let bin = std::env::var("BEWAHR_MOTO").unwrap_or_else(|_| "moto_server".into());
    if !have(&bin, &["--help"]) {
        return None;
    }
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server");
    let m = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not listen on {port} within 20 s");
}

/// A plain SDK client of the test's, to look at the bucket.
pub fn client(endpoint: &str) -> Client {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(http)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build(),
    )
}

pub async fn make_bucket(c: &Client, name: &str, lock: bool) {
    c.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(lock)
        .send()
        .await
        .unwrap();
}

/// The store configuration for a bucket on moto.
pub fn s3_config(store: &mut bewahr::config::Store, endpoint: &str, bucket: &str) {
    store.kind = StoreKind::S3;
    store.endpoint = endpoint.into();
    store.bucket = bucket.into();
    store.region = "us-east-1".into();
    store.access_key_id = "test".into();
    store.secret_access_key = "test".into();
    store.lock_mode = LockMode::Compliance;
    store.evidence_retention_days = 10;
}

fn open(endpoint: &str, bucket: &str) -> Result<S3Store, bewahr::store::StoreError> {
    let mut cfg = bewahr::config::Store::default();
    s3_config(&mut cfg, endpoint, bucket);
    // the test's credentials, whatever the environment holds
    let s = S3Settings::from_config(&cfg, |_| None)?;
    S3Store::open(&s)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn retention(c: &Client, key: &str) -> Option<(ObjectLockRetentionMode, i64)> {
    // from a HEAD's Object Lock headers (moto answers GetObjectRetention of
    // an object without a retention with the object)
    let h = c
        .head_object()
        .bucket("archive")
        .key(key)
        .send()
        .await
        .unwrap();
    let mode = match h.object_lock_mode()? {
        aws_sdk_s3::types::ObjectLockMode::Compliance => ObjectLockRetentionMode::Compliance,
        aws_sdk_s3::types::ObjectLockMode::Governance => ObjectLockRetentionMode::Governance,
        other => panic!("{other:?}"),
    };
    Some((mode, h.object_lock_retain_until_date()?.secs()))
}

async fn held(c: &Client, key: &str) -> Option<ObjectLockLegalHoldStatus> {
    c.get_object_legal_hold()
        .bucket("archive")
        .key(key)
        .send()
        .await
        .ok()
        .and_then(|h| h.legal_hold().and_then(|h| h.status()).cloned())
}

async fn keys(c: &Client, prefix: &str) -> Vec<String> {
    c.list_objects_v2()
        .bucket("archive")
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// Blocking store calls run off the test's runtime, as the archive runs them.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A moto server with a bucket `archive` (Object Lock), the test's client
/// of it, and the S3 store on it, also as the archive's store handle.
async fn bucket_store() -> Option<(Moto, Client, S3Store, Store)> {
    let m = moto().await?;
    let c = client(&m.endpoint);
    make_bucket(&c, "archive", true).await;
    let e = m.endpoint.clone();
    let s3 = blocking(move || open(&e, "archive").unwrap()).await;
    let store = Store::with(Arc::new(s3.clone()), Arc::new(s3.clone()));
    Some((m, c, s3, store))
}

#[tokio::test]
async fn a_bucket_without_object_lock_is_refused() {
    let Some(m) = moto().await else { return };
    let c = client(&m.endpoint);
    make_bucket(&c, "plain", false).await;
    make_bucket(&c, "archive", true).await;
    let e = m.endpoint.clone();
    let err = blocking(move || open(&e, "plain").err())
        .await
        .expect("refused");
    assert!(err.to_string().contains("versioning"), "{err}");
    // versioning alone is not enough
    c.put_bucket_versioning()
        .bucket("plain")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let e = m.endpoint.clone();
    let err = blocking(move || open(&e, "plain").err())
        .await
        .expect("refused");
    assert!(err.to_string().contains("Object Lock"), "{err}");
    let e = m.endpoint.clone();
    assert!(blocking(move || open(&e, "archive").is_ok()).await);
    // no such bucket: a clear error, not a panic
    let e = m.endpoint.clone();
    let err = blocking(move || open(&e, "missing").err())
        .await
        .expect("refused");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn content_of_every_size_round_trips_once() {
    let Some((_m, c, s3, store)) = bucket_store().await else {
        return;
    };
    // inline, one PUT of a blob, a multipart upload of 8 MiB parts
    let docs: Vec<Vec<u8>> = vec![
        b"Bescheid".to_vec(),
        data(3 << 20, 1),
        data(10 << 20, 2),
        data(40 << 20 | 12345, 3),
    ];
    let mut digests = vec![];
    for d in &docs {
        let (st, doc) = (store.clone(), d.clone());
        let (sha, size) = blocking(move || {
            let mut up = st.upload();
            for piece in doc.chunks(1 << 20) {
                up.write(piece).unwrap();
            }
            let f = up.finish().unwrap();
            (f.stored.sha256, f.stored.size)
        })
        .await;
        digests.push(sha);
        let st = store.clone();
        let (back, sized, max_piece) = blocking(move || {
            let mut r = st.read(&sha).unwrap().unwrap();
            let (mut back, mut max) = (vec![], 0);
            while let Some(p) = r.next_piece().unwrap() {
                max = max.max(p.len());
                back.extend(p);
            }
            (back, st.size(&sha).unwrap(), max)
        })
        .await;
        assert_eq!(back.len(), d.len());
        assert!(back == *d, "read back differs");
        assert_eq!(sized, Some(size));
        assert!(max_piece <= CHUNK);
    }
    assert_eq!(keys(&c, "content/").await.len(), 4);
    assert_eq!(
        keys(&c, "blobs/").await.len(),
        2,
        "one object per large document"
    );
    // the same again: stored once, the second upload's blob gone
    let (st, d) = (store.clone(), docs[3].clone());
    blocking(move || {
        let mut up = st.upload();
        up.write(&d).unwrap();
        up.finish().unwrap();
    })
    .await;
    assert_eq!(keys(&c, "blobs/").await.len(), 2);
    // an upload dropped midway (a client gone) leaves no blob and no open multipart upload
    let st = store.clone();
    blocking(move || {
        let mut up = st.upload();
        up.write(&data(30 << 20, 9)).unwrap();
        drop(up);
    })
    .await;
    assert_eq!(keys(&c, "blobs/").await.len(), 2);
    let open_uploads = c
        .list_multipart_uploads()
        .bucket("archive")
        .send()
        .await
        .unwrap();
    assert!(open_uploads.uploads().is_empty(), "{open_uploads:?}");
    // the sweeper's walk: every content with its size, in digest order
    let s = s3.clone();
    let listed = blocking(move || s.list(None, 10).unwrap()).await;
    let mut want: Vec<([u8; 32], u64)> = digests
        .iter()
        .zip(&docs)
        .map(|(d, b)| (*d, b.len() as u64))
        .collect();
    want.sort();
    let got: Vec<([u8; 32], u64)> = listed.iter().map(|l| (l.sha256, l.size)).collect();
    assert_eq!(got, want);
    let (s, first) = (s3.clone(), want[0].0);
    let rest = blocking(move || s.list(Some(&first), 2).unwrap()).await;
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].sha256, want[1].0);
    // removal takes every version (not a delete marker) of entry and blob
    let (s, big) = (s3.clone(), digests[3]);
    assert!(blocking(move || s.delete(&big).unwrap()).await);
    let (s, big) = (s3.clone(), digests[3]);
    assert!(!blocking(move || s.delete(&big).unwrap()).await);
    let versions = c
        .list_object_versions()
        .bucket("archive")
        .prefix(format!("content/{}", hex::encode(digests[3])))
        .send()
        .await
        .unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty());
    assert_eq!(keys(&c, "blobs/").await.len(), 1);
}

#[tokio::test]
async fn retention_is_extended_never_shortened_and_holds_off_removal() {
    let Some((m, c, s3, store)) = bucket_store().await else {
        return;
    };
    let st = store.clone();
    let (small, large) = blocking(move || {
        let small = st.put_content(b"Bescheid 2026/17").unwrap().sha256;
        let mut up = st.upload();
        up.write(&data(9 << 20, 4)).unwrap();
        (small, up.finish().unwrap().stored.sha256)
    })
    .await;
    let blob = keys(&c, "blobs/").await.pop().unwrap();
    let day = 86_400;
    let t = now() + 2 * day;
    let st = store.clone();
    blocking(move || {
        st.retain(&small, t).unwrap();
        st.retain(&large, t).unwrap();
    })
    .await;
    let small_key = format!("content/{}", hex::encode(small));
    let large_key = format!("content/{}", hex::encode(large));
    for k in [&small_key, &large_key, &blob] {
        assert_eq!(
            retention(&c, k).await,
            Some((ObjectLockRetentionMode::Compliance, t)),
            "{k}"
        );
    }
    // an earlier date (a second version with a shorter retention) leaves it
    // (moto would shorten it; S3 would refuse)
    let st = store.clone();
    blocking(move || st.retain(&small, t - day).unwrap()).await;
    assert_eq!(retention(&c, &small_key).await.unwrap().1, t);
    // a later one extends it
    let st = store.clone();
    blocking(move || st.retain(&small, t + day).unwrap()).await;
    assert_eq!(retention(&c, &small_key).await.unwrap().1, t + day);
    // a fresh store (another node, no cache) reads before it writes
    let e = m.endpoint.clone();
    let other = blocking(move || open(&e, "archive").unwrap()).await;
    let o = other.clone();
    blocking(move || o.retain(&small, t).unwrap()).await;
    assert_eq!(retention(&c, &small_key).await.unwrap().1, t + day);
    // retained content cannot be removed: the sweeper is told so
    let s = s3.clone();
    let err = blocking(move || s.delete(&small).unwrap_err()).await;
    assert!(
        matches!(err, bewahr::store::StoreError::Retained { .. }),
        "{err}"
    );
    assert!(keys(&c, "content/").await.contains(&small_key));
    // legal hold on both objects of a large document, and off again
    let st = store.clone();
    blocking(move || st.legal_hold(&large, true).unwrap()).await;
    for k in [&large_key, &blob] {
        assert_eq!(
            held(&c, k).await,
            Some(ObjectLockLegalHoldStatus::On),
            "{k}"
        );
    }
    let st = store.clone();
    blocking(move || st.legal_hold(&large, false).unwrap()).await;
    assert_eq!(held(&c, &blob).await, Some(ObjectLockLegalHoldStatus::Off));
    // content without a retention goes
    let st = store.clone();
    let free = blocking(move || st.put_content(b"Entwurf").unwrap().sha256).await;
    let s = s3.clone();
    assert!(blocking(move || s.delete(&free).unwrap()).await);
}

#[tokio::test]
async fn trees_read_back_as_from_rocksdb_and_are_retained() {
    let Some((_m, c, s3, _)) = bucket_store().await else {
        return;
    };
    let dir = crate::support::tempdir();
    let rocks = RocksStore::open_with(dir.path(), false).unwrap();
    let far = now() + 400 * 86_400; // beyond the 10 days of evidence_retention_days
    let (s, r) = (s3.clone(), rocks.clone());
    blocking(move || {
        s.evidence_at_least(far);
        for (id, n) in [(3u64, 1usize), (7, 300), (9, 2100)] {
            let leaves: Vec<Vec<u8>> = (0..n as u32)
                .map(|i| DigestAlgorithm::Sha256.digest(&(i + id as u32 * 7919).to_be_bytes()))
                .collect();
            let tree = HashTree::from_hashes(DigestAlgorithm::Sha256, &leaves).unwrap();
            let keys: Vec<i64> = (0..n as i64).map(|k| k * 3 + 1).collect();
            for t in [&s as &dyn TreeStore, &r as &dyn TreeStore] {
                t.put_tree(id, &tree, &keys).unwrap();
                t.put_groups(id, &[(4, b"group".to_vec())]).unwrap();
                t.put_token(id, b"token").unwrap();
            }
            let a = s.stored_tree(id).unwrap().unwrap();
            let b = r.stored_tree(id).unwrap().unwrap();
            assert_eq!((a.leaves, a.width), (b.leaves, b.width));
            assert_eq!(s.tree_keys(id).unwrap(), r.tree_keys(id).unwrap());
            for i in [0, n / 2, n - 1] {
                assert_eq!(s.path(&a, i).unwrap(), r.path(&b, i).unwrap());
                let k = keys[i];
                assert_eq!(s.leaf_index(id, k).unwrap(), Some(i));
            }
            assert_eq!(s.leaf_index(id, 2).unwrap(), None);
            assert_eq!(s.group(id, 4).unwrap().as_deref(), Some(&b"group"[..]));
            assert_eq!(s.group(id, 5).unwrap(), None);
            assert_eq!(s.token(id).unwrap().as_deref(), Some(&b"token"[..]));
        }
        assert_eq!(s.tree_ids().unwrap(), vec![3, 7, 9]);
        assert_eq!(s.tree_ids().unwrap(), r.tree_ids().unwrap());
        assert!(s.stored_tree(4).unwrap().is_none());
        assert!(s.token(4).unwrap().is_none());
    })
    .await;
    // every tree object is retained at least as long as the latest
    // retention date the store knows of
    for k in keys(&c, "trees/").await {
        let (mode, until) = retention(&c, &k).await.unwrap();
        assert_eq!(mode, ObjectLockRetentionMode::Compliance);
        assert!(until >= far, "{k}");
    }
}

/// The archive on S3: documents in, sealed, out byte for byte with a
/// record that verifies; their retention in S3 follows the versions'
/// retention dates, a legal hold reaches S3, and content deleted before its
/// date stays in S3 until the date (the sweeper says so).
#[tokio::test]
async fn an_archive_on_s3_keeps_proves_retains_and_holds() {
    let Some(m) = moto().await else { return };
    let c = client(&m.endpoint);
    make_bucket(&c, "archive", true).await;
    let ep = m.endpoint.clone();
    let Some(a) = archive_with(
        Db::Sqlite,
        |cfg| {
            s3_config(&mut cfg.store, &ep, "archive");
            cfg.store.sweep_interval_secs = 0;
            cfg.store.sweep_grace_secs = 0;
        },
        None,
    )
    .await
    else {
        return;
    };
    let retain = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date();
    let small = b"Bescheid ueber die Baugenehmigung".to_vec();
    let large = data(11 << 20, 5);
    let mut aoids = vec![];
    for doc in [&small, &large] {
        let r = Request::builder()
            .method(Method::POST)
            .uri(format!(
                "/v1/objects?retention_until={retain}&file_ref=AZ-1"
            ))
            .header("content-type", "application/octet-stream")
            .body(Body::from(doc.clone()))
            .unwrap();
        let (st, _, b) = send(&a.router, r).await;
        assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
        aoids.push(js(&b)["aoid"].as_str().unwrap().to_string());
    }
    let policy = bewahr::verify::AlgorithmPolicy::default();
    let trusted = a.state().stamper.trust_anchors();
    let opts = bewahr::verify::Options::new(&trusted, time::OffsetDateTime::now_utc(), &policy);
    for (aoid, doc) in aoids.iter().zip([&small, &large]) {
        let (st, _, er) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/evidence?wait=20")),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&er));
        let (st, _, back) = send(
            &a.router,
            get(&format!("/v1/objects/{aoid}/versions/1/content")),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(back == *doc, "content differs");
        let r = bewahr::verify::verify_der(
            &er,
            &mut bewahr::verify::InMemory(vec![doc.to_vec()]),
            &opts,
        );
        assert_eq!(
            r.indication,
            bewahr::verify::Indication::Passed,
            "{}",
            r.to_text()
        );
        // the document is retained in S3 until its retention date
        let sha = hex::encode(DigestAlgorithm::Sha256.digest(doc));
        let (mode, until) = retention(&c, &format!("content/{sha}")).await.unwrap();
        assert_eq!(mode, ObjectLockRetentionMode::Compliance);
        assert_eq!(until, retain.midnight().assume_utc().unix_timestamp());
    }
    // the batch's tree and token are there, retained beyond the documents
    let trees = keys(&c, "trees/").await;
    assert!(trees.iter().any(|k| k.ends_with("/token")), "{trees:?}");
    for k in &trees {
        assert!(
            retention(&c, k).await.unwrap().1 >= retain.midnight().assume_utc().unix_timestamp()
        );
    }
    // `bewahr audit verify` beside the server reads the trees and tokens
    // from the bucket (the store configured through the environment)
    let o = crate::support::run(
        crate::support::bewahr()
            .args(["audit", "verify", "--data-dir"])
            .arg(a._dir.path())
            .env("BEWAHR_STORE__KIND", "s3")
            .env("BEWAHR_STORE__ENDPOINT", &m.endpoint)
            .env("BEWAHR_STORE__BUCKET", "archive")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test"),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        crate::support::stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        crate::support::stdout(&o).contains("intact"),
        "{}",
        crate::support::stdout(&o)
    );
    // a legal hold reaches S3
    let hold = |on: bool| {
        Request::builder()
            .method(Method::PUT)
            .uri(format!("/v1/objects/{}/legal-hold", aoids[0]))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", a.tokens["admin"]))
            .body(Body::from(if on {
                r#"{"hold": true, "reason": "Verfahren 3 K 12/26"}"#
            } else {
                r#"{"hold": false}"#
            }))
            .unwrap()
    };
    let small_key = format!(
        "content/{}",
        hex::encode(DigestAlgorithm::Sha256.digest(&small))
    );
    let (st, _, b) = send(&a.router, hold(true)).await;
    assert_eq!(
        st,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert_eq!(
        held(&c, &small_key).await,
        Some(ObjectLockLegalHoldStatus::On)
    );
    let (st, _, _) = send(&a.router, hold(false)).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        held(&c, &small_key).await,
        Some(ObjectLockLegalHoldStatus::Off)
    );
    // deleted before its retention date (with a reason): gone from the
    // catalog, kept by S3 until the date; the sweeper reports it retained
    let r = Request::builder()
        .method(Method::DELETE)
        .uri(format!("/v1/objects/{}", aoids[0]))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", a.tokens["admin"]))
        .body(Body::from(
            r#"{"reason": "Widerruf", "requestor": "Ordnungsamt"}"#,
        ))
        .unwrap();
    let (st, _, b) = send(&a.router, r).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let r = Request::builder()
        .method(Method::POST)
        .uri("/v1/admin/sweeper/run")
        .body(Body::empty())
        .unwrap();
    let (st, _, b) = send(&a.router, r).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let run = js(&b);
    assert_eq!(run["retained"], 1, "{run}");
    assert!(keys(&c, "content/").await.contains(&small_key));
    // the other document is still retrievable
    let (st, _, back) = send(
        &a.router,
        get(&format!("/v1/objects/{}/versions/1/content", aoids[1])),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(back == large);
}
