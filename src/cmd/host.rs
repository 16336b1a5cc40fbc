use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use dispatch::newsletter::Newsletter;

pub fn run(
    dir: &Path,
    listen: Option<SocketAddr>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let configured = newsletter
        .config
        .host
        .as_ref()
        .and_then(|h| h.listen_addr());
    let addr = listen.or(configured).unwrap_or_else(|| {
        dispatch::config::DEFAULT_HOST_LISTEN
            .parse()
            .expect("a valid address")
    });
    if !addr.ip().is_loopback() {
        eprintln!(
            "note: listening on {addr}, beyond this machine; put an HTTPS proxy in front of it"
        );
    }
    if !newsletter.output_dir().join("web/index.html").is_file() {
        eprintln!(
            "note: {} has no archive yet: run `dispatch build`; the host serves it without a restart",
            newsletter.output_dir().join("web").display()
        );
    }
    // As serve's start line: the folder's full path says which newsletter is hosted.
    let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (ready, bound) = tokio::sync::oneshot::channel();
    runtime.block_on(async {
        let announce = async {
            if let Ok(bound) = bound.await {
                println!("hosting {} on http://{bound}/", shown.display());
            }
        };
        let hosted = dispatch::host::host(
            dir,
            addr,
            dispatch::host::Options::default(),
            Some(ready),
            Arc::new(super::report::Stderr::new()),
            Box::new(std::io::stderr()),
        );
        futures::join!(hosted, announce).0
    })
}
