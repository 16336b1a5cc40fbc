//! Incoming mail, in one room: everything that comes back to the editor's mailbox (readers'
//! replies, bounces, auto-replies, unsubscribe requests), from reading it to storing what each
//! message means. Data flows one way: a source ([`imap`], [`mbox`], [`maildir`]) yields raw
//! messages; [`message`] decodes each (MIME) and asks [`classify`] what kind it is (with
//! [`dsn`], `auto_reply`, `unsubscribe_request`, and [`auth_results`] for the sender) and
//! [`extract`] for the reader's text (HTML through [`html_text`] first, reply headers by
//! `reply_header`); [`import`] ties it to what we sent and stores it; [`review`] orders the
//! pending replies for the editor and stores each decision; [`score`] measures extraction
//! against a corpus.
//!
//! Only the sources, [`import`] and [`score`] (corpus files) do I/O, and only [`import`] and
//! [`review`] touch the store; the decoding, classification and extraction files turn bytes into values and must
//! not depend on them.

pub mod auth_results;
mod auto_reply;
pub mod classify;
pub mod dsn;
pub mod extract;
mod html_tags;
pub mod html_text;
pub mod imap;
pub mod import;
mod languages;
pub mod maildir;
pub mod mbox;
pub mod message;
mod reply_header;
pub mod review;
pub mod score;
mod unsubscribe_request;

use std::io::BufReader;
use std::path::Path;

use anyhow::Context as _;

use crate::report::Count;
use crate::store::Store;
use crate::store::inbound::MailboxState;
use import::{Importer, RawMessage, Summary};

/// Messages per IMAP FETCH and per database transaction.
pub const BATCH: usize = 500;

/// What reading an IMAP mailbox found, besides the import summary.
#[derive(Debug, Clone)]
pub struct ImapReport {
    pub summary: Summary,
    /// The mailbox's UIDVALIDITY changed since the last import, so it was read again in full.
    pub uidvalidity_changed: bool,
    /// Messages in the mailbox.
    pub mailbox_messages: u32,
    /// Ctrl-C or SIGTERM stopped the reading; what was fetched before is stored.
    pub stopped_by: Option<crate::signal::StopSignal>,
}

/// A batch on its way from the IMAP connection to the database.
struct Batch {
    messages: Vec<RawMessage>,
    state: MailboxState,
    fetched: u64,
}

/// Reads what is new in the IMAP mailbox. The connection fetches the next batch while the
/// previous one is being stored, on `runtime`.
pub fn import_imap(
    runtime: &tokio::runtime::Runtime,
    store: &mut Store,
    settings: &imap::Settings,
    authserv_id: Option<&str>,
    progress: &dyn Count,
) -> anyhow::Result<ImapReport> {
    let key = settings.mailbox_key();
    let known = store.mailbox_state(&key)?;
    let mut importer = Importer::new(store, authserv_id)?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(2);
    std::thread::scope(|scope| {
        let key = key.as_str();
        let consumer = scope.spawn(move || -> anyhow::Result<Summary> {
            while let Some(batch) = receiver.blocking_recv() {
                importer.import_batch(&batch.messages, Some((key, batch.state)))?;
                progress.inc(batch.fetched);
            }
            Ok(importer.summary)
        });
        // A stop drops the fetch: the batches already fetched are stored, each with its
        // mailbox position, and the next import goes on from there. `biased` polls the stop
        // first, so its handlers are in place before the connection is opened: a SIGTERM once
        // the server has seen us is always a stop with a message, never the default death.
        let fetched = runtime.block_on(async {
            tokio::select! {
                biased;
                Ok(signal) = crate::signal::stop_requested() => Ok(Err(signal)),
                fetched = fetch_new(settings, known, sender, progress) => fetched.map(Ok),
            }
        });
        let summary = consumer
            .join()
            .map_err(|_| anyhow::anyhow!("storing the messages failed"))??;
        let ((uidvalidity_changed, mailbox_messages), stopped_by) = match fetched? {
            Ok(found) => (found, None),
            Err(signal) => ((false, 0), Some(signal)),
        };
        Ok(ImapReport {
            summary,
            uidvalidity_changed,
            mailbox_messages,
            stopped_by,
        })
    })
}

