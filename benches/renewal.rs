//! Renewal against a real archive (RocksDB store, SQLite catalog, the
//! development TSA in process):
//!
//! 1. time-stamp renewal of `BEWAHR_BENCH_CHAINS` chains (default 1,000,000,
//!    in batches of 100,000), and evidence latency after it;
//! 2. hash-tree renewal of `BEWAHR_BENCH_REHASH_MB` MB of content (default
//!    2048, in 1 MiB documents) to SHA-512, against the limit of this
//!    machine measured the same way: every stored byte read from the store
//!    and hashed with SHA-512 on every core, nothing else.
//!
//! `cargo bench --bench renewal` (figures in docs/benchmarks.md).

mod common;
use common::*;

use std::sync::Arc;
use std::time::Instant;

use bewahr::alg::{DigestAlgorithm, Hasher};
use bewahr::config::Config;
use bewahr::renewal::{Ctx, Settings};
use bewahr::seal::system_clock;

async fn archive(dir: &std::path::Path) -> bewahr::server::Archive {
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.to_path_buf();
    cfg.batch.interval_ms = 3_600_000;
    cfg.batch.max_objects = 1 << 40; // the bench seals by itself
    cfg.renewal.automatic = false;
    bewahr::server::start(&cfg, system_clock()).await.unwrap()
}

