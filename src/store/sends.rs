//! Sends and their deliveries: one `sends` row per issue mailed, one `deliveries` row per
//! (issue, subscriber) of its audience.
//!
//! A delivery moves queued → sending → sent | deferred | failed; deferred goes back to
//! sending on a retry. `sending` is committed before the SMTP transaction starts, so after a
//! crash the rows still `sending` are exactly the messages that may have been delivered.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Batch, Store, now};
use crate::issue::IssueId;

/// How many deliveries of a send are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub deferred: i64,
    pub failed: i64,
}

impl DeliveryCounts {
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.sent + self.deferred + self.failed
    }

    /// Deliveries a run would still mail.
    pub fn pending(&self) -> i64 {
        self.queued + self.sending + self.deferred
    }
}

/// A send as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A delivery still to be mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub subscriber_id: i64,
    pub email: String,
    /// The subscriber's name now, for the To header.
    pub name: Option<String>,
    pub message_id: String,
}

/// A state change of one delivery, as the send engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The SMTP transaction is about to start; counts as an attempt.
    Sending {
        subscriber_id: i64,
    },
    Sent {
        subscriber_id: i64,
    },
    Deferred {
        subscriber_id: i64,
        error: String,
        /// RFC 3339; when this run would try again, if it does.
        next_attempt_at: Option<String>,
        /// The message went out but its end got no answer: it may have been delivered.
        in_doubt: bool,
    },
    Failed {
        subscriber_id: i64,
        error: String,
    },
}

/// How many rows a question found, and the addresses of the first few.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub count: i64,
    pub first: Vec<String>,
}

/// A failed delivery: the address and the error the server gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedDelivery {
    pub email: String,
    pub error: String,
}

/// One delivery of a send that went out earlier (see [`Store::record_sent`]).
#[derive(Debug, Clone, Copy)]
pub struct SentDelivery<'a> {
    pub subscriber_id: i64,
    /// Without angle brackets.
    pub message_id: &'a str,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub subscriber_id: i64,
    pub email: String,
    /// `queued`, `sending`, `sent`, `deferred` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub message_id: String,
    /// It may have reached the subscriber although it was not acknowledged.
    pub in_doubt: bool,
}

