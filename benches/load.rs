//! Load generator against the real archive: the router served over HTTP on
//! loopback (durable acknowledgement, SQLite catalog, RocksDB store, the
//! development TSA), driven by hyper client connections in the same process.
//!
//! `cargo bench --bench load` (figures in docs/benchmarks.md). Sizes via env:
//! BEWAHR_BENCH_SECS (default 10), BEWAHR_BENCH_OBJECTS (default 1000000:
//! objects archived before measuring evidence latency), BEWAHR_BENCH_CATALOG
//! (a postgres:// URL to run on PostgreSQL instead of SQLite),
//! BEWAHR_BENCH_BIG_MB (default 2048: one document streamed first, to show
//! that memory does not grow with its size; 0 skips it),
//! BEWAHR_BENCH_PARTS (default `small,large,seal`; also `xaip`: C.2's
//! XAIP_OK.xml over S.4 and over REST; `digests`: TS 119 512 PreservePO of
//! DigestLists of 1,000 SHA-256 values; `xaip-evidence`: ArchiveEvidence
//! with BEWAHR_BENCH_XAIPS packages archived, default 100000), BEWAHR_BENCH_LARGE_CLIENTS
//! (default 4: concurrent submitters of 10 MB documents); `s3` (with
//! BEWAHR_BENCH_S3 the endpoint of an S3 server with Object Lock, such as
//! `moto_server`): 10 MB submissions into the S3 store against a plain SDK
//! client putting 10 MB objects into the same server, same run; `cluster`
//! (with BEWAHR_BENCH_S3 and BEWAHR_BENCH_CATALOG a fresh PostgreSQL
//! database): 4 KB submissions to one node, then to two nodes on the same
//! catalog and store together (BEWAHR_BENCH_CLUSTER_CLIENTS, default 16,
//! split between them), then to one again; `catalog` (with
//! BEWAHR_BENCH_CATALOG a fresh PostgreSQL database): BEWAHR_BENCH_OBJECTS
//! (default 10,000,000) archived, the rate of 4 KB submissions at the start
//! and at the end (three runs each on a quiet store and catalog, and one
//! right after the filling), evidence latency, and the catalog's bytes per
//! object (`scripts/bench-postgres` starts a PostgreSQL configured for it);
//! `store`: the RocksDB content store alone, without server or catalog,
//! taking the bench's 4 KB documents as ingest puts them (presence check,
//! write, a durable sync per group of 64), BEWAHR_BENCH_OBJECTS of them
//! (default 10,000,000): the rate of each million, and three quiet
//! BEWAHR_BENCH_SECS runs at the start and at the end.

mod common;
use common::*;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bewahr::config::Config;
use bewahr::seal::system_clock;

struct Server {
    base: String,
    /// Tokens of tenant `bench`: submitter and auditor.
    sub: String,
    aud: String,
    _dir: tempfile::TempDir,
    archive: bewahr::server::Archive,
}

/// A new directory under BEWAHR_BENCH_DIR (default: the temp dir),
/// removed when dropped.
fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(
        std::env::var("BEWAHR_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .unwrap()
}

async fn server(tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = bench_dir();
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.path().to_path_buf();
    if let Ok(url) = std::env::var("BEWAHR_BENCH_CATALOG") {
        cfg.catalog.url = url;
    }
    tweak(&mut cfg);
    let archive = bewahr::server::start(&cfg, system_clock()).await.unwrap();
    let c = &archive.state.catalog;
    // a second node on the same catalog finds the tenant there
    let _ = c.create_tenant("bench", "bench", 0).await;
    let role = |r| async move {
        c.create_token(Some("bench"), r, "bench", None, "bench", 0)
            .await
            .unwrap()
            .1
    };
    let sub = role(bewahr::access::Role::Submitter).await;
    let aud = role(bewahr::access::Role::Auditor).await;
    let app = bewahr::api::app(archive.state.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    Server {
        base,
        sub,
        aud,
        _dir: dir,
        archive,
    }
}

/// `GET .../evidence` of an object, as the auditor of `s`.
fn evidence_call(s: &Server) -> Call {
    let (base, aud) = (s.base.clone(), s.aud.clone());
    Arc::new(move |http, a| {
        let (base, aud) = (base.clone(), aud.clone());
        Box::pin(async move {
            let r = http
                .get(format!("{base}/v1/objects/{a}/evidence"))
                .bearer_auth(&aud)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.unwrap();
        })
    })
}

/// Submits `size`-byte documents from `clients` tasks for `secs` seconds
/// (see [`post_load`]). Every document is different (its first 16 bytes:
/// call, client and counter), so nothing is deduplicated; the rest is one shared
/// buffer, not copied per request.
async fn submit_load(
    base: &str,
    token: &str,
    size: usize,
    clients: usize,
    secs: u64,
) -> (u64, f64, Vec<f64>) {
    let rest = axum::body::Bytes::from(vec![0x5au8; size - 16]);
    // each call's documents differ from every other call's (its number in the high bytes)
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed) << 40;
    let make: MakeBody = Arc::new(move |c, i| {
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&i.to_le_bytes());
        head[8..].copy_from_slice(&(call | c as u64).to_le_bytes());
        let parts = [
            Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(&head)),
            Ok(rest.clone()),
        ];
        (
            size,
            axum::body::Body::from_stream(futures_util::stream::iter(parts)),
        )
    });
    post_load(
        base,
        token,
        "/v1/objects?system=bench",
        "application/octet-stream",
        make,
        "aoid",
        clients,
        secs,
    )
    .await
}

