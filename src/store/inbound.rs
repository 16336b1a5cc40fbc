//! What reply import keeps: every message seen (by Message-ID), where each mailbox was read up
//! to, and the look-ups that tie a message to an issue and a subscriber.
//!
//! The functions take a `Connection` so the importer can run them inside its batch
//! transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Batch, Store};
use crate::issue::IssueId;

/// Where an IMAP mailbox was read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// Whether a message with this Message-ID was imported before.
pub fn seen(batch: &Batch<'_>, message_id: &str) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    conn.prepare_cached("SELECT 1 FROM inbound WHERE message_id = ?1")?
        .exists([message_id])
}

/// Records a message as seen, with what it was classified as.
pub fn record(batch: &Batch<'_>, message_id: &str, kind: &str) -> rusqlite::Result<()> {
    let conn = batch.conn;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO inbound (message_id, kind, imported_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![message_id, kind, super::now()])?;
    Ok(())
}

/// Records how far a mailbox was read.
pub fn set_mailbox_state(
    batch: &Batch<'_>,
    mailbox: &str,
    state: MailboxState,
) -> rusqlite::Result<()> {
    let conn = batch.conn;
    conn.prepare_cached(
        "INSERT INTO mailboxes (name, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET uidvalidity = excluded.uidvalidity,
                                          last_uid = excluded.last_uid",
    )?
    .execute(params![mailbox, state.uidvalidity, state.last_uid])?;
    Ok(())
}

/// The number of incoming messages of one kind (reply, bounce, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

/// The issue and subscriber of the message we sent under one of these Message-IDs (with or
/// without angle brackets).
pub fn delivery(batch: &Batch<'_>, message_ids: &[String]) -> rusqlite::Result<Option<Delivery>> {
    for id in message_ids {
        if let Some(d) = delivery_by_message_id(batch, id)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// The last issue whose send started at or before `at` (RFC 3339 UTC).
pub fn issue_sent_before(batch: &Batch<'_>, at: &str) -> rusqlite::Result<Option<IssueId>> {
    let conn = batch.conn;
    conn.prepare_cached(
        "SELECT volume, number FROM sends WHERE started_at <= ?1
         ORDER BY started_at DESC, volume DESC, number DESC LIMIT 1",
    )?
    .query_row([at], |r| Ok(IssueId::new(r.get(0)?, r.get(1)?)))
    .optional()
}

/// Whether the issue was ever sent.
pub fn issue_was_sent(batch: &Batch<'_>, issue: IssueId) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    conn.prepare_cached("SELECT 1 FROM sends WHERE volume = ?1 AND number = ?2")?
        .exists(params![issue.volume, issue.number])
}

/// The subscriber with this address.
pub fn subscriber_by_address(batch: &Batch<'_>, address: &str) -> rusqlite::Result<Option<i64>> {
    let conn = batch.conn;
    conn.prepare_cached("SELECT id FROM subscribers WHERE email_key = ?1")?
        .query_row([super::subscribers::email_key(address)], |r| r.get(0))
        .optional()
}

/// Whether the subscriber with this id is active.
pub fn subscriber_is_active(batch: &Batch<'_>, id: i64) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    conn.prepare_cached("SELECT 1 FROM subscribers WHERE id = ?1 AND status = 'active'")?
        .exists([id])
}

/// Whether a subscriber with this id exists.
pub fn subscriber_exists(batch: &Batch<'_>, id: i64) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    conn.prepare_cached("SELECT 1 FROM subscribers WHERE id = ?1")?
        .exists([id])
}

/// The delivery `send` made under a Message-ID (with or without angle brackets): whom it went
/// to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub issue: IssueId,
    pub subscriber_id: i64,
    /// The address it was sent to.
    pub email: String,
}

pub fn delivery_by_message_id(
    batch: &Batch<'_>,
    message_id: &str,
) -> rusqlite::Result<Option<Delivery>> {
    let conn = batch.conn;
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    conn.prepare_cached(
        "SELECT volume, number, subscriber_id, email FROM deliveries
         WHERE message_id IN (?1, '<' || ?1 || '>')",
    )?
    .query_row([bare], |r| {
        Ok(Delivery {
            issue: IssueId::new(r.get(0)?, r.get(1)?),
            subscriber_id: r.get(2)?,
            email: r.get(3)?,
        })
    })
    .optional()
}

/// An unsubscribe request by mail that waits for the editor's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeRequest {
    pub id: i64,
    pub subscriber_id: i64,
    /// The subscriber's address now.
    pub email: String,
    pub from_address: String,
    pub subject: String,
    pub received_at: Option<String>,
    /// Why it waits: no token, or a token that did not verify.
    pub reason: String,
}

