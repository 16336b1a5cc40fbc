//! What reply import keeps: every message seen (by Message-ID), where each mailbox was read up
//! to, and the look-ups that tie a message to an issue and a subscriber.
//!
//! The functions take a `Connection` so the importer can run them inside its batch
//! transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::issue::IssueId;

/// Where an IMAP mailbox was read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// Whether a message with this Message-ID was imported before.
pub fn seen(conn: &Connection, message_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM inbound WHERE message_id = ?1")?
        .exists([message_id])
}

/// Records a message as seen, with what it was classified as.
pub fn record(conn: &Connection, message_id: &str, kind: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO inbound (message_id, kind, imported_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![message_id, kind, super::now()])?;
    Ok(())
}

/// Records how far a mailbox was read.
pub fn set_mailbox_state(
    conn: &Connection,
    mailbox: &str,
    state: MailboxState,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO mailboxes (name, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET uidvalidity = excluded.uidvalidity,
                                          last_uid = excluded.last_uid",
    )?
    .execute(params![mailbox, state.uidvalidity, state.last_uid])?;
    Ok(())
}

/// The issue and subscriber of the message we sent under one of these Message-IDs (with or
/// without angle brackets).
pub fn delivery(
    conn: &Connection,
    message_ids: &[String],
) -> rusqlite::Result<Option<(IssueId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT volume, number, subscriber_id FROM deliveries
         WHERE message_id IN (?1, '<' || ?1 || '>')",
    )?;
    for id in message_ids {
        let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
        let found = stmt
            .query_row([bare], |r| {
                Ok((IssueId::new(r.get(0)?, r.get(1)?), r.get(2)?))
            })
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The last issue whose send started at or before `at` (RFC 3339 UTC).
pub fn issue_sent_before(conn: &Connection, at: &str) -> rusqlite::Result<Option<IssueId>> {
    conn.prepare_cached(
        "SELECT volume, number FROM sends WHERE started_at <= ?1
         ORDER BY started_at DESC, volume DESC, number DESC LIMIT 1",
    )?
    .query_row([at], |r| Ok(IssueId::new(r.get(0)?, r.get(1)?)))
    .optional()
}

/// Whether the issue was ever sent.
pub fn issue_was_sent(conn: &Connection, issue: IssueId) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM sends WHERE volume = ?1 AND number = ?2")?
        .exists(params![issue.volume, issue.number])
}

/// The subscriber with this address.
pub fn subscriber_by_address(conn: &Connection, address: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM subscribers WHERE email_key = ?1")?
        .query_row([super::subscribers::email_key(address)], |r| r.get(0))
        .optional()
}

/// Whether a subscriber with this id exists.
pub fn subscriber_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM subscribers WHERE id = ?1")?
        .exists([id])
}

impl Store {
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
            delivery(&store.conn, &ids).unwrap(),
            Some((IssueId::new(1, 1), ann))
        );
        assert_eq!(
            issue_sent_before(&store.conn, "2030-01-15T00:00:00Z").unwrap(),
            Some(IssueId::new(1, 1))
        );
        assert_eq!(
            issue_sent_before(&store.conn, "2030-03-01T00:00:00Z").unwrap(),
            Some(IssueId::new(1, 2))
        );
        assert_eq!(
            issue_sent_before(&store.conn, "2029-01-01T00:00:00Z").unwrap(),
            None
        );
        assert_eq!(
            subscriber_by_address(&store.conn, "ann@EXAMPLE.org").unwrap(),
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
        set_mailbox_state(&store.conn, "m", state).unwrap();
        assert_eq!(store.mailbox_state("m").unwrap(), Some(state));
    }
}
