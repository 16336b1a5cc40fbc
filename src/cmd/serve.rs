use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

pub fn run(dir: &Path, port: u16, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let addr = listen.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(dispatch::serve::serve(
        dir,
        addr,
        dispatch::serve::Limits::default(),
        None,
    ))
}
