//! Where the load goes: a parsed `http[s]://host:port[/base]` URL, and how to open a
//! connection to it.

use std::fmt;
use std::sync::Arc;

use hyper::HeaderMap;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_tungstenite::{Connector, MaybeTlsStream};

use crate::error::LoadError;

/// A connection to the target: plain TCP, or TLS over it for `https://`.
///
/// tokio-tungstenite's enum (the `/ws` client needs it anyway): the plain case costs
/// one predictable branch per read or write, no boxing, no dynamic dispatch.
pub(crate) type Stream = MaybeTlsStream<TcpStream>;

/// Where the load goes: an `http://` or `https://` `host:port[/base]` URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub(super) host: String,
    pub(super) port: u16,
    /// For `https://`: the TLS settings and the name the certificate must carry.
    tls: Option<TlsTarget>,
    /// Prefix prepended to every request path, without a trailing slash.
    base_path: String,
    /// Value of the `Host` header.
    pub(super) authority: HeaderValue,
    /// Sent with every request and WebSocket upgrade (`--header`, the API key).
    /// Shared: every client holds a clone of the target.
    headers: Arc<[(HeaderName, HeaderValue)]>,
    /// Every request's header lines, encoded once: without and with a JSON body.
    head_lines: Arc<[Vec<u8>; 2]>,
}

#[derive(Clone, Debug)]
struct TlsTarget {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

/// Why a connection to the target could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS handshake with {0} failed: {1} (an untrusted certificate? pass --cacert PEM)")]
    Tls(String, std::io::Error),
}

impl Target {
    /// Parses an `http://` base URL (`https://` needs [`Target::parse_with_tls`]).
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        Self::parse_with_tls(url, None)
    }

    /// Parses a base URL; `https://` needs `tls`, the client settings that say which
    /// certificates to trust (the `ctx` command builds them from the system's roots
    /// and `--cacert`).
    pub fn parse_with_tls(
        url: &str,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Target, LoadError> {
        let bad = |why: &str| LoadError::InvalidOption(format!("bad target URL {url:?}: {why}"));
        let uri: hyper::Uri = url.trim().parse().map_err(|_| bad("not a URL"))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(bad(&format!(
                    "scheme {other:?} is not supported, use http:// or https://"
                )));
            }
            None => return Err(bad("missing scheme, expected http://HOST:PORT")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("missing host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        if port == 0 {
            return Err(bad("port 0 is not a server port"));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL cannot carry a query string"));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let authority = HeaderValue::from_str(&authority)
            .map_err(|_| bad("host is not a valid header value"))?;
        let tls = match (secure, tls) {
            (false, _) => None,
            (true, None) => return Err(bad("https:// needs TLS client settings (--cacert)")),
            (true, Some(config)) => Some(TlsTarget {
                config: config.clone(),
                name: ServerName::try_from(host.clone())
                    .map_err(|_| bad("the host is not a valid TLS server name"))?,
            }),
        };
        let head_lines = head_lines(&authority, &[]);
        Ok(Target {
            host,
            port,
            tls,
            base_path,
            authority,
            headers: Arc::new([]),
            head_lines,
        })
    }

    /// The same target, with `headers` sent on every request and `/ws` upgrade.
    pub fn with_headers(mut self, headers: Vec<(HeaderName, HeaderValue)>) -> Target {
        self.head_lines = head_lines(&self.authority, &headers);
        self.headers = headers.into();
        self
    }

    /// The header lines of every request, `Name: value\r\n` each: `Host`,
    /// `User-Agent`, `Content-Type` when it carries a (JSON) body, and the
    /// user's (see [`Target::with_headers`]).
    pub(super) fn head_lines(&self, with_body: bool) -> &[u8] {
        &self.head_lines[usize::from(with_body)]
    }

    /// The headers sent on every request (see [`Target::with_headers`]).
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Opens a connection (TCP, then the TLS handshake for `https://`).
    pub(crate) async fn open(&self) -> Result<Stream, OpenError> {
        let at = || format!("{}:{}", self.host, self.port);
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| OpenError::Connect(at(), e))?;
        // Small request/response pairs: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(MaybeTlsStream::Plain(tcp)),
            Some(tls) => tokio_rustls::TlsConnector::from(tls.config.clone())
                .connect(tls.name.clone(), tcp)
                .await
                .map(MaybeTlsStream::Rustls)
                .map_err(|e| OpenError::Tls(at(), e)),
        }
    }

    /// What the WebSocket client needs for a `wss://` URL of this target.
    pub fn ws_connector(&self) -> Option<Connector> {
        self.tls
            .as_ref()
            .map(|tls| Connector::Rustls(tls.config.clone()))
    }

    fn scheme(&self, plain: &'static str, secure: &'static str) -> &'static str {
        if self.tls.is_some() { secure } else { plain }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full path for a generator path (adds the base path and a leading `/`).
    pub(super) fn full_path(&self, path: &str) -> String {
        let (base, path) = self.full_path_parts(path);
        format!("{base}/{path}")
    }

    /// [`Target::full_path`] as the base path and the path without its leading
    /// `/`s, to be joined by one `/`: for a request line written straight into
    /// a buffer (no `String` per request).
    pub(super) fn full_path_parts<'a>(&'a self, path: &'a str) -> (&'a str, &'a str) {
        (&self.base_path, path.trim_start_matches('/'))
    }

    /// The `ws://` URL of a path on this target (same host, port and base path).
    pub fn ws_url(&self, path: &str) -> String {
        // The authority was built from the parsed host and port: valid ASCII.
        let authority = self.authority.to_str().unwrap_or_default();
        let scheme = self.scheme("ws", "wss");
        format!("{scheme}://{authority}{}", self.full_path(path))
    }
}

