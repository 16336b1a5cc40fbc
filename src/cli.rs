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
    /// Preview the web archive and each email locally, rebuilt on change; also answers the
    /// one-click unsubscribe URL when `newsletter.unsubscribe_url` is set.
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8000, conflicts_with = "listen")]
        port: u16,
        /// Address to listen on instead, e.g. 0.0.0.0:8000 behind an HTTPS proxy.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
