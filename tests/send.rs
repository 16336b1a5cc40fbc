//! End-to-end tests of `dispatch send`: against the real mail stack (Postfix delivering into
//! Dovecot, see tests/common/mailstack.rs) and against a small SMTP server in this file that
//! misbehaves on purpose.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::cli::{RunToEnd as _, command, signal, spawn};
use common::mailstack::{MailStack, mailstack, unique_user};
use common::watch;
use dispatch::issue::IssueId;
use dispatch::store::Store;
use dispatch::store::replies::{Approval, Filter, NewReply, insert_reply};
use dispatch::store::sends::{self, DeliveryCounts, Update};

const V1N2: IssueId = IssueId {
    volume: 1,
    number: 2,
};

const ISSUE_1: &str = "---\nvolume: 1\nnumber: 1\ntitle: First light\ndate: 2030-01-07\nquestion: Which tool do you miss most?\n---\nHello reader,\n\nThe first issue.\n";
const ISSUE_2: &str = "---\nvolume: 1\nnumber: 2\ntitle: Second thoughts\ndate: 2030-01-21\nquestion: What did you unlearn this year?\n---\nHello again,\n\nThe second issue, with [a link](https://example.org/a).\n";
const REPLY_TEXT: &str = "I miss my old mechanical keyboard, honestly.";

/// A newsletter folder with two issues, mailing through the SMTP server `smtp` describes.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new(smtp: &str) -> Folder {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder { dir };
        folder.set_smtp(smtp);
        std::fs::create_dir(folder.path().join("issues")).unwrap();
        std::fs::write(folder.path().join("issues/v1n1-first.md"), ISSUE_1).unwrap();
        std::fs::write(folder.path().join("issues/v1n2-second.md"), ISSUE_2).unwrap();
        folder
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn set_smtp(&self, smtp: &str) {
        let config = format!(
            "newsletter:\n  title: The Test Dispatch\n  url: https://news.example.test/\n  from: \"Tess Editor <editor@example.test>\"\n  reply_to: replies@example.test\n  unsubscribe_url: https://news.example.test/unsubscribe/\nsmtp:\n{smtp}"
        );
        std::fs::write(self.path().join("config.yaml"), config).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        command(Some(self.path()), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).run()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dispatch {args:?} failed: {}",
            text(&out)
        );
        out
    }

    fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "dispatch {args:?} succeeded: {}",
            text(&out)
        );
        out
    }

    /// Adds subscribers through a CSV import (one transaction, fast).
    fn subscribe(&self, people: &[(String, String)]) {
        let mut csv = String::from("email,name\n");
        for (email, name) in people {
            csv.push_str(&format!("{email},{name}\n"));
        }
        let file = self.path().join("people.csv");
        std::fs::write(&file, csv).unwrap();
        self.ok(&["subscribers", "import", file.to_str().unwrap()]);
    }

    /// Starts `dispatch send v1n2 --yes` in the background; returns once its first delivery
    /// is recorded.
    fn send_under_way(&self) -> std::process::Child {
        // The database is looked at again each time the file watcher reports a change in the
        // folder (SQLite writes its journal there at each recorded delivery).
        let (changes, mut watcher) = watch::watcher();
        notify::Watcher::watch(
            &mut watcher,
            self.path(),
            notify::RecursiveMode::NonRecursive,
        )
        .unwrap();
        let mut send = spawn(&mut self.command(&["send", "v1n2", "--yes"]));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.counts().sent == 0 {
            assert!(send.try_wait().unwrap().is_none(), "the send ended early");
            assert!(
                watch::changed(&changes, deadline),
                "no delivery recorded within 60 s"
            );
        }
        send
    }

    fn store(&self) -> Store {
        Store::open(&self.path().join("subscribers.db")).unwrap()
    }

    fn counts(&self) -> DeliveryCounts {
        self.store().delivery_counts(V1N2).unwrap()
    }

    fn send_recorded(&self) -> bool {
        self.store().send_record(V1N2).unwrap().is_some()
    }

    /// (state, attempts, last_error, message_id) of each delivery, by address.
    fn deliveries(&self) -> HashMap<String, (String, i64, Option<String>, String)> {
        self.store()
            .deliveries(V1N2)
            .unwrap()
            .into_iter()
            .map(|d| (d.email, (d.state, d.attempts, d.last_error, d.message_id)))
            .collect()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn starttls(stack: &MailStack, extra: &str) -> String {
    format!(
        "  host: localhost\n  port: {}\n  security: starttls\n  connections: 4\n{extra}",
        stack.smtp_port
    )
}

fn trusted(stack: &MailStack) -> String {
    format!("  ca_file: {}\n", stack.ca_file.display())
}

fn people(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (unique_user(prefix), format!("Reader {i}")))
        .collect()
}

fn parse(file: &Path) -> (Vec<u8>, mail_parser::Message<'static>) {
    let bytes = std::fs::read(file).unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(bytes.as_slice())
        .unwrap()
        .into_owned();
    (bytes, message)
}

