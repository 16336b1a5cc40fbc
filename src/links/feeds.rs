//! `dispatch links`: fetch the editor's feeds and offer their entries as a Markdown list.
//!
//! Every feed is fetched on its own: one that is down, slow or malformed becomes a
//! [`FeedFailure`] while the others still come through.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use reqwest::{StatusCode, Url, redirect};

/// Sent with every request, so feed owners can tell who is fetching.
pub const USER_AGENT: &str = concat!("dispatch/", env!("CARGO_PKG_VERSION"));

/// How many feeds are fetched at once.
const FEED_CONCURRENCY: usize = 8;
/// Redirects followed before a feed is given up on.
const MAX_REDIRECTS: usize = 10;
/// A feed larger than this is refused rather than held in memory.
const MAX_FEED_BYTES: usize = 10 * 1024 * 1024;
/// Length, in characters, at which a summary is cut.
const SUMMARY_CHARS: usize = 200;

/// One entry offered to the editor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedEntry {
    /// Stable key: the entry's id when the feed gives one, else its link.
    pub id: String,
    pub title: String,
    pub url: String,
    /// Plain text, HTML stripped, cut to about 200 characters on a word boundary.
    pub summary: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// The feed's title, or its host when the feed has none.
    pub source: String,
}

/// A feed that could not be read, with a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedFailure {
    pub url: String,
    pub reason: String,
}

/// Why one feed could not be read; its `Display` is the reason shown to the editor.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("invalid URL: {0}")]
    BadUrl(String),
    #[error("HTTP {0}")]
    Status(StatusCode),
    /// Shown with the time waited, which only the caller of the fetch knows.
    #[error("timed out")]
    TimedOut,
    #[error("{0}")]
    Request(String),
    #[error("feed larger than {} MiB", MAX_FEED_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("not a feed: {0}")]
    NotAFeed(feed_rs::parser::ParseFeedError),
}

/// A client for fetching feeds: `dispatch/<version>` User-Agent, at most 10 redirects,
/// gzip, and `timeout` for each whole request.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    crate::install_crypto_provider();
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(redirect::Policy::limited(MAX_REDIRECTS))
        .gzip(true)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()?;
    Ok(client)
}

/// Fetches every feed in `urls`, at most eight at once, and returns their entries
/// published at or after `since` along with the feeds that failed.
///
/// Entries with no date are kept: they cannot be judged against `since`. The order is
/// fixed: by the feed's place in `urls`, then newest first (undated last), then title.
pub async fn fetch_feeds(
    client: &reqwest::Client,
    urls: &[String],
    since: Option<DateTime<Utc>>,
    timeout: Duration,
) -> (Vec<FeedEntry>, Vec<FeedFailure>) {
    let mut results: Vec<(usize, Result<Vec<FeedEntry>, FeedFailure>)> =
        stream::iter(urls.iter().enumerate())
            .map(
                |(index, url)| async move { (index, fetch_one(client, url, since, timeout).await) },
            )
            .buffer_unordered(FEED_CONCURRENCY)
            .collect()
            .await;
    // Feeds finish in any order; sorting by input position makes the output repeatable.
    results.sort_by_key(|(index, _)| *index);

    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for (_, result) in results {
        match result {
            Ok(mut feed_entries) => {
                sort_entries(&mut feed_entries);
                entries.extend(feed_entries);
            }
            Err(failure) => failures.push(failure),
        }
    }
    (entries, failures)
}

/// Renders entries as a Markdown list, one `- [Title](url) — summary (source)` per line.
///
/// Feed text is untrusted: Markdown and HTML specials are escaped so that no entry can
/// break the list, forge a link or inject markup.
pub fn to_markdown(entries: &[FeedEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&markdown_line(entry));
        out.push('\n');
    }
    out
}

fn markdown_line(entry: &FeedEntry) -> String {
    let mut line = format!(
        "- [{}]({})",
        escape_markdown(&entry.title),
        escape_link_target(&entry.url)
    );
    if let Some(summary) = entry.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        line.push_str(" — ");
        line.push_str(&escape_markdown(summary));
    }
    line.push_str(&format!(" ({})", escape_markdown(&entry.source)));
    line
}