/// Submits `n` documents made by `doc(i)` through the ingest pipeline (64
/// at a time) and seals them in batches of `batch`.
async fn fill(
    a: &bewahr::server::Archive,
    n: u64,
    batch: u64,
    doc: impl Fn(u64) -> Vec<u8> + Send + Sync + 'static,
) {
    let doc = Arc::new(doc);
    let st = &a.state;
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(batch);
        let mut tasks = Vec::new();
        for w in 0..64u64 {
            let ing = st.ingest.clone();
            let doc = doc.clone();
            tasks.push(tokio::spawn(async move {
                for i in (w..chunk).step_by(64) {
                    let mut up = ing.begin();
                    up.write(&doc(done + i)).unwrap();
                    ing.commit(
                        up,
                        None,
                        Some("bench".into()),
                        Default::default(),
                        "application/octet-stream".into(),
                        None,
                    )
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done += chunk;
        seal_now(a, batch as usize).await;
    }
}

fn ctx(a: &bewahr::server::Archive) -> Ctx {
    let s = &a.state;
    Ctx::new(
        s.catalog.clone(),
        s.ingest.store.clone(),
        s.evidence.clone(),
        s.stamper.clone(),
        system_clock(),
        vec![],
        s.renewer.ctx().policy(),
        Settings::default(),
    )
}

async fn evidence_p99(a: &bewahr::server::Archive, aoids: &[String]) -> (f64, f64) {
    let mut lat = Vec::new();
    for i in 0..2000usize {
        let aoid = &aoids[(i * 7919) % aoids.len()];
        let t = Instant::now();
        a.state.evidence.record(aoid, None).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
    (lat[lat.len() / 2], lat[lat.len() * 99 / 100])
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let base = std::env::var("BEWAHR_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());

    // 1. time-stamp renewal of many chains
    let chains = env("BEWAHR_BENCH_CHAINS", 1_000_000);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let a = archive(dir.path()).await;
    let t = Instant::now();
    fill(&a, chains, 100_000, |i| i.to_le_bytes().repeat(64)).await;
    println!(
        "setup: {chains} versions archived and sealed in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let aoids: Vec<String> = {
        use sqlx::Row;
        sqlx::query("SELECT aoid FROM versions ORDER BY seq")
            .fetch_all(a.state.catalog.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    };
    let (p50, p99) = evidence_p99(&a, &aoids).await;
    println!("evidence before renewal (in process): p50 {p50:.3} ms, p99 {p99:.3} ms");
    let c = ctx(&a);
    let id = a
        .state
        .catalog
        .queue_run("timestamp", None, "all", "bench", "bench", 0)
        .await
        .unwrap();
    let run = a.state.catalog.run(id).await.unwrap().unwrap();
    let t = Instant::now();
    let r = c.execute(&run).await.unwrap();
    let el = t.elapsed().as_secs_f64();
    assert_eq!(r.state, "done");
    assert_eq!(r.chains as u64, chains);
    println!(
        "time-stamp renewal: {} chains ({} trees) in {:.3} s, {} TSA request(s) (in-process development TSA, ~1 ms)",
        r.chains, r.trees_renewed, el, r.tsa_requests
    );
    let (p50, p99) = evidence_p99(&a, &aoids).await;
    println!(
        "evidence after renewal (in process, 2 time-stamps): p50 {p50:.3} ms, p99 {p99:.3} ms"
    );
    drop(c);
    drop(a);

    // 2. hash-tree renewal throughput against the machine's read+hash limit
    let mb = env("BEWAHR_BENCH_REHASH_MB", 2048);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let a = archive(dir.path()).await;
    fill(&a, mb, 100_000, |i| {
        // 1 MiB, unique per document, not compressible to nothing
        let mut x = i.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut v = Vec::with_capacity(1 << 20);
        while v.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    })
    .await;
    let store = a.state.ingest.store.clone();
    let shas: Vec<[u8; 32]> = {
        use sqlx::Row;
        sqlx::query("SELECT sha256 FROM versions ORDER BY seq")
            .fetch_all(a.state.catalog.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Vec<u8>, _>(0).try_into().unwrap())
            .collect()
    };
    let workers = Settings::default().workers;
    // the limit: read every stored byte and hash it with SHA-512 on every
    // core, nothing else; measured before and after the renewal (the better
    // one counts: the page cache is as warm as for the renewal)
    let measure_limit = || {
        let store = store.clone();
        let shas = shas.clone();
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let per = shas.len().div_ceil(workers);
            let bytes: u64 = std::thread::scope(|s| {
                shas.chunks(per)
                    .map(|part| {
                        let store = &store;
                        s.spawn(move || {
                            let mut n = 0u64;
                            for sha in part {
                                let mut r = store.read(sha).unwrap().unwrap();
                                let mut h = Hasher::new(DigestAlgorithm::Sha512);
                                while let Some(p) = r.next_piece().unwrap() {
                                    n += p.len() as u64;
                                    h.update(&p);
                                }
                                std::hint::black_box(h.finish());
                            }
                            n
                        })
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .sum()
            });
            bytes as f64 / t.elapsed().as_secs_f64() / 1e6
        })
    };
    let limit_before = measure_limit().await.unwrap();
    // and the parts of the limit, one core each
    let one_core_hash = {
        let buf = vec![7u8; 64 << 20];
        let t = Instant::now();
        for _ in 0..8 {
            std::hint::black_box(DigestAlgorithm::Sha512.digest(&buf));
        }
        8.0 * 64.0 * 1.048576 / t.elapsed().as_secs_f64()
    };
    let c = ctx(&a);
    let id = a
        .state
        .catalog
        .queue_run("hashtree", Some("sha512"), "all", "bench", "bench", 0)
        .await
        .unwrap();
    let run = a.state.catalog.run(id).await.unwrap().unwrap();
    let rss0 = rss_now_mb();
    let t = Instant::now();
    let r = c.execute(&run).await.unwrap();
    let el = t.elapsed().as_secs_f64();
    let rss1 = rss_now_mb();
    let limit_after = measure_limit().await.unwrap();
    let limit = limit_before.max(limit_after);
    assert_eq!(r.state, "done", "{r:?}");
    let rate = r.bytes_read as f64 / el / 1e6;
    println!(
        "hash-tree renewal to SHA-512: {} versions, {:.0} MB in {el:.2} s = {rate:.0} MB/s with {workers} threads",
        r.chains,
        r.bytes_read as f64 / 1e6
    );
    println!(
        "limit (store read + SHA-512 on {workers} threads, nothing else): {limit:.0} MB/s (before {limit_before:.0}, after {limit_after:.0}); SHA-512 alone on one core: {one_core_hash:.0} MB/s; ratio {:.0}%",
        100.0 * rate / limit
    );
    println!(
        "resident memory: {rss0:.0} MB before the renewal, {rss1:.0} MB after (peak of the whole run {:.0} MB; at most {} versions per tree)",
        rss_mb(),
        Settings::default().max_leaves
    );
}
