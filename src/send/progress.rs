//! Progress of a running send: a bar on a terminal, a line every few seconds otherwise.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

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

const PLAIN_EVERY: Duration = Duration::from_secs(5);
const BAR_EVERY: Duration = Duration::from_millis(200);

pub struct Reporter {
    task: JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// Starts reporting on stderr; `total` is what this run has to mail.
    pub fn start(label: String, total: u64, counters: Arc<Counters>) -> Reporter {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{wide_bar}] {msg} · ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(label);
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    let (sent, failed, deferred) = counters.get();
                    let rate = (sent + failed) as f64 / started.elapsed().as_secs_f64().max(0.001);
                    shown.set_position(sent + failed);
                    shown.set_message(format!(
                        "sent {sent} · deferred {deferred} · failed {failed} · {rate:.0} msg/s"
                    ));
                    tokio::time::sleep(BAR_EVERY).await;
                }
            });
            Reporter {
                task,
                bar: Some(bar),
            }
        } else {
            let task = tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    tokio::time::sleep(PLAIN_EVERY).await;
                    eprintln!(
                        "{}",
                        plain_line(&label, total, &counters, started.elapsed())
                    );
                }
            });
            Reporter { task, bar: None }
        }
    }

    pub fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn plain_line(label: &str, total: u64, counters: &Counters, elapsed: Duration) -> String {
    let (sent, failed, deferred) = counters.get();
    let done = sent + failed;
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let left = total.saturating_sub(done);
    let eta = if rate > 0.0 {
        format!(", about {:.0} s left", left as f64 / rate)
    } else {
        String::new()
    };
    format!(
        "{label}: {done} of {total} done (sent {sent}, deferred {deferred}, failed {failed}), {rate:.0} msg/s{eta}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_has_counts_rate_and_eta() {
        let c = Counters::default();
        c.sent.store(90, Ordering::Relaxed);
        c.failed.store(10, Ordering::Relaxed);
        c.deferred.store(3, Ordering::Relaxed);
        let line = plain_line("V1N2", 300, &c, Duration::from_secs(10));
        assert_eq!(
            line,
            "V1N2: 100 of 300 done (sent 90, deferred 3, failed 10), 10 msg/s, about 20 s left"
        );
    }
}
