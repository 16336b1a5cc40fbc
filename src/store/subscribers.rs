//! The subscriber list: one row per address, unique case-insensitively.
//!
//! Statuses only ever move away from `active` through these functions (unsubscribe, bounce,
//! an import that says so): an address that unsubscribed is never subscribed again by an
//! import. Re-subscribing takes an explicit `remove` and `add`.

use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Batch, Store, now};
use crate::issue::IssueId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Signed up on the form, not confirmed yet: gets no issues, expires.
    Pending,
    Active,
    Unsubscribed,
    Bounced,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Unsubscribed => "unsubscribed",
            Status::Bounced => "bounced",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "pending" => Ok(Status::Pending),
            "active" => Ok(Status::Active),
            "unsubscribed" => Ok(Status::Unsubscribed),
            "bounced" => Ok(Status::Bounced),
            other => Err(format!("unknown subscriber status `{other}`")),
        }
    }
}

fn status_column(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Status> {
    let text: String = r.get(index)?;
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

/// How a subscriber came onto the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    /// The signup form of `dispatch host`, confirmed by the reader (double opt-in).
    #[serde(rename = "form")]
    Form,
    /// `subscribers import`: the editor vouches for consent.
    #[serde(rename = "import")]
    Import,
    /// `subscribers add`: the editor vouches for consent.
    #[serde(rename = "command line")]
    CommandLine,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Import => "import",
            Source::CommandLine => "command line",
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Source, String> {
        match s {
            "form" => Ok(Source::Form),
            "import" => Ok(Source::Import),
            "command line" => Ok(Source::CommandLine),
            other => Err(format!("unknown subscriber source `{other}`")),
        }
    }
}

fn source_column(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<Source>> {
    let text: Option<String> = r.get(index)?;
    text.map(|t| {
        t.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub status: Status,
    pub created_at: String,
    /// How they came onto the list; `None` for addresses added before it was recorded.
    pub source: Option<Source>,
    /// When consent was given: the signup on the form, or the editor's add or import.
    pub consent_at: Option<String>,
    /// When the reader confirmed a signup from the confirmation email.
    pub confirmed_at: Option<String>,
}

/// The columns [`subscriber_row`] reads, in its order.
pub(crate) const COLUMNS: &str =
    "id, email, name, status, created_at, source, consent_at, confirmed_at";

/// The key under which an address is stored once: addresses differing only in case are the
/// same subscriber.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Moves an active subscriber to `status` (bounced or unsubscribed, as mail and one-click
/// requests say); true when it changed. Anyone not active stays as they are.
pub fn deactivate(batch: &Batch<'_>, id: i64, status: Status) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    let changed = conn
        .prepare_cached(
            "UPDATE subscribers SET status = ?2, updated_at = ?3
             WHERE id = ?1 AND status = 'active'",
        )?
        .execute(params![id, status.as_str(), now()])?;
    Ok(changed == 1)
}

/// One subscriber with what the store knows around them, for `subscribers show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub subscriber: Subscriber,
    /// When the row last changed (its status or name), RFC 3339 UTC.
    pub updated_at: String,
    /// How many issues were delivered to this subscriber.
    pub delivered: i64,
    /// The last issue delivered and when its delivery was recorded.
    pub last_delivered: Option<(IssueId, String)>,
    /// The confirmation and welcome mails `dispatch host` queued for this subscriber, oldest
    /// first.
    pub mails: Vec<super::mail_queue::MailRecord>,
}

/// Errors the editor acts on when changing the list by hand.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListError {
    #[error("{email} is already on the list (as {existing}, {status})")]
    AlreadySubscribed {
        email: String,
        existing: String,
        status: Status,
    },
    #[error(
        "{email} is on the list as {status}; dispatch does not subscribe it again by itself: \
         remove it first (`dispatch subscribers remove {email}`), then add it"
    )]
    Inactive { email: String, status: Status },
    #[error("{0} is not on the list (`dispatch subscribers list` shows who is)")]
    NotFound(String),
}

/// A row to import: a validated address and an optional name and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriber {
    pub email: String,
    pub name: Option<String>,
    /// `None` for a new active subscriber; an import may say unsubscribed or bounced.
    pub status: Option<Status>,
}

/// What an import changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportCounts {
    pub added: usize,
    /// Existing subscribers whose missing name the import filled in.
    pub named: usize,
    /// Existing subscribers the import moved from active to unsubscribed or bounced.
    pub deactivated: usize,
    /// Rows that changed nothing (already on the list, or repeated in the file).
    pub unchanged: usize,
}

