//! `dispatch host`: the newsletter's public side, run behind an HTTPS proxy. It serves the
//! built web archive from memory ([`archive`]), takes signups and confirms them (double
//! opt-in, [`signup`]), sends the confirmation and welcome mails from a queue in the database
//! ([`queue`], [`mail`]), and answers the one-click unsubscribe of every issue (the route
//! `dispatch serve` also answers, `serve::unsubscribe`).
//!
//! Everything faces the internet: the listener's limits (`serve::Limits`: header and request
//! timeouts, a connection cap), a body limit on every POST, a per-client signup limit
//! ([`client`]), security headers on every answer, no state change on GET, and one access-log
//! line per request that names neither the client nor a token.

pub mod archive;
pub mod client;
pub mod mail;
pub mod queue;
pub mod signup;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use tokio::sync::Notify;

use crate::newsletter::Newsletter;
use crate::outgoing::unsubscribe::{Endpoint, HOST_ROUTE};
use crate::report::Reporter;
use crate::serve::Limits;
use crate::store::Store;

/// How `dispatch host` runs; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// The waits between sending attempts of a mail ([`queue::RETRY_DELAYS`]).
    pub retry_delays: Vec<Duration>,
    /// How often the archive folder is looked at for a new build.
    pub refresh: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            limits: Limits::default(),
            retry_delays: queue::RETRY_DELAYS.to_vec(),
            refresh: Duration::from_secs(1),
        }
    }
}

/// What the handlers share.
pub struct Host {
    archive: archive::Archive,
    mails: Arc<mail::Mails>,
    store: Arc<Mutex<Store>>,
    secret: Vec<u8>,
    wake: Arc<Notify>,
    limiter: client::RateLimit,
    trusted_proxies: Vec<IpAddr>,
    confirmations_per_day: u32,
    welcome: bool,
    /// Path prefixes whose rest is a token, left out of the access log.
    token_paths: Vec<String>,
    /// The path of `host.url` (`/news/`), or `/`: the proxy may pass it on or strip it, so
    /// the routes and the archive answer with and without it.
    prefix: String,
    access_log: AccessLog,
    reporter: Arc<dyn Reporter>,
}