/// Message files in a user's mailbox now.
fn mailbox(stack: &MailStack, user: &str) -> Vec<PathBuf> {
    let dir = stack.user_maildir(user);
    ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn sends_each_subscriber_their_own_copy_through_postfix_and_dovecot() {
    let stack = mailstack();
    let folder = Folder::new(&starttls(&stack, &trusted(&stack)));
    let readers = people("send-copy", 3);
    folder.subscribe(&readers);
    // An approved reply to V1N1 is published in V1N2, exactly as `build` shows it.
    let mut store = folder.store();
    let reply = NewReply {
        message_id: "r1@example.test",
        issue: Some(IssueId::new(1, 1)),
        subscriber_id: None,
        from_address: "pat@example.test",
        from_name: Some("Pat"),
        subject: "Re: First light",
        received_at: None,
        text: REPLY_TEXT,
        original: None,
    };
    store.batch(|b| Ok(insert_reply(b, &reply)?)).unwrap();
    let ids: Vec<i64> = store
        .replies(&Filter::default())
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    store.approve_replies(&ids, &Approval::default()).unwrap();
    drop(store);

    let out = folder.ok(&["send", "v1n2", "--yes"]);
    assert!(
        stdout(&out).contains("delivered        3  of 3"),
        "{}",
        text(&out)
    );

    let store = folder.store();
    let secret = store.secret().unwrap();
    let deliveries = folder.deliveries();
    let mut tokens = Vec::new();
    for (email, name) in &readers {
        let files = stack.wait_for_messages(email, 1, Duration::from_secs(20));
        assert_eq!(files.len(), 1, "{email} got {files:?}");
        let (raw, message) = parse(&files[0]);
        let raw = String::from_utf8_lossy(&raw);

        assert_eq!(
            message.from().unwrap().first().unwrap().address(),
            Some("editor@example.test")
        );
        assert_eq!(
            message.from().unwrap().first().unwrap().name(),
            Some("Tess Editor")
        );
        let to = message.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some(email.as_str()));
        assert_eq!(to.name(), Some(name.as_str()));
        assert_eq!(
            message.reply_to().unwrap().first().unwrap().address(),
            Some("replies@example.test")
        );
        assert_eq!(
            message.subject(),
            Some("Second thoughts. The Test Dispatch V1N2")
        );
        assert!(
            raw.contains("\nList-Id: The Test Dispatch <the-test-dispatch.example.test>"),
            "{raw}"
        );
        assert!(raw.contains("\nDate: "), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );

        // The Message-ID is the one recorded for this subscriber: <v1n2.{id}.{tag}@domain>.
        let (state, attempts, _, message_id) = &deliveries[email];
        assert_eq!((state.as_str(), *attempts), ("sent", 1));
        assert_eq!(message.message_id(), Some(message_id.as_str()));
        let subscriber_id = store.subscriber(email).unwrap().unwrap().id;
        assert!(
            message_id.starts_with(&format!("v1n2.{subscriber_id}.")),
            "{message_id}"
        );
        assert!(message_id.ends_with("@example.test"), "{message_id}");

        // Their own unsubscribe token, in both List-Unsubscribe forms and both parts.
        let list_unsubscribe = message
            .header_raw("List-Unsubscribe")
            .unwrap()
            .replace(['\r', '\n'], "");
        let token = list_unsubscribe
            .split("unsubscribe%20")
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .unwrap()
            .to_string();
        assert_eq!(
            dispatch::outgoing::token::verify_unsubscribe_token(&secret, &token),
            Some(subscriber_id)
        );
        assert!(
            list_unsubscribe.contains(&format!(
                "<mailto:replies@example.test?subject=unsubscribe%20{token}>"
            )),
            "{list_unsubscribe}"
        );
        let https = format!("https://news.example.test/unsubscribe/{token}");
        assert!(
            list_unsubscribe.contains(&format!("<{https}>")),
            "{list_unsubscribe}"
        );
        let plain = message.body_text(0).unwrap();
        let html = message.body_html(0).unwrap();
        assert!(plain.contains(&https), "{plain}");
        assert!(html.contains(&https), "{html}");
        assert!(
            plain.contains(REPLY_TEXT),
            "the approved reply is published: {plain}"
        );
        assert!(html.contains("Which tool do you miss most?"), "{html}");
        assert!(!raw.contains("DISPATCH-PERSONAL-LINK"), "{raw}");
        tokens.push(token);
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "every subscriber has their own token");
    assert!(
        store
            .send_record(V1N2)
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );
}

#[test]
fn resumes_after_kill_9_and_mails_nobody_twice_but_the_reported_in_flight() {
    let stack = mailstack();
    let connections = 4;
    let smtp = |rate: u32| {
        starttls(&stack, &trusted(&stack)).replace(
            "  connections: 4\n",
            &format!("  connections: {connections}\n  rate: {rate}\n"),
        )
    };
    let folder = Folder::new(&smtp(20));
    let readers = people("send-kill", 300);
    folder.subscribe(&readers);

    let mut child = folder.send_under_way();
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    let killed = folder.counts();
    assert_eq!(killed.total(), 300, "the whole audience was recorded first");
    assert!(killed.sent > 0 && killed.sent < 300, "{killed:?}");
    assert!(killed.sending <= connections, "{killed:?}");
    let in_flight = killed.sending;
    eprintln!("killed with {killed:?}");

    folder.set_smtp(&smtp(0));
    let out = folder.ok(&["send", "v1n2", "--yes"]);
    let report = format!(
        "{in_flight} {} in flight when the last run stopped and may have been delivered twice",
        if in_flight == 1 {
            "message was"
        } else {
            "messages were"
        }
    );
    assert_eq!(
        stderr(&out).contains(&report),
        in_flight > 0,
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("delivered      300  of 300"),
        "{}",
        text(&out)
    );
    let after = folder.counts();
    assert_eq!(after.sent, 300, "{after:?}");

    for (email, _) in &readers {
        stack.wait_for_messages(email, 1, Duration::from_secs(60));
    }
    // Postfix may still be handing a double over to Dovecot.
    stack.wait_for_postfix_queue(Duration::from_secs(60));
    let deliveries = folder.deliveries();
    let mut doubles = 0;
    for (email, _) in &readers {
        let files = mailbox(&stack, email);
        match files.len() {
            1 => {}
            2 => {
                doubles += 1;
                assert!(
                    in_doubt(&folder).contains(email),
                    "{email} got a double not in doubt"
                );
            }
            n => panic!("{email} got {n} copies"),
        }
        for file in files {
            // The same Message-ID on every attempt.
            let (_, message) = parse(&file);
            assert_eq!(message.message_id(), Some(deliveries[email].3.as_str()));
        }
    }
    assert!(
        doubles <= in_flight,
        "{doubles} doubles, but only {in_flight} were reported in flight"
    );
}

#[test]
fn starttls_without_the_ca_file_is_refused_and_nothing_is_recorded() {
    let stack = mailstack();
    let folder = Folder::new(&starttls(&stack, ""));
    folder.subscribe(&people("send-tls", 1));
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let expected = format!(
        "TLS handshake with localhost:{} failed: certificate not trusted — set smtp.ca_file",
        stack.smtp_port
    );
    assert!(stderr(&out).contains(&expected), "{}", text(&out));
    assert!(!folder.send_recorded(), "nothing is recorded");
    assert_eq!(folder.counts().sent, 0);
}

