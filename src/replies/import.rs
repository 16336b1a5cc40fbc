//! The importer: classifies raw messages and applies what each kind means, one transaction per
//! batch (with the mailbox position, so that a crash neither loses nor doubles a message).

use rusqlite::Connection;
use sha2::{Digest as _, Sha256};

use crate::issue::IssueId;
use crate::mail::message::{self, Incoming, Kind};
use crate::mail::token::verify_unsubscribe_token;
use crate::store::Store;
use crate::store::inbound::{self, MailboxState};
use crate::store::replies::{NewReply, insert_reply};
use crate::store::subscribers::{self, Status};

/// What the List-Unsubscribe mailto puts in front of the token in the subject.
pub const UNSUBSCRIBE_PREFIX: &str = "unsubscribe";

/// One message as read from a mailbox, mbox file or Maildir.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Where it came from, for messages about it ("UID 42", a file name).
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Messages not seen before (each classified below).
    pub new: u64,
    /// Messages already imported (by Message-ID).
    pub seen_before: u64,
    pub replies: u64,
    /// Replies that could not be tied to an issue.
    pub replies_without_issue: u64,
    pub auto_replies: u64,
    pub bounces: u64,
    /// Recipients that bounced permanently (5.x.x).
    pub hard_bounces: u64,
    /// Recipients that bounced temporarily (4.x.x).
    pub soft_bounces: u64,
    pub subscribers_bounced: u64,
    pub unsubscribe_requests: u64,
    pub subscribers_unsubscribed: u64,
    pub other: u64,
    pub unreadable: u64,
    /// Things the editor should know about single messages.
    pub warnings: Vec<String>,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.new += other.new;
        self.seen_before += other.seen_before;
        self.replies += other.replies;
        self.replies_without_issue += other.replies_without_issue;
        self.auto_replies += other.auto_replies;
        self.bounces += other.bounces;
        self.hard_bounces += other.hard_bounces;
        self.soft_bounces += other.soft_bounces;
        self.subscribers_bounced += other.subscribers_bounced;
        self.unsubscribe_requests += other.unsubscribe_requests;
        self.subscribers_unsubscribed += other.subscribers_unsubscribed;
        self.other += other.other;
        self.unreadable += other.unreadable;
        self.warnings.extend(other.warnings);
    }
}

/// The parser context every import uses.
pub fn parse_context() -> message::Context {
    message::Context {
        unsubscribe_prefix: UNSUBSCRIBE_PREFIX.to_string(),
    }
}

/// Stores batches of messages into one newsletter database.
pub struct Importer<'a> {
    store: &'a mut Store,
    secret: Vec<u8>,
    context: message::Context,
    pub summary: Summary,
}

