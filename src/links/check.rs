//! `dispatch check`: every link of an issue checked before it is sent.
//!
//! Redirects are followed here rather than by reqwest, so each hop is counted and the
//! editor learns when a link has moved for good. Requests are limited in total and per
//! host, so an issue with many links to one site does not hammer it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;
use reqwest::header::LOCATION;
use reqwest::{Method, Response, StatusCode, Url, redirect};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use super::feeds::{USER_AGENT, describe_error};

/// Of a successful GET, only this much body is read: enough to see the server means it.
const BODY_PEEK_BYTES: usize = 4 * 1024;

/// What checking one link found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkReport {
    pub url: String,
    pub outcome: Outcome,
}

/// What became of one link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Answered 2xx (or a 3xx without a Location) without redirecting.
    Ok { status: u16 },
    /// Reached a working page after `hops` redirects. `permanent` is true when every hop
    /// was 301 or 308, so the link can safely be replaced by `final_url`.
    Redirected {
        status: u16,
        final_url: String,
        hops: usize,
        permanent: bool,
    },
    /// Answered 4xx or 5xx, directly or at the end of its redirects.
    Broken { status: u16 },
    /// No usable answer: DNS, timeout, refused connection, TLS, a redirect loop or too
    /// many redirects, an invalid URL.
    Failed { reason: String },
    /// Not checked: mailto:, tel:, relative URLs, other schemes.
    Skipped { reason: String },
}

/// Limits for [`check_links`]; the defaults suit an issue of a few dozen links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Requests under way at once, in total.
    pub concurrency: usize,
    /// Requests under way at once to any one host.
    pub per_host: usize,
    /// Limit on each request, body included.
    pub timeout: Duration,
    /// Redirects followed before a link is reported as failed.
    pub max_redirects: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            concurrency: 16,
            per_host: 2,
            timeout: Duration::from_secs(10),
            max_redirects: 10,
        }
    }
}

/// A client for [`check_links`]: no automatic redirects (`check_links` follows and
/// records them itself), `dispatch/<version>` User-Agent, `timeout` for each request.
pub fn check_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    crate::install_crypto_provider();
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(redirect::Policy::none())
        .gzip(true)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()?;
    Ok(client)
}

/// Checks each distinct URL once and reports them in the order they first appear in
/// `urls` (a URL listed twice is reported once).
///
/// `client` should be built by [`check_client`]: one that follows redirects itself hides
/// them from the report.
pub async fn check_links(
    client: &reqwest::Client,
    urls: &[String],
    opts: &CheckOptions,
) -> Vec<LinkReport> {
    let limits = Limits::new(opts);
    let checks = distinct(urls).into_iter().map(|url| {
        let limits = &limits;
        async move {
            let outcome = check_one(client, url, opts, limits).await;
            LinkReport {
                url: url.to_string(),
                outcome,
            }
        }
    });
    // All checks start at once but wait on the limits, so a busy host holds back only
    // its own links; join_all keeps the input order.
    join_all(checks).await
}

fn distinct(urls: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    urls.iter()
        .map(String::as_str)
        .filter(|url| seen.insert(*url))
        .collect()
}

async fn check_one(
    client: &reqwest::Client,
    raw: &str,
    opts: &CheckOptions,
    limits: &Limits,
) -> Outcome {
    match checkable_url(raw) {
        Ok(url) => follow(client, url, opts, limits).await,
        Err(outcome) => outcome,
    }
}

/// Parses a link, or says why it is not checked.
pub fn checkable_url(raw: &str) -> Result<Url, Outcome> {
    let trimmed = raw.trim();
    if !has_scheme(trimmed) {
        return Err(skipped("relative URL"));
    }
    let url = Url::parse(trimmed).map_err(|e| Outcome::Failed {
        reason: format!("invalid URL: {e}"),
    })?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        "mailto" => Err(skipped("mailto: link")),
        "tel" => Err(skipped("tel: link")),
        other => Err(skipped(&format!("unsupported scheme {other}:"))),
    }
}

fn skipped(reason: &str) -> Outcome {
    Outcome::Skipped {
        reason: reason.to_string(),
    }
}

/// True when `s` starts with `scheme:` (RFC 3986: a letter, then letters, digits, + - .).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where one hop of a link led.
enum Hop {
    Redirect { to: Url, permanent: bool },
    Final(StatusCode),
}