/// Keeps template tags apart in feed text: a word joiner (U+2060, written as an entity the
/// editor can see) between `{{`, `{%`, `{#` and their closers, so the text reads the same but
/// no template engine, and no check for leftover template syntax, takes it for a tag.
const TAG_BREAK: &str = "&#8288;";

/// Whether `a` then `b` open or close a template tag.
fn is_tag_pair(a: char, b: char) -> bool {
    matches!((a, b), ('{', '{' | '%' | '#') | ('}' | '%' | '#', '}'))
}

/// Escapes characters that Markdown or HTML would act on, breaks up template tags, and folds
/// line breaks into spaces so the text stays inside its list item.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = None;
    for c in collapse_whitespace(text).chars() {
        if previous.is_some_and(|p| is_tag_pair(p, c)) {
            out.push_str(TAG_BREAK);
        }
        if matches!(
            c,
            '\\' | '[' | ']' | '*' | '_' | '`' | '<' | '>' | '(' | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// Percent-encodes what would end or break a Markdown link destination, and the braces of
/// template tags (the same URL to a server).
fn escape_link_target(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            ' ' => out.push_str("%20"),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Fetches and parses one feed; errors carry the feed's URL and a readable reason.
async fn fetch_one(
    client: &reqwest::Client,
    url: &str,
    since: Option<DateTime<Utc>>,
    timeout: Duration,
) -> Result<Vec<FeedEntry>, FeedFailure> {
    // The whole download (connect, headers, body) runs under the limit the editor set.
    let fetched = tokio::time::timeout(timeout, download(client, url)).await;
    let outcome = match fetched {
        Ok(Ok((final_url, body))) => parse_feed(&final_url, &body, since),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(FetchError::TimedOut),
    };
    outcome.map_err(|err| FeedFailure {
        url: url.to_string(),
        reason: match err {
            FetchError::TimedOut => timed_out(timeout),
            other => other.to_string(),
        },
    })
}

/// Downloads the raw body (after redirects); raw bytes let feed-rs honour the XML
/// encoding declaration itself.
async fn download(client: &reqwest::Client, url: &str) -> Result<(Url, Vec<u8>), FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
    let mut response = client.get(parsed).send().await.map_err(request_failure)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let final_url = response.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_failure)? {
        if body.len() + chunk.len() > MAX_FEED_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((final_url, body))
}

fn request_failure(err: reqwest::Error) -> FetchError {
    if err.is_timeout() {
        return FetchError::TimedOut;
    }
    FetchError::Request(describe_error(&err, None))
}

/// A readable reason for a failed request: "DNS lookup failed", "connection refused",
/// "timed out after 10s", "TLS error: …", or the innermost cause.
///
/// `timeout` is the limit the request ran under, when the caller knows it.
pub(super) fn describe_error(err: &reqwest::Error, timeout: Option<Duration>) -> String {
    if err.is_timeout() {
        return match timeout {
            Some(limit) => timed_out(limit),
            None => "timed out".to_string(),
        };
    }
    if let Some(reason) = connection_reason(err) {
        return reason;
    }
    if err.is_redirect() {
        return "too many redirects".to_string();
    }
    innermost_message(err)
}

fn timed_out(after: Duration) -> String {
    format!("timed out after {}", format_duration(after))
}

/// Whole seconds from one second up, milliseconds below.
fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{}s", d.as_secs_f64().round())
    } else {
        format!("{}ms", d.as_millis() / 10 * 10)
    }
}

fn error_chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
}

/// Recognises the failures people meet most: DNS, refused or reset connections, TLS.
fn connection_reason(err: &reqwest::Error) -> Option<String> {
    for cause in error_chain(err) {
        if let Some(io_err) = cause.downcast_ref::<io::Error>() {
            match io_err.kind() {
                io::ErrorKind::ConnectionRefused => return Some("connection refused".into()),
                io::ErrorKind::ConnectionReset => return Some("connection reset".into()),
                _ => {}
            }
        }
        if let Some(tls_err) = cause.downcast_ref::<rustls::Error>() {
            return Some(format!("TLS error: {}", crate::tls::describe(tls_err)));
        }
        // The resolver's error types are private to hyper-util and reqwest; their
        // messages are the only mark they leave.
        let text = cause.to_string();
        if text == "dns error" || text == "error resolving DNS" {
            return Some("DNS lookup failed".into());
        }
    }
    None
}

