//! Where the load goes: a parsed `http://host:port[/base]` URL.

use std::fmt;

use hyper::header::HeaderValue;

use crate::error::LoadError;

/// Where the load goes: a plain `http://host:port[/base]` URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub(super) host: String,
    pub(super) port: u16,
    /// Prefix prepended to every request path, without a trailing slash.
    base_path: String,
    /// Value of the `Host` header.
    pub(super) authority: HeaderValue,
}

impl Target {
    /// Parses a base URL. Only `http` is supported (the suite talks to servers
    /// on this machine; TLS would only measure the TLS library).
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let bad = |why: &str| LoadError::InvalidOption(format!("bad target URL {url:?}: {why}"));
        let uri: hyper::Uri = url.trim().parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "scheme {other:?} is not supported, use http://"
                )));
            }
            None => return Err(bad("missing scheme, expected http://HOST:PORT")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("missing host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(80);
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
        Ok(Target {
            host,
            port,
            base_path,
            authority,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full path for a generator path (adds the base path and a leading `/`).
    pub(super) fn full_path(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        format!("{}/{}", self.base_path, path)
    }

    /// The `ws://` URL of a path on this target (same host, port and base path).
    pub fn ws_url(&self, path: &str) -> String {
        // The authority was built from the parsed host and port: valid ASCII.
        let authority = self.authority.to_str().unwrap_or_default();
        format!("ws://{authority}{}", self.full_path(path))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}{}", self.host, self.port, self.base_path)
        } else {
            write!(f, "http://{}:{}{}", self.host, self.port, self.base_path)
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
            "https://x:1",
            "http://:80",
            "not a url",
            "http://h:0",
            "http://h:1/?q=1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
