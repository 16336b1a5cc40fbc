//! Headless Chromium driven over the DevTools protocol: a small client over one WebSocket.
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`, or the path in `$CHROMIUM`),
//! which `scripts/test` installs. It starts with `--remote-debugging-port=0` and prints the
//! address it picked (`DevTools listening on ws://…`) on stderr; the client attaches to one
//! new tab with a flat session and sends commands to it. Waits are on protocol events (a page's
//! `load`), each bounded by [`WAIT`]; nothing sleeps.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The longest any single step (start-up, a command's answer, a page load) may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// Chromium's binary; panics with how to install it when it is missing.
pub fn chromium() -> PathBuf {
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

/// Headless Chromium with its own profile under `profile` and nothing that calls out to the
/// network on its own (updates, sync, QUIC), ready for the caller's flags.
pub fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("profile").display()
        ));
    command
}

/// A running headless Chromium with one tab under our control. Dropping it kills Chromium.
pub struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Events of our tab that arrived while waiting for something else.
    events: VecDeque<Value>,
    /// Everything Chromium printed on stderr, to explain a failure.
    log: Arc<Mutex<String>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium and opens a blank tab.
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut child = headless(profile.path())
            .args([
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, endpoint) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.trim().to_string());
                }
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = match endpoint.recv_timeout(WAIT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "chromium printed no DevTools address within {WAIT:?}:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let authority = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("not a DevTools address: {url}"));
        let stream = TcpStream::connect(authority)
            .unwrap_or_else(|e| panic!("chromium's DevTools port {authority} accepts: {e}"));
        stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
        let (socket, _) = tungstenite::client(url.as_str(), stream)
            .unwrap_or_else(|e| panic!("the DevTools WebSocket {url} opens: {e}"));
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            events: VecDeque::new(),
            log,
            _profile: profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// A command to the browser itself (no session).
    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command to our tab; returns its `result`, panics on a protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(request.to_string()))
            .unwrap_or_else(|e| panic!("{method} is sent to chromium: {e}"));
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline, method);
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    panic!("chromium refused {method}: {error}");
                }
                return message["result"].clone();
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// The next protocol message; panics after `deadline` or when Chromium is gone.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        loop {
            if Instant::now() > deadline {
                panic!(
                    "chromium did not answer {waiting_for} within {WAIT:?}:\n{}",
                    self.log()
                );
            }
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
                }
                Ok(_) => continue,
                Err(e) => panic!(
                    "the DevTools connection failed while waiting for {waiting_for}: {e}\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Waits for the event `method` of our tab (one already received counts) and returns its
    /// parameters.
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at).expect("a queued event")["params"].clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline, method);
            if message["method"] == method && message["sessionId"] == self.session.as_str() {
                return message["params"].clone();
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// Forgets the events received so far, so that a following wait sees only new ones.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Opens `url` in the tab and waits for its `load` event.
    pub fn open(&mut self, url: &str) {
        self.clear_events();
        let result = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = result.get("errorText") {
            panic!("chromium could not open {url}: {error}");
        }
        self.wait_event("Page.loadEventFired");
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw in the page: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// The page's address.
    pub fn url(&mut self) -> String {
        self.eval("location.href")
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The page's visible text.
    pub fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Clicks into the element `selector` and types `text` as keyboard input.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector);
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Presses the mouse on the middle of the element `selector`, as a reader would.
    pub fn click(&mut self, selector: &str) {
        let selector_js = serde_json::to_string(selector).expect("a JSON string");
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector_js}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return {{x: r.left + r.width / 2, y: r.top + r.height / 2}}; }})()"
        ));
        assert!(!rect.is_null(), "no element {selector} on {}", self.url());
        let (x, y) = (rect["x"].as_f64().unwrap(), rect["y"].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Clicks the element `selector` and waits for the page it leads to.
    pub fn click_and_wait(&mut self, selector: &str) {
        self.clear_events();
        self.click(selector);
        self.wait_event("Page.loadEventFired");
    }

    /// Chromium's stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
