//! docs/hosting.md's proxy snippets, as written there, in front of `dispatch host`: real nginx
//! (Debian package nginx-light) and real Caddy (package caddy), both installed by
//! scripts/test. The ```nginx and ```caddyfile blocks are read from the page; only what a test
//! on loopback must change is rewritten (the listen address, the upstream's port, TLS off),
//! each rewrite checked to have matched, so the page cannot drift from what is tested.
//!
//! Through each proxy: an archive page keeps the host's security headers; the signup limit
//! counts the reader's address the proxy sets in `X-Forwarded-For`, not one the reader forged
//! (clients on 127.0.0.2 and 127.0.0.3); a body over 4 KB is refused with 413, and nginx
//! refuses the methods the host has no route for.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{signal, signal_pid};
use common::host::{Host, SECURITY_HEADERS, folder, form, set_config, silent_smtp};
use common::http::{Answer, free_port, request_on};
use common::mailstack::unique_user;
use common::output::Output;
use common::watch;

/// The upstream address the snippets name, replaced by the host's.
const UPSTREAM: &str = "127.0.0.1:8080";

/// The pid file each proxy writes in its directory once it listens.
const PID_FILE: &str = "proxy.pid";

/// The fenced block of docs/hosting.md whose info string is `lang`.
fn snippet(lang: &str) -> String {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hosting.md"))
            .expect("docs/hosting.md");
    let open = format!("```{lang}\n");
    let start = page
        .find(&open)
        .unwrap_or_else(|| panic!("no {open:?} block in docs/hosting.md"))
        + open.len();
    let end = start + page[start..].find("\n```").expect("the block ends");
    page[start..=end].to_string()
}

/// `text` with every `from` replaced by `to`, insisting that there was one.
fn rewrite(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the snippet:\n{text}");
    text.replace(from, to)
}

/// A Debian package's binary, or a failure that names the package.
fn binary(path: &str, package: &str) -> PathBuf {
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "{} is missing: install the Debian package {package} (scripts/test installs it)",
        path.display()
    );
    path
}

/// A proxy started by the test, in a temporary directory of its own (configuration, logs,
/// state), and stopped by its pid when dropped.
struct Proxy {
    name: &'static str,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    output: Output,
}

impl Proxy {
    /// Starts `command` and waits (at most 30 s) until it wrote `PID_FILE` in `dir`, which
    /// nginx and Caddy both do once their listening socket is open.
    fn start(name: &'static str, mut command: Command, port: u16, dir: tempfile::TempDir) -> Proxy {
        let (changes, mut watcher) = watch::watcher();
        notify::Watcher::watch(
            &mut watcher,
            dir.path(),
            notify::RecursiveMode::NonRecursive,
        )
        .unwrap();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        let output = Output::default();
        output.collect(child.stdout.take().expect("piped stdout"));
        output.collect(child.stderr.take().expect("piped stderr"));
        let mut proxy = Proxy {
            name,
            child,
            port,
            dir,
            output,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid_file = proxy.dir.path().join(PID_FILE);
        while !std::fs::read_to_string(&pid_file).is_ok_and(|pid| pid.trim().parse::<u32>().is_ok())
        {
            let exited = !matches!(proxy.child.try_wait(), Ok(None));
            assert!(
                !exited && watch::changed(&changes, deadline),
                "{name} {} on port {port}:\n{}",
                if exited {
                    "exited instead of listening"
                } else {
                    "wrote no pid file within 30 s"
                },
                proxy.log()
            );
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok(),
            "{name} wrote its pid file but does not accept on {addr}:\n{}",
            proxy.log()
        );
        proxy
    }

    /// What the proxy printed and logged, for failure messages.
    fn log(&self) -> String {
        let error_log =
            std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        format!("{}{error_log}", self.output.text())
    }

    /// One request to the proxy from `client`, an address in 127.0.0.0/8.
    fn request(
        &self,
        client: Ipv4Addr,
        method: &str,
        path: &str,
        extra: &str,
        body: &str,
    ) -> Answer {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        socket
            .bind(&SocketAddr::from((client, 0)).into())
            .unwrap_or_else(|e| panic!("bind to {client}: {e}"));
        socket.connect(&addr.into()).unwrap_or_else(|e| {
            panic!(
                "{} on {addr} does not accept: {e}\n{}",
                self.name,
                self.log()
            )
        });
        request_on(socket.into(), &addr.to_string(), method, path, extra, body)
    }
}

impl Drop for Proxy {
    /// SIGTERM first: nginx's master then stops its workers (a SIGKILL would orphan them);
    /// SIGKILL if it has not exited within 10 s. The exit is awaited by `waitpid` on a thread
    /// of its own, which tells of it on a channel.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        signal(&self.child, "TERM");
        let pid = self.child.id();
        let (exited, exit) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let child = &mut self.child;
            scope.spawn(move || {
                let _ = child.wait();
                let _ = exited.send(());
            });
            if exit.recv_timeout(Duration::from_secs(10)).is_err() {
                signal_pid(pid, "KILL");
            }
        });
    }
}

