//! The archive's long-lived workers (catalog writer, audit queue, sealer,
//! renewal scheduler, the aggregated audit of failed authentications) run
//! under one [`Supervisor`]: it keeps their handles, records how each ended
//! (a panic with its message, an unexpected return), reports every worker's
//! state in `/healthz` and `GET /v1/admin/workers`, and drains them on
//! shutdown within a deadline.
//!
//! Shutdown order follows the channels: the stop signal ends the workers
//! that act on their own (sealer, scheduler, auth audit); once they and the
//! request handlers have dropped their handles, the audit queue drains into
//! the writer, and the writer commits what it holds and ends. No worker is
//! restarted: each holds state (a channel's other end, a run in progress)
//! that a fresh copy would not have, so a dead worker makes the archive
//! report `failed` and an orchestrator restart the process, which recovers
//! from the catalog (pending versions, interrupted runs).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A worker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Doing its work.
    Running,
    /// Asked to stop, finishing what it holds.
    Stopping,
    /// Ended after being asked to (or after its inputs closed at shutdown).
    Stopped,
    /// Ended on its own while the archive runs: a fault.
    Ended,
    /// Panicked: a fault; `last_error` has the message.
    Panicked,
    /// Did not end within the shutdown deadline and was cancelled.
    Abandoned,
}

impl WorkerState {
    /// Whether the worker is gone while it should be working.
    pub fn is_fault(self) -> bool {
        matches!(self, WorkerState::Ended | WorkerState::Panicked)
    }
}

/// One worker, as admins see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WorkerReport {
    pub name: &'static str,
    pub state: WorkerState,
    /// When it entered that state (RFC 3339).
    pub since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

struct Worker {
    report: Arc<Mutex<WorkerReport>>,
    handle: Option<JoinHandle<()>>,
}

struct Inner {
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<Worker>>,
}

/// The workers' supervisor (cheap to clone).
#[derive(Clone)]
pub struct Supervisor(Arc<Inner>);

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

fn now() -> String {
    bewahr_core::tsp::trust::rfc3339(time::OffsetDateTime::now_utc())
}

/// Tells a worker that the archive is stopping.
#[derive(Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Resolves once the archive is stopping (at once if it already is).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        let (stop, _) = watch::channel(false);
        Supervisor(Arc::new(Inner {
            stop,
            workers: Mutex::new(Vec::new()),
        }))
    }

    /// The signal workers watch to end their loops.
    pub fn stop_signal(&self) -> StopSignal {
        StopSignal(self.0.stop.subscribe())
    }

    /// Runs `work` as the worker `name`, recording how it ends.
    pub fn spawn<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let report = Arc::new(Mutex::new(WorkerReport {
            name,
            state: WorkerState::Running,
            since: now(),
            last_error: None,
        }));
        let r = report.clone();
        let stop = self.0.stop.subscribe();
        let handle = tokio::spawn(async move {
            let outcome = AssertUnwindSafe(work).catch_unwind().await;
            let stopping = *stop.borrow();
            let (state, error) = match outcome {
                Ok(()) if stopping => (WorkerState::Stopped, None),
                Ok(()) => (
                    WorkerState::Ended,
                    Some("ended while the archive runs".into()),
                ),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "(no message)".into());
                    (WorkerState::Panicked, Some(msg))
                }
            };
            if state.is_fault() {
                tracing::error!(worker = name, ?state, error = ?error, "a worker is gone");
                metrics::counter!("bewahr_worker_faults_total", "worker" => name).increment(1);
            }
            if let Ok(mut g) = r.lock() {
                g.state = state;
                g.since = now();
                if error.is_some() {
                    g.last_error = error;
                }
            }
        });
        if let Ok(mut w) = self.0.workers.lock() {
            w.push(Worker {
                report,
                handle: Some(handle),
            });
        }
    }

    /// Every worker's state.
    pub fn report(&self) -> Vec<WorkerReport> {
        self.0
            .workers
            .lock()
            .map(|w| {
                w.iter()
                    .filter_map(|w| w.report.lock().ok().map(|r| r.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Signals the stop and waits up to `deadline` for every worker to end;
    /// those still running then are cancelled (`abandoned`). Call it after
    /// the request handlers are gone (the writer ends when its last handle
    /// does). Returns the final states.
    pub async fn shutdown(&self, deadline: Duration) -> Vec<WorkerReport> {
        let _ = self.0.stop.send(true);
        let handles: Vec<(Arc<Mutex<WorkerReport>>, JoinHandle<()>)> = self
            .0
            .workers
            .lock()
            .map(|mut w| {
                w.iter_mut()
                    .filter_map(|w| w.handle.take().map(|h| (w.report.clone(), h)))
                    .collect()
            })
            .unwrap_or_default();
        for (r, _) in &handles {
            if let Ok(mut g) = r.lock() {
                if g.state == WorkerState::Running {
                    g.state = WorkerState::Stopping;
                    g.since = now();
                }
            }
        }
        let until = tokio::time::Instant::now() + deadline;
        for (r, mut h) in handles {
            if tokio::time::timeout_at(until, &mut h).await.is_err() {
                h.abort();
                if let Ok(mut g) = r.lock() {
                    tracing::warn!(worker = g.name, "worker did not stop within the deadline");
                    g.state = WorkerState::Abandoned;
                    g.since = now();
                }
            }
        }
        self.report()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_panics_ends_and_stops() {
        let sup = Supervisor::new();
        sup.spawn("boom", async { panic!("the disk caught fire") });
        sup.spawn("quits", async {});
        let mut stop = sup.stop_signal();
        sup.spawn("loop", async move { stop.stopped().await });
        sup.spawn("stuck", std::future::pending());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = sup.report();
        let state = |n: &str| r.iter().find(|w| w.name == n).unwrap().clone();
        assert_eq!(state("boom").state, WorkerState::Panicked);
        assert_eq!(
            state("boom").last_error.as_deref(),
            Some("the disk caught fire")
        );
        assert_eq!(state("quits").state, WorkerState::Ended);
        assert_eq!(state("loop").state, WorkerState::Running);
        assert!(r.iter().any(|w| w.state.is_fault()));
        let end = sup.shutdown(Duration::from_millis(200)).await;
        let state = |n: &str| end.iter().find(|w| w.name == n).unwrap().state;
        assert_eq!(state("loop"), WorkerState::Stopped);
        assert_eq!(state("stuck"), WorkerState::Abandoned);
        assert_eq!(state("boom"), WorkerState::Panicked);
    }
}
