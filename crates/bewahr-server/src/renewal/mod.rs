//! Renewal (RFC 4998 section 5.2; TR-ESOR A4.7 time-stamp renewal, A4.8
//! hash-tree renewal): planned from the algorithm catalogue and the TSA
//! certificates, run by a scheduler under admin control.
//!
//! The scheduler is a worker with explicit states (`idle`, `running`,
//! `backoff`, `paused`) that takes its clock as a parameter: every
//! `check_interval` it computes the plan at the clock's time and queues a
//! run for what is due; queued runs (the scheduler's and the admins') are
//! executed one at a time, in order, and recorded in the catalog. A run
//! left `running` by a crash is queued again at start and redone (see
//! [`run`] for why that is safe).
//!
//! Several nodes: only the holder of the leader lease plans and runs; a
//! run is claimed with an owner and a lease that the runner extends, a run
//! whose owner died is taken over once its lease ran out and finished (what
//! the dead owner recorded stays and is skipped), and every commit checks
//! the lease's epoch and the run's owner in its transaction, so no run is
//! done twice. Hash-tree rehashing is shared out by ranges ([`ranges`]).
//! Pausing is a catalog setting every node follows. A run that ends with something in its
//! scope not renewed (a leaf that could not be rehashed, a chain whose
//! time-stamp can no longer be extended) is `incomplete`, never `done`: it
//! lists what and why, and the scheduler queues it again at its `retry_at`
//! ([`backoff`] from `retry_min`, doubling per attempt up to the check
//! interval), also when it does not plan by itself; not while paused.

pub mod plan;
pub mod ranges;
pub mod run;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use x509_cert::Certificate;

use crate::catalog::{Catalog, RunCounts, RunReport, RunState, RunView};
use crate::evidence::Evidence;
use crate::seal::{Clock, Stamper};
use crate::store::Store;
use bewahr_core::alg::DigestAlgorithm;
use bewahr_core::verify::AlgorithmPolicy;

pub use plan::{Plan, PlanEntry};
pub use run::{backoff, Outcome, RunError};

/// A test's hook: returns true to make the run stop at that step, as if the process died there.
pub type FaultHook = Arc<dyn Fn(&'static str) -> bool + Send + Sync>;

/// How renewal is planned and run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Renew this long before an algorithm or certificate stops protecting.
    pub margin: time::Duration,
    /// How often the scheduler computes the plan.
    pub check_interval: Duration,
    /// Whether the scheduler queues due renewals by itself.
    pub automatic: bool,
    /// The algorithm of the new chains of hash-tree renewals the scheduler starts.
    pub hash_algorithm: DigestAlgorithm,
    /// Most versions per hash-tree renewal tree (memory is bounded by it).
    pub max_leaves: usize,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Time-stamp requests per tree before the run fails.
    pub max_attempts: u32,
    /// Threads that rehash content.
    pub workers: usize,
    /// Leaves per rehash range (`cluster.rehash_range`).
    pub rehash_range: usize,
    /// How often queued runs and rehash ranges are looked for (`cluster.poll_ms`).
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            margin: time::Duration::days(90),
            check_interval: Duration::from_secs(3600),
            automatic: true,
            hash_algorithm: DigestAlgorithm::Sha512,
            max_leaves: 100_000,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_attempts: 5,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            rehash_range: 2_000,
            poll: Duration::from_secs(1),
        }
    }
}

/// The scheduler's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerState {
    #[default]
    Idle,
    Running,
    /// Waiting to retry a TSA.
    Backoff,
    Paused,
    /// Another node holds the leader lease and renews.
    Standby,
}

/// What the scheduler is doing, for admins.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct SchedulerStatus {
    pub state: SchedulerState,
    pub paused: bool,
    pub automatic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_run: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What renewal works with.
