//! Readers' replies as stored and moderated.

use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::{Batch, Store};
use crate::issue::IssueId;

/// An approved reply, ready to publish in the issue after the one it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: i64,
    /// The name shown ("A reader" when anonymous or unknown).
    pub name: String,
    pub text: String,
    pub note: Option<String>,
}

/// Where a reply stands in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Status> {
        match s {
            "pending" => Ok(Status::Pending),
            "approved" => Ok(Status::Approved),
            "rejected" => Ok(Status::Rejected),
            other => anyhow::bail!("unknown reply status `{other}`"),
        }
    }
}

/// A stored reply, as the editor moderates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: i64,
    pub message_id: String,
    /// The issue it answers, when it could be told.
    pub issue: Option<IssueId>,
    pub subscriber_id: Option<i64>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub subject: String,
    pub received_at: Option<String>,
    pub text: String,
    pub status: Status,
    pub note: Option<String>,
    pub anonymous: bool,
    pub display_name: Option<String>,
    pub imported_at: String,
    /// The message's text before extraction (capped); `None` for replies imported before
    /// dispatch kept it.
    pub original: Option<String>,
}

impl Reply {
    /// The name the reply would be published under.
    pub fn shown_name(&self) -> String {
        shown_name(
            self.anonymous,
            self.display_name.clone(),
            self.from_name.clone(),
        )
    }
}

fn shown_name(anonymous: bool, display: Option<String>, from_name: Option<String>) -> String {
    let name = if anonymous {
        None
    } else {
        display.or(from_name).filter(|n| !n.trim().is_empty())
    };
    name.unwrap_or_else(|| "A reader".to_string())
}

/// A reply as the importer stores it.
#[derive(Debug, Clone)]
pub struct NewReply<'a> {
    pub message_id: &'a str,
    pub issue: Option<IssueId>,
    pub subscriber_id: Option<i64>,
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub subject: &'a str,
    pub received_at: Option<String>,
    pub text: &'a str,
    /// The message's text before extraction, already capped by the importer.
    pub original: Option<&'a str>,
}

/// Which replies `list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub issue: Option<IssueId>,
    pub status: Option<Status>,
}

/// How the editor approves replies.
#[derive(Debug, Clone, Default)]
pub struct Approval {
    pub note: Option<String>,
    pub anonymous: bool,
    pub name: Option<String>,
}

/// Reply ids that are not in the database; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error(
    "there {}: nothing was changed (`dispatch replies list` shows them)",
    no_such_replies(.0)
)]
pub struct UnknownReplies(pub Vec<i64>);

/// "is no reply #4" or "are no replies #4, #9".
fn no_such_replies(ids: &[i64]) -> String {
    let list = ids
        .iter()
        .map(|id| format!("#{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    match ids.len() {
        1 => format!("is no reply {list}"),
        _ => format!("are no replies {list}"),
    }
}

const REPLY_COLUMNS: &str = "id, message_id, volume, number, subscriber_id, from_address, from_name, subject, received_at, text, status, note, anonymous, display_name, imported_at, original";

fn reply_from_row(r: &Row<'_>) -> rusqlite::Result<Reply> {
    let volume: Option<u32> = r.get(2)?;
    let number: Option<u32> = r.get(3)?;
    let status: String = r.get(10)?;
    Ok(Reply {
        id: r.get(0)?,
        message_id: r.get(1)?,
        issue: volume.zip(number).map(|(v, n)| IssueId::new(v, n)),
        subscriber_id: r.get(4)?,
        from_address: r.get(5)?,
        from_name: r.get(6)?,
        subject: r.get(7)?,
        received_at: r.get(8)?,
        text: r.get(9)?,
        status: status.parse().map_err(|e: anyhow::Error| {
            rusqlite::Error::FromSqlConversionFailure(
                10,
                rusqlite::types::Type::Text,
                e.into_boxed_dyn_error(),
            )
        })?,
        note: r.get(11)?,
        anonymous: r.get(12)?,
        display_name: r.get(13)?,
        imported_at: r.get(14)?,
        original: r.get(15)?,
    })
}

/// Stores a reply; false when one with this Message-ID is already there.
pub fn insert_reply(batch: &Batch<'_>, reply: &NewReply<'_>) -> rusqlite::Result<bool> {
    let conn = batch.conn;
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO replies
         (message_id, volume, number, subscriber_id, from_address, from_name, subject,
          received_at, text, imported_at, original)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            reply.message_id,
            reply.issue.map(|i| i.volume),
            reply.issue.map(|i| i.number),
            reply.subscriber_id,
            reply.from_address,
            reply.from_name,
            reply.subject,
            reply.received_at,
            reply.text,
            super::now(),
            reply.original,
        ],
    )?;
    Ok(inserted == 1)
}

