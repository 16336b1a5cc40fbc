//! The workers and the feeder of a send.
//!
//! The feeder walks the deliveries still to mail page by page (so memory does not grow with
//! the audience) and hands them to `connections` workers through a small channel; workers
//! report back when a delivery is done for this run or should be retried later, and the
//! feeder schedules the retries. Each worker, for each message: waits for its rate slot,
//! commits `sending`, runs the SMTP transaction, queues the outcome for the writer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::progress::Counters;
use super::rate::RateLimit;
use super::writer::{WriterGone, WriterHandle};
use crate::issue::IssueId;
use crate::outgoing::message::Message;
use crate::outgoing::smtp::{self, ConnectError, Connection, Mailer, Outcome, SmtpError};
use crate::store::Store;
use crate::store::sends::{self, Pending, Update};

/// Deliveries read from the database at a time.
const PAGE: usize = 500;
/// Attempts per delivery within one run; a delivery still deferred after them waits for the
/// next run.
pub const MAX_ATTEMPTS_PER_RUN: u32 = 5;
/// The first retry waits this long, each further one twice as long.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// A run retries a deferred delivery itself only while the wait is this short.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// Consecutive connection failures (no SMTP reply at all) after which the run stops instead
/// of deferring the whole audience.
const MAX_CONNECTION_FAILURES: u32 = 10;
/// Consecutive messages whose end the server left unanswered (the connection open, no reply
/// within the wait) after which the run stops: such a server may deliver every copy it never
/// acknowledges, so each retry risks another double.
const MAX_IN_DOUBT: u32 = 3;

struct Job {
    delivery: Pending,
    /// Attempts made in this run.
    attempts: u32,
}

enum Feedback {
    /// Nothing more to do with this delivery in this run.
    Done,
    Retry(Job, Instant),
}

/// A retry waiting for its time; ordered by time, then by arrival.
struct Due {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Asking a run to stop early, and why.
pub struct Stop {
    flag: watch::Sender<bool>,
    reason: Mutex<Option<SmtpError>>,
}

impl Stop {
    pub fn new() -> (Arc<Stop>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let stop = Stop {
            flag: tx,
            reason: Mutex::new(None),
        };
        (Arc::new(stop), rx)
    }

    /// Asks everybody to stop after the messages in flight.
    pub fn request(&self) {
        self.flag.send_replace(true);
    }

    /// Stops because of the server; the first reason wins.
    fn because(&self, reason: SmtpError) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(reason);
        drop(slot);
        self.request();
    }

    pub fn requested(&self) -> bool {
        *self.flag.borrow()
    }

