//! `config.yaml`: strict tables, parsed with line numbers, then validated key by key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A config or front-matter error that names the file, the line and the key.
#[derive(Debug, thiserror::Error)]
pub struct YamlError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl YamlError {
    /// Turns a YAML parse error into one that names the file, offsetting lines by `line_offset`
    /// (the front matter of an issue starts after its `---` line).
    pub fn from_yaml(
        file: &Path,
        source: &str,
        err: serde_saphyr::Error,
        line_offset: u64,
    ) -> Self {
        let line = err.location().map(|l| l.line()).filter(|l| *l > 0);
        let message = first_line(&err.without_snippet().to_string());
        let key = key_in_message(&message).or_else(|| line.and_then(|l| key_at_line(source, l)));
        YamlError {
            file: file.to_path_buf(),
            line: line.map(|l| l + line_offset),
            key,
            message,
        }
    }

    /// An error found after parsing, located by searching the source for the key.
    pub fn at_key(file: &Path, source: &str, key: &str, line_offset: u64, message: String) -> Self {
        YamlError {
            file: file.to_path_buf(),
            line: find_key_line(source, key).map(|l| l + line_offset),
            key: Some(key.to_string()),
            message,
        }
    }
}

/// The first line of a YAML error, without its own "at line L, column C" (relative to the
/// YAML alone; we print the file's line in front instead).
fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML");
    match line.rfind(" at line ") {
        Some(at) if line[at..].contains("column") => line[..at].to_string(),
        _ => line.to_string(),
    }
}

/// serde names the offending field in backticks: "unknown field `foo`, expected …".
fn key_in_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let key = &message[start..start + len];
    (message.contains("field") && !key.is_empty()).then(|| key.to_string())
}

fn key_at_line(source: &str, line: u64) -> Option<String> {
    let text = source
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let key = text
        .trim_start()
        .trim_start_matches("- ")
        .split(':')
        .next()?
        .trim();
    (!key.is_empty() && !key.contains(' ')).then(|| key.to_string())
}

/// Finds the 1-based line of a dotted key such as `smtp.port` (the last segment is searched
/// after the line of the previous one).
pub fn find_key_line(source: &str, dotted: &str) -> Option<u64> {
    let mut from = 0usize;
    let mut found = None;
    for part in dotted.split('.') {
        let needle = format!("{part}:");
        let (index, _) = source
            .lines()
            .enumerate()
            .skip(from)
            .find(|(_, l)| l.trim_start().starts_with(&needle))?;
        from = index + 1;
        found = Some(index as u64 + 1);
    }
    found
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub newsletter: Newsletter,
    #[serde(default)]
    pub smtp: Option<Smtp>,
    #[serde(default)]
    pub imap: Option<Imap>,
    #[serde(default)]
    pub host: Option<Host>,
    #[serde(default)]
    pub feeds: Vec<String>,
    #[serde(default = "default_database")]
    pub database: PathBuf,
    #[serde(default = "default_output")]
    pub output: PathBuf,
}

fn default_database() -> PathBuf {
    PathBuf::from("subscribers.db")
}