#[test]
fn verbose_shows_the_smtp_exchange_with_the_password_and_tokens_redacted() {
    use base64::Engine as _;
    let stack = mailstack();
    let editor = unique_user("send-verbose-editor");
    let folder = Folder::new(&starttls(
        &stack,
        &format!(
            "{}  username: {editor}\n  password_env: DISPATCH_TEST_SMTP_PASSWORD\n",
            trusted(&stack)
        ),
    ));
    let tester = unique_user("send-verbose");
    let out = folder
        .command(&["-v", "send", "v1n2", "--test", &tester])
        .env("DISPATCH_TEST_SMTP_PASSWORD", "secret")
        .env_remove("RUST_LOG")
        .run();
    assert!(out.status.success(), "{}", text(&out));
    let log = stderr(&out);
    for step in [
        "Wrote: EHLO ",
        "Wrote: STARTTLS<CRLF>",
        "<< 220 ",
        "250-AUTH PLAIN LOGIN<CRLF>",
        "Wrote: AUTH PLAIN [redacted]<CRLF>",
        "<< 235 ",
        "Wrote: MAIL FROM:<",
        &format!("Wrote: RCPT TO:<{tester}>"),
        "Wrote: DATA<CRLF>",
        "<< 250 ",
    ] {
        assert!(log.contains(step), "{step:?} missing from:\n{log}");
    }
    let engine = base64::engine::general_purpose::STANDARD;
    for secret in [
        "secret".to_string(),
        engine.encode(format!("\0{editor}\0secret")),
        engine.encode("secret"),
    ] {
        assert!(!log.contains(&secret), "{secret} shown:\n{log}");
    }
    for marker in ["/unsubscribe/", "unsubscribe%20"] {
        for (at, _) in log.match_indices(marker) {
            let rest = &log[at + marker.len()..];
            assert!(rest.starts_with("[redacted]"), "a token shown:\n{log}");
        }
    }
    stack.wait_for_messages(&tester, 1, Duration::from_secs(20));
}

/// V1N2 with a `javascript:` link on line 10: an error of the preflight.
const ISSUE_2_ACTIVE: &str = "---\nvolume: 1\nnumber: 2\ntitle: Second thoughts\ndate: 2030-01-21\nquestion: What did you unlearn this year?\n---\nHello again,\n\n[Tap here](javascript:alert(1)) for the second issue.\n";
/// V1N2 with an image without alt text on line 10: a warning of the preflight.
const ISSUE_2_NO_ALT: &str = "---\nvolume: 1\nnumber: 2\ntitle: Second thoughts\ndate: 2030-01-21\nquestion: What did you unlearn this year?\n---\nHello again,\n\n![](https://example.org/chart.png)\n\nThe second issue, fixed.\n";

#[test]
fn preflight_errors_stop_the_send_before_anything_is_recorded_and_warnings_do_not() {
    let stack = mailstack();
    let folder = Folder::new(&starttls(&stack, &trusted(&stack)));
    let readers = people("send-preflight", 2);
    folder.subscribe(&readers);
    let issue = folder.path().join("issues/v1n2-second.md");
    std::fs::write(&issue, ISSUE_2_ACTIVE).unwrap();
    let finding = "issues/v1n2-second.md:10: `javascript:alert(1)` (in <a href>) runs code";

    // The rehearsal finds what the send refuses, and fails the same way.
    let out = folder.fails(&["send", "v1n2", "--dry-run"]);
    let said = stdout(&out);
    assert!(said.contains("preflight: 1 error, 0 warnings\n"), "{said}");
    assert!(said.contains(&format!("  error: {finding}")), "{said}");
    assert!(
        said.contains("`dispatch send v1n2` would refuse:\n  the preflight found 1 error (listed above): run `dispatch check v1n2` for the full report and fix it before sending\n"),
        "{said}"
    );
    assert!(
        stderr(&out).contains("error: V1N2 is not ready to send: 1 reason above"),
        "{}",
        text(&out)
    );

    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "error: V1N2 was not sent: the preflight found 1 error:\n  {finding}"
        )),
        "{said}"
    );
    assert!(
        said.contains("run `dispatch check v1n2` for the full report and fix it before sending"),
        "{said}"
    );
    assert!(!folder.send_recorded(), "no send is recorded");
    assert!(folder.deliveries().is_empty(), "no delivery is recorded");
    let out = folder.fails(&["send", "v1n2", "--dry-run"]);
    assert!(
        stdout(&out).contains("V1N2 “Second thoughts” would go to 2 active subscribers:"),
        "{}",
        text(&out)
    );

    // With the link fixed, a warning is shown and the issue goes out.
    std::fs::write(&issue, ISSUE_2_NO_ALT).unwrap();
    let out = folder.ok(&["send", "v1n2", "--yes"]);
    assert!(
        stderr(&out).contains(
            "warning: issues/v1n2-second.md:10: the image https://example.org/chart.png has no alt text"
        ),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("delivered        2  of 2"),
        "{}",
        text(&out)
    );
    for (email, _) in &readers {
        // The refused send made no connection: the one message each reader has is the fixed issue.
        let files = stack.wait_for_messages(email, 1, Duration::from_secs(20));
        assert_eq!(files.len(), 1, "{email} got {files:?}");
        let (_, message) = parse(&files[0]);
        let body = message.body_text(0).unwrap();
        assert!(body.contains("The second issue, fixed."), "{body}");
        assert!(!body.contains("Tap here"), "{body}");
    }
}

#[test]
fn test_copy_goes_to_one_address_and_leaves_the_send_log_alone() {
    let stack = mailstack();
    let folder = Folder::new(&starttls(&stack, &trusted(&stack)));
    let readers = people("send-subscriber", 2);
    folder.subscribe(&readers);
    let tester = unique_user("send-tester");
    let out = folder.ok(&["send", "v1n2", "--test", &tester]);
    assert!(
        stdout(&out).contains(&format!("sent a test copy of V1N2 to {tester}")),
        "{}",
        text(&out)
    );
    let files = stack.wait_for_messages(&tester, 1, Duration::from_secs(20));
    let (_, message) = parse(&files[0]);
    assert_eq!(
        message.subject(),
        Some("Second thoughts. The Test Dispatch V1N2")
    );
    assert!(message.message_id().unwrap().starts_with("v1n2.test."));
    assert!(
        message
            .body_text(0)
            .unwrap()
            .contains("https://news.example.test/unsubscribe/TEST")
    );
    assert!(!folder.send_recorded(), "the send log is untouched");
    // Whatever the send handed to Postfix has reached its mailbox.
    stack.wait_for_postfix_queue(Duration::from_secs(60));
    for (email, _) in &readers {
        assert!(mailbox(&stack, email).is_empty(), "{email} got mail");
    }
}