/// Follows a link through its redirects to a final answer.
async fn follow(
    client: &reqwest::Client,
    start: Url,
    opts: &CheckOptions,
    limits: &Limits,
) -> Outcome {
    let mut current = start;
    let mut seen = HashSet::from([current.clone()]);
    let mut hops = 0;
    let mut permanent = true;
    loop {
        let hop = match probe(client, &current, opts, limits).await {
            Ok(hop) => hop,
            Err(reason) => return Outcome::Failed { reason },
        };
        let (next, hop_permanent) = match hop {
            Hop::Final(status) => return final_outcome(status, current, hops, permanent),
            Hop::Redirect { to, permanent } => (to, permanent),
        };
        hops += 1;
        permanent &= hop_permanent;
        if let Err(reason) = admit_redirect(&next, hops, opts.max_redirects, &mut seen) {
            return Outcome::Failed { reason };
        }
        current = next;
    }
}

/// Refuses a redirect that goes too far, loops, or leaves the web.
fn admit_redirect(
    next: &Url,
    hops: usize,
    max_redirects: usize,
    seen: &mut HashSet<Url>,
) -> Result<(), String> {
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("redirect to unsupported scheme {}:", next.scheme()));
    }
    if hops > max_redirects {
        return Err(format!("too many redirects (more than {max_redirects})"));
    }
    if !seen.insert(next.clone()) {
        return Err(format!("redirect loop at {next}"));
    }
    Ok(())
}

fn final_outcome(status: StatusCode, url: Url, hops: usize, permanent: bool) -> Outcome {
    let code = status.as_u16();
    if status.is_client_error() || status.is_server_error() {
        Outcome::Broken { status: code }
    } else if hops > 0 {
        Outcome::Redirected {
            status: code,
            final_url: url.to_string(),
            hops,
            permanent,
        }
    } else {
        Outcome::Ok { status: code }
    }
}

/// One hop: HEAD, falling back to GET where servers mishandle HEAD.
async fn probe(
    client: &reqwest::Client,
    url: &Url,
    opts: &CheckOptions,
    limits: &Limits,
) -> Result<Hop, String> {
    let _permits = limits
        .acquire(url.host_str().unwrap_or_default())
        .await
        .map_err(|e| format!("request limiter closed: {e}"))?;
    let head = send(client, Method::HEAD, url, opts.timeout).await;
    let response = match head {
        Ok(response) if !head_refused(response.status()) => response,
        Err(err) if !odd_failure(&err) => return Err(describe_error(&err, Some(opts.timeout))),
        _ => send(client, Method::GET, url, opts.timeout)
            .await
            .map_err(|err| describe_error(&err, Some(opts.timeout)))?,
    };
    read_hop(response, url, opts.timeout).await
}

/// Statuses with which servers commonly refuse HEAD while GET works.
fn head_refused(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED | StatusCode::FORBIDDEN
    )
}

/// A HEAD failure that GET may not share: anything but a timeout or an unreachable host,
/// which GET would only repeat more slowly.
fn odd_failure(err: &reqwest::Error) -> bool {
    !err.is_timeout() && !err.is_connect()
}

async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &Url,
    timeout: Duration,
) -> Result<Response, reqwest::Error> {
    super::exchange(client.request(method, url.clone()).timeout(timeout)).await
}

/// Turns a response into a hop; a successful GET has the start of its body read.
async fn read_hop(mut response: Response, url: &Url, timeout: Duration) -> Result<Hop, String> {
    let status = response.status();
    if status.is_redirection()
        && let Some(to) = redirect_target(&response, url)?
    {
        let permanent = matches!(
            status,
            StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
        );
        return Ok(Hop::Redirect { to, permanent });
    }
    if status.is_success() {
        peek_body(&mut response)
            .await
            .map_err(|err| describe_error(&err, Some(timeout)))?;
    }
    Ok(Hop::Final(status))
}

/// The Location of a redirect, resolved against the URL that sent it.
fn redirect_target(response: &Response, url: &Url) -> Result<Option<Url>, String> {
    let Some(location) = response.headers().get(LOCATION) else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|_| "redirect Location is not text".to_string())?;
    url.join(location.trim())
        .map(Some)
        .map_err(|e| format!("bad redirect Location {location:?}: {e}"))
}

/// Reads up to [`BODY_PEEK_BYTES`] of the body; the rest is dropped with the response.
/// HEAD responses have no body, so this returns at once for them.
async fn peek_body(response: &mut Response) -> Result<(), reqwest::Error> {
    let mut read = 0;
    while read < BODY_PEEK_BYTES {
        match response.chunk().await? {
            Some(chunk) => read += chunk.len(),
            None => break,
        }
    }
    Ok(())
}

