//! The binary's rendering of what the library reports: a bar on a terminal, a line every few
//! seconds otherwise; notices and errors as lines on stderr.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use dispatch::report::{Count, Progress, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain (non-terminal) progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Stderr {
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    /// When the last plain line was written (in the run's elapsed time).
    last_line: Duration,
}

impl Stderr {
    pub fn new() -> Stderr {
        Stderr {
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    fn line(&self, line: &str) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &state.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl Reporter for Stderr {
    fn progress(&self, p: &Progress) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.terminal {
            let bar = state.bar.get_or_insert_with(|| new_bar(p));
            bar.set_position(p.done());
            bar.set_message(format!(
                "sent {} · deferred {} · failed {} · {:.0} msg/s",
                p.sent,
                p.deferred,
                p.failed,
                p.rate()
            ));
        } else if p.elapsed >= state.last_line + PLAIN_EVERY {
            state.last_line = p.elapsed;
            eprintln!("{}", plain_line(p));
        }
    }

    fn progress_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
        state.last_line = Duration::ZERO;
    }

    fn error(&self, message: &str) {
        self.line(&format!("error: {message}"));
    }

    fn notice(&self, message: &str) {
        self.line(message);
    }
}

/// A bar counting messages (`replies import`).
pub struct Bar(pub ProgressBar);

impl Bar {
    pub fn finish_and_clear(&self) {
        self.0.finish_and_clear();
    }
}

impl Count for Bar {
    fn set_length(&self, total: u64) {
        self.0.set_length(total);
    }

    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
}

fn new_bar(p: &Progress) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(p.total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{wide_bar}] {msg} · ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(p.label.clone());
    bar
}

fn plain_line(p: &Progress) -> String {
    let (done, rate) = (p.done(), p.rate());
    let left = p.total.saturating_sub(done);
    let eta = if rate > 0.0 {
        format!(", about {:.0} s left", left as f64 / rate)
    } else {
        String::new()
    };
    format!(
        "{}: {done} of {} done (sent {}, deferred {}, failed {}), {rate:.0} msg/s{eta}",
        p.label, p.total, p.sent, p.deferred, p.failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_has_counts_rate_and_eta() {
        let p = Progress {
            label: "V1N2".into(),
            total: 300,
            sent: 90,
            failed: 10,
            deferred: 3,
            elapsed: Duration::from_secs(10),
        };
        assert_eq!(
            plain_line(&p),
            "V1N2: 100 of 300 done (sent 90, deferred 3, failed 10), 10 msg/s, about 20 s left"
        );
    }
}
