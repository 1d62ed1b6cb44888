//! What this node did lately, for the admin dashboard (`/ui/admin`): two
//! counters the submission path bumps (relaxed atomic adds, nothing
//! locked), the waiting time of the last sealed batch, and a small time
//! series a worker samples from them every [`SAMPLE_EVERY`] (a day of
//! samples, 8,640 of 40 bytes: about 350 KB).
//!
//! Contract: per node and in memory only. It is the live view; what was
//! archived is in the catalog, and the Prometheus metrics (`/metrics`) are
//! the long-term record an installation scrapes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// How often the series is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How many samples are kept (24 hours).
pub const KEEP: usize = 8_640;

/// One sample: running totals since the process started, and the state at the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Versions recorded by this node so far.
    pub versions: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Versions waiting for their batch (as this node counts them).
    pub pending: u64,
    /// How long the first version of the last sealed batch waited for it
    /// (milliseconds; 0 before the first batch).
    pub latency_ms: i64,
}

#[derive(Default)]
struct Inner {
    versions: AtomicU64,
    bytes: AtomicU64,
    /// When the first version since the last sealed batch was recorded
    /// (Unix ms; 0: none since).
    first_pending_ms: AtomicI64,
    last_latency_ms: AtomicI64,
    series: Mutex<VecDeque<Sample>>,
}

/// The counters and the series (shared; cheap to clone).
#[derive(Clone, Default)]
pub struct Activity(Arc<Inner>);

/// The wall clock in Unix milliseconds (the dashboard's times are real
/// times, also under a test's archive clock).
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Activity {
    /// A version of `bytes` bytes was recorded at `at_ms`.
    pub fn recorded(&self, bytes: u64, at_ms: i64) {
        self.0.versions.fetch_add(1, Ordering::Relaxed);
        self.0.bytes.fetch_add(bytes, Ordering::Relaxed);
        let _ = self.0.first_pending_ms.compare_exchange(
            0,
            at_ms,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// A batch was sealed at `at_ms`: its waiting time is that of the
    /// first version recorded since the batch before.
    pub fn sealed(&self, at_ms: i64) {
        let first = self.0.first_pending_ms.swap(0, Ordering::Relaxed);
        if first > 0 {
            self.0
                .last_latency_ms
                .store((at_ms - first).max(0), Ordering::Relaxed);
        }
    }

    /// The figures now (not kept).
    pub fn current(&self, at_ms: i64, pending: u64) -> Sample {
        Sample {
            at_ms,
            versions: self.0.versions.load(Ordering::Relaxed),
            bytes: self.0.bytes.load(Ordering::Relaxed),
            pending,
            latency_ms: self.0.last_latency_ms.load(Ordering::Relaxed),
        }
    }

    /// Versions per minute between the oldest kept sample of the last
    /// `window_ms` and `now` (`None`: no sample a minute old yet).
    pub fn rate_per_min(&self, now: &Sample, window_ms: i64) -> Option<f64> {
        let then = *self.since(now.at_ms - window_ms).first()?;
        let minutes = (now.at_ms - then.at_ms) as f64 / 60_000.0;
        // a rate over less than a minute says little
        (minutes >= 1.0)
            .then(|| round2(now.versions.saturating_sub(then.versions) as f64 / minutes))
    }

    /// Takes a sample now and keeps it.
    pub fn sample(&self, at_ms: i64, pending: u64) -> Sample {
        let s = self.current(at_ms, pending);
        if let Ok(mut q) = self.0.series.lock() {
            if q.len() == KEEP {
                q.pop_front();
            }
            q.push_back(s);
        }
        s
    }

    /// The samples since `since_ms`, oldest first.
    pub fn since(&self, since_ms: i64) -> Vec<Sample> {
        self.0
            .series
            .lock()
            .map(|q| q.iter().filter(|s| s.at_ms >= since_ms).copied().collect())
            .unwrap_or_default()
    }

    /// The series as the dashboard plots it: per interval between two
    /// samples, versions and megabytes per minute, pending versions and the
    /// last batch's waiting time in seconds (columns, as uPlot takes them).
    pub fn plot(&self, since_ms: i64) -> Plot {
        let s = self.since(since_ms);
        let mut p = Plot::default();
        for w in s.windows(2) {
            let (a, b) = (w[0], w[1]);
            let minutes = ((b.at_ms - a.at_ms) as f64 / 60_000.0).max(1e-9);
            p.t.push(b.at_ms as f64 / 1000.0);
            p.versions_per_min.push(round2(
                b.versions.saturating_sub(a.versions) as f64 / minutes,
            ));
            p.mb_per_min.push(round2(
                b.bytes.saturating_sub(a.bytes) as f64 / 1e6 / minutes,
            ));
            p.pending.push(b.pending);
            p.latency_s.push(round2(b.latency_ms as f64 / 1000.0));
        }
        p
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Columns for the dashboard's plots.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plot {
    /// Unix seconds, the end of each interval.
    pub t: Vec<f64>,
    pub versions_per_min: Vec<f64>,
    pub mb_per_min: Vec<f64>,
    pub pending: Vec<u64>,
    pub latency_s: Vec<f64>,
}

/// Samples every [`SAMPLE_EVERY`] until the supervisor stops.
pub fn spawn_sampler(
    activity: Activity,
    sealer: crate::seal::Sealer,
    sup: &crate::supervisor::Supervisor,
) {
    let mut stop = sup.stop_signal();
    sup.spawn("activity", async move {
        loop {
            activity.sample(wall_ms(), sealer.pending() as u64);
            tokio::select! {
                _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                _ = stop.stopped() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_latency_from_samples() {
        let a = Activity::default();
        a.sample(0, 0);
        a.recorded(1_000_000, 1_000);
        a.recorded(2_000_000, 2_000);
        a.sealed(31_000);
        a.sample(60_000, 0);
        let p = a.plot(0);
        assert_eq!(p.t, vec![60.0]);
        assert_eq!(p.versions_per_min, vec![2.0]);
        assert_eq!(p.mb_per_min, vec![3.0]);
        // the first version since the last batch waited 30 s
        assert_eq!(p.latency_s, vec![30.0]);
        // a batch with nothing recorded since keeps the last waiting time
        a.sealed(90_000);
        assert_eq!(a.sample(120_000, 0).latency_ms, 30_000);
    }

    #[test]
    fn keeps_a_day() {
        let a = Activity::default();
        for i in 0..(KEEP as i64 + 5) {
            a.sample(i, 0);
        }
        let all = a.since(0);
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].at_ms, 5);
    }
}
