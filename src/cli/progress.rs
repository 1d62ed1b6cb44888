//! Progress of long command-line work, on stderr: a bar (indicatif) when
//! stderr is a terminal; otherwise a plain line at most every
//! [`PLAIN_EVERY`] (nothing for work that ends sooner), so that logs of
//! scripted runs stay readable and short runs stay quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is written.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What is counted.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub enum Unit {
    Bytes,
    /// Object versions whose chains a renewal extends.
    Chains,
}

pub struct Progress {
    what: String,
    unit: Unit,
    total: u64,
    pos: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    last_line: Instant,
    /// A further figure shown after the count (e.g. the bytes a renewal read).
    extra: String,
}

/// `1.2 GB`, `340 MB`, `12 kB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.1} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.0} kB", f / 1e3)
    } else {
        format!("{n} B")
    }
}

impl Progress {
    /// Progress of `what` over `total` units.
    pub fn new(what: impl Into<String>, unit: Unit, total: u64) -> Self {
        let what = what.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = match unit {
                Unit::Bytes => {
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} · {bytes_per_sec} · {eta} left {msg}"
                }
                Unit::Chains => {
                    "{prefix} [{bar:30}] {pos}/{len} chains · {per_sec} · {eta} left {msg}"
                }
            };
            b.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.clone());
            b
        });
        Progress {
            what,
            unit,
            total,
            pos: 0,
            started: Instant::now(),
            bar,
            last_line: Instant::now(),
            extra: String::new(),
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.set(self.pos.saturating_add(n));
    }

    /// The total, when it becomes known later.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    /// A figure shown after the count.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub fn set_extra(&mut self, extra: String) {
        if let Some(b) = &self.bar {
            b.set_message(extra.clone());
        }
        self.extra = extra;
    }

    pub fn set(&mut self, pos: u64) {
        self.pos = pos;
        match &self.bar {
            Some(b) => b.set_position(pos),
            None => {
                if self.last_line.elapsed() >= PLAIN_EVERY {
                    self.last_line = Instant::now();
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    /// The plain line: count of total, share, rate, time left.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.pos as f64 / secs;
        let count = |n: u64| match self.unit {
            Unit::Bytes => human_bytes(n),
            Unit::Chains => n.to_string(),
        };
        let mut s = format!(
            "{}: {} of {}",
            self.what,
            count(self.pos),
            count(self.total)
        );
        if self.total > 0 {
            s.push_str(&format!(
                " ({:.0}%)",
                100.0 * self.pos as f64 / self.total as f64
            ));
        }
        match self.unit {
            Unit::Bytes => s.push_str(&format!(", {}/s", human_bytes(rate as u64))),
            Unit::Chains => s.push_str(&format!(", {rate:.0} chains/s")),
        }
        if rate > 0.0 && self.total > self.pos {
            s.push_str(&format!(
                ", about {:.0} s left",
                (self.total - self.pos) as f64 / rate
            ));
        }
        if !self.extra.is_empty() {
            s.push_str(&format!(", {}", self.extra));
        }
        s
    }

    /// Ends the bar (a plain run says nothing more: the command's result follows).
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// Progress of hashing `paths` (their sizes added up; unreadable ones count 0).
pub fn hashing(what: String, paths: &[std::path::PathBuf]) -> Progress {
    let total = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    Progress::new(what, Unit::Bytes, total)
}

/// The digest of a file, read in 1 MiB pieces, counted into `progress`.
pub fn hash_file(
    path: &std::path::Path,
    alg: bewahr::alg::DigestAlgorithm,
    progress: &mut Progress,
) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = bewahr::alg::Hasher::new(alg);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
        progress.inc(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        assert_eq!(human_bytes(1_234_567_890), "1.2 GB");
        assert_eq!(human_bytes(512), "512 B");
        let mut p = Progress::new("hashing", Unit::Bytes, 2_000_000);
        p.bar = None;
        p.pos = 1_000_000;
        let l = p.line();
        assert!(l.starts_with("hashing: 1.0 MB of 2.0 MB (50%), "), "{l}");
        assert!(l.contains("s left"), "{l}");
    }
}