/// A small SMTP server on 127.0.0.1 that misbehaves on purpose.
mod fake_smtp {
    use std::collections::{HashMap, HashSet};
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};

    use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    #[derive(Debug, Default, Clone)]
    pub struct Rules {
        /// 451 at RCPT the first time, then accepted.
        pub defer_once: HashSet<String>,
        /// 550 at RCPT, always.
        pub reject: HashSet<String>,
        /// The connection is dropped in the middle of the first DATA.
        pub drop_once: HashSet<String>,
        /// The first RCPT is answered with this code only after `delay`; later ones at once.
        pub slow_rcpt: HashMap<String, u16>,
        /// The end of the first message is answered with this code only after `delay`, or
        /// never (`None`: the server keeps reading and says nothing); later ones at once
        /// (250 after a silence).
        pub slow_end: HashMap<String, Option<u16>>,
        /// The end of no message is ever answered.
        pub never_answer_end: bool,
        pub delay: Duration,
        /// AUTH is offered and refused with 535.
        pub refuse_login: bool,
        /// TLS from the first byte (`smtp.security: tls`) with this certificate and key.
        pub tls: Option<(PathBuf, PathBuf)>,
        /// The first line the server says instead of its usual 220.
        pub greeting: Option<String>,
    }

    #[derive(Debug, Default)]
    pub struct Seen {
        pub connections: usize,
        pub rcpt: HashMap<String, usize>,
        pub data: HashMap<String, usize>,
        /// Messages accepted (250 after DATA) per recipient.
        pub accepted: HashMap<String, usize>,
        pub auth: Vec<String>,
        /// The To header of the last message to each recipient.
        pub to_header: HashMap<String, String>,
        /// QUIT commands received.
        pub quits: usize,
    }

    pub struct FakeSmtp {
        pub port: u16,
        pub seen: Arc<Mutex<Seen>>,
        /// Tells of each message whose DATA begins, by recipient.
        pub data_begun: std::sync::mpsc::Receiver<String>,
    }

    impl FakeSmtp {
        pub fn start(rules: Rules) -> FakeSmtp {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            std_listener.set_nonblocking(true).unwrap();
            let port = std_listener.local_addr().unwrap().port();
            let seen = Arc::new(Mutex::new(Seen::default()));
            let shared = Arc::clone(&seen);
            let (data_sender, data_begun) = std::sync::mpsc::channel();
            let acceptor = rules.tls.as_ref().map(|(cert, key)| acceptor(cert, key));
            let rules = Arc::new(rules);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        shared.lock().unwrap().connections += 1;
                        let (rules, seen) = (Arc::clone(&rules), Arc::clone(&shared));
                        let data = data_sender.clone();
                        match acceptor.clone() {
                            None => {
                                tokio::spawn(session(stream, rules, seen, data));
                            }
                            Some(acceptor) => {
                                tokio::spawn(async move {
                                    // A client that refuses our certificate ends here.
                                    if let Ok(tls) = acceptor.accept(stream).await {
                                        let _ = session(tls, rules, seen, data).await;
                                    }
                                });
                            }
                        }
                    }
                });
            });
            FakeSmtp {
                port,
                seen,
                data_begun,
            }
        }

        pub fn accepted(&self, who: &str) -> usize {
            self.seen
                .lock()
                .unwrap()
                .accepted
                .get(who)
                .copied()
                .unwrap_or(0)
        }
    }

    fn acceptor(cert: &PathBuf, key: &PathBuf) -> tokio_rustls::TlsAcceptor {
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    fn bump(map: &mut HashMap<String, usize>, key: &str) -> usize {
        let n = map.entry(key.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    async fn session(
        stream: impl AsyncRead + AsyncWrite + Unpin,
        rules: Arc<Rules>,
        seen: Arc<Mutex<Seen>>,
        data_begun: std::sync::mpsc::Sender<String>,
    ) -> std::io::Result<()> {
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        let greeting = rules.greeting.as_deref().unwrap_or("220 fake.test ESMTP");
        write
            .write_all(format!("{greeting}\r\n").as_bytes())
            .await?;
        let mut recipient: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: String = if command.starts_with("EHLO") {
                let auth = if rules.refuse_login {
                    "250-AUTH PLAIN LOGIN\r\n"
                } else {
                    ""
                };
                format!("250-fake.test\r\n{auth}250 SIZE 10000000\r\n")
            } else if command.starts_with("AUTH") {
                seen.lock().unwrap().auth.push(line.trim_end().to_string());
                "535 5.7.8 Error: authentication failed\r\n".into()
            } else if command.starts_with("MAIL FROM:") {
                recipient = None;
                "250 2.1.0 Ok\r\n".into()
            } else if command.starts_with("RCPT TO:") {
                let who = line
                    .split('<')
                    .nth(1)
                    .and_then(|r| r.split('>').next())
                    .unwrap_or_default()
                    .to_lowercase();
                let attempt = bump(&mut seen.lock().unwrap().rcpt, &who);
                if let Some(code) = rules.slow_rcpt.get(&who) {
                    if attempt == 1 {
                        tokio::time::sleep(rules.delay).await;
                    }
                    let reply = format!("{code} reply about <{who}>\r\n");
                    if *code == 250 {
                        recipient = Some(who);
                    }
                    reply
                } else if rules.reject.contains(&who) {
                    format!("550 5.1.1 <{who}>: Recipient address rejected: no such user\r\n")
                } else if rules.defer_once.contains(&who) && attempt == 1 {
                    format!("451 4.7.1 <{who}>: greylisted, try again later\r\n")
                } else {
                    recipient = Some(who);
                    "250 2.1.5 Ok\r\n".into()
                }
            } else if command == "DATA" {
                let Some(who) = recipient.take() else {
                    write.write_all(b"503 5.5.1 need RCPT\r\n").await?;
                    continue;
                };
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let attempt = bump(&mut seen.lock().unwrap().data, &who);
                let _ = data_begun.send(who.clone());
                let drop_now = rules.drop_once.contains(&who) && attempt == 1;
                let mut body = String::new();
                loop {
                    body.clear();
                    if read.read_line(&mut body).await? == 0 {
                        return Ok(());
                    }
                    if drop_now {
                        // Gone in the middle of the message, without a reply.
                        return Ok(());
                    }
                    if body == ".\r\n" {
                        break;
                    }
                    if let Some(to) = body.strip_prefix("To: ") {
                        let mut seen = seen.lock().unwrap();
                        seen.to_header
                            .insert(who.clone(), to.trim_end().to_string());
                    }
                }
                let end = if rules.never_answer_end {
                    Some(None)
                } else {
                    rules.slow_end.get(&who).copied()
                };
                match end {
                    Some(None) if rules.never_answer_end || attempt == 1 => {
                        // Silence: read on until the client gives up.
                        while read.read_line(&mut body).await? > 0 {}
                        return Ok(());
                    }
                    Some(Some(code)) => {
                        if attempt == 1 {
                            tokio::time::sleep(rules.delay).await;
                        }
                        if code == 250 {
                            bump(&mut seen.lock().unwrap().accepted, &who);
                        }
                        format!("{code} end of message for <{who}>\r\n")
                    }
                    _ => {
                        bump(&mut seen.lock().unwrap().accepted, &who);
                        "250 2.0.0 Ok: queued\r\n".into()
                    }
                }
            } else if command == "RSET" || command == "NOOP" {
                "250 2.0.0 Ok\r\n".into()
            } else if command == "QUIT" {
                seen.lock().unwrap().quits += 1;
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            } else {
                "502 5.5.2 command not recognized\r\n".into()
            };
            write.write_all(reply.as_bytes()).await?;
        }
    }
}

use fake_smtp::{FakeSmtp, Rules};

fn plain(port: u16, extra: &str) -> String {
    format!("  host: 127.0.0.1\n  port: {port}\n  security: none\n  connections: 2\n{extra}")
}

fn addresses(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (format!("{n}@example.org"), n.to_string()))
        .collect()
}

