//! `dispatch send`: mailing an issue to its audience, resumably.
//!
//! The audience is fixed when a send starts (one `deliveries` row per active subscriber, in
//! one transaction, before any mail goes out); every run mails the rows not yet `sent` or
//! `failed`. See `store::sends` for the states and why `sending` is committed first.

pub mod engine;
pub mod progress;
pub mod rate;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::issue::IssueId;
use crate::outgoing::message::Message;
use crate::outgoing::smtp::{self, Settings, SmtpError};
use crate::report::Reporter;
use crate::store::Store;
use crate::store::sends::{self, DeliveryCounts};

/// Where a send stands before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub issue: IssueId,
    /// When the send started, if it did.
    pub started_at: Option<String>,
    /// Deliveries recorded so far (empty for a new send).
    pub counts: DeliveryCounts,
    /// What this run would mail: the active subscribers of a new send, or the deliveries not
    /// yet sent or failed of a started one.
    pub to_mail: i64,
    /// The first few of those addresses.
    pub first: Vec<String>,
    /// Active subscribers that are not part of a started send (they came later).
    pub outside: i64,
}

impl Plan {
    pub fn load(store: &Store, issue: IssueId, preview: usize) -> anyhow::Result<Plan> {
        let record = store.send_record(issue)?;
        let sends::Sample {
            count: to_mail,
            first,
        } = match record {
            Some(_) => store.pending_preview(issue, preview)?,
            None => store.audience_preview(preview)?,
        };
        Ok(Plan {
            issue,
            counts: store.delivery_counts(issue)?,
            outside: match record {
                Some(_) => store.subscribers_outside_send(issue)?,
                None => 0,
            },
            started_at: record.map(|r| r.started_at),
            to_mail,
            first,
        })
    }

    pub fn resuming(&self) -> bool {
        self.started_at.is_some()
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    pub issue: IssueId,
    pub before: DeliveryCounts,
    pub after: DeliveryCounts,
    /// Deliveries of this send that may have been delivered twice (see
    /// [`Store::in_doubt_deliveries`]): how many, and the first few addresses.
    pub in_doubt: sends::Sample,
    /// Active subscribers that are not part of this send.
    pub outside: i64,
    pub sent_now: u64,
    pub failed_now: u64,
    pub elapsed: Duration,
    /// The signal (Ctrl-C or SIGTERM) that interrupted the run, which then stopped after the
    /// messages in flight.
    pub interrupted: Option<crate::signal::StopSignal>,
    /// The server stopped the run (login refused, unreachable…).
    pub stopped_by: Option<SmtpError>,
    /// The first failed deliveries: address and error.
    pub failures: Vec<sends::FailedDelivery>,
}

/// Sends one copy of the issue to `to`; records nothing.
pub async fn send_test(settings: &Settings, message: &Message, to: &str) -> anyhow::Result<()> {
    crate::install_crypto_provider();
    {
        let mailer = smtp::Mailer::new(settings)?;
        let mut connection = mailer.check().await?;
        let envelope = smtp::envelope(message.from(), to).map_err(anyhow::Error::msg)?;
        let outcome = connection
            .send(&mailer, &envelope, &message.for_test(to))
            .await;
        connection.close().await;
        match outcome {
            smtp::Outcome::Sent => Ok(()),
            smtp::Outcome::InDoubt { error, .. } => {
                anyhow::bail!(
                    "the test message to {to} may or may not have been delivered: {error}"
                )
            }
            smtp::Outcome::Deferred { error, .. } => {
                anyhow::bail!("the server deferred the test message to {to}: {error}")
            }
            smtp::Outcome::Failed(error) => {
                anyhow::bail!("the server refused the test message to {to}: {error}")
            }
            smtp::Outcome::Refused(e) => Err(e.into()),
        }
    }
}

/// Only one `dispatch send` at a time per newsletter: two would mail the same people.
pub struct SendLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "another `dispatch send` is running for this newsletter (it holds {path}); wait for it to finish"
)]
pub struct AlreadyRunning {
    pub path: PathBuf,
}

