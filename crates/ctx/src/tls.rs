//! TLS for the client side (`ctx get/set/...`, `ctx watch`): which servers to trust, and
//! what to say when a handshake fails.
//!
//! Trusted roots are the system's store plus `--cacert PEM`. The system store
//! (rustls-native-certs reads what curl and the OS trust, e.g. /etc/ssl/certs) is kept
//! current by the OS and holds a company's own CA once an administrator installs it;
//! webpki-roots would freeze Mozilla's list into the binary at build time instead.
//! Roots are loaded only for `https://`/`wss://` targets, so plain HTTP pays nothing.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

/// A client configuration trusting the system's roots and the certificates in `cacert`.
/// Errors are one line, ready to print.
pub fn client_config(cacert: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries in the system store are skipped, as curl does: one bad file
    // there must not stop every connection.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = cacert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read --cacert {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "no certificate in --cacert {} (expected PEM `BEGIN CERTIFICATE` blocks)",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("unusable certificate in --cacert {}: {e}", path.display()))?;
        }
    }
    Ok(Arc::new(with_roots(roots)?))
}

/// A configuration for a plain-HTTP target: never used for a handshake, so it trusts
/// nothing and loads nothing.
pub fn unused_config() -> Result<Arc<rustls::ClientConfig>, String> {
    Ok(Arc::new(with_roots(RootCertStore::empty())?))
}

fn with_roots(roots: RootCertStore) -> Result<rustls::ClientConfig, String> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// When `err` (anywhere in its chain) is a failed TLS handshake: what went wrong and
/// what to do, in one line.
pub fn describe_failure(err: &(dyn Error + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidCertificate(_) => format!(
                    "the server's certificate is not trusted ({tls}); pass --cacert PEM with the CA that signed it (a self-signed certificate must not be marked as a CA: see docs/serve.md)"
                ),
                rustls::Error::InvalidMessage(_) => {
                    format!(
                        "TLS handshake failed ({tls}); is the server serving HTTPS? If not, use http://"
                    )
                }
                _ => format!("TLS handshake failed ({tls})"),
            });
        }
        // io::Error::source skips the error it wraps (and the connector wraps an
        // io::Error in another): look inside explicitly.
        current = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    None
}
