//! Every way a client command can fail, and the exit code each one means.

use super::*;

/// Why a command could not produce its answer.
#[derive(Debug)]
pub(in crate::cmd) enum Failure {
    BadUrl {
        server: String,
        reason: String,
    },
    Unreachable {
        server: String,
        reason: String,
    },
    Timeout {
        server: String,
    },
    /// The TLS handshake failed (untrusted certificate, not a TLS server), or the
    /// trust settings could not be loaded.
    Tls {
        server: String,
        reason: String,
    },
    /// The server answered, but with an error status (its `error` field) or something unreadable.
    Server {
        status: StatusCode,
        message: String,
    },
    Runtime(String),
    /// A bad argument clap cannot see (e.g. VALUE that looks like JSON but is not).
    Usage(String),
    /// A downloaded dump could not be saved locally.
    Save {
        path: PathBuf,
        reason: String,
    },
}

impl Failure {
    /// The one mapping from failures to the documented exit codes.
    pub(in crate::cmd) fn exit_code(&self) -> u8 {
        match self {
            Failure::BadUrl { .. } | Failure::Usage(_) => exit::USAGE,
            Failure::Unreachable { .. }
            | Failure::Timeout { .. }
            | Failure::Tls { .. }
            | Failure::Runtime(_)
            | Failure::Save { .. } => exit::COULD_NOT_RUN,
            // A condition that did not hold (`--if-revision`, a non-integer for `incr`) or
            // a wait that timed out is a negative answer, not a server failure.
            Failure::Server { status, .. }
                if *status == StatusCode::CONFLICT || *status == StatusCode::REQUEST_TIMEOUT =>
            {
                exit::NEGATIVE
            }
            Failure::Server { .. } => exit::SERVER_ERROR,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadUrl { server, reason } => {
                write!(
                    f,
                    "bad server URL {server:?}: {reason}; expected e.g. http://127.0.0.1:8080"
                )
            }
            Failure::Unreachable { server, reason } => write!(
                f,
                "cannot reach the server at {server} ({reason}); is `ctx serve` running? Use --server or CTX_SERVER."
            ),
            Failure::Timeout { server } => {
                write!(
                    f,
                    "no answer from the server at {server} within {} s",
                    REQUEST_TIMEOUT.as_secs()
                )
            }
            Failure::Tls { server, reason } => write!(f, "TLS with {server}: {reason}"),
            Failure::Server { status, message } => write!(f, "server error ({status}): {message}"),
            Failure::Runtime(reason) => write!(f, "cannot start the async runtime: {reason}"),
            Failure::Usage(message) => f.write_str(message),
            Failure::Save { path, reason } => write!(
                f,
                "the dump was written on the server but cannot be saved to {}: {reason}",
                path.display()
            ),
        }
    }
}

/// A non-2xx answer as a failure carrying the server's `error` sentence.
pub(in crate::cmd) fn server_failure(status: StatusCode, bytes: &[u8]) -> Failure {
    let message = match serde_json::from_slice::<Value>(bytes) {
        Ok(answer) => answer
            .get("error")
            .map(plain)
            .unwrap_or_else(|| answer.to_string()),
        Err(_) => snippet(bytes),
    };
    Failure::Server { status, message }
}

/// The start of a non-JSON body (e.g. an HTML page from a proxy), on one line.
pub(super) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

/// The most telling part of an error chain: the OS error's kind ("connection refused")
/// when there is one, else the innermost message (e.g. a DNS failure).
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return match io.raw_os_error() {
                Some(_) => io.kind().to_string(),
                None => io.to_string(),
            };
        }
        match current.source() {
            Some(source) => current = source,
            None => return current.to_string(),
        }
    }
}
