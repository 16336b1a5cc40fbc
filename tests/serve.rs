//! End-to-end tests of `dispatch serve`: pages loaded in a real headless Chromium, rebuilds on
//! change, and the one-click unsubscribe endpoint spoken to over raw HTTP.
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`, or the path in `$CHROMIUM`);
//! without it these tests fail, naming the package to install.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::cli::{RunToEnd as _, command, config, newsletter, signal, spawn, write_issue};
use common::mailstack::{MailStack, PASSWORD, mailstack, unique_user};
use common::output::Output;
use dispatch::issue::IssueId;
use dispatch::store::Store;

/// What the server says on stderr after each build it serves.
const REBUILT: &str = "rebuilt";

const ISSUE_FILE: &str = "v1n2-previews.md";
const TITLE: &str = "Previews in a real browser";

fn issue(title: &str) -> String {
    format!(
        "---\nvolume: 1\nnumber: 2\ntitle: {title}\ndate: 2030-03-04\npreheader: Seen through Chromium.\nquestion: Which browser do you read this in?\n---\nHi reader,\n\nThis issue is served by `dispatch serve`.\n"
    )
}

/// A running `dispatch serve --port 0`, stopped when dropped.
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    addr: String,
    /// What it printed first on stdout: the address it serves on.
    start_line: String,
    /// What it wrote on stderr so far; the condition variable tells of each new line.
    stderr: Output,
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server::spawn(command(None, &[]), dir)
    }

    /// `dispatch serve` allowed at most `files` open files (`ulimit -n`).
    fn start_with_file_limit(dir: &Path, files: u32) -> Server {
        let shell = common::cli::command_under(&format!("ulimit -n {files}"), None, &[]);
        Server::spawn(shell, dir)
    }

    fn spawn(mut command: Command, dir: &Path) -> Server {
        let mut child = spawn(command.arg("--dir").arg(dir).args(["serve", "--port", "0"]));
        let stderr = Output::default();
        stderr.collect(child.stderr.take().expect("piped stderr"));
        let first_line = first_line(child.stdout.take().expect("piped stdout"));
        let addr = first_line
            .as_deref()
            .and_then(|l| l.split("http://").nth(1))
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string);
        let mut server = Server {
            child,
            addr: String::new(),
            start_line: first_line.clone().unwrap_or_default(),
            stderr,
        };
        match addr {
            Some(addr) => server.addr = addr,
            None => panic!(
                "dispatch serve printed no address: {first_line:?}\n--- stderr\n{}",
                server.stderr()
            ),
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until stderr shows `text` (at most 30 s) and returns it all.
    fn wait_for_stderr(&self, text: &str) -> String {
        self.stderr.wait_for(text, 1, Duration::from_secs(30))
    }

    /// How many rebuilds after a change the server has reported on stderr so far (the first
    /// build at start-up is not one).
    fn rebuilds(&self) -> usize {
        self.stderr().matches(REBUILT).count()
    }

    /// Waits for the server's report of each rebuild after the first `seen` until one shows
    /// `text` at `path` (another rebuild may come first), at most 30 s in all.
    fn wait_for_rebuild(&self, seen: usize, path: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = seen;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (all, _) = self
                .stderr
                .wait_until(left, |all| all.matches(REBUILT).count() > seen);
            let count = all.matches(REBUILT).count();
            assert!(
                count > seen,
                "{path} did not show {text:?} within 30 s\n--- stderr\n{}",
                self.stderr()
            );
            seen = count;
            if http(&self.addr, "GET", path, None).1.contains(text) {
                return;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the first line of the server's stdout, giving up after 60 s (a cold first build).
fn first_line(stdout: impl std::io::Read + Send + 'static) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the server never blocks on a full pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(Duration::from_secs(60)).ok()
}

/// One HTTP/1.1 request over a plain socket; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, form: Option<&str>) -> (u16, String) {
    let answer = common::http::request(addr, method, path, "", form.unwrap_or(""));
    (answer.status, answer.body)
}

/// What Chromium made of a page: its DOM after scripts ran, and the console messages our
/// server's pages logged.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// Loads `url` in a fresh headless Chromium and dumps the DOM.
///
/// `--enable-logging=stderr` makes Chromium print each console message as a
/// `…:CONSOLE…] "text", source: URL (line)` line, with no level (checked on Chromium 156), so
/// every message from our pages counts: they log nothing when all is well. A virtual time
/// budget lets the live-reload script poll a few times before the DOM is taken.
fn load(url: &str, origin: &str) -> Loaded {
    let profile = tempfile::tempdir().expect("a profile folder");
    let out = profile.path().join("dom.html");
    let err = profile.path().join("chromium.log");
    let mut child = common::browser::headless(profile.path())
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(url)
        .stdout(std::fs::File::create(&out).expect("dom file"))
        .stderr(std::fs::File::create(&err).expect("log file"))
        .spawn()
        .expect("chromium starts");
    // A thread waits for Chromium to exit and says so; after 90 s without that, it is killed.
    let pid = child.id();
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait().expect("chromium runs"));
    });
    let status = match exit.recv_timeout(Duration::from_secs(90)) {
        Ok(status) => status,
        Err(_) => {
            common::cli::signal_pid(pid, "KILL");
            panic!("chromium did not finish loading {url} within 90 s");
        }
    };
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed on {url}: {status}\n{log}"
    );
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") && l.contains(&format!("source: {origin}")))
        .map(str::to_string)
        .collect();
    Loaded {
        dom: std::fs::read_to_string(&out).expect("the DOM"),
        console,
    }
}

/// Loads a page of ours and insists that it logged nothing.
fn load_clean(server: &Server, path: &str) -> String {
    let loaded = load(&server.url(path), &server.url(""));
    assert!(
        loaded.console.is_empty(),
        "{path} logged to the console:\n{}",
        loaded.console.join("\n")
    );
    loaded.dom
}

#[test]
fn pages_load_in_chromium_and_follow_edits() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let path = write_issue(&dir, ISSUE_FILE, &issue(TITLE));
    let server = Server::start(&dir);

    let archive = load_clean(&server, "/");
    assert!(archive.contains(TITLE), "{archive}");
    assert!(
        archive.contains("Hello, world"),
        "the first issue is listed: {archive}"
    );
    let page = load_clean(&server, "/v1n2/");
    assert!(page.contains(TITLE) && page.contains("served by"), "{page}");
    let email = load_clean(&server, "/email/v1n2");
    assert!(email.contains(TITLE), "{email}");
    assert!(
        email.contains("Which browser do you read this in?"),
        "{email}"
    );
    assert_eq!(http(&server.addr, "GET", "/style.css", None).0, 200);
    let (status, text) = http(&server.addr, "GET", "/email/v1n2.txt", None);
    assert_eq!(status, 200);
    assert!(text.contains(TITLE), "{text}");

    // An edit is rebuilt and shows on the next load.
    let before = server.rebuilds();
    let edited = "Previews that follow every edit";
    std::fs::write(&path, issue(edited)).expect("the issue is edited");
    server.wait_for_rebuild(before, "/v1n2/", edited);
    for path in ["/", "/v1n2/", "/email/v1n2"] {
        let dom = load_clean(&server, path);
        assert!(dom.contains(edited), "{path} shows the old title:\n{dom}");
        assert!(!dom.contains(TITLE), "{path}:\n{dom}");
    }
}

/// The console check above would pass vacuously if Chromium stopped printing console
/// messages; this page proves it still does.
#[test]
fn console_errors_are_seen() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let server = Server::start(&dir);
    std::fs::write(
        dir.join("build/web/canary.html"),
        "<!DOCTYPE html><html><body><p>canary</p><script>console.error('canary error');</script></body></html>",
    )
    .expect("canary written");
    let loaded = load(&server.url("/canary.html"), &server.url(""));
    assert!(loaded.dom.contains("canary"), "{}", loaded.dom);
    assert!(
        loaded.console.iter().any(|l| l.contains("canary error")),
        "Chromium's console output was not recognised: {:?}",
        loaded.console
    );
}

fn add_subscriber(db: &Path, email: &str) -> (i64, Vec<u8>) {
    let mut store = Store::open(db).expect("the database opens");
    (
        store
            .add_subscriber(email, Some("A Reader"))
            .expect("subscriber added"),
        store.secret().expect("the secret"),
    )
}

fn status_of(db: &Path, id: i64) -> String {
    Store::open(db)
        .expect("the database opens")
        .subscriber_status(id)
        .expect("the status")
        .expect("the subscriber exists")
        .to_string()
}

#[test]
fn one_click_unsubscribe() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (id, secret) = add_subscriber(&db, "reader@example.org");
    let (other, _) = add_subscriber(&db, "bystander@example.org");
    let token = dispatch::outgoing::token::unsubscribe_token(&secret, id);
    let forged = dispatch::outgoing::token::unsubscribe_token(b"not the database's secret", id);
    let server = Server::start(&dir);
    let one_click = Some("List-Unsubscribe=One-Click");
    let at = |token: &str| format!("/unsubscribe/{token}");

    // GET only shows a page whose button posts the one-click body.
    let (status, page) = http(&server.addr, "GET", &at(&token), None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<button"), "{page}");
    assert!(
        page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{page}"
    );
    let dom = load_clean(&server, &at(&token));
    assert!(
        dom.contains("<button type=\"submit\">Unsubscribe</button>"),
        "{dom}"
    );
    assert_eq!(status_of(&db, id), "active", "GET must not unsubscribe");

    // A forged token changes nothing.
    let (status, page) = http(&server.addr, "POST", &at(&forged), one_click);
    assert_eq!(status, 404, "{page}");
    assert_eq!(status_of(&db, id), "active");

    // A POST without the one-click body is refused.
    let (status, page) = http(&server.addr, "POST", &at(&token), None);
    assert_eq!(status, 400, "{page}");
    let (status, _) = http(
        &server.addr,
        "POST",
        &at(&token),
        Some("List-Unsubscribe=Later"),
    );
    assert_eq!(status, 400);
    assert_eq!(status_of(&db, id), "active");

    // The real one-click request unsubscribes that subscriber and nobody else; repeating it
    // is harmless.
    let (status, page) = http(&server.addr, "POST", &at(&token), one_click);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are unsubscribed"), "{page}");
    assert_eq!(status_of(&db, id), "unsubscribed");
    assert_eq!(status_of(&db, other), "active");
    assert_eq!(http(&server.addr, "POST", &at(&token), one_click).0, 200);
    assert_eq!(status_of(&db, id), "unsubscribed");
}

/// POSTs a one-click request as a mail receiver's HTTP client would, with `form` sent as
/// `multipart/form-data` or as `application/x-www-form-urlencoded`.
fn post_form(url: &str, form: &[(&str, &str)], multipart: bool) -> (u16, String) {
    dispatch::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let request = client.post(url);
        let request = if multipart {
            // Written out as a mail receiver's client sends it (RFC 7578), one part a field.
            let boundary = "----dispatch-one-click-7MA4YWxkTrZu0gW";
            let mut body = String::new();
            for (name, value) in form {
                body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                ));
            }
            body.push_str(&format!("--{boundary}--\r\n"));
            request
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
        } else {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    })
}

/// RFC 8058 §3.1 allows both encodings and says receivers SHOULD send multipart/form-data.
#[test]
fn verbose_shows_requests_with_the_unsubscribe_token_redacted() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (id, secret) = add_subscriber(&db, "reader@example.org");
    let token = dispatch::outgoing::token::unsubscribe_token(&secret, id);
    let mut verbose = command(None, &["-v"]);
    verbose.env_remove("RUST_LOG");
    let server = Server::spawn(verbose, &dir);
    let (status, _) = http(&server.addr, "GET", &format!("/unsubscribe/{token}"), None);
    assert_eq!(status, 200);
    let log = server.wait_for_stderr("< 200 OK for GET /unsubscribe/[redacted]");
    assert!(log.contains("> GET /unsubscribe/[redacted]"), "{log}");
    assert!(!log.contains(&token), "{log}");
}

#[test]
fn one_click_accepts_multipart_and_urlencoded_forms() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (multi, secret) = add_subscriber(&db, "multipart@example.org");
    let (plain, _) = add_subscriber(&db, "urlencoded@example.org");
    let server = Server::start(&dir);
    let path = |id: i64| {
        format!(
            "/unsubscribe/{}",
            dispatch::outgoing::token::unsubscribe_token(&secret, id)
        )
    };
    let url = |id: i64| server.url(&path(id));
    let one_click = [("List-Unsubscribe", "One-Click")];

    // GET changes nothing, whoever follows the link.
    for id in [multi, plain] {
        assert_eq!(http(&server.addr, "GET", &path(id), None).0, 200);
    }
    // A multipart body without the one-click field changes nothing either.
    let (status, page) = post_form(&url(multi), &[("List-Unsubscribe", "Later")], true);
    assert_eq!(status, 400, "{page}");
    let (status, page) = post_form(&url(multi), &[("other", "One-Click")], true);
    assert_eq!(status, 400, "{page}");
    assert_eq!(status_of(&db, multi), "active");
    assert_eq!(status_of(&db, plain), "active");

    let (status, page) = post_form(&url(multi), &one_click, true);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are unsubscribed"), "{page}");
    assert_eq!(status_of(&db, multi), "unsubscribed");
    assert_eq!(status_of(&db, plain), "active");

    let (status, page) = post_form(&url(plain), &one_click, false);
    assert_eq!(status, 200, "{page}");
    assert_eq!(status_of(&db, plain), "unsubscribed");
}

/// The body limit holds for both encodings: an oversized body is refused, not read.
#[test]
fn one_click_bodies_are_bounded() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (id, secret) = add_subscriber(&db, "reader@example.org");
    let server = Server::start(&dir);
    let url = server.url(&format!(
        "/unsubscribe/{}",
        dispatch::outgoing::token::unsubscribe_token(&secret, id)
    ));
    let padding = "x".repeat(64 * 1024);
    for multipart in [true, false] {
        let (status, page) = post_form(
            &url,
            &[("padding", &padding), ("List-Unsubscribe", "One-Click")],
            multipart,
        );
        assert!(status == 400 || status == 413, "{status} {page}");
        assert_eq!(status_of(&db, id), "active");
    }
}

/// The https link in a message's `List-Unsubscribe` header.
fn https_unsubscribe(message: &[u8]) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(message)
        .expect("a message");
    let header = message
        .header_raw("List-Unsubscribe")
        .expect("a List-Unsubscribe header")
        .replace(['\r', '\n'], "");
    header
        .split(['<', '>'])
        .find(|part| part.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https link in List-Unsubscribe: {header}"))
        .to_string()
}

/// The path and query a client requests for `url`.
fn request_path(url: &str) -> String {
    let rest = url.split_once("://").expect("an absolute URL").1;
    rest.find('/')
        .map_or("/".to_string(), |i| rest[i..].to_string())
}

/// Every form of `newsletter.unsubscribe_url` config accepts makes links that `serve` routes:
/// the preview email's link (made as `send` makes them) with a real token unsubscribes.
#[test]
fn every_accepted_unsubscribe_url_makes_links_the_server_routes() {
    for url in [
        "https://news.example.com",
        "https://news.example.com/",
        "https://news.example.com/u",
        "https://news.example.com/u/",
        "https://news.example.com/a/b.c~d_e-f/",
        "https://news.example.com/email/u",
    ] {
        let config = config(&[]).replace(
            "unsubscribe_url: https://news.example.com/unsubscribe",
            &format!("unsubscribe_url: {url}"),
        );
        let (_tmp, dir) = newsletter(&config);
        let db = dir.join("subscribers.db");
        let (id, secret) = add_subscriber(&db, "reader@example.org");
        let server = Server::start(&dir);
        let eml = std::fs::read(dir.join("build/email/v1n1.eml")).expect("the preview email");
        let link = https_unsubscribe(&eml);
        assert!(link.ends_with("/PREVIEW"), "{url}: {link}");
        let token = dispatch::outgoing::token::unsubscribe_token(&secret, id);
        let path = request_path(&link).replace("PREVIEW", &token);

        let (status, page) = http(&server.addr, "GET", &path, None);
        assert_eq!(status, 200, "{url}: GET {path}: {page}");
        assert_eq!(status_of(&db, id), "active", "{url}: GET changes nothing");
        let (status, page) = http(
            &server.addr,
            "POST",
            &path,
            Some("List-Unsubscribe=One-Click"),
        );
        assert_eq!(status, 200, "{url}: POST {path}: {page}");
        assert_eq!(status_of(&db, id), "unsubscribed", "{url}");
        // The archive is still served beside the endpoint.
        assert_eq!(http(&server.addr, "GET", "/", None).0, 200, "{url}");
    }
}

/// URLs `serve` could not answer are refused by name before anything runs.
#[test]
fn an_unsubscribe_url_serve_could_not_answer_is_a_config_error() {
    for url in [
        "http://news.example.com/unsubscribe",
        "https://news.example.com/unsubscribe?list=1",
        "https://news.example.com/unsubscribe#top",
    ] {
        let config = config(&[]).replace(
            "unsubscribe_url: https://news.example.com/unsubscribe",
            &format!("unsubscribe_url: {url}"),
        );
        let (_tmp, dir) = newsletter(&config);
        let out = common::cli::fails(&dir, &["build"]);
        let stderr = common::cli::stderr(&out);
        assert!(
            stderr.contains("config.yaml:6: `newsletter.unsubscribe_url`"),
            "{url}: {stderr}"
        );
    }
}

/// A header of a delivered message, unfolded.
fn header(message: &[u8], name: &str) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse(message)
        .expect("a message")
        .header_raw(name)
        .map(|h| h.replace(['\r', '\n'], "").trim().to_string())
}

/// The one message `user` received, read from their Maildir.
fn received(stack: &MailStack, user: &str) -> Vec<u8> {
    let files = stack.wait_for_messages(user, 1, Duration::from_secs(30));
    assert_eq!(files.len(), 1, "{user} got {files:?}");
    std::fs::read(&files[0]).expect("the delivered message")
}

/// The links `send` puts in real mail work: the https one through `serve`, the mailto one
/// through `replies import`.
#[test]
fn links_delivered_by_send_unsubscribe_through_serve_and_replies_import() {
    const PASSWORD_ENV: &str = "DISPATCH_TEST_IMAP_PASSWORD";
    let stack = mailstack();
    let editor = unique_user("unsub-editor");
    let by_link = unique_user("unsub-by-link");
    let by_mail = unique_user("unsub-by-mail");
    let (_tmp, dir) = newsletter("");
    let settings = |unsubscribe_url: &str| {
        format!(
            "newsletter:\n  title: The Test Bench\n  url: https://news.example.test/\n  from: \"Ed Itor <{editor}>\"\n  reply_to: {editor}\n{unsubscribe_url}smtp:\n  host: localhost\n  port: {smtp}\n  security: starttls\n  ca_file: {ca}\nimap:\n  host: 127.0.0.1\n  port: {imap}\n  security: starttls\n  username: {editor}\n  password_env: {PASSWORD_ENV}\n  ca_file: {ca}\n",
            smtp = stack.smtp_port,
            imap = stack.imap_port,
            ca = stack.ca_file.display(),
        )
    };
    let run = |args: &[&str]| {
        let out = command(Some(&dir), args).env(PASSWORD_ENV, PASSWORD).run();
        assert!(
            out.status.success(),
            "dispatch {args:?} failed\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let db = dir.join("subscribers.db");
    let id_of = |email: &str| {
        Store::open(&db)
            .expect("the database")
            .subscriber(email)
            .expect("a lookup")
            .expect("a subscriber")
            .id
    };

    // A site root: the links go to /unsubscribe/TOKEN there, which `serve` answers.
    std::fs::write(
        dir.join("config.yaml"),
        settings("  unsubscribe_url: https://news.example.test\n"),
    )
    .expect("config written");
    run(&["subscribers", "add", &by_link]);
    run(&["subscribers", "add", &by_mail]);
    run(&["send", "v1n1", "--yes"]);
    let mail = received(&stack, &by_link);
    let link = https_unsubscribe(&mail);
    assert!(
        link.starts_with("https://news.example.test/unsubscribe/"),
        "{link}"
    );
    let server = Server::start(&dir);
    let (status, page) = http(
        &server.addr,
        "POST",
        &request_path(&link),
        Some("List-Unsubscribe=One-Click"),
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(status_of(&db, id_of(&by_link)), "unsubscribed");
    assert_eq!(status_of(&db, id_of(&by_mail)), "active");
    drop(server);

    // Without an endpoint the only link is the mailto one; the reader's mail client sends its
    // subject back, and `replies import` unsubscribes them.
    std::fs::write(dir.join("config.yaml"), settings("")).expect("config written");
    write_issue(&dir, ISSUE_FILE, &issue(TITLE));
    run(&["send", "v1n2", "--yes"]);
    let files = stack.wait_for_messages(&by_mail, 2, Duration::from_secs(30));
    let mail = std::fs::read(files.last().expect("the second issue")).expect("a message");
    let list_unsubscribe = header(&mail, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(!list_unsubscribe.contains("https:"), "{list_unsubscribe}");
    let mailto = list_unsubscribe
        .trim_start_matches('<')
        .trim_end_matches('>')
        .strip_prefix("mailto:")
        .unwrap_or_else(|| panic!("not a mailto link: {list_unsubscribe}"))
        .to_string();
    let (to, query) = mailto.split_once('?').expect("a subject");
    let to = percent_encoding::percent_decode_str(to)
        .decode_utf8()
        .expect("an address")
        .into_owned();
    let subject = query
        .strip_prefix("subject=")
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .expect("a subject");
    assert_eq!(to, editor);
    let request = format!(
        "From: {by_mail}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 05 Mar 2030 10:00:00 +0000\r\nMessage-ID: <unsubscribe-{by_mail}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis message was sent by the unsubscribe link.\r\n"
    );
    {
        use lettre::Transport as _;
        let transport = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
            .port(stack.smtp_port)
            .build();
        let envelope = lettre::address::Envelope::new(
            Some(by_mail.parse().expect("an address")),
            vec![to.parse().expect("an address")],
        )
        .expect("an envelope");
        transport
            .send_raw(&envelope, request.as_bytes())
            .expect("Postfix takes the request");
    }
    stack.wait_for_messages(&editor, 1, Duration::from_secs(30));
    run(&["replies", "import"]);
    assert_eq!(status_of(&db, id_of(&by_mail)), "unsubscribed");
    // The reader who left by the link was not sent the second issue.
    let v1n2_deliveries = Store::open(&db)
        .expect("the database")
        .deliveries(IssueId::new(1, 2))
        .expect("the deliveries")
        .iter()
        .filter(|d| d.email == by_link)
        .count();
    assert_eq!(v1n2_deliveries, 0);
}

/// What the issue reported: 1,100 idle connections to a server allowed 1,024 open files
/// stalled every other request. Now the oldest idle ones make room and a request is answered.
#[test]
fn idle_connections_beyond_the_file_limit_do_not_stall_requests() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let server = Server::start_with_file_limit(&dir, 1024);
    let idle: Vec<TcpStream> = (0..1100)
        .map(|i| {
            TcpStream::connect(&server.addr).unwrap_or_else(|e| {
                panic!("idle connection {i}: {e} (this test needs `ulimit -n` of 2048 or more)")
            })
        })
        .collect();
    let (status, page) = http(&server.addr, "GET", "/", None);
    assert_eq!(status, 200, "{page}\n--- stderr\n{}", server.stderr());
    assert!(page.contains("Hello, world"), "{page}");
    let (status, _) = http(&server.addr, "GET", "/__dispatch/version", None);
    assert_eq!(status, 200);
    drop(idle);
}

/// A `dispatch serve` in this process with small limits, stopped with the test.
fn serve_in_process(dir: &Path, limits: dispatch::serve::Limits) -> String {
    let (ready, bound) = tokio::sync::oneshot::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let reporter = std::sync::Arc::new(dispatch::report::Silent);
        let result = runtime.block_on(dispatch::serve::serve(
            &dir,
            listen,
            limits,
            Some(ready),
            reporter,
        ));
        panic!("serve stopped: {result:?}");
    });
    bound
        .blocking_recv()
        .expect("serve binds an address")
        .to_string()
}

/// Waits until the server closes `stream` (end of file or a reset); returns what it sent.
fn closed_by_server(mut stream: TcpStream, what: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{what}: still open after 60 s ({e})"),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// One complete keep-alive exchange on `stream`: the response's head and its body.
fn keep_alive_get(stream: &mut TcpStream, addr: &str, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("request sent");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
        let n = stream.read(&mut buf).expect("the response");
        assert!(n > 0, "closed before the response ended: {text}");
        received.extend_from_slice(&buf[..n]);
    }
}

/// Silent, slow and finished-but-open connections are all closed by the server's timeouts;
/// beyond the cap, the oldest idle ones make room for new ones.
#[test]
fn idle_and_slow_connections_are_closed_after_the_timeouts() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (id, secret) = add_subscriber(&db, "reader@example.org");
    let addr = serve_in_process(
        &dir,
        dispatch::serve::Limits {
            header_read: Duration::from_millis(800),
            request: Duration::from_millis(800),
            connections: 8,
        },
    );

    // Twice the cap of silent connections: a request is still answered.
    let silent: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(&addr).expect("a connection"))
        .collect();
    let (status, _) = http(&addr, "GET", "/", None);
    assert_eq!(status, 200);
    for (i, stream) in silent.into_iter().enumerate() {
        closed_by_server(stream, &format!("silent connection {i}"));
    }

    // Half a request head, sent and never finished.
    let mut slow_head = TcpStream::connect(&addr).expect("a connection");
    write!(slow_head, "GET / HTTP/1.1\r\nHost: {addr}\r\n").expect("half a head");
    let answer = closed_by_server(slow_head, "a connection that sent half a head");
    assert!(!answer.contains(" 200 "), "{answer}");

    // A keep-alive connection after its response.
    let mut kept = TcpStream::connect(&addr).expect("a connection");
    let response = keep_alive_get(&mut kept, &addr, "/__dispatch/version");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    closed_by_server(kept, "an idle keep-alive connection");

    // A one-click request whose body never arrives: refused, and nobody is unsubscribed.
    let token = dispatch::outgoing::token::unsubscribe_token(&secret, id);
    let mut slow_body = TcpStream::connect(&addr).expect("a connection");
    write!(
        slow_body,
        "POST /unsubscribe/{token} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\nList-Unsub"
    )
    .expect("half a body");
    let answer = closed_by_server(slow_body, "a request whose body never came");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(status_of(&db, id), "active");
}

/// The status and Location header of a GET.
fn location(addr: &str, path: &str) -> (u16, Option<String>) {
    let mut stream = TcpStream::connect(addr).expect("the server accepts");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let head = closed_by_server(stream, path);
    let head = head.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
    let location = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.trim().to_string())
    });
    (status, location)
}

/// A folder's address without its final `/` is redirected on this site, never to `//host`.
#[test]
fn folder_redirects_never_leave_the_site() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let server = Server::start(&dir);
    assert_eq!(
        location(&server.addr, "/v1n1"),
        (301, Some("/v1n1/".to_string()))
    );
    for path in ["//v1n1", "///v1n1", "/%2Fv1n1"] {
        let (status, to) = location(&server.addr, path);
        if let Some(to) = &to {
            assert!(
                to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\"),
                "{path} redirects to {to}"
            );
        }
        assert!(status == 301 || status == 404, "{path}: {status}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let (_tmp, dir) = newsletter(&config(&[]));
    write_issue(&dir, ISSUE_FILE, &issue(TITLE));
    let mut server = Server::start(&dir);
    assert_eq!(http(&server.addr, "GET", "/", None).0, 200);
    signal(&server.child, "TERM");
    let status = server.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}\n--- stderr\n{}",
        server.stderr()
    );
}

