//! One wiring function per subcommand.

pub mod build;
pub mod check;
pub mod host;
pub mod init;
pub mod links;
pub mod log;
pub mod new;
pub mod replies;
pub mod report;
pub mod review;
pub mod send;
pub mod serve;
pub mod subscribers;

use std::path::{Path, PathBuf};

use tokio::runtime::Runtime;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; what waits on the network runs on `runtime`.
pub fn run(cli: Cli, runtime: &Runtime) -> anyhow::Result<()> {
    let dir = cli.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    match cli.command {
        Command::Init { path } => init::run(&path),
        Command::New { volume, title } => new::run(&dir, volume, title.as_deref()),
        Command::Build { issues } => build::run(&dir, &issues),
        Command::Subscribers { command } => subscribers::run(&dir, command),
        Command::Send(args) => send::run(&dir, &args, runtime),
        Command::Links(args) => links::run(&dir, &args, runtime),
        Command::Check(args) => check::run(&dir, &args, runtime),
        Command::Serve { port, listen } => serve::run(&dir, port, listen, runtime),
        Command::Host { listen } => host::run(&dir, listen, runtime),
        Command::Replies { command } => replies::run(&dir, command, runtime),
    }
}

/// Shows a path relative to the newsletter folder when it is inside it.
pub fn display_path(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The `s` of a plural noun for a count: "1 issue", "2 issues".
pub(crate) fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}
