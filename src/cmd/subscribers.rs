use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::SubscribersCommand;
use dispatch::address::escape_controls;
use dispatch::newsletter::Newsletter;
use dispatch::outgoing::unsubscribe::{Links, Unsubscribe};
use dispatch::store::Store;
use dispatch::store::mail_queue::{MailKind, MailRecord};
use dispatch::store::subscribers::{Details, ImportCounts, Status};
use dispatch::subscriber_csv;

pub fn run(dir: &Path, command: SubscribersCommand) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let mut store = newsletter.store()?;
    match command {
        SubscribersCommand::Add { email, name } => add(&mut store, &email, name.as_deref()),
        SubscribersCommand::Import { file } => import(&mut store, &file),
        SubscribersCommand::Export { file } => export(&store, file.as_deref()),
        SubscribersCommand::List { json } => list(&store, json),
        SubscribersCommand::Show { subscriber } => show(&newsletter, &store, &subscriber),
        SubscribersCommand::Remove { email } => {
            let removed = store.remove_subscriber(&email)?;
            println!("removed {}", removed.email);
            Ok(())
        }
        SubscribersCommand::Unsubscribe { email } => unsubscribe(&mut store, &email),
        SubscribersCommand::Count => {
            let c = store.subscriber_counts()?;
            let pending = if c.pending > 0 {
                format!(", {} pending", c.pending)
            } else {
                String::new()
            };
            println!(
                "{} active, {} unsubscribed, {} bounced{pending}",
                c.active, c.unsubscribed, c.bounced
            );
            Ok(())
        }
    }
}

fn add(store: &mut Store, email: &str, name: Option<&str>) -> anyhow::Result<()> {
    let email = dispatch::address::normalize(email)?;
    let name = name
        .map(dispatch::address::subscriber_name)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .flatten();
    store.add_subscriber(&email, name.as_deref())?;
    let active = store.subscriber_counts()?.active;
    println!("added {email} ({active} active)");
    if dispatch::address::needs_smtputf8(&email) {
        note_smtputf8(&[email]);
    }
    Ok(())
}

/// Says which addresses only a server with SMTPUTF8 can deliver to.
fn note_smtputf8(emails: &[String]) {
    const SHOWN: usize = 5;
    let Some(first) = emails.first() else {
        return;
    };
    let which = match emails.len() {
        1 => format!("{first} has"),
        n => {
            let shown = emails[..n.min(SHOWN)].join(", ");
            let more = if n > SHOWN { ", …" } else { "" };
            format!("{n} addresses ({shown}{more}) have")
        }
    };
    eprintln!(
        "note: {which} non-ASCII characters before the @: such an address needs SMTPUTF8, and \
         a send to it fails unless the SMTP server offers SMTPUTF8"
    );
}

fn unsubscribe(store: &mut Store, email: &str) -> anyhow::Result<()> {
    let before = store.set_subscriber_status(email, Status::Unsubscribed)?;
    if before.status == Status::Unsubscribed {
        println!("{} was already unsubscribed", before.email);
    } else {
        println!("unsubscribed {} (was {})", before.email, before.status);
    }
    Ok(())
}

/// A CSV import that skipped rows: the rest went in, but the editor has rows to fix.
#[derive(Debug, thiserror::Error)]
#[error(
    "{bad} row{s} of {file} could not be imported (listed above); the other rows were imported",
    s = if *.bad == 1 { "" } else { "s" }
)]
pub struct SkippedRows {
    pub file: String,
    pub bad: usize,
}

