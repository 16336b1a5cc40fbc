//! `dispatch host` for the tests: a newsletter folder with one built issue and a `host:`
//! section, the host started on a port of its own choosing, and an SMTP server that never
//! answers for tests that need no mail delivered.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use super::cli::{command, spawn};
use super::output::Output;

pub const ISSUE: &str = "---\nvolume: 1\nnumber: 1\ntitle: First light\ndate: 2030-01-07\n---\nHello reader,\n\nThe first issue.\n";

/// Where the mails' links say the host is; requests go to the bound address instead.
pub const HOST_URL: &str = "http://127.0.0.1:9/";

/// The security headers the host adds to every page (as they appear in `Answer::head`).
pub const SECURITY_HEADERS: [&str; 4] = [
    "content-security-policy: default-src 'none';",
    "frame-ancestors 'none'",
    "x-content-type-options: nosniff",
    "referrer-policy: no-referrer",
];

/// A newsletter folder with one built issue, sending through `smtp_port` on loopback.
pub fn folder(smtp_port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    set_smtp(dir.path(), smtp_port);
    std::fs::create_dir(dir.path().join("issues")).unwrap();
    std::fs::write(dir.path().join("issues/v1n1-first.md"), ISSUE).unwrap();
    let out = command(Some(dir.path()), &["build"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    dir
}

pub fn set_smtp(dir: &Path, port: u16) {
    set_config(dir, port, "");
}

/// The config, with `host_lines` added to the `host:` section.
pub fn set_config(dir: &Path, port: u16, host_lines: &str) {
    let config = format!(
        "newsletter:\n  title: The Test Dispatch\n  url: https://news.example.test/\n  from: \"Tess Editor <editor@example.test>\"\n  reply_to: replies@example.test\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 10\nhost:\n  url: {HOST_URL}\n{host_lines}"
    );
    std::fs::write(dir.join("config.yaml"), config).unwrap();
}

/// A signup form's body: `email`, `name` and the honeypot field `website`.
pub fn form(email: &str, name: &str, honeypot: &str) -> String {
    let enc = |s: &str| s.replace('@', "%40").replace(' ', "+");
    format!(
        "email={}&name={}&website={}",
        enc(email),
        enc(name),
        enc(honeypot)
    )
}

/// An SMTP server that accepts connections and never says a word.
pub fn silent_smtp() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A running `dispatch host --listen 127.0.0.1:0`, killed when dropped.
pub struct Host {
    pub child: Child,
    pub addr: String,
    pub stderr: Output,
}

impl Host {
    pub fn start(dir: &Path) -> Host {
        let mut child = spawn(&mut command(
            Some(dir),
            &["host", "--listen", "127.0.0.1:0"],
        ));
        let stderr = Output::default();
        stderr.collect(child.stderr.take().unwrap());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let addr = first
            .trim()
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {first:?}: {}", stderr.text()))
            .trim_end_matches('/')
            .to_string();
        Host {
            child,
            addr,
            stderr,
        }
    }

    /// Waits until stderr holds `n` lines containing `text`; returns stderr.
    pub fn wait_for(&self, text: &str, n: usize) -> String {
        self.stderr.wait_for(text, n, Duration::from_secs(60))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
