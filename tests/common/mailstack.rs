//! The real mail servers the integration tests talk to: Postfix (SMTP) delivering into Dovecot
//! (IMAP, IMAPS, Maildir) on 127.0.0.1, started by `scripts/test` through `scripts/mailstack`,
//! which exports their coordinates as `DISPATCH_TEST_*` environment variables.
//!
//! Every `user@example.test` exists and its password is [`PASSWORD`]. SMTP accepts mail for
//! `@example.test` from loopback without authentication, offers STARTTLS, and AUTH PLAIN/LOGIN
//! after STARTTLS; other recipient domains are refused at RCPT time. IMAP offers plain LOGIN and
//! STARTTLS, IMAPS is TLS from the start. TLS clients trust exactly [`MailStack::ca_file`] (a
//! self-signed certificate for `localhost` and `127.0.0.1`).

use std::collections::HashSet;
use std::fs;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use notify::{RecursiveMode, Watcher as _};

use super::watch::{changed, watcher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The domain whose every address is a mailbox on the test servers.
pub const DOMAIN: &str = "example.test";
/// The password of every `@example.test` user.
pub const PASSWORD: &str = "secret";

const NOT_RUNNING: &str = "the real mail servers are not running: run the tests through \
     scripts/test, which starts Dovecot and Postfix on loopback";

/// Where the test mail servers listen and where delivered mail lands.
#[derive(Debug, Clone)]
pub struct MailStack {
    /// Postfix SMTP on 127.0.0.1 (STARTTLS offered, AUTH after STARTTLS).
    pub smtp_port: u16,
    /// Dovecot IMAP on 127.0.0.1 (plain LOGIN and STARTTLS).
    pub imap_port: u16,
    /// Dovecot IMAPS on 127.0.0.1 (implicit TLS).
    pub imaps_port: u16,
    /// PEM certificate of the servers; a TLS client's only trusted root.
    pub ca_file: PathBuf,
    /// Maildirs of `@example.test`: `maildir/<local part>/{new,cur}`.
    pub maildir: PathBuf,
}

/// The running test mail servers. Panics with instructions when the environment does not
/// describe them or they do not accept connections.
pub fn mailstack() -> MailStack {
    static STACK: OnceLock<MailStack> = OnceLock::new();
    STACK.get_or_init(connect).clone()
}

fn connect() -> MailStack {
    let stack = MailStack {
        smtp_port: port_var("DISPATCH_TEST_SMTP_PORT"),
        imap_port: port_var("DISPATCH_TEST_IMAP_PORT"),
        imaps_port: port_var("DISPATCH_TEST_IMAPS_PORT"),
        ca_file: path_var("DISPATCH_TEST_CA_FILE"),
        maildir: path_var("DISPATCH_TEST_MAILDIR"),
    };
    if !stack.ca_file.is_file() {
        panic!(
            "{NOT_RUNNING} (no certificate at {})",
            stack.ca_file.display()
        );
    }
    if !stack.maildir.is_dir() {
        panic!(
            "{NOT_RUNNING} (no mail directory {})",
            stack.maildir.display()
        );
    }
    for (name, port) in [
        ("SMTP", stack.smtp_port),
        ("IMAP", stack.imap_port),
        ("IMAPS", stack.imaps_port),
    ] {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if let Err(err) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            panic!("{NOT_RUNNING} ({name} on {addr}: {err})");
        }
    }
    stack
}

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{NOT_RUNNING} ({name} is not set)"),
    }
}

fn port_var(name: &str) -> u16 {
    let value = var(name);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{NOT_RUNNING} ({name}={value:?} is not a port)"))
}

fn path_var(name: &str) -> PathBuf {
    PathBuf::from(var(name))
}

/// A fresh `@example.test` address, `prefix-<pid>-<counter>-<nanos>@example.test`, so that
/// tests running in parallel (and runs against the same servers) never share a mailbox.
/// The prefix is lowercased, reduced to letters, digits, `.`, `_` and `-` (the form in which
/// Dovecot names the mailbox directory) and cut to 32 characters, keeping the local part
/// within SMTP's 64.
pub fn unique_user(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix: String = prefix
        .chars()
        .take(32)
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let prefix = if prefix.is_empty() { "user" } else { &prefix };
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{counter}-{nanos}@{DOMAIN}", std::process::id())
}

impl MailStack {
    /// The Maildir of `user` (a local part, or a whole `@example.test` address).
    pub fn user_maildir(&self, user: &str) -> PathBuf {
        self.maildir.join(local_part(user))
    }