/// Serves the newsletter in `dir` on `listen` until SIGTERM or Ctrl-C; `ready` gets the bound
/// address (tests bind port 0). One line per request goes to `access_log`; the queue's events
/// and errors go to `reporter`.
pub async fn host(
    dir: &Path,
    listen: SocketAddr,
    options: Options,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    reporter: Arc<dyn Reporter>,
    access_log: Box<dyn Write + Send>,
) -> anyhow::Result<()> {
    let newsletter = Newsletter::open(dir)?;
    let config = &newsletter.config;
    let Some(host_config) = config.host.clone() else {
        anyhow::bail!(crate::config::missing_section(
            "host",
            "url and listen (both may be left out: `host: {}` means newsletter.url and 127.0.0.1:8080)",
            None
        ));
    };
    let settings = crate::outgoing::smtp::Settings::from_config(&newsletter)
        .context("dispatch host sends confirmation emails")?;
    let mailer = crate::outgoing::smtp::Mailer::new(&settings)?;
    let from = crate::address::Mailbox::parse(&config.newsletter.from)?.email;
    let from: lettre::Address = crate::address::ascii_domain(&from)?
        .parse()
        .context("newsletter.from cannot be used as an SMTP sender")?;
    let store = newsletter.store()?;
    let secret = store.secret()?;
    let mails = Arc::new(mail::Mails::load(&newsletter, secret.clone())?);
    mails.check()?;
    let store = Arc::new(Mutex::new(store));
    let wake = Arc::new(Notify::new());

    let prefix = config
        .host_url()
        .and_then(|u| url::Url::parse(&u).ok())
        .map_or_else(|| "/".to_string(), |u| u.path().to_string());
    let mut unsubscribe_routes = vec![HOST_ROUTE.to_string()];
    let mut token_paths = vec!["/confirm/".to_string(), "/unsubscribe/".to_string()];
    if prefix != "/" {
        token_paths.push(format!("{prefix}confirm/"));
        token_paths.push(format!("{prefix}unsubscribe/"));
        unsubscribe_routes.push(format!("{prefix}unsubscribe/{{token}}"));
    }
    if let Some(endpoint) = Endpoint::of(config) {
        let route = endpoint.route();
        if !unsubscribe_routes.contains(&route) {
            token_paths.push(route.trim_end_matches("{token}").to_string());
            unsubscribe_routes.push(route);
        }
    }
    let (log_out, log_flusher) = AccessLog::new(access_log);
    let state = Arc::new(Host {
        archive: archive::Archive::load(&newsletter.output_dir().join("web")),
        mails: mails.clone(),
        store: store.clone(),
        secret,
        wake: wake.clone(),
        limiter: client::RateLimit::per_hour(host_config.signups_per_hour),
        trusted_proxies: host_config.trusted_proxies(),
        confirmations_per_day: host_config.confirmations_per_day,
        welcome: host_config.welcome,
        token_paths,
        prefix: prefix.clone(),
        access_log: log_out,
        reporter: reporter.clone(),
    });
    let page_mails = mails.clone();
    let one_click = crate::serve::unsubscribe::router(
        &unsubscribe_routes,
        newsletter.database_path(),
        reporter.clone(),
        Arc::new(move |status, title: &str, text: &str, form: &str| {
            page_mails.page(status, title, text, form)
        }),
    );
    let app = router(state.clone(), one_click, &prefix);

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let worker = queue::Worker {
        store,
        mails,
        mailer,
        from,
        issues_dir: newsletter.issues_dir(),
        wake,
        retry_delays: options.retry_delays.clone(),
        pending_days: host_config.pending_days,
        reporter: reporter.clone(),
        unrecorded: Default::default(),
    };
    let worker = tokio::spawn(worker.run(stopped()));
    let refresher = {
        let state = state.clone();
        let reporter = reporter.clone();
        let stop = stopped();
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    () = &mut stop => return,
                    () = tokio::time::sleep(options.refresh) => {}
                }
                let state = state.clone();
                let reloaded = tokio::task::spawn_blocking(move || state.archive.refresh()).await;
                if reloaded.unwrap_or(false) {
                    reporter.notice("archive reloaded");
                }
            }
        })
    };
    let flusher = tokio::spawn(log_flusher.run(stopped()));
    if let Some(ready) = ready {
        let _ = ready.send(bound);
    }
    let signal = async {
        if crate::signal::stop_requested().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    crate::serve::run_listener(listener, app, options.limits, signal, STOP_GRACE).await;
    let _ = stop_tx.send(true);
    let _ = tokio::join!(worker, refresher, flusher);
    state.access_log.flush();
    Ok(())
}

/// How long a stopping host waits for the requests under way.
const STOP_GRACE: Duration = Duration::from_secs(5);

fn router(state: Arc<Host>, one_click: Router, prefix: &str) -> Router {
    let mut router = Router::new();
    let prefixes = if prefix == "/" {
        vec!["/"]
    } else {
        vec!["/", prefix]
    };
    for p in prefixes {
        router = router
            .route(
                &format!("{p}subscribe"),
                post(signup::subscribe).layer(DefaultBodyLimit::max(signup::BODY_LIMIT)),
            )
            .route(
                &format!("{p}confirm/{{token}}"),
                get(signup::confirm_page)
                    .post(signup::confirm)
                    .layer(DefaultBodyLimit::max(signup::BODY_LIMIT)),
            );
    }
    router
        .fallback(archive_file)
        .with_state(state.clone())
        .merge(one_click)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(state, log_request))
}

