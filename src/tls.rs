//! TLS for every connection we open (SMTP, IMAP; HTTP uses the same provider): rustls with the
//! ring provider, the platform's roots, and optionally the roots of one PEM file (a self-hosted
//! server's certificate). One CA loader, one way to find the TLS error behind a failure, and one
//! description of it in the editor's words.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the CA certificate {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (expected a `-----BEGIN CERTIFICATE-----` block)")]
    Empty { path: PathBuf },
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A client configuration that trusts the platform's roots and `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let extra = match ca_file {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    Ok(client_config_with(extra)?)
}

/// A client configuration that trusts the platform's roots and `extra`.
pub fn client_config_with(
    extra: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    crate::install_crypto_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file (`smtp.ca_file`, `imap.ca_file`), at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let read_error = |source| TlsSetupError::Read {
        path: path.to_path_buf(),
        source,
    };
    let pem = std::fs::read(path).map_err(read_error)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    if certs.is_empty() {
        return Err(TlsSetupError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The rustls error behind a failed handshake. It hides inside an `io::Error`, whose `source`
/// skips the wrapped error itself, so `get_ref` is checked too.
pub fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        current = err.source();
    }
    None
}

/// The certificate problem behind a failed handshake, if that is what failed.
pub fn certificate_error(err: &std::io::Error) -> Option<&rustls::CertificateError> {
    match rustls_error(err)? {
        rustls::Error::InvalidCertificate(e) => Some(e),
        _ => None,
    }
}

/// What went wrong in a TLS handshake, in words for the editor: a sentence, never rustls's
/// debug structures (`UnsupportedSignatureAlgorithmForPublicKeyContext { … }`).
pub fn describe(err: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(e) => describe_certificate(e),
        E::NoCertificatesPresented => "the server presented no certificate".to_string(),
        E::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity) | E::PeerIncompatible(_) => {
            "the server and dispatch share no TLS version or cipher (dispatch speaks TLS 1.2 and 1.3)"
                .to_string()
        }
        E::AlertReceived(A::ProtocolVersion) => {
            "the server does not speak TLS 1.2 or 1.3, the versions dispatch accepts".to_string()
        }
        E::AlertReceived(A::UnrecognisedName) => {
            "the server does not know itself by this host name".to_string()
        }
        E::AlertReceived(alert) => format!(
            "the server ended the handshake with the TLS alert “{}”",
            plain(&format!("{alert:?}"))
        ),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server's answer is not TLS (is the port right, and the security setting?)"
                .to_string()
        }
        E::PeerMisbehaved(_) | E::InappropriateHandshakeMessage { .. } => {
            "the server broke the TLS protocol during the handshake".to_string()
        }
        E::General(text) => format!("the TLS handshake failed: {}", plain(text)),
        other => format!("the TLS handshake failed ({})", plain(&other.to_string())),
    }
}

/// Why a certificate was refused, in words for the editor.
pub fn describe_certificate(err: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match err {
        E::UnknownIssuer
        | E::BadSignature
        | E::UnsupportedSignatureAlgorithmContext { .. }
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is not signed by an authority this machine trusts".to_string()
        }
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it is not made out for this host name".to_string()
        }
        E::Expired | E::ExpiredContext { .. } => "it has expired".to_string(),
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet".to_string(),
        E::Revoked => "it was revoked".to_string(),
        E::BadEncoding => "it cannot be read (it is not a well-formed certificate)".to_string(),
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            "it is not made out for a TLS server".to_string()
        }
        E::UnknownRevocationStatus
        | E::ExpiredRevocationList
        | E::ExpiredRevocationListContext { .. } => {
            "whether it was revoked cannot be checked".to_string()
        }
        E::UnhandledCriticalExtension => {
            "it has a critical extension that cannot be checked".to_string()
        }
        E::Other(other) => format!("it was refused: {}", plain(&other.to_string())),
        _ => "it was refused by the certificate check".to_string(),
    }
}

/// A library's text without the debug structures some of them end in: what comes before the
/// first `{`, `[` or `(` that opens one.
fn plain(text: &str) -> String {
    let cut = text.find(['{', '[', '(']).unwrap_or(text.len());
    let kept = text[..cut].trim().trim_end_matches([':', ',']).trim();
    if kept.is_empty() {
        "no reason given".to_string()
    } else {
        kept.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = client_config(Some(&path)).unwrap_err();
        assert!(matches!(err, TlsSetupError::Empty { .. }), "{err}");
        let err = client_config(Some(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn the_certificate_error_is_found_inside_an_io_error() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert_eq!(
            describe(rustls_error(&io).unwrap()),
            "it is not signed by an authority this machine trusts"
        );
        assert!(certificate_error(&io).is_some());
    }

    #[test]
    fn no_tls_error_ends_in_a_debug_structure() {
        use rustls::CertificateError as C;
        let errors = [
            rustls::Error::InvalidCertificate(
                C::UnsupportedSignatureAlgorithmForPublicKeyContext {
                    signature_algorithm_id: vec![6, 8, 42, 134, 72],
                    public_key_algorithm_id: vec![6, 7, 42],
                },
            ),
            rustls::Error::InvalidCertificate(C::InvalidPurposeContext {
                required: rustls::ExtendedKeyPurpose::ServerAuth,
                presented: vec![rustls::ExtendedKeyPurpose::ClientAuth],
            }),
            rustls::Error::InvalidCertificate(C::ApplicationVerificationFailure),
            rustls::Error::AlertReceived(rustls::AlertDescription::DecodeError),
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::TooMuchEarlyDataReceived),
            rustls::Error::InvalidMessage(rustls::InvalidMessage::MissingData("x")),
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown),
        ];
        for error in errors {
            let text = describe(&error);
            assert!(
                !text.contains(['{', '[', '}', ']']) && !text.contains("Context"),
                "{error:?}: {text}"
            );
            assert!(text.len() > 10, "{error:?}: {text}");
        }
        assert_eq!(
            describe(&rustls::Error::InvalidCertificate(
                C::UnsupportedSignatureAlgorithmForPublicKeyContext {
                    signature_algorithm_id: vec![6, 8],
                    public_key_algorithm_id: vec![6, 7],
                }
            )),
            "it is not signed by an authority this machine trusts"
        );
    }
}