/// Fetches the messages after the last UID seen, batch by batch, into `sender`. Returns whether
/// UIDVALIDITY changed and how many messages the mailbox holds.
async fn fetch_new(
    settings: &imap::Settings,
    known: Option<MailboxState>,
    sender: tokio::sync::mpsc::Sender<Batch>,
    progress: &dyn Count,
) -> anyhow::Result<(bool, u32)> {
    let mut mailbox = imap::open(settings).await?;
    let status = mailbox.status;
    let changed = known.is_some_and(|k| k.uidvalidity != status.uidvalidity);
    let last_uid = known
        .filter(|k| k.uidvalidity == status.uidvalidity)
        .map_or(0, |k| k.last_uid);
    let uids = mailbox.uids_after(last_uid).await?;
    progress.set_length(uids.len() as u64);
    let stopped = || anyhow::anyhow!("the import stopped while messages were being fetched");
    if uids.is_empty() && known.is_none_or(|k| k.uidvalidity != status.uidvalidity) {
        // Remember the (new) UIDVALIDITY even when there is nothing to read.
        let state = MailboxState {
            uidvalidity: status.uidvalidity,
            last_uid,
        };
        let batch = Batch {
            messages: Vec::new(),
            state,
            fetched: 0,
        };
        sender.send(batch).await.map_err(|_| stopped())?;
    }
    for chunk in uids.chunks(BATCH) {
        let messages = mailbox
            .fetch(chunk)
            .await?
            .into_iter()
            .map(|(uid, bytes)| RawMessage {
                origin: format!("{} UID {uid}", settings.mailbox),
                bytes,
            })
            .collect();
        let state = MailboxState {
            uidvalidity: status.uidvalidity,
            last_uid: chunk.last().copied().unwrap_or(last_uid),
        };
        let fetched = chunk.len() as u64;
        let batch = Batch {
            messages,
            state,
            fetched,
        };
        sender.send(batch).await.map_err(|_| stopped())?;
    }
    mailbox.logout().await;
    Ok((changed, status.exists))
}

/// Imports every message of an mbox file not imported before.
pub fn import_mbox(
    store: &mut Store,
    path: &Path,
    authserv_id: Option<&str>,
    progress: &dyn Count,
) -> anyhow::Result<Summary> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut importer = Importer::new(store, authserv_id)?;
    let mut batch = Vec::with_capacity(BATCH);
    for (index, message) in mbox::Mbox::new(BufReader::new(file)).enumerate() {
        let bytes = message.with_context(|| format!("cannot read {}", path.display()))?;
        batch.push(RawMessage {
            origin: format!("{} message {}", path.display(), index + 1),
            bytes,
        });
        if batch.len() == BATCH {
            importer.import_batch(&batch, None)?;
            progress.inc(batch.len() as u64);
            batch.clear();
        }
    }
    importer.import_batch(&batch, None)?;
    progress.inc(batch.len() as u64);
    Ok(importer.summary)
}

/// Imports every message of a Maildir (cur/ and new/) not imported before.
pub fn import_maildir(
    store: &mut Store,
    dir: &Path,
    authserv_id: Option<&str>,
    progress: &dyn Count,
) -> anyhow::Result<Summary> {
    let files = maildir::message_files(dir)?;
    progress.set_length(files.len() as u64);
    let mut importer = Importer::new(store, authserv_id)?;
    for chunk in files.chunks(BATCH) {
        let batch = chunk
            .iter()
            .map(|path| {
                Ok(RawMessage {
                    origin: path.display().to_string(),
                    bytes: std::fs::read(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        importer.import_batch(&batch, None)?;
        progress.inc(batch.len() as u64);
    }
    Ok(importer.summary)
}

/// The reader's own text that import would store: for a whole message (RFC 5322) its
/// extracted text, for a bare body (plain text or HTML) the body without quotes and signature.
pub fn extract_text(raw: &[u8]) -> anyhow::Result<String> {
    if looks_like_message(raw) {
        let incoming = message::parse(raw, &import::parse_context(None))
            .map_err(|e| anyhow::anyhow!("cannot read the message: {e}"))?;
        Ok(incoming.text)
    } else {
        let body = String::from_utf8_lossy(raw);
        if html_text::looks_like_html(&body) {
            Ok(extract::html_reply_text(&body).with_notes())
        } else {
            Ok(extract::reply_text(&body))
        }
    }
}

/// Header fields that show a text is a whole message rather than a body.
const MESSAGE_FIELDS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "in-reply-to",
    "delivered-to",
];

/// Whether `raw` starts with a header block: field lines (and folded continuations) up to the
/// first blank line, naming at least one field every message has.
pub fn looks_like_message(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(64 * 1024)]);
    let mut lines = text.lines().peekable();
    // An mbox separator line may come first.
    if lines.peek().is_some_and(|l| l.starts_with("From ")) {
        lines.next();
    }
    let mut known = false;
    let mut fields = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) && fields > 0 {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        let is_field_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !is_field_name {
            return false;
        }
        fields += 1;
        known |= MESSAGE_FIELDS.contains(&name.to_ascii_lowercase().as_str());
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_messages_from_bodies() {
        assert!(looks_like_message(
            b"From: Ann <ann@example.org>\r\nSubject: Re: hi\r\n\r\nbody"
        ));
        assert!(looks_like_message(
            b"From ann@example.org Mon Jan  1 00:00:00 2030\nReceived: from x\n  by y\nSubject: s\n\nb"
        ));
        assert!(!looks_like_message(b"Thanks: this was great.\n\nAnn"));
        assert!(!looks_like_message(
            b"Hi Ann, thanks!\n\nOn Monday you wrote:\n> x"
        ));
        assert!(!looks_like_message(b"X-Custom: 1\n\nonly unknown fields"));
    }
}
