//! Batch sealing: a worker that gathers pending versions every
//! `batch.interval_ms` (or as soon as `batch.max_objects` are pending),
//! builds one hash tree over them and gets one time-stamp for its root.
//!
//! A TSA outage does not stop ingest: the versions stay pending and sealing
//! is retried with a doubling backoff; the state is visible in `/healthz`
//! and in the metrics. Crash safety: the batch id is allocated in the
//! catalog first (never handed out again), the tree goes to the store under
//! it, the batch row last, in one catalog transaction; until that commits
//! the versions are pending and the next attempt reseals them under a new
//! id (a WORM store keeps the abandoned tree; the catalog knows its id).
//!
//! With several nodes, only the holder of the leader lease seals, and its
//! commit is fenced by the lease's epoch: a node that lost the lease
//! mid-sealing cannot record its batch; the new leader seals the versions.

mod stamper;

pub use stamper::{Stamp, Stamper, TsaSource};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use crate::catalog::{Batch, Catalog, Fence, Writer};
use crate::cluster::Cluster;
use crate::store::Store;
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::hashtree::TreeBuilder;

/// The clock the service runs on (tests pass their own).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// The sealing worker's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SealerState {
    #[default]
    Idle,
    Sealing,
    /// Waiting to retry after a failure.
    Backoff,
    /// Another node holds the leader lease and seals.
    Standby,
}

/// What the sealing worker is doing, for admins.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct SealerStatus {
    pub state: SealerState,
    pub batches_sealed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sealed_at: Option<String>,
    pub consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
}

/// Settings of the sealing worker.
#[derive(Clone, Debug)]
pub struct SealConfig {
    pub interval: Duration,
    pub max_objects: usize,
    pub algorithm: DigestAlgorithm,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

/// Handle to the sealing worker.
#[derive(Clone)]
pub struct Sealer {
    status: Arc<Mutex<SealerStatus>>,
    wake: Arc<Notify>,
    pending: Arc<AtomicUsize>,
    max_objects: usize,
    /// Batches sealed by this node (wakes the waiters, who then ask the catalog).
    sealed: watch::Receiver<u64>,
    catalog: Catalog,
    /// What this node recorded and sealed lately (the dashboard's series).
    activity: crate::activity::Activity,
}

/// What the sealing worker works with.
#[derive(Clone)]
pub struct SealWith {
    pub writer: Writer,
    pub store: Store,
    pub stamper: Stamper,
    pub clock: Clock,
    pub catalog: Catalog,
    pub cluster: Cluster,
    /// Seal the head of the audit chain as leaf 0 of every batch.
    pub audit: bool,
}

impl Sealer {
    /// Starts the worker. `initial_pending` is the catalog's pending count at start.
    pub fn start(
        cfg: SealConfig,
        with: SealWith,
        initial_pending: usize,
        sup: &crate::supervisor::Supervisor,
    ) -> Self {
        let (tx, rx) = watch::channel(0);
        let s = Sealer {
            status: Arc::new(Mutex::new(SealerStatus {
                state: SealerState::Idle,
                ..Default::default()
            })),
            wake: Arc::new(Notify::new()),
            pending: Arc::new(AtomicUsize::new(initial_pending)),
            max_objects: cfg.max_objects,
            sealed: rx,
            catalog: with.catalog.clone(),
            activity: Default::default(),
        };
        metrics::gauge!("bewahr_pending_objects").set(initial_pending as f64);
        sup.spawn(
            "sealer",
            worker(cfg, with, s.clone(), tx, sup.stop_signal()),
        );
        s
    }

    /// A version of `bytes` bytes was recorded: counts it and wakes the
    /// worker when a batch is full.
    pub fn submitted(&self, bytes: u64) {
        self.activity.recorded(bytes, crate::activity::wall_ms());
        let n = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("bewahr_pending_objects").set(n as f64);
        if n >= self.max_objects {
            self.wake.notify_one();
        }
    }

    /// Versions waiting for their batch, as this node counts them.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// What this node recorded and sealed lately.
    pub fn activity(&self) -> &crate::activity::Activity {
        &self.activity
    }

    /// Asks for a sealing round now.
    pub fn seal_now(&self) {
        self.wake.notify_one();
    }

    pub fn status(&self) -> SealerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until version `seq` is sealed (by any node), or `timeout`
    /// passes; true if sealed. Woken by this node's batches, and asks the
    /// catalog at least every 100 ms for those of the others.
    pub async fn wait_sealed(&self, seq: i64, timeout: Duration) -> bool {
        let end = tokio::time::Instant::now() + timeout;
        let mut rx = self.sealed.clone();
        loop {
            if let Ok(true) = self.catalog.is_sealed(seq).await {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                return false;
            }
            let step = (end - now).min(Duration::from_millis(100));
            let _ = tokio::time::timeout(step, rx.changed()).await;
        }
    }

