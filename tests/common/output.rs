//! What a child process prints, gathered line by line on threads of its own, so a test can
//! wait on a line instead of sleeping.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The text read so far from one or more streams; each new line wakes the waiters.
#[derive(Clone, Default)]
pub struct Output(Arc<(Mutex<String>, Condvar)>);

impl Output {
    /// Reads `stream` to its end on a thread of its own, adding each line.
    pub fn collect(&self, stream: impl Read + Send + 'static) {
        let shared = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut all) = shared.0.lock() {
                    all.push_str(&line);
                    all.push('\n');
                }
                shared.1.notify_all();
            }
        });
    }

    /// All the text so far.
    pub fn text(&self) -> String {
        self.0.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until `done` holds for the text or `timeout` passes; returns the text then and
    /// whether `done` held.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> (String, bool) {
        let (lock, written) = &*self.0;
        let all = lock.lock().unwrap();
        let (all, _) = written
            .wait_timeout_while(all, timeout, |all| !done(all))
            .unwrap();
        let held = done(&all);
        (all.clone(), held)
    }

    /// Waits (at most `timeout`) until the text holds `text` `n` times, and returns it all;
    /// panics with what was printed when it does not.
    pub fn wait_for(&self, text: &str, n: usize, timeout: Duration) -> String {
        let (all, held) = self.wait_until(timeout, |all| all.matches(text).count() >= n);
        assert!(held, "no {n}× {text:?} within {timeout:?} in:\n{all}");
        all
    }
}
