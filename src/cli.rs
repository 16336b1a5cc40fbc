//! The command line: clap types only. Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Manage the subscriber list.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Mail an issue to every active subscriber (resumes a send that was interrupted).
    Send(SendArgs),
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
        #[arg(value_name = "FILE.csv")]
        file: Option<PathBuf>,
    },
    /// Print the list: one subscriber a line, or a JSON array with --json.
    List {
        /// Print a JSON array of objects (email, name, status, created_at).
        #[arg(long)]
        json: bool,
    },
    /// Delete an address and its delivery history.
    Remove { email: String },
    /// Mark an address as unsubscribed (it stays on the list and is never mailed again).
    Unsubscribe { email: String },
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
    /// Say whom the issue would go to; send and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
