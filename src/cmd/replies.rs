use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::plural;
use crate::cli::{RepliesCommand, ReplyStatus};
use dispatch::issue::IssueId;
use dispatch::newsletter::Newsletter;

use super::report::Bar;
use dispatch::replies::import::Summary;
use dispatch::replies::review::{terminal_line, terminal_lines};
use dispatch::replies::{self, imap};
use dispatch::store::replies::{Approval, Filter, Reply, Status};
use tokio::runtime::Runtime;

pub fn run(dir: &Path, command: RepliesCommand, runtime: &Runtime) -> anyhow::Result<()> {
    match command {
        RepliesCommand::Import { mbox, maildir } => {
            import(dir, mbox.as_deref(), maildir.as_deref(), runtime)
        }
        RepliesCommand::List {
            issue,
            status,
            json,
        } => list(dir, issue.as_deref(), status, json),
        RepliesCommand::Show { id, original } => show(dir, id, original),
        RepliesCommand::Approve {
            ids,
            note,
            anonymous,
            name,
        } => {
            let approval = Approval {
                note,
                anonymous,
                name,
            };
            Newsletter::open(dir)?
                .store()?
                .approve_replies(&ids, &approval)?;
            println!("approved {}", count_ids(&ids));
            Ok(())
        }
        RepliesCommand::Reject { ids } => {
            Newsletter::open(dir)?.store()?.reject_replies(&ids)?;
            println!("rejected {}", count_ids(&ids));
            Ok(())
        }
        RepliesCommand::Edit { id } => edit(dir, id),
        RepliesCommand::Review { issue } => super::review::run(dir, issue.as_deref(), runtime),
        RepliesCommand::Unsubscribes => unsubscribes(dir),
        RepliesCommand::ConfirmUnsubscribe { ids } => {
            let confirmed = Newsletter::open(dir)?
                .store()?
                .confirm_unsubscribe_requests(&ids)?;
            for c in confirmed {
                let outcome = if c.unsubscribed {
                    "unsubscribed"
                } else {
                    "was no longer active"
                };
                println!("request #{}: {} {outcome}", c.id, c.email);
            }
            Ok(())
        }
        RepliesCommand::DismissUnsubscribe { ids } => {
            Newsletter::open(dir)?
                .store()?
                .dismiss_unsubscribe_requests(&ids)?;
            let list: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
            println!(
                "dismissed {} (the subscribers stay subscribed)",
                list.join(", ")
            );
            Ok(())
        }
        RepliesCommand::Extract { file } => extract(&file),
    }
}

fn count_ids(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
    let noun = if ids.len() == 1 { "reply" } else { "replies" };
    format!("{} {noun} ({})", ids.len(), list.join(", "))
}

fn import(
    dir: &Path,
    mbox: Option<&Path>,
    maildir: Option<&Path>,
    runtime: &Runtime,
) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let mut store = newsletter.store()?;
    let authserv_id = newsletter
        .config
        .imap
        .as_ref()
        .and_then(|i| i.authserv_id.as_deref());
    // clap allows one of --mbox and --maildir. A Maildir's size is known up front, an mbox's
    // is not: only the first gets a counted bar.
    let from_file = match (mbox, maildir) {
        (Some(path), _) => Some((path, false)),
        (None, Some(path)) => Some((path, true)),
        (None, None) => None,
    };
    if let Some((path, is_maildir)) = from_file {
        let started = Instant::now();
        let progress = progress_bar(is_maildir);
        let summary = if is_maildir {
            replies::import_maildir(&mut store, path, authserv_id, &progress)?
        } else {
            replies::import_mbox(&mut store, path, authserv_id, &progress)?
        };
        progress.finish_and_clear();
        return Ok(print_summary(
            &path.display().to_string(),
            &summary,
            started.elapsed(),
        )?);
    }
    let Some(config) = &newsletter.config.imap else {
        anyhow::bail!(dispatch::config::missing_section(
            "imap",
            "host, port, username, password_env and mailbox",
            Some("import from a file with --mbox FILE or --maildir DIR")
        ));
    };
    if config.security == dispatch::config::Security::None
        && !dispatch::config::is_loopback(&config.host)
    {
        eprintln!(
            "warning: imap.security is none: the password and the mail cross the network to {} unencrypted; use tls or starttls for any server that is not on this machine",
            config.host
        );
    }
    let settings = imap::Settings::from_config(config, &newsletter.dir)?;
    let started = Instant::now();
    let progress = progress_bar(true);
    let report = replies::import_imap(runtime, &mut store, &settings, authserv_id, &progress)?;
    progress.finish_and_clear();
    if report.uidvalidity_changed {
        println!(
            "the mailbox's UIDVALIDITY changed since the last import: it was read again in full (messages already imported were recognised by Message-ID)"
        );
    }
    let source = format!("{} on {}", settings.mailbox, settings.server());
    print_summary(&source, &report.summary, started.elapsed())?;
    if let Some(signal) = report.stopped_by {
        return Err(dispatch::signal::Interrupted {
            signal,
            message: format!(
                "stopped by {}: the messages read so far are stored; run `dispatch replies import` again to read the rest",
                signal.name()
            ),
        }
        .into());
    }
    Ok(())
}