/// How many subscribers have each status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub active: i64,
    pub unsubscribed: i64,
    pub bounced: i64,
}

impl Store {
    /// Adds an address (already validated), refusing one that is on the list in any case form.
    pub fn add_subscriber(&mut self, email: &str, name: Option<&str>) -> anyhow::Result<i64> {
        let tx = self.conn.transaction()?;
        if let Some(existing) = find(&tx, email)? {
            if existing.status == Status::Pending {
                // The editor vouches for the consent the reader has not confirmed yet.
                tx.execute(
                    "UPDATE subscribers SET status = 'active', source = ?2, consent_at = ?3,
                     updated_at = ?3, status_before = NULL,
                     name = coalesce(?4, name) WHERE id = ?1",
                    params![
                        existing.id,
                        Source::CommandLine.as_str(),
                        now(),
                        clean_name(name)
                    ],
                )?;
                tx.commit()?;
                return Ok(existing.id);
            }
            return Err(match existing.status {
                Status::Active => ListError::AlreadySubscribed {
                    email: email.to_string(),
                    existing: existing.email,
                    status: existing.status,
                },
                status => ListError::Inactive {
                    email: existing.email,
                    status,
                },
            }
            .into());
        }
        let id = insert(&tx, email, name, Status::Active, Source::CommandLine)?;
        tx.commit()?;
        Ok(id)
    }

    /// The status of the subscriber with this id, `None` when there is none.
    pub fn subscriber_status(&self, id: i64) -> anyhow::Result<Option<Status>> {
        Ok(self
            .conn
            .query_row("SELECT status FROM subscribers WHERE id = ?1", [id], |r| {
                status_column(r, 0)
            })
            .optional()?)
    }

    /// [`deactivate`] on its own: moves an active subscriber to `status`; true when it changed.
    pub fn deactivate_subscriber(&self, id: i64, status: Status) -> anyhow::Result<bool> {
        Ok(deactivate(&self.single(), id, status)?)
    }

    /// Imports rows in one transaction: new addresses are added, a missing name is filled
    /// in, and an import can deactivate an address but never reactivate one.
    pub fn import_subscribers(
        &mut self,
        rows: impl IntoIterator<Item = NewSubscriber>,
    ) -> anyhow::Result<ImportCounts> {
        let tx = self.conn.transaction()?;
        let mut counts = ImportCounts::default();
        for row in rows {
            import_one(&tx, &row, &mut counts)?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// The subscriber with this address (any case).
    pub fn subscriber(&self, email: &str) -> anyhow::Result<Option<Subscriber>> {
        Ok(find(&self.conn, email)?)
    }

    /// The subscriber with this address (any case) or, for a number, this id, with their
    /// dates and deliveries.
    pub fn subscriber_details(&self, email_or_id: &str) -> anyhow::Result<Option<Details>> {
        let key = email_or_id.trim();
        let found = match key.parse::<i64>() {
            Ok(id) => self
                .conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM subscribers WHERE id = ?1"),
                    [id],
                    subscriber_row,
                )
                .optional()?,
            Err(_) => find(&self.conn, key)?,
        };
        let Some(subscriber) = found else {
            return Ok(None);
        };
        let updated_at: String = self.conn.query_row(
            "SELECT updated_at FROM subscribers WHERE id = ?1",
            [subscriber.id],
            |r| r.get(0),
        )?;
        let delivered: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE subscriber_id = ?1 AND state = 'sent'",
            [subscriber.id],
            |r| r.get(0),
        )?;
        let last_delivered = self
            .conn
            .query_row(
                "SELECT volume, number, updated_at FROM deliveries
                 WHERE subscriber_id = ?1 AND state = 'sent'
                 ORDER BY updated_at DESC, volume DESC, number DESC LIMIT 1",
                [subscriber.id],
                |r| Ok((IssueId::new(r.get(0)?, r.get(1)?), r.get::<_, String>(2)?)),
            )
            .optional()?;
        let mails = self.mail_records(subscriber.id)?;
        Ok(Some(Details {
            subscriber,
            updated_at,
            delivered,
            last_delivered,
            mails,
        }))
    }

