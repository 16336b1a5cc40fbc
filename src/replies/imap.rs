//! The editor's IMAP mailbox, read-only: EXAMINE, UID SEARCH and `BODY.PEEK[]`, so no flag
//! is ever set and nothing is moved or deleted.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use futures::TryStreamExt as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, BufWriter, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{Imap, Security};
use crate::tls::{self, TlsSetupError};

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors the editor can act on, each saying what to check.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error(
        "the IMAP password is not set: put it in the environment variable {0} (named by imap.password_env)"
    )]
    PasswordUnset(String),
    #[error("cannot connect to the IMAP server {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error(
        "the TLS certificate of {server} is not trusted ({reason}); if the server has its own certificate authority, name its certificate in imap.ca_file"
    )]
    Untrusted { server: String, reason: String },
    #[error("TLS with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error(transparent)]
    TlsSetup(#[from] TlsSetupError),
    #[error(
        "{server} does not accept STARTTLS ({reason}); use imap.security: tls with its TLS port"
    )]
    NoStarttls { server: String, reason: String },
    #[error(
        "{server} refused the login of {username} ({reason}); check imap.username and the password in ${password_env}"
    )]
    LoginRefused {
        server: String,
        username: String,
        password_env: String,
        reason: String,
    },
    #[error(
        "the mailbox \"{mailbox}\" cannot be opened on {server} ({reason}); check imap.mailbox"
    )]
    MailboxMissing {
        server: String,
        mailbox: String,
        reason: String,
    },
    #[error("{server} reports no UIDVALIDITY for \"{mailbox}\": it cannot be read incrementally")]
    NoUidValidity { server: String, mailbox: String },
    #[error("IMAP error from {server}: {source}")]
    Protocol {
        server: String,
        source: async_imap::error::Error,
    },
}

/// Where and how to connect; built from `imap:` in config.yaml and the password's variable.
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_env: String,
    password: String,
    pub mailbox: String,
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("mailbox", &self.mailbox)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl Settings {
    /// Reads the password from the environment; `base` resolves a relative `ca_file`.
    pub fn from_config(imap: &Imap, base: &Path) -> Result<Settings, ImapError> {
        let password = std::env::var(&imap.password_env)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ImapError::PasswordUnset(imap.password_env.clone()))?;
        Ok(Settings {
            host: imap.host.clone(),
            port: imap.port,
            security: imap.security,
            username: imap.username.clone(),
            password_env: imap.password_env.clone(),
            password,
            mailbox: imap.mailbox.clone(),
            ca_file: imap.ca_file.as_ref().map(|p| base.join(p)),
        })
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The key under which the mailbox's UIDVALIDITY and last UID are kept: another account
    /// or server is another mailbox.
    pub fn mailbox_key(&self) -> String {
        format!(
            "imap://{}@{}:{}/{}",
            self.username, self.host, self.port, self.mailbox
        )
    }
}

/// A connection to the server: plain TCP or TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The async-imap client writes a command in several pieces and then flushes: a buffer makes
/// each command one packet.
type Buffered = BufWriter<Stream>;

/// What EXAMINE tells about the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    pub uidvalidity: u32,
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// A logged-in session with the mailbox examined (read-only).
pub struct Mailbox {
    session: Session<Buffered>,
    server: String,
    pub status: MailboxStatus,
}

/// Connects, logs in and examines the configured mailbox.
pub async fn open(settings: &Settings) -> Result<Mailbox, ImapError> {
    let client = tokio::time::timeout(CONNECT_TIMEOUT, connect(settings))
        .await
        .map_err(|_| ImapError::Connect {
            server: settings.server(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        })??;
    let mut session = login(client, settings).await?;
    let server = settings.server();
    let examined = session
        .examine(&settings.mailbox)
        .await
        .map_err(|e| match e {
            async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => {
                ImapError::MailboxMissing {
                    server: server.clone(),
                    mailbox: settings.mailbox.clone(),
                    reason: server_text(&reason),
                }
            }
            other => protocol(&server, other),
        })?;
    let uidvalidity = examined
        .uid_validity
        .ok_or_else(|| ImapError::NoUidValidity {
            server: server.clone(),
            mailbox: settings.mailbox.clone(),
        })?;
    Ok(Mailbox {
        session,
        server,
        status: MailboxStatus {
            uidvalidity,
            uid_next: examined.uid_next,
            exists: examined.exists,
        },
    })
}

/// The human part of a NO or BAD answer (async-imap formats the whole response).
fn server_text(reason: &str) -> String {
    let text = reason
        .split_once("information: Some(\"")
        .or_else(|| reason.split_once("info: Some(\""))
        .and_then(|(_, rest)| rest.split_once("\")"))
        .map_or(reason, |(text, _)| text);
    crate::address::escape_controls(text.trim()).into_owned()
}

fn protocol(server: &str, source: async_imap::error::Error) -> ImapError {
    ImapError::Protocol {
        server: server.to_string(),
        source,
    }
}

async fn connect(settings: &Settings) -> Result<Client<Buffered>, ImapError> {
    let server = settings.server();
    let connect_error = |source| ImapError::Connect {
        server: server.clone(),
        source,
    };
    let tcp = TcpStream::connect((settings.host.as_str(), settings.port))
        .await
        .map_err(connect_error)?;
    tcp.set_nodelay(true).map_err(connect_error)?;
    match settings.security {
        Security::Tls => {
            let tls = handshake(tcp, settings).await?;
            let mut client = Client::new(BufWriter::new(tls));
            read_greeting(&mut client, &server).await?;
            Ok(client)
        }
        Security::Starttls => {
            let mut client = Client::new(BufWriter::new(Stream::Plain(tcp)));
            read_greeting(&mut client, &server).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError::NoStarttls {
                    server: server.clone(),
                    reason: server_text(&e.to_string()),
                })?;
            let Stream::Plain(tcp) = client.into_inner().into_inner() else {
                unreachable!("the connection is plain until STARTTLS");
            };
            // No greeting follows STARTTLS.
            Ok(Client::new(BufWriter::new(handshake(tcp, settings).await?)))
        }
        Security::None => {
            let mut client = Client::new(BufWriter::new(Stream::Plain(tcp)));
            read_greeting(&mut client, &server).await?;
            Ok(client)
        }
    }
}