    pub fn take_reason(&self) -> Option<SmtpError> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What the workers share.
pub struct Context {
    pub message: Arc<Message>,
    pub mailer: Arc<Mailer>,
    pub rate: RateLimit,
    pub writer: WriterHandle,
    pub counters: Arc<Counters>,
    pub stop: Arc<Stop>,
    pub connection_failures: AtomicU32,
    /// Messages in a row whose end the server left unanswered.
    pub in_doubt: AtomicU32,
}

/// Mails every delivery of `issue` still to mail, with `connections` workers.
/// `first` is the connection the server check opened: the first worker uses it.
pub async fn run(
    context: Arc<Context>,
    reader: Store,
    issue: IssueId,
    connections: usize,
    first: Connection,
    stop_rx: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (job_tx, job_rx) = mpsc::channel::<Job>(connections * 2);
    let (feedback_tx, feedback_rx) = mpsc::unbounded_channel();
    let job_rx = Arc::new(tokio::sync::Mutex::new(job_rx));
    let mut first = Some(first);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(work(
                Arc::clone(&context),
                Arc::clone(&job_rx),
                feedback_tx.clone(),
                first.take(),
            ))
        })
        .collect();
    drop(job_rx);
    drop(feedback_tx);
    let fed = feed(reader, issue, job_tx, feedback_rx, stop_rx).await;
    if fed.is_err() {
        context.stop.request();
    }
    let mut first_error = fed.err();
    for worker in workers {
        let result = worker.await.context("a send worker panicked")?;
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The deliveries still to mail, read page by page.
struct Pages {
    store: Option<Store>,
    issue: IssueId,
    after: i64,
    buffer: VecDeque<Pending>,
    exhausted: bool,
}

impl Pages {
    async fn fill(&mut self) -> anyhow::Result<()> {
        if !self.buffer.is_empty() || self.exhausted {
            return Ok(());
        }
        let store = self.store.take().context("the delivery reader is gone")?;
        let (issue, after) = (self.issue, self.after);
        let (store, page) = tokio::task::spawn_blocking(move || {
            let page = sends::pending_page(&store.conn, issue, after, PAGE);
            (store, page)
        })
        .await?;
        self.store = Some(store);
        let page = page.context("reading the deliveries to mail")?;
        self.exhausted = page.len() < PAGE;
        if let Some(last) = page.last() {
            self.after = last.subscriber_id;
        }
        self.buffer.extend(page);
        Ok(())
    }
}

async fn feed(
    reader: Store,
    issue: IssueId,
    jobs: mpsc::Sender<Job>,
    mut feedback: mpsc::UnboundedReceiver<Feedback>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut pages = Pages {
        store: Some(reader),
        issue,
        after: 0,
        buffer: VecDeque::new(),
        exhausted: false,
    };
    let mut retries: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut in_flight = 0usize;
    loop {
        if *stop.borrow() {
            // Jobs not started stay queued or deferred in the database for the next run.
            return Ok(());
        }
        pages.fill().await?;
        let next_retry = retries.peek().map(|Reverse(d)| d.at);
        let retry_ready = next_retry.is_some_and(|at| at <= Instant::now());
        let ready = retry_ready || !pages.buffer.is_empty();
        if !ready && retries.is_empty() && in_flight == 0 {
            return Ok(());
        }
        tokio::select! {
            permit = jobs.reserve(), if ready => {
                let permit = permit.context("every send worker stopped")?;
                let job = if retry_ready {
                    retries.pop().map(|Reverse(due)| due.job)
                } else {
                    pages.buffer.pop_front().map(|delivery| Job { delivery, attempts: 0 })
                };
                let Some(job) = job else { continue };
                permit.send(job);
                in_flight += 1;
            }
            message = feedback.recv() => match message {
                Some(Feedback::Done) => in_flight -= 1,
                Some(Feedback::Retry(job, at)) => {
                    in_flight -= 1;
                    seq += 1;
                    retries.push(Reverse(Due { at, seq, job }));
                }
                None => anyhow::bail!("every send worker stopped"),
            },
            _ = tokio::time::sleep_until(next_retry.unwrap_or_else(Instant::now)),
                if !ready && next_retry.is_some() => {}
            _ = stop.changed() => {}
        }
    }
}

async fn work(
    context: Arc<Context>,
    jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    feedback: mpsc::UnboundedSender<Feedback>,
    mut connection: Option<Connection>,
) -> anyhow::Result<()> {
    loop {
        let next = jobs.lock().await.recv().await;
        let Some(job) = next else {
            break;
        };
        if context.stop.requested() {
            let _ = feedback.send(Feedback::Done);
            continue;
        }
        match deliver(&context, &mut connection, job).await {
            Ok(next) => {
                let _ = feedback.send(next);
            }
            Err(e) => {
                context.stop.request();
                return Err(e.into());
            }
        }
    }
    if let Some(connection) = connection {
        connection.close().await;
    }
    Ok(())
}

/// One attempt at one delivery, on this worker's connection (opened again when the last
/// message broke it).
async fn deliver(
    context: &Context,
    connection: &mut Option<Connection>,
    mut job: Job,
) -> Result<Feedback, WriterGone> {
    if job.attempts > 0 {
        context.counters.deferred.fetch_sub(1, Ordering::Relaxed);
    }
    job.attempts += 1;
    context.rate.acquire().await;
    let envelope = match smtp::envelope(context.message.from(), &job.delivery.email) {
        Ok(envelope) => envelope,
        Err(error) => return settle(context, job, Outcome::Failed(error)),
    };
    let open = match connection.take().filter(Connection::is_usable) {
        Some(open) => open,
        None => match context.mailer.connect().await {
            Ok(open) => open,
            Err(ConnectError::Setup(reason)) => {
                return settle(context, job, Outcome::Refused(reason));
            }
            Err(ConnectError::Network(error)) => {
                let outcome = Outcome::Deferred {
                    error,
                    connection: true,
                };
                return settle(context, job, outcome);
            }
        },
    };
    let open = connection.insert(open);
    let subscriber_id = job.delivery.subscriber_id;
    // Durable before the server sees the message: after a crash, `sending` rows are exactly
    // the ones that may have been delivered.
    context
        .writer
        .commit(Update::Sending { subscriber_id })
        .await?;
    let bytes = context.message.for_delivery(&job.delivery);
    let outcome = open.send(&context.mailer, &envelope, &bytes).await;
    settle(context, job, outcome)
}

fn settle(context: &Context, job: Job, outcome: Outcome) -> Result<Feedback, WriterGone> {
    let subscriber_id = job.delivery.subscriber_id;
    let counters = &context.counters;
    match outcome {
        Outcome::Sent => {
            note_answer(context);
            context.writer.record(Update::Sent { subscriber_id })?;
            counters.sent.fetch_add(1, Ordering::Relaxed);
            Ok(Feedback::Done)
        }
        Outcome::Failed(error) => {
            note_answer(context);
            context.writer.record(Update::Failed {
                subscriber_id,
                error,
            })?;
            counters.failed.fetch_add(1, Ordering::Relaxed);
            Ok(Feedback::Done)
        }
        Outcome::Deferred { error, connection } => {
            note_connection_failure(context, connection, &error);
            defer(context, job, error, false)
        }
        Outcome::InDoubt { error, silent } => {
            note_connection_failure(context, true, &error);
            if silent {
                let in_a_row = context.in_doubt.fetch_add(1, Ordering::Relaxed) + 1;
                if in_a_row >= MAX_IN_DOUBT {
                    context.stop.because(context.mailer.no_answer(in_a_row));
                }
            }
            defer(context, job, error, true)
        }
        Outcome::Refused(reason) => {
            context.writer.record(Update::Deferred {
                subscriber_id,
                error: reason.to_string(),
                next_attempt_at: None,
                in_doubt: false,
            })?;
            counters.deferred.fetch_add(1, Ordering::Relaxed);
            context.stop.because(reason);
            Ok(Feedback::Done)
        }
    }
}

/// Records a deferred delivery and schedules its retry in this run, if the wait is short.
fn defer(
    context: &Context,
    job: Job,
    error: String,
    in_doubt: bool,
) -> Result<Feedback, WriterGone> {
    let delay = RETRY_BASE * 2u32.saturating_pow(job.attempts - 1);
    let retry =
        job.attempts < MAX_ATTEMPTS_PER_RUN && delay <= MAX_RETRY_WAIT && !context.stop.requested();
    let next_attempt_at = retry
        .then(|| (chrono::Utc::now() + delay).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    context.writer.record(Update::Deferred {
        subscriber_id: job.delivery.subscriber_id,
        error,
        next_attempt_at,
        in_doubt,
    })?;
    context.counters.deferred.fetch_add(1, Ordering::Relaxed);
    Ok(if retry {
        Feedback::Retry(job, Instant::now() + delay)
    } else {
        Feedback::Done
    })
}

/// The server answered: the runs of failures to hear from it are over.
fn note_answer(context: &Context) {
    context.connection_failures.store(0, Ordering::Relaxed);
    context.in_doubt.store(0, Ordering::Relaxed);
}

/// Counts failures to reach the server at all; too many in a row stop the run.
fn note_connection_failure(context: &Context, connection: bool, error: &str) {
    if !connection {
        note_answer(context);
        return;
    }
    let failures = context.connection_failures.fetch_add(1, Ordering::Relaxed) + 1;
    if failures >= MAX_CONNECTION_FAILURES {
        context.stop.because(context.mailer.unreachable(error));
    }
}
