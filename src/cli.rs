//! The command line: clap types only. Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// A newsletter publishing pipeline: Markdown issues in; email, web archive and readers'
/// replies out.
#[derive(Debug, Parser)]
#[command(name = "dispatch", version, about, max_term_width = 100)]
pub struct Cli {
    /// The newsletter folder (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

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
    },
    /// Create the next issue's file, with its front matter filled in.
    New {
        /// Start this volume (number 1) instead of continuing the latest one.
        #[arg(long, value_name = "N")]
        volume: Option<u32>,
        /// The new issue's title.
        #[arg(long)]
        title: Option<String>,
    },
    /// Build email HTML, plain text, .eml and web pages of every issue (or the ones named).
    Build {
        /// Issues to build, as V5N2, v5n2 or 5.2 (default: all).
        #[arg(value_name = "ISSUE")]
        issues: Vec<String>,
    },
    /// Readers' replies: import them from the mailbox, moderate them, see what gets published.
    Replies {
        #[command(subcommand)]
        command: RepliesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepliesCommand {
    /// Read new mail from the IMAP mailbox in config.yaml (or from an mbox file or a Maildir)
    /// and store readers' replies. Never marks, moves or deletes mail.
    Import {
        /// Read this mbox file instead of the IMAP mailbox.
        #[arg(long, value_name = "FILE")]
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
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one reply in full.
    Show {
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Approve replies for publication in the issue after the one they answer.
    Approve {
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
        #[arg(value_name = "ID", required = true)]
        ids: Vec<i64>,
    },
    /// Edit a reply's text in $VISUAL or $EDITOR; an empty text leaves it unchanged.
    Edit {
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Print the reader's own text that import would store for a message (RFC 5322) or a bare
    /// text body; `-` reads standard input. Works outside a newsletter folder.
    Extract {
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
