//! End-to-end tests of `dispatch host` against the real mail stack (Postfix delivering into
//! Dovecot, see tests/common/mailstack.rs): a signup's confirmation is delivered and read over
//! IMAP, a GET of its link changes nothing, the POST confirms and the welcome arrives; refused
//! signups send nothing; a kill -9 right after a signup loses no mail; a 4xx from an SMTP proxy
//! in front of Postfix (fault injection) is retried; the archive's headers, ETag and 404 page.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cli::{command, signal};
use common::host::{
    HOST_URL, Host, ISSUE, SECURITY_HEADERS, folder, form, set_config, set_smtp, silent_smtp,
};
use common::mailstack::{MailStack, mailstack, unique_user};
use dispatch::store::Store;
use dispatch::store::subscribers::{Source, Status};

/// One HTTP/1.1 request; returns the status, the head and the body.
fn http(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> (u16, String, String) {
    let answer = common::http::request(addr, method, path, extra, body);
    (answer.status, answer.head, answer.body)
}

fn subscribe(addr: &str, form: &str) -> (u16, String) {
    let (status, _, body) = http(addr, "POST", "/subscribe", "", form);
    (status, body)
}

fn imap_messages(stack: &MailStack, user: &str) -> Vec<Vec<u8>> {
    stack.imap_messages(user)
}

fn text_of(message: &[u8]) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(message)
        .unwrap();
    parsed.body_text(0).unwrap().into_owned()
}

fn header(message: &[u8], name: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(message)
        .unwrap();
    parsed
        .header_raw(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

/// The path of the first link under `HOST_URL` with `prefix` in `text`.
fn link_path(text: &str, prefix: &str) -> String {
    let start = text
        .find(&format!("{HOST_URL}{prefix}"))
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    let link = text[start..]
        .split(|c: char| c.is_whitespace() || c == '>')
        .next()
        .unwrap();
    format!("/{}", &link[HOST_URL.len()..])
}

fn subscriber(dir: &Path, email: &str) -> dispatch::store::subscribers::Subscriber {
    Store::open(&dir.join("subscribers.db"))
        .unwrap()
        .subscriber(email)
        .unwrap()
        .unwrap_or_else(|| panic!("{email} is not stored"))
}

#[test]
fn a_reader_signs_up_confirms_is_welcomed_and_leaves_with_one_click() {
    let stack = mailstack();
    let dir = folder(stack.smtp_port);
    let host = Host::start(dir.path());
    let reader = unique_user("signup");

    let (status, page) = subscribe(&host.addr, &form(&reader, "Rea Der", ""));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Check your inbox"), "{page}");
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Pending);
    let list = command(Some(dir.path()), &["subscribers", "list", "--json"])
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains(&format!(
            "\"email\":\"{reader}\",\"name\":\"Rea Der\",\"status\":\"pending\""
        )) && list.contains("\"source\":\"form\"")
            && list.contains("\"confirmed_at\":null"),
        "{list}"
    );

    stack.wait_for_messages(&reader, 1, Duration::from_secs(60));
    let messages = imap_messages(&stack, &reader);
    assert_eq!(messages.len(), 1);
    let confirmation = &messages[0];
    assert!(header(confirmation, "Subject").contains("Confirm your subscription"));
    assert_eq!(header(confirmation, "Reply-To"), "replies@example.test");
    assert_eq!(
        header(confirmation, "To"),
        reader,
        "a confirmation does not carry the name typed beside the address"
    );
    assert!(header(confirmation, "List-Id").contains("the-test-dispatch.example.test"));
    let confirm = link_path(&text_of(confirmation), "confirm/");

    // A link scanner's GET changes nothing.
    let (status, _, page) = http(&host.addr, "GET", &confirm, "", "");
    assert_eq!(status, 200);
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Pending);
    // The unsubscribe token of the same reader does not confirm.
    let unsubscribe = link_path(&header(confirmation, "List-Unsubscribe"), "unsubscribe/");
    let forged = confirm.replace(
        confirm.rsplit('/').next().unwrap(),
        unsubscribe.rsplit('/').next().unwrap(),
    );
    assert_eq!(http(&host.addr, "POST", &forged, "", "").0, 404);
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Pending);

    let (status, _, page) = http(&host.addr, "POST", &confirm, "", "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are subscribed"), "{page}");
    let s = subscriber(dir.path(), &reader);
    assert_eq!(s.status, Status::Active);
    assert_eq!(s.source, Some(Source::Form));
    assert_eq!(s.name.as_deref(), Some("Rea Der"));
    assert!(s.consent_at.is_some() && s.confirmed_at.is_some(), "{s:?}");
    // Confirming twice sends no second welcome.
    assert_eq!(http(&host.addr, "POST", &confirm, "", "").0, 200);

    stack.wait_for_messages(&reader, 2, Duration::from_secs(60));
    let messages = imap_messages(&stack, &reader);
    let welcome = &messages[1];
    assert!(header(welcome, "Subject").contains("Welcome to The Test Dispatch"));
    let text = text_of(welcome);
    assert!(text.contains("https://news.example.test/v1n1/"), "{text}");
    assert!(header(welcome, "List-Unsubscribe").contains(&format!("{HOST_URL}unsubscribe/")));

    // The one-click link of the welcome reaches the same host.
    let leave = link_path(&text, "unsubscribe/");
    let (status, _, _) = http(&host.addr, "POST", &leave, "", "List-Unsubscribe=One-Click");
    assert_eq!(status, 200);
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Unsubscribed);

    // Signing up again needs a new confirmation.
    subscribe(&host.addr, &form(&reader, "", ""));
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Pending);
    stack.wait_for_messages(&reader, 3, Duration::from_secs(60));
    stack.wait_for_postfix_queue(Duration::from_secs(60));
    assert_eq!(
        imap_messages(&stack, &reader).len(),
        3,
        "one welcome, however often confirmed"
    );

    // The access log names neither the reader nor a token.
    let log = host.wait_for("POST /subscribe 200", 2);
    assert!(log.contains("GET /confirm/… 200"), "{log}");
    assert!(!log.contains(confirm.rsplit('/').next().unwrap()), "{log}");
    assert!(!log.contains("example.test"), "{log}");
    assert!(!log.contains("127.0.0.1"), "{log}");
}

