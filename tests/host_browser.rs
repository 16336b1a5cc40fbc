//! A reader's whole way in and out, against the real servers: headless Chromium (driven over
//! the DevTools protocol, tests/common/browser.rs) opens an issue page served by `dispatch
//! host` and submits the signup form; the confirmation mail goes through Postfix into Dovecot
//! and is read over IMAP; a plain GET of its link changes nothing; Chromium opens the link and
//! presses the button; the reader is `active` and the welcome mail arrives; `dispatch send`
//! mails the next issue, and the one-click unsubscribe of that mail (a POST to its
//! List-Unsubscribe URL) reaches the same host and unsubscribes the reader.
//!
//! Run through `scripts/test --test host_browser`, which starts the mail servers.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::browser::Browser;
use common::cli::{command, init, ok, stdout};
use common::http::free_port;
use common::mailstack::{MailStack, mailstack, unique_user};
use common::output::Output;
use serde_json::Value;

/// How long a mail may take through Postfix and Dovecot.
const MAIL_WAIT: Duration = Duration::from_secs(60);

const ISSUE_2: &str = "---\nvolume: 1\nnumber: 2\ntitle: After you signed up\ndate: 2030-02-03\n---\nHello new reader,\n\nThe first issue you get by mail.\n";

/// `dispatch host` on a newsletter folder, with what it printed so far.
struct Host {
    child: Child,
    base: String,
    output: Output,
}

