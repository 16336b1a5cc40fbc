//! `-v`/`--verbose` and `RUST_LOG`: the SMTP, IMAP and HTTP exchanges on stderr, every line
//! passed through [`dispatch::report::redact`] so no password or token is shown.

use std::io::{IsTerminal as _, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// What `-v` shows: our own events, lettre's SMTP lines and async-imap's IMAP lines (which it
/// logs at trace).
const VERBOSE: &str = "dispatch=debug,lettre=debug,async_imap=trace";

/// Starts logging when `verbose` or `RUST_LOG` asks for it; otherwise nothing is logged.
pub fn init(verbose: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ if verbose => EnvFilter::new(VERBOSE),
        _ => return,
    };
    // Err: a logger is already installed (never in the binary); logging stays as it is.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(Redacting)
        .try_init();
}

/// Writes each formatted event to stderr, redacted.
struct Redacting;

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = Redacting;

    fn make_writer(&'a self) -> Redacting {
        Redacting
    }
}

impl Write for Redacting {
    /// tracing-subscriber hands over one whole event per call.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let redacted: String = text
            .split_inclusive('\n')
            .map(dispatch::report::redact)
            .collect();
        std::io::stderr().lock().write_all(redacted.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