#[test]
fn honeypots_bad_addresses_and_a_fourth_request_in_a_day_send_nothing() {
    let stack = mailstack();
    let dir = folder(stack.smtp_port);
    let host = Host::start(dir.path());
    let bot = unique_user("bot");
    let (status, page) = subscribe(&host.addr, &form(&bot, "", "http://spam.example"));
    assert_eq!(status, 200, "a bot learns nothing: {page}");
    let (status, page) = subscribe(&host.addr, "email=not-an-address&website=");
    assert_eq!(status, 400);
    assert!(page.contains("not an email address"), "{page}");
    let long = unique_user("long");
    let (status, page) = subscribe(&host.addr, &form(&long, &"n".repeat(101), ""));
    assert_eq!(status, 400, "a name past the form's 100 characters: {page}");
    assert!(page.contains("at most 100 characters"), "{page}");

    let eager = unique_user("eager");
    for _ in 0..4 {
        let (status, page) = subscribe(&host.addr, &form(&eager, "", ""));
        assert_eq!(status, 200, "the same answer every time: {page}");
        assert!(page.contains("Check your inbox"));
    }
    host.wait_for(" sent\n", 3);
    stack.wait_for_messages(&eager, 3, Duration::from_secs(60));
    stack.wait_for_postfix_queue(Duration::from_secs(60));
    let confirmations = imap_messages(&stack, &eager);
    assert_eq!(confirmations.len(), 3, "at most 3 a day");
    assert!(imap_messages(&stack, &bot).is_empty());
    // Somebody else's signups: the confirmation's one-click unsubscribe withdraws them.
    let unsubscribe = link_path(
        &header(&confirmations[0], "List-Unsubscribe"),
        "unsubscribe/",
    );
    let (status, _, _) = http(
        &host.addr,
        "POST",
        &unsubscribe,
        "",
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200);
    assert_eq!(subscriber(dir.path(), &eager).status, Status::Unsubscribed);
    let db = Store::open(&dir.path().join("subscribers.db")).unwrap();
    assert!(db.subscriber(&bot).unwrap().is_none());
    assert!(db.subscriber(&long).unwrap().is_none());
    assert!(db.subscriber("not-an-address").unwrap().is_none());
    assert!(db.due_mails(10).unwrap().is_empty(), "nothing left to send");

    // GET of /subscribe does nothing.
    let (status, _, _) = http(
        &host.addr,
        "GET",
        "/subscribe?email=x%40example.test",
        "",
        "",
    );
    assert_eq!(status, 405);
    assert!(db.subscriber("x@example.test").unwrap().is_none());
}

