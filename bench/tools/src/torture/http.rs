//! A blocking HTTP/1.1 request on a fresh loopback connection: the torture kills the
//! server under its clients, so every request must end (answer, error or timeout) and
//! nothing may unwrap what the network gives back.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends one request; answers (status, JSON body).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let Some((head, payload)) = text.split_once("\r\n\r\n") else {
        bail!(
            "{method} {path}: no complete answer ({} bytes)",
            response.len()
        );
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{method} {path}: no status in {head:?}"))?;
    let json = serde_json::from_str(payload)
        .with_context(|| format!("{method} {path}: answer is not JSON"))?;
    Ok((status, json))
}
