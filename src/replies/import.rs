//! The importer: classifies raw messages and applies what each kind means, one transaction per
//! batch (with the mailbox position, so that a crash neither loses nor doubles a message).

use sha2::{Digest as _, Sha256};

use crate::issue::IssueId;
use crate::outgoing::token::verify_unsubscribe_token;
use crate::outgoing::unsubscribe::UNSUBSCRIBE_PREFIX;
use crate::replies::classify::{self, Kind};
use crate::replies::dsn::BouncedRecipient;
use crate::replies::message::{self, Incoming};
use crate::store::inbound::{self, MailboxState};
use crate::store::replies::{NewReply, insert_reply};
use crate::store::subscribers::{self, Status};
use crate::store::{Batch, Store};

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
    /// Bounces not tied to a delivery `send` made to the bounced address: they changed
    /// nothing.
    pub unmatched_bounces: u64,
    pub unsubscribe_requests: u64,
    pub subscribers_unsubscribed: u64,
    /// Unsubscribe requests stored for the editor to confirm.
    pub unsubscribes_waiting: u64,
    pub other: u64,
    pub unreadable: u64,
    /// Things the editor should know about single messages.
    pub warnings: Vec<String>,
    /// What each unmatched bounce named, one line each.
    pub unmatched: Vec<String>,
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
        self.unmatched_bounces += other.unmatched_bounces;
        self.unsubscribe_requests += other.unsubscribe_requests;
        self.subscribers_unsubscribed += other.subscribers_unsubscribed;
        self.unsubscribes_waiting += other.unsubscribes_waiting;
        self.other += other.other;
        self.unreadable += other.unreadable;
        self.warnings.extend(other.warnings);
        self.unmatched.extend(other.unmatched);
    }
}

/// The parser context every import uses; `authserv_id` names the editor's own mail server
/// (`imap.authserv_id`), whose `Authentication-Results` fields are believed.
pub fn parse_context(authserv_id: Option<&str>) -> message::Context {
    message::Context {
        unsubscribe_prefix: UNSUBSCRIBE_PREFIX.to_string(),
        authserv_id: authserv_id.map(str::to_string),
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
    pub fn new(store: &'a mut Store, authserv_id: Option<&str>) -> anyhow::Result<Importer<'a>> {
        let secret = store.secret()?;
        Ok(Importer {
            store,
            secret,
            context: parse_context(authserv_id),
            summary: Summary::default(),
        })
    }

    /// Imports `messages` and records `position` (mailbox key and state) in one transaction.
    pub fn import_batch(
        &mut self,
        messages: &[RawMessage],
        position: Option<(&str, MailboxState)>,
    ) -> anyhow::Result<()> {
        let mut batch = Summary::default();
        self.store.batch(|tx| {
            for raw in messages {
                import_one(tx, raw, &self.secret, &self.context, &mut batch)?;
            }
            if let Some((mailbox, state)) = position {
                inbound::set_mailbox_state(tx, mailbox, state)?;
            }
            Ok(())
        })?;
        self.summary.add(batch);
        Ok(())
    }
}

fn import_one(
    conn: &Batch<'_>,
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
        Ok(incoming) => apply(conn, raw, &incoming, &message_id, secret, summary)?,
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
    conn: &Batch<'_>,
    raw: &RawMessage,
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
        Kind::Bounce {
            recipients,
            returned_message_id,
        } => {
            bounce(
                conn,
                &raw.origin,
                recipients,
                returned_message_id.as_deref(),
                summary,
            )?;
            "bounce"
        }
        Kind::Unsubscribe { token } => {
            unsubscribe(
                conn,
                incoming,
                message_id,
                token.as_deref(),
                secret,
                summary,
            )?;
            "unsubscribe"
        }
        Kind::Other => {
            summary.other += 1;
            "other"
        }
    })
}

fn store_reply(
    conn: &Batch<'_>,
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
            original: Some(capped(&incoming.original, ORIGINAL_LIMIT)),
        },
    )?;
    summary.replies += 1;
    if issue.is_none() {
        summary.replies_without_issue += 1;
    }
    Ok(())
}

/// How much of a reply's original text is kept for the editor to compare: more than any
/// real reply (a long thread quoted in full is tens of KiB), less than a message that
/// would bloat the database.
pub const ORIGINAL_LIMIT: usize = 256 * 1024;

