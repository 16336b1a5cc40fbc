//! An HTTP server on loopback with feeds of every format, bad feeds, and links that work,
//! move or break; it counts the requests it gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// How long `/slow.xml` takes: well beyond the tests' time limit (`cli::TIMEOUT`).
const SLOW: Duration = Duration::from_secs(5);

/// What the test server saw and serves.
#[derive(Default)]
pub struct Served {
    /// Every request, whatever its path.
    pub requests: AtomicUsize,
    /// RSS items added to `/rss.xml` by a test, as XML.
    pub extra_items: Mutex<Vec<String>>,
}

/// An HTTP server on 127.0.0.1, running on a background thread until the test process ends.
pub struct TestServer {
    pub base: String,
    pub served: Arc<Served>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let served = Arc::new(Served::default());
        let app = routes(served.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a free port");
                tx.send(listener.local_addr().expect("an address"))
                    .expect("the test waits");
                axum::serve(listener, app).await.expect("the server runs");
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the test server started");
        TestServer {
            base: format!("http://{addr}"),
            served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> usize {
        self.served.requests.load(Ordering::SeqCst)
    }

    pub fn add_rss_item(&self, title: &str, guid: &str, link: &str) {
        self.served
            .extra_items
            .lock()
            .expect("not poisoned")
            .push(rss_item(title, guid, link, "Sat, 02 Mar 2030 09:00:00 GMT"));
    }
}

fn routes(served: Arc<Served>) -> Router {
    Router::new()
        .route("/rss.xml", get(rss))
        .route("/atom.xml", get(|| async { xml(ATOM.to_string()) }))
        .route(
            "/feed.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/feed+json")], JSON_FEED) }),
        )
        .route(
            "/malformed.xml",
            get(|| async { xml("<rss version=\"2.0\"><channel><item><title>x</item>".into()) }),
        )
        .route("/slow.xml", get(slow))
        .route("/ok", get(|| async { "a page that works" }))
        .route("/other", get(|| async { "another page that works" }))
        .route("/image.png", get(image))
        .route(
            "/moved",
            get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "/ok") }),
        )
        .route(
            "/for-now",
            get(|| async { redirect(StatusCode::FOUND, "/other") }),
        )
        .route(
            "/broken",
            get(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        )
        .route(
            "/failing",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .layer(middleware::from_fn_with_state(served.clone(), count))
        .with_state(served)
}

async fn count(State(served): State<Arc<Served>>, request: Request, next: Next) -> Response {
    served.requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

fn xml(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/xml")], body)
}

fn redirect(status: StatusCode, to: &'static str) -> impl IntoResponse {
    (status, [(header::LOCATION, to)])
}

async fn image() -> impl IntoResponse {
    // The 1×1 GIF: enough for a checker, which reads only the start of a body.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    ([(header::CONTENT_TYPE, "image/gif")], GIF)
}

async fn slow() -> impl IntoResponse {
    tokio::time::sleep(SLOW).await;
    xml(ATOM.to_string())
}

async fn rss(State(served): State<Arc<Served>>) -> impl IntoResponse {
    let extra = served.extra_items.lock().expect("not poisoned").concat();
    xml(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Bench Links</title><link>https://links.example/</link><description>Saved links</description>
  {extra}
  {}
  {}
  {}
</channel></rss>"#,
        rss_item(
            "Pairing across time zones",
            "rss-1",
            "https://links.example/pairing",
            "Fri, 01 Mar 2030 09:00:00 GMT"
        ),
        rss_item(
            "Release trains &amp; why they run late",
            "rss-2",
            "https://links.example/trains",
            "Thu, 01 Feb 2030 09:00:00 GMT"
        ),
        rss_item(
            "&lt;script&gt;alert(1)&lt;/script&gt; hostile [title](javascript:x)",
            "rss-3",
            "https://links.example/hostile",
            "Wed, 02 Jan 2030 09:00:00 GMT"
        ),
    ))
}

fn rss_item(title: &str, guid: &str, link: &str, date: &str) -> String {
    format!(
        "<item><title>{title}</title><guid isPermaLink=\"false\">{guid}</guid><link>{link}</link><pubDate>{date}</pubDate><description>Notes on {guid}.</description></item>"
    )
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Workshop Journal</title><id>urn:journal</id><updated>2030-02-20T00:00:00Z</updated>
  <entry><title>Notes from the retro</title><id>urn:journal:1</id>
    <link href="https://journal.example/retro"/><updated>2030-02-20T00:00:00Z</updated>
    <summary>What the team kept and what it dropped.</summary></entry>
  <entry><title>Small pull requests</title><id>urn:journal:2</id>
    <link href="https://journal.example/small-prs"/><updated>2029-12-01T00:00:00Z</updated></entry>
</feed>"#;

const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "Reading List",
  "items": [
    {"id": "j-1", "url": "https://reading.example/estimates", "title": "On estimates",
     "content_text": "Why ranges beat single numbers.", "date_published": "2030-02-10T12:00:00Z"}
  ]
}"#;