    /// Calls `each` for every subscriber in the order they were added, without holding the
    /// whole list in memory.
    pub fn for_each_subscriber(
        &self,
        mut each: impl FnMut(&Subscriber) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM subscribers ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            each(&subscriber_row(r)?)?;
        }
        Ok(())
    }

    /// Deletes a subscriber; their deliveries go with them.
    pub fn remove_subscriber(&mut self, email: &str) -> anyhow::Result<Subscriber> {
        let tx = self.conn.transaction()?;
        let found = find(&tx, email)?.ok_or_else(|| ListError::NotFound(email.to_string()))?;
        tx.execute("DELETE FROM subscribers WHERE id = ?1", [found.id])?;
        tx.commit()?;
        Ok(found)
    }

    /// Sets a subscriber's status; returns the subscriber as it was before.
    pub fn set_subscriber_status(
        &mut self,
        email: &str,
        status: Status,
    ) -> anyhow::Result<Subscriber> {
        let tx = self.conn.transaction()?;
        let found = find(&tx, email)?.ok_or_else(|| ListError::NotFound(email.to_string()))?;
        if found.status != status {
            tx.execute(
                "UPDATE subscribers SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![found.id, status.as_str(), now()],
            )?;
        }
        tx.commit()?;
        Ok(found)
    }

    pub fn subscriber_counts(&self) -> anyhow::Result<Counts> {
        let mut counts = Counts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM subscribers GROUP BY status")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let n: i64 = r.get(1)?;
            match status_column(r, 0)? {
                Status::Pending => counts.pending = n,
                Status::Active => counts.active = n,
                Status::Unsubscribed => counts.unsubscribed = n,
                Status::Bounced => counts.bounced = n,
            }
        }
        Ok(counts)
    }
}

pub(crate) fn subscriber_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscriber> {
    subscriber_at(r, 0)
}

/// A subscriber from the [`COLUMNS`] of a row that start at `o`.
pub(crate) fn subscriber_at(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<Subscriber> {
    Ok(Subscriber {
        id: r.get(o)?,
        email: r.get(o + 1)?,
        name: r.get(o + 2)?,
        status: status_column(r, o + 3)?,
        created_at: r.get(o + 4)?,
        source: source_column(r, o + 5)?,
        consent_at: r.get(o + 6)?,
        confirmed_at: r.get(o + 7)?,
    })
}

pub(crate) fn find(conn: &Connection, email: &str) -> rusqlite::Result<Option<Subscriber>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM subscribers WHERE email_key = ?1"
    ))?
    .query_row([email_key(email)], subscriber_row)
    .optional()
}