#[test]
fn a_signup_survives_kill_9_right_after_the_post() {
    let stack = mailstack();
    // First the mail cannot leave: the SMTP server never answers.
    let (_silent, silent_port) = silent_smtp();
    let dir = folder(silent_port);
    let reader = unique_user("crash");
    {
        let mut host = Host::start(dir.path());
        let (status, _) = subscribe(&host.addr, &form(&reader, "", ""));
        assert_eq!(status, 200);
        signal(&host.child, "KILL");
        host.child.wait().unwrap();
    }
    assert_eq!(subscriber(dir.path(), &reader).status, Status::Pending);
    set_smtp(dir.path(), stack.smtp_port);
    let _host = Host::start(dir.path());
    stack.wait_for_messages(&reader, 1, Duration::from_secs(60));
    let messages = imap_messages(&stack, &reader);
    assert!(text_of(&messages[0]).contains(&format!("{HOST_URL}confirm/")));
}

/// A proxy in front of Postfix that answers the first `faults` RCPT commands itself with a
/// 451 naming the recipient, as a greylisting server would; counts the RCPTs it saw.
fn faulty_smtp_proxy(postfix: u16, faults: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rcpts = Arc::new(AtomicUsize::new(0));
    let seen = rcpts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let server = TcpStream::connect(("127.0.0.1", postfix)).unwrap();
            let mut to_client = client.try_clone().unwrap();
            let mut from_server = server.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
            });
            let seen = seen.clone();
            let mut reply = client.try_clone().unwrap();
            let mut to_server = server;
            std::thread::spawn(move || {
                let mut lines = BufReader::new(client);
                let mut line = String::new();
                let mut in_data = false;
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    let upper = line.to_ascii_uppercase();
                    if !in_data && upper.starts_with("RCPT") {
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        if n < faults {
                            let to = line.trim_end().rsplit(':').next().unwrap_or("");
                            let answer = format!(
                                "451 4.7.1 {to}: Recipient address rejected: Greylisted\r\n"
                            );
                            reply.write_all(answer.as_bytes()).unwrap();
                            line.clear();
                            continue;
                        }
                    }
                    if !in_data && upper.starts_with("DATA") {
                        in_data = true;
                    } else if in_data && line == ".\r\n" {
                        in_data = false;
                    }
                    if to_server.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    (port, rcpts)
}

/// `dispatch host` on `dir` inside this test process, on a port of its choosing, with
/// `options` and its notices going to `reporter`; returns the address once it listens.
fn host_in_process(
    dir: &Path,
    options: dispatch::host::Options,
    reporter: Arc<dyn dispatch::report::Reporter>,
) -> std::net::SocketAddr {
    let (ready, bound) = tokio::sync::oneshot::channel();
    let path = dir.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let result = runtime.block_on(dispatch::host::host(
            &path,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            options,
            Some(ready),
            reporter,
            Box::new(std::io::sink()),
        ));
        panic!("the host stopped: {result:?}");
    });
    bound.blocking_recv().unwrap()
}

/// Passes the host's notices and errors on, one message each.
struct Notices(Mutex<std::sync::mpsc::Sender<String>>);

impl dispatch::report::Reporter for Notices {
    fn progress(&self, _: &dispatch::report::Progress) {}
    fn progress_done(&self) {}
    fn error(&self, message: &str) {
        let _ = self.0.lock().unwrap().send(format!("error: {message}"));
    }
    fn notice(&self, message: &str) {
        let _ = self.0.lock().unwrap().send(message.to_string());
    }
}