/// The two header blocks of [`Target::head_lines`]; the user's headers replace
/// ours of the same name (a User-Agent of their own).
fn head_lines(authority: &HeaderValue, user: &[(HeaderName, HeaderValue)]) -> Arc<[Vec<u8>; 2]> {
    let build = |with_body: bool| {
        let mut map = HeaderMap::with_capacity(3 + user.len());
        map.insert(HOST, authority.clone());
        map.insert(USER_AGENT, HeaderValue::from_static("ctx-load/0.1"));
        if with_body {
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, value) in user {
            map.insert(name, value.clone());
        }
        let mut lines = Vec::new();
        for (name, value) in &map {
            lines.extend_from_slice(name.as_str().as_bytes());
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value.as_bytes());
            lines.extend_from_slice(b"\r\n");
        }
        lines
    };
    Arc::new([build(false), build(true)])
}

/// Parses a `--header 'Name: value'` argument. The value may be empty; the
/// name must be a valid header name, and `Host` is refused (the target URL
/// decides it). Values are marked sensitive (never logged): they often carry
/// credentials.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), LoadError> {
    let bad = |why: &str| LoadError::InvalidOption(format!("--header {text:?}: {why}"));
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| bad("expected 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| bad("the name is not a valid header name"))?;
    if name == hyper::header::HOST {
        return Err(bad("Host is set from the target URL"));
    }
    let mut value = HeaderValue::from_str(value.trim())
        .map_err(|_| bad("the value must be printable ASCII"))?;
    value.set_sensitive(true);
    Ok((name, value))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme("http", "https");
        if self.host.contains(':') {
            write!(
                f,
                "{scheme}://[{}]:{}{}",
                self.host, self.port, self.base_path
            )
        } else {
            write!(
                f,
                "{scheme}://{}:{}{}",
                self.host, self.port, self.base_path
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parsing() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((t.host(), t.port()), ("127.0.0.1", 8080));
        assert_eq!(t.full_path("ctx/a"), "/ctx/a");
        assert_eq!(t.full_path("/ctx/a"), "/ctx/a");
        let t = Target::parse("http://localhost:9/api/").unwrap();
        assert_eq!(t.full_path("ctx"), "/api/ctx");
        assert_eq!(t.to_string(), "http://localhost:9/api");
        assert_eq!(t.ws_url("ws"), "ws://localhost:9/api/ws");
        let t = Target::parse("http://[::1]:7000").unwrap();
        assert_eq!(t.host(), "::1");
        assert_eq!(t.to_string(), "http://[::1]:7000");
        assert_eq!(t.ws_url("/ws"), "ws://[::1]:7000/ws");
        for bad in [
            "",
            "localhost:80",
            "https://x:1", // without TLS settings
            "ftp://x:1",
            "http://:80",
            "not a url",
            "http://h:0",
            "http://h:1/?q=1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let tls = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        );
        let t = Target::parse_with_tls("https://localhost/api", Some(&tls)).unwrap();
        assert_eq!(t.port(), 443);
        assert_eq!(t.to_string(), "https://localhost:443/api");
        assert_eq!(t.ws_url("ws"), "wss://localhost:443/api/ws");
        assert!(t.ws_connector().is_some());
    }

    #[test]
    fn header_arguments_are_validated() {
        let (name, value) = parse_header("X-Api-Key:  s3cret ").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-api-key", "s3cret")
        );
        assert!(value.is_sensitive());
        let (_, empty) = parse_header("X-Empty:").unwrap();
        assert!(empty.is_empty());
        for bad in [
            "no colon",
            ": value",
            "bad name: v",
            "Host: x",
            "X-A: bad\u{7f}",
        ] {
            let err = parse_header(bad).unwrap_err();
            assert!(matches!(err, LoadError::InvalidOption(_)), "{bad:?}: {err}");
        }
    }
}