/// A new subscriber; an active one's consent is dated now (the editor's add or import).
pub(crate) fn insert(
    conn: &Connection,
    email: &str,
    name: Option<&str>,
    status: Status,
    source: Source,
) -> rusqlite::Result<i64> {
    let at = now();
    let consent_at = (status == Status::Active).then_some(&at);
    conn.prepare_cached(
        "INSERT INTO subscribers
             (email, email_key, name, status, created_at, updated_at, source, consent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
    )?
    .execute(params![
        email,
        email_key(email),
        clean_name(name),
        status.as_str(),
        at,
        source.as_str(),
        consent_at
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn clean_name(name: Option<&str>) -> Option<&str> {
    name.map(str::trim).filter(|n| !n.is_empty())
}

fn import_one(
    tx: &Transaction<'_>,
    row: &NewSubscriber,
    counts: &mut ImportCounts,
) -> anyhow::Result<()> {
    let Some(existing) = find(tx, &row.email)? else {
        insert(
            tx,
            &row.email,
            row.name.as_deref(),
            row.status.unwrap_or(Status::Active),
            Source::Import,
        )?;
        counts.added += 1;
        return Ok(());
    };
    let mut changed = false;
    if existing.name.is_none()
        && let Some(name) = clean_name(row.name.as_deref())
    {
        tx.prepare_cached("UPDATE subscribers SET name = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![existing.id, name, now()])?;
        counts.named += 1;
        changed = true;
    }
    // Only away from active: the file may be older than the unsubscribe.
    if let Some(status) = row.status.filter(|s| *s != Status::Active)
        && existing.status == Status::Active
    {
        tx.prepare_cached("UPDATE subscribers SET status = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![existing.id, status.as_str(), now()])?;
        counts.deactivated += 1;
        changed = true;
    }
    if !changed {
        counts.unchanged += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str, name: Option<&str>, status: Option<Status>) -> NewSubscriber {
        NewSubscriber {
            email: email.into(),
            name: name.map(Into::into),
            status,
        }
    }

    #[test]
    fn details_by_address_or_number_with_the_last_delivery() {
        use crate::store::sends::SentDelivery;
        let mut store = Store::open_in_memory().unwrap();
        let ann = store
            .add_subscriber("ann@example.org", Some("Ann"))
            .unwrap();
        for (issue, at) in [
            (IssueId::new(1, 1), "2030-01-07T09:00:00Z"),
            (IssueId::new(1, 2), "2030-01-21T09:00:00Z"),
        ] {
            let sent = [SentDelivery {
                subscriber_id: ann,
                message_id: &format!("{}.{ann}@x", issue.slug()),
            }];
            store.record_sent(issue, at, &sent).unwrap();
        }
        let by_address = store
            .subscriber_details("ANN@example.org")
            .unwrap()
            .unwrap();
        assert_eq!(by_address.subscriber.email, "ann@example.org");
        assert_eq!(by_address.delivered, 2);
        assert_eq!(
            by_address.last_delivered,
            Some((IssueId::new(1, 2), "2030-01-21T09:00:00Z".to_string()))
        );
        let by_number = store.subscriber_details(&ann.to_string()).unwrap();
        assert_eq!(by_number, Some(by_address));
        assert_eq!(store.subscriber_details("99").unwrap(), None);
        assert_eq!(store.subscriber_details("zed@example.org").unwrap(), None);
    }

    #[test]
    fn addresses_are_unique_case_insensitively() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .add_subscriber("Ann@example.org", Some("Ann"))
            .unwrap();
        let err = store.add_subscriber("ann@EXAMPLE.org", None).unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<ListError>(),
                Some(ListError::AlreadySubscribed { .. })
            ),
            "{err}"
        );
        assert_eq!(store.subscriber_counts().unwrap().active, 1);
    }

    #[test]
    fn import_never_reactivates_and_fills_missing_names() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_subscriber("a@example.org", None).unwrap();
        store.add_subscriber("b@example.org", Some("Bea")).unwrap();
        store
            .set_subscriber_status("b@example.org", Status::Unsubscribed)
            .unwrap();
        let counts = store
            .import_subscribers([
                row("A@example.org", Some("Al"), None),
                row("b@example.org", Some("Other"), Some(Status::Active)),
                row("c@example.org", None, Some(Status::Bounced)),
            ])
            .unwrap();
        assert_eq!(
            counts,
            ImportCounts {
                added: 1,
                named: 1,
                deactivated: 0,
                unchanged: 1
            }
        );
        let b = store.subscriber("b@example.org").unwrap().unwrap();
        assert_eq!(b.status, Status::Unsubscribed);
        assert_eq!(b.name.as_deref(), Some("Bea"));
        let a = store.subscriber("a@example.org").unwrap().unwrap();
        assert_eq!(a.name.as_deref(), Some("Al"));
        let c = store.subscriber("c@example.org").unwrap().unwrap();
        assert_eq!(c.status, Status::Bounced);
    }

    #[test]
    fn add_and_import_record_their_source_and_add_activates_a_pending_signup() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_subscriber("a@example.org", None).unwrap();
        store
            .import_subscribers([row("b@example.org", None, None)])
            .unwrap();
        store.signup("c@example.org", None, 3).unwrap();
        let a = store.subscriber("a@example.org").unwrap().unwrap();
        assert_eq!(a.source, Some(Source::CommandLine));
        assert!(a.consent_at.is_some() && a.confirmed_at.is_none());
        let b = store.subscriber("b@example.org").unwrap().unwrap();
        assert_eq!((b.status, b.source), (Status::Active, Some(Source::Import)));
        store.add_subscriber("c@example.org", Some("Cy")).unwrap();
        let c = store.subscriber("c@example.org").unwrap().unwrap();
        assert_eq!(
            (c.status, c.source),
            (Status::Active, Some(Source::CommandLine))
        );
        assert_eq!(c.name.as_deref(), Some("Cy"));
        assert_eq!(store.subscriber_counts().unwrap().pending, 0);
    }

    #[test]
    fn import_can_deactivate() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_subscriber("a@example.org", None).unwrap();
        let counts = store
            .import_subscribers([row("a@example.org", None, Some(Status::Unsubscribed))])
            .unwrap();
        assert_eq!(counts.deactivated, 1);
        assert_eq!(store.subscriber_counts().unwrap().unsubscribed, 1);
    }

    #[test]
    fn remove_and_unsubscribe_report_unknown_addresses() {
        let mut store = Store::open_in_memory().unwrap();
        let err = store.remove_subscriber("x@example.org").unwrap_err();
        assert_eq!(
            err.downcast_ref::<ListError>(),
            Some(&ListError::NotFound("x@example.org".into()))
        );
        store.add_subscriber("x@example.org", None).unwrap();
        store.remove_subscriber("X@example.org").unwrap();
        assert_eq!(store.subscriber_counts().unwrap(), Counts::default());
    }
}