impl Store {
    /// The approved replies to `issue`, oldest first (then by id, so the order never changes).
    pub fn approved_replies(&self, issue: IssueId) -> anyhow::Result<Vec<Published>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, anonymous, display_name, from_name, text, note FROM replies
             WHERE volume = ?1 AND number = ?2 AND status = 'approved'
             ORDER BY received_at, id",
        )?;
        let rows = stmt.query_map(params![issue.volume, issue.number], |r| {
            Ok(Published {
                id: r.get(0)?,
                name: shown_name(r.get(1)?, r.get(2)?, r.get(3)?),
                text: r.get(4)?,
                note: r
                    .get::<_, Option<String>>(5)?
                    .filter(|n| !n.trim().is_empty()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The replies matching `filter`, in the order they were imported.
    pub fn replies(&self, filter: &Filter) -> anyhow::Result<Vec<Reply>> {
        let mut sql = format!("SELECT {REPLY_COLUMNS} FROM replies WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(issue) = filter.issue {
            sql.push_str(" AND volume = ? AND number = ?");
            args.push(i64::from(issue.volume).into());
            args.push(i64::from(issue.number).into());
        }
        if let Some(status) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(status.as_str().to_string().into());
        }
        sql.push_str(" ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), reply_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One reply, or an error naming the id.
    pub fn reply(&self, id: i64) -> anyhow::Result<Reply> {
        let found = self
            .conn
            .query_row(
                &format!("SELECT {REPLY_COLUMNS} FROM replies WHERE id = ?1"),
                [id],
                reply_from_row,
            )
            .optional()?;
        found.ok_or_else(|| UnknownReplies(vec![id]).into())
    }

    /// Approves every reply in `ids`, or none when one of them does not exist.
    pub fn approve_replies(&mut self, ids: &[i64], approval: &Approval) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        require_replies(&tx, ids)?;
        for id in ids {
            tx.execute(
                "UPDATE replies SET status = 'approved', note = ?2, anonymous = ?3,
                 display_name = ?4 WHERE id = ?1",
                params![
                    id,
                    approval.note.as_deref().filter(|n| !n.trim().is_empty()),
                    approval.anonymous,
                    approval.name.as_deref().filter(|n| !n.trim().is_empty()),
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rejects every reply in `ids`, or none when one of them does not exist.
    pub fn reject_replies(&mut self, ids: &[i64]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        require_replies(&tx, ids)?;
        for id in ids {
            tx.execute("UPDATE replies SET status = 'rejected' WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts a reply the editor just decided back to pending with the anonymity it had, when it
    /// still has the status `decided` (another command may have changed it since); true when
    /// it did.
    pub fn return_to_pending(
        &mut self,
        id: i64,
        decided: Status,
        anonymous: bool,
    ) -> anyhow::Result<bool> {
        let changed = self.conn.execute(
            "UPDATE replies SET status = 'pending', anonymous = ?3 WHERE id = ?1 AND status = ?2",
            params![id, decided.as_str(), anonymous],
        )?;
        Ok(changed == 1)
    }

    /// Replaces the text of a reply (the editor's edit).
    pub fn set_reply_text(&mut self, id: i64, text: &str) -> anyhow::Result<()> {
        let changed = self.conn.execute(
            "UPDATE replies SET text = ?2 WHERE id = ?1",
            params![id, text],
        )?;
        if changed == 0 {
            return Err(UnknownReplies(vec![id]).into());
        }
        Ok(())
    }

    /// Sets (or, with `None` or blank text, removes) the editor's note on a reply, whatever its
    /// state; an approval keeps the note it is given.
    pub fn set_reply_note(&mut self, id: i64, note: Option<&str>) -> anyhow::Result<()> {
        let changed = self.conn.execute(
            "UPDATE replies SET note = ?2 WHERE id = ?1",
            params![id, note.filter(|n| !n.trim().is_empty())],
        )?;
        if changed == 0 {
            return Err(UnknownReplies(vec![id]).into());
        }
        Ok(())
    }
}

/// Fails with every id of `ids` that names no reply.
fn require_replies(conn: &Connection, ids: &[i64]) -> anyhow::Result<()> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM replies WHERE id = ?1")?;
    let mut missing = Vec::new();
    for id in ids {
        if !stmt.exists([id])? {
            missing.push(*id);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UnknownReplies(missing).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply<'a>(message_id: &'a str, text: &'a str) -> NewReply<'a> {
        NewReply {
            message_id,
            issue: Some(IssueId::new(1, 1)),
            subscriber_id: None,
            from_address: "ann@example.org",
            from_name: Some("Ann Example"),
            subject: "Re: V1N1",
            received_at: Some("2030-01-02T00:00:00Z".into()),
            text,
            original: Some("Original message"),
        }
    }

    #[test]
    fn insert_is_idempotent_by_message_id() {
        let store = Store::open_in_memory().unwrap();
        assert!(insert_reply(&store.single(), &reply("a@x", "hi")).unwrap());
        assert!(!insert_reply(&store.single(), &reply("a@x", "hi again")).unwrap());
        assert_eq!(store.replies(&Filter::default()).unwrap().len(), 1);
    }

    #[test]
    fn moderation_is_all_or_nothing() {
        let mut store = Store::open_in_memory().unwrap();
        insert_reply(&store.single(), &reply("a@x", "one")).unwrap();
        insert_reply(&store.single(), &reply("b@x", "two")).unwrap();
        let err = store
            .approve_replies(&[1, 7, 9], &Approval::default())
            .unwrap_err();
        assert_eq!(err.downcast_ref::<UnknownReplies>().unwrap().0, vec![7, 9]);
        assert!(
            store
                .approved_replies(IssueId::new(1, 1))
                .unwrap()
                .is_empty()
        );

        let approval = Approval {
            note: Some("Thanks!".into()),
            anonymous: true,
            name: None,
        };
        store.approve_replies(&[2, 1], &approval).unwrap();
        let published = store.approved_replies(IssueId::new(1, 1)).unwrap();
        assert_eq!(published.len(), 2);
        assert_eq!(published[0].name, "A reader");
        assert_eq!(published[0].note.as_deref(), Some("Thanks!"));

        store.reject_replies(&[2]).unwrap();
        let pending_or_rejected = store
            .replies(&Filter {
                status: Some(Status::Rejected),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(pending_or_rejected.len(), 1);
        assert_eq!(pending_or_rejected[0].id, 2);
    }

    #[test]
    fn shown_name_prefers_the_editors_choice() {
        let mut store = Store::open_in_memory().unwrap();
        insert_reply(&store.single(), &reply("a@x", "one")).unwrap();
        let approval = Approval {
            name: Some("Ann E.".into()),
            ..Approval::default()
        };
        store.approve_replies(&[1], &approval).unwrap();
        assert_eq!(store.reply(1).unwrap().shown_name(), "Ann E.");
        store.set_reply_text(1, "edited").unwrap();
        assert_eq!(store.reply(1).unwrap().text, "edited");
        assert!(store.set_reply_text(5, "x").is_err());
    }
}
