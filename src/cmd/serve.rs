use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dispatch::newsletter::Newsletter;
use dispatch::report::{Progress, Reporter};
use dispatch::serve::ListenError;

pub fn run(
    dir: &Path,
    port: u16,
    listen: Option<SocketAddr>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let addr = listen.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    if !addr.ip().is_loopback() {
        eprintln!(
            "note: listening on {addr}, beyond this machine; put an HTTPS proxy in front of it"
        );
    }
    let (ready, bound) = tokio::sync::oneshot::channel();
    let reporter = Arc::new(Serving {
        stderr: super::report::Stderr::new(),
        failed: AtomicBool::new(false),
    });
    let served = runtime.block_on(async {
        let announce = async {
            if let Ok(bound) = bound.await {
                // Until the start line, the only error reported is the first build's.
                let failed = reporter.failed.load(Ordering::SeqCst);
                println!("{}", start_line(dir, bound, failed));
            }
        };
        let served = dispatch::serve::serve(
            dir,
            addr,
            dispatch::serve::Limits::default(),
            Some(ready),
            reporter.clone(),
        );
        futures::join!(served, announce).0
    });
    served.map_err(|err| match err.downcast::<ListenError>() {
        Ok(err) if err.source.kind() == std::io::ErrorKind::AddrInUse => in_use(err, listen),
        Ok(err) => err.into(),
        Err(err) => err,
    })
}

/// `serving DIR on http://ADDR/ (newest email: http://ADDR/email/v1n2)`: the email named is
/// one the first build made.
fn start_line(dir: &Path, bound: SocketAddr, build_failed: bool) -> String {
    let email = Newsletter::open(dir)
        .ok()
        .and_then(|n| dispatch::serve::newest_email(&n));
    let about = match email {
        _ if build_failed => {
            "the build failed, see the error above; the pages show it until it is fixed".to_string()
        }
        Some(issue) => format!("newest email: http://{bound}/email/{}", issue.slug()),
        None => "no email is built yet".to_string(),
    };
    // `.` says little in a start line: the folder's full path says which newsletter it is.
    let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("serving {} on http://{bound}/ ({about})", shown.display())
}

/// Reports to standard error, and remembers whether an error was reported.
struct Serving {
    stderr: super::report::Stderr,
    failed: AtomicBool,
}

impl Reporter for Serving {
    fn progress(&self, progress: &Progress) {
        self.stderr.progress(progress);
    }

    fn progress_done(&self) {
        self.stderr.progress_done();
    }

    fn error(&self, message: &str) {
        self.failed.store(true, Ordering::SeqCst);
        self.stderr.error(message);
    }

    fn notice(&self, message: &str) {
        self.stderr.notice(message);
    }
}

/// A taken address, with the option that chooses another.
fn in_use(err: ListenError, listen: Option<SocketAddr>) -> anyhow::Error {
    let port = err.addr.port();
    let message = match listen {
        Some(addr) => format!("{addr} is already in use: choose another address with --listen"),
        None => format!(
            "port {port} is already in use (perhaps by another `dispatch serve`): choose another with --port, e.g. `dispatch serve --port {}`, or --port 0 for any free one",
            port.saturating_add(1)
        ),
    };
    anyhow::Error::new(err).context(message)
}
