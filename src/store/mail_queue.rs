//! Signups from the form of `dispatch host` (double opt-in) and the queue of the mails they
//! cause: the confirmation a signup asks for and the welcome a confirmation brings.
//!
//! A signup and its confirmation mail are one transaction, committed before the reader is
//! answered; the host's worker then sends what is due. A mail stays `queued` until the server
//! took it, so a crash in between loses nothing (at worst it goes out twice).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::subscribers::{
    COLUMNS, Source, Status, Subscriber, find, insert, subscriber_at, subscriber_row,
};
use super::{Store, now};

/// What a queued mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Asks a pending subscriber to confirm.
    Confirm,
    /// Greets a subscriber who just confirmed.
    Welcome,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirm => "confirm",
            MailKind::Welcome => "welcome",
        }
    }
}

impl FromStr for MailKind {
    type Err = String;

    fn from_str(s: &str) -> Result<MailKind, String> {
        match s {
            "confirm" => Ok(MailKind::Confirm),
            "welcome" => Ok(MailKind::Welcome),
            other => Err(format!("unknown mail kind `{other}`")),
        }
    }
}

/// What a signup did. The reader is told the same whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// A confirmation mail is queued for this (now pending) subscriber.
    Queued { subscriber_id: i64 },
    /// The address is already active: nothing is sent.
    AlreadyActive,
    /// The address had its confirmations for the day: nothing more is sent.
    TooMany,
}

/// What a confirmation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Pending until now, active from now on (and a welcome queued when asked for).
    Confirmed,
    /// Already active: nothing changed.
    AlreadyActive,
    /// Not pending (unsubscribed, bounced, expired) or unknown: nothing changed.
    NotPending,
}

/// A mail due for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    pub kind: MailKind,
    /// Sending attempts made so far.
    pub attempts: i64,
    pub subscriber: Subscriber,
}

/// A queued mail as it stands, for the editor (`subscribers show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub kind: MailKind,
    /// `queued`, `sent`, `failed` or `cancelled`.
    pub state: String,
    pub attempts: i64,
    /// When a queued mail is tried next.
    pub due_at: String,
    /// The server's answer or the connection error of the last failed attempt.
    pub last_error: Option<String>,
    /// When its state last changed.
    pub updated_at: String,
}