/// An SDK client for an S3 endpoint (the bench's own, as a provider's tool would be).
fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .http_client(http)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build(),
    )
}

/// PutObject of `size`-byte objects (distinct keys, one shared buffer) from
/// `clients` tasks for `secs` seconds: how many, and the time taken.
async fn s3_put_load(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    size: usize,
    clients: usize,
    secs: u64,
) -> (u64, f64) {
    let body = axum::body::Bytes::from(vec![0x5au8; size]);
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for t in 0..clients {
        let (c, bucket, body, count) = (c.clone(), bucket.to_string(), body.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < end {
                c.put_object()
                    .bucket(&bucket)
                    .key(format!("plain/{t}/{i}"))
                    .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
                    .send()
                    .await
                    .unwrap();
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

/// Makes request `i` of client `c`: its length and its body.
type MakeBody = Arc<dyn Fn(usize, u64) -> (usize, axum::body::Body) + Send + Sync>;

/// Posts bodies made by `make(client, i)` to `path` from `clients` tasks
/// for `secs` seconds, each task on its own keep-alive HTTP/1.1 connection
/// (hyper's client connection, without a pool: the load generator shares
/// the two cores with the server, so it should cost as little as it can).
/// Every answer must be a success and contain `must_contain`.
#[allow(clippy::too_many_arguments)]
async fn post_load(
    base: &str,
    token: &str,
    path: &'static str,
    content_type: &'static str,
    make: MakeBody,
    must_contain: &'static str,
    clients: usize,
    secs: u64,
) -> (u64, f64, Vec<f64>) {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let auth = format!("Bearer {token}");
        let (count, make) = (count.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < end {
                let (len, body) = make(c, i);
                let req = axum::http::Request::post(path)
                    .header("host", addr.to_string())
                    .header("authorization", &auth)
                    .header("content-type", content_type)
                    .header("content-length", len.to_string())
                    .body(body)
                    .unwrap();
                let t = Instant::now();
                let r = send.send_request(req).await.unwrap();
                let status = r.status();
                let answer = axum::body::to_bytes(axum::body::Body::new(r.into_body()), 1 << 20)
                    .await
                    .unwrap();
                let text = String::from_utf8_lossy(&answer);
                assert!(
                    status.is_success() && text.contains(must_contain),
                    "{status}: {text}"
                );
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (
        count.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
        lat,
    )
}

/// C.2's `XAIP_OK.xml` (36 KB) with a `packageInfo` unique to (client, i):
/// every package differs, its protected objects are the same.
fn xaip_ok(c: usize, i: u64) -> String {
    static PACKAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let p = PACKAGE.get_or_init(|| {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/conformance/tr-esor-c2/TESTDATA/XAIP_OK.xml"
        ))
        .expect("the C.2 data in ../shared")
    });
    p.replacen(
        "Information über diesen AIP",
        &format!("Paket {c:04}-{i:012}"),
        1,
    )
}

/// One request of a latency measurement, for an archive object.
type Call = Arc<
    dyn Fn(reqwest::Client, String) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
>;

/// `requests` calls over `clients` concurrent clients, each for an
/// archive object picked at random (xorshift from `rng`) from `aoids`:
/// each call's latency in ms, and the seconds all took.
async fn latencies(
    aoids: &[String],
    rng: &mut u64,
    clients: usize,
    requests: usize,
    call: Call,
) -> (Vec<f64>, f64) {
    let http = reqwest::Client::new();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let picks: Vec<String> = (0..requests / clients)
            .map(|_| {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                aoids[(*rng % aoids.len() as u64) as usize].clone()
            })
            .collect();
        let (http, call) = (http.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for a in picks {
                let t = Instant::now();
                call(http.clone(), a).await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (lat, t.elapsed().as_secs_f64())
}

/// [`latencies`] with 1, 4 and 16 clients (`per_client` requests per
/// client, for at most 4 clients' worth), each a printed line.
async fn latency_table(
    aoids: &[String],
    seed: u64,
    per_client: usize,
    call: Call,
    line: impl Fn(usize, String) -> String,
) {
    let mut rng = seed;
    for clients in [1usize, 4, 16] {
        let requests = per_client * clients.min(4);
        let (mut lat, el) = latencies(aoids, &mut rng, clients, requests, call.clone()).await;
        let figures = format!(
            "{} requests, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            lat.len() as f64 / el,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99)
        );
        println!("{}", line(clients, figures));
    }
}

/// `n` packages (C.2's XAIP_OK.xml, each with its own packageInfo)
/// archived through the archive service as S.4 does it (minus HTTP and the
/// envelope), sealed, then S.4 ArchiveEvidence requests for random ones
/// over HTTP with 1, 4 and 16 clients.
async fn xaip_evidence(n: u64) {
    use bewahr::service::{Operation, RecordCheck, SchemaCheck};
    let s = server(|c| {
        c.batch.interval_ms = 3_600_000;
        c.batch.max_objects = 1 << 40;
    })
    .await;
    let state = s.archive.state.clone();
    let principal = bewahr::access::Principal {
        token: "bench".into(),
        tenant: Some(bewahr::ids::TenantId::parse("bench").unwrap()),
        role: bewahr::access::Role::Submitter,
    };
    let ctx = state.renewer.ctx();
    let records = RecordCheck {
        trusted: ctx.trusted().to_vec(),
        policy: ctx.policy(),
        profile: state.evidence_profile,
    };
    let t = Instant::now();
    let mut aoids = Vec::new();
    let mut done = 0u64;
    while done < n {
        let chunk = (n - done).min(100_000);
        let mut tasks = Vec::new();
        for w in 0..32u64 {
            let (state, principal, records) = (state.clone(), principal.clone(), records.clone());
            tasks.push(tokio::spawn(async move {
                let who = state
                    .archive
                    .authorize(&principal, Operation::Submit)
                    .unwrap();
                let mut out = Vec::new();
                for i in (w..chunk).step_by(32) {
                    let p = xaip_ok(w as usize, done + i).into_bytes();
                    let r = state
                        .archive
                        .submit_xaip(&who, None, p, SchemaCheck::Needed, &records, &[])
                        .await
                        .unwrap();
                    out.push(r.accepted.aoid);
                }
                out
            }));
        }
        for t in tasks {
            aoids.extend(t.await.unwrap());
        }
        done += chunk;
        seal_now(&s.archive, 100_000).await;
    }
    println!(
        "archived and sealed {n} XAIPs in {:.0} s ({:.0} packages/s through the service, schema checked)",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    let (base, aud) = (s.base.clone(), s.aud.clone());
    let call: Call = Arc::new(move |http, a| {
        let (base, aud) = (base.clone(), aud.clone());
        Box::pin(async move {
            let body = format!(
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tr="http://www.bsi.bund.de/tr-esor/api/1.3"><soap:Body><tr:ArchiveEvidenceRequest><tr:AOID>{a}</tr:AOID><tr:VersionID>V001</tr:VersionID></tr:ArchiveEvidenceRequest></soap:Body></soap:Envelope>"#
            );
            let r = http
                .post(format!("{base}/s4"))
                .bearer_auth(&aud)
                .header("content-type", "text/xml; charset=utf-8")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let text = r.text().await.unwrap();
            assert!(
                text.contains("resultmajor#ok") && text.contains("asn1EvidenceRecord"),
                "{text}"
            );
        })
    });
    // first right after the load (each tree tile and catalog page is read
    // for the first time: RocksDB flushed them past the page cache), then
    // once no flush or compaction is left in the background
    latency_table(&aoids, 0x2545f4914f6cdd1d, 2000, call.clone(), |clients, line| {
        format!("S.4 ArchiveEvidence of one XAIP version with {n} packages archived, right after the load: {line} ({clients} client(s))")
    })
    .await;
    let t = Instant::now();
    settle(&s.archive.state.ingest.store).await;
    println!(
        "the store settled (flushes and compactions done) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    latency_table(&aoids, 0x9e3779b97f4a7c15, 2000, call, |clients, line| {
        format!("S.4 ArchiveEvidence of one XAIP version with {n} packages archived, store settled: {line} ({clients} client(s))")
    })
    .await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / criterion-style listing: nothing to run quickly
    }
    let secs = env("BEWAHR_BENCH_SECS", 10);

    // 0. one large document streams through: memory stays flat
    let big = env("BEWAHR_BENCH_BIG_MB", 2048);
    if big > 0 {
        let s = server(|_| {}).await;
        let before = rss_mb();
        let total = big << 20;
        let piece = vec![0x5au8; 1 << 20];
        let stream = futures_util::stream::iter((0..big).map(move |i| {
            let mut p = piece.clone();
            p[..8].copy_from_slice(&i.to_le_bytes());
            Ok::<_, std::io::Error>(p)
        }));
        let t = Instant::now();
        let r = reqwest::Client::new()
            .post(format!("{}/v1/objects?system=bench", s.base))
            .bearer_auth(&s.sub)
            .header("content-type", "application/octet-stream")
            .header("content-length", total.to_string())
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        println!(
            "one {big} MB document streamed in {:.1} s; peak RSS of the process {before:.0} MB before, {:.0} MB after",
            t.elapsed().as_secs_f64(),
            rss_mb()
        );
        drop(s);
    }

    // which parts run: BEWAHR_BENCH_PARTS, a comma-separated subset of
    // small,large,seal (default: all three)
    let parts = std::env::var("BEWAHR_BENCH_PARTS").unwrap_or_else(|_| "small,large,seal".into());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);

    // 1. small documents, durable acknowledgement
    if part("small") {
        let s = server(|c| c.batch.interval_ms = 2000).await;
        let (n, el, mut lat) = submit_load(&s.base, &s.sub, 4096, 64, secs).await;
        println!(
        "submit 4 KB: {n} in {el:.1} s = {:.0} submissions/s; latency p50 {:.2} ms, p99 {:.2} ms (64 clients)",
        n as f64 / el,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
        drop(s);
    }

    // 2. large documents
    if part("large") {
        let large_clients = env("BEWAHR_BENCH_LARGE_CLIENTS", 4) as usize;
        let s = server(|c| c.batch.interval_ms = 2000).await;
        let (n, el, mut lat) = submit_load(&s.base, &s.sub, 10 << 20, large_clients, secs).await;
        println!(
        "submit 10 MB: {n} in {el:.1} s = {:.0} MB/s; latency p50 {:.0} ms, p99 {:.0} ms ({large_clients} clients)",
        n as f64 * 10.0 * 1.048576 / el,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99)
    );
        drop(s);
    }
    // 2s. large documents into S3 (BEWAHR_BENCH_S3: the endpoint of an S3
    // server, e.g. moto_server), against a plain SDK client putting the same
    // sizes into the same server with the same concurrency, in the same run
    if part("s3") {
        let endpoint = std::env::var("BEWAHR_BENCH_S3")
            .expect("BEWAHR_BENCH_S3=http://127.0.0.1:PORT (an S3 server with Object Lock, e.g. moto_server)");
        let clients = env("BEWAHR_BENCH_LARGE_CLIENTS", 4) as usize;
        let c = s3_client(&endpoint);
        let run = std::process::id();
        let bucket = |name: String| {
            let c = c.clone();
            async move {
                c.create_bucket()
                    .bucket(&name)
                    .object_lock_enabled_for_bucket(true)
                    .send()
                    .await
                    .unwrap();
                name
            }
        };
        let mb_s = |n: u64, el: f64| n as f64 * 10.0 * 1.048576 / el;
        // plain, bewahr, plain: the server's rate may drift over the run
        let mut plain = vec![];
        let mut ours = 0.0;
        for round in 0..3 {
            if round == 1 {
                let b = bucket(format!("archive-{run}")).await;
                let s = server(|cfg| {
                    cfg.batch.interval_ms = 2000;
                    cfg.store.kind = bewahr::config::StoreKind::S3;
                    cfg.store.endpoint = endpoint.clone();
                    cfg.store.bucket = b;
                    cfg.store.access_key_id = "bench".into();
                    cfg.store.secret_access_key = "bench".into();
                })
                .await;
                let (n, el, mut lat) = submit_load(&s.base, &s.sub, 10 << 20, clients, secs).await;
                ours = mb_s(n, el);
                println!(
                    "bewahr on S3, submit 10 MB: {n} in {el:.1} s = {ours:.0} MB/s; latency p50 {:.0} ms, p99 {:.0} ms ({clients} clients)",
                    percentile(&mut lat, 0.5),
                    percentile(&mut lat, 0.99)
                );
                drop(s);
                continue;
            }
            let b = bucket(format!("plain-{run}-{round}")).await;
            let (n, el) = s3_put_load(&c, &b, 10 << 20, clients, secs).await;
            plain.push(mb_s(n, el));
            println!(
                "S3 plain SDK PutObject 10 MB: {n} in {el:.1} s = {:.0} MB/s ({clients} clients)",
                mb_s(n, el)
            );
        }
        let base = (plain[0] + plain[1]) / 2.0;
        println!(
            "bewahr on S3 reaches {:.0}% of the plain client's rate (mean of the runs before and after)",
            100.0 * ours / base
        );
    }

    // 2c. several nodes: 4 KB submissions to one node, to two nodes on the
    // same PostgreSQL catalog and S3 store, to one again (the machine is
    // shared: the ratio shows whether coordination costs throughput)
    if part("cluster") {
        let endpoint = std::env::var("BEWAHR_BENCH_S3")
            .expect("BEWAHR_BENCH_S3=http://127.0.0.1:PORT (an S3 server with Object Lock)");
        let catalog = std::env::var("BEWAHR_BENCH_CATALOG")
            .ok()
            .filter(|u| u.starts_with("postgres"))
            .expect("BEWAHR_BENCH_CATALOG=postgres://... (a fresh database)");
        let clients = env("BEWAHR_BENCH_CLUSTER_CLIENTS", 16) as usize;
        let bucket = format!("cluster-{}", std::process::id());
        s3_client(&endpoint)
            .create_bucket()
            .bucket(&bucket)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        let node = |id: &'static str| {
            let (endpoint, bucket, catalog) = (endpoint.clone(), bucket.clone(), catalog.clone());
            move |cfg: &mut Config| {
                cfg.catalog.url = catalog;
                cfg.store.kind = bewahr::config::StoreKind::S3;
                cfg.store.endpoint = endpoint;
                cfg.store.bucket = bucket;
                cfg.store.access_key_id = "bench".into();
                cfg.store.secret_access_key = "bench".into();
                cfg.cluster.node_id = id.into();
            }
        };
        let a = server(node("a")).await;
        let rate = |r: &(u64, f64, Vec<f64>)| r.0 as f64 / r.1;
        let one = submit_load(&a.base, &a.sub, 4096, clients, secs).await;
        println!(
            "one node, submit 4 KB: {:.0}/s ({clients} clients)",
            rate(&one)
        );
        let b = server(node("b")).await;
        let (ra, rb) = tokio::join!(
            submit_load(&a.base, &a.sub, 4096, clients / 2, secs),
            submit_load(&b.base, &b.sub, 4096, clients - clients / 2, secs)
        );
        let two = rate(&ra) + rate(&rb);
        println!(
            "two nodes, submit 4 KB: {two:.0}/s (a {:.0}/s, b {:.0}/s; {clients} clients split)",
            rate(&ra),
            rate(&rb)
        );
        let again = submit_load(&a.base, &a.sub, 4096, clients, secs).await;
        println!("one node again, submit 4 KB: {:.0}/s", rate(&again));
        let base = (rate(&one) + rate(&again)) / 2.0;
        println!(
            "two nodes together reach {:.0}% of one node's rate (mean of the runs before and after)",
            100.0 * two / base
        );
        let sealed = a.archive.state.sealer.status().batches_sealed
            + b.archive.state.sealer.status().batches_sealed;
        println!(
            "batches sealed: a {}, b {} (only the leader seals)",
            a.archive.state.sealer.status().batches_sealed,
            sealed - a.archive.state.sealer.status().batches_sealed
        );
    }

    // 2a. hash-only preservation: TS 119 512 PreservePO of DigestLists of
    // 1,000 SHA-256 values each (JSON binding), durable acknowledgement
    if part("digests") {
        let clients = 16;
        let per_list = 1000usize;
        let s = server(|c| c.batch.interval_ms = 2000).await;
        let list: MakeBody = Arc::new(move |c, i| {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut values = Vec::with_capacity(per_list);
            for k in 0..per_list {
                let mut d = [0u8; 32];
                d[..8].copy_from_slice(&(c as u64).to_le_bytes());
                d[8..16].copy_from_slice(&i.to_le_bytes());
                d[16..24].copy_from_slice(&(k as u64).to_le_bytes());
                values.push(format!("\"{}\"", b64.encode(d)));
            }
            let list = format!(
                r#"{{"digAlg":"urn:oid:2.16.840.1.101.3.4.2.1","digVal":[{}]}}"#,
                values.join(",")
            );
            let body = format!(
                r#"{{"pro":"urn:bewahr:ts119512:profile:hash-only:v1","po":[{{"binaryData":{{"value":"{}"}},"formatId":"http://uri.etsi.org/19512/format/DigestList"}}]}}"#,
                b64.encode(list)
            );
            (body.len(), body.into())
        });
        let (n, el, mut lat) = post_load(
            &s.base,
            &s.sub,
            "/pres/PreservePO",
            "application/json",
            list,
            "resultmajor:Success",
            clients,
            secs,
        )
        .await;
        println!(
            "TS 119 512 PreservePO of DigestLists ({per_list} SHA-256 values each): {n} lists in {el:.1} s = {:.0} digests/s ({:.0} lists/s); latency p50 {:.2} ms, p99 {:.2} ms ({clients} clients)",
            (n as f64 * per_list as f64) / el,
            n as f64 / el,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99)
        );
        drop(s);
    }

    // 2b. XAIPs over S.4 and the same bytes over REST, same run
    if part("xaip") {
        let clients = 16;
        let s = server(|c| c.batch.interval_ms = 2000).await;
        let envelope: MakeBody = Arc::new(|c, i| {
            let e = format!(
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tr="http://www.bsi.bund.de/tr-esor/api/1.3"><soap:Body><tr:ArchiveSubmissionRequest>{}</tr:ArchiveSubmissionRequest></soap:Body></soap:Envelope>"#,
                xaip_ok(c, i)
            );
            (e.len(), e.into())
        });
        let (n, el, mut lat) = post_load(
            &s.base,
            &s.sub,
            "/s4",
            "text/xml; charset=utf-8",
            envelope,
            "resultmajor#ok",
            clients,
            secs,
        )
        .await;
        let s4_rate = n as f64 / el;
        println!(
            "S.4 ArchiveSubmission of XAIP_OK.xml: {n} in {el:.1} s = {s4_rate:.0} packages/s; latency p50 {:.2} ms, p99 {:.2} ms ({clients} clients)",
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99)
        );
        let plain: MakeBody = Arc::new(|c, i| {
            let p = xaip_ok(c + 1000, i);
            (p.len(), p.into())
        });
        let (n, el, mut lat) = post_load(
            &s.base,
            &s.sub,
            "/v1/objects?system=bench",
            "application/octet-stream",
            plain,
            "aoid",
            clients,
            secs,
        )
        .await;
        let rest_rate = n as f64 / el;
        println!(
            "REST submission of the same bytes: {n} in {el:.1} s = {rest_rate:.0} documents/s; latency p50 {:.2} ms, p99 {:.2} ms ({clients} clients); S.4 at {:.0}% of REST",
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            100.0 * s4_rate / rest_rate
        );
        drop(s);
    }
    // 2c. ArchiveEvidence of one XAIP version over S.4 with many packages archived
    if part("xaip-evidence") {
        xaip_evidence(env("BEWAHR_BENCH_XAIPS", 100_000)).await;
    }
    // 2d. the catalog at scale (PostgreSQL): the rate of 4 KB submissions
    // on an empty catalog and on one with BEWAHR_BENCH_OBJECTS objects,
    // evidence latency there, and the catalog's size per object
    if part("store") {
        store_alone(env("BEWAHR_BENCH_OBJECTS", 10_000_000), secs);
    }
    if part("catalog") {
        let url = std::env::var("BEWAHR_BENCH_CATALOG")
            .ok()
            .filter(|u| u.starts_with("postgres"))
            .expect("BEWAHR_BENCH_CATALOG=postgres://... (a fresh database)");
        let objects = env("BEWAHR_BENCH_OBJECTS", 10_000_000);
        let s = server(|c| {
            c.catalog.url = url.clone();
            c.batch.interval_ms = 3_600_000;
            c.batch.max_objects = 1 << 40; // sealed by the bench, 100,000 at a time
        })
        .await;
        let pool = s.archive.state.catalog.pool().clone();
        // one 10-second run is noisy on a shared machine: three at the
        // start and three at the end, each on a quiet store and catalog
        // (the store's flushes and compactions done, PostgreSQL's
        // checkpoint taken), the medians compared
        let quiet = || {
            let (store, pool) = (s.archive.state.ingest.store.clone(), pool.clone());
            async move {
                settle(&store).await;
                sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
            }
        };
        let runs = |label: String, count: usize| {
            let (base, sub) = (s.base.clone(), s.sub.clone());
            async move {
                let mut rates = Vec::new();
                for _ in 0..count {
                    let (n, el, mut lat) = submit_load(&base, &sub, 4096, 64, secs).await;
                    let rate = n as f64 / el;
                    rates.push(rate);
                    println!(
                        "{label}: submit 4 KB {rate:.0}/s, p99 {:.1} ms (64 clients)",
                        percentile(&mut lat, 0.99)
                    );
                }
                percentile(&mut rates, 0.5)
            }
        };
        quiet().await;
        let start = runs("catalog empty".into(), 3).await;
        let mut sample = Vec::new();
        let t = Instant::now();
        let mut done = 0u64;
        let doc: Doc = Arc::new(|i: u64| i.to_le_bytes().repeat(32));
        while done < objects {
            let chunk = (objects - done).min(100_000);
            sample.extend(ingest_range(&s.archive, done, chunk, doc.clone(), 16).await);
            done += chunk;
            seal_now(&s.archive, 200_000).await;
            if done.is_multiple_of(1_000_000) {
                println!(
                    "  {done} archived, {:.0} s, {:.0}/s since the start",
                    t.elapsed().as_secs_f64(),
                    done as f64 / t.elapsed().as_secs_f64()
                );
            }
        }
        // right after the filling, with its flushes, compactions and
        // checkpoint still running; then quiet, as at the start
        runs(
            format!("catalog with {objects} objects, right after filling"),
            1,
        )
        .await;
        let t = Instant::now();
        quiet().await;
        println!(
            "  store and catalog quiet after {:.0} s",
            t.elapsed().as_secs_f64()
        );
        let end = runs(format!("catalog with {objects} objects"), 3).await;
        println!(
            "catalog with {objects} objects: median {end:.0}/s = {:.0}% of the empty catalog's median {start:.0}/s",
            100.0 * end / start
        );
        while seal_now_if_pending(&s.archive).await {}
        if !sample.is_empty() {
            let call = evidence_call(&s);
            latency_table(&sample, 0x9e3779b97f4a7c15, 4000, call, |clients, line| {
                format!("GET evidence with {objects} objects archived (PostgreSQL): {line} ({clients} client(s))")
            })
            .await;
        }
        use sqlx::Row;
        let pool = &pool;
        let size: i64 = sqlx::query("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await
            .unwrap()
            .get(0);
        let versions: i64 = sqlx::query("SELECT COUNT(*) FROM versions")
            .fetch_one(pool)
            .await
            .unwrap()
            .get(0);
        let audit: i64 = sqlx::query("SELECT COUNT(*) FROM audit")
            .fetch_one(pool)
            .await
            .unwrap()
            .get(0);
        println!(
            "catalog: {:.2} GB for {versions} versions = {:.0} bytes per object (audit trail {audit} entries included)",
            size as f64 / 1e9,
            size as f64 / versions as f64
        );
    }

    if !part("seal") {
        return;
    }

    // 3. sealing 100,000 pending objects, and 4. evidence latency on a large archive
    let objects = env("BEWAHR_BENCH_OBJECTS", 1_000_000);
    let s = server(|c| {
        c.batch.interval_ms = 3_600_000;
        c.batch.max_objects = 1 << 40; // the bench seals by itself, 100,000 at a time
    })
    .await;
    let mut aoids = Vec::new();
    let t = Instant::now();
    let mut sealing = Vec::new();
    let mut done = 0u64;
    let doc: Doc = Arc::new(|i: u64| i.to_le_bytes().repeat(64));
    while done < objects {
        let chunk = (objects - done).min(100_000);
        aoids.extend(ingest_range(&s.archive, done, chunk, doc.clone(), 1).await);
        done += chunk;
        // one batch of `chunk` objects
        let t0 = Instant::now();
        let (batch, leaves) = seal_now(&s.archive, 100_000).await;
        sealing.push((leaves, t0.elapsed().as_secs_f64(), batch.id));
    }
    println!(
        "archived {objects} objects in {:.0} s (setup)",
        t.elapsed().as_secs_f64()
    );
    let mut secs_per_batch: Vec<f64> = sealing
        .iter()
        .filter(|(l, _, _)| *l == 100_000)
        .map(|(_, s, _)| *s)
        .collect();
    if !secs_per_batch.is_empty() {
        println!(
            "sealing a batch of 100,000: median {:.3} s, worst {:.3} s (includes the in-process development TSA, ~1 ms)",
            percentile(&mut secs_per_batch, 0.5),
            percentile(&mut secs_per_batch, 1.0)
        );
    }
    let call = evidence_call(&s);
    latency_table(&aoids, 0x9e3779b97f4a7c15, 4000, call, |clients, line| {
        format!("GET evidence with {objects} objects archived: {line} ({clients} client(s))")
    })
    .await;
}

/// The RocksDB content store alone: `objects` documents of 4 KB (16 bytes
/// that make each one unique, the rest as `submit_load` sends it), put as
/// ingest puts them (`Store::put_content`: the presence check, the write)
/// by two writers, each making its groups of 64 durable (`Store::sync`) as
/// the group commit does. Prints the rate of each million and, at the
/// start and at the end, of three `secs`-second runs on a quiet store.
fn store_alone(objects: u64, secs: u64) {
    let dir = bench_dir();
    let store = bewahr::store::Store::open(dir.path()).unwrap();
    let next = Arc::new(AtomicU64::new(0));
    // documents [from, to) by two writers, or for `secs` seconds if `to` is
    // None; the count written
    let put = |to: Option<u64>, secs: u64| -> u64 {
        let start = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        std::thread::scope(|sc| {
            for _ in 0..2 {
                let (store, next, done) = (store.clone(), next.clone(), done.clone());
                sc.spawn(move || {
                    let mut doc = vec![0x5au8; 4096];
                    loop {
                        if to.is_none() && start.elapsed().as_secs() >= secs {
                            return;
                        }
                        let first = next.fetch_add(64, Ordering::Relaxed);
                        let last = to.map_or(first + 64, |t| t.min(first + 64));
                        if first >= last {
                            return;
                        }
                        for i in first..last {
                            doc[..8].copy_from_slice(&i.to_le_bytes());
                            doc[8..16].copy_from_slice(&(u64::MAX - i).to_le_bytes());
                            store.put_content(&doc).unwrap();
                        }
                        store.sync().unwrap();
                        done.fetch_add(last - first, Ordering::Relaxed);
                    }
                });
            }
        });
        done.load(Ordering::Relaxed)
    };
    let quiet_runs = |label: &str| {
        let mut rates = vec![];
        for _ in 0..3 {
            store.settle().unwrap();
            let t = Instant::now();
            let n = put(None, secs);
            rates.push(n as f64 / t.elapsed().as_secs_f64());
        }
        let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let median = percentile(&mut rates, 0.5);
        println!(
            "store alone, {label}: 4 KB puts {}/s (median {median:.0}/s), {} documents stored",
            shown.join(" · "),
            next.load(Ordering::Relaxed)
        );
        median
    };
    let start = quiet_runs("start");
    let t = Instant::now();
    while next.load(Ordering::Relaxed) < objects {
        let from = next.load(Ordering::Relaxed);
        let to = ((from / 1_000_000 + 1) * 1_000_000).min(objects);
        let million = Instant::now();
        put(Some(to), 0);
        // the writers' last claims past the end were not written
        next.store(to, Ordering::Relaxed);
        println!(
            "store alone, filling: {to} documents, the last {} at {:.0}/s ({:.0} s so far)",
            to - from,
            (to - from) as f64 / million.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    }
    let end = quiet_runs("end");
    println!(
        "store alone: the end's median is {:.0}% of the start's; store directory {:.2} GB",
        100.0 * end / start,
        dir_bytes(dir.path()) as f64 / 1e9
    );
}

/// The bytes of the files under `p`.
fn dir_bytes(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
