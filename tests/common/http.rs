//! One HTTP/1.1 request over a plain socket, for the servers under test (`serve`, `host`): no
//! client library between the test and the bytes the server sends.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// What a server answered: the status, the head (lowercased, for header checks) and the body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `method path` to `addr` with the `extra` header lines (each ending in `\r\n`); a POST
/// carries `body` as a form.
pub fn request(addr: &str, method: &str, path: &str, extra: &str, body: &str) -> Answer {
    let stream = TcpStream::connect(addr).expect("the server accepts");
    request_on(stream, addr, method, path, extra, body)
}

/// [`request`] over `stream`, already connected to `addr` (from a source address the test
/// chose, say).
pub fn request_on(
    mut stream: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> Answer {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}");
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
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// [`request`] to a full `http://addr/path` URL.
pub fn request_url(url: &str, method: &str, body: &str) -> Answer {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    request(addr, method, path, "", body)
}

/// A port on 127.0.0.1 that was free a moment ago, for a server whose address has to be known
/// before it starts (a URL naming its port, a proxy's configuration).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