fn innermost_message(err: &reqwest::Error) -> String {
    error_chain(err)
        .last()
        .map(|cause| cause.to_string())
        .unwrap_or_else(|| err.to_string())
}

/// Parses a feed body into entries; `base` resolves relative links inside it.
fn parse_feed(
    base: &Url,
    body: &[u8],
    since: Option<DateTime<Utc>>,
) -> Result<Vec<FeedEntry>, FetchError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id marks "the feed gave none", so the link can stand in for it.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(body).map_err(FetchError::NotAFeed)?;
    let source = feed
        .title
        .as_ref()
        .map(text_of)
        .filter(|t| !t.is_empty())
        .or_else(|| base.host_str().map(str::to_string))
        .unwrap_or_else(|| base.to_string());
    let entries = feed
        .entries
        .iter()
        .filter_map(|entry| convert_entry(entry, base, &source))
        .filter(|entry| is_recent(entry, since))
        .collect();
    Ok(entries)
}

fn is_recent(entry: &FeedEntry, since: Option<DateTime<Utc>>) -> bool {
    match (since, entry.published) {
        (Some(since), Some(published)) => published >= since,
        _ => true,
    }
}

/// Builds an entry; one without a usable web link is dropped, as it cannot be offered.
fn convert_entry(entry: &feed_rs::model::Entry, base: &Url, source: &str) -> Option<FeedEntry> {
    let url = entry_link(entry, base)?;
    let title = entry
        .title
        .as_ref()
        .map(text_of)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| url.clone());
    let id = if entry.id.trim().is_empty() {
        url.clone()
    } else {
        entry.id.trim().to_string()
    };
    Some(FeedEntry {
        id,
        title,
        url,
        summary: entry_summary(entry),
        published: entry.published.or(entry.updated),
        source: source.to_string(),
    })
}

/// The entry's page: its "alternate" link (or one with no rel), http or https only, so a
/// `javascript:` or `data:` link from a hostile feed never reaches the newsletter.
fn entry_link(entry: &feed_rs::model::Entry, base: &Url) -> Option<String> {
    let preferred = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"));
    let others = entry.links.iter();
    preferred
        .chain(others)
        .filter_map(|link| base.join(link.href.trim()).ok())
        .find(|url| matches!(url.scheme(), "http" | "https"))
        .map(|url| url.to_string())
}

/// The entry's summary, or the start of its content when the summary is missing or empty.
fn entry_summary(entry: &feed_rs::model::Entry) -> Option<String> {
    let summary = entry.summary.as_ref().map(|t| t.content.as_str());
    let content = entry.content.as_ref().and_then(|c| c.body.as_deref());
    [summary, content]
        .into_iter()
        .flatten()
        .map(|raw| collapse_whitespace(&html_to_text(raw)))
        .find(|plain| !plain.is_empty())
        .map(|plain| shorten(&plain, SUMMARY_CHARS))
}

