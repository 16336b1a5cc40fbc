//! Progress of a running send, reported a few times a second to the caller's reporter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::report::{Progress, Reporter};

/// What this run did so far; the workers count, the reporter reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Deliveries deferred and not (yet) sent: waiting for a retry or left for the next run.
    pub deferred: AtomicU64,
}

impl Counters {
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.deferred.load(Ordering::Relaxed),
        )
    }
}

/// How often a running send reports its counters.
const EVERY: Duration = Duration::from_millis(200);

/// Reports the counters of a running send until finished.
pub struct Ticker {
    task: JoinHandle<()>,
    reporter: Arc<dyn Reporter>,
}

impl Ticker {
    /// Starts reporting; `total` is what this run has to mail.
    pub fn start(
        label: String,
        total: u64,
        counters: Arc<Counters>,
        reporter: Arc<dyn Reporter>,
    ) -> Ticker {
        let shown = Arc::clone(&reporter);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            loop {
                shown.progress(&progress(&label, total, &counters, started.elapsed()));
                tokio::time::sleep(EVERY).await;
            }
        });
        Ticker { task, reporter }
    }

    pub fn finish(self) {
        self.task.abort();
        self.reporter.progress_done();
    }
}

fn progress(label: &str, total: u64, counters: &Counters, elapsed: Duration) -> Progress {
    let (sent, failed, deferred) = counters.get();
    Progress {
        label: label.to_string(),
        total,
        sent,
        failed,
        deferred,
        elapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_has_counts_and_rate() {
        let c = Counters::default();
        c.sent.store(90, Ordering::Relaxed);
        c.failed.store(10, Ordering::Relaxed);
        c.deferred.store(3, Ordering::Relaxed);
        let p = progress("V1N2", 300, &c, Duration::from_secs(10));
        assert_eq!((p.done(), p.deferred, p.rate()), (100, 3, 10.0));
    }
}
