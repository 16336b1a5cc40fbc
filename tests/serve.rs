//! End-to-end tests of `dispatch serve`: pages loaded in a real headless Chromium, rebuilds on
//! change, and the one-click unsubscribe endpoint spoken to over raw HTTP.
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`, or the path in `$CHROMIUM`);
//! without it these tests fail, naming the package to install.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cli::{config, newsletter, write_issue};
use dispatch::store::Store;

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
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dispatch"))
            .arg("--dir")
            .arg(dir)
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dispatch serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stderr.take().expect("piped stderr"), stderr.clone());
        let first_line = first_line(child.stdout.take().expect("piped stdout"));
        let addr = first_line
            .as_deref()
            .and_then(|l| l.split("http://").nth(1))
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string);
        let mut server = Server {
            child,
            addr: String::new(),
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
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn version(&self) -> String {
        let (status, body) = http(&self.addr, "GET", "/__dispatch/version", None);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits, as the live-reload script does, until the build version moves past `old` and
    /// `path` shows `text` (another rebuild may come first).
    fn wait_for_rebuild(&self, old: &str, path: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.version() == old || !http(&self.addr, "GET", path, None).1.contains(text) {
            assert!(
                Instant::now() < deadline,
                "{path} did not show {text:?} within 30 s\n--- stderr\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
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

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut all) = into.lock() {
                all.push_str(&line);
                all.push('\n');
            }
        }
    });
}

/// One HTTP/1.1 request over a plain socket; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, form: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let body = form.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if method == "POST" {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} not found: these tests need Debian's chromium package (`apt-get install -y chromium`), or CHROMIUM=/path/to/chromium",
        path.display()
    );
    path
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
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(url)
        .stdout(std::fs::File::create(&out).expect("dom file"))
        .stderr(std::fs::File::create(&err).expect("log file"))
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
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
    let before = server.version();
    let edited = "Previews that follow every edit";
    std::fs::write(&path, issue(edited)).expect("the issue is edited");
    server.wait_for_rebuild(&before, "/v1n2/", edited);
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
    let store = Store::open(db).expect("the database opens");
    let now = "2030-03-01T00:00:00Z";
    store
        .conn
        .execute(
            "INSERT INTO subscribers (email, email_key, name, status, created_at, updated_at)
             VALUES (?1, lower(?1), 'A Reader', 'active', ?2, ?2)",
            rusqlite::params![email, now],
        )
        .expect("subscriber added");
    (
        store.conn.last_insert_rowid(),
        store.secret().expect("the secret"),
    )
}

fn status_of(db: &Path, id: i64) -> String {
    Store::open(db)
        .expect("the database opens")
        .conn
        .query_row("SELECT status FROM subscribers WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("the subscriber exists")
}

#[test]
fn one_click_unsubscribe() {
    let (_tmp, dir) = newsletter(&config(&[]));
    let db = dir.join("subscribers.db");
    let (id, secret) = add_subscriber(&db, "reader@example.org");
    let (other, _) = add_subscriber(&db, "bystander@example.org");
    let token = dispatch::mail::token::unsubscribe_token(&secret, id);
    let forged = dispatch::mail::token::unsubscribe_token(b"not the database's secret", id);
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

#[test]
fn sigterm_stops_the_server_cleanly() {
    let (_tmp, dir) = newsletter(&config(&[]));
    write_issue(&dir, ISSUE_FILE, &issue(TITLE));
    let mut server = Server::start(&dir);
    assert_eq!(http(&server.addr, "GET", "/", None).0, 200);
    let pid = server.child.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let status = server.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}\n--- stderr\n{}",
        server.stderr()
    );
}