/// A progress bar on a terminal, nothing otherwise; `counted` when the number of messages is
/// known in advance (IMAP, Maildir), a running count otherwise (mbox).
fn progress_bar(counted: bool) -> Bar {
    if !std::io::stderr().is_terminal() {
        return Bar(ProgressBar::hidden());
    }
    let (bar, template) = if counted {
        (
            ProgressBar::new(0),
            "{bar:30} {pos}/{len} messages, {per_sec}, {eta} left",
        )
    } else {
        (
            ProgressBar::new_spinner(),
            "{spinner} {pos} messages, {per_sec}",
        )
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    Bar(bar)
}

fn print_summary(source: &str, s: &Summary, elapsed: Duration) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{source}: {} new message{} ({} imported before) in {:.2?}",
        s.new,
        plural(s.new),
        s.seen_before,
        elapsed
    )?;
    for warning in &s.warnings {
        eprintln!("warning: {warning}");
    }
    if s.new == 0 {
        return Ok(());
    }
    for (label, count, detail) in summary_rows(s) {
        if count == 0 || detail.is_empty() {
            writeln!(out, "  {label:<21}{count:>6}")?;
        } else {
            writeln!(out, "  {label:<21}{count:>6}  ({detail})")?;
        }
    }
    if !s.unmatched.is_empty() {
        writeln!(
            out,
            "bounces not tied to a message dispatch sent to that address (nothing changed):"
        )?;
        for line in &s.unmatched {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// The lines of the summary: what, how many, and what came of it.
fn summary_rows(s: &Summary) -> Vec<(&'static str, u64, String)> {
    let mut rows = vec![
        (
            "replies",
            s.replies,
            match s.replies_without_issue {
                0 => "pending: see `dispatch replies list --status pending`".to_string(),
                n => format!("{n} not tied to an issue; pending: see `dispatch replies list`"),
            },
        ),
        ("automatic replies", s.auto_replies, String::new()),
        (
            "bounces",
            s.bounces,
            format!(
                "{} hard, {} soft; {} subscriber{} marked bounced; {} not tied to a delivery",
                s.hard_bounces,
                s.soft_bounces,
                s.subscribers_bounced,
                plural(s.subscribers_bounced),
                s.unmatched_bounces
            ),
        ),
        (
            "unsubscribe requests",
            s.unsubscribe_requests,
            match s.unsubscribes_waiting {
                0 => format!(
                    "{} subscriber{} unsubscribed",
                    s.subscribers_unsubscribed,
                    plural(s.subscribers_unsubscribed)
                ),
                n => format!(
                    "{} subscriber{} unsubscribed; {n} wait{} for you: see `dispatch replies unsubscribes`",
                    s.subscribers_unsubscribed,
                    plural(s.subscribers_unsubscribed),
                    if n == 1 { "s" } else { "" }
                ),
            },
        ),
        ("other mail", s.other, String::new()),
    ];
    if s.unreadable > 0 {
        rows.push(("unreadable", s.unreadable, String::new()));
    }
    rows
}

fn list(
    dir: &Path,
    issue: Option<&str>,
    status: Option<ReplyStatus>,
    json: bool,
) -> anyhow::Result<()> {
    let filter = Filter {
        issue: issue.map(str::parse::<IssueId>).transpose()?,
        status: status.map(|s| match s {
            ReplyStatus::Pending => Status::Pending,
            ReplyStatus::Approved => Status::Approved,
            ReplyStatus::Rejected => Status::Rejected,
        }),
    };
    let replies = Newsletter::open(dir)?.store()?.replies(&filter)?;
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<JsonReply> = replies.iter().map(JsonReply::from).collect();
        serde_json::to_writer_pretty(&mut out, &items)?;
        writeln!(out)?;
        return Ok(());
    }
    if replies.is_empty() {
        writeln!(out, "no replies")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<7} {:<9} {:<30} TEXT",
        "ID", "ISSUE", "STATUS", "FROM"
    )?;
    for r in &replies {
        writeln!(
            out,
            "{:>5}  {:<7} {:<9} {:<30} {}",
            r.id,
            issue_name(r.issue),
            r.status.as_str(),
            shorten(&terminal_line(&r.from_address), 30),
            shorten(&terminal_line(&one_line(&r.text)), 60)
        )?;
    }
    Ok(())
}

/// A reply as `replies list --json` prints it.
#[derive(serde::Serialize)]
struct JsonReply<'a> {
    id: i64,
    issue: Option<String>,
    status: Status,
    from: &'a str,
    name: Option<&'a str>,
    published_as: String,
    subject: &'a str,
    received_at: Option<&'a str>,
    text: &'a str,
    note: Option<&'a str>,
    anonymous: bool,
    /// The message's text before extraction; null for replies imported before it was kept.
    original: Option<&'a str>,
}