async fn handshake(tcp: TcpStream, settings: &Settings) -> Result<Stream, ImapError> {
    let server = settings.server();
    let config = tls::client_config(settings.ca_file.as_deref())?;
    let name = ServerName::try_from(settings.host.clone()).map_err(|_| ImapError::Tls {
        server: server.clone(),
        reason: format!("`{}` is not a host name TLS can check", settings.host),
    })?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| match tls::certificate_error(&source) {
            Some(reason) => ImapError::Untrusted {
                server: server.clone(),
                reason: tls::describe_certificate(reason),
            },
            None => ImapError::Tls {
                server: server.clone(),
                reason: match tls::rustls_error(&source) {
                    Some(tls) => tls::describe(tls),
                    None => source.to_string(),
                },
            },
        })?;
    Ok(Stream::Tls(Box::new(tls)))
}

async fn read_greeting(client: &mut Client<Buffered>, server: &str) -> Result<(), ImapError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(protocol(server, async_imap::error::Error::ConnectionLost)),
        Err(e) => Err(ImapError::Connect {
            server: server.to_string(),
            source: e,
        }),
    }
}

async fn login(
    client: Client<Buffered>,
    settings: &Settings,
) -> Result<Session<Buffered>, ImapError> {
    client
        .login(&settings.username, &settings.password)
        .await
        .map_err(|(e, _)| match e {
            async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => {
                ImapError::LoginRefused {
                    server: settings.server(),
                    username: settings.username.clone(),
                    password_env: settings.password_env.clone(),
                    reason: server_text(&reason),
                }
            }
            other => protocol(&settings.server(), other),
        })
}

impl Mailbox {
    /// The UIDs above `last_uid`, ascending. `UID SEARCH UID n:*` also answers the highest UID
    /// when it is below `n`: filtered out here.
    pub async fn uids_after(&mut self, last_uid: u32) -> Result<Vec<u32>, ImapError> {
        let next = last_uid.saturating_add(1);
        if self.status.exists == 0 || self.status.uid_next.is_some_and(|n| n <= next) {
            return Ok(Vec::new());
        }
        let found = self
            .session
            .uid_search(format!("UID {next}:*"))
            .await
            .map_err(|e| protocol(&self.server, e))?;
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > last_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The raw messages of `uids` (ascending), without setting `\Seen`. A message expunged in
    /// the meantime is simply missing from the answer.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        let (Some(first), Some(last)) = (uids.first(), uids.last()) else {
            return Ok(Vec::new());
        };
        let server = self.server.clone();
        let stream = self
            .session
            .uid_fetch(format!("{first}:{last}"), "(UID BODY.PEEK[])")
            .await
            .map_err(|e| protocol(&server, e))?;
        let fetched: Vec<_> = stream
            .try_collect()
            .await
            .map_err(|e| protocol(&server, e))?;
        let mut messages: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .filter(|(uid, _)| (*first..=*last).contains(uid))
            .collect();
        messages.sort_unstable_by_key(|(uid, _)| *uid);
        messages.dedup_by_key(|(uid, _)| *uid);
        Ok(messages)
    }

    /// Says goodbye; a failure here loses nothing.
    pub async fn logout(mut self) {
        let _ = self.session.logout().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_the_human_part() {
        assert_eq!(
            server_text(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_text(
                r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: Nope") }"#
            ),
            "Mailbox doesn't exist: Nope"
        );
        assert_eq!(server_text("plain words"), "plain words");
    }

    #[test]
    fn settings_never_show_the_password() {
        let imap = Imap {
            host: "imap.example.com".into(),
            port: 993,
            security: Security::Tls,
            username: "ed".into(),
            password_env: "DISPATCH_TEST_UNSET_VARIABLE_FOR_SETTINGS".into(),
            mailbox: "INBOX".into(),
            ca_file: None,
            authserv_id: None,
        };
        let err = Settings::from_config(&imap, Path::new(".")).unwrap_err();
        assert!(matches!(err, ImapError::PasswordUnset(_)), "{err}");
        let settings = Settings {
            host: imap.host.clone(),
            port: imap.port,
            security: imap.security,
            username: imap.username.clone(),
            password_env: imap.password_env.clone(),
            password: "hunter2".into(),
            mailbox: imap.mailbox.clone(),
            ca_file: None,
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
