//! From `--server` to the `/ws` URL, and back from a refused upgrade to a message.

use crate::cmd::client::plain;

/// `http://host:port[/prefix]` → `ws://host:port[/prefix]/ws` (`https` → `wss`).
pub(super) fn ws_url(server: &str) -> Result<String, &'static str> {
    let (scheme, rest) = match server.split_once("://") {
        Some(("http", rest)) => ("ws", rest),
        Some(("https", rest)) => ("wss", rest),
        Some(_) => return Err("the scheme must be http:// or https://"),
        None => return Err("missing http:// or https:// scheme"),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err("missing host");
    }
    if rest.contains(['?', '#']) {
        return Err("a query string is not allowed");
    }
    Ok(format!("{scheme}://{rest}/ws"))
}

/// When the server answered the upgrade with an HTTP error: its status and `error` field
/// (e.g. plain `ws://` to a TLS port: "this server speaks HTTPS").
pub(super) fn refusal(err: &tokio_tungstenite::tungstenite::Error) -> Option<String> {
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        return None;
    };
    let message = response
        .body()
        .as_deref()
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .and_then(|answer| answer.get("error").map(plain));
    Some(match message {
        Some(message) => format!("{}: {message}", response.status()),
        None => response.status().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::ws_url;

    #[test]
    fn server_urls_map_to_the_ws_endpoint() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080").as_deref(),
            Ok("ws://127.0.0.1:8080/ws")
        );
        assert_eq!(
            ws_url("http://host:1/base/").as_deref(),
            Ok("ws://host:1/base/ws")
        );
        assert_eq!(ws_url("https://host:1").as_deref(), Ok("wss://host:1/ws"));
        assert!(ws_url("ftp://host").is_err());
        assert!(ws_url("host:8080").is_err());
        assert!(ws_url("http://").is_err());
        assert!(ws_url("http://h/?q=1").is_err());
    }
}