    /// Every message of `user`'s INBOX as read over IMAP (EXAMINE and BODY.PEEK, so nothing is
    /// marked \Seen), oldest first.
    pub fn imap_messages(&self, user: &str) -> Vec<Vec<u8>> {
        use futures::TryStreamExt as _;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
                .await
                .expect("Dovecot's IMAP port accepts");
            let mut client = async_imap::Client::new(tcp);
            client
                .read_response()
                .await
                .expect("a greeting")
                .expect("a greeting");
            let mut session = client
                .login(user, PASSWORD)
                .await
                .map_err(|e| e.0)
                .expect("the IMAP login works");
            let status = session.examine("INBOX").await.expect("INBOX opens");
            let mut messages = Vec::new();
            if status.exists > 0 {
                let fetched: Vec<_> = session
                    .fetch("1:*", "BODY.PEEK[]")
                    .await
                    .expect("FETCH works")
                    .try_collect()
                    .await
                    .expect("the messages arrive");
                for message in &fetched {
                    messages.push(message.body().expect("a body").to_vec());
                }
            }
            let _ = session.logout().await;
            messages
        })
    }

    /// Waits until `user`'s INBOX holds at least `n` messages and returns their files
    /// (from `new/` and `cur/`, oldest delivery first). `user` is a local part or a whole
    /// `@example.test` address. Panics when `timeout` passes first. The Maildir is looked at
    /// again each time the file watcher reports a change in it (or, before Dovecot makes it at
    /// the first delivery, in the folder of all Maildirs).
    ///
    /// An IMAP session that sees a message moves it from `new/` to `cur/`, renaming it; a
    /// returned path can therefore go stale while a client is connected to that mailbox.
    pub fn wait_for_messages(&self, user: &str, n: usize, timeout: Duration) -> Vec<PathBuf> {
        let dir = self.user_maildir(user);
        let (changes, mut watcher) = watcher();
        watcher
            .watch(&self.maildir, RecursiveMode::NonRecursive)
            .expect("the Maildirs are watched");
        let mut watching = false;
        let deadline = Instant::now() + timeout;
        loop {
            if !watching && dir.is_dir() {
                watcher
                    .watch(&dir, RecursiveMode::Recursive)
                    .expect("the Maildir is watched");
                watching = true;
            }
            let files = message_files(&dir);
            if files.len() >= n {
                return files;
            }
            if !changed(&changes, deadline) {
                panic!(
                    "timed out after {timeout:?} waiting for {n} message(s) to {}@{DOMAIN}: \
                     {} in {}{}",
                    local_part(user),
                    files.len(),
                    dir.display(),
                    log_excerpt(local_part(user)),
                );
            }
        }
    }

    /// Waits until Postfix has finished with every message it had queued when called: each
    /// queue id its log shows entering the queue (`qmgr: ID: from=<…>`) is logged `removed`,
    /// which it is once Dovecot has stored the message. The log is read again each time the
    /// file watcher reports that it grew. Panics when `timeout` passes first.
    pub fn wait_for_postfix_queue(&self, timeout: Duration) {
        let log = maillog();
        let (changes, mut watcher) = watcher();
        watcher
            .watch(&log, RecursiveMode::NonRecursive)
            .expect("the Postfix log is watched");
        let mut reader = LogReader::default();
        let mut queued: HashSet<String> = HashSet::new();
        for line in reader.read(&log) {
            if let Some(id) = queue_id(&line, "from=<") {
                queued.insert(id);
            } else if let Some(id) = queue_id(&line, "removed") {
                queued.remove(&id);
            }
        }
        let deadline = Instant::now() + timeout;
        while !queued.is_empty() {
            if !changed(&changes, deadline) {
                panic!(
                    "timed out after {timeout:?} waiting for Postfix to deliver {queued:?} \
                     (see {})",
                    log.display()
                );
            }
            for line in reader.read(&log) {
                if let Some(id) = queue_id(&line, "removed") {
                    queued.remove(&id);
                }
            }
        }
    }
}

/// Postfix's log of the running test servers.
fn maillog() -> PathBuf {
    Path::new(&var("DISPATCH_TEST_MAILSTACK")).join("postfix/maillog")
}

/// Reads a growing log, returning the whole lines added since the last read.
#[derive(Default)]
struct LogReader {
    offset: u64,
    partial: String,
}

impl LogReader {
    fn read(&mut self, path: &Path) -> Vec<String> {
        let mut added = String::new();
        if let Ok(mut file) = fs::File::open(path)
            && file.seek(SeekFrom::Start(self.offset)).is_ok()
            && let Ok(n) = file.read_to_string(&mut added)
        {
            self.offset += n as u64;
        }
        self.partial.push_str(&added);
        let Some(end) = self.partial.rfind('\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let lines = std::mem::replace(&mut self.partial, rest);
        lines.lines().map(str::to_string).collect()
    }
}

/// The queue id of a Postfix queue manager line `… postfix/qmgr[PID]: ID: WHAT…`.
fn queue_id(line: &str, what: &str) -> Option<String> {
    let (_, rest) = line.split_once("/qmgr[")?;
    let (_, rest) = rest.split_once("]: ")?;
    let (id, rest) = rest.split_once(": ")?;
    rest.starts_with(what).then(|| id.to_string())
}

fn local_part(user: &str) -> String {
    user.split('@').next().unwrap_or(user).to_ascii_lowercase()
}

/// Message files in a Maildir's `new/` and `cur/`, ordered by delivery time (Dovecot names
/// them `<seconds>.M<microseconds>P<pid>...`), then by name.
fn message_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                continue; // moved from new/ to cur/ meanwhile; found at the next change
            };
            if meta.is_file() {
                files.push((meta.modified().unwrap_or(UNIX_EPOCH), entry.path()));
            }
        }
    }
    files.sort_by(|a, b| {
        let name = |p: &PathBuf| p.file_name().map(|n| n.to_os_string());
        a.0.cmp(&b.0).then_with(|| name(&a.1).cmp(&name(&b.1)))
    });
    files.into_iter().map(|(_, path)| path).collect()
}

/// The last Postfix log lines about `local_part`, to explain a missing delivery.
fn log_excerpt(local_part: String) -> String {
    let Ok(dir) = std::env::var("DISPATCH_TEST_MAILSTACK") else {
        return String::new();
    };
    let log = Path::new(&dir).join("postfix/maillog");
    let Ok(text) = fs::read_to_string(&log) else {
        return String::new();
    };
    let needle = format!("<{local_part}@");
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.to_ascii_lowercase().contains(&needle))
        .collect();
    let tail = &lines[lines.len().saturating_sub(10)..];
    if tail.is_empty() {
        format!(
            "; Postfix logged nothing for this address in {}",
            log.display()
        )
    } else {
        format!("; last lines of {}:\n{}", log.display(), tail.join("\n"))
    }
}