#[test]
fn deferred_recipients_are_retried_and_rejected_ones_fail_with_their_error() {
    let set = |names: &[&str]| names.iter().map(|n| format!("{n}@example.org")).collect();
    let server = FakeSmtp::start(Rules {
        defer_once: set(&["grey1", "grey2"]),
        reject: set(&["gone"]),
        drop_once: set(&["flaky"]),
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, ""));
    let names = [
        "ok1", "ok2", "grey1", "ok3", "gone", "flaky", "grey2", "ok4",
    ];
    folder.subscribe(&addresses(&names));

    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let summary = stdout(&out);
    assert!(
        summary.contains("delivered        7  of 8"),
        "{}",
        text(&out)
    );
    assert!(summary.contains("failed           1"), "{}", text(&out));
    assert!(
        summary.contains("gone@example.org: permanent error (550)"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("V1N2 did not reach everybody: 1 failed, 0 deferred"),
        "{}",
        text(&out)
    );

    let deliveries = folder.deliveries();
    for name in names {
        let email = format!("{name}@example.org");
        let (state, attempts, error, _) = &deliveries[&email];
        match name {
            "gone" => {
                assert_eq!((state.as_str(), *attempts), ("failed", 1), "{email}");
                let error = error.as_deref().unwrap();
                assert!(
                    error.contains("550") && error.contains("5.1.1 <gone@example.org>"),
                    "{error}"
                );
                assert_eq!(server.accepted(&email), 0);
            }
            "grey1" | "grey2" | "flaky" => {
                assert_eq!((state.as_str(), *attempts), ("sent", 2), "{email}");
                assert_eq!(server.accepted(&email), 1, "{email}");
            }
            _ => {
                assert_eq!((state.as_str(), *attempts), ("sent", 1), "{email}");
                assert_eq!(server.accepted(&email), 1, "{email}");
            }
        }
    }

    // A later subscriber is not part of the running send; a rerun mails nobody.
    folder.ok(&["subscribers", "add", "late@example.org"]);
    let rcpt_before: usize = server.seen.lock().unwrap().rcpt.values().sum();
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    assert!(
        stdout(&out).contains("nothing left to mail"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out)
            .contains("1 active subscriber joined after this send started and is not part of it"),
        "{}",
        text(&out)
    );
    let rcpt_after: usize = server.seen.lock().unwrap().rcpt.values().sum();
    assert_eq!(rcpt_after, rcpt_before, "nobody was mailed again");
}

#[test]
fn a_refused_login_stops_before_anything_is_recorded() {
    let server = FakeSmtp::start(Rules {
        refuse_login: true,
        ..Rules::default()
    });
    let folder = Folder::new(&plain(
        server.port,
        "  username: editor@example.test\n  password_env: DISPATCH_TEST_FAKE_SMTP_PASSWORD\n",
    ));
    folder.subscribe(&addresses(&["ann", "bob"]));

    let out = folder.fails(&["send", "v1n2", "--yes"]);
    assert!(
        stderr(&out).contains("smtp.password_env names the environment variable DISPATCH_TEST_FAKE_SMTP_PASSWORD, which is not set"),
        "{}",
        text(&out)
    );
    assert_eq!(server.seen.lock().unwrap().connections, 0);

    let password = "pw-that-must-not-leak";
    let out = folder
        .command(&["send", "v1n2", "--yes"])
        .env("DISPATCH_TEST_FAKE_SMTP_PASSWORD", password)
        .run();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "the SMTP server refused the login for editor@example.test: permanent error (535)"
        ),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(password), "{}", text(&out));
    assert_eq!(
        server.seen.lock().unwrap().auth.len(),
        1,
        "it tried to log in"
    );
    assert!(!folder.send_recorded(), "nothing is recorded");
}

