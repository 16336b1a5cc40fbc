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

/// What went wrong in a TLS handshake, in words for the editor.
pub fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(e) => describe_certificate(e),
        other => other.to_string(),
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
        other => rustls::Error::InvalidCertificate(other.clone()).to_string(),
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
}