/// A request as the importer stores it.
#[derive(Debug, Clone)]
pub struct NewUnsubscribeRequest<'a> {
    pub message_id: &'a str,
    pub subscriber_id: i64,
    pub from_address: &'a str,
    pub subject: &'a str,
    pub received_at: Option<String>,
    pub reason: &'a str,
}

/// Stores a request that waits for the editor; false when this message was stored before.
pub fn insert_unsubscribe_request(
    batch: &Batch<'_>,
    request: &NewUnsubscribeRequest<'_>,
) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO unsubscribe_requests
             (message_id, subscriber_id, from_address, subject, received_at, reason, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            request.message_id,
            request.subscriber_id,
            request.from_address,
            request.subject,
            request.received_at,
            request.reason,
            super::now(),
        ])?;
    Ok(inserted == 1)
}

/// Request ids that are not pending; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error(
    "no pending unsubscribe request with id {}: nothing was changed (see `dispatch replies unsubscribes`)",
    .0.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownRequests(pub Vec<i64>);

/// What confirming a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub id: i64,
    pub email: String,
    /// False when the subscriber was no longer active (unsubscribed or bounced meanwhile).
    pub unsubscribed: bool,
}

impl Store {
    /// The unsubscribe requests that wait for the editor, oldest first.
    pub fn pending_unsubscribe_requests(&self) -> anyhow::Result<Vec<UnsubscribeRequest>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.subscriber_id, s.email, r.from_address, r.subject, r.received_at,
                    r.reason
             FROM unsubscribe_requests r JOIN subscribers s ON s.id = r.subscriber_id
             WHERE r.status = 'pending' ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UnsubscribeRequest {
                id: r.get(0)?,
                subscriber_id: r.get(1)?,
                email: r.get(2)?,
                from_address: r.get(3)?,
                subject: r.get(4)?,
                received_at: r.get(5)?,
                reason: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Confirms pending requests: their subscribers are unsubscribed. All or nothing: when one
    /// id is not a pending request, nothing changes.
    pub fn confirm_unsubscribe_requests(&mut self, ids: &[i64]) -> anyhow::Result<Vec<Confirmed>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let subscribers = pending_requests(&tx, ids)?;
        let mut done = Vec::with_capacity(ids.len());
        for (id, (subscriber_id, email)) in ids.iter().zip(subscribers) {
            let unsubscribed = super::subscribers::deactivate(
                &Batch { conn: &tx },
                subscriber_id,
                super::subscribers::Status::Unsubscribed,
            )?;
            set_request_status(&tx, *id, "confirmed")?;
            done.push(Confirmed {
                id: *id,
                email,
                unsubscribed,
            });
        }
        tx.commit()?;
        Ok(done)
    }

