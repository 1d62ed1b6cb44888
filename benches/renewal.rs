//! Renewal against a real archive (RocksDB store, SQLite catalog, the
//! development TSA in process):
//!
//! 1. time-stamp renewal of `BEWAHR_BENCH_CHAINS` chains (default 1,000,000,
//!    in batches of 100,000), and evidence latency after it;
//! 2. hash-tree renewal of `BEWAHR_BENCH_REHASH_MB` MB of content (default
//!    2048, in 1 MiB documents) to SHA-512, against the limit of this
//!    machine measured the same way: every stored byte read from the store
//!    and hashed with SHA-512 on every core, nothing else. With
//!    `BEWAHR_BENCH_COLD=1` (root) the page cache is dropped before each
//!    measurement, so the bytes come from the disk.
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
    let doc: Doc = Arc::new(doc);
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(batch);
        ingest_range(a, done, chunk, doc.clone(), 0).await;
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
    // no flush or compaction running in the background during the measurements
    settle(&store).await;
    // BEWAHR_BENCH_COLD=1: every measurement starts with an empty page
    // cache (needs root: /proc/sys/vm/drop_caches), so every byte comes
    // from the disk
    let cold = env("BEWAHR_BENCH_COLD", 0) == 1;
    let drop_caches = move || {
        if cold {
            std::process::Command::new("sync").status().unwrap();
            std::fs::write("/proc/sys/vm/drop_caches", "3\n")
                .expect("BEWAHR_BENCH_COLD=1 needs root to drop the page cache");
        }
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
    drop_caches();
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
    // the raw parts: the store's files read sequentially (one thread, 4 MiB
    // reads), and SHA-512 over memory on every core
    drop_caches();
    let raw_read = {
        let root = dir.path().join("store");
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; 4 << 20];
            let (mut n, t) = (0u64, Instant::now());
            for e in std::fs::read_dir(&root).unwrap() {
                let path = e.unwrap().path();
                if !path.is_file() {
                    continue;
                }
                let mut f = std::fs::File::open(&path).unwrap();
                loop {
                    let k = f.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                }
            }
            (n as f64 / t.elapsed().as_secs_f64() / 1e6, n)
        })
        .await
        .unwrap()
    };
    let raw_hash = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    let buf = vec![7u8; 64 << 20];
                    for _ in 0..8 {
                        std::hint::black_box(DigestAlgorithm::Sha512.digest(&buf));
                    }
                });
            }
        });
        workers as f64 * 8.0 * 64.0 * 1.048576 / t.elapsed().as_secs_f64()
    })
    .await
    .unwrap();
    let c = ctx(&a);
    let id = a
        .state
        .catalog
        .queue_run("hashtree", Some("sha512"), "all", "bench", "bench", 0)
        .await
        .unwrap();
    let run = a.state.catalog.run(id).await.unwrap().unwrap();
    drop_caches();
    let rss0 = rss_now_mb();
    let t = Instant::now();
    let r = c.execute(&run).await.unwrap();
    let el = t.elapsed().as_secs_f64();
    let rss1 = rss_now_mb();
    drop_caches();
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
        "limit (store read + SHA-512 on {workers} threads, nothing else{}): {limit:.0} MB/s (before {limit_before:.0}, after {limit_after:.0}); SHA-512 alone on one core: {one_core_hash:.0} MB/s; ratio {:.0}%",
        if cold { ", page cache dropped before each" } else { "" },
        100.0 * rate / limit
    );
    let raw = raw_read.0.min(raw_hash);
    println!(
        "raw limit: the store's files ({:.0} MB) read sequentially at {:.0} MB/s, SHA-512 on {workers} threads over memory at {raw_hash:.0} MB/s: {raw:.0} MB/s; ratio {:.0}%",
        raw_read.1 as f64 / 1e6,
        raw_read.0,
        100.0 * rate / raw
    );
    println!(
        "resident memory: {rss0:.0} MB before the renewal, {rss1:.0} MB after (peak of the whole run {:.0} MB; at most {} versions per tree)",
        rss_mb(),
        Settings::default().max_leaves
    );
}
