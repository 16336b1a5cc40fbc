//! SIGTERM means what Ctrl-C means to `replies import`: stop, keep what was stored, say so,
//! and exit with 143 (128 + SIGTERM's number).
//! (`send` and `serve` are tested in their own files.)

use std::io::Read as _;
use std::net::TcpListener;

mod common;

use common::cli::{command, signal, spawn};

#[test]
fn sigterm_stops_an_imap_import_with_a_message() {
    // An IMAP server that accepts the connection and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "newsletter:\n  title: T\n  url: https://news.example.test/\n  from: \"Ed <ed@example.test>\"\nimap:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  username: ed@example.test\n  password_env: DISPATCH_TEST_SIGNAL_IMAP\n  mailbox: INBOX\n"
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    std::fs::create_dir(dir.path().join("issues")).unwrap();

    let mut import = spawn(
        command(Some(dir.path()), &["replies", "import"])
            .env("DISPATCH_TEST_SIGNAL_IMAP", "secret"),
    );
    let (_silent, _) = listener.accept().unwrap();
    signal(&import, "TERM");
    let status = import.wait().unwrap();
    let mut stderr = String::new();
    import
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}: {stderr}");
    assert!(
        stderr.contains("stopped by SIGTERM: the messages read so far are stored"),
        "{stderr}"
    );
}