#[test]
fn a_4xx_from_the_smtp_server_is_retried() {
    let stack = mailstack();
    let (proxy, rcpts) = faulty_smtp_proxy(stack.smtp_port, 1);
    let dir = folder(proxy);
    let (notices, heard) = std::sync::mpsc::channel();
    let options = dispatch::host::Options {
        retry_delays: vec![Duration::from_secs(1)],
        ..Default::default()
    };
    let addr =
        host_in_process(dir.path(), options, Arc::new(Notices(Mutex::new(notices)))).to_string();
    let reader = unique_user("greylisted");
    assert_eq!(subscribe(&addr, &form(&reader, "", "")).0, 200);
    let deferred = heard.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        deferred.contains("deferred")
            && deferred.contains("451")
            && deferred.contains("4.7.1 <[address]>: Recipient"),
        "{deferred}"
    );
    assert!(
        !deferred.contains(&reader),
        "the log names no reader: {deferred}"
    );
    let sent = heard.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(sent, "confirm mail 1 sent");
    stack.wait_for_messages(&reader, 1, Duration::from_secs(60));
    assert_eq!(rcpts.load(Ordering::SeqCst), 2, "refused once, then taken");
    let db = Store::open(&dir.path().join("subscribers.db")).unwrap();
    assert!(db.due_mails(10).unwrap().is_empty());
    assert_eq!(db.next_mail_due().unwrap(), None, "marked sent");
    drop(db);
    let out = command(Some(dir.path()), &["subscribers", "show", &reader])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("confirm mail     sent 20")),
        "{shown}"
    );
}

#[test]
fn the_archive_is_served_with_headers_etags_and_a_404_page_and_stops_on_sigterm() {
    let (_silent, port) = silent_smtp();
    let dir = folder(port);
    std::fs::write(dir.path().join("build/web/.secret"), "not for readers").unwrap();
    let mut host = Host::start(dir.path());
    let (status, head, body) = http(&host.addr, "GET", "/v1n1/", "", "");
    assert_eq!(status, 200);
    assert!(body.contains("First light"));
    let page = body.clone();
    for expected in ["content-type: text/html; charset=utf-8", "last-modified: "]
        .into_iter()
        .chain(SECURITY_HEADERS)
    {
        assert!(head.contains(expected), "{expected} missing:\n{head}");
    }
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_string();
    let (status, _, body) = http(
        &host.addr,
        "GET",
        "/v1n1/",
        &format!("If-None-Match: {etag}\r\n"),
        "",
    );
    assert_eq!((status, body.as_str()), (304, ""));
    let (status, head_only, nothing) = http(&host.addr, "HEAD", "/v1n1/", "", "");
    assert_eq!((status, nothing.as_str()), (200, ""));
    assert!(
        head_only
            .lines()
            .any(|l| l == format!("content-length: {}", page.len())),
        "HEAD tells the length a GET gets ({}): {head_only}",
        page.len()
    );
    let (status, head_only, _) = http(
        &host.addr,
        "HEAD",
        "/v1n1/",
        &format!("If-None-Match: {etag}\r\n"),
        "",
    );
    assert_eq!(status, 304);
    assert!(
        head_only
            .lines()
            .any(|l| l == format!("content-length: {}", page.len())),
        "a 304 says the 200's length or none, never 0: {head_only}"
    );
    let (status, head, _) = http(&host.addr, "GET", "/style.css", "", "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/css"), "{head}");
    assert_eq!(http(&host.addr, "GET", "/v1n1", "", "").0, 301);

    assert_eq!(
        http(&host.addr, "GET", "/.secret", "", "").0,
        404,
        "hidden files stay hidden"
    );
    let (status, head, body) = http(&host.addr, "GET", "/no-such-page", "", "");
    assert_eq!(status, 404);
    assert!(head.contains("content-security-policy"), "{head}");
    assert!(
        body.contains("The Test Dispatch") && body.contains("style.css"),
        "{body}"
    );

    // A new build is served without a restart.
    std::fs::write(
        dir.path().join("issues/v1n1-first.md"),
        ISSUE.replace("First light", "First light, again"),
    )
    .unwrap();
    let out = command(Some(dir.path()), &["build"]).output().unwrap();
    assert!(out.status.success());
    // The build renames file after file: a reload may catch it half-way, the next one the rest.
    for reloads in 1.. {
        host.wait_for("archive reloaded", reloads);
        let (_, _, body) = http(&host.addr, "GET", "/v1n1/", "", "");
        if body.contains("First light, again") {
            break;
        }
        assert!(reloads < 5, "the new build is not served: {body}");
    }

    signal(&host.child, "TERM");
    let status = host.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", host.stderr.text());
}