fn import(store: &mut Store, file: &Path) -> anyhow::Result<()> {
    let label = file.display().to_string();
    let data = std::fs::read(file).with_context(|| format!("cannot read {label}"))?;
    let mut bad = Vec::new();
    let mut fatal = None;
    let mut utf8 = Vec::new();
    let rows = subscriber_csv::read(&label, &data)?.filter_map(|row| match row {
        Ok(Ok(subscriber)) => {
            if dispatch::address::needs_smtputf8(&subscriber.email) {
                utf8.push(subscriber.email.clone());
            }
            Some(subscriber)
        }
        Ok(Err(bad_row)) => {
            bad.push(bad_row);
            None
        }
        Err(e) => {
            fatal = Some(e);
            None
        }
    });
    let counts = store.import_subscribers(rows)?;
    if let Some(e) = fatal {
        // The rows read before the damage were imported; say so, then stop.
        print_import(&label, &counts);
        return Err(e.into());
    }
    for row in &bad {
        eprintln!("{label}:{}: {}", row.line, row.message);
    }
    print_import(&label, &counts);
    note_smtputf8(&utf8);
    if !bad.is_empty() {
        return Err(SkippedRows {
            file: label,
            bad: bad.len(),
        }
        .into());
    }
    Ok(())
}

fn print_import(label: &str, c: &ImportCounts) {
    let mut parts = vec![format!("{} added", c.added)];
    if c.named > 0 {
        parts.push(format!(
            "{} name{} filled in",
            c.named,
            super::plural(c.named)
        ));
    }
    if c.deactivated > 0 {
        parts.push(format!("{} marked unsubscribed or bounced", c.deactivated));
    }
    parts.push(format!("{} already on the list", c.unchanged));
    println!("imported {label}: {}", parts.join(", "));
}