fn default_output() -> PathBuf {
    PathBuf::from("build")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Newsletter {
    pub title: String,
    #[serde(default)]
    pub tagline: Option<String>,
    pub url: String,
    pub from: String,
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
    /// Subject line template; `{title}`, `{newsletter}`, `{issue}` (V5N2), `{volume}`, `{number}`.
    #[serde(default = "default_subject")]
    pub subject: String,
}

pub const DEFAULT_SUBJECT: &str = "{title}. {newsletter} {issue}";

fn default_subject() -> String {
    DEFAULT_SUBJECT.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_smtp_security")]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default = "default_connections")]
    pub connections: u32,
    #[serde(default)]
    pub rate: f64,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for each reply of the server (the end of a message gets ten times as
    /// long: see `outgoing::smtp`).
    #[serde(default = "default_smtp_timeout")]
    pub timeout: u64,
}

fn default_smtp_timeout() -> u64 {
    60
}

fn default_smtp_security() -> Security {
    Security::Starttls
}

fn default_connections() -> u32 {
    4
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_imap_security")]
    pub security: Security,
    pub username: String,
    pub password_env: String,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The authserv-id your mail server writes in `Authentication-Results`: its DKIM/SPF
    /// verdicts let an unsubscribe request without a token act at once.
    #[serde(default)]
    pub authserv_id: Option<String>,
}

fn default_imap_security() -> Security {
    Security::Tls
}

fn default_mailbox() -> String {
    "INBOX".to_string()
}

/// `host:`: the public side, `dispatch host`, run behind an HTTPS proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The public base URL readers reach the host at (default: `newsletter.url`).
    #[serde(default)]
    pub url: Option<String>,
    /// The address the host listens on; the proxy in front forwards to it.
    #[serde(default = "default_host_listen")]
    pub listen: String,
    /// Proxies whose `X-Forwarded-For` header names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Days a signup may stay unconfirmed before it is forgotten.
    #[serde(default = "default_pending_days")]
    pub pending_days: u32,
    /// Confirmation emails one address may receive per day.
    #[serde(default = "default_confirmations_per_day")]
    pub confirmations_per_day: u32,
    /// Signups one client address may post per hour.
    #[serde(default = "default_signups_per_hour")]
    pub signups_per_hour: u32,
    /// Whether a reader who confirms gets a welcome email (`welcome.html`/`welcome.txt`).
    #[serde(default = "default_welcome")]
    pub welcome: bool,
}

fn default_welcome() -> bool {
    true
}

pub const DEFAULT_HOST_LISTEN: &str = "127.0.0.1:8080";

fn default_host_listen() -> String {
    DEFAULT_HOST_LISTEN.to_string()
}

fn default_pending_days() -> u32 {
    7
}

fn default_confirmations_per_day() -> u32 {
    3
}

fn default_signups_per_hour() -> u32 {
    20
}

impl Host {
    /// The addresses of `trusted_proxies` (validated at load).
    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }

    /// The listen address (validated at load).
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        self.listen.trim().parse().ok()
    }
}

impl Config {
    /// Reads and validates `config.yaml` of a newsletter folder.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let source = crate::fsutil::read_text(path)?;
        Ok(Self::parse(path, &source)?)
    }

    pub fn parse(path: &Path, source: &str) -> Result<Config, YamlError> {
        let config: Config =
            serde_saphyr::from_str(source).map_err(|e| YamlError::from_yaml(path, source, e, 0))?;
        config.validate(path, source)?;
        Ok(config)
    }

    fn validate(&self, path: &Path, source: &str) -> Result<(), YamlError> {
        let err = |key: &str, message: String| YamlError::at_key(path, source, key, 0, message);
        let n = &self.newsletter;
        if n.title.trim().is_empty() {
            return Err(err("newsletter.title", "must not be empty".into()));
        }
        if !(n.url.starts_with("https://") || n.url.starts_with("http://")) {
            return Err(err(
                "newsletter.url",
                format!("`{}` is not an http(s) URL", n.url),
            ));
        }
        crate::address::Mailbox::parse(&n.from)
            .map_err(|e| err("newsletter.from", e.to_string()))?;
        if let Some(reply_to) = &n.reply_to {
            crate::address::Mailbox::parse(reply_to)
                .map_err(|e| err("newsletter.reply_to", e.to_string()))?;
        }
        if let Some(message) = crate::preflight::subject_template_error(&n.subject) {
            return Err(err("newsletter.subject", message));
        }
        if let Some(url) = &n.unsubscribe_url {
            crate::outgoing::unsubscribe::Endpoint::parse(url)
                .map_err(|e| err("newsletter.unsubscribe_url", e))?;
        }
        if let Some(smtp) = &self.smtp {
            if smtp.connections == 0 || smtp.connections > 64 {
                return Err(err("smtp.connections", "must be between 1 and 64".into()));
            }
            if !(1..=3600).contains(&smtp.timeout) {
                return Err(err(
                    "smtp.timeout",
                    "must be between 1 and 3600 seconds".into(),
                ));
            }
            if !smtp.rate.is_finite() || smtp.rate < 0.0 {
                return Err(err(
                    "smtp.rate",
                    "must be 0 (no limit) or a positive number of messages per second".into(),
                ));
            }
            if smtp.username.is_some() && smtp.password_env.is_none() {
                return Err(err(
                    "smtp.password_env",
                    "is required with smtp.username: name the environment variable holding the password".into(),
                ));
            }
        }
        if let Some(id) = self.imap.as_ref().and_then(|i| i.authserv_id.as_deref())
            && (id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';'))
        {
            return Err(err(
                "imap.authserv_id",
                format!(
                    "`{id}` is not an authserv-id: write the first word of your server's Authentication-Results header, such as mx.example.com"
                ),
            ));
        }
        if let Some(host) = &self.host {
            validate_host(host, &err)?;
        }
        for (i, feed) in self.feeds.iter().enumerate() {
            if !(feed.starts_with("https://") || feed.starts_with("http://")) {
                return Err(err(
                    "feeds",
                    format!("entry {} `{feed}` is not an http(s) URL", i + 1),
                ));
            }
        }
        Ok(())
    }

    /// The address replies go to: `reply_to`, or the from address.
    pub fn reply_to(&self) -> String {
        match &self.newsletter.reply_to {
            Some(r) => r.clone(),
            None => crate::address::Mailbox::parse(&self.newsletter.from)
                .map(|m| m.email)
                .unwrap_or_default(),
        }
    }

    /// The web archive's base URL, always ending in `/`.
    pub fn base_url(&self) -> String {
        with_slash(&self.newsletter.url)
    }

    /// The public base URL of `dispatch host`, ending in `/`, when a `host:` section exists:
    /// `host.url`, or `newsletter.url`.
    pub fn host_url(&self) -> Option<String> {
        let host = self.host.as_ref()?;
        Some(match &host.url {
            Some(url) => with_slash(url),
            None => self.base_url(),
        })
    }
}

