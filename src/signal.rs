//! Stopping on request: Ctrl-C (SIGINT) and SIGTERM (what systemd, `timeout` and `kill` send)
//! mean the same to every long-running command: finish what is in flight, then stop.

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    /// The exit status of a process that quits at once on this signal (128 + its number, as
    /// a shell reports it).
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }

    /// How the user sends it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "Ctrl-C",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// A command stopped early on Ctrl-C or SIGTERM, after finishing what was in flight: an
/// error whose message says what to do next, and which makes the process exit with the
/// signal's code (130 or 143) instead of 1.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Interrupted {
    pub signal: StopSignal,
    pub message: String,
}

/// Waits for Ctrl-C or SIGTERM, whichever comes first. Once called, neither signal ends the
/// process by itself any more: the caller decides. An error means the handlers could not be
/// installed.
pub async fn stop_requested() -> std::io::Result<StopSignal> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            interrupt = tokio::signal::ctrl_c() => interrupt.map(|()| StopSignal::Interrupt),
            _ = terminate.recv() => Ok(StopSignal::Terminate),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map(|()| StopSignal::Interrupt)
    }
}