impl<'a> From<&'a Reply> for JsonReply<'a> {
    fn from(r: &'a Reply) -> Self {
        JsonReply {
            id: r.id,
            issue: r.issue.map(|i| i.to_string()),
            status: r.status,
            from: &r.from_address,
            name: r.from_name.as_deref(),
            published_as: r.shown_name(),
            subject: &r.subject,
            received_at: r.received_at.as_deref(),
            text: &r.text,
            note: r.note.as_deref(),
            anonymous: r.anonymous,
            original: r.original.as_deref(),
        }
    }
}

fn issue_name(issue: Option<IssueId>) -> String {
    issue.map_or_else(|| "-".to_string(), |i| i.to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn unsubscribes(dir: &Path) -> anyhow::Result<()> {
    let requests = Newsletter::open(dir)?
        .store()?
        .pending_unsubscribe_requests()?;
    let mut out = std::io::stdout().lock();
    if requests.is_empty() {
        writeln!(out, "no unsubscribe requests wait for you")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<20}  {:<22}  SUBSCRIBER",
        "ID", "RECEIVED", "WAITS BECAUSE"
    )?;
    for r in &requests {
        writeln!(
            out,
            "{:>5}  {:<20}  {:<22}  {}",
            r.id,
            r.received_at.as_deref().unwrap_or("unknown"),
            r.reason,
            terminal_line(&r.email)
        )?;
    }
    writeln!(
        out,
        "confirm with `dispatch replies confirm-unsubscribe ID…`, or keep the subscriber with `dispatch replies dismiss-unsubscribe ID…`"
    )?;
    Ok(())
}

/// Everything a stranger wrote (name, subject, text) goes through `terminal_line(s)`, so no
/// escape sequence of theirs reaches the editor's terminal.
fn show(dir: &Path, id: i64, original: bool) -> anyhow::Result<()> {
    let r = Newsletter::open(dir)?.store()?.reply(id).map_err(|err| {
        match err.downcast_ref::<dispatch::store::replies::UnknownReplies>() {
            // The store's wording speaks of changes; showing changes nothing.
            Some(_) => {
                anyhow::anyhow!("there is no reply #{id} (`dispatch replies list` shows them)")
            }
            None => err,
        }
    })?;
    let mut out = std::io::stdout().lock();
    let from = match &r.from_name {
        Some(name) => format!("{name} <{}>", r.from_address),
        None => r.from_address.clone(),
    };
    writeln!(out, "reply #{}", r.id)?;
    writeln!(out, "issue:     {}", issue_name(r.issue))?;
    writeln!(out, "status:    {}", r.status)?;
    writeln!(out, "from:      {}", terminal_line(&from))?;
    writeln!(out, "subject:   {}", terminal_line(&r.subject))?;
    writeln!(
        out,
        "received:  {}",
        r.received_at.as_deref().unwrap_or("unknown")
    )?;
    writeln!(out, "shown as:  {}", terminal_line(&r.shown_name()))?;
    if let Some(note) = &r.note {
        writeln!(out, "note:      {}", terminal_line(note))?;
    }
    let text = match (original, &r.original) {
        (false, _) => &r.text,
        (true, Some(message)) => message,
        (true, None) => anyhow::bail!(
            "reply #{id} was imported before dispatch kept the original message; its text is all there is"
        ),
    };
    writeln!(out, "\n{}", terminal_lines(text).join("\n"))?;
    Ok(())
}

fn edit(dir: &Path, id: i64) -> anyhow::Result<()> {
    let mut store = Newsletter::open(dir)?.store()?;
    let reply = store.reply(id)?;
    let edited = edit_in_editor(&reply.text)?;
    let edited = edited.trim_end();
    if edited.trim().is_empty() {
        anyhow::bail!("the edited text is empty: reply #{id} was left unchanged");
    }
    if edited == reply.text.trim_end() {
        println!("reply #{id} unchanged");
        return Ok(());
    }
    store.set_reply_text(id, edited)?;
    println!("reply #{id} saved");
    Ok(())
}

/// Opens `text` in $VISUAL or $EDITOR (which may carry arguments, as in `code --wait`) and
/// returns what was saved.
pub(super) fn edit_in_editor(text: &str) -> anyhow::Result<String> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string());
    let mut file = tempfile::Builder::new()
        .prefix("dispatch-reply-")
        .suffix(".txt")
        .tempfile()?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        anyhow::bail!("the editor `{editor}` failed ({status}): the reply was left unchanged");
    }
    std::fs::read_to_string(file.path()).context("cannot read the edited text")
}

fn extract(file: &Path) -> anyhow::Result<()> {
    let raw = if file.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::stdin()
            .read_to_end(&mut raw)
            .context("cannot read standard input")?;
        raw
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let source = if file.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        anyhow::bail!(
            "{source} is empty: give a message (RFC 5322) or the text of a reply, e.g. `dispatch replies extract reply.eml`"
        );
    }
    let text = replies::extract_text(&raw)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", text.trim_end())?;
    Ok(())
}
