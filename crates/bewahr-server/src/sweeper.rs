//! The sweeper: a supervised worker that removes stored content no version
//! references (the content of deleted objects, of submissions refused by
//! validation, of submissions whose commit failed or never happened, of
//! uploads for LXAIPs that were refused or expired unused).
//!
//! Invariant: content is removed only when (1) it was written more than
//! `store.sweep_grace_secs` ago (the store's index keeps the write time),
//! (2) no version that is not deleted references it (document, detached
//! signature, preserved validation items, the other members of its group;
//! pending versions included) and no unspent upload holds it, and
//! (3) no submission in flight has pinned it (`store::InFlight`). (2) and
//! (3) are checked again by the catalog writer, serialised with the group
//! commits, and the removal happens under the registry's lock: a
//! submission of identical bytes either committed first (its row is seen)
//! or holds its pin until its commit (the pin is seen).
//!
//! With several nodes, only the leader sweeps (one sweeper per store).
//!
//! It walks the store's index in digest order, a page at a time; every
//! `store.sweep_interval_secs` (0: only when asked), and on
//! `POST /v1/admin/sweeper/run`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::catalog::{Catalog, CatalogError, WriteError, Writer};
use crate::store::{Listed, Store, StoreError};

/// Digests examined per page.
const PAGE: usize = 256;
/// Candidates per writer step: the writer holds the group commits meanwhile.
const STEP: usize = 32;
/// Wait before the next attempt after a failed run.
const RETRY: Duration = Duration::from_secs(60);

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the sweeper has stopped")]
    Stopped,
}

/// What the sweeper is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SweeperState {
    #[default]
    Idle,
    Sweeping,
    /// The last run failed; waiting to try again.
    Backoff,
}

/// One run.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct SweepRun {
    /// RFC 3339.
    pub started: String,
    pub finished: String,
    /// `schedule` or `admin`.
    pub trigger: String,
    /// Stored contents looked at.
    pub examined: u64,
    /// Contents removed, and their bytes.
    pub removed: u64,
    pub bytes_removed: u64,
    /// Kept: referenced by a version.
    pub referenced: u64,
    /// Kept: pinned by a submission in flight.
    pub pinned: u64,
    /// Kept: written within the grace period.
    pub young: u64,
    /// Kept: the store retains it (S3 Object Lock retention or legal hold,
    /// after a deletion before the retention date); removed by a later
    /// sweep once that ends.
    pub retained: u64,
    /// Uploads for LXAIPs whose time ran out unused, marked spent before
    /// the walk (their content is then removed like any other).
    pub uploads_expired: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The sweeper as admins see it (`GET /v1/admin/sweeper`).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct SweeperStatus {
    pub state: SweeperState,
    /// 0: runs only when asked.
    pub interval_secs: u64,
    pub grace_secs: u64,
    pub runs: u64,
    pub total_removed: u64,
    pub total_bytes_removed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<SweepRun>,
}

type Trigger = oneshot::Sender<SweepRun>;

/// Handle to the sweeper (cheap to clone).
#[derive(Clone)]
pub struct Sweeper {
    status: Arc<Mutex<SweeperStatus>>,
    trigger: mpsc::Sender<Trigger>,
}

/// How often, and how old content must be.
#[derive(Clone, Copy, Debug)]
pub struct SweepSettings {
    pub interval: Duration,
    pub grace: Duration,
}

fn now() -> String {
    bewahr_core::tsp::trust::rfc3339(time::OffsetDateTime::now_utc())
}

impl Sweeper {
    /// Starts the worker `sweeper` under `sup`.
    pub fn start(
        catalog: Catalog,
        store: Store,
        writer: Writer,
        settings: SweepSettings,
        cluster: crate::cluster::Cluster,
        sup: &crate::supervisor::Supervisor,
    ) -> Self {
        let status = Arc::new(Mutex::new(SweeperStatus {
            interval_secs: settings.interval.as_secs(),
            grace_secs: settings.grace.as_secs(),
            ..Default::default()
        }));
        let (trigger, rx) = mpsc::channel(16);
        let me = Sweeper { status, trigger };
        let stop = sup.stop_signal();
        sup.spawn(
            "sweeper",
            work(
                me.clone(),
                catalog,
                store,
                writer,
                settings,
                cluster,
                rx,
                stop,
            ),
        );
        me
    }

