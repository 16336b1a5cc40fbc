use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use dispatch::newsletter::Newsletter;
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
    let served = runtime.block_on(async {
        let announce = async {
            if let Ok(bound) = bound.await {
                println!("{}", start_line(dir, bound));
            }
        };
        let served = dispatch::serve::serve(
            dir,
            addr,
            dispatch::serve::Limits::default(),
            Some(ready),
            Arc::new(super::report::Stderr::new()),
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
fn start_line(dir: &Path, bound: SocketAddr) -> String {
    let email = Newsletter::open(dir)
        .ok()
        .and_then(|n| dispatch::serve::newest_email(&n));
    let about = match email {
        Some(issue) => format!("newest email: http://{bound}/email/{}", issue.slug()),
        None => "no email is built yet".to_string(),
    };
    // `.` says little in a start line: the folder's full path says which newsletter it is.
    let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!("serving {} on http://{bound}/ ({about})", shown.display())
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