impl<'a> Importer<'a> {
    pub fn new(store: &'a mut Store) -> anyhow::Result<Importer<'a>> {
        let secret = store.secret()?;
        Ok(Importer {
            store,
            secret,
            context: parse_context(),
            summary: Summary::default(),
        })
    }

    /// Imports `messages` and records `position` (mailbox key and state) in one transaction.
    pub fn import_batch(
        &mut self,
        messages: &[RawMessage],
        position: Option<(&str, MailboxState)>,
    ) -> anyhow::Result<()> {
        let tx = self.store.conn.transaction()?;
        let mut batch = Summary::default();
        for raw in messages {
            import_one(&tx, raw, &self.secret, &self.context, &mut batch)?;
        }
        if let Some((mailbox, state)) = position {
            inbound::set_mailbox_state(&tx, mailbox, state)?;
        }
        tx.commit()?;
        self.summary.add(batch);
        Ok(())
    }
}

fn import_one(
    conn: &Connection,
    raw: &RawMessage,
    secret: &[u8],
    context: &message::Context,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let parsed = message::parse(&raw.bytes, context);
    let message_id = parsed
        .as_ref()
        .ok()
        .and_then(|m| normalize_message_id(&m.message_id))
        .unwrap_or_else(|| synthetic_message_id(&raw.bytes));
    if inbound::seen(conn, &message_id)? {
        summary.seen_before += 1;
        return Ok(());
    }
    summary.new += 1;
    let kind = match parsed {
        Ok(incoming) => apply(conn, &incoming, &message_id, secret, summary)?,
        Err(err) => {
            summary.unreadable += 1;
            summary
                .warnings
                .push(format!("{}: unreadable message: {err}", raw.origin));
            "unreadable"
        }
    };
    inbound::record(conn, &message_id, kind)?;
    Ok(())
}

/// A Message-ID as stored: without angle brackets and surrounding space.
fn normalize_message_id(id: &Option<String>) -> Option<String> {
    let id = id.as_deref()?.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// A stable Message-ID for a message that has none: the same message always gets the same
/// one, whether its lines end in CRLF (IMAP) or LF (a Maildir or mbox file on disk).
pub fn synthetic_message_id(raw: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for line in raw.split_inclusive(|b| *b == b'\n') {
        match line.strip_suffix(b"\r\n") {
            Some(text) => {
                hasher.update(text);
                hasher.update(b"\n");
            }
            None => hasher.update(line),
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@sha256.dispatch.invalid")
}

/// Applies what the message's kind means; returns the kind as recorded in `inbound`.
fn apply(
    conn: &Connection,
    incoming: &Incoming,
    message_id: &str,
    secret: &[u8],
    summary: &mut Summary,
) -> anyhow::Result<&'static str> {
    Ok(match &incoming.kind {
        Kind::Reply => {
            store_reply(conn, incoming, message_id, summary)?;
            "reply"
        }
        Kind::AutoReply => {
            summary.auto_replies += 1;
            "auto-reply"
        }
        Kind::Bounce { recipients } => {
            summary.bounces += 1;
            for recipient in recipients {
                if recipient.permanent {
                    summary.hard_bounces += 1;
                    if let Some(id) = inbound::subscriber_by_address(conn, &recipient.address)?
                        && subscribers::deactivate(conn, id, Status::Bounced)?
                    {
                        summary.subscribers_bounced += 1;
                    }
                } else {
                    summary.soft_bounces += 1;
                }
            }
            "bounce"
        }
        Kind::Unsubscribe { token } => {
            unsubscribe(conn, incoming, token.as_deref(), secret, summary)?;
            "unsubscribe"
        }
        Kind::Other => {
            summary.other += 1;
            "other"
        }
    })
}

fn store_reply(
    conn: &Connection,
    incoming: &Incoming,
    message_id: &str,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let (issue, subscriber_id) = tie(conn, incoming)?;
    let received_at = incoming
        .date
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(crate::store::now);
    let from_address = incoming.from_address.as_deref().unwrap_or_default();
    insert_reply(
        conn,
        &NewReply {
            message_id,
            issue,
            subscriber_id,
            from_address,
            from_name: incoming.from_name.as_deref(),
            subject: &incoming.subject,
            received_at: Some(received_at),
            text: &incoming.text,
        },
    )?;
    summary.replies += 1;
    if issue.is_none() {
        summary.replies_without_issue += 1;
    }
    Ok(())
}

/// The issue a reply answers and the subscriber who wrote it: by the Message-IDs we sent, then
/// by `V5N2` in the subject, then by date (the last issue sent before it); the subscriber by
/// address when the Message-ID did not tell.
fn tie(conn: &Connection, incoming: &Incoming) -> anyhow::Result<(Option<IssueId>, Option<i64>)> {
    let referenced: Vec<String> = incoming
        .in_reply_to
        .iter()
        .chain(incoming.references.iter().rev())
        .cloned()
        .collect();
    if let Some((issue, subscriber)) = inbound::delivery(conn, &referenced)? {
        return Ok((Some(issue), Some(subscriber)));
    }
    let subscriber = match &incoming.from_address {
        Some(address) => inbound::subscriber_by_address(conn, address)?,
        None => None,
    };
    let by_subject = message::subject_issue(&incoming.subject)
        .filter(|(v, n)| *v > 0 && *n > 0)
        .map(|(v, n)| IssueId::new(v, n));
    let issue = match by_subject {
        Some(issue) => Some(issue),
        None => {
            let at = incoming
                .date
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(crate::store::now);
            inbound::issue_sent_before(conn, &at)?
        }
    };
    Ok((issue, subscriber))
}

/// Unsubscribes the subscriber the token names, or else the sender when they are one.
fn unsubscribe(
    conn: &Connection,
    incoming: &Incoming,
    token: Option<&str>,
    secret: &[u8],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    summary.unsubscribe_requests += 1;
    let by_token = match token.and_then(|t| verify_unsubscribe_token(secret, t)) {
        Some(id) if inbound::subscriber_exists(conn, id)? => Some(id),
        _ => None,
    };
    let subscriber = match (by_token, &incoming.from_address) {
        (Some(id), _) => Some(id),
        (None, Some(address)) => inbound::subscriber_by_address(conn, address)?,
        (None, None) => None,
    };
    match subscriber {
        Some(id) => {
            if subscribers::deactivate(conn, id, Status::Unsubscribed)? {
                summary.subscribers_unsubscribed += 1;
            }
        }
        None => summary.warnings.push(format!(
            "an unsubscribe request from {} names no subscriber (its token is {})",
            incoming
                .from_address
                .as_deref()
                .unwrap_or("an unknown sender"),
            if token.is_some() {
                "not valid"
            } else {
                "missing"
            }
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawMessage {
        RawMessage {
            origin: "test".into(),
            bytes: text.replace('\n', "\r\n").into_bytes(),
        }
    }

    fn subscriber(store: &Store, email: &str) -> i64 {
        store
            .conn
            .execute(
                "INSERT INTO subscribers (email, email_key, created_at, updated_at)
                 VALUES (?1, lower(?1), 'now', 'now')",
                [email],
            )
            .unwrap();
        store.conn.last_insert_rowid()
    }

    fn status(store: &Store, id: i64) -> String {
        store
            .conn
            .query_row("SELECT status FROM subscribers WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    }

    const DSN: &str = "From: MAILER-DAEMON@mx.example\nTo: ed@example.com\nSubject: Undelivered Mail\nMessage-ID: <dsn@mx.example>\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; full@example.org\nAction: delayed\nStatus: 4.2.2\n--b--\n";

    #[test]
    fn bounces_mark_only_permanent_failures() {
        let mut store = Store::open_in_memory().unwrap();
        let gone = subscriber(&store, "gone@example.org");
        let full = subscriber(&store, "full@example.org");
        let mut importer = Importer::new(&mut store).unwrap();
        importer.import_batch(&[raw(DSN)], None).unwrap();
        let summary = importer.summary.clone();
        assert_eq!(
            (summary.bounces, summary.hard_bounces, summary.soft_bounces),
            (1, 1, 1)
        );
        assert_eq!(summary.subscribers_bounced, 1);
        assert_eq!(status(&store, gone), "bounced");
        assert_eq!(status(&store, full), "active");
    }

    #[test]
    fn unsubscribe_falls_back_to_the_senders_address() {
        let mut store = Store::open_in_memory().unwrap();
        let ann = subscriber(&store, "ann@example.org");
        let mut importer = Importer::new(&mut store).unwrap();
        let request = "From: Ann <Ann@Example.org>\nTo: ed@example.com\nSubject: unsubscribe AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nMessage-ID: <u@example.org>\n\nplease\n";
        importer.import_batch(&[raw(request)], None).unwrap();
        assert_eq!(importer.summary.subscribers_unsubscribed, 1);
        assert_eq!(status(&store, ann), "unsubscribed");
    }

    #[test]
    fn duplicates_and_unreadable_messages_are_counted_once() {
        let mut store = Store::open_in_memory().unwrap();
        let mut importer = Importer::new(&mut store).unwrap();
        let reply =
            raw("From: a@example.org\nSubject: Re: hi\nMessage-ID: <r@example.org>\n\nYes!\n");
        let empty = RawMessage {
            origin: "UID 9".into(),
            bytes: b"\r\n".to_vec(),
        };
        importer
            .import_batch(&[reply.clone(), reply, empty.clone()], None)
            .unwrap();
        importer.import_batch(&[empty], None).unwrap();
        let s = &importer.summary;
        assert_eq!(
            (s.new, s.seen_before, s.replies, s.unreadable),
            (2, 2, 1, 1)
        );
        assert!(
            s.warnings[0].starts_with("UID 9: unreadable message"),
            "{:?}",
            s.warnings
        );
        assert_eq!(s.replies_without_issue, 1);
    }

    #[test]
    fn synthetic_ids_are_stable_and_distinct() {
        assert_eq!(synthetic_message_id(b"a"), synthetic_message_id(b"a"));
        assert_ne!(synthetic_message_id(b"a"), synthetic_message_id(b"b"));
        assert!(synthetic_message_id(b"a").ends_with("@sha256.dispatch.invalid"));
        assert_eq!(
            synthetic_message_id(b"Subject: x\r\n\r\nbody\r\n"),
            synthetic_message_id(b"Subject: x\n\nbody\n")
        );
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(
            normalize_message_id(&Some(" <a@b> ".into())).as_deref(),
            Some("a@b")
        );
        assert_eq!(normalize_message_id(&Some("<>".into())), None);
        assert_eq!(normalize_message_id(&None), None);
    }
}