impl SendLock {
    /// Locks `{database}-send.lock`; the lock goes with the process, even on a crash.
    pub fn acquire(database: &Path) -> anyhow::Result<SendLock> {
        let mut name = database.as_os_str().to_owned();
        name.push("-send.lock");
        let path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(SendLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(AlreadyRunning { path }.into()),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// A second Ctrl-C or SIGTERM stopped a send at once; the messages in flight count as in
/// doubt for the next run. The binary exits with the signal's code.
#[derive(Debug, thiserror::Error)]
#[error("stopped at once by a second signal")]
pub struct StoppedAtOnce {
    pub signal: crate::signal::StopSignal,
}

/// Checks the server, fixes the audience if the send is new, and mails every delivery still
/// to mail, reporting progress and interruptions to `reporter`. `store` must be held under a
/// [`SendLock`]. Runs best on a current-thread runtime: a send waits on the network, and one
/// thread saves the wake-ups between threads (measured: a quarter less CPU per message than
/// tokio's multi-threaded runtime); the database writer has its own thread.
pub async fn run(
    database: &Path,
    mut store: Store,
    settings: &Settings,
    message: Message,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Summary> {
    crate::install_crypto_provider();
    let started = Instant::now();
    let issue = message.issue;
    let mailer = Arc::new(smtp::Mailer::new(settings)?);
    // Login and TLS problems stop here, before anything is recorded.
    let first = mailer.check().await?;
    if store.send_record(issue)?.is_none() {
        store.start_send(issue, |id| message.message_id(id))?;
    }
    // What a crash left in the middle of its SMTP transaction may have been delivered.
    store.mark_in_flight_in_doubt(issue)?;
    let before = store.delivery_counts(issue)?;
    let reader = Store::open(database)?;
    let (writer, writer_handle) = writer::Writer::spawn(store, issue)?;
    let counters = Arc::new(progress::Counters::default());
    let (stop, stop_rx) = engine::Stop::new();
    let context = Arc::new(engine::Context {
        message: Arc::new(message),
        mailer: Arc::clone(&mailer),
        rate: rate::RateLimit::new(settings.rate),
        writer: writer_handle,
        counters: Arc::clone(&counters),
        stop: Arc::clone(&stop),
        connection_failures: AtomicU32::new(0),
        in_doubt: AtomicU32::new(0),
    });
    let interrupted = Arc::new(std::sync::OnceLock::new());
    let mut ctrl_c = tokio::spawn(on_interrupt(
        Arc::clone(&stop),
        Arc::clone(&interrupted),
        Arc::clone(&reporter),
    ));
    let ticker = progress::Ticker::start(
        issue.to_string(),
        before.pending() as u64,
        counters.clone(),
        reporter,
    );
    let connections = settings.connections.max(1) as usize;
    let result = tokio::select! {
        result = engine::run(context, reader, issue, connections, first, stop_rx) => result,
        Ok(Some(signal)) = &mut ctrl_c => {
            ticker.finish();
            return Err(StoppedAtOnce { signal }.into());
        }
    };
    ticker.finish();
    ctrl_c.abort();
    // The writer's own error explains a worker's "writer stopped" best: it goes first.
    let mut store = writer.finish()?;
    result?;
    store.finish_send_if_done(issue)?;
    let (sent_now, failed_now, _) = counters.get();
    Ok(Summary {
        issue,
        after: store.delivery_counts(issue)?,
        outside: store.subscribers_outside_send(issue)?,
        failures: store.failed_deliveries(issue, 10)?,
        in_doubt: store.in_doubt_deliveries(issue, 10)?,
        before,
        sent_now,
        failed_now,
        elapsed: started.elapsed(),
        interrupted: interrupted.get().copied(),
        stopped_by: stop.take_reason(),
    })
}

/// The first Ctrl-C or SIGTERM stops the run after the messages in flight; a second one exits
/// at once (those messages then count as in flight, in doubt, for the next run): its signal is
/// returned.
async fn on_interrupt(
    stop: Arc<engine::Stop>,
    interrupted: Arc<std::sync::OnceLock<crate::signal::StopSignal>>,
    reporter: Arc<dyn Reporter>,
) -> Option<crate::signal::StopSignal> {
    let first = crate::signal::stop_requested().await.ok()?;
    let _ = interrupted.set(first);
    reporter.notice(&format!(
        "{}: finishing the messages in flight (press Ctrl-C again to quit now)",
        match first {
            crate::signal::StopSignal::Interrupt => "interrupted",
            crate::signal::StopSignal::Terminate => "stopping (SIGTERM)",
        }
    ));
    stop.request();
    crate::signal::stop_requested().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_send_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("subscribers.db");
        let held = SendLock::acquire(&database).unwrap();
        assert_eq!(held.path, dir.path().join("subscribers.db-send.lock"));
        let err = SendLock::acquire(&database).err().unwrap();
        assert!(err.downcast_ref::<AlreadyRunning>().is_some(), "{err:#}");
        drop(held);
        SendLock::acquire(&database).unwrap();
    }
}
