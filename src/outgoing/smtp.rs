//! The SMTP side of a send: lettre's async connection, configured from `smtp.*`, driven one
//! command at a time, and the sorting of its replies into what the send engine does next.
//!
//! Every reply is awaited for at most `smtp.timeout` (60 s by default: giving up on a command
//! before the message's end costs a new connection, never a double), the reply to the end
//! of a message for ten times that ([`DATA_END_FACTOR`]; 10 minutes by default, what RFC 5321
//! §4.5.3.2.6 advises: a server may check a message before it answers, and a client that gives
//! up early may have had its message delivered all the same). A connection that missed a reply
//! is out of step with its server (a late reply would be read as the answer to the next
//! command), so it is dropped at once, without QUIT, and the next message opens a new one.

use std::fmt;
use std::time::Duration;

use std::pin::Pin;

use std::task::Poll;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Noop, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::Security;
use crate::newsletter::Newsletter;

/// The reply to the end of a message is awaited this many times `smtp.timeout`.
pub const DATA_END_FACTOR: u32 = 10;

/// QUIT at the end of a run is a courtesy: nothing waits long for its answer.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// Problems with the server or its settings: the editor must act, and no recipient is at
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(
        "{}",
        crate::config::missing_section("smtp", "host, port and security", None)
    )]
    NotConfigured,
    #[error(
        "smtp.password_env names the environment variable {0}, which is not set: set it to the SMTP password"
    )]
    PasswordUnset(String),
    #[error("smtp.ca_file: {0}")]
    CaFile(#[from] crate::tls::TlsSetupError),
    #[error("the SMTP server refused the login for {user}: {reason}")]
    LoginRefused { user: String, reason: String },
    #[error("TLS handshake with {host}:{port} failed: {reason}")]
    Tls {
        host: String,
        port: u16,
        reason: String,
    },
    #[error(
        "the SMTP server {host}:{port} does not offer STARTTLS: set smtp.security to tls if it \
         expects TLS from the first byte (usually port 465), or to none for a test server on \
         this machine"
    )]
    NoStartTls { host: String, port: u16 },
    #[error("cannot connect to the SMTP server {host}:{port}: {reason}")]
    Connect {
        host: String,
        port: u16,
        reason: String,
    },
    #[error(
        "the SMTP server {host}:{port} wants a login: set smtp.username and smtp.password_env ({reason})"
    )]
    LoginRequired {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("the SMTP server {host}:{port} stopped answering: {reason}")]
    Unreachable {
        host: String,
        port: u16,
        reason: String,
    },
    #[error(
        "the SMTP server {host}:{port} took {count} messages in a row without answering their end \
         within {seconds} s: they may have been delivered, and retrying would mail them again; \
         the send stops (check the server, or raise smtp.timeout)"
    )]
    NoAnswer {
        host: String,
        port: u16,
        count: u32,
        seconds: u64,
    },
}

/// The SMTP password, kept out of every `Debug` and `Display`.
#[derive(Clone)]
struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// `smtp.*` of config.yaml, with the password read and the CA file loaded.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    password: Option<Password>,
    pub connections: u32,
    pub rate: f64,
    /// `smtp.timeout`: the wait for each reply.
    pub timeout: Duration,
    /// The certificates of `smtp.ca_file`.
    extra_roots: Vec<CertificateDer<'static>>,
}

impl Settings {
    pub fn from_config(newsletter: &Newsletter) -> Result<Settings, SmtpError> {
        let smtp = newsletter
            .config
            .smtp
            .as_ref()
            .ok_or(SmtpError::NotConfigured)?;
        let password = match (&smtp.username, &smtp.password_env) {
            (Some(_), Some(var)) => Some(Password(
                std::env::var(var).map_err(|_| SmtpError::PasswordUnset(var.clone()))?,
            )),
            _ => None,
        };
        let extra_roots = match &smtp.ca_file {
            Some(file) => crate::tls::read_certificates(&newsletter.resolve(file))?,
            None => Vec::new(),
        };
        Ok(Settings {
            host: smtp.host.clone(),
            port: smtp.port,
            security: smtp.security,
            username: smtp.username.clone(),
            password,
            connections: smtp.connections,
            rate: smtp.rate,
            timeout: Duration::from_secs(smtp.timeout),
            extra_roots,
        })
    }

