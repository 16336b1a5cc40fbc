//! The command line: clap types only. Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// dispatch turns Markdown issues into email and a web archive, mails them to your
/// subscribers and reads their replies.
#[derive(Debug, Parser)]
#[command(name = "dispatch", version, max_term_width = 100)]
pub struct Cli {
    /// The newsletter folder (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Show the SMTP, IMAP and HTTP exchanges on stderr (passwords and tokens redacted);
    /// RUST_LOG chooses in detail (e.g. RUST_LOG=lettre=debug).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new newsletter folder with a config, the default templates and a first issue.
    Init {
        /// Where to create it (must be empty or not exist yet).
        #[arg(value_name = "DIR")]
        path: PathBuf,
        /// Takes the place of the global `--dir`, which `init` refuses: the new folder is its
        /// argument.
        #[arg(long = "dir", id = "dir", hide = true, value_name = "DIR", value_parser = refuse_init_dir)]
        misplaced_dir: Option<PathBuf>,
    },
    /// Create the next issue's file, with its front matter filled in.
    New {
        /// Start this volume (number 1) instead of continuing the latest one.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        volume: Option<u32>,
        /// The new issue's title; without it, dispatch asks on a terminal, and otherwise names
        /// the file after today's date.
        #[arg(long)]
        title: Option<String>,
    },
    /// Build email HTML, plain text, .eml and web pages of every issue (or the ones named).
    Build {
        /// Issues to build, as V5N2, v5n2 or 5.2 (default: all).
        #[arg(value_name = "ISSUE")]
        issues: Vec<String>,
    },
    /// Manage the subscriber list.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Mail an issue to every active subscriber (resumes a send that was interrupted).
    Send(SendArgs),
    /// Fetch the feeds listed in config.yaml and print the links not used before as a
    /// Markdown list (or append them to an issue with --into).
    ///
    /// A feed that cannot be read is reported on standard error and the others still come
    /// through. Exit status: 0 when at least one feed was read, 1 when none was (or none is
    /// configured).
    Links(LinksArgs),
    /// Preflight an issue before sending: broken links, images without alt text, the email's
    /// size against Gmail's clipping, the subject, unresolved template variables, the
    /// unsubscribe link, a question without a reply address.
    ///
    /// Exit status: 0 when there are only warnings and notes, 1 when there are errors.
    Check(CheckArgs),
    /// Preview the web archive and each email locally, rebuilt on change; also answers the
    /// one-click unsubscribe URL when `newsletter.unsubscribe_url` is set.
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one; the address is printed on standard output).
        /// A port already taken is refused before anything is built.
        #[arg(long, default_value_t = 8000, conflicts_with = "listen")]
        port: u16,
        /// Address to listen on instead, e.g. 0.0.0.0:8000 behind an HTTPS proxy.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run the newsletter's public side behind an HTTPS proxy: the web archive, the signup
    /// form's double opt-in with its confirmation and welcome emails, and one-click
    /// unsubscribe. Needs a `host:` and an `smtp:` section in config.yaml.
    ///
    /// One line per request goes to standard error (no client addresses, no tokens). Stops
    /// on SIGTERM or Ctrl-C after answering the requests under way.
    Host {
        /// Address to listen on (default: `host.listen`, 127.0.0.1:8080); port 0 picks a
        /// free one, printed on standard output.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Readers' replies: import them from the mailbox, moderate them, see what gets published.
    Replies {
        #[command(subcommand)]
        command: RepliesCommand,
    },
    /// Print a shell completion script, e.g. `dispatch completions bash >
    /// ~/.local/share/bash-completion/completions/dispatch`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on standard output, or write one page per command to a
    /// folder with --out (e.g. `dispatch man | man -l -`).
    Man {
        /// Write dispatch.1 and a page for each command (dispatch-send.1, …) into this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `init` takes its folder as an argument; a `--dir` beside it would be silently ignored.
fn refuse_init_dir(dir: &str) -> Result<PathBuf, String> {
    Err(format!(
        "`init` takes the new folder as its argument, not --dir: run `dispatch init {dir}`"
    ))
}

#[derive(Debug, Subcommand)]
pub enum RepliesCommand {
    /// Read new mail from the IMAP mailbox in config.yaml (or from an mbox file or a Maildir)
    /// and store readers' replies. Never marks, moves or deletes mail.
    Import {
        /// Read this mbox file instead of the IMAP mailbox.
        #[arg(long, value_name = "FILE", conflicts_with = "maildir")]
        mbox: Option<PathBuf>,
        /// Read this Maildir (its cur/ and new/) instead of the IMAP mailbox.
        #[arg(long, value_name = "DIR")]
        maildir: Option<PathBuf>,
    },
    /// List the stored replies.
    List {
        /// Only the replies to this issue (V5N2, v5n2 or 5.2).
        #[arg(long, value_name = "ISSUE")]
        issue: Option<String>,
        /// Only the replies in this state.
        #[arg(long, value_enum)]
        status: Option<ReplyStatus>,
        /// Print a JSON array instead of a table, one object per reply: id, issue, status,
        /// from, name, published_as, subject, received_at, text, note, anonymous, original
        /// (the message's text before extraction, or null).
        #[arg(long)]
        json: bool,
    },
    /// Show one reply in full.
    Show {
        /// The reply's number, as `replies list` shows it.
        #[arg(value_name = "ID")]
        id: i64,
        /// Show the whole message as it arrived (its text before extraction) instead of the
        /// reader's text.
        #[arg(long)]
        original: bool,
    },
    /// Approve replies for publication in the issue after the one they answer.
    Approve {
        /// The replies' numbers, as `replies list` shows them.
        #[arg(value_name = "ID", required = true)]
        ids: Vec<i64>,
        /// The editor's note printed after the reply.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Publish as "A reader" instead of the sender's name.
        #[arg(long)]
        anonymous: bool,
        /// Publish under this name instead of the sender's.
        #[arg(long, value_name = "NAME", conflicts_with = "anonymous")]
        name: Option<String>,
    },
    /// Reject replies: they are kept but never published.
    Reject {
        /// The replies' numbers, as `replies list` shows them.
        #[arg(value_name = "ID", required = true)]
        ids: Vec<i64>,
    },
    /// Edit a reply's text in $VISUAL or $EDITOR; an empty text leaves it unchanged.
    Edit {
        /// The reply's number, as `replies list` shows it.
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Review the pending replies one at a time in the terminal, one key per decision.
    ///
    /// Newest issue first, then the oldest reply first. Keys: a approve, A approve
    /// anonymously, n note, e edit in $VISUAL or $EDITOR, r reject, s skip, u undo the last
    /// decision, o the original message, q quit, ? help. Each decision is saved at once: a new run resumes at the next
    /// pending reply, and skipped replies come back. Needs a terminal (works over ssh); without
    /// one, use `replies approve` and `replies reject`.
    Review {
        /// Only the replies to this issue (V5N2, v5n2 or 5.2).
        #[arg(value_name = "ISSUE")]
        issue: Option<String>,
    },
    /// List the unsubscribe requests by mail that wait for you: no valid token, and no
    /// verdict of your mail server that the sender's address is genuine.
    Unsubscribes,
    /// Confirm unsubscribe requests: their subscribers are unsubscribed.
    ConfirmUnsubscribe {
        /// The requests' numbers, as `replies unsubscribes` shows them.
        #[arg(value_name = "ID", required = true)]
        ids: Vec<i64>,
    },
    /// Dismiss unsubscribe requests: their subscribers stay subscribed.
    DismissUnsubscribe {
        /// The requests' numbers, as `replies unsubscribes` shows them.
        #[arg(value_name = "ID", required = true)]
        ids: Vec<i64>,
    },
    /// Print the reader's own text that import would store for a message (RFC 5322) or a bare
    /// text body; `-` reads standard input. Works outside a newsletter folder.
    Extract {
        /// The message or text file, or `-` for standard input.
        #[arg(value_name = "FILE|-")]
        file: PathBuf,
    },
}

/// A reply's moderation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplyStatus {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, clap::Args)]
pub struct LinksArgs {
    /// Only entries published on or after this day (YYYY-MM-DD, UTC); undated entries are
    /// always offered.
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Append the links to this issue's file (V5N2, v5n2 or 5.2) under `## Links`, and
    /// remember them as used so the next run offers only new ones.
    #[arg(long, value_name = "ISSUE", conflicts_with = "json")]
    pub into: Option<String>,
    /// Print the links as a JSON array (id, title, url, summary, published, source).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The issue, as V5N2, v5n2 or 5.2.
    #[arg(value_name = "ISSUE")]
    pub issue: String,
    /// Check everything but the links: no network request is made.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, clap::Args)]
pub struct HttpArgs {
    /// Time limit of each HTTP request, e.g. 10s or 500ms.
    #[arg(
        long,
        value_name = "DURATION",
        env = "DISPATCH_HTTP_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub timeout: std::time::Duration,
}

/// `500ms`, `10s` or `10` (seconds).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (number, millis) = match s.strip_suffix("ms") {
        Some(n) => (n, true),
        None => (s.strip_suffix('s').unwrap_or(s), false),
    };
    let value: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write it as 10s or 500ms"))?;
    if value == 0 {
        return Err("the timeout must be longer than zero".to_string());
    }
    Ok(if millis {
        std::time::Duration::from_millis(value)
    } else {
        std::time::Duration::from_secs(value)
    })
}

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Add one address.
    Add {
        /// The address, e.g. reader@example.org.
        email: String,
        /// The subscriber's name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Import a CSV file with a header row (the exports of common mailing-list services work
    /// as they are). Bad rows are reported by line number; the others are imported.
    Import {
        /// The CSV file.
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
    /// Write the whole list as CSV (email, name, status, created_at) to FILE, or to standard
    /// output.
    Export {
        /// The CSV file to write (default: standard output).
        #[arg(value_name = "FILE.csv")]
        file: Option<PathBuf>,
    },
    /// Print the list: one subscriber a line (address, name, status, separated by tabs), or a
    /// JSON array with --json.
    List {
        /// Print a JSON array of objects instead, one per subscriber in the order they were
        /// added.
        ///
        /// Fields: `id` (number), `email`, `name` (null when unknown), `status` (`pending`,
        /// `active`, `unsubscribed` or `bounced`), `created_at` (when it was added), `source`
        /// (`form`, `import` or `command line`; null for addresses added before it was
        /// recorded), `consent_at` and `confirmed_at` (null when unknown). Times are RFC 3339,
        /// UTC. An empty list is `[]`.
        #[arg(long)]
        json: bool,
    },
    /// Print one subscriber: status, dates, source and consent, deliveries, and their personal
    /// unsubscribe link.
    Show {
        /// The address (any case), or the subscriber's number.
        #[arg(value_name = "EMAIL|ID")]
        subscriber: String,
    },
    /// Delete an address and its delivery history.
    Remove {
        /// The address to delete (any case).
        email: String,
    },
    /// Mark an address as unsubscribed (it stays on the list and is never mailed again).
    Unsubscribe {
        /// The address to unsubscribe (any case).
        email: String,
    },
    /// Print how many subscribers are active, unsubscribed and bounced.
    Count,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The issue, as V5N2, v5n2 or 5.2.
    #[arg(value_name = "ISSUE")]
    pub issue: String,
    /// Send one copy to this address only; the send log is left untouched.
    #[arg(long, value_name = "EMAIL", conflicts_with = "dry_run")]
    pub test: Option<String>,
    /// Rehearse: check the smtp settings and run the preflight `send` runs, say how many
    /// subscribers would be mailed and what `send` would refuse; send and record nothing.
    /// Exits 1 when `send` would refuse.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(
            super::parse_duration("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(super::parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(super::parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(super::parse_duration("0s").is_err());
        assert!(super::parse_duration("soon").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Every argument and option of every command says what it is in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path}: {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = super::Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "dispatch", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without a doc comment:\n{}",
            missing.join("\n")
        );
    }

    /// `init` takes its folder as its argument; a `--dir` beside it is a usage error.
    #[test]
    fn init_refuses_dir() {
        let err = super::Cli::try_parse_from(["dispatch", "init", "--dir", "a", "b"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("dispatch init a"), "{err}");
        assert!(super::Cli::try_parse_from(["dispatch", "init", "b"]).is_ok());
    }

    #[test]
    fn volume_zero_is_a_usage_error() {
        let err = super::Cli::try_parse_from(["dispatch", "new", "--volume", "0"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(super::Cli::try_parse_from(["dispatch", "new", "--volume", "2"]).is_ok());
    }

    #[test]
    fn mbox_and_maildir_are_one_source_a_run() {
        let err = super::Cli::try_parse_from([
            "dispatch",
            "replies",
            "import",
            "--mbox",
            "a",
            "--maildir",
            "b",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
