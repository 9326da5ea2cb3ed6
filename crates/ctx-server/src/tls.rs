//! HTTPS: the server's certificate chain and key, loaded once at start into a rustls
//! acceptor that [`crate::accept`] wraps around accepted connections.
//!
//! rustls with the `ring` provider: a memory-safe TLS stack with no OpenSSL to install,
//! and `ring` builds with the C compiler alone (aws-lc-rs would also need cmake).

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert and --tls-key go together: give both or neither")]
    Incomplete,
    #[error("cannot read the TLS certificate {}: {source}", path.display())]
    Cert { path: PathBuf, source: pem::Error },
    #[error("no certificate in {} (expected PEM `BEGIN CERTIFICATE` blocks)", path.display())]
    NoCert { path: PathBuf },
    #[error("cannot read the TLS private key {}: {source}", path.display())]
    Key { path: PathBuf, source: pem::Error },
    #[error("unusable TLS certificate or key (do they belong together?): {0}")]
    Config(#[from] rustls::Error),
}

/// The acceptor for `cert` (a PEM chain, leaf first) and `key` (PEM, PKCS#8, PKCS#1 or
/// SEC1); `None` when neither is set (plain HTTP).
pub(crate) fn acceptor(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err(TlsError::Incomplete),
    };
    let cert_error = |source| TlsError::Cert {
        path: cert.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(cert_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_error)?;
    if chain.is_empty() {
        return Err(TlsError::NoCert {
            path: cert.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_owned(),
        source,
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    // The server speaks HTTP/1.1 only; saying so lets clients that offer h2 fall back.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// The first byte of every TLS connection: a handshake record.
pub(crate) const HANDSHAKE_RECORD: u8 = 0x16;

/// Sent, then the connection closed, when a plain HTTP request arrives on the TLS port:
/// a clear answer instead of a reset that looks like a network fault.
pub(crate) const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
content-type: application/json\r\n\
content-length: 87\r\n\
connection: close\r\n\
\r\n\
{\"status\":\"error\",\"error\":\"this server speaks HTTPS: use https:// (or wss:// for /ws)\"}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_has_a_correct_content_length() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let declared: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|n| n.parse().ok())
            .expect("content-length");
        assert_eq!(declared, body.len());
        let answer: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(answer["status"], "error");
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        assert!(matches!(
            acceptor(Some(Path::new("cert.pem")), None),
            Err(TlsError::Incomplete)
        ));
        assert!(matches!(acceptor(None, None), Ok(None)));
    }
}
