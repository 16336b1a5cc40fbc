use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

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
    runtime.block_on(async {
        let announce = async {
            if let Ok(bound) = bound.await {
                println!(
                    "serving {} on http://{bound}/ (emails under /email/v1n1)",
                    dir.display()
                );
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
    })
}
