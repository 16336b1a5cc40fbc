//! The worker that sends the queued confirmation and welcome mails: whatever is due, over one
//! SMTP connection, as soon as a signup or a confirmation wakes it and otherwise when the next
//! retry is due. A 4xx answer or a failed connection is tried again after each of the
//! [`RETRY_DELAYS`] in turn and given up after the last; a 5xx is given up at once. A mail is
//! marked sent only once the server took it: a crash before that sends it again on restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::mail::Mails;
use crate::outgoing::smtp::{self, Connection, Mailer, Outcome};
use crate::report::Reporter;
use crate::store::Store;
use crate::store::mail_queue::{MailKind, QueuedMail, stamp};
use crate::store::subscribers::Status;

/// The waits before the second, third, fourth and fifth attempts; after the fifth the mail is
/// given up.
pub const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
];

/// How often unconfirmed signups are looked at for expiry.
const EXPIRE_EVERY: Duration = Duration::from_secs(3600);

/// The longest the worker sleeps without looking at the queue.
const IDLE_CHECK: Duration = Duration::from_secs(60);

pub struct Worker {
    pub store: Arc<Mutex<Store>>,
    pub mails: Arc<Mails>,
    pub mailer: Mailer,
    pub from: lettre::Address,
    pub issues_dir: PathBuf,
    pub wake: Arc<Notify>,
    pub retry_delays: Vec<Duration>,
    pub pending_days: u32,
    pub reporter: Arc<dyn Reporter>,
    /// Mails the server took whose `sent` could not be recorded yet (the database locked or
    /// full): recorded later, never sent again by this process.
    pub unrecorded: Mutex<std::collections::HashSet<i64>>,
}

/// Runs `f` on the store on a blocking thread.
pub async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut store)
    })
    .await?
}

impl Worker {
    /// Sends until `stop` completes (between two mails, never in the middle of one).
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_expiry: Option<tokio::time::Instant> = None;
        loop {
            if last_expiry.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY) {
                let days = self.pending_days;
                match with_store(&self.store, move |s| s.expire_pending(days)).await {
                    Ok(0) => {}
                    Ok(n) => self
                        .reporter
                        .notice(&format!("{n} unconfirmed signup(s) expired")),
                    Err(e) => self.reporter.error(&format!("expiring signups: {e:#}")),
                }
                last_expiry = Some(tokio::time::Instant::now());
            }
            let wait = match self.send_due().await {
                Ok(wait) => wait,
                Err(e) => {
                    self.reporter.error(&format!("mail queue: {e:#}"));
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends every mail due now; returns how long to wait for the next.
    async fn send_due(&self) -> anyhow::Result<Duration> {
        let mut connection: Option<Connection> = None;
        loop {
            let due = with_store(&self.store, |s| s.due_mails(50)).await?;
            if due.is_empty() {
                break;
            }
            let mut sent_any = false;
            for mail in due {
                if self.was_sent(mail.id) {
                    self.record_sent(mail.id).await?;
                    continue;
                }
                sent_any = true;
                self.send_one(&mail, &mut connection).await?;
            }
            if !sent_any {
                break;
            }
        }
        if let Some(connection) = connection {
            connection.close().await;
        }
        let next = with_store(&self.store, |s| s.next_mail_due()).await?;
        Ok(next
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| {
                (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    // Times are stored to the second: never wake before the one due.
                    + Duration::from_millis(500)
            })
            .map_or(IDLE_CHECK, |d| d.min(IDLE_CHECK)))
    }

    async fn send_one(
        &self,
        mail: &QueuedMail,
        connection: &mut Option<Connection>,
    ) -> anyhow::Result<()> {
        let id = mail.id;
        let wanted = match mail.kind {
            MailKind::Confirm => Status::Pending,
            MailKind::Welcome => Status::Active,
        };
        if mail.subscriber.status != wanted {
            return with_store(&self.store, move |s| s.mail_cancelled(id)).await;
        }
        let outgoing = match self.mails.message(mail, &self.issues_dir) {
            Ok(outgoing) => outgoing,
            Err(e) => return self.give_up(mail, &format!("{e:#}")).await,
        };
        let envelope = match smtp::envelope(&self.from, &outgoing.to) {
            Ok(envelope) => envelope,
            Err(e) => return self.give_up(mail, &e).await,
        };
        if connection.as_ref().is_none_or(|c| !c.is_usable()) {
            *connection = match self.mailer.connect().await {
                Ok(c) => Some(c),
                Err(e) => {
                    let reason = match e {
                        smtp::ConnectError::Setup(e) => e.to_string(),
                        smtp::ConnectError::Network(reason) => reason,
                    };
                    return self.retry(mail, &format!("cannot connect: {reason}")).await;
                }
            };
        }
        let Some(open) = connection.as_mut() else {
            return Ok(());
        };
        match open.send(&self.mailer, &envelope, &outgoing.bytes).await {
            Outcome::Sent => {
                self.lock_unrecorded().insert(id);
                self.reporter
                    .notice(&format!("{} mail {id} sent", mail.kind.as_str()));
                self.record_sent(id).await
            }
            // No answer to the end of the message: the server most likely has it. Sending it
            // again could only make a copy, so it counts as sent.
            Outcome::InDoubt { error, .. } => {
                self.lock_unrecorded().insert(id);
                self.reporter.notice(&format!(
                    "{} mail {id} in doubt, not sent again: {}",
                    mail.kind.as_str(),
                    crate::report::without_addresses(&error)
                ));
                self.record_sent(id).await
            }
            Outcome::Deferred { error, .. } => self.retry(mail, &error).await,
            Outcome::Refused(e) => self.retry(mail, &e.to_string()).await,
            Outcome::Failed(error) => self.give_up(mail, &error).await,
        }
    }

    fn lock_unrecorded(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.unrecorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn was_sent(&self, id: i64) -> bool {
        self.lock_unrecorded().contains(&id)
    }

    /// Records that the server took mail `id`; until that succeeds, the mail is remembered as
    /// sent, so that a database error cannot make the worker send it again and again.
    async fn record_sent(&self, id: i64) -> anyhow::Result<()> {
        with_store(&self.store, move |s| s.mail_sent(id)).await?;
        self.lock_unrecorded().remove(&id);
        Ok(())
    }

    /// Tries again after the next delay, or gives up when the attempts are used up.
    async fn retry(&self, mail: &QueuedMail, error: &str) -> anyhow::Result<()> {
        let Some(delay) = usize::try_from(mail.attempts)
            .ok()
            .and_then(|n| self.retry_delays.get(n))
        else {
            let attempts = mail.attempts + 1;
            return self
                .give_up(
                    mail,
                    &format!("{error} (gave up after {attempts} attempts)"),
                )
                .await;
        };
        let due = stamp(chrono::Utc::now() + *delay);
        let (id, message) = (mail.id, error.to_string());
        let at = due.clone();
        with_store(&self.store, move |s| s.mail_retry(id, &message, &at)).await?;
        // The queue keeps the server's words whole; the log names no reader.
        self.reporter.notice(&format!(
            "{} mail {id} deferred, next attempt at {due}: {}",
            mail.kind.as_str(),
            crate::report::without_addresses(error),
        ));
        Ok(())
    }

    async fn give_up(&self, mail: &QueuedMail, error: &str) -> anyhow::Result<()> {
        let (id, message) = (mail.id, error.to_string());
        with_store(&self.store, move |s| s.mail_failed(id, &message)).await?;
        self.reporter.error(&format!(
            "{} mail {id} not sent: {}",
            mail.kind.as_str(),
            crate::report::without_addresses(error),
        ));
        Ok(())
    }
}