    pub fn status(&self) -> SweeperStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs a sweep now (after the one running, if any) and returns it.
    pub async fn run_now(&self) -> Result<SweepRun, SweepError> {
        let (tx, rx) = oneshot::channel();
        self.trigger
            .send(tx)
            .await
            .map_err(|_| SweepError::Stopped)?;
        rx.await.map_err(|_| SweepError::Stopped)
    }

    fn set(&self, f: impl FnOnce(&mut SweeperStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn work(
    me: Sweeper,
    catalog: Catalog,
    store: Store,
    writer: Writer,
    settings: SweepSettings,
    cluster: crate::cluster::Cluster,
    mut rx: mpsc::Receiver<Trigger>,
    mut stop: crate::supervisor::StopSignal,
) {
    let mut wait = settings.interval;
    loop {
        let scheduled = !settings.interval.is_zero();
        let reply = tokio::select! {
            _ = tokio::time::sleep(wait), if scheduled || wait == RETRY => None,
            t = rx.recv() => match t {
                Some(t) => Some(t),
                None => return,
            },
            _ = stop.stopped() => return,
        };
        let trigger = if reply.is_some() { "admin" } else { "schedule" };
        if cluster.fence().is_none() {
            // one sweeper per store: the leader's
            let leader = cluster.status().leader;
            if let Some(r) = reply {
                let _ = r.send(SweepRun {
                    started: now(),
                    finished: now(),
                    trigger: trigger.into(),
                    error: Some(format!(
                        "this node does not sweep: the leader ({leader}) does; ask it"
                    )),
                    ..Default::default()
                });
            }
            wait = settings.interval;
            continue;
        }
        me.set(|s| s.state = SweeperState::Sweeping);
        let mut run = SweepRun {
            started: now(),
            trigger: trigger.into(),
            ..Default::default()
        };
        let result = sweep_once(&catalog, &store, &writer, settings.grace, &mut run).await;
        run.finished = now();
        if let Err(e) = &result {
            tracing::warn!(error = %e, "sweep failed");
            run.error = Some(e.to_string());
        } else if run.removed > 0 {
            tracing::info!(
                removed = run.removed,
                bytes = run.bytes_removed,
                "swept unreferenced content"
            );
        }
        metrics::counter!("bewahr_sweeper_removed_total").increment(run.removed);
        metrics::counter!("bewahr_sweeper_removed_bytes_total").increment(run.bytes_removed);
        me.set(|s| {
            s.state = match result {
                Ok(()) => SweeperState::Idle,
                Err(_) => SweeperState::Backoff,
            };
            s.runs += 1;
            s.total_removed += run.removed;
            s.total_bytes_removed += run.bytes_removed;
            s.last_run = Some(run.clone());
        });
        wait = if run.error.is_some() {
            RETRY
        } else {
            settings.interval
        };
        if let Some(r) = reply {
            let _ = r.send(run);
        }
    }
}

/// One walk over the store's index; counts into `run` as it goes.
async fn sweep_once(
    catalog: &Catalog,
    store: &Store,
    writer: &Writer,
    grace: Duration,
    run: &mut SweepRun,
) -> Result<(), SweepError> {
    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    };
    run.uploads_expired = catalog.expire_uploads(wall_ms() as i64).await?;
    let mut after: Option<[u8; 32]> = None;
    loop {
        let content = store.content().clone();
        let page = tokio::task::spawn_blocking(move || content.list(after.as_ref(), PAGE))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.sha256);
        run.examined += page.len() as u64;
        let now_ms = wall_ms();
        let mut candidates: Vec<Listed> = Vec::new();
        for l in page {
            if l.written_ms.saturating_add(grace.as_millis() as u64) > now_ms {
                run.young += 1;
            } else if catalog.references(&l.sha256).await? > 0 {
                run.referenced += 1;
            } else {
                candidates.push(l);
            }
        }
        if candidates.is_empty() {
            continue;
        }
        // the writer checks again, serialised with the commits, and removes
        for step in candidates.chunks(STEP) {
            let o = writer.sweep(step.to_vec()).await?;
            run.removed += o.removed;
            run.bytes_removed += o.bytes;
            run.referenced += o.referenced;
            run.pinned += o.pinned;
            run.retained += o.retained;
        }
    }
}