fn with_slash(url: &str) -> String {
    let url = url.trim();
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

fn validate_host(host: &Host, err: &impl Fn(&str, String) -> YamlError) -> Result<(), YamlError> {
    if let Some(url) = &host.url {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| err("host.url", format!("`{url}` is not a URL: {e}")))?;
        let loopback = parsed
            .host_str()
            .is_some_and(|h| is_loopback(h.trim_start_matches('[').trim_end_matches(']')));
        if !(parsed.scheme() == "https" || parsed.scheme() == "http" && loopback) {
            return Err(err(
                "host.url",
                format!(
                    "`{url}` must be an https URL (http is accepted on loopback only, for tests)"
                ),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(err(
                "host.url",
                format!("`{url}` must be a base URL, without `?…` or `#…`"),
            ));
        }
    }
    if host.listen_addr().is_none() {
        return Err(err(
            "host.listen",
            format!(
                "`{}` is not an address and port, such as {DEFAULT_HOST_LISTEN}",
                host.listen
            ),
        ));
    }
    for proxy in &host.trusted_proxies {
        if proxy.trim().parse::<std::net::IpAddr>().is_err() {
            return Err(err(
                "host.trusted_proxies",
                format!("`{proxy}` is not an IP address, such as 127.0.0.1"),
            ));
        }
    }
    if !(1..=365).contains(&host.pending_days) {
        return Err(err("host.pending_days", "must be between 1 and 365".into()));
    }
    if !(1..=100).contains(&host.confirmations_per_day) {
        return Err(err(
            "host.confirmations_per_day",
            "must be between 1 and 100".into(),
        ));
    }
    if !(1..=100_000).contains(&host.signups_per_hour) {
        return Err(err(
            "host.signups_per_hour",
            "must be between 1 and 100000".into(),
        ));
    }
    Ok(())
}

/// Whether a host is a loopback name or address, where `security: none` is acceptable.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "newsletter:\n  title: The Example\n  url: https://example.com/\n  from: \"Ed <ed@example.com>\"\n";

    fn parse(s: &str) -> Result<Config, YamlError> {
        Config::parse(Path::new("config.yaml"), s)
    }

    #[test]
    fn parses_minimal_config_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.newsletter.title, "The Example");
        assert_eq!(c.database, PathBuf::from("subscribers.db"));
        assert_eq!(c.output, PathBuf::from("build"));
        assert_eq!(c.reply_to(), "ed@example.com");
        assert_eq!(c.newsletter.subject, DEFAULT_SUBJECT);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse(&format!("{GOOD}  colour: blue\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colour"), "{e}");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().starts_with("config.yaml:5"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let src = format!("{GOOD}smtp:\n  host: h\n  port: many\n");
        let e = parse(&src).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert_eq!(e.key.as_deref(), Some("port"), "{e}");
    }

    #[test]
    fn missing_field_is_named() {
        let e = parse("newsletter:\n  title: T\n  url: https://x/\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("from"), "{e}");
    }

    #[test]
    fn broken_yaml_gives_line() {
        let e = parse("newsletter:\n  title: [unclosed\n  url: x\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn bad_value_names_dotted_key_line() {
        let src = format!("{GOOD}smtp:\n  host: h\n  port: 25\n  connections: 0\n");
        let e = parse(&src).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("smtp.connections"));
        assert_eq!(e.line, Some(8));
    }

    #[test]
    fn an_unsubscribe_url_serve_could_not_answer_names_the_key() {
        for url in ["http://x/u", "https://x/u?list=1", "https://x/u#end"] {
            let src = format!("{GOOD}  unsubscribe_url: {url}\n");
            let e = parse(&src).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("newsletter.unsubscribe_url"), "{e}");
            assert_eq!(e.line, Some(5), "{e}");
            assert!(
                e.to_string()
                    .starts_with("config.yaml:5: `newsletter.unsubscribe_url`"),
                "{e}"
            );
        }
    }

    #[test]
    fn an_authserv_id_is_one_word() {
        let imap = "imap:\n  host: h\n  port: 993\n  username: u\n  password_env: P\n";
        let ok = parse(&format!("{GOOD}{imap}  authserv_id: mx.example.com\n")).unwrap();
        let id = ok.imap.and_then(|i| i.authserv_id);
        assert_eq!(id.as_deref(), Some("mx.example.com"));
        let e = parse(&format!(
            "{GOOD}{imap}  authserv_id: \"mx.example.com; dkim=pass\"\n"
        ))
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("imap.authserv_id"), "{e}");
    }

    #[test]
    fn smtp_timeout_defaults_to_a_minute_and_is_checked() {
        let src = format!("{GOOD}smtp:\n  host: h\n  port: 25\n");
        assert_eq!(parse(&src).unwrap().smtp.unwrap().timeout, 60);
        let src = format!("{GOOD}smtp:\n  host: h\n  port: 25\n  timeout: 0\n");
        let e = parse(&src).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("smtp.timeout"));
        assert!(e.to_string().contains("between 1 and 3600 seconds"), "{e}");
    }

    #[test]
    fn host_section_defaults_and_checks() {
        let c = parse(&format!("{GOOD}host: {{}}\n")).unwrap();
        assert_eq!(c.host_url().as_deref(), Some("https://example.com/"));
        let host = c.host.unwrap();
        assert_eq!(host.listen_addr(), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!((host.pending_days, host.confirmations_per_day), (7, 3));
        assert!(host.welcome);
        let off = parse(&format!("{GOOD}host:\n  welcome: false\n")).unwrap();
        assert!(!off.host.unwrap().welcome);
        let e = parse(&format!("{GOOD}host:\n  welcome: maybe\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("welcome"), "{e}");
        assert!(parse(GOOD).unwrap().host_url().is_none());
        let c = parse(&format!(
            "{GOOD}host:\n  url: http://127.0.0.1:9000\n  trusted_proxies: [127.0.0.1, \"::1\"]\n"
        ))
        .unwrap();
        assert_eq!(c.host_url().as_deref(), Some("http://127.0.0.1:9000/"));
        assert_eq!(c.host.unwrap().trusted_proxies().len(), 2);
        for (bad, key) in [
            ("  url: http://news.example.com/\n", "host.url"),
            ("  url: https://news.example.com/?a=1\n", "host.url"),
            ("  listen: 8080\n", "host.listen"),
            ("  trusted_proxies: [proxy.local]\n", "host.trusted_proxies"),
            ("  pending_days: 0\n", "host.pending_days"),
        ] {
            let e = parse(&format!("{GOOD}host:\n{bad}")).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
            assert_eq!(e.line, Some(6), "{e}");
        }
    }

    #[test]
    fn bad_from_address_is_rejected() {
        let e = parse("newsletter:\n  title: T\n  url: https://x/\n  from: nobody\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("newsletter.from"));
        assert_eq!(e.line, Some(4));
    }
}