/// The start line names an email the first build made (the newest), and the first build is
/// not reported as a rebuild: the first "rebuilt" on stderr is the one after an edit.
#[test]
fn the_start_line_names_the_newest_built_email() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let path = write_issue(&dir, ISSUE_FILE, &issue(TITLE));
    let server = Server::start(&dir);
    let email = server.url("/email/v1n2");
    assert!(
        server
            .start_line
            .contains(&format!("(newest email: {email})")),
        "{}",
        server.start_line
    );
    let (status, page) = http(&server.addr, "GET", "/email/v1n2", None);
    assert_eq!(status, 200, "the email named exists: {page}");
    assert!(page.contains(TITLE), "{page}");

    std::fs::write(&path, issue("Edited after start")).expect("the issue is edited");
    server.wait_for_rebuild(0, "/email/v1n2", "Edited after start");
    assert_eq!(
        server.rebuilds(),
        1,
        "only the rebuild after the edit is reported:\n{}",
        server.stderr()
    );
}

/// Without any issue there is no email to name, and the start line says so.
#[test]
fn the_start_line_without_issues_names_no_email() {
    let (_tmp, dir) = newsletter(&config(&[]));
    for entry in std::fs::read_dir(dir.join("issues")).expect("issues/") {
        std::fs::remove_file(entry.expect("an issue").path()).expect("issue removed");
    }
    let server = Server::start(&dir);
    assert!(
        server.start_line.contains("(no email is built yet)")
            && !server.start_line.contains("/email/"),
        "{}",
        server.start_line
    );
}