async fn archive_file(State(host): State<Arc<Host>>, method: Method, request: Request) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // The length a GET's 200 would carry, which HTTP asks a HEAD answer (a 304 too) to give.
    let mut length = None;
    let path = request.uri().path();
    // `/news/v1n1/` is `/v1n1/` when the proxy passed the prefix of `host.url` on.
    let path = match path.strip_prefix(host.prefix.trim_end_matches('/')) {
        Some(rest) if host.prefix != "/" && (rest.is_empty() || rest.starts_with('/')) => {
            if rest.is_empty() { "/" } else { rest }
        }
        _ => path,
    };
    let mut response = match host.archive.lookup(path) {
        archive::Lookup::File(file) => {
            length = Some(file.content_length());
            file.response(request.headers())
        }
        archive::Lookup::Redirect(to) => {
            let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(to) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, to);
            }
            r
        }
        archive::Lookup::Missing => host.mails.page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page in this newsletter.",
            "",
        ),
    };
    if method == Method::HEAD {
        use axum::body::HttpBody as _;
        if let Some(length) = length.or_else(|| response.body().size_hint().exact()) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        *response.body_mut() = axum::body::Body::empty();
    }
    response
}

/// The headers every answer carries: nothing runs scripts or loads from elsewhere but images,
/// forms post only here, no other site frames the pages, and no address with a token leaks to
/// another site as a referrer. Style attributes are allowed (not style elements): the editor's
/// Markdown tables carry their column alignment as `style="text-align:…"`, and an attribute
/// cannot load or run anything.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' https: data:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
    response
}

/// One line per request: time, method, path (tokens left out, no query), status, duration.
/// Never the client's address.
async fn log_request(State(host): State<Arc<Host>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = loggable_path(request.uri().path(), &host.token_paths);
    let response = next.run(request).await;
    host.access_log.line(format_args!(
        "{} {method} {path} {} {:.1}ms\n",
        crate::store::now(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    response
}

/// The path as logged: what follows a token route's prefix is replaced by `…`, and control
/// characters (a forged request's attempt at a fake log line) are escaped.
fn loggable_path(path: &str, token_paths: &[String]) -> String {
    let path = match token_paths.iter().find(|p| path.starts_with(p.as_str())) {
        Some(prefix) => format!("{prefix}…"),
        None => path.to_string(),
    };
    crate::address::escape_controls(&path).into_owned()
}

/// The access log: lines gathered in a buffer under a lock held only to append, written out by
/// a task every so often, so no request waits on the terminal or the disk.
struct AccessLog {
    buffer: Arc<Mutex<Vec<u8>>>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

/// The most the buffer holds between two flushes; lines past it are dropped.
const LOG_BUFFER: usize = 4 << 20;

struct LogFlusher {
    buffer: Arc<Mutex<Vec<u8>>>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl AccessLog {
    fn new(out: Box<dyn Write + Send>) -> (AccessLog, LogFlusher) {
        let buffer = Arc::new(Mutex::new(Vec::with_capacity(64 * 1024)));
        let out = Arc::new(Mutex::new(out));
        (
            AccessLog {
                buffer: buffer.clone(),
                out: out.clone(),
            },
            LogFlusher { buffer, out },
        )
    }

    fn line(&self, args: std::fmt::Arguments<'_>) {
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buffer.len() < LOG_BUFFER {
            let _ = buffer.write_fmt(args);
        }
    }

    fn flush(&self) {
        flush(&self.buffer, &self.out);
    }
}

fn flush(buffer: &Mutex<Vec<u8>>, out: &Mutex<Box<dyn Write + Send>>) {
    let lines = {
        let mut buffer = buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buffer.is_empty() {
            return;
        }
        std::mem::replace(&mut *buffer, Vec::with_capacity(64 * 1024))
    };
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = out.write_all(&lines);
    let _ = out.flush();
}

impl LogFlusher {
    async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let done = tokio::select! {
                () = &mut stop => true,
                () = tokio::time::sleep(Duration::from_millis(200)) => false,
            };
            let (buffer, out) = (self.buffer.clone(), self.out.clone());
            let _ = tokio::task::spawn_blocking(move || flush(&buffer, &out)).await;
            if done {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_control_characters_stay_out_of_the_log() {
        let prefixes = vec!["/confirm/".to_string(), "/u/".to_string()];
        assert_eq!(loggable_path("/confirm/SECRET", &prefixes), "/confirm/…");
        assert_eq!(loggable_path("/u/SECRET", &prefixes), "/u/…");
        assert_eq!(loggable_path("/v1n1/", &prefixes), "/v1n1/");
        assert!(!loggable_path("/a\nGET /forged", &prefixes).contains('\n'));
    }
}
