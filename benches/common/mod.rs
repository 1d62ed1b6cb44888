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