    /// Dismisses pending requests: the subscribers stay as they are. All or nothing.
    pub fn dismiss_unsubscribe_requests(&mut self, ids: &[i64]) -> anyhow::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        pending_requests(&tx, ids)?;
        for id in ids {
            set_request_status(&tx, *id, "dismissed")?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How many incoming messages were recorded under each kind, by kind.
    pub fn inbound_kinds(&self) -> anyhow::Result<Vec<KindCount>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, count(*) FROM inbound GROUP BY kind ORDER BY kind")?;
        let rows = stmt.query_map([], |r| {
            Ok(KindCount {
                kind: r.get(0)?,
                count: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where `mailbox` was read up to, if it was read before.
    pub fn mailbox_state(&self, mailbox: &str) -> anyhow::Result<Option<MailboxState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM mailboxes WHERE name = ?1",
                [mailbox],
                |r| {
                    Ok(MailboxState {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }
}

/// The subscriber (id, address) of each pending request in `ids`, or an error naming the ids
/// that are not pending requests.
fn pending_requests(conn: &Connection, ids: &[i64]) -> anyhow::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.subscriber_id, s.email FROM unsubscribe_requests r
         JOIN subscribers s ON s.id = r.subscriber_id
         WHERE r.id = ?1 AND r.status = 'pending'",
    )?;
    let mut found = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    for id in ids {
        match stmt
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            Some(row) => found.push(row),
            None => unknown.push(*id),
        }
    }
    if !unknown.is_empty() {
        return Err(UnknownRequests(unknown).into());
    }
    Ok(found)
}

fn set_request_status(conn: &Connection, id: i64, status: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE unsubscribe_requests SET status = ?2 WHERE id = ?1")?
        .execute(params![id, status])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(store: &Store, email: &str) -> i64 {
        store
            .conn
            .execute(
                "INSERT INTO subscribers (email, email_key, created_at, updated_at)
                 VALUES (?1, ?2, 'now', 'now')",
                params![email, crate::store::subscribers::email_key(email)],
            )
            .unwrap();
        store.conn.last_insert_rowid()
    }

    #[test]
    fn ties_by_message_id_and_date() {
        let store = Store::open_in_memory().unwrap();
        let ann = subscriber(&store, "Ann@Example.org");
        for (v, n, at) in [
            (1, 1, "2030-01-01T09:00:00Z"),
            (1, 2, "2030-02-01T09:00:00Z"),
        ] {
            store
                .conn
                .execute(
                    "INSERT INTO sends (volume, number, started_at) VALUES (?1, ?2, ?3)",
                    params![v, n, at],
                )
                .unwrap();
        }
        store
            .conn
            .execute(
                "INSERT INTO deliveries (volume, number, subscriber_id, email, message_id, updated_at)
                 VALUES (1, 1, ?1, 'Ann@Example.org', '<v1n1.1.abc@example.com>', 'now')",
                [ann],
            )
            .unwrap();
        let ids = vec!["other@x".to_string(), "v1n1.1.abc@example.com".to_string()];
        assert_eq!(
            delivery(&store.single(), &ids)
                .unwrap()
                .map(|d| (d.issue, d.subscriber_id)),
            Some((IssueId::new(1, 1), ann))
        );
        assert_eq!(
            issue_sent_before(&store.single(), "2030-01-15T00:00:00Z").unwrap(),
            Some(IssueId::new(1, 1))
        );
        assert_eq!(
            issue_sent_before(&store.single(), "2030-03-01T00:00:00Z").unwrap(),
            Some(IssueId::new(1, 2))
        );
        assert_eq!(
            issue_sent_before(&store.single(), "2029-01-01T00:00:00Z").unwrap(),
            None
        );
        assert_eq!(
            subscriber_by_address(&store.single(), "ann@EXAMPLE.org").unwrap(),
            Some(ann)
        );
    }

    #[test]
    fn mailbox_state_round_trips() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.mailbox_state("m").unwrap(), None);
        let state = MailboxState {
            uidvalidity: 7,
            last_uid: 42,
        };
        set_mailbox_state(&store.single(), "m", state).unwrap();
        assert_eq!(store.mailbox_state("m").unwrap(), Some(state));
    }
}
