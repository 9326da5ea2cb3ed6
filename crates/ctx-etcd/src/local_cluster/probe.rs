//! What the launcher asks a member over its client URL: `GET /health` and the v3 JSON
//! gateway's `POST /v3/maintenance/status` (both served by etcd 3.4 on the client port).
//! A few lines of HTTP/1.0 over a `TcpStream` — the launcher needs no HTTP client crate, and
//! HTTP/1.0 makes etcd close the connection after a plain, unchunked body.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long one probe may take: a healthy member answers in milliseconds, a killed one
/// refuses at once, a member without quorum makes `/health` wait for its read (etcd's own
/// timeout), which must not stall the poll loop.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One member's view of the cluster, from `/v3/maintenance/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// This member's raft id.
    pub member_id: u64,
    /// The raft id of the leader this member follows; 0 when it knows none.
    pub leader_id: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    /// The newest revision of the key space this member has applied.
    pub revision: i64,
}

impl MemberStatus {
    pub fn is_leader(&self) -> bool {
        self.leader_id != 0 && self.leader_id == self.member_id
    }
}

/// True when the member answers `GET /health` with `{"health":"true"}`: it has a leader and
/// can serve a quorum read.
pub(super) fn healthy(port: u16) -> bool {
    match request(port, "GET", "/health", None) {
        Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&body)
            .is_ok_and(|answer| answer["health"] == "true"),
        _ => false,
    }
}

pub(super) fn status(port: u16) -> io::Result<MemberStatus> {
    let (code, body) = request(port, "POST", "/v3/maintenance/status", Some("{}"))?;
    if code != 200 {
        return Err(io::Error::other(format!(
            "status answered HTTP {code}: {body}"
        )));
    }
    let answer: serde_json::Value = serde_json::from_str(&body)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    // The gateway writes 64-bit integers as JSON strings (proto3 JSON mapping) and leaves
    // out fields that are zero.
    let number = |field: &serde_json::Value| -> u64 {
        field
            .as_str()
            .and_then(|text| text.parse().ok())
            .or_else(|| field.as_u64())
            .unwrap_or(0)
    };
    let header = &answer["header"];
    Ok(MemberStatus {
        member_id: number(&header["member_id"]),
        leader_id: number(&answer["leader"]),
        raft_term: number(&header["raft_term"]),
        raft_index: number(&answer["raftIndex"]),
        revision: i64::try_from(number(&header["revision"])).unwrap_or(i64::MAX),
    })
}

/// One HTTP/1.0 exchange with 127.0.0.1:`port`: the status code and the body.
pub(super) fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> io::Result<(u16, String)> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "answer without a header end"))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "answer without a status code")
        })?;
    Ok((code, body.to_owned()))
}
