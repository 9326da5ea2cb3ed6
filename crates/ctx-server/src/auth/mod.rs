//! Who may do what: the one rule for HTTP, `/ws` and Socket.IO ([`decide`]).
//!
//! Off unless API keys are configured (`keys.rs`). Then a request presents its key as
//! `Authorization: Bearer <key>`, `X-API-Key: <key>`, or (browsers on `/ws`) a WebSocket
//! subprotocol. What it needs depends on what it does ([`needs`]): nothing for `/health`,
//! `read` for reads (only with `--auth-scope all`; by default reads are open), `write` for
//! sets and deletes, `admin` for creating dumps. No key or an unknown key: 401; a known key whose
//! role is too low: 403. Keys are compared in constant time, against every configured key.

mod keys;

pub use keys::{ApiKey, Role, Secret};

use crate::app::AppState;
use crate::config::{AuthScope, ServerConfig};
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keys::constant_time_eq;

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No key, or one that is not configured: 401.
    Unauthenticated,
    /// A configured key whose role is too low: 403.
    Forbidden { role: Role, needs: Role },
}

impl Denied {
    pub(crate) fn message(&self) -> String {
        match self {
            Denied::Unauthenticated => {
                "a valid API key is required (Authorization: Bearer <key> or X-API-Key)".into()
            }
            Denied::Forbidden { role, needs } => format!(
                "this API key has role {}; this request needs role {}",
                role.as_str(),
                needs.as_str()
            ),
        }
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let status = match self {
            Denied::Unauthenticated => StatusCode::UNAUTHORIZED,
            Denied::Forbidden { .. } => StatusCode::FORBIDDEN,
        };
        ApiError::new(status, self.message()).into_response()
    }
}

/// The one rule: may a request carrying `headers` do something that needs `needs`?
pub(crate) fn decide(
    config: &ServerConfig,
    headers: &HeaderMap,
    needs: Role,
) -> Result<(), Denied> {
    if !config.auth_enabled() || (needs == Role::Read && config.auth_scope == AuthScope::Writes) {
        return Ok(());
    }
    let presented = presented_key(headers).ok_or(Denied::Unauthenticated)?;
    let role = role_of(config, &presented).ok_or(Denied::Unauthenticated)?;
    if role >= needs {
        Ok(())
    } else {
        Err(Denied::Forbidden { role, needs })
    }
}

/// What an HTTP request needs, by route; `None` for `/health` (an orchestrator's probe
/// carries no key). Creating a dump writes files on the server's disk, so it is `admin`;
/// listing and downloading dumps are reads, as `/ctx/all` (the same data) is.
pub(crate) fn needs(method: &Method, path: &str) -> Option<Role> {
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if path == "/health" {
        None
    } else if path == "/ctx/dump" && !read {
        Some(Role::Admin)
    } else if read {
        Some(Role::Read)
    } else {
        Some(Role::Write)
    }
}

/// The HTTP layer: [`needs`] then [`decide`].
pub async fn check(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = needs(request.method(), request.uri().path()).map_or(Ok(()), |needs| {
        decide(&app.config, request.headers(), needs)
    });
    match allowed {
        Ok(()) => next.run(request).await,
        Err(denied) => denied.into_response(),
    }
}

/// Live connections upgrade with a GET, so they ask this once for the writes they carry.
pub(crate) fn may_write(config: &ServerConfig, headers: &HeaderMap) -> bool {
    decide(config, headers, Role::Write).is_ok()
}

/// The role of the configured key equal to `presented`. Every key is compared, whatever
/// matched before, so the time taken says nothing about which key (or prefix) matched.
fn role_of(config: &ServerConfig, presented: &[u8]) -> Option<Role> {
    let single = config.api_key.iter().map(|key| (key, Role::Admin));
    let several = config.api_keys.iter().map(|entry| (&entry.key, entry.role));
    single.chain(several).fold(None, |found, (key, role)| {
        let matches = constant_time_eq(key.expose().as_bytes(), presented);
        if matches {
            found.max(Some(role))
        } else {
            found
        }
    })
}

/// The subprotocol `/ws` answers with when a client offers it.
pub(crate) const WS_PROTOCOL: &str = "ctx";

/// Browsers cannot set headers on a WebSocket upgrade, so a page (the dashboard) offers
/// the key as a second subprotocol, `Sec-WebSocket-Protocol: ctx, ctx-key.<hex>`: the key's
/// UTF-8 bytes in lowercase hex, because a protocol name must be a token (no spaces or
/// separators). `/ws` selects `ctx`, and the browser accepts the upgrade.
const WS_KEY_PROTOCOL: &str = "ctx-key.";

/// The key a request presents: a header, or the `/ws` subprotocol a browser can set.
fn presented_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    match header_key(headers) {
        Some(key) => Some(key.as_bytes().to_vec()),
        None => protocol_key(headers),
    }
}

fn header_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok();
    }
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn protocol_key(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(WS_KEY_PROTOCOL))
        .and_then(decode_hex)
        .filter(|key| !key.is_empty())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_protocol(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static(value),
        );
        headers
    }

    #[test]
    fn a_key_offered_as_a_websocket_subprotocol_is_accepted() {
        // "s3cr\u{e9}t" in UTF-8, hex.
        let headers = with_protocol("ctx, ctx-key.73336372c3a974");
        assert_eq!(
            presented_key(&headers).as_deref(),
            Some("s3cr\u{e9}t".as_bytes())
        );
    }

    #[test]
    fn a_malformed_subprotocol_key_is_refused() {
        for value in ["ctx", "ctx-key.", "ctx-key.7", "ctx-key.zz"] {
            assert!(presented_key(&with_protocol(value)).is_none(), "{value}");
        }
    }
}