/// A temporary directory the proxy's workers can enter (nginx's run as `nobody` under root).
fn proxy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The documented nginx server block in front of `upstream`, on loopback with its own files.
/// Plain HTTP: the `listen … ssl` lines, `server_name` and the certificate lines give way to
/// one `listen 127.0.0.1:PORT;` (TLS is nginx's own business, not the snippet's rules), and
/// the second server, the redirect from port 80, is left out.
fn nginx(upstream: &str) -> Proxy {
    let nginx = binary("/usr/sbin/nginx", "nginx-light");
    let snippet = snippet("nginx");
    let redirect = snippet
        .find("\nserver {")
        .expect("the redirect server block");
    assert!(
        snippet[redirect..].contains("return 301 https://"),
        "the second server block is not the redirect:\n{snippet}"
    );
    let port = free_port();
    let (mut listens, mut dropped) = (0, 0);
    let mut server = String::new();
    for line in snippet[..redirect].lines() {
        let directive = line.trim_start();
        if directive.starts_with("listen ") {
            listens += 1;
            if listens == 1 {
                server.push_str(&format!("    listen 127.0.0.1:{port};\n"));
            }
        } else if directive.starts_with("server_name ") || directive.starts_with("ssl_") {
            dropped += 1;
        } else {
            server.push_str(line);
            server.push('\n');
        }
    }
    assert!(
        listens >= 1 && dropped >= 3,
        "no listen, server_name and ssl_certificate lines in:\n{snippet}"
    );
    let server = rewrite(
        &server,
        &format!("http://{UPSTREAM};"),
        &format!("http://{upstream};"),
    );

    let dir = proxy_dir();
    let d = dir.path().display();
    let config = format!(
        "daemon off;\nworker_processes 1;\npid {d}/{PID_FILE};\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\nhttp {{\n  access_log {d}/access.log;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"));
    Proxy::start("nginx", command, port, dir)
}

/// The documented Caddyfile in front of `upstream`: the site address becomes
/// `http://127.0.0.1:PORT` (plain HTTP, no certificate to obtain), and a global block turns
/// off the admin endpoint and automatic HTTPS and keeps Caddy's storage, like its home, in a
/// temporary directory.
fn caddy(upstream: &str) -> Proxy {
    let caddy = binary("/usr/bin/caddy", "caddy");
    let port = free_port();
    let site = rewrite(
        &snippet("caddyfile"),
        "news.example.com {",
        &format!("http://127.0.0.1:{port} {{"),
    );
    let site = rewrite(
        &site,
        &format!("reverse_proxy {UPSTREAM}\n"),
        &format!("reverse_proxy {upstream}\n"),
    );
    let dir = proxy_dir();
    let d = dir.path().display();
    let config = format!(
        "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {d}/storage\n}}\n\n{site}"
    );
    std::fs::write(dir.path().join("Caddyfile"), config).unwrap();
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.path().join("Caddyfile"))
        .arg("--pidfile")
        .arg(dir.path().join(PID_FILE))
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"));
    Proxy::start("caddy", command, port, dir)
}