#[test]
fn each_client_gets_so_many_signups_an_hour_and_cannot_forge_another_address() {
    let (_silent, port) = silent_smtp();
    let dir = folder(port);
    set_config(dir.path(), port, "  signups_per_hour: 2\n");
    let host = Host::start(dir.path());
    for (i, expected) in [200, 200, 429].into_iter().enumerate() {
        // Not behind a trusted proxy: the header is the client's own and changes nothing.
        let forged = format!("X-Forwarded-For: 192.0.2.{i}\r\n");
        let email = unique_user("limited");
        let (status, _, page) = http(
            &host.addr,
            "POST",
            "/subscribe",
            &forged,
            &form(&email, "", ""),
        );
        assert_eq!(status, expected, "signup {}: {page}", i + 1);
        if status == 429 {
            assert!(page.contains("Too many signups"), "{page}");
            let db = Store::open(&dir.path().join("subscribers.db")).unwrap();
            assert!(db.subscriber(&email).unwrap().is_none(), "nothing stored");
        }
    }
}

/// Started before the first build, the host says so, answers 404, and serves the archive once
/// `dispatch build` made it, without a restart.
#[test]
fn a_host_started_before_the_first_build_says_so_and_serves_it_once_built() {
    let dir = tempfile::tempdir().unwrap();
    set_smtp(dir.path(), 9);
    std::fs::create_dir(dir.path().join("issues")).unwrap();
    std::fs::write(dir.path().join("issues/v1n1-first.md"), ISSUE).unwrap();
    let host = Host::start(dir.path());
    host.wait_for("has no archive yet: run `dispatch build`", 1);
    assert_eq!(http(&host.addr, "GET", "/", "", "").0, 404);

    let out = command(Some(dir.path()), &["build"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for reloads in 1.. {
        host.wait_for("archive reloaded", reloads);
        let (status, _, body) = http(&host.addr, "GET", "/", "", "");
        if status == 200 {
            assert!(body.contains("The Test Dispatch"), "{body}");
            break;
        }
        assert!(reloads < 5, "the new archive is not served: {status}");
    }
}

/// A `host.url` with a path (`https://example.org/news/`): the routes and the archive answer
/// with the path, as a proxy passes it on, and without it, as a proxy that strips it does;
/// tokens under the path stay out of the log.
#[test]
fn a_host_url_with_a_path_is_served_with_and_without_it() {
    let (_silent, port) = silent_smtp();
    let dir = folder(port);
    let config = std::fs::read_to_string(dir.path().join("config.yaml")).unwrap();
    let config = config.replace(
        &format!("url: {}", common::host::HOST_URL),
        "url: http://127.0.0.1:9/news/",
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let host = Host::start(dir.path());
    for path in ["/news/v1n1/", "/v1n1/"] {
        let (status, _, body) = http(&host.addr, "GET", path, "", "");
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("First light"), "{path}");
    }
    let (status, _, _) = http(
        &host.addr,
        "POST",
        "/news/subscribe",
        "",
        &form("pat@example.org", "", ""),
    );
    assert_eq!(status, 200);
    let db = Store::open(&dir.path().join("subscribers.db")).unwrap();
    let pat = db.subscriber("pat@example.org").unwrap().unwrap();
    let token = dispatch::outgoing::token::confirm_token(&db.secret().unwrap(), pat.id);
    drop(db);
    let (status, _, page) = http(&host.addr, "GET", &format!("/news/confirm/{token}"), "", "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Confirm my subscription"), "{page}");
    let log = host.wait_for("GET /news/confirm/… 200", 1);
    assert!(!log.contains(&token), "{log}");
}

/// Connections that send a request head and then trickle its body hold no place a new
/// connection needs: at the cap, the oldest of them gives way, as an idle one would.
#[test]
fn slow_uploads_cannot_fill_every_connection() {
    let (_silent, port) = silent_smtp();
    let dir = folder(port);
    let options = dispatch::host::Options {
        limits: dispatch::serve::Limits {
            connections: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let addr = host_in_process(dir.path(), options, Arc::new(dispatch::report::Silent));
    // Four uploads under way: each sent its head and the start of its body, and the host is
    // reading the body (it said `100 Continue`).
    let mut uploads = Vec::new();
    for _ in 0..4 {
        let mut upload = TcpStream::connect(addr).unwrap();
        upload
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        upload
            .write_all(
                b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
            )
            .unwrap();
        let mut line = String::new();
        BufReader::new(upload.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("HTTP/1.1 100"), "{line:?}");
        upload.write_all(b"email=slow").unwrap();
        uploads.push(upload);
    }
    let (status, _, body) = http(&addr.to_string(), "GET", "/v1n1/", "", "");
    assert_eq!(status, 200);
    assert!(body.contains("First light"));
}
