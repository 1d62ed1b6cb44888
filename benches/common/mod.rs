//! Helpers the service benchmarks share.
#![allow(dead_code)]

/// A number from the environment, or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A memory figure of this process from /proc/self/status, MB.
fn status_mb(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Peak resident memory of this process so far (VmHWM), MB.
pub fn rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Resident memory of this process now (VmRSS), MB.
pub fn rss_now_mb() -> f64 {
    status_mb("VmRSS:")
}

/// The `p` quantile (0 to 1) of `v`, which it sorts.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Waits until the store has no flush or compaction running or pending,
/// so that none runs in the background during a measurement.
pub async fn settle(store: &bewahr::store::Store) {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.settle())
        .await
        .unwrap()
        .unwrap();
}

/// Seals up to `max` pending versions of `a` in one batch now, as the
/// sealing worker would; returns the batch and how many versions it sealed.
pub async fn seal_now(a: &bewahr::server::Archive, max: usize) -> (bewahr::catalog::Batch, usize) {
    let st = &a.state;
    let cfg = bewahr::seal::SealConfig {
        interval: std::time::Duration::from_secs(3600),
        max_objects: max,
        algorithm: bewahr::alg::DigestAlgorithm::Sha256,
        retry_min: std::time::Duration::from_secs(1),
        retry_max: std::time::Duration::from_secs(1),
    };
    let with = bewahr::seal::SealWith {
        writer: st.ingest.writer.clone(),
        store: st.ingest.store.clone(),
        stamper: st.stamper.clone(),
        clock: st.ingest.clock.clone(),
        catalog: st.catalog.clone(),
        cluster: st.cluster.clone(),
        audit: true,
    };
    let fence = st.cluster.fence().expect("a single node leads");
    bewahr::seal::seal_once(&cfg, &with, &fence)
        .await
        .unwrap()
        .expect("something was pending")
}

/// Seals what is pending (up to 200,000); false if nothing was.
pub async fn seal_now_if_pending(a: &bewahr::server::Archive) -> bool {
    a.state.catalog.pending_count().await.unwrap() > 0 && {
        seal_now(a, 200_000).await;
        true
    }
}

/// A document of the benchmark's, by index.
pub type Doc = std::sync::Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// Submits documents `first..first + n` (made by `doc`) through the ingest
/// pipeline, 64 at a time (faster to set up than HTTP), to tenant `bench`;
/// the AOIDs of every `keep`-th (0: none).
pub async fn ingest_range(
    a: &bewahr::server::Archive,
    first: u64,
    n: u64,
    doc: Doc,
    keep: u64,
) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..64u64 {
        let ing = a.state.ingest.clone();
        let doc = doc.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..n).step_by(64) {
                let mut up = ing.begin();
                up.write(&doc(first + i)).unwrap();
                let r = ing
                    .commit(
                        up,
                        None,
                        Some("bench".into()),
                        Default::default(),
                        "application/octet-stream".into(),
                        bewahr::ingest::Extras::document(None),
                    )
                    .await
                    .unwrap();
                if keep > 0 && i.is_multiple_of(keep) {
                    out.push(r.accepted.aoid);
                }
            }
            out
        }));
    }
    let mut aoids = Vec::new();
    for t in tasks {
        aoids.extend(t.await.unwrap());
    }
    aoids
}
