//! `dispatch serve`: a local preview of the web archive and of each email, rebuilt when an
//! issue, a template or the config changes; open pages reload themselves. It also answers the
//! one-click unsubscribe URL (RFC 8058) when `newsletter.unsubscribe_url` is set.

mod limits;
pub mod unsubscribe;

pub use limits::{Limits, run as run_listener};

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::RwLock;

use crate::newsletter::Newsletter;
use crate::report::Reporter;

/// Polls the build version and reloads the page when it changes.
const RELOAD_SCRIPT: &str = r#"<script>
(function () {
  var seen = null;
  function check() {
    fetch("/__dispatch/version", { cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (v) {
        if (seen === null) { seen = v; } else if (v !== seen) { location.reload(); }
      })
      .catch(function () {});
  }
  setInterval(check, 700);
  check();
})();
</script>"#;

/// What the server shares between requests.
pub struct Preview {
    dir: PathBuf,
    output: RwLock<PathBuf>,
    version: AtomicU64,
    last_error: RwLock<Option<String>>,
    /// The one-click route, made from `newsletter.unsubscribe_url` as the links are.
    unsubscribe_route: Option<String>,
    database: PathBuf,
    reporter: Arc<dyn Reporter>,
}

impl Preview {
    fn new(newsletter: &Newsletter, reporter: Arc<dyn Reporter>) -> Preview {
        Preview {
            dir: newsletter.dir.clone(),
            output: RwLock::new(newsletter.output_dir()),
            version: AtomicU64::new(0),
            last_error: RwLock::new(None),
            unsubscribe_route: crate::outgoing::unsubscribe::Endpoint::of(&newsletter.config)
                .map(|e| e.route()),
            database: newsletter.database_path(),
            reporter,
        }
    }

    /// Rebuilds everything; a failure is kept and shown in place of the pages.
    async fn rebuild(&self) {
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<PathBuf> {
            let newsletter = Newsletter::open(&dir)?;
            crate::build::build(&newsletter, &[])?;
            Ok(newsletter.output_dir())
        })
        .await;
        let outcome = match result {
            Ok(Ok(output)) => {
                *self.output.write().await = output;
                None
            }
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(e) => Some(format!("the build stopped: {e}")),
        };
        match &outcome {
            Some(message) => self.reporter.error(message),
            None => self.reporter.notice("rebuilt"),
        }
        *self.last_error.write().await = outcome;
        self.version.fetch_add(1, Ordering::SeqCst);
    }
}

/// Serves until the process is stopped, under `limits`. `ready` gets the bound address once
/// the first build is done (tests bind port 0); rebuilds and failed requests go to `reporter`.
pub async fn serve(
    dir: &Path,
    listen: SocketAddr,
    limits: Limits,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let preview = Arc::new(Preview::new(&newsletter, reporter));
    preview.rebuild().await;
    let _watcher = watch(&newsletter, preview.clone())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;
    if let Some(ready) = ready {
        let _ = ready.send(bound);
    }
    // Ctrl-C or SIGTERM: no new connections; the requests under way are answered (an
    // unsubscribe is recorded), for at most STOP_GRACE.
    let signal = async {
        if crate::signal::stop_requested().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    limits::run(listener, router(preview), limits, signal, STOP_GRACE).await;
    Ok(())
}

/// How long a stopping server waits for the requests under way.
const STOP_GRACE: Duration = Duration::from_secs(5);

fn router(preview: Arc<Preview>) -> Router {
    let mut router = Router::new()
        .route("/__dispatch/version", get(version))
        .route("/email/{name}", get(email));
    if let Some(route) = &preview.unsubscribe_route {
        router = router.merge(unsubscribe::router(
            std::slice::from_ref(route),
            preview.database.clone(),
            preview.reporter.clone(),
            Arc::new(|status, title: &str, text: &str, tail: &str| {
                html_page(status, title, text, tail)
            }),
        ));
    }
    router
        .fallback(get(web))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(preview)
}

/// Logs each request and its answer for `dispatch -v` (unsubscribe tokens redacted).
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let line = crate::report::redact(&format!("{} {}", request.method(), request.uri()));
    tracing::debug!("> {line}");
    let response = next.run(request).await;
    tracing::debug!("< {} for {line}", response.status());
    response
}

async fn version(State(p): State<Arc<Preview>>) -> Response {
    let mut r = p.version.load(Ordering::SeqCst).to_string().into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/email/v5n2` is the HTML a subscriber sees; `/email/v5n2.txt` its plain text.
async fn email(
    State(p): State<Arc<Preview>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let (slug, text) = match name.strip_suffix(".txt") {
        Some(slug) => (slug, true),
        None => (name.strip_suffix(".html").unwrap_or(&name), false),
    };
    let Ok(id) = slug.parse::<crate::issue::IssueId>() else {
        return not_found(&p).await;
    };
    let ext = if text { "txt" } else { "html" };
    let path = p
        .output
        .read()
        .await
        .join("email")
        .join(format!("{}.{ext}", id.slug()));
    file_response(&p, &path).await
}

async fn web(State(p): State<Arc<Preview>>, uri: Uri) -> Response {
    let Some(relative) = safe_relative(uri.path()) else {
        return not_found(&p).await;
    };
    let mut path = p.output.read().await.join("web").join(relative);
    if path.is_dir() {
        if !uri.path().ends_with('/') {
            return redirect(&folder_location(uri.path()));
        }
        path.push("index.html");
    }
    file_response(&p, &path).await
}

/// Where a folder's address without its final `/` is sent: the same path with one leading `/`,
/// since `//host/…` in a Location header would send the browser to another site.
fn folder_location(path: &str) -> String {
    format!("/{}/", path.trim_start_matches(['/', '\\']))
}

/// A request path as a path under the output folder; `None` for anything that could leave it.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let relative = PathBuf::from(decoded.trim_start_matches('/'));
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(relative)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("xml") => "application/atom+xml; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("eml") => "message/rfc822",
        _ => "application/octet-stream",
    }
}