/// Request slots: a total, and a semaphore per host made on first use.
struct Limits {
    total: Semaphore,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held for the length of one request.
struct Permits<'a> {
    _host: OwnedSemaphorePermit,
    _total: SemaphorePermit<'a>,
}

impl Limits {
    fn new(opts: &CheckOptions) -> Self {
        // Zero would block every request forever; read it as "one at a time".
        Limits {
            total: Semaphore::new(opts.concurrency.max(1)),
            per_host: opts.per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the host's slot first, then a total one, so waiting on a busy host
    /// never holds a slot that another host could use.
    async fn acquire(&self, host: &str) -> Result<Permits<'_>, AcquireError> {
        let host = self.host_semaphore(host).acquire_owned().await?;
        let total = self.total.acquire().await?;
        Ok(Permits {
            _host: host,
            _total: total,
        })
    }

    fn host_semaphore(&self, host: &str) -> Arc<Semaphore> {
        // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is usable.
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        hosts
            .entry(host.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode as Code, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What the test server saw.
    #[derive(Default)]
    struct Seen {
        base: Mutex<String>,
        once_hits: AtomicUsize,
        nohead_heads: AtomicUsize,
        nohead_gets: AtomicUsize,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        /// Host header → (requests under way, most ever under way).
        per_host: Mutex<HashMap<String, (usize, usize)>>,
    }

    type Shared = State<Arc<Seen>>;

    fn redirect(status: Code, to: String) -> impl IntoResponse {
        (status, [(header::LOCATION, to)])
    }

    async fn r2(State(seen): Shared) -> impl IntoResponse {
        // An absolute Location, where r1 sends a relative one.
        let base = seen.base.lock().unwrap().clone();
        redirect(Code::FOUND, format!("{base}/final"))
    }

    async fn once(State(seen): Shared) -> &'static str {
        seen.once_hits.fetch_add(1, Ordering::SeqCst);
        "ok"
    }

    async fn nohead_get(State(seen): Shared) -> &'static str {
        seen.nohead_gets.fetch_add(1, Ordering::SeqCst);
        "body"
    }

    async fn nohead_head(State(seen): Shared) -> Code {
        seen.nohead_heads.fetch_add(1, Ordering::SeqCst);
        Code::METHOD_NOT_ALLOWED
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(3)).await;
        "late"
    }

