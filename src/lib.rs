//! dispatch: a newsletter publishing pipeline. Markdown issues in; email, web archive and
//! readers' replies out.

pub mod address;
pub mod build;
pub mod check;
pub mod config;
pub mod fsutil;
pub mod host;
pub mod html;
pub mod issue;
pub mod links;
pub mod newsletter;
pub mod outgoing;
pub mod preflight;
pub mod render;
pub mod replies;
pub mod report;
pub mod send;
pub mod serve;
pub mod signal;
pub mod store;
pub mod subscriber_csv;
pub mod tls;

/// Installs rustls' ring provider as the process default. reqwest, lettre and the IMAP client
/// are built without a provider of their own, so one must be in place before any TLS
/// connection or HTTP client. Safe to call any number of times.
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Err means another part of the program installed a provider first: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