    fn set(&self, f: impl FnOnce(&mut SealerStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }
}

async fn worker(
    cfg: SealConfig,
    with: SealWith,
    me: Sealer,
    sealed: watch::Sender<u64>,
    mut stop: crate::supervisor::StopSignal,
) {
    let mut backoff = cfg.retry_min;
    let mut roles = with.cluster.watch();
    loop {
        if stop.is_stopping() {
            return;
        }
        if with.cluster.fence().is_none() {
            me.set(|s| s.state = SealerState::Standby);
            tokio::select! {
                _ = roles.changed() => {}
                _ = stop.stopped() => return,
            }
            continue;
        }
        let delay = if me.status().consecutive_failures > 0 {
            backoff
        } else {
            cfg.interval
        };
        tokio::select! {
            _ = tokio::time::timeout(delay, me.wake.notified()) => {}
            _ = stop.stopped() => return,
        }
        while let Some(fence) = with.cluster.fence() {
            me.set(|s| s.state = SealerState::Sealing);
            match seal_once(&cfg, &with, &fence).await {
                Ok(None) => {
                    me.set(|s| s.state = SealerState::Idle);
                    break;
                }
                Ok(Some((batch, leaves))) => {
                    backoff = cfg.retry_min;
                    let before = me
                        .pending
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                            Some(p.saturating_sub(leaves))
                        })
                        .unwrap_or(0);
                    let left = before.saturating_sub(leaves);
                    metrics::gauge!("bewahr_pending_objects").set(left as f64);
                    metrics::counter!("bewahr_batches_sealed_total").increment(1);
                    sealed.send_modify(|n| *n += 1);
                    me.activity.sealed(crate::activity::wall_ms());
                    let at = crate::catalog::rfc3339_ms(batch.sealed_at_ms);
                    me.set(|s| {
                        s.state = SealerState::Idle;
                        s.batches_sealed += 1;
                        s.last_batch = Some(batch.id);
                        s.last_sealed_at = Some(at);
                        s.consecutive_failures = 0;
                        s.last_error = None;
                        s.next_attempt = None;
                    });
                    tracing::info!(batch = batch.id, leaves, tsa = %batch.tsa, "batch sealed");
                    if leaves < cfg.max_objects {
                        break;
                    }
                }
                Err(e) => {
                    metrics::counter!("bewahr_seal_failures_total").increment(1);
                    tracing::warn!(error = %e, retry_in = ?backoff, "sealing failed; the objects stay pending");
                    let next = bewahr_core::tsp::trust::rfc3339((with.clock)() + backoff);
                    me.set(|s| {
                        s.state = SealerState::Backoff;
                        s.consecutive_failures += 1;
                        s.last_error = Some(e.clone());
                        s.next_attempt = Some(next);
                    });
                    backoff = (backoff * 2).min(cfg.retry_max);
                    break;
                }
            }
        }
    }
}

/// One sealing round as the leader of `fence`: `Ok(None)` when nothing is
/// pending; else the batch and how many versions it sealed. With
/// `with.audit`, the head of the audit chain (as it is committed now, by
/// any node) is leaf 0 of the tree, under key 0.
pub async fn seal_once(
    cfg: &SealConfig,
    with: &SealWith,
    fence: &Fence,
) -> Result<Option<(Batch, usize)>, String> {
    let pending = with
        .writer
        .pending(cfg.max_objects)
        .await
        .map_err(|e| e.to_string())?;
    if pending.is_empty() {
        return Ok(None);
    }
    let alg = cfg.algorithm;
    let w = alg.output_len();
    let (first_seq, last_seq) = (pending[0].seq, pending[pending.len() - 1].seq);
    let versions = pending.len();
    let audit_head = match with.audit {
        true => Some(
            crate::audit::committed_head(&with.catalog)
                .await
                .map_err(|e| e.to_string())?,
        ),
        false => None,
    };
    let sealed: Vec<i64> = pending.iter().map(|p| p.seq).collect();
    let mut seqs: Vec<i64> = Vec::with_capacity(pending.len() + 1);
    if audit_head.is_some() {
        seqs.push(0);
    }
    seqs.extend_from_slice(&sealed);
    let tree = tokio::task::spawn_blocking(move || {
        let mut b = TreeBuilder::with_capacity(alg, pending.len() + 1);
        if let Some((_, head)) = audit_head {
            b.push(&alg.digest(&head)).map_err(|e| e.to_string())?;
        }
        for p in &pending {
            if p.members.is_empty() || !p.members.len().is_multiple_of(w) {
                return Err(format!("version seq {} has a malformed leaf group", p.seq));
            }
            b.push_group(p.members.chunks(w))
                .map_err(|e| e.to_string())?;
        }
        b.build().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let stamp = with
        .stamper
        .stamp(alg, tree.root(), (with.clock)())
        .await
        .inspect_err(|_| {
            metrics::counter!("bewahr_tsa_errors_total").increment(1);
        })?;
    let leaves = tree.leaf_count();
    let root = tree.root().to_vec();
    let now_ms = ((with.clock)().unix_timestamp_nanos() / 1_000_000) as i64;
    // a fresh id: a retry never writes over a tree a WORM store keeps
    let batch_id = with
        .catalog
        .allocate_tree_id("initial", with.cluster.node(), now_ms, false)
        .await
        .map_err(|e| e.to_string())?;
    let s = with.store.clone();
    let token = stamp.token.clone();
    tokio::task::spawn_blocking(move || {
        // the token beside the tree: the store alone proves leaf 0 (the
        // audit head). First: a tree the store lists has its token, also
        // when the process dies in between
        s.put_token(batch_id as u64, &token)?;
        s.put_tree(batch_id as u64, &tree, &seqs)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let batch = Batch {
        id: batch_id,
        sealed_at_ms: now_ms,
        digest_algorithm: alg.name().to_string(),
        leaves: leaves as i64,
        first_seq,
        last_seq,
        root,
        tsa: stamp.tsa,
        gen_time_ms: (stamp.gen_time.unix_timestamp_nanos() / 1_000_000) as i64,
        token: stamp.token,
        audit_head,
    };
    with.writer
        .seal(batch.clone(), sealed, fence.clone())
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((batch, versions)))
}
