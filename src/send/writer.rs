//! The one thread that writes delivery states, so SQLite is never what a send waits for.
//!
//! Updates arrive on a channel; the writer commits whatever has queued up (at most
//! [`MAX_BATCH`] rows) in one transaction as soon as the queue runs dry. Under load updates pile
//! up while a transaction commits, so batches grow by themselves; when idle, an outcome is
//! committed at once instead of waiting for company, which keeps the window small in which a
//! crash forgets a delivery that happened. An update sent with [`WriterHandle::commit`] is
//! acknowledged only after the transaction holding it (and everything queued before it) is
//! committed: a worker marks a delivery `sending` that way before the SMTP transaction starts.

use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use tokio::sync::oneshot;

use crate::issue::IssueId;
use crate::store::Store;
use crate::store::sends::{self, Update};

pub const MAX_BATCH: usize = 500;

enum Command {
    Record(Update),
    Commit(Update, oneshot::Sender<()>),
}

/// The writer thread stopped (its error is returned by [`Writer::finish`]).
#[derive(Debug, thiserror::Error)]
#[error("the database writer stopped")]
pub struct WriterGone;

/// Sends updates to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Command>,
}

impl WriterHandle {
    /// Queues an update; it is committed with the next batch.
    pub fn record(&self, update: Update) -> Result<(), WriterGone> {
        self.tx
            .send(Command::Record(update))
            .map_err(|_| WriterGone)
    }

    /// Queues an update and waits until it is committed.
    pub async fn commit(&self, update: Update) -> Result<(), WriterGone> {
        let (done, committed) = oneshot::channel();
        self.tx
            .send(Command::Commit(update, done))
            .map_err(|_| WriterGone)?;
        committed.await.map_err(|_| WriterGone)
    }
}

pub struct Writer {
    thread: JoinHandle<anyhow::Result<Store>>,
}

impl Writer {
    /// Starts the thread; it owns `store` until [`Writer::finish`].
    pub fn spawn(store: Store, issue: IssueId) -> anyhow::Result<(Writer, WriterHandle)> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("dispatch-db-writer".into())
            .spawn(move || run(store, issue, rx))
            .context("cannot start the database writer thread")?;
        Ok((Writer { thread }, WriterHandle { tx }))
    }

    /// Waits until every handle is dropped and the last batch is committed.
    pub fn finish(self) -> anyhow::Result<Store> {
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the database writer thread panicked"))?
    }
}

fn run(mut store: Store, issue: IssueId, rx: mpsc::Receiver<Command>) -> anyhow::Result<Store> {
    let mut updates = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::new();
    while let Ok(first) = rx.recv() {
        collect(first, &rx, &mut updates, &mut waiting);
        store
            .batch(|batch| Ok(sends::apply(batch, issue, &updates)?))
            .context("recording delivery states")?;
        updates.clear();
        for done in waiting.drain(..) {
            // A worker that went away no longer needs the answer.
            let _ = done.send(());
        }
    }
    Ok(store)
}

/// Gathers one batch: `first` and what is queued behind it.
fn collect(
    first: Command,
    rx: &mpsc::Receiver<Command>,
    updates: &mut Vec<Update>,
    waiting: &mut Vec<oneshot::Sender<()>>,
) {
    let mut next = Some(first);
    while let Some(command) = next {
        match command {
            Command::Record(u) => updates.push(u),
            Command::Commit(u, done) => {
                updates.push(u);
                waiting.push(done);
            }
        }
        next = if updates.len() < MAX_BATCH {
            rx.try_recv().ok()
        } else {
            None
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commit_is_visible_when_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let issue = IssueId::new(1, 1);
        let mut store = Store::open(&path).unwrap();
        store.add_subscriber("a@example.org", None).unwrap();
        store.start_send(issue, |id| format!("m{id}")).unwrap();
        let (writer, handle) = Writer::spawn(store, issue).unwrap();
        handle
            .commit(Update::Sending { subscriber_id: 1 })
            .await
            .unwrap();
        let reader = Store::open(&path).unwrap();
        assert_eq!(reader.delivery_counts(issue).unwrap().sending, 1);
        handle.record(Update::Sent { subscriber_id: 1 }).unwrap();
        drop(handle);
        let store = writer.finish().unwrap();
        assert_eq!(store.delivery_counts(issue).unwrap().sent, 1);
    }
}