    /// Counts requests under way, in total and per Host header, while it sleeps.
    async fn counted(State(seen): Shared, headers: HeaderMap, Path(_n): Path<u32>) -> &'static str {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        {
            let mut hosts = seen.per_host.lock().unwrap();
            let (current, max) = hosts.entry(host.clone()).or_default();
            *current += 1;
            *max = (*max).max(*current);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some((current, _)) = seen.per_host.lock().unwrap().get_mut(&host) {
            *current -= 1;
        }
        "counted"
    }

    async fn serve() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/once", get(once))
            .route(
                "/r1",
                get(|| async { redirect(Code::MOVED_PERMANENTLY, "/r2".into()) }),
            )
            .route("/r2", get(r2))
            .route("/final", get(|| async { "final" }))
            .route(
                "/moved",
                get(|| async { redirect(Code::PERMANENT_REDIRECT, "final".into()) }),
            )
            .route(
                "/loop-a",
                get(|| async { redirect(Code::FOUND, "/loop-b".into()) }),
            )
            .route(
                "/loop-b",
                get(|| async { redirect(Code::FOUND, "/loop-a".into()) }),
            )
            .route("/nohead", get(nohead_get).head(nohead_head))
            .route("/error", get(|| async { Code::INTERNAL_SERVER_ERROR }))
            .route("/slow", get(slow))
            .route("/counted/{n}", get(counted))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *seen.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, seen)
    }

    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    fn options(timeout_secs: u64) -> CheckOptions {
        CheckOptions {
            timeout: Duration::from_secs(timeout_secs),
            ..CheckOptions::default()
        }
    }

    fn failed(reason: &str) -> Outcome {
        Outcome::Failed {
            reason: reason.to_string(),
        }
    }

    #[tokio::test]
    async fn every_kind_of_link_gets_its_outcome_in_input_order() {
        let (base, seen) = serve().await;
        let port = closed_port().await;
        let at = |path: &str| format!("{base}{path}");
        let cases = [
            (at("/once"), Outcome::Ok { status: 200 }),
            (
                at("/r1"),
                Outcome::Redirected {
                    status: 200,
                    final_url: at("/final"),
                    hops: 2,
                    permanent: false,
                },
            ),
            (
                at("/moved"),
                Outcome::Redirected {
                    status: 200,
                    final_url: at("/final"),
                    hops: 1,
                    permanent: true,
                },
            ),
            (at("/nohead"), Outcome::Ok { status: 200 }),
            (at("/error"), Outcome::Broken { status: 500 }),
            (at("/missing"), Outcome::Broken { status: 404 }),
            (at("/slow"), failed("timed out after 1s")),
            (
                format!("http://127.0.0.1:{port}/"),
                failed("connection refused"),
            ),
            (
                "https://nonexistent.invalid/page".into(),
                failed("DNS lookup failed"),
            ),
            (
                at("/loop-a"),
                failed(&format!("redirect loop at {}", at("/loop-a"))),
            ),
            ("mailto:editor@example.com".into(), skipped("mailto: link")),
            ("tel:+15550100".into(), skipped("tel: link")),
            ("/archive/12".into(), skipped("relative URL")),
            ("#top".into(), skipped("relative URL")),
            (
                "ftp://files.example/x".into(),
                skipped("unsupported scheme ftp:"),
            ),
            (
                "http://[::1/".into(),
                failed("invalid URL: invalid IPv6 address"),
            ),
        ];
        let mut urls: Vec<String> = cases.iter().map(|(url, _)| url.clone()).collect();
        // Repeats are checked once and reported once, where they first appear.
        urls.push(at("/once"));
        urls.insert(3, at("/once"));

        let client = check_client(Duration::from_secs(1)).unwrap();
        let reports = check_links(&client, &urls, &options(1)).await;

        let expected: Vec<LinkReport> = cases
            .into_iter()
            .map(|(url, outcome)| LinkReport { url, outcome })
            .collect();
        assert_eq!(reports, expected);
        assert_eq!(
            seen.once_hits.load(Ordering::SeqCst),
            1,
            "a repeated link was fetched twice"
        );
        assert_eq!(seen.nohead_heads.load(Ordering::SeqCst), 1);
        assert_eq!(seen.nohead_gets.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn redirects_beyond_the_limit_fail() {
        let (base, _) = serve().await;
        let client = check_client(Duration::from_secs(5)).unwrap();
        let opts = CheckOptions {
            max_redirects: 1,
            ..options(5)
        };
        let reports = check_links(&client, &[format!("{base}/r1")], &opts).await;
        assert_eq!(
            reports[0].outcome,
            failed("too many redirects (more than 1)")
        );
    }

    #[tokio::test]
    async fn concurrency_limits_hold_per_host_and_in_total() {
        let (base, seen) = serve().await;
        // "localhost" and "127.0.0.1" reach the same server but count as two hosts.
        let other = base.replace("127.0.0.1", "localhost");
        let urls: Vec<String> = (0..8)
            .flat_map(|n| {
                [
                    format!("{base}/counted/{n}"),
                    format!("{other}/counted/{n}"),
                ]
            })
            .collect();
        let opts = CheckOptions {
            concurrency: 3,
            per_host: 2,
            ..options(5)
        };
        let client = check_client(Duration::from_secs(5)).unwrap();
        let reports = check_links(&client, &urls, &opts).await;

        assert!(
            reports
                .iter()
                .all(|r| r.outcome == Outcome::Ok { status: 200 }),
            "{reports:?}"
        );
        let hosts = seen.per_host.lock().unwrap().clone();
        assert_eq!(hosts.len(), 2, "{hosts:?}");
        for (host, (_, max)) in &hosts {
            assert!(*max <= opts.per_host, "{host} had {max} requests at once");
        }
        let max_total = seen.max_in_flight.load(Ordering::SeqCst);
        assert!(
            max_total <= opts.concurrency,
            "{max_total} requests at once"
        );
        // 16 requests of 100 ms each: the limits must not serialise them completely.
        assert!(max_total >= 2, "requests never overlapped");
    }

    #[test]
    fn schemes_are_recognised() {
        assert!(has_scheme("https://x"));
        assert!(has_scheme("svn+ssh://x"));
        assert!(!has_scheme("/a:b"));
        assert!(!has_scheme("1http://x"));
        assert!(!has_scheme("page.html"));
    }
}