const READER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const NEIGHBOUR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// `dispatch host` allowing one signup per client an hour and trusting 127.0.0.1, the proxy;
/// confirmations go to an SMTP server that never answers (they wait in the queue).
fn host() -> (Host, tempfile::TempDir, std::net::TcpListener) {
    let (silent, port) = silent_smtp();
    let dir = folder(port);
    set_config(
        dir.path(),
        port,
        "  signups_per_hour: 1\n  trusted_proxies: [127.0.0.1]\n",
    );
    (Host::start(dir.path()), dir, silent)
}

/// What both snippets must do: pass the archive with the host's headers, and tell the host the
/// reader's address, not one the reader wrote.
fn passes_pages_and_the_readers_address(proxy: &Proxy) {
    let page = proxy.request(READER, "GET", "/v1n1/", "", "");
    assert_eq!(
        page.status,
        200,
        "{}: {}\n{}",
        proxy.name,
        page.head,
        proxy.log()
    );
    assert!(page.body.contains("First light"), "{}", page.body);
    for expected in SECURITY_HEADERS {
        assert!(
            page.head.contains(expected),
            "{}: {expected} missing:\n{}",
            proxy.name,
            page.head
        );
    }

    // One signup an hour per client: the second from the reader is refused even with a header
    // of its own, which must not make it another client; and the proxy must not make every
    // reader one client.
    for (client, extra, status, says) in [
        (READER, "", 200, "Check your inbox"),
        (
            READER,
            "X-Forwarded-For: 198.51.100.7\r\n",
            429,
            "Too many signups",
        ),
        (NEIGHBOUR, "", 200, "Check your inbox"),
    ] {
        let email = unique_user("proxied");
        let answer = proxy.request(client, "POST", "/subscribe", extra, &form(&email, "", ""));
        assert!(
            answer.status == status && answer.body.contains(says),
            "{}: signup from {client} with {extra:?}: {} instead of {status}:\n{}",
            proxy.name,
            answer.status,
            answer.body
        );
    }
}

/// A signup body over the snippets' 4 KB, yet under the host's own limit (16 KiB): a 413 comes
/// from the proxy.
fn oversized_signup() -> String {
    format!(
        "{}&name={}",
        form(&unique_user("big"), "", ""),
        "n".repeat(8_000)
    )
}

#[test]
fn the_documented_nginx_block_passes_pages_and_the_readers_address_and_refuses_the_rest() {
    let (host, _dir, _smtp) = host();
    let nginx = nginx(&host.addr);
    passes_pages_and_the_readers_address(&nginx);

    for (method, path) in [
        ("PUT", "/"),
        ("GET", "/subscribe"),
        ("DELETE", "/confirm/x"),
    ] {
        // 403 and nginx's own page: the host itself would say 405.
        let answer = nginx.request(NEIGHBOUR, method, path, "", "");
        assert!(
            answer.status == 403 && answer.body.contains("<center>nginx"),
            "{method} {path}: {}\n{}",
            answer.head,
            answer.body
        );
    }
    let big = nginx.request(NEIGHBOUR, "POST", "/subscribe", "", &oversized_signup());
    assert!(
        big.status == 413 && big.body.contains("<center>nginx"),
        "{}\n{}",
        big.head,
        big.body
    );
}

#[test]
fn the_documented_caddyfile_passes_pages_and_the_readers_address_and_refuses_big_bodies() {
    let (host, _dir, _smtp) = host();
    let caddy = caddy(&host.addr);
    passes_pages_and_the_readers_address(&caddy);

    let big = caddy.request(NEIGHBOUR, "POST", "/subscribe", "", &oversized_signup());
    assert_eq!(big.status, 413, "{}\n{}", big.head, caddy.log());
    // Other errors keep their status: with the host gone, a page is a 502.
    drop(host);
    let gone = caddy.request(NEIGHBOUR, "GET", "/", "", "");
    assert_eq!(gone.status, 502, "{}", gone.head);
}