#[test]
fn dry_run_and_missing_confirmation_send_nothing() {
    let server = FakeSmtp::start(Rules::default());
    let folder = Folder::new(&plain(server.port, ""));
    let names: Vec<String> = (0..12).map(|i| format!("reader{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    folder.subscribe(&addresses(&names));
    folder.ok(&["subscribers", "unsubscribe", "reader05@example.org"]);

    let out = folder.ok(&["send", "v1n2", "--dry-run"]);
    let said = stdout(&out);
    assert!(
        said.contains("V1N2 “Second thoughts” would go to 11 active subscribers:"),
        "{said}"
    );
    assert!(said.contains("  reader00@example.org\n"), "{said}");
    assert!(!said.contains("reader05@example.org"), "{said}");
    assert!(said.contains("… and 1 more"), "{said}");
    assert!(
        said.contains(&format!(
            "smtp: 127.0.0.1:{} (none), 2 connections\n",
            server.port
        )),
        "{said}"
    );
    assert!(!said.contains("would refuse"), "{said}");
    assert!(said.contains("nothing was sent or recorded"), "{said}");

    // Standard input is not a terminal here: without --yes there is nobody to ask.
    let out = folder.fails(&["send", "v1n2"]);
    assert!(
        stderr(&out).contains("pass --yes to send"),
        "{}",
        text(&out)
    );

    assert_eq!(
        server.seen.lock().unwrap().connections,
        0,
        "no connection was made"
    );
    assert!(!folder.send_recorded());
}

/// A rehearsal without an smtp section and without subscribers says both, as `send` would,
/// and fails; once they are there it passes.
#[test]
fn dry_run_lists_what_send_would_refuse() {
    let server = FakeSmtp::start(Rules::default());
    let folder = Folder::new(&plain(server.port, ""));
    let config = std::fs::read_to_string(folder.path().join("config.yaml")).unwrap();
    let without_smtp = &config[..config.find("smtp:\n").unwrap()];
    std::fs::write(folder.path().join("config.yaml"), without_smtp).unwrap();

    let out = folder.fails(&["send", "v1n2", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("V1N2 “Second thoughts” would go to 0 active subscribers\n"),
        "{said}"
    );
    let refused = "`dispatch send v1n2` would refuse:\n  config.yaml has no `smtp:` section: add one with host";
    assert!(said.contains(refused), "{said}");
    assert!(
        said.contains("\n  there are no active subscribers to send V1N2 to (add some with `dispatch subscribers add`)\n"),
        "{said}"
    );
    assert!(
        said.contains("dry run: nothing was sent or recorded"),
        "{said}"
    );
    assert!(
        stderr(&out).contains("error: V1N2 is not ready to send: 2 reasons above"),
        "{}",
        text(&out)
    );
    // `send` itself stops on the first of them.
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    assert!(
        stderr(&out).contains("error: config.yaml has no `smtp:` section"),
        "{}",
        text(&out)
    );

    folder.set_smtp(&plain(server.port, ""));
    folder.subscribe(&addresses(&["ann"]));
    let out = folder.ok(&["send", "v1n2", "--dry-run"]);
    assert!(!stdout(&out).contains("would refuse"), "{}", text(&out));
    assert_eq!(server.seen.lock().unwrap().connections, 0);
    assert!(!folder.send_recorded());
}

#[test]
fn starttls_is_required_when_configured() {
    let server = FakeSmtp::start(Rules::default());
    let folder = Folder::new(&format!(
        "  host: 127.0.0.1\n  port: {}\n  security: starttls\n",
        server.port
    ));
    folder.subscribe(&addresses(&["ann"]));
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    assert!(
        stderr(&out).contains(&format!(
            "the SMTP server 127.0.0.1:{} does not offer STARTTLS",
            server.port
        )),
        "{}",
        text(&out)
    );
    assert!(!folder.send_recorded());
}

#[test]
fn messages_left_in_flight_by_a_crash_are_reported_and_sent_again() {
    let server = FakeSmtp::start(Rules::default());
    let folder = Folder::new(&plain(server.port, ""));
    folder.subscribe(&addresses(&["ann", "bob", "cid"]));
    // What a crash between `sending` and `sent` leaves behind: ann and cid sent, bob in flight.
    let mut store = folder.store();
    store
        .start_send(V1N2, |id| format!("v1n2.{id}@example.test"))
        .unwrap();
    let id = |who: &str| {
        let email = format!("{who}@example.org");
        store.subscriber(&email).unwrap().unwrap().id
    };
    let (ann, bob, cid) = (id("ann"), id("bob"), id("cid"));
    let updates = [
        Update::Sending { subscriber_id: ann },
        Update::Sent { subscriber_id: ann },
        Update::Sending { subscriber_id: bob },
        Update::Sending { subscriber_id: cid },
        Update::Sent { subscriber_id: cid },
    ];
    store
        .batch(|b| Ok(sends::apply(b, V1N2, &updates)?))
        .unwrap();
    drop(store);

    let out = folder.ok(&["send", "v1n2", "--yes"]);
    assert!(
        stderr(&out).contains(
            "1 message was in flight when the last run stopped and may have been delivered twice: it is sent again"
        ),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("in doubt         1  may have the issue twice"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("               bob@example.org\n"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("skipped          2"),
        "{}",
        text(&out)
    );
    assert_eq!(server.accepted("bob@example.org"), 1);
    assert_eq!(server.accepted("ann@example.org"), 0);
    assert_eq!(server.accepted("cid@example.org"), 0);
    assert_eq!(folder.counts().sent, 3);
    assert!(
        folder
            .store()
            .send_record(V1N2)
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );
}

#[test]
fn implicit_tls_trusts_the_ca_file_and_refuses_without_it() {
    let stack = mailstack();
    let key = stack.ca_file.with_file_name("key.pem");
    let server = FakeSmtp::start(Rules {
        tls: Some((stack.ca_file.clone(), key)),
        ..Rules::default()
    });
    let config = |extra: &str| {
        format!(
            "  host: localhost\n  port: {}\n  security: tls\n{extra}",
            server.port
        )
    };
    let trusting = Folder::new(&config(&trusted(&stack)));
    trusting.subscribe(&addresses(&["ann"]));
    trusting.ok(&["send", "v1n2", "--yes"]);
    assert_eq!(server.accepted("ann@example.org"), 1);

    let wary = Folder::new(&config(""));
    wary.subscribe(&addresses(&["bob"]));
    let out = wary.fails(&["send", "v1n2", "--yes"]);
    let expected = format!(
        "TLS handshake with localhost:{} failed: certificate not trusted — set smtp.ca_file",
        server.port
    );
    assert!(stderr(&out).contains(&expected), "{}", text(&out));
    assert!(!wary.send_recorded());
    assert_eq!(server.accepted("bob@example.org"), 0);
}

/// Addresses whose delivery is recorded as in doubt (a possible double).
fn in_doubt(folder: &Folder) -> Vec<String> {
    let mut doubtful: Vec<String> = folder
        .store()
        .deliveries(V1N2)
        .unwrap()
        .into_iter()
        .filter(|d| d.in_doubt)
        .map(|d| d.email)
        .collect();
    doubtful.sort();
    doubtful
}

/// `smtp.timeout: 1`: commands wait 1 s, the end of a message 10 s.
const QUICK: &str = "  timeout: 1\n";

fn emails(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{n}@example.org")).collect()
}

#[test]
fn answers_to_rcpt_that_come_after_the_timeout_are_not_read_as_the_next_recipients() {
    let server = FakeSmtp::start(Rules {
        slow_rcpt: HashMap::from([
            ("ann@example.org".to_string(), 550),
            ("bob@example.org".to_string(), 250),
        ]),
        delay: Duration::from_millis(1500),
        ..Rules::default()
    });
    let folder =
        Folder::new(&plain(server.port, QUICK).replace("connections: 2", "connections: 1"));
    folder.subscribe(&addresses(&["ann", "bob", "cid"]));

    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let deliveries = folder.deliveries();
    let (state, attempts, error, _) = &deliveries["ann@example.org"];
    assert_eq!((state.as_str(), *attempts), ("failed", 2), "{}", text(&out));
    assert!(error.as_deref().unwrap().contains("550"), "{error:?}");
    for (who, tries) in [("bob@example.org", 2), ("cid@example.org", 1)] {
        let (state, attempts, _, _) = &deliveries[who];
        assert_eq!(
            (state.as_str(), *attempts),
            ("sent", tries),
            "{who}: {}",
            text(&out)
        );
        assert_eq!(server.accepted(who), 1, "{who}");
    }
    assert_eq!(server.accepted("ann@example.org"), 0);
    assert!(
        in_doubt(&folder).is_empty(),
        "nothing was handed over unanswered"
    );
    // Each timed-out connection was dropped without QUIT and a new one opened; the last one
    // stayed usable after the prompt 550 (RSET) and said goodbye at the end.
    let seen = server.seen.lock().unwrap();
    assert_eq!((seen.connections, seen.quits), (3, 1));
}

#[test]
fn late_answers_to_the_end_of_a_message_leave_it_in_doubt_and_each_recipient_with_their_own() {
    let server = FakeSmtp::start(Rules {
        slow_end: HashMap::from([
            ("ann@example.org".to_string(), Some(250)),
            ("bob@example.org".to_string(), Some(550)),
        ]),
        delay: Duration::from_millis(10_500),
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, QUICK));
    folder.subscribe(&addresses(&["ann", "bob", "cid", "dan"]));

    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let deliveries = folder.deliveries();
    let state = |who: &str| {
        let (state, attempts, _, _) = &deliveries[&format!("{who}@example.org")];
        (state.clone(), *attempts)
    };
    assert_eq!(state("ann"), ("sent".into(), 2), "{}", text(&out));
    assert_eq!(state("bob"), ("failed".into(), 2), "{}", text(&out));
    assert_eq!(state("cid"), ("sent".into(), 1), "{}", text(&out));
    assert_eq!(state("dan"), ("sent".into(), 1), "{}", text(&out));
    // Ann's first copy was taken after we stopped waiting: the one double, and it is reported.
    assert_eq!(server.accepted("ann@example.org"), 2);
    assert_eq!(server.accepted("bob@example.org"), 0);
    assert_eq!(server.accepted("cid@example.org"), 1);
    assert_eq!(server.accepted("dan@example.org"), 1);
    assert_eq!(in_doubt(&folder), emails(&["ann", "bob"]));
    let summary = stdout(&out);
    assert!(
        summary.contains("in doubt         2  may have the issue twice"),
        "{}",
        text(&out)
    );
    assert!(
        summary.contains("               ann@example.org\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_message_whose_end_got_no_answer_once_is_sent_again_and_counted_in_doubt() {
    let server = FakeSmtp::start(Rules {
        slow_end: HashMap::from([("ann@example.org".to_string(), None)]),
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, QUICK));
    folder.subscribe(&addresses(&["ann", "bob", "cid"]));

    let out = folder.ok(&["send", "v1n2", "--yes"]);
    let deliveries = folder.deliveries();
    assert_eq!(deliveries["ann@example.org"].0, "sent");
    assert_eq!(deliveries["ann@example.org"].1, 2);
    for who in emails(&["ann", "bob", "cid"]) {
        assert_eq!(server.accepted(&who), 1, "{who}");
    }
    assert_eq!(in_doubt(&folder), emails(&["ann"]));
    assert!(
        stdout(&out).contains("in doubt         1"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_server_that_never_answers_the_end_of_a_message_stops_the_send_in_bounded_time() {
    let server = FakeSmtp::start(Rules {
        never_answer_end: true,
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, QUICK));
    let names = ["ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal"];
    folder.subscribe(&addresses(&names));

    let started = std::time::Instant::now();
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let took = started.elapsed();
    // Two rounds of 10 s waits on two connections, then the stop: far less than a retry of
    // everybody (5 attempts × 8 people × 10 s).
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        stderr(&out).contains("took 3 messages in a row without answering their end within 10 s"),
        "{}",
        text(&out)
    );
    let counts = folder.counts();
    assert_eq!(
        (counts.sent, counts.sending, counts.failed),
        (0, 0, 0),
        "{counts:?}"
    );
    let data = server.seen.lock().unwrap().data.clone();
    let handed_over: Vec<String> = {
        let mut v: Vec<String> = data.keys().cloned().collect();
        v.sort();
        v
    };
    assert!(!handed_over.is_empty());
    assert_eq!(
        in_doubt(&folder),
        handed_over,
        "every message handed over is in doubt"
    );
    assert!(
        data.values().all(|n| *n <= 2),
        "no message was retried more than once: {data:?}"
    );
    assert!(stdout(&out).contains("in doubt "), "{}", text(&out));
}

#[test]
fn subscriber_changes_during_a_send_never_find_the_database_locked() {
    let stack = mailstack();
    let folder = Folder::new(
        &starttls(&stack, &trusted(&stack))
            .replace("  connections: 4\n", "  connections: 4\n  rate: 40\n"),
    );
    folder.subscribe(&people("send-busy", 600));

    let mut send = folder.send_under_way();

    // 4 editors at once, each adding 25 people and unsubscribing them again: 200 changes.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let folder = &folder;
                scope.spawn(move || {
                    let mut failed = Vec::new();
                    for i in 0..25 {
                        let email = format!("busy{w}-{i}@example.org");
                        for args in [
                            ["subscribers", "add", email.as_str()],
                            ["subscribers", "unsubscribe", email.as_str()],
                        ] {
                            let out = folder.run(&args);
                            if !out.status.success() {
                                failed.push(text(&out));
                            }
                        }
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        send.try_wait().unwrap().is_none(),
        "the send finished before the changes did: the test proves nothing"
    );
    let status = send.wait().unwrap();
    assert!(status.success(), "the send failed");
    assert_eq!(
        failures.len(),
        0,
        "{} of 200 changes failed: {}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(folder.counts().sent, 600);
    assert_eq!(
        folder.store().subscriber_counts().unwrap().unsubscribed,
        100
    );
}

#[test]
fn sigterm_stops_a_send_after_the_messages_in_flight() {
    let stack = mailstack();
    let folder = Folder::new(
        &starttls(&stack, &trusted(&stack))
            .replace("  connections: 4\n", "  connections: 4\n  rate: 20\n"),
    );
    folder.subscribe(&people("send-term", 200));
    let send = folder.send_under_way();
    signal(&send, "TERM");
    let out = send.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
    assert!(
        stderr(&out).contains("stopping (SIGTERM): finishing the messages in flight"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("interrupted; run `dispatch send v1n2` again to resume"),
        "{}",
        text(&out)
    );
    let counts = folder.counts();
    assert_eq!(counts.sending, 0, "{counts:?}");
    assert!(counts.sent > 0 && counts.sent < 200, "{counts:?}");

    // Nothing was in flight: the rest goes out and nobody is in doubt.
    let out = folder.ok(&["send", "v1n2", "--yes"]);
    assert!(!stderr(&out).contains("in flight"), "{}", text(&out));
    assert_eq!(folder.counts().sent, 200);
    assert!(in_doubt(&folder).is_empty());
}

#[test]
fn ctrl_c_stops_a_send_after_the_messages_in_flight_and_exits_130() {
    let stack = mailstack();
    let folder = Folder::new(
        &starttls(&stack, &trusted(&stack))
            .replace("  connections: 4\n", "  connections: 4\n  rate: 20\n"),
    );
    folder.subscribe(&people("send-int", 200));
    let send = folder.send_under_way();
    signal(&send, "INT");
    let out = send.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        stderr(&out).contains("interrupted: finishing the messages in flight"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("error: interrupted; run `dispatch send v1n2` again to resume"),
        "{}",
        text(&out)
    );
    let counts = folder.counts();
    assert_eq!(counts.sending, 0, "{counts:?}");
    assert!(counts.sent > 0 && counts.sent < 200, "{counts:?}");
}

#[test]
fn a_second_sigterm_quits_at_once_with_143_leaving_the_message_in_flight() {
    use std::io::BufRead as _;
    let server = FakeSmtp::start(Rules {
        never_answer_end: true,
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, ""));
    folder.subscribe(&addresses(&["ann"]));
    let mut send = spawn(&mut folder.command(&["send", "v1n2", "--yes"]));
    if server
        .data_begun
        .recv_timeout(Duration::from_secs(60))
        .is_err()
    {
        assert!(send.try_wait().unwrap().is_none(), "the send ended early");
        panic!("the send did not begin a message within 60 s");
    }
    signal(&send, "TERM");
    let mut lines = std::io::BufReader::new(send.stderr.take().unwrap()).lines();
    let notice = lines
        .find(|l| {
            l.as_ref()
                .is_ok_and(|l| l.contains("finishing the messages in flight"))
        })
        .expect("the first SIGTERM is acknowledged");
    assert_eq!(
        notice.unwrap(),
        "stopping (SIGTERM): finishing the messages in flight (press Ctrl-C again to quit now)"
    );
    signal(&send, "TERM");
    let out = send.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(
        lines.map_while(Result::ok).count(),
        0,
        "nothing more is said"
    );
    assert_eq!(stdout(&out), "", "no summary");
    assert_eq!(folder.counts().sending, 1, "the message is left in flight");
}

#[test]
fn non_ascii_domains_go_out_in_ascii_and_non_ascii_local_parts_need_smtputf8() {
    let server = FakeSmtp::start(Rules::default());
    let folder = Folder::new(&plain(server.port, ""));
    let out = folder.ok(&["subscribers", "add", "jürgen@example.org"]);
    assert!(
        stderr(&out).contains("note: jürgen@example.org has non-ASCII characters before the @: such an address needs SMTPUTF8"),
        "{}",
        text(&out)
    );
    let out = folder.ok(&["subscribers", "add", "ana@bücher.example"]);
    assert!(!stderr(&out).contains("SMTPUTF8"), "{}", text(&out));
    let csv = folder.path().join("more.csv");
    std::fs::write(
        &csv,
        "email\nzoë@example.org\nbo@example.org\nçé@example.org\n",
    )
    .unwrap();
    let out = folder.ok(&["subscribers", "import", csv.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("note: 2 addresses (zoë@example.org, çé@example.org) have non-ASCII characters before the @"),
        "{}",
        text(&out)
    );

    // The fake server offers no SMTPUTF8.
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let deliveries = folder.deliveries();
    assert_eq!(deliveries["ana@bücher.example"].0, "sent", "{}", text(&out));
    assert_eq!(server.accepted("ana@xn--bcher-kva.example"), 1);
    assert_eq!(
        server.seen.lock().unwrap().to_header["ana@xn--bcher-kva.example"],
        "ana@xn--bcher-kva.example"
    );
    assert_eq!(server.accepted("bo@example.org"), 1);
    for who in ["jürgen@example.org", "zoë@example.org", "çé@example.org"] {
        let (state, attempts, error, _) = &deliveries[who];
        assert_eq!((state.as_str(), *attempts), ("failed", 1), "{who}");
        let error = error.as_deref().unwrap();
        assert_eq!(
            error,
            format!(
                "the address {who} has non-ASCII characters before the @, which needs a server that offers SMTPUTF8, and this one does not"
            )
        );
    }
    assert!(
        !text(&out).contains("internal client error"),
        "{}",
        text(&out)
    );
    assert_eq!(
        server.seen.lock().unwrap().rcpt.len(),
        2,
        "only the ASCII envelopes reached RCPT"
    );
}

#[test]
fn a_servers_greeting_is_shown_with_control_characters_escaped() {
    let server = FakeSmtp::start(Rules {
        greeting: Some("554 5.3.2 go away\u{1b}[2J\u{7}\u{1b}]0;pwned\u{7} now".into()),
        ..Rules::default()
    });
    let folder = Folder::new(&plain(server.port, ""));
    folder.subscribe(&addresses(&["ann"]));
    let out = folder.fails(&["send", "v1n2", "--yes"]);
    let said = stderr(&out);
    assert!(
        said.contains(r"go away\u{1b}[2J\u{7}\u{1b}]0;pwned\u{7} now"),
        "{}",
        text(&out)
    );
    assert!(
        !said.contains('\u{1b}') && !said.contains('\u{7}'),
        "{said:?}"
    );
    assert!(!folder.send_recorded());
}