/// While the last build failed, every page shows its error (and reloads once it is fixed).
async fn build_error(p: &Preview) -> Option<Response> {
    let error = p.last_error.read().await.clone()?;
    Some(html_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Build error",
        &error,
        RELOAD_SCRIPT,
    ))
}

async fn file_response(p: &Preview, path: &Path) -> Response {
    if let Some(error) = build_error(p).await {
        return error;
    }
    let Ok(bytes) = tokio::fs::read(path).await else {
        return not_found(p).await;
    };
    let kind = content_type(path);
    let body = if kind.starts_with("text/html") {
        with_reload_script(bytes)
    } else {
        bytes
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_reload_script(mut html: Vec<u8>) -> Vec<u8> {
    let at = find_last(&html, b"</body>").unwrap_or(html.len());
    html.splice(at..at, RELOAD_SCRIPT.bytes());
    html
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

async fn not_found(p: &Preview) -> Response {
    if let Some(error) = build_error(p).await {
        return error;
    }
    html_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in this newsletter.",
        RELOAD_SCRIPT,
    )
}

/// A small page; `text` is escaped, `tail` is our own markup placed before `</body>`.
pub(crate) fn html_page(status: StatusCode, title: &str, text: &str, tail: &str) -> Response {
    let mut body = String::new();
    body.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    let _ = pulldown_cmark_escape::escape_html(&mut body, title);
    body.push_str("</title><style>body{font:17px/1.6 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}pre{white-space:pre-wrap}button{font:inherit;padding:.5rem 1.25rem}</style></head><body><h1>");
    let _ = pulldown_cmark_escape::escape_html(&mut body, title);
    body.push_str("</h1><pre>");
    let _ = pulldown_cmark_escape::escape_html(&mut body, text);
    body.push_str("</pre>");
    body.push_str(tail);
    body.push_str("</body></html>");
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Watches the issues, the templates and the config; rebuilds after a quiet moment.
fn watch(
    newsletter: &Newsletter,
    preview: Arc<Preview>,
) -> anyhow::Result<
    notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
> {
    use notify::RecursiveMode;
    let runtime = tokio::runtime::Handle::current();
    let output = newsletter.output_dir();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        Duration::from_millis(150),
        None,
        move |result: notify_debouncer_full::DebounceEventResult| {
            let relevant = result.is_ok_and(|events| {
                events
                    .iter()
                    .filter(|e| !e.kind.is_access() && !e.kind.is_other())
                    .flat_map(|e| e.paths.iter())
                    .any(|path| !path.starts_with(&output) && !is_temporary(path))
            });
            if relevant {
                let preview = preview.clone();
                runtime.spawn(async move { preview.rebuild().await });
            }
        },
    )?;
    for (path, mode) in [
        (newsletter.issues_dir(), RecursiveMode::Recursive),
        (newsletter.templates_dir(), RecursiveMode::Recursive),
        (
            newsletter.dir.join("config.yaml"),
            RecursiveMode::NonRecursive,
        ),
    ] {
        if path.exists() {
            debouncer.watch(&path, mode)?;
        }
    }
    Ok(debouncer)
}

/// Editors' swap and backup files, and our own temporary files.
fn is_temporary(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with(".dispatch-")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.starts_with(".#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape() {
        assert_eq!(safe_relative("/v1n1/"), Some(PathBuf::from("v1n1/")));
        assert_eq!(safe_relative("/"), Some(PathBuf::from("")));
        assert!(safe_relative("/../secret").is_none());
        assert!(safe_relative("/%2e%2e/secret").is_none());
        assert!(safe_relative("/a/../../b").is_none());
    }

    #[test]
    fn folder_redirects_stay_on_this_site() {
        assert_eq!(folder_location("/v1n1"), "/v1n1/");
        assert_eq!(folder_location("//v1n1"), "/v1n1/");
        assert_eq!(
            folder_location("///evil.example/v1n1"),
            "/evil.example/v1n1/"
        );
        assert_eq!(folder_location("/\\evil.example"), "/evil.example/");
    }

    #[test]
    fn reload_script_goes_before_body_end() {
        let html = with_reload_script(b"<html><body>x</body></html>".to_vec());
        let s = String::from_utf8(html).unwrap();
        assert!(s.ends_with("</script></body></html>"), "{s}");
    }
}