impl Store {
    /// Records that `issue` went out, started at `started_at`, to these subscribers under these
    /// Message-IDs, each delivery `sent`; the send's row is added when missing. For a history
    /// of sends made elsewhere, as tests of what follows a send start from.
    pub fn record_sent(
        &mut self,
        issue: IssueId,
        started_at: &str,
        deliveries: &[SentDelivery<'_>],
    ) -> anyhow::Result<()> {
        self.batch(|b| {
            b.conn.execute(
                "INSERT INTO sends (volume, number, started_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![issue.volume, issue.number, started_at],
            )?;
            let mut insert = b.conn.prepare_cached(
                "INSERT INTO deliveries
                   (volume, number, subscriber_id, email, message_id, state, updated_at)
                 SELECT ?1, ?2, id, email, ?3, 'sent', ?4 FROM subscribers WHERE id = ?5",
            )?;
            for d in deliveries {
                insert.execute(params![
                    issue.volume,
                    issue.number,
                    d.message_id,
                    started_at,
                    d.subscriber_id
                ])?;
            }
            Ok(())
        })
    }

    /// Every delivery of `issue`, in subscriber order.
    pub fn deliveries(&self, issue: IssueId) -> anyhow::Result<Vec<DeliveryRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT subscriber_id, email, state, attempts, last_error, message_id, in_doubt
             FROM deliveries WHERE volume = ?1 AND number = ?2 ORDER BY subscriber_id",
        )?;
        let rows = stmt.query_map(params![issue.volume, issue.number], |r| {
            Ok(DeliveryRecord {
                subscriber_id: r.get(0)?,
                email: r.get(1)?,
                state: r.get(2)?,
                attempts: r.get(3)?,
                last_error: r.get(4)?,
                message_id: r.get(5)?,
                in_doubt: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn send_record(&self, issue: IssueId) -> anyhow::Result<Option<SendRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT started_at, finished_at FROM sends WHERE volume = ?1 AND number = ?2",
                params![issue.volume, issue.number],
                |r| {
                    Ok(SendRecord {
                        started_at: r.get(0)?,
                        finished_at: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn delivery_counts(&self, issue: IssueId) -> anyhow::Result<DeliveryCounts> {
        Ok(delivery_counts(&self.conn, issue)?)
    }

    /// Up to `limit` deliveries still to mail with a subscriber id above `after`, in id
    /// order: the send engine walks the audience page by page instead of holding it in memory.
    pub fn pending_page(
        &self,
        issue: IssueId,
        after: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<Pending>> {
        pending_page(&self.conn, issue, after, limit)
    }

    /// Fixes the audience of a send: the `sends` row and one queued delivery per active
    /// subscriber, in one transaction, before any mail goes out. `message_id` gives each
    /// subscriber's Message-ID (without angle brackets). Returns the audience size.
    pub fn start_send(
        &mut self,
        issue: IssueId,
        message_id: impl Fn(i64) -> String,
    ) -> anyhow::Result<i64> {
        let tx = self.conn.transaction()?;
        let at = now();
        tx.execute(
            "INSERT INTO sends (volume, number, started_at) VALUES (?1, ?2, ?3)",
            params![issue.volume, issue.number, at],
        )?;
        let mut audience = 0;
        {
            let mut subscribers = tx
                .prepare("SELECT id, email FROM subscribers WHERE status = 'active' ORDER BY id")?;
            let mut insert = tx.prepare(
                "INSERT INTO deliveries
                   (volume, number, subscriber_id, email, message_id, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
            )?;
            let mut rows = subscribers.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let email: String = r.get(1)?;
                insert.execute(params![
                    issue.volume,
                    issue.number,
                    id,
                    email,
                    message_id(id),
                    at
                ])?;
                audience += 1;
            }
        }
        tx.commit()?;
        Ok(audience)
    }

    /// Active subscribers that are not part of the send (they subscribed after it started).
    pub fn subscribers_outside_send(&self, issue: IssueId) -> anyhow::Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM subscribers s WHERE s.status = 'active' AND NOT EXISTS (
                 SELECT 1 FROM deliveries d
                 WHERE d.volume = ?1 AND d.number = ?2 AND d.subscriber_id = s.id)",
            params![issue.volume, issue.number],
            |r| r.get(0),
        )?)
    }

    /// The active subscribers a new send would go to: how many, and the first `limit`.
    pub fn audience_preview(&self, limit: usize) -> anyhow::Result<Sample> {
        let count = self.conn.query_row(
            "SELECT COUNT(*) FROM subscribers WHERE status = 'active'",
            [],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT email FROM subscribers WHERE status = 'active' ORDER BY id LIMIT ?1",
        )?;
        let first = stmt
            .query_map([limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Sample { count, first })
    }

    /// The deliveries a resumed send would mail: how many, and the first `limit`.
    pub fn pending_preview(&self, issue: IssueId, limit: usize) -> anyhow::Result<Sample> {
        let count = delivery_counts(&self.conn, issue)?.pending();
        let first = pending_page(&self.conn, issue, 0, limit)?
            .into_iter()
            .map(|p| p.email)
            .collect();
        Ok(Sample { count, first })
    }

    /// The failed deliveries of a send (address and error), the first `limit`.
    pub fn failed_deliveries(
        &self,
        issue: IssueId,
        limit: usize,
    ) -> anyhow::Result<Vec<FailedDelivery>> {
        let mut stmt = self.conn.prepare(
            "SELECT email, COALESCE(last_error, '') FROM deliveries
             WHERE volume = ?1 AND number = ?2 AND state = 'failed'
             ORDER BY subscriber_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![issue.volume, issue.number, limit as i64], |r| {
            Ok(FailedDelivery {
                email: r.get(0)?,
                error: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks the deliveries left `sending` by a run that stopped in the middle (a crash, a
    /// kill) as in doubt: their message may have been delivered. Returns how many.
    pub fn mark_in_flight_in_doubt(&mut self, issue: IssueId) -> anyhow::Result<usize> {
        Ok(self.conn.execute(
            "UPDATE deliveries SET in_doubt = 1
             WHERE volume = ?1 AND number = ?2 AND state = 'sending'",
            params![issue.volume, issue.number],
        )?)
    }

    /// The deliveries of a send that may have been delivered twice (in doubt at some attempt):
    /// how many, and the first `limit` addresses.
    pub fn in_doubt_deliveries(&self, issue: IssueId, limit: usize) -> anyhow::Result<Sample> {
        let count = self.conn.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE volume = ?1 AND number = ?2 AND in_doubt",
            params![issue.volume, issue.number],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT email FROM deliveries WHERE volume = ?1 AND number = ?2 AND in_doubt
             ORDER BY subscriber_id LIMIT ?3",
        )?;
        let first = stmt
            .query_map(params![issue.volume, issue.number, limit as i64], |r| {
                r.get(0)
            })?
            .collect::<Result<_, _>>()?;
        Ok(Sample { count, first })
    }

    /// Records the end of a send once nothing is left to mail.
    pub fn finish_send_if_done(&mut self, issue: IssueId) -> anyhow::Result<bool> {
        if delivery_counts(&self.conn, issue)?.pending() > 0 {
            return Ok(false);
        }
        self.conn.execute(
            "UPDATE sends SET finished_at = ?3
             WHERE volume = ?1 AND number = ?2 AND finished_at IS NULL",
            params![issue.volume, issue.number, now()],
        )?;
        Ok(true)
    }
}

fn delivery_counts(conn: &Connection, issue: IssueId) -> rusqlite::Result<DeliveryCounts> {
    let mut counts = DeliveryCounts::default();
    let mut stmt = conn.prepare_cached(
        "SELECT state, COUNT(*) FROM deliveries WHERE volume = ?1 AND number = ?2 GROUP BY state",
    )?;
    let mut rows = stmt.query(params![issue.volume, issue.number])?;
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(1)?;
        match r.get_ref(0)?.as_str()? {
            "queued" => counts.queued = n,
            "sending" => counts.sending = n,
            "sent" => counts.sent = n,
            "deferred" => counts.deferred = n,
            _ => counts.failed = n,
        }
    }
    Ok(counts)
}

fn pending_page(
    conn: &Connection,
    issue: IssueId,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Pending>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.subscriber_id, d.email, s.name, d.message_id
         FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
         WHERE d.volume = ?1 AND d.number = ?2 AND d.subscriber_id > ?3
           AND d.state IN ('queued', 'sending', 'deferred')
         ORDER BY d.subscriber_id LIMIT ?4",
    )?;
    stmt.query_map(
        params![issue.volume, issue.number, after, limit as i64],
        |r| {
            Ok(Pending {
                subscriber_id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
                message_id: r.get(3)?,
            })
        },
    )?
    .collect()
}

/// Applies state changes in the caller's transaction.
pub fn apply(batch: &Batch<'_>, issue: IssueId, updates: &[Update]) -> rusqlite::Result<()> {
    let conn = batch.conn;
    let at = now();
    let mut set = conn.prepare_cached(
        "UPDATE deliveries SET state = ?4, attempts = attempts + ?5, last_error = ?6,
                               next_attempt_at = ?7, updated_at = ?8, in_doubt = in_doubt OR ?9
         WHERE volume = ?1 AND number = ?2 AND subscriber_id = ?3",
    )?;
    for update in updates {
        let (id, state, attempt, error, next, doubt) = match update {
            Update::Sending { subscriber_id } => (*subscriber_id, "sending", 1, None, None, false),
            Update::Sent { subscriber_id } => (*subscriber_id, "sent", 0, None, None, false),
            Update::Deferred {
                subscriber_id,
                error,
                next_attempt_at,
                in_doubt,
            } => (
                *subscriber_id,
                "deferred",
                0,
                Some(error.as_str()),
                next_attempt_at.as_deref(),
                *in_doubt,
            ),
            Update::Failed {
                subscriber_id,
                error,
            } => (
                *subscriber_id,
                "failed",
                0,
                Some(error.as_str()),
                None,
                false,
            ),
        };
        set.execute(params![
            issue.volume,
            issue.number,
            id,
            state,
            attempt,
            error,
            next,
            at,
            doubt
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: usize) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        for i in 0..n {
            store
                .add_subscriber(&format!("r{i}@example.org"), None)
                .unwrap();
        }
        store
    }

    #[test]
    fn start_fixes_the_audience_and_pages_walk_it() {
        let issue = IssueId::new(1, 2);
        let mut store = store_with(5);
        store
            .set_subscriber_status(
                "r1@example.org",
                crate::store::subscribers::Status::Unsubscribed,
            )
            .unwrap();
        let n = store
            .start_send(issue, |id| format!("v1n2.{id}@x"))
            .unwrap();
        assert_eq!(n, 4);
        assert!(
            store.start_send(issue, |id| format!("{id}")).is_err(),
            "only once"
        );
        store.add_subscriber("late@example.org", None).unwrap();
        assert_eq!(store.subscribers_outside_send(issue).unwrap(), 1);

        let first = store.pending_page(issue, 0, 3).unwrap();
        assert_eq!(first.len(), 3);
        let rest = store
            .pending_page(issue, first[2].subscriber_id, 3)
            .unwrap();
        assert_eq!(rest.len(), 1);

        apply(
            &store.single(),
            issue,
            &[
                Update::Sending {
                    subscriber_id: first[0].subscriber_id,
                },
                Update::Sent {
                    subscriber_id: first[0].subscriber_id,
                },
                Update::Sending {
                    subscriber_id: first[1].subscriber_id,
                },
                Update::Failed {
                    subscriber_id: first[2].subscriber_id,
                    error: "550 no".into(),
                },
            ],
        )
        .unwrap();
        let counts = store.delivery_counts(issue).unwrap();
        assert_eq!(
            counts,
            DeliveryCounts {
                queued: 1,
                sending: 1,
                sent: 1,
                deferred: 0,
                failed: 1
            }
        );
        assert!(!store.finish_send_if_done(issue).unwrap());
        let ids: Vec<i64> = store
            .pending_page(issue, 0, 10)
            .unwrap()
            .iter()
            .map(|p| p.subscriber_id)
            .collect();
        assert_eq!(ids, vec![first[1].subscriber_id, rest[0].subscriber_id]);
    }

    #[test]
    fn removing_a_subscriber_removes_their_deliveries() {
        let issue = IssueId::new(1, 1);
        let mut store = store_with(2);
        store.start_send(issue, |id| format!("m{id}")).unwrap();
        store.remove_subscriber("r0@example.org").unwrap();
        assert_eq!(store.delivery_counts(issue).unwrap().total(), 1);
    }
}