/// A taken port fails at once, before anything is built, and names --port.
#[test]
fn a_taken_port_is_refused_before_building() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let port = taken.local_addr().expect("its address").port().to_string();
    let out = common::cli::fails(&dir, &["serve", "--port", &port]);
    let err = common::cli::stderr(&out);
    assert!(
        err.starts_with(&format!("error: port {port} is already in use")),
        "{err}"
    );
    assert!(err.contains("choose another with --port"), "{err}");
    assert!(
        err.contains("caused by: cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert!(
        !dir.join("build").exists(),
        "nothing is built before the port is had"
    );
    assert!(common::cli::stdout(&out).is_empty());
}

/// A first build that fails is said in the start line, not passed over: the error is on
/// stderr, and the pages show it.
#[test]
fn the_start_line_says_when_the_first_build_failed() {
    let (_tmp, dir) = newsletter(&config(&[]));
    write_issue(
        &dir,
        ISSUE_FILE,
        &issue(TITLE).replace("2030-03-04", "2030-13-45"),
    );
    let server = Server::start(&dir);
    assert!(
        server.start_line.contains(
            "(the build failed, see the error above; the pages show it until it is fixed)"
        ),
        "{}",
        server.start_line
    );
    server.wait_for_stderr("is not a day of the calendar");
    let (status, page) = http(&server.addr, "GET", "/", None);
    assert_eq!(status, 500, "{page}");
}