    /// Why these settings deserve a warning, if they do.
    pub fn warning(&self) -> Option<String> {
        (self.security == Security::None && !crate::config::is_loopback(&self.host)).then(|| {
            format!(
                "smtp.security is none: mail and the SMTP password go to {} unencrypted; use starttls or tls for any server not on this machine",
                self.host
            )
        })
    }

    fn tls_error(&self, reason: String) -> SmtpError {
        SmtpError::Tls {
            host: self.host.clone(),
            port: self.port,
            reason,
        }
    }

    /// For STARTTLS, which lettre performs: the platform's roots plus `ca_file`.
    fn tls_parameters(&self) -> Result<TlsParameters, SmtpError> {
        let mut builder = TlsParameters::builder(self.host.clone());
        for der in &self.extra_roots {
            let cert =
                Certificate::from_der(der.to_vec()).map_err(|e| self.tls_error(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| self.tls_error(e.to_string()))
    }

    /// For implicit TLS, which we open before handing the stream to lettre: the same trust as
    /// [`Settings::tls_parameters`] (the platform verifier with `ca_file` as an extra root).
    fn tls_connector(&self) -> Result<tokio_rustls::TlsConnector, SmtpError> {
        let config = crate::tls::client_config_with(self.extra_roots.clone())
            .map_err(|e| self.tls_error(e.to_string()))?;
        Ok(tokio_rustls::TlsConnector::from(config))
    }
}

/// What became of one message.
#[derive(Debug)]
pub enum Outcome {
    Sent,
    /// The message went out but no reply to its end came: the server may have taken it.
    /// Worth trying again, at the risk of a second copy.
    InDoubt {
        error: String,
        /// The server kept the connection open and said nothing (rather than the connection
        /// breaking).
        silent: bool,
    },
    /// 4xx, or the connection failed: worth trying again.
    Deferred {
        error: String,
        /// The connection failed before the server answered (no 4xx/5xx reply).
        connection: bool,
    },
    /// 5xx, or a message the server can never take: not retried.
    Failed(String),
    /// The server refuses us (login, TLS): no recipient is at fault, the run stops.
    Refused(SmtpError),
}

/// Opens SMTP connections as `smtp.*` says: TCP without Nagle's delay, then TLS (implicit or
/// STARTTLS) and the login.
///
/// Each send worker owns one connection and keeps it for message after message. lettre's
/// pooled transport is not used: it probes every reused connection with a NOOP (one more
/// round trip per message) and its sockets keep Nagle's algorithm on, so the `.` that ends a
/// message waits for the server's delayed ACK (about 40 ms per message on Linux).
pub struct Mailer {
    host: String,
    port: u16,
    security: Security,
    starttls: Option<TlsParameters>,
    implicit_tls: Option<tokio_rustls::TlsConnector>,
    credentials: Option<(String, Credentials)>,
    hello: ClientId,
    timeout: Duration,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Result<Mailer, SmtpError> {
        let (starttls, implicit_tls) = match settings.security {
            Security::Starttls => (Some(settings.tls_parameters()?), None),
            Security::Tls => (None, Some(settings.tls_connector()?)),
            Security::None => (None, None),
        };
        let credentials = match (&settings.username, &settings.password) {
            (Some(user), Some(Password(password))) => Some((
                user.clone(),
                Credentials::new(user.clone(), password.clone()),
            )),
            _ => None,
        };
        Ok(Mailer {
            host: settings.host.clone(),
            port: settings.port,
            security: settings.security,
            starttls,
            implicit_tls,
            credentials,
            hello: ClientId::default(),
            timeout: settings.timeout,
        })
    }

    /// Opens the first connection (TLS, login) before anything is sent, so that a wrong
    /// password or an untrusted certificate stops the send with a clear error.
    pub async fn check(&self) -> Result<Connection, SmtpError> {
        let mut connection = self.connect().await.map_err(|e| match e {
            ConnectError::Setup(e) => e,
            ConnectError::Network(reason) => SmtpError::Connect {
                host: self.host.clone(),
                port: self.port,
                reason,
            },
        })?;
        match timeout(self.timeout, connection.inner.command(Noop)).await {
            Ok(_) => Ok(connection),
            Err(reason) => Err(SmtpError::Connect {
                host: self.host.clone(),
                port: self.port,
                reason: format!("the server did not answer NOOP: {}", reason.text()),
            }),
        }
    }

    /// A new connection, ready for MAIL FROM.
    pub async fn connect(&self) -> Result<Connection, ConnectError> {
        let tcp = tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| ConnectError::Network("connection timed out".into()))?
        .map_err(|e| ConnectError::Network(e.to_string()))?;
        // Commands and the message's end are small writes that must go out at once.
        tcp.set_nodelay(true)
            .map_err(|e| ConnectError::Network(e.to_string()))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.implicit_tls {
            Some(connector) => Box::new(self.implicit_handshake(connector, tcp).await?),
            None => Box::new(tcp),
        };
        let inner = timeout(
            self.timeout,
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await
        .map_err(|e| self.connect_error(e))?;
        let mut connection = Connection {
            inner,
            timeout: self.timeout,
            broken: false,
        };
        if let Some(parameters) = &self.starttls {
            if !connection.inner.can_starttls() {
                connection.close().await;
                return Err(ConnectError::Setup(SmtpError::NoStartTls {
                    host: self.host.clone(),
                    port: self.port,
                }));
            }
            timeout(
                self.timeout,
                connection.inner.starttls(parameters.clone(), &self.hello),
            )
            .await
            .map_err(|e| self.connect_error(e))?;
        }
        if let Some((user, credentials)) = &self.credentials
            && let Err(e) = timeout(
                self.timeout,
                connection
                    .inner
                    .auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
        {
            connection.broken |= e.lost();
            connection.close().await;
            return Err(self.login_error(user, e));
        }
        Ok(connection)
    }

    async fn implicit_handshake(
        &self,
        connector: &tokio_rustls::TlsConnector,
        tcp: TcpStream,
    ) -> Result<ImplicitTls, ConnectError> {
        let name = ServerName::try_from(self.host.clone()).map_err(|e| {
            ConnectError::Setup(
                self.tls_error(format!("{} is not a valid host name: {e}", self.host)),
            )
        })?;
        let handshake = tokio::time::timeout(self.timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ConnectError::Network("the TLS handshake timed out".into()))?;
        handshake
            .map(ImplicitTls)
            .map_err(|e| match crate::tls::rustls_error(&e) {
                Some(tls) => ConnectError::Setup(self.tls_error(tls_reason(tls, &self.host))),
                None => ConnectError::Network(e.to_string()),
            })
    }

    fn tls_error(&self, reason: String) -> SmtpError {
        SmtpError::Tls {
            host: self.host.clone(),
            port: self.port,
            reason,
        }
    }

    /// TLS problems are the editor's to fix; anything else on the way in may pass.
    fn connect_error(&self, e: StepError) -> ConnectError {
        match e.rustls() {
            Some(tls) => ConnectError::Setup(self.tls_error(tls_reason(tls, &self.host))),
            None => ConnectError::Network(e.text()),
        }
    }

    fn login_error(&self, user: &str, e: StepError) -> ConnectError {
        let no_mechanism = e
            .smtp()
            .is_some_and(|e| e.is_client() && e.to_string().contains("authentication mechanism"));
        let reason = if no_mechanism {
            match self.security {
                Security::None => "it offers no login method dispatch supports (PLAIN or LOGIN); many servers offer them only over TLS (smtp.security: starttls)".to_string(),
                _ => "it offers no login method dispatch supports (PLAIN or LOGIN)".to_string(),
            }
        } else {
            e.text()
        };
        ConnectError::Setup(SmtpError::LoginRefused {
            user: user.to_string(),
            reason,
        })
    }

    /// The error that stops a run when the server cannot be reached any more.
    pub fn unreachable(&self, reason: &str) -> SmtpError {
        SmtpError::Unreachable {
            host: self.host.clone(),
            port: self.port,
            reason: reason.to_string(),
        }
    }

    /// The error that stops a run when the server took `count` messages in a row without
    /// answering their end.
    pub fn no_answer(&self, count: u32) -> SmtpError {
        SmtpError::NoAnswer {
            host: self.host.clone(),
            port: self.port,
            count,
            seconds: (self.timeout * DATA_END_FACTOR).as_secs(),
        }
    }

    /// The error that stops a run when the server wants a login we do not give.
    fn login_required(&self, reason: String) -> SmtpError {
        SmtpError::LoginRequired {
            host: self.host.clone(),
            port: self.port,
            reason,
        }
    }
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// TLS, STARTTLS or the login: the editor must act; retrying will not help.
    Setup(SmtpError),
    /// The server is down, busy or the network failed: worth trying again later.
    Network(String),
}

/// One SMTP connection, reused for message after message while it stays in step with the
/// server.
pub struct Connection {
    inner: AsyncSmtpConnection,
    timeout: Duration,
    /// A reply was missed or the stream failed: what the server says next cannot be trusted
    /// to answer our next command.
    broken: bool,
}

/// Where in the transaction a step failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// MAIL, RCPT or DATA: nothing was handed over.
    Envelope,
    /// The message and its final dot: the server may have taken it.
    Message,
}

impl Connection {
    /// One SMTP transaction (MAIL, RCPT, DATA, the message). After a refusal the transaction
    /// is reset and the connection kept; after a missed reply or a broken stream it is not
    /// usable any more ([`Connection::is_usable`]) and the next message needs a new one.
    pub async fn send(&mut self, mailer: &Mailer, envelope: &Envelope, message: &[u8]) -> Outcome {
        let options = match self.mail_options(envelope, message) {
            Ok(options) => options,
            Err(reason) => return Outcome::Failed(reason),
        };
        let (stage, e) = match self.transaction(envelope, options, message).await {
            Ok(()) => return Outcome::Sent,
            Err(failed) => failed,
        };
        if e.lost() {
            // Dropped without QUIT: QUIT would wait for a reply out of step as well.
            self.broken = true;
            return match stage {
                Stage::Message => Outcome::InDoubt {
                    error: format!(
                        "no answer to the end of the message ({}): it may have been delivered",
                        e.text()
                    ),
                    silent: matches!(e, StepError::TimedOut(_)),
                },
                Stage::Envelope => classify(mailer, &e),
            };
        }
        if e.smtp().and_then(|e| e.status()).map(u16::from) == Some(421) {
            // "Service closing": the server hangs up after saying so.
            self.broken = true;
        } else if stage == Stage::Envelope {
            // The server refused MAIL, RCPT or DATA: the transaction is still open.
            if let Err(reset) = timeout(self.timeout, self.inner.command(Rset)).await {
                self.broken = true;
                tracing::debug!("RSET failed: {}", reset.text());
            }
        }
        classify(mailer, &e)
    }

    /// The MAIL parameters this message needs, or why this server cannot take it.
    fn mail_options(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Vec<MailParameter>, String> {
        let info = self.inner.server_info();
        let mut options = Vec::new();
        let non_ascii = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .find(|a: &&Address| !AsRef::<str>::as_ref(*a).is_ascii());
        if let Some(address) = non_ascii {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(format!(
                    "the address {address} has non-ASCII characters before the @, which needs \
                     a server that offers SMTPUTF8, and this one does not"
                ));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(
                    "the message has 8-bit text and the server does not offer 8BITMIME".into(),
                );
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(options)
    }

    async fn transaction(
        &mut self,
        envelope: &Envelope,
        options: Vec<MailParameter>,
        message: &[u8],
    ) -> Result<(), (Stage, StepError)> {
        let wait = self.timeout;
        let envelope_step = |e| (Stage::Envelope, e);
        timeout(
            wait,
            self.inner
                .command(Mail::new(envelope.from().cloned(), options)),
        )
        .await
        .map_err(envelope_step)?;
        for to in envelope.to() {
            timeout(wait, self.inner.command(Rcpt::new(to.clone(), vec![])))
                .await
                .map_err(envelope_step)?;
        }
        timeout(wait, self.inner.command(Data))
            .await
            .map_err(envelope_step)?;
        timeout(wait * DATA_END_FACTOR, self.inner.message(message))
            .await
            .map_err(|e| (Stage::Message, e))?;
        Ok(())
    }

    pub fn is_usable(&self) -> bool {
        !self.broken && !self.inner.has_broken()
    }

    /// Says goodbye (QUIT) if the connection is still in step, and closes.
    pub async fn close(mut self) {
        if self.is_usable() {
            let _ = timeout(QUIT_WAIT.min(self.timeout), self.inner.quit()).await;
        }
    }
}

/// Sorts a failed transaction: 5xx and client errors fail the recipient; 4xx and lost
/// connections defer it; a server that wants a login stops the run.
fn classify(mailer: &Mailer, e: &StepError) -> Outcome {
    let error = e.text();
    let Some(e) = e.smtp() else {
        return Outcome::Deferred {
            error,
            connection: true,
        };
    };
    if e.status().is_some_and(|code| u16::from(code) == 530) {
        return Outcome::Refused(mailer.login_required(error));
    }
    if e.is_permanent() || e.is_client() {
        Outcome::Failed(error)
    } else if e.is_transient() {
        Outcome::Deferred {
            error,
            connection: false,
        }
    } else {
        Outcome::Deferred {
            error,
            connection: true,
        }
    }
}

/// A step of the SMTP dialogue that failed: lettre's error, or our time limit.
#[derive(Debug)]
pub enum StepError {
    Smtp(lettre::transport::smtp::Error),
    TimedOut(Duration),
}

impl StepError {
    fn text(&self) -> String {
        match self {
            StepError::Smtp(e) => error_text(e),
            StepError::TimedOut(wait) => {
                format!("the server did not answer within {} s", wait.as_secs())
            }
        }
    }

    /// No reply came (a timeout, a broken stream, garbage): the dialogue is out of step.
    fn lost(&self) -> bool {
        self.smtp().is_none_or(|e| e.status().is_none())
    }

    fn smtp(&self) -> Option<&lettre::transport::smtp::Error> {
        match self {
            StepError::Smtp(e) => Some(e),
            StepError::TimedOut(_) => None,
        }
    }

    fn rustls(&self) -> Option<&rustls::Error> {
        self.smtp().and_then(|e| crate::tls::rustls_error(e))
    }
}

/// Runs one step of the SMTP dialogue with a time limit: lettre's async connection has none
/// once connected.
async fn timeout<T>(
    wait: Duration,
    step: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(wait, step).await {
        Ok(result) => result.map_err(StepError::Smtp),
        Err(_) => Err(StepError::TimedOut(wait)),
    }
}

/// A TLS stream opened before the SMTP greeting (`smtp.security: tls`), in the form lettre
/// takes an existing stream.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// lettre's error with its causes, on one line; the server's words (a greeting, a reply) with
/// control characters escaped, so that they cannot drive the terminal.
fn error_text(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    crate::address::escape_controls(&text.replace(['\r', '\n'], " ")).into_owned()
}

fn tls_reason(e: &rustls::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate is not valid for {host} — set smtp.host to a name the certificate lists"
        ),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        // Unknown issuer, or a signature no trusted root vouches for: both mean that nothing
        // we trust signed this certificate.
        rustls::Error::InvalidCertificate(_) => format!(
            "certificate not trusted — set smtp.ca_file to the server's certificate (or the CA that signed it) if you trust this server ({})",
            crate::tls::describe(e)
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server's answer is not TLS — is smtp.security right? Port 465 usually means tls, 587 and 25 starttls".to_string()
        }
        other => crate::tls::describe(other),
    }
}

/// The SMTP envelope of one message; a non-ASCII domain goes out in its ASCII form.
pub fn envelope(from: &Address, to: &str) -> Result<Envelope, String> {
    let to: Address = crate::address::ascii_domain(to)
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e| format!("the address {to} cannot be used in SMTP: {e}"))?;
    Envelope::new(Some(from.clone()), vec![to]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shows_in_debug() {
        let settings = Settings {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::Starttls,
            username: Some("ed".into()),
            password: Some(Password("hunter2".into())),
            connections: 1,
            rate: 0.0,
            timeout: Duration::from_secs(60),
            extra_roots: Vec::new(),
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn warns_about_plain_smtp_off_loopback() {
        let mut settings = Settings {
            host: "smtp.example.com".into(),
            port: 25,
            security: Security::None,
            username: None,
            password: None,
            connections: 1,
            rate: 0.0,
            timeout: Duration::from_secs(60),
            extra_roots: Vec::new(),
        };
        assert!(settings.warning().is_some());
        settings.host = "127.0.0.1".into();
        assert!(settings.warning().is_none());
    }

    #[test]
    fn untrusted_certificates_name_the_fix() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let found = crate::tls::rustls_error(&io).unwrap();
        assert!(tls_reason(found, "h").contains("smtp.ca_file"));
    }
}
