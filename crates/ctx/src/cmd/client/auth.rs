//! The API key every command that talks to a server sends: the client commands,
//! `ctx watch` (on the WebSocket upgrade) and `ctx load` (on every request).
//! One flag, one header, one validation.

use hyper::header::{HeaderName, HeaderValue};

/// The header the key travels in (the server also accepts `Authorization: Bearer`).
pub(crate) const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// `--api-key` / `CTX_API_KEY`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ApiKeyOption {
    /// API key sent as X-API-Key (servers started with --api-key or --api-keys).
    #[arg(long, env = "CTX_API_KEY", value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl ApiKeyOption {
    /// The key as a header value, marked sensitive so it is never logged; None
    /// without a key. Err: a key that cannot travel in a header (a usage error).
    pub(crate) fn header(&self) -> Result<Option<HeaderValue>, String> {
        let Some(key) = &self.api_key else {
            return Ok(None);
        };
        let mut value = HeaderValue::from_str(key)
            .map_err(|_| "the API key must be printable ASCII (it travels in a header)")?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_becomes_a_sensitive_header_and_a_bad_one_an_error() {
        let none = ApiKeyOption::default();
        assert_eq!(none.header(), Ok(None));
        let key = ApiKeyOption {
            api_key: Some("s3cret".into()),
        };
        let value = key.header().unwrap().unwrap();
        assert_eq!(value, "s3cret");
        assert!(value.is_sensitive());
        let bad = ApiKeyOption {
            api_key: Some("bad\nkey".into()),
        };
        assert!(bad.header().unwrap_err().contains("printable ASCII"));
    }
}