/// A time as stored: RFC 3339 in UTC, second precision, so that strings compare as times.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Store {
    /// Records a signup of `email` (already validated) and queues its confirmation mail,
    /// unless the address is active or already had `per_day` confirmations in the last day.
    /// A new address becomes pending; an unsubscribed or bounced one becomes pending too and
    /// returns to its old status if it never confirms.
    pub fn signup(
        &mut self,
        email: &str,
        name: Option<&str>,
        per_day: u32,
    ) -> anyhow::Result<Signup> {
        let tx = self.conn.transaction()?;
        let at = now();
        let id = match find(&tx, email)? {
            None => {
                let id = insert(&tx, email, name, Status::Pending, Source::Form)?;
                tx.execute(
                    "UPDATE subscribers SET consent_at = ?2 WHERE id = ?1",
                    params![id, at],
                )?;
                id
            }
            Some(s) if s.status == Status::Active => {
                return answer_alike(tx, s.id, Signup::AlreadyActive);
            }
            Some(s) => {
                let day_ago = stamp(Utc::now() - chrono::Duration::days(1));
                let sent: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM mail_queue
                     WHERE subscriber_id = ?1 AND kind = 'confirm' AND created_at > ?2",
                    params![s.id, day_ago],
                    |r| r.get(0),
                )?;
                if sent >= i64::from(per_day) {
                    return answer_alike(tx, s.id, Signup::TooMany);
                }
                let before = (s.status != Status::Pending).then(|| s.status.as_str());
                tx.execute(
                    "UPDATE subscribers SET status = 'pending', consent_at = ?2, updated_at = ?2,
                     name = coalesce(name, ?3),
                     status_before = coalesce(?4, status_before)
                     WHERE id = ?1",
                    params![s.id, at, super::subscribers::clean_name(name), before],
                )?;
                s.id
            }
        };
        queue(&tx, id, MailKind::Confirm, &at)?;
        tx.commit()?;
        Ok(Signup::Queued { subscriber_id: id })
    }

    /// Confirms a pending subscriber: active from now, the source of consent the form, and a
    /// welcome mail queued when `welcome` is true.
    pub fn confirm_signup(&mut self, id: i64, welcome: bool) -> anyhow::Result<Confirmation> {
        let tx = self.conn.transaction()?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM subscribers WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match status.as_deref() {
            Some("pending") => {}
            Some("active") => return Ok(Confirmation::AlreadyActive),
            _ => return Ok(Confirmation::NotPending),
        }
        let at = now();
        tx.execute(
            "UPDATE subscribers SET status = 'active', source = 'form', confirmed_at = ?2,
             updated_at = ?2, status_before = NULL WHERE id = ?1",
            params![id, at],
        )?;
        // A confirmation mail still waiting is not needed any more.
        tx.execute(
            "UPDATE mail_queue SET state = 'cancelled', updated_at = ?2
             WHERE subscriber_id = ?1 AND kind = 'confirm' AND state = 'queued'",
            params![id, at],
        )?;
        if welcome {
            queue(&tx, id, MailKind::Welcome, &at)?;
        }
        tx.commit()?;
        Ok(Confirmation::Confirmed)
    }

    /// The subscriber with this id.
    pub fn subscriber_by_id(&self, id: i64) -> anyhow::Result<Option<Subscriber>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM subscribers WHERE id = ?1"))?
            .query_row([id], subscriber_row)
            .optional()?)
    }

    /// The queued mails due now, oldest first, at most `limit`.
    pub fn due_mails(&self, limit: usize) -> anyhow::Result<Vec<QueuedMail>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT q.id, q.kind, q.attempts, {columns} FROM mail_queue q
             JOIN subscribers s ON s.id = q.subscriber_id
             WHERE q.state = 'queued' AND q.due_at <= ?1
             ORDER BY q.due_at, q.id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now(), limit as i64], |r| {
            let kind: String = r.get(1)?;
            Ok(QueuedMail {
                id: r.get(0)?,
                kind: kind.parse().map_err(|e: String| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
                attempts: r.get(2)?,
                subscriber: subscriber_at(r, 3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next queued mail is due, if any is queued.
    pub fn next_mail_due(&self) -> anyhow::Result<Option<String>> {
        Ok(self.conn.query_row(
            "SELECT min(due_at) FROM mail_queue WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )?)
    }

    /// The mails queued for `subscriber_id`, oldest first.
    pub fn mail_records(&self, subscriber_id: i64) -> anyhow::Result<Vec<MailRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, state, attempts, due_at, last_error, updated_at FROM mail_queue
             WHERE subscriber_id = ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([subscriber_id], |r| {
            let kind: String = r.get(0)?;
            Ok(MailRecord {
                kind: kind.parse().map_err(|e: String| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
                state: r.get(1)?,
                attempts: r.get(2)?,
                due_at: r.get(3)?,
                last_error: r.get(4)?,
                updated_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The server took the mail.
    pub fn mail_sent(&self, id: i64) -> anyhow::Result<()> {
        self.mail_outcome(id, "sent", None, None)
    }

    /// The mail is tried again at `due_at`.
    pub fn mail_retry(&self, id: i64, error: &str, due_at: &str) -> anyhow::Result<()> {
        self.mail_outcome(id, "queued", Some(error), Some(due_at))
    }

    /// The mail will not be sent: refused for good, or given up after its attempts.
    pub fn mail_failed(&self, id: i64, error: &str) -> anyhow::Result<()> {
        self.mail_outcome(id, "failed", Some(error), None)
    }

    /// The mail is not needed any more (its subscriber confirmed or left meanwhile).
    pub fn mail_cancelled(&self, id: i64) -> anyhow::Result<()> {
        self.mail_outcome(id, "cancelled", None, None)
    }

    fn mail_outcome(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
        due_at: Option<&str>,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE mail_queue SET state = ?2, attempts = attempts + 1,
                 last_error = coalesce(?3, last_error), due_at = coalesce(?4, due_at),
                 updated_at = ?5 WHERE id = ?1",
            )?
            .execute(params![id, state, error, due_at, now()])?;
        Ok(())
    }

    /// Withdraws a signup not yet confirmed (its confirmation mail's unsubscribe link): the
    /// address returns to the status it had, or is unsubscribed when new (so that a later
    /// signup must be confirmed again), and its queued mails are cancelled. False when the
    /// subscriber is not pending.
    pub fn cancel_signup(&mut self, id: i64) -> anyhow::Result<bool> {
        let tx = self.conn.transaction()?;
        let at = now();
        let changed = tx.execute(
            "UPDATE subscribers SET status = coalesce(status_before, 'unsubscribed'),
             status_before = NULL, updated_at = ?2 WHERE id = ?1 AND status = 'pending'",
            params![id, at],
        )?;
        tx.execute(
            "UPDATE mail_queue SET state = 'cancelled', updated_at = ?2
             WHERE subscriber_id = ?1 AND state = 'queued'",
            params![id, at],
        )?;
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Forgets signups left unconfirmed for `days`: a new address is deleted (with its
    /// queued mails), an address that was unsubscribed or bounced returns to that status.
    /// Returns how many expired.
    pub fn expire_pending(&mut self, days: u32) -> anyhow::Result<usize> {
        let cutoff = stamp(Utc::now() - chrono::Duration::days(i64::from(days)));
        let tx = self.conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM subscribers
             WHERE status = 'pending' AND status_before IS NULL AND updated_at < ?1",
            [&cutoff],
        )?;
        let restored = tx.execute(
            "UPDATE subscribers SET status = status_before, status_before = NULL, updated_at = ?2
             WHERE status = 'pending' AND status_before IS NOT NULL AND updated_at < ?1",
            params![cutoff, now()],
        )?;
        tx.commit()?;
        Ok(deleted + restored)
    }
}

/// Ends a signup that changes nothing with a write and a commit all the same, so that it
/// takes about as long as one that queues a mail: the time of the answer does not tell a
/// stranger whether an address is on the list.
fn answer_alike(
    tx: rusqlite::Transaction<'_>,
    subscriber_id: i64,
    signup: Signup,
) -> anyhow::Result<Signup> {
    tx.execute(
        "UPDATE subscribers SET updated_at = updated_at WHERE id = ?1",
        [subscriber_id],
    )?;
    tx.commit()?;
    Ok(signup)
}

fn queue(
    tx: &rusqlite::Transaction<'_>,
    subscriber_id: i64,
    kind: MailKind,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO mail_queue (subscriber_id, kind, due_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3, ?3)",
    )?
    .execute(params![subscriber_id, kind.as_str(), at])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signup_is_pending_until_confirmed_and_the_welcome_is_queued_once() {
        let mut store = Store::open_in_memory().unwrap();
        let Signup::Queued { subscriber_id: id } =
            store.signup("ann@example.org", Some("Ann"), 3).unwrap()
        else {
            panic!("not queued");
        };
        let s = store.subscriber_by_id(id).unwrap().unwrap();
        assert_eq!((s.status, s.source), (Status::Pending, Some(Source::Form)));
        assert!(s.consent_at.is_some() && s.confirmed_at.is_none());
        let due = store.due_mails(10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, MailKind::Confirm);
        assert_eq!(
            store.confirm_signup(id, true).unwrap(),
            Confirmation::Confirmed
        );
        assert_eq!(
            store.confirm_signup(id, true).unwrap(),
            Confirmation::AlreadyActive
        );
        let s = store.subscriber_by_id(id).unwrap().unwrap();
        assert_eq!(s.status, Status::Active);
        assert!(s.confirmed_at.is_some());
        let due = store.due_mails(10).unwrap();
        assert_eq!(due.len(), 1, "the confirmation is cancelled, one welcome");
        assert_eq!(due[0].kind, MailKind::Welcome);
        assert_eq!(
            store.signup("ANN@example.org", None, 3).unwrap(),
            Signup::AlreadyActive
        );
    }

    #[test]
    fn at_most_so_many_confirmations_a_day() {
        let mut store = Store::open_in_memory().unwrap();
        for _ in 0..3 {
            assert!(matches!(
                store.signup("b@example.org", None, 3).unwrap(),
                Signup::Queued { .. }
            ));
        }
        assert_eq!(
            store.signup("b@example.org", None, 3).unwrap(),
            Signup::TooMany
        );
    }

    #[test]
    fn an_unsubscribed_address_must_confirm_again_and_returns_when_it_does_not() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_subscriber("c@example.org", None).unwrap();
        store
            .set_subscriber_status("c@example.org", Status::Unsubscribed)
            .unwrap();
        store.signup("c@example.org", None, 3).unwrap();
        store.signup("d@example.org", None, 3).unwrap();
        let c = store.subscriber("c@example.org").unwrap().unwrap();
        assert_eq!(c.status, Status::Pending);
        assert_eq!(store.expire_pending(7).unwrap(), 0, "not old yet");
        store
            .conn
            .execute(
                "UPDATE subscribers SET updated_at = '2000-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        assert_eq!(store.expire_pending(7).unwrap(), 2);
        let c = store.subscriber("c@example.org").unwrap().unwrap();
        assert_eq!(c.status, Status::Unsubscribed);
        assert!(store.subscriber("d@example.org").unwrap().is_none());
        assert!(
            store.due_mails(10).unwrap().len() <= 1,
            "d's mail went with it"
        );
    }

    #[test]
    fn retries_wait_for_their_time() {
        let mut store = Store::open_in_memory().unwrap();
        store.signup("e@example.org", None, 3).unwrap();
        let mail = store.due_mails(1).unwrap().remove(0);
        store
            .mail_retry(mail.id, "421 busy", "2999-01-01T00:00:00Z")
            .unwrap();
        assert!(store.due_mails(10).unwrap().is_empty());
        assert_eq!(
            store.next_mail_due().unwrap().as_deref(),
            Some("2999-01-01T00:00:00Z")
        );
        let records = |store: &Store| {
            store
                .subscriber_details("e@example.org")
                .unwrap()
                .unwrap()
                .mails
        };
        let queued = &records(&store)[0];
        assert_eq!(
            (queued.kind, queued.state.as_str(), queued.attempts),
            (MailKind::Confirm, "queued", 1)
        );
        assert_eq!(queued.due_at, "2999-01-01T00:00:00Z");
        assert_eq!(queued.last_error.as_deref(), Some("421 busy"));
        store.mail_failed(mail.id, "550 no").unwrap();
        assert_eq!(store.next_mail_due().unwrap(), None);
        let failed = &records(&store)[0];
        assert_eq!(
            (failed.state.as_str(), failed.last_error.as_deref()),
            ("failed", Some("550 no"))
        );
    }

    #[test]
    fn a_withdrawn_signup_is_unsubscribed_and_sends_nothing_more() {
        let mut store = Store::open_in_memory().unwrap();
        let Signup::Queued { subscriber_id: id } = store.signup("w@example.org", None, 3).unwrap()
        else {
            panic!("queued")
        };
        assert!(store.cancel_signup(id).unwrap());
        assert_eq!(
            store.subscriber_status(id).unwrap(),
            Some(Status::Unsubscribed)
        );
        assert!(store.due_mails(10).unwrap().is_empty());
        assert!(!store.cancel_signup(id).unwrap(), "not pending any more");
        assert_eq!(
            store.confirm_signup(id, true).unwrap(),
            Confirmation::NotPending
        );
    }

    #[test]
    fn an_expired_signups_id_is_never_given_again() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_subscriber("first@example.org", None).unwrap();
        let Signup::Queued { subscriber_id: old } =
            store.signup("gone@example.org", None, 3).unwrap()
        else {
            panic!("queued")
        };
        store
            .conn
            .execute(
                "UPDATE subscribers SET updated_at = '2000-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        assert_eq!(store.expire_pending(7).unwrap(), 1);
        let Signup::Queued { subscriber_id: new } =
            store.signup("victim@example.org", None, 3).unwrap()
        else {
            panic!("queued")
        };
        assert!(new > old, "a new id ({new}), not the expired one's ({old})");
        // The expired signup's confirmation link (its id) confirms nobody.
        assert_eq!(
            store.confirm_signup(old, true).unwrap(),
            Confirmation::NotPending
        );
        let removed = store.add_subscriber("removed@example.org", None).unwrap();
        store.remove_subscriber("removed@example.org").unwrap();
        let after = store.add_subscriber("next@example.org", None).unwrap();
        assert!(after > removed, "a removed subscriber's id stays unused");
    }

    #[test]
    fn migrating_keeps_ids_and_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(&super::super::MIGRATIONS[..4].join("\n"))
                .unwrap();
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "PRAGMA foreign_keys = ON;
                 INSERT INTO subscribers VALUES (7, 'a@x.org', 'a@x.org', NULL, 'active', 't', 't');
                 INSERT INTO sends VALUES (1, 1, 't', NULL);
                 INSERT INTO deliveries (volume, number, subscriber_id, email, message_id, updated_at)
                     VALUES (1, 1, 7, 'a@x.org', 'm1', 't');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let s = store.subscriber("a@x.org").unwrap().unwrap();
        assert_eq!((s.id, s.source), (7, None));
        let deliveries: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(deliveries, 1, "the rebuild kept the rows that refer to it");
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are on again");
    }
}