impl Host {
    fn start(dir: &Path, port: u16) -> Host {
        let listen = format!("127.0.0.1:{port}");
        let mut child = command(Some(dir), &["host", "--listen", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dispatch host starts");
        let output = Output::default();
        output.collect(child.stdout.take().expect("piped stdout"));
        output.collect(child.stderr.take().expect("piped stderr"));
        let host = Host {
            child,
            base: format!("http://{listen}/"),
            output,
        };
        host.wait_for_output(&listen);
        host
    }

    fn output(&self) -> String {
        self.output.text()
    }

    /// Waits until the host printed `text` (at most 30 s).
    fn wait_for_output(&self, text: &str) {
        self.output.wait_for(text, 1, Duration::from_secs(30));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to a full URL; returns the status and the body.
fn http(url: &str, method: &str, form: Option<&str>) -> (u16, String) {
    let answer = common::http::request_url(url, method, form.unwrap_or(""));
    (answer.status, answer.body)
}

fn imap_messages(stack: &MailStack, user: &str) -> Vec<Vec<u8>> {
    stack.imap_messages(user)
}

/// Waits until `user` has `n` messages, then returns the `n`-th (1-based) as read over IMAP.
fn nth_message(stack: &MailStack, user: &str, n: usize) -> mail_parser::Message<'static> {
    stack.wait_for_messages(user, n, MAIL_WAIT);
    let messages = imap_messages(stack, user);
    assert!(
        messages.len() >= n,
        "IMAP shows {} messages, the Maildir {n}",
        messages.len()
    );
    mail_parser::MessageParser::default()
        .parse(messages[n - 1].as_slice())
        .expect("a message")
        .into_owned()
}

/// The first link in a message's plain text that starts with `prefix`.
fn link(message: &mail_parser::Message<'_>, prefix: &str) -> String {
    let text = message.body_text(0).expect("a plain-text part");
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link starting {prefix} in:\n{text}"));
    text[at..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == ')')
        .next()
        .unwrap()
        .to_string()
}

/// The reader's row of `dispatch subscribers list --json`.
fn subscriber(dir: &Path, email: &str) -> Value {
    let out = stdout(&ok(dir, &["subscribers", "list", "--json"]));
    let list: Value = serde_json::from_str(&out).expect("a JSON array");
    list.as_array()
        .expect("an array")
        .iter()
        .find(|s| s["email"] == email)
        .cloned()
        .unwrap_or_else(|| panic!("{email} is not in the list: {list}"))
}

#[test]
fn a_reader_signs_up_in_chromium_confirms_gets_an_issue_and_leaves_with_one_click() {
    let stack = mailstack();
    let reader = unique_user("host-browser");
    let port = free_port();
    let (_tmp, dir) = init();
    let config = format!(
        "newsletter:\n  title: The Browser Dispatch\n  url: https://news.example.test/\n  from: \"Tess Editor <editor@example.test>\"\n  reply_to: replies@example.test\nsmtp:\n  host: localhost\n  port: {}\n  security: starttls\n  ca_file: {}\nhost:\n  url: http://127.0.0.1:{port}/\n  listen: 127.0.0.1:{port}\n",
        stack.smtp_port,
        stack.ca_file.display()
    );
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    ok(&dir, &["build"]);
    let host = Host::start(&dir, port);
    let base = host.base.clone();

    // The reader fills in the form on an issue page and presses Subscribe.
    let mut browser = Browser::launch();
    browser.open(&format!("{base}v1n1/"));
    assert_eq!(
        browser.eval("document.querySelectorAll('form.signup').length"),
        1,
        "the page carries one signup form"
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.querySelector('.signup-trap')).position"),
        "absolute",
        "the honeypot is out of sight"
    );
    browser.type_into("#signup-email", &reader);
    browser.type_into("#signup-name", "Ada Reader");
    browser.click_and_wait(".signup button[type=submit]");
    assert_eq!(browser.url(), format!("{base}subscribe"));
    let answer = browser.text().to_lowercase();
    assert!(
        answer.contains("inbox"),
        "the answer says to check the inbox: {answer}"
    );
    assert_eq!(subscriber(&dir, &reader)["status"], "pending");

    // The confirmation arrives; a plain GET of its link (a link scanner) changes nothing.
    let confirmation = nth_message(&stack, &reader, 1);
    let confirm_url = link(&confirmation, &format!("{base}confirm/"));
    let (status, page) = http(&confirm_url, "GET", None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<form"),
        "the confirmation page has a button: {page}"
    );
    assert_eq!(subscriber(&dir, &reader)["status"], "pending");

    // In the browser, the reader opens the link and presses the one button.
    browser.open(&confirm_url);
    browser.click_and_wait("form button");
    let done = subscriber(&dir, &reader);
    assert_eq!(done["status"], "active", "{done}");
    assert_eq!(done["source"], "form", "{done}");
    assert!(done["confirmed_at"].is_string(), "{done}");
    assert!(done["consent_at"].is_string(), "{done}");

    // The welcome arrives, once.
    let welcome = nth_message(&stack, &reader, 2);
    assert_ne!(welcome.subject(), confirmation.subject());

    // The next issue goes out through the same Postfix; its one-click unsubscribe (RFC 8058: a
    // POST of `List-Unsubscribe=One-Click`) goes to this host.
    std::fs::write(dir.join("issues/v1n2-after.md"), ISSUE_2).unwrap();
    ok(&dir, &["send", "v1n2", "--yes"]);
    let issue = nth_message(&stack, &reader, 3);
    assert!(
        issue
            .subject()
            .unwrap_or("")
            .contains("After you signed up"),
        "{:?}",
        issue.subject()
    );
    let header = issue
        .header_raw("List-Unsubscribe")
        .expect("a List-Unsubscribe header")
        .replace(['\r', '\n'], "");
    let one_click = header
        .split(['<', '>'])
        .find(|part| part.starts_with(&format!("{base}unsubscribe/")))
        .unwrap_or_else(|| panic!("no link to {base}unsubscribe/ in List-Unsubscribe: {header}"))
        .to_string();
    let (status, body) = http(&one_click, "POST", Some("List-Unsubscribe=One-Click"));
    assert!((200..300).contains(&status), "{status}: {body}");
    assert_eq!(subscriber(&dir, &reader)["status"], "unsubscribed");

    // The host's log names neither the reader nor a token.
    let log = host.output();
    assert!(!log.contains(&reader), "the log names the reader:\n{log}");
    for url in [&confirm_url, &one_click] {
        let token = url.rsplit('/').find(|part| !part.is_empty()).unwrap();
        assert!(!log.contains(token), "the log shows a token:\n{log}");
    }
}