fn export(store: &Store, file: Option<&Path>) -> anyhow::Result<()> {
    match file {
        Some(path) => {
            let mut out = csv::Writer::from_writer(Vec::new());
            let count = write_csv(store, &mut out)?;
            let bytes = out.into_inner().map_err(|e| e.into_error())?;
            dispatch::fsutil::write_private(path, &bytes)?;
            println!(
                "exported {count} subscriber{} to {}",
                super::plural(count),
                path.display()
            );
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = csv::Writer::from_writer(std::io::BufWriter::new(stdout));
            write_csv(store, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

fn write_csv(store: &Store, out: &mut csv::Writer<impl std::io::Write>) -> anyhow::Result<usize> {
    subscriber_csv::write_header(out)?;
    let mut count = 0;
    store.for_each_subscriber(|s| {
        count += 1;
        Ok(subscriber_csv::write_row(out, s)?)
    })?;
    Ok(count)
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut count = 0;
    if json {
        // Streamed one object a line, so a long list never sits in memory whole.
        write!(out, "[")?;
        let mut first = true;
        store.for_each_subscriber(|s| {
            write!(out, "{}\n  ", if first { "" } else { "," })?;
            first = false;
            count += 1;
            serde_json::to_writer(&mut out, s)?;
            Ok(())
        })?;
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else {
        store.for_each_subscriber(|s| {
            count += 1;
            // Names stored by older versions may hold control characters: shown escaped.
            writeln!(
                out,
                "{}\t{}\t{}",
                escape_controls(&s.email),
                escape_controls(s.name.as_deref().unwrap_or("")),
                s.status
            )?;
            Ok(())
        })?;
    }
    out.flush()?;
    if count == 0 {
        eprintln!("{NO_SUBSCRIBERS}");
    }
    Ok(())
}

/// What `list` says on standard error when the list is empty (its output stays empty, or `[]`).
const NO_SUBSCRIBERS: &str = "there are no subscribers yet: add one with `dispatch subscribers add EMAIL`, or import a CSV file with `dispatch subscribers import FILE.csv`";

fn show(newsletter: &Newsletter, store: &Store, key: &str) -> anyhow::Result<()> {
    let Some(details) = store.subscriber_details(key)? else {
        anyhow::bail!(
            "{} is not on the list (`dispatch subscribers list` shows who is)",
            escape_controls(key.trim())
        );
    };
    let token =
        dispatch::outgoing::token::unsubscribe_token(&store.secret()?, details.subscriber.id);
    let links = Unsubscribe::of(&newsletter.config).links(Some(&token));
    let mut out = std::io::stdout().lock();
    for (label, value) in show_rows(&details, &links) {
        writeln!(out, "{label:<17}{value}")?;
    }
    Ok(())
}

/// Where one of the host's mails stands: sent when, waiting for which attempt and why, or
/// given up and why. The server's words are the editor's to read (they may name the address).
fn mail_state(mail: &MailRecord) -> String {
    let why = mail
        .last_error
        .as_deref()
        .map(|e| format!(": {}", escape_controls(e)))
        .unwrap_or_default();
    let attempts = format!("{} attempt{}", mail.attempts, super::plural(mail.attempts));
    match mail.state.as_str() {
        "sent" => format!("sent {}", mail.updated_at),
        "queued" if mail.attempts == 0 => format!("queued, due {}", mail.due_at),
        "queued" => format!("queued after {attempts}, next at {}{why}", mail.due_at),
        "failed" => format!("failed {} after {attempts}{why}", mail.updated_at),
        "cancelled" => format!("not needed any more ({})", mail.updated_at),
        other => other.to_string(),
    }
}

/// The lines of `subscribers show`, label and value: one push per fact, so a new column of the
/// store is one more row.
fn show_rows(details: &Details, links: &Links) -> Vec<(&'static str, String)> {
    let s = &details.subscriber;
    let mut rows = vec![
        ("email", escape_controls(&s.email).into_owned()),
        (
            "name",
            escape_controls(s.name.as_deref().unwrap_or("(none)")).into_owned(),
        ),
        ("number", s.id.to_string()),
        ("status", s.status.to_string()),
        ("added", s.created_at.clone()),
    ];
    if s.status != Status::Active {
        rows.push(("status since", details.updated_at.clone()));
    } else if details.updated_at != s.created_at {
        rows.push(("changed", details.updated_at.clone()));
    }
    rows.push((
        "source",
        s.source
            .map_or("unknown (added before it was recorded)", |source| {
                source.as_str()
            })
            .to_string(),
    ));
    if let Some(at) = &s.consent_at {
        rows.push(("consent", at.clone()));
    }
    if let Some(at) = &s.confirmed_at {
        rows.push(("confirmed", at.clone()));
    }
    rows.push((
        "delivered",
        match &details.last_delivered {
            Some((issue, at)) => format!(
                "{} issue{}, last {issue} on {at}",
                details.delivered,
                super::plural(details.delivered)
            ),
            None => "no issue yet".to_string(),
        },
    ));
    for mail in &details.mails {
        let label = match mail.kind {
            MailKind::Confirm => "confirm mail",
            MailKind::Welcome => "welcome mail",
        };
        rows.push((label, mail_state(mail)));
    }
    if let Some(https) = &links.https {
        rows.push(("unsubscribe link", https.clone()));
    }
    rows.push(("unsubscribe mail", links.mailto.clone()));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_says_where_it_stands() {
        let mail = |state: &str, attempts: i64, error: Option<&str>| MailRecord {
            kind: MailKind::Confirm,
            state: state.to_string(),
            attempts,
            due_at: "2030-01-01T10:00:00Z".to_string(),
            last_error: error.map(str::to_string),
            updated_at: "2030-01-01T09:00:00Z".to_string(),
        };
        assert_eq!(
            mail_state(&mail("queued", 0, None)),
            "queued, due 2030-01-01T10:00:00Z"
        );
        assert_eq!(
            mail_state(&mail("queued", 2, Some("451 greylisted\u{1b}[2J"))),
            "queued after 2 attempts, next at 2030-01-01T10:00:00Z: 451 greylisted\\u{1b}[2J"
        );
        assert_eq!(
            mail_state(&mail("failed", 1, Some("550 no such user"))),
            "failed 2030-01-01T09:00:00Z after 1 attempt: 550 no such user"
        );
        assert_eq!(
            mail_state(&mail("sent", 1, None)),
            "sent 2030-01-01T09:00:00Z"
        );
    }
}