/// `text` cut to at most `limit` bytes on a character boundary.
fn capped(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let end = (0..=limit)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

/// The issue a reply answers and the subscriber who wrote it: by the Message-IDs we sent, then
/// by `V5N2` in the subject, then by date (the last issue sent before it); the subscriber by
/// address when the Message-ID did not tell.
fn tie(conn: &Batch<'_>, incoming: &Incoming) -> anyhow::Result<(Option<IssueId>, Option<i64>)> {
    let referenced: Vec<String> = incoming
        .in_reply_to
        .iter()
        .chain(incoming.references.iter().rev())
        .cloned()
        .collect();
    if let Some(d) = inbound::delivery(conn, &referenced)? {
        return Ok((Some(d.issue), Some(d.subscriber_id)));
    }
    let subscriber = match &incoming.from_address {
        Some(address) => inbound::subscriber_by_address(conn, address)?,
        None => None,
    };
    let by_subject = classify::subject_issue(&incoming.subject)
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

/// Marks a permanently failed recipient bounced only when the report returns a message `send`
/// delivered to that very address (its Message-ID is unique per issue and subscriber); any
/// other report changes nothing and is listed.
fn bounce(
    conn: &Batch<'_>,
    origin: &str,
    recipients: &[BouncedRecipient],
    returned_message_id: Option<&str>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    summary.bounces += 1;
    let delivery = match returned_message_id {
        Some(id) => inbound::delivery_by_message_id(conn, id)?,
        None => None,
    };
    let mut ignored = Vec::new();
    for recipient in recipients {
        if !recipient.permanent {
            summary.soft_bounces += 1;
            continue;
        }
        summary.hard_bounces += 1;
        match &delivery {
            Some(d) if is_recipient_of(recipient, &d.email) => {
                if subscribers::deactivate(conn, d.subscriber_id, Status::Bounced)? {
                    summary.subscribers_bounced += 1;
                }
            }
            _ => ignored.push(printable(&recipient.address)),
        }
    }
    if delivery.is_none() {
        // Not tied at all: name every recipient, the temporary failures too.
        ignored = recipients.iter().map(|r| printable(&r.address)).collect();
    }
    let named = if ignored.is_empty() {
        "no address".to_string()
    } else {
        ignored.join(", ")
    };
    let why = match (returned_message_id, &delivery) {
        (_, Some(_)) if ignored.is_empty() => return Ok(()),
        (_, Some(d)) => format!("returns the copy sent to {}", printable(&d.email)),
        (Some(id), None) => format!("returns <{}>, not a message dispatch sent", printable(id)),
        (None, None) => "does not show the Message-ID of the returned message".to_string(),
    };
    summary.unmatched_bounces += 1;
    summary
        .unmatched
        .push(format!("{origin}: a bounce for {named} {why}"));
    Ok(())
}

/// Whether a DSN recipient (final or original) is the address a delivery went to.
fn is_recipient_of(recipient: &BouncedRecipient, email: &str) -> bool {
    let key = subscribers::email_key(email);
    std::iter::once(&recipient.address)
        .chain(&recipient.original)
        .any(|a| subscribers::email_key(a) == key)
}

/// Text from a message, safe to print on a terminal: control characters escaped.
fn printable(text: &str) -> String {
    crate::address::escape_controls(text).into_owned()
}

/// Unsubscribes the subscriber a valid token names at once. Without one, the sender is
/// unsubscribed at once only when the editor's own server vouches for the From address
/// (DKIM/SPF/DMARC pass); otherwise the request waits for the editor.
fn unsubscribe(
    conn: &Batch<'_>,
    incoming: &Incoming,
    message_id: &str,
    token: Option<&str>,
    secret: &[u8],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    summary.unsubscribe_requests += 1;
    let by_token = match token.and_then(|t| verify_unsubscribe_token(secret, t)) {
        Some(id) if inbound::subscriber_exists(conn, id)? => Some(id),
        _ => None,
    };
    let by_sender = match (by_token, &incoming.from_address) {
        (None, Some(address)) => inbound::subscriber_by_address(conn, address)?,
        _ => None,
    };
    let token_state = if token.is_some() {
        "its token is not valid"
    } else {
        "it carries no token"
    };
    let act_on = match (by_token, by_sender) {
        (Some(id), _) => id,
        (None, Some(id)) if incoming.sender_verified.is_some() => id,
        (None, Some(id)) => {
            let stored = inbound::subscriber_is_active(conn, id)?
                && inbound::insert_unsubscribe_request(
                    conn,
                    &inbound::NewUnsubscribeRequest {
                        message_id,
                        subscriber_id: id,
                        from_address: incoming.from_address.as_deref().unwrap_or_default(),
                        subject: &incoming.subject,
                        received_at: incoming
                            .date
                            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                        reason: token_state,
                    },
                )?;
            if stored {
                summary.unsubscribes_waiting += 1;
            }
            return Ok(());
        }
        (None, None) => {
            summary.warnings.push(format!(
                "an unsubscribe request from {} names no subscriber ({token_state})",
                printable(
                    incoming
                        .from_address
                        .as_deref()
                        .unwrap_or("an unknown sender")
                ),
            ));
            return Ok(());
        }
    };
    if subscribers::deactivate(conn, act_on, Status::Unsubscribed)? {
        summary.subscribers_unsubscribed += 1;
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

    fn subscriber(store: &mut Store, email: &str) -> i64 {
        store.add_subscriber(email, None).unwrap()
    }

    fn status(store: &Store, id: i64) -> String {
        store.subscriber_status(id).unwrap().unwrap().to_string()
    }

    /// Records a delivery of V1N1 to `subscriber` under `message_id`, as `send` does.
    fn delivery(store: &mut Store, subscriber: i64, message_id: &str) {
        let sent = crate::store::sends::SentDelivery {
            subscriber_id: subscriber,
            message_id,
        };
        store
            .record_sent(IssueId::new(1, 1), "now", &[sent])
            .unwrap();
    }

    /// A DSN for gone@ (5.1.1) and full@ (4.2.2) that returns the headers in `returned`.
    fn dsn(id: &str, returned: &str) -> RawMessage {
        raw(&format!(
            "From: MAILER-DAEMON@mx.example\nTo: ed@example.com\nSubject: Undelivered Mail\nMessage-ID: <{id}>\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; full@example.org\nAction: delayed\nStatus: 4.2.2\n--b\nContent-Type: text/rfc822-headers\n\n{returned}\n--b--\n"
        ))
    }

    #[test]
    fn bounces_mark_only_permanent_failures_of_our_deliveries() {
        let mut store = Store::open_in_memory().unwrap();
        let gone = subscriber(&mut store, "gone@example.org");
        let full = subscriber(&mut store, "full@example.org");
        delivery(&mut store, gone, "v1n1.1.tag@example.com");
        let mut importer = Importer::new(&mut store, None).unwrap();
        let returned = "From: ed@example.com\nTo: gone@example.org\nMessage-ID:\n <v1n1.1.tag@example.com>\nSubject: V1N1";
        importer
            .import_batch(&[dsn("dsn@mx.example", returned)], None)
            .unwrap();
        let summary = importer.summary.clone();
        assert_eq!(
            (summary.bounces, summary.hard_bounces, summary.soft_bounces),
            (1, 1, 1)
        );
        assert_eq!(summary.subscribers_bounced, 1);
        assert_eq!(summary.unmatched_bounces, 0, "{:?}", summary.unmatched);
        assert_eq!(status(&store, gone), "bounced");
        assert_eq!(status(&store, full), "active");
    }

    #[test]
    fn a_bounce_not_tied_to_a_delivery_to_that_address_changes_nothing() {
        let mut store = Store::open_in_memory().unwrap();
        let gone = subscriber(&mut store, "gone@example.org");
        let other = subscriber(&mut store, "other@example.org");
        delivery(&mut store, gone, "v1n1.1.tag@example.com");
        delivery(&mut store, other, "v1n1.2.tag@example.com");
        let mut importer = Importer::new(&mut store, None).unwrap();
        let forged = [
            // No returned headers at all.
            dsn("f1@x", ""),
            // A Message-ID dispatch never used.
            dsn("f2@x", "Message-ID: <made-up@attacker.example>"),
            // A real Message-ID, but of the copy sent to someone else.
            dsn("f3@x", "Message-ID: <v1n1.2.tag@example.com>"),
        ];
        importer.import_batch(&forged, None).unwrap();
        let s = importer.summary.clone();
        assert_eq!((s.bounces, s.subscribers_bounced), (3, 0));
        assert_eq!(s.unmatched_bounces, 3);
        assert_eq!(
            s.unmatched,
            vec![
                "test: a bounce for gone@example.org, full@example.org does not show the Message-ID of the returned message",
                "test: a bounce for gone@example.org, full@example.org returns <made-up@attacker.example>, not a message dispatch sent",
                "test: a bounce for gone@example.org returns the copy sent to other@example.org",
            ]
        );
        assert_eq!(status(&store, gone), "active");
        assert_eq!(status(&store, other), "active");
    }

    fn request(from: &str, subject: &str, id: &str, extra: &str) -> RawMessage {
        raw(&format!(
            "{extra}From: {from}\nTo: ed@example.com\nSubject: {subject}\nMessage-ID: <{id}>\n\nplease\n"
        ))
    }

    #[test]
    fn an_unsubscribe_request_acts_at_once_only_with_a_token_or_a_verified_sender() {
        let mut store = Store::open_in_memory().unwrap();
        let ann = subscriber(&mut store, "ann@example.org");
        let bob = subscriber(&mut store, "bob@example.org");
        let cy = subscriber(&mut store, "cy@example.org");
        let dee = subscriber(&mut store, "dee@example.org");
        let token = crate::outgoing::token::unsubscribe_token(&store.secret().unwrap(), ann);
        let own = "Authentication-Results: mx.example.com; dkim=pass header.d=example.org\n";
        let forged =
            "Authentication-Results: mx.attacker.example; dkim=pass header.d=example.org\n";
        let mut importer = Importer::new(&mut store, Some("mx.example.com")).unwrap();
        let messages = [
            // A valid token: at once, whoever sends it.
            request(
                "someone@else.example",
                &format!("unsubscribe {token}"),
                "u1@x",
                "",
            ),
            // No token, but the own server verified the sender's domain.
            request("Bob <Bob@Example.org>", "unsubscribe", "u2@x", own),
            // No valid token and nothing vouches for the sender: waits for the editor.
            request(
                "cy@example.org",
                "unsubscribe AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "u3@x",
                "",
            ),
            // Another server's verdict counts for nothing.
            request("dee@example.org", "unsubscribe", "u4@x", forged),
            // The editor's own verdict below another server's was written by the sender.
            request(
                "dee@example.org",
                "unsubscribe",
                "u5@x",
                &format!("{forged}{own}"),
            ),
            // Nobody on the list.
            request("nobody@example.net", "unsubscribe", "u6@x", ""),
        ];
        importer.import_batch(&messages, None).unwrap();
        let s = importer.summary.clone();
        assert_eq!(
            (
                s.unsubscribe_requests,
                s.subscribers_unsubscribed,
                s.unsubscribes_waiting
            ),
            (6, 2, 3)
        );
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert_eq!(status(&store, ann), "unsubscribed");
        assert_eq!(status(&store, bob), "unsubscribed");
        assert_eq!(status(&store, cy), "active");
        assert_eq!(status(&store, dee), "active");

        let pending = store.pending_unsubscribe_requests().unwrap();
        let who: Vec<(&str, &str)> = pending
            .iter()
            .map(|r| (r.email.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(
            who,
            vec![
                ("cy@example.org", "its token is not valid"),
                ("dee@example.org", "it carries no token"),
                ("dee@example.org", "it carries no token"),
            ]
        );
        let (first, second, third) = (pending[0].id, pending[1].id, pending[2].id);
        let err = store
            .confirm_unsubscribe_requests(&[first, 999])
            .unwrap_err();
        assert!(err.to_string().contains("999"), "{err}");
        assert_eq!(status(&store, cy), "active", "nothing changed");
        store.dismiss_unsubscribe_requests(&[second]).unwrap();
        let confirmed = store.confirm_unsubscribe_requests(&[first, third]).unwrap();
        assert!(confirmed.iter().all(|c| c.unsubscribed), "{confirmed:?}");
        assert_eq!(status(&store, cy), "unsubscribed");
        assert_eq!(status(&store, dee), "unsubscribed");
        assert!(store.pending_unsubscribe_requests().unwrap().is_empty());
    }

    #[test]
    fn duplicates_and_unreadable_messages_are_counted_once() {
        let mut store = Store::open_in_memory().unwrap();
        let mut importer = Importer::new(&mut store, None).unwrap();
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
    fn a_reply_keeps_its_original_text_capped_on_a_character_boundary() {
        let mut store = Store::open_in_memory().unwrap();
        let mut importer = Importer::new(&mut store, None).unwrap();
        let reply = raw(
            "From: a@example.org\nSubject: Re: hi\nMessage-ID: <r@example.org>\n\nYes!\n\nOn Mon, 4 Mar 2024, Editor wrote:\n> Any news?\n",
        );
        importer.import_batch(&[reply], None).unwrap();
        let stored = &store.replies(&Default::default()).unwrap()[0];
        assert_eq!(stored.text, "Yes!");
        let original = stored.original.as_deref().unwrap();
        assert!(original.contains("Yes!"), "{original}");
        assert!(original.contains("> Any news?"), "{original}");

        assert_eq!(capped("héllo", 2), "h");
        assert_eq!(capped("héllo", 3), "hé");
        assert_eq!(capped("hi", ORIGINAL_LIMIT), "hi");
        let long = "é".repeat(ORIGINAL_LIMIT);
        assert_eq!(capped(&long, ORIGINAL_LIMIT).len(), ORIGINAL_LIMIT);
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
