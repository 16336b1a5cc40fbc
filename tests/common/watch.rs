//! Waiting on changes to files, as the file watcher reports them.

use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use notify::RecommendedWatcher;

/// A file watcher and the channel on which it tells of every change.
pub fn watcher() -> (Receiver<()>, RecommendedWatcher) {
    let (tx, rx) = mpsc::channel();
    let watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .expect("a file watcher");
    (rx, watcher)
}

/// Blocks until the watcher reports a change (true) or `deadline` passes (false); the changes
/// reported meanwhile are taken too, to be looked at once.
pub fn changed(changes: &Receiver<()>, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if changes.recv_timeout(left).is_err() {
        return false;
    }
    while changes.try_recv().is_ok() {}
    true
}