pub struct Ctx {
    pub catalog: Catalog,
    pub store: Store,
    pub evidence: Evidence,
    pub stamper: Stamper,
    pub clock: Clock,
    /// Certificates the archive's earlier time-stamps may chain to, besides
    /// the stamper's (`renewal.trusted_certs`).
    pub extra_trusted: Vec<Certificate>,
    pub settings: Settings,
    policy: RwLock<Arc<AlgorithmPolicy>>,
    facts: Mutex<HashMap<i64, Result<plan::TokenFacts, String>>>,
    fault: Option<FaultHook>,
    status: Mutex<SchedulerStatus>,
    audit: Option<crate::audit::Audit>,
    /// The node's lease (several nodes); `None`: a context on its own (tests).
    cluster: Option<crate::cluster::Cluster>,
    /// The owner name of what this context claims (`node/instance`).
    owner: String,
    /// Wakes this node's range worker when this node published ranges.
    ranges_published: tokio::sync::Notify,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        catalog: Catalog,
        store: Store,
        evidence: Evidence,
        stamper: Stamper,
        clock: Clock,
        extra_trusted: Vec<Certificate>,
        policy: Arc<AlgorithmPolicy>,
        settings: Settings,
    ) -> Self {
        Ctx {
            catalog,
            store,
            evidence,
            stamper,
            clock,
            extra_trusted,
            status: Mutex::new(SchedulerStatus {
                state: SchedulerState::Idle,
                automatic: settings.automatic,
                ..Default::default()
            }),
            settings,
            policy: RwLock::new(policy),
            facts: Mutex::new(HashMap::new()),
            fault: None,
            audit: None,
            cluster: None,
            owner: format!("local/{}", &crate::ids::Aoid::random().into_string()[..8]),
            ranges_published: tokio::sync::Notify::new(),
        }
    }

    /// Runs as a node of a cluster: only while it leads, fenced.
    pub fn with_cluster(mut self, cluster: crate::cluster::Cluster) -> Self {
        self.owner = cluster.instance().to_string();
        self.cluster = Some(cluster);
        self
    }

    /// The node id (for the catalog's records).
    pub fn node(&self) -> &str {
        match &self.cluster {
            Some(c) => c.node(),
            None => ranges::node_of(&self.owner),
        }
    }

    /// Who claims runs and ranges: `node/instance`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How long a claim lasts without being extended.
    pub fn lease(&self) -> Duration {
        self.cluster
            .as_ref()
            .map(|c| c.lease())
            .unwrap_or(Duration::from_secs(15))
    }

    /// Records every run in the audit trail.
    pub fn with_audit(mut self, audit: crate::audit::Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    async fn audit(&self, run: &RunView, result: &str, detail: String) {
        if let Some(a) = &self.audit {
            a.record(crate::audit::Entry {
                at_ms: self.now_ms(),
                actor: run.requested_by.clone(),
                tenant: None,
                action: format!("renewal {} ({})", run.kind, run.scope),
                aoid: None,
                result: result.to_string(),
                detail,
            })
            .await;
        }
    }

    /// Stops runs at the steps `hook` picks (tests).
    pub fn with_fault(mut self, hook: FaultHook) -> Self {
        self.fault = Some(hook);
        self
    }

    /// Every certificate the archive's time-stamps may chain to: the
    /// current and earlier TSAs', and `renewal.trusted_certs`.
    pub fn trusted(&self) -> Vec<Certificate> {
        let mut v = self.stamper.trust_anchors();
        v.extend(self.extra_trusted.iter().cloned());
        v
    }

    /// The algorithm catalogue in force.
    pub fn policy(&self) -> Arc<AlgorithmPolicy> {
        self.policy
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Replaces the algorithm catalogue (an admin retired an algorithm).
    pub fn set_policy(&self, p: AlgorithmPolicy) {
        if let Ok(mut w) = self.policy.write() {
            *w = Arc::new(p);
        }
    }

    fn set_state(&self, s: SchedulerState) {
        if let Ok(mut st) = self.status.lock() {
            st.state = s;
        }
    }

    fn now_ms(&self) -> i64 {
        ((self.clock)().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Executes queued run `run` to its end and records the result. A fault
    /// (tests) leaves the run `running`, as a crash would.
    pub async fn execute(&self, run: &RunView) -> Result<RunView, RunError> {
        let lease = self.lease();
        self.catalog
            .start_run(
                run.id,
                self.now_ms(),
                self.owner(),
                lease.as_millis() as i64,
            )
            .await?;
        // the run's lease is extended while it runs; a node that dies lets it run out
        let beat = self.catalog.keep_claimed(
            crate::catalog::Claim::Run,
            run.id,
            self.owner.clone(),
            lease,
        );
        let r = self.execute_attempt(run).await;
        beat.abort();
        r
    }

    async fn execute_attempt(&self, run: &RunView) -> Result<RunView, RunError> {
        // the chains as the catalog has them now (another node may have renewed)
        self.evidence.invalidate();
        if let Ok(mut st) = self.status.lock() {
            st.current_run = Some(run.id);
            st.state = SchedulerState::Running;
        }
        tracing::info!(run = run.id, kind = %run.kind, scope = %run.scope, requested_by = %run.requested_by, "renewal started");
        self.audit(run, "started", format!("run {}", run.id)).await;
        let result = match run.kind.as_str() {
            "timestamp" => self.run_timestamp(run).await,
            "hashtree" => match run
                .digest_algorithm
                .as_deref()
                .map(DigestAlgorithm::from_name)
            {
                Some(Ok(a)) => self.run_hashtree(run, a).await,
                _ => Err(RunError::Invalid(format!(
                    "hash-tree renewal needs a digest algorithm, got {:?}",
                    run.digest_algorithm
                ))),
            },
            other => Err(RunError::Invalid(format!("unknown renewal kind {other:?}"))),
        };
        if let Ok(mut st) = self.status.lock() {
            st.current_run = None;
            st.state = SchedulerState::Idle;
        }
        let mut retry_at = None;
        let (state, report) = match result {
            Err(e @ RunError::Fault(_)) => return Err(e),
            // another node leads now and takes the run over once its lease runs out
            Err(e @ RunError::Fenced(_))
            | Err(e @ RunError::Commit(crate::catalog::RenewalCommitError::Fenced(_))) => {
                return Err(e)
            }
            Ok(o) if o.not_renewed.is_empty() => (RunState::Done, o),
            Ok(o) => {
                // retried later: a read error may pass, content may be restored
                let wait = backoff(
                    self.settings.retry_min,
                    self.settings.check_interval.max(self.settings.retry_max),
                    run.attempts.clamp(0, 16) as u32,
                );
                let at = self.now_ms() + wait.as_millis() as i64;
                retry_at = Some(at);
                let first = &o.not_renewed[0];
                let why = format!(
                    "run {} incomplete: {} not renewed (first: {} {}: {}); retried at {}",
                    run.id,
                    o.not_renewed.len(),
                    first
                        .seq
                        .map(|s| format!("leaf {s}"))
                        .unwrap_or_else(|| format!("tree {}", first.tree)),
                    first.reason.as_str(),
                    first.detail,
                    crate::catalog::rfc3339_ms(at)
                );
                tracing::warn!(run = run.id, not_renewed = o.not_renewed.len(), "{why}");
                if let Ok(mut st) = self.status.lock() {
                    st.last_error = Some(why);
                }
                (RunState::Incomplete, o)
            }
            Err(e) => {
                if let Ok(mut st) = self.status.lock() {
                    st.last_error = Some(e.to_string());
                }
                // what was recorded before the error stays; the counts come from the catalog
                let mut before = match self.catalog.run(run.id).await? {
                    Some(r) => RunReport {
                        counts: RunCounts {
                            chains: r.chains,
                            trees_renewed: r.trees_renewed,
                            trees_written: r.trees_written,
                            tsa_requests: r.tsa_requests,
                            bytes_read: r.bytes_read,
                        },
                        errors: r.errors,
                        not_renewed: r.not_renewed,
                    },
                    None => Default::default(),
                };
                if let RunError::Tsa { attempts, .. } = &e {
                    before.counts.tsa_requests += *attempts as i64; // the failed tree's requests
                }
                before.errors.push(e.to_string());
                (RunState::Failed, before)
            }
        };
        self.catalog
            .update_run(
                run.id,
                self.owner(),
                state,
                &report,
                Some(self.now_ms()),
                retry_at,
            )
            .await?;
        metrics::counter!("bewahr_renewals_total", "kind" => run.kind.clone(), "state" => state.as_str())
            .increment(1);
        tracing::info!(
            run = run.id,
            state = state.as_str(),
            chains = report.counts.chains,
            trees = report.counts.trees_written,
            errors = report.errors.len(),
            not_renewed = report.not_renewed.len(),
            "renewal finished"
        );
        Ok(self.catalog.run(run.id).await?.expect("the run exists"))
    }

    /// Computes the plan and queues a run for each kind with something due
    /// (unless one is queued or running already); returns the runs queued.
    pub async fn check(&self) -> Result<Vec<i64>, RunError> {
        let (plan, _) = self.plan().await?;
        if let Ok(mut st) = self.status.lock() {
            st.last_check = Some(plan.computed_at.clone());
        }
        for state in ["due", "blocked", "overdue"] {
            let n: i64 = plan
                .entries
                .iter()
                .filter(|e| e.state == state)
                .map(|e| e.chains)
                .sum();
            metrics::gauge!("bewahr_renewal_chains", "state" => state).set(n as f64);
        }
        for e in plan
            .entries
            .iter()
            .filter(|e| e.state == "overdue" || e.state == "blocked")
        {
            tracing::warn!(kind = %e.kind, state = %e.state, chains = e.chains, reason = %e.reason, "renewal cannot help these chains by itself");
        }
        // only what a run can still renew: overdue and blocked chains need an admin
        let mut queued = Vec::new();
        for kind in ["timestamp", "hashtree"] {
            let due: Vec<&PlanEntry> = plan
                .entries
                .iter()
                .filter(|e| e.kind == kind && e.state == "due")
                .collect();
            if due.is_empty() || self.catalog.open_run().await?.is_some() {
                continue;
            }
            if self.catalog.next_retry(Some(kind)).await?.is_some() {
                continue; // an incomplete run of this kind is retried instead
            }
            let reason = due
                .iter()
                .map(|e| format!("{} ({} chains)", e.reason, e.chains))
                .collect::<Vec<_>>()
                .join("; ");
            let alg = (kind == "hashtree").then(|| plan.hash_algorithm.clone());
            let id = self
                .catalog
                .queue_run(
                    kind,
                    alg.as_deref(),
                    "due",
                    "scheduler",
                    &reason,
                    self.now_ms(),
                )
                .await?;
            tracing::info!(run = id, kind, %reason, "renewal due: queued");
            queued.push(id);
        }
        Ok(queued)
    }
}

/// Handle to the scheduler.
#[derive(Clone)]
pub struct Renewer {
    ctx: Arc<Ctx>,
    wake: Arc<tokio::sync::Notify>,
    paused: Arc<AtomicBool>,
    check_now: Arc<AtomicBool>,
}

/// A request an admin cannot make, and why.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("unknown renewal kind {0:?}: timestamp or hashtree")]
    Kind(String),
    #[error("hash-tree renewal needs digest_algorithm (e.g. sha512)")]
    NoAlgorithm,
    #[error("{0}")]
    Algorithm(String),
    #[error("{0}")]
    Scope(String),
    #[error("renewal run {0} is {1}; ask again when it has ended")]
    Busy(i64, String),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
}

impl Renewer {
    /// Starts the scheduler under `sup`; runs interrupted by a crash are queued again.
    pub async fn start(
        ctx: Ctx,
        sup: &crate::supervisor::Supervisor,
    ) -> Result<Self, crate::catalog::CatalogError> {
        // a node-local store: this process is the only node, every run left
        // running was an earlier instance's; shared: only this node's own
        let node = match &ctx.cluster {
            Some(c) if c.shared() => Some(c.node().to_string()),
            _ => None,
        };
        let requeued = ctx
            .catalog
            .requeue_interrupted_runs(node.as_deref())
            .await?;
        if requeued > 0 {
            tracing::warn!(
                runs = requeued,
                "renewal runs interrupted by a stop are queued again"
            );
        }
        let paused = ctx.catalog.flag(PAUSED).await?.as_deref() == Some("true");
        let r = Renewer {
            ctx: Arc::new(ctx),
            wake: Arc::new(tokio::sync::Notify::new()),
            paused: Arc::new(AtomicBool::new(paused)),
            check_now: Arc::new(AtomicBool::new(true)),
        };
        sup.spawn("renewal-scheduler", worker(r.clone(), sup.stop_signal()));
        sup.spawn(
            "rehash-ranges",
            ranges::worker(r.ctx.clone(), r.ctx.settings.poll, sup.stop_signal()),
        );
        Ok(r)
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The plan now.
    pub async fn plan(&self) -> Result<Plan, RunError> {
        Ok(self.ctx.plan().await?.0)
    }

    /// Queues a run requested by `who`; returns its id.
    pub async fn request(
        &self,
        kind: &str,
        digest_algorithm: Option<&str>,
        scope: Option<&str>,
        who: &str,
    ) -> Result<i64, RequestError> {
        let alg = match kind {
            "timestamp" => None,
            "hashtree" => {
                let name = digest_algorithm.ok_or(RequestError::NoAlgorithm)?;
                let a = DigestAlgorithm::from_name(name)
                    .map_err(|e| RequestError::Algorithm(e.to_string()))?;
                let policy = self.ctx.policy();
                let now = (self.ctx.clock)();
                if let Some(end) = policy.hash_unsuitable_before(a, now + self.ctx.settings.margin)
                {
                    return Err(RequestError::Algorithm(format!(
                        "{a} is not suitable for new chains: the algorithm catalogue ends it at {}",
                        bewahr_core::tsp::trust::rfc3339(end)
                    )));
                }
                Some(a.name().to_string())
            }
            other => return Err(RequestError::Kind(other.to_string())),
        };
        let scope = scope.unwrap_or("all");
        if scope != "all" && scope != "due" {
            return Err(RequestError::Scope(format!(
                "unknown scope {scope:?}: all or due"
            )));
        }
        if let Some((id, state)) = self.ctx.catalog.open_run().await? {
            return Err(RequestError::Busy(id, state));
        }
        let id = self
            .ctx
            .catalog
            .queue_run(
                kind,
                alg.as_deref(),
                scope,
                who,
                "requested",
                self.ctx.now_ms(),
            )
            .await?;
        tracing::info!(run = id, kind, requested_by = who, "renewal queued");
        self.wake.notify_one();
        Ok(id)
    }

    /// Waits until an attempt of run `id` ends (done, incomplete or failed), or `timeout` passes.
    pub async fn wait(&self, id: i64, timeout: Duration) -> Result<Option<RunView>, RunError> {
        let end = tokio::time::Instant::now() + timeout;
        loop {
            let r = self.ctx.catalog.run(id).await?;
            match &r {
                Some(v) if v.state.ended() => return Ok(r),
                None => return Ok(None),
                _ => {}
            }
            if tokio::time::Instant::now() >= end {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asks the scheduler to compute the plan now (e.g. after the clock moved).
    pub fn check_now(&self) {
        self.check_now.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Pauses the scheduler of every node (a catalog setting): no run
    /// starts until resumed; a running one finishes.
    pub async fn pause(&self) -> Result<(), crate::catalog::CatalogError> {
        self.ctx.catalog.set_flag(PAUSED, "true").await?;
        self.paused.store(true, Ordering::SeqCst);
        tracing::info!("renewal scheduler paused");
        self.wake.notify_one();
        Ok(())
    }

    pub async fn resume(&self) -> Result<(), crate::catalog::CatalogError> {
        self.ctx.catalog.set_flag(PAUSED, "false").await?;
        self.paused.store(false, Ordering::SeqCst);
        tracing::info!("renewal scheduler resumed");
        self.wake.notify_one();
        Ok(())
    }

    pub fn status(&self) -> SchedulerStatus {
        let mut s = self
            .ctx
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        s.paused = self.paused.load(Ordering::SeqCst);
        if s.paused && s.current_run.is_none() {
            s.state = SchedulerState::Paused;
        }
        if s.current_run.is_none()
            && self
                .ctx
                .cluster
                .as_ref()
                .is_some_and(|c| c.fence().is_none())
        {
            s.state = SchedulerState::Standby;
        }
        s
    }
}

/// The catalog setting that pauses every node's scheduler.
const PAUSED: &str = "renewal_paused";

async fn worker(r: Renewer, mut stop: crate::supervisor::StopSignal) {
    let ctx = r.ctx.clone();
    let mut next_check = tokio::time::Instant::now();
    let mut roles = ctx.cluster.as_ref().map(|c| c.watch());
    loop {
        // between runs only: a run in progress is finished (or, past the
        // shutdown deadline, cancelled and redone after the restart)
        if stop.is_stopping() {
            return;
        }
        // only the leader plans and runs
        if let (Some(c), Some(rx)) = (&ctx.cluster, roles.as_mut()) {
            if c.fence().is_none() {
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = stop.stopped() => return,
                }
                next_check = tokio::time::Instant::now();
                continue;
            }
        }
        // pausing is every node's: an admin may have asked another node
        if let Ok(p) = ctx.catalog.flag(PAUSED).await {
            r.paused
                .store(p.as_deref() == Some("true"), Ordering::SeqCst);
        }
        if !r.paused.load(Ordering::SeqCst) {
            let claimed = match ctx
                .catalog
                .claim_run(ctx.owner(), ctx.lease().as_millis() as i64)
                .await
            {
                Ok(Some(id)) => ctx.catalog.run(id).await,
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            match claimed {
                Ok(Some(run)) => {
                    if let Err(e) = ctx.execute(&run).await {
                        tracing::error!(run = run.id, error = %e, "renewal run stopped");
                        if matches!(e, RunError::Fault(_)) {
                            return; // tests: the "process" died here
                        }
                        tokio::time::sleep(ctx.settings.retry_min).await;
                    }
                    continue;
                }
                Ok(None) => match ctx.catalog.retry_due_run(ctx.now_ms()).await {
                    Ok(Some(run)) => {
                        tracing::info!(
                            run = run.id,
                            attempts = run.attempts,
                            not_renewed = run.not_renewed.len(),
                            "renewal: retrying an incomplete run"
                        );
                        if let Err(e) = ctx.catalog.requeue_incomplete_run(run.id).await {
                            tracing::error!(run = run.id, error = %e, "renewal: cannot queue the retry");
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "renewal: cannot read the retries");
                        if let Ok(mut st) = ctx.status.lock() {
                            st.last_error = Some(e.to_string());
                        }
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "renewal: cannot read the queue");
                    if let Ok(mut st) = ctx.status.lock() {
                        st.last_error = Some(e.to_string());
                    }
                }
            }
            let forced = r.check_now.swap(false, Ordering::SeqCst);
            if ctx.settings.automatic && (forced || tokio::time::Instant::now() >= next_check) {
                next_check = tokio::time::Instant::now() + ctx.settings.check_interval;
                match ctx.check().await {
                    Ok(q) if !q.is_empty() => continue,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "renewal: planning failed");
                        if let Ok(mut st) = ctx.status.lock() {
                            st.last_error = Some(e.to_string());
                        }
                    }
                }
            }
        }
        let mut wait = if ctx.settings.automatic && !r.paused.load(Ordering::SeqCst) {
            next_check.saturating_duration_since(tokio::time::Instant::now())
        } else {
            ctx.settings.check_interval
        };
        if ctx.cluster.is_some() {
            // runs other nodes queued, a pause or resume asked of another node
            wait = wait.min(ctx.settings.poll);
        }
        // an incomplete run's retry (at the renewal clock's time)
        if !r.paused.load(Ordering::SeqCst) {
            if let Ok(Some(at)) = ctx.catalog.next_retry(None).await {
                wait = wait.min(Duration::from_millis((at - ctx.now_ms()).max(0) as u64));
            }
        }
        tokio::select! {
            _ = tokio::time::timeout(wait.max(Duration::from_millis(10)), r.wake.notified()) => {}
            _ = stop.stopped() => return,
        }
    }
}