/// Plain text of a feed text field; HTML only when the feed says it is HTML.
fn text_of(text: &feed_rs::model::Text) -> String {
    let is_html = text.content_type.subty().as_str().contains("html");
    if is_html {
        collapse_whitespace(&html_to_text(&text.content))
    } else {
        collapse_whitespace(&text.content)
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` characters (plus the ellipsis), on a word boundary when
/// there is one in the second half.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let kept = match cut.rfind(' ') {
        Some(space) if space >= cut.len() / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    let kept = kept.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
    format!("{kept}…")
}

/// Strips tags (dropping script and style content) and decodes character references.
///
/// Summaries only need readable text, not structure, so a small scanner will do. A `<`
/// that does not open a tag, as in "a < b", is kept.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&crate::html::decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        let opens_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        let Some(gt) = after.find('>').filter(|_| opens_tag) else {
            out.push('<');
            rest = after;
            continue;
        };
        let tag = &after[..gt];
        rest = skip_raw_text(tag, &after[gt + 1..]);
        // Tags separate words ("<p>a</p><p>b</p>" reads "a b").
        out.push(' ');
    }
    out.push_str(&crate::html::decode_entities(rest));
    out
}

/// After a `<script>` or `<style>` tag, skips to the end of its closing tag.
fn skip_raw_text<'a>(tag: &str, rest: &'a str) -> &'a str {
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if name != "script" && name != "style" {
        return rest;
    }
    let closing = format!("</{name}");
    let lower = rest.to_ascii_lowercase();
    match lower.find(&closing) {
        Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
        None => "",
    }
}

/// Orders one feed's entries newest first, undated last, then by title.
fn sort_entries(entries: &mut [FeedEntry]) {
    entries.sort_by(|a, b| {
        b.published
            .cmp(&a.published)
            .then_with(|| a.title.cmp(&b.title))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use chrono::TimeZone;
    use std::sync::{Arc, Mutex};

    const RSS2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Rust Weekly</title><link>https://rw.example/</link><description>News</description>
  <item><title>Old post</title><link>https://rw.example/old</link><guid>rw-old</guid>
    <pubDate>Mon, 01 Jan 2024 09:00:00 GMT</pubDate><description>old news</description></item>
  <item><title>New post</title><link>https://rw.example/new</link><guid>rw-new</guid>
    <pubDate>Wed, 01 May 2024 09:00:00 GMT</pubDate>
    <description>&lt;p&gt;Hello &amp;amp; &lt;b&gt;welcome&lt;/b&gt;&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description></item>
  <item><title>&lt;script&gt;x&lt;/script&gt; [a](b)</title><link>/hostile</link>
    <pubDate>Tue, 02 Apr 2024 09:00:00 GMT</pubDate></item>
  <item><title>Evil</title><link>javascript:alert(1)</link></item>
</channel></rss>"#;

    const RSS1: &str = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/">
    <title>RDF News</title><link>https://rdf.example/</link><description>d</description>
    <items><rdf:Seq><rdf:li resource="https://rdf.example/one"/><rdf:li resource="https://rdf.example/two"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example/one"><title>RDF one</title><link>https://rdf.example/one</link>
    <description>First RDF item</description><dc:date>2024-03-01T10:00:00Z</dc:date></item>
  <item rdf:about="https://rdf.example/two"><title>RDF two</title><link>https://rdf.example/two</link>
    <dc:date>2024-03-02T10:00:00Z</dc:date></item>
</rdf:RDF>"#;

    const RSS091: &str = r#"<?xml version="1.0"?>
<rss version="0.91"><channel>
  <title>Old School</title><link>https://old.example/</link><description>d</description><language>en</language>
  <item><title>Zeta</title><link>https://old.example/z</link><description>zzz</description></item>
  <item><title>Alpha</title><link>https://old.example/a</link></item>
</channel></rss>"#;

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Blog</title><id>urn:atom-blog</id><updated>2024-04-11T00:00:00Z</updated>
  <entry><title type="html">Atom &lt;em&gt;first&lt;/em&gt;</title><id>urn:atom:1</id>
    <link href="https://atom.example/1"/><updated>2024-04-10T00:00:00Z</updated><summary>Sum one</summary></entry>
  <entry><title>Atom second</title><id>urn:atom:2</id>
    <link rel="enclosure" href="https://atom.example/2.mp3"/><link rel="alternate" href="https://atom.example/2"/>
    <published>2024-02-01T00:00:00Z</published><updated>2024-04-11T00:00:00Z</updated>
    <content type="html">&lt;p&gt;Content only&lt;/p&gt;</content></entry>
</feed>"#;

    // An empty title: the source falls back to the host.
    const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "",
  "home_page_url": "https://json.example/",
  "items": [
    {"id": "j1", "url": "https://json.example/1", "title": "Json one",
     "content_text": "word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word",
     "date_published": "2024-04-05T12:00:00Z"}
  ]
}"#;

    const BROKEN: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title><item><title>x</item></channel>"#;

    #[derive(Default)]
    struct Seen {
        user_agent: Mutex<Option<String>>,
    }

    fn xml(body: &'static str) -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "application/xml")], body)
    }

    async fn rss2(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> impl IntoResponse {
        let agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        *seen.user_agent.lock().unwrap() = agent;
        xml(RSS2)
    }

    async fn slow() -> impl IntoResponse {
        tokio::time::sleep(Duration::from_secs(3)).await;
        xml(RSS091)
    }

    /// Serves the test feeds on 127.0.0.1; returns the base URL and what the server saw.
    async fn serve() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let app = Router::new()
            .route("/rss2.xml", get(rss2))
            .route("/rss1.rdf", get(|| async { xml(RSS1) }))
            .route("/rss091.xml", get(|| async { xml(RSS091) }))
            .route("/atom.xml", get(|| async { xml(ATOM) }))
            .route(
                "/feed.json",
                get(|| async { ([(header::CONTENT_TYPE, "application/feed+json")], JSON_FEED) }),
            )
            .route("/broken.xml", get(|| async { xml(BROKEN) }))
            .route("/slow.xml", get(slow))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), seen)
    }

    /// A local port with nothing listening on it.
    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    fn feed_urls(base: &str, paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| format!("{base}{p}")).collect()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn titles(entries: &[FeedEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.title.as_str()).collect()
    }

    #[tokio::test]
    async fn every_format_parses_and_failures_are_reported_by_url() {
        let (base, seen) = serve().await;
        let port = closed_port().await;
        let mut urls = feed_urls(
            &base,
            &[
                "/rss2.xml",
                "/rss1.rdf",
                "/broken.xml",
                "/rss091.xml",
                "/missing.xml",
            ],
        );
        urls.push(format!("http://127.0.0.1:{port}/feed.xml"));
        urls.extend(feed_urls(&base, &["/atom.xml", "/slow.xml", "/feed.json"]));
        urls.push("http://nonexistent.invalid/feed.xml".to_string());

        let client = client(Duration::from_secs(1)).unwrap();
        let (entries, failures) = fetch_feeds(&client, &urls, None, Duration::from_secs(1)).await;

        assert_eq!(
            titles(&entries),
            [
                "New post",
                "<script>x</script> [a](b)",
                "Old post",
                "RDF two",
                "RDF one",
                "Alpha",
                "Zeta",
                "Atom first",
                "Atom second",
                "Json one",
            ]
        );
        let reasons: Vec<(&str, &str)> = failures
            .iter()
            .map(|f| (f.url.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0].0, urls[2]);
        assert!(reasons[0].1.starts_with("not a feed: "), "{}", reasons[0].1);
        assert_eq!(reasons[1], (urls[4].as_str(), "HTTP 404 Not Found"));
        assert_eq!(reasons[2], (urls[5].as_str(), "connection refused"));
        assert_eq!(reasons[3], (urls[7].as_str(), "timed out after 1s"));
        assert_eq!(reasons[4], (urls[9].as_str(), "DNS lookup failed"));

        assert_eq!(seen.user_agent.lock().unwrap().as_deref(), Some(USER_AGENT));
        assert!(USER_AGENT.starts_with("dispatch/"));
    }

    #[tokio::test]
    async fn entries_carry_ids_summaries_dates_and_sources() {
        let (base, _) = serve().await;
        let urls = feed_urls(
            &base,
            &[
                "/rss2.xml",
                "/rss1.rdf",
                "/rss091.xml",
                "/atom.xml",
                "/feed.json",
            ],
        );
        let client = client(Duration::from_secs(5)).unwrap();
        let (entries, failures) = fetch_feeds(&client, &urls, None, Duration::from_secs(5)).await;
        assert!(failures.is_empty(), "{failures:?}");
        let by_title = |title: &str| entries.iter().find(|e| e.title == title).unwrap();

        let new = by_title("New post");
        assert_eq!(new.id, "rw-new");
        assert_eq!(new.url, "https://rw.example/new");
        assert_eq!(new.summary.as_deref(), Some("Hello & welcome"));
        assert_eq!(new.published, Some(utc(2024, 5, 1, 9)));
        assert_eq!(new.source, "Rust Weekly");

        // No guid: the link, resolved against the feed's URL, is the key.
        let hostile = by_title("<script>x</script> [a](b)");
        assert_eq!(hostile.url, format!("{base}/hostile"));
        assert_eq!(hostile.id, hostile.url);
        assert!(
            entries.iter().all(|e| e.title != "Evil"),
            "javascript: link offered"
        );

        let rdf = by_title("RDF one");
        assert_eq!(rdf.published, Some(utc(2024, 3, 1, 10)));
        assert_eq!(rdf.summary.as_deref(), Some("First RDF item"));
        assert_eq!(rdf.source, "RDF News");

        let zeta = by_title("Zeta");
        assert_eq!((zeta.published, zeta.source.as_str()), (None, "Old School"));
        assert_eq!(zeta.id, "https://old.example/z");

        let atom = by_title("Atom second");
        assert_eq!(atom.id, "urn:atom:2");
        assert_eq!(atom.url, "https://atom.example/2");
        assert_eq!(atom.summary.as_deref(), Some("Content only"));
        assert_eq!(atom.published, Some(utc(2024, 2, 1, 0)));
        assert_eq!(by_title("Atom first").published, Some(utc(2024, 4, 10, 0)));

        let json = by_title("Json one");
        assert_eq!(json.source, "127.0.0.1");
        let summary = json.summary.as_deref().unwrap();
        assert!(summary.ends_with("word…"), "{summary}");
        assert!(summary.chars().count() <= SUMMARY_CHARS + 1, "{summary}");
    }

    #[tokio::test]
    async fn since_keeps_newer_and_undated_entries() {
        let (base, _) = serve().await;
        let urls = feed_urls(
            &base,
            &[
                "/rss2.xml",
                "/rss1.rdf",
                "/rss091.xml",
                "/atom.xml",
                "/feed.json",
            ],
        );
        let client = client(Duration::from_secs(5)).unwrap();
        let (entries, _) = fetch_feeds(
            &client,
            &urls,
            Some(utc(2024, 4, 1, 0)),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            titles(&entries),
            [
                "New post",
                "<script>x</script> [a](b)",
                "Alpha",
                "Zeta",
                "Atom first",
                "Json one",
            ]
        );
    }

    fn entry(title: &str, url: &str, summary: Option<&str>, source: &str) -> FeedEntry {
        FeedEntry {
            id: url.to_string(),
            title: title.to_string(),
            url: url.to_string(),
            summary: summary.map(str::to_string),
            published: None,
            source: source.to_string(),
        }
    }

    #[test]
    fn markdown_escapes_hostile_titles() {
        let entries = [
            entry(
                "<script>x</script> [a](b)",
                "https://e.example/p",
                None,
                "Feed",
            ),
            entry(
                "Plain *bold* _it_ `code`",
                "https://e.example/a b(c)",
                Some("line one\n\nline two"),
                "Some [feed]",
            ),
        ];
        assert_eq!(
            to_markdown(&entries),
            "- [\\<script\\>x\\</script\\> \\[a\\]\\(b\\)](https://e.example/p) (Feed)\n\
             - [Plain \\*bold\\* \\_it\\_ \\`code\\`](https://e.example/a%20b%28c%29) — line one line two (Some \\[feed\\])\n"
        );
    }

    #[test]
    fn template_tags_from_feeds_are_broken_up() {
        let entries = [entry(
            "Tera: {{ unsubscribe_url }}, {% include \"x\" %} and {# #} {{{",
            "https://e.example/p?q={{x}}",
            Some("{%raw%}"),
            "{{feed}}",
        )];
        assert_eq!(
            to_markdown(&entries),
            "- [Tera: {&#8288;{ unsubscribe\\_url }&#8288;}, {&#8288;% include \"x\" %&#8288;} and {&#8288;# #&#8288;} {&#8288;{&#8288;{](https://e.example/p?q=%7B%7Bx%7D%7D) — {&#8288;%raw%&#8288;} ({&#8288;{feed}&#8288;})\n"
        );
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            collapse_whitespace(&html_to_text(
                "<p>A &amp; B</p><STYLE>p{}</STYLE><p>1 < 2 &#8212; &#x2019;&bogus;</p>"
            )),
            "A & B 1 < 2 — ’&bogus;"
        );
    }

    #[test]
    fn summaries_are_cut_on_a_word_boundary() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("alpha beta gamma", 12), "alpha beta…");
        assert_eq!(shorten("abcdefghijklmnop", 5), "abcde…");
    }
}
