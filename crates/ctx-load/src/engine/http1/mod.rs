//! The measured exchange: one HTTP/1.1 request and its answer on a client's
//! own kept-alive connection, written straight to the socket.
//!
//! Why not hyper's client connection, as before? Its request goes through an
//! mpsc channel to the connection future, the answer back through a oneshot
//! and its body through another channel; every answer's headers are parsed
//! into a `HeaderMap`. With one request in flight per connection none of that
//! buys anything, and on the 2-core bench machine the client's CPU is taken
//! from the server it measures: callgrind, 64 clients × `GET /ctx/bench_{op}`
//! against `ctx-bench baseline`, 20 100 instructions per request through hyper,
//! 6 600 this way (wrk with the bench's Lua script: ~12 300; see
//! `bench/experiments/load-instructions`). Same syscalls per request (one send, one
//! receive). What is left out is what a load client does not send: no
//! pipelining, no `Expect: 100-continue`, no upgrades. Answers are read as
//! RFC 9112 frames them: no body (HEAD, 1xx, 204, 304), chunked,
//! `Content-Length`, or until the server closes.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Poll;

use bytes::{Buf, BytesMut};
use hyper::Method;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use super::Request;
use super::client::Inspect;
use super::target::{Stream, Target};

/// The longest answer head accepted (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Headers an answer may carry.
const MAX_HEADERS: usize = 100;
/// Read size: a small answer arrives in one read.
const READ_CHUNK: usize = 16 * 1024;

/// One kept-alive connection and its buffers (reused for every request).
pub(super) struct Connection {
    stream: Stream,
    /// Bytes received and not yet consumed.
    read: BytesMut,
    /// The request being sent.
    write: Vec<u8>,
}

/// An answer's status, and whether the connection can carry the next request.
pub(super) struct Answer {
    pub status: u16,
    pub reusable: bool,
}

/// How an answer's body is delimited.
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the parsed head of an answer says.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
    /// Only when a content check reads them.
    headers: Option<HeaderMap>,
}

impl Connection {
    pub(super) fn new(stream: Stream) -> Self {
        Connection {
            stream,
            read: BytesMut::with_capacity(READ_CHUNK),
            write: Vec::with_capacity(512),
        }
    }

    /// Whether the server closed the connection (or sent something unasked)
    /// since the last answer. No syscall when nothing happened: tokio knows
    /// the socket has not become readable since the last short read.
    pub(super) async fn closed(&mut self) -> bool {
        if !self.read.is_empty() {
            return true;
        }
        let mut probe = [0u8; 1];
        poll_fn(|cx| {
            let mut buf = ReadBuf::new(&mut probe);
            // Ready: EOF, an error, or bytes nobody asked for; not reusable.
            Poll::Ready(
                Pin::new(&mut self.stream)
                    .poll_read(cx, &mut buf)
                    .is_ready(),
            )
        })
        .await
    }

    /// Sends `req` and reads its answer to the end, counting it into the
    /// content checks of `inspect` when there are any.
    pub(super) async fn exchange(
        &mut self,
        target: &Target,
        req: &Request,
        inspect: Inspect<'_>,
    ) -> Result<Answer, String> {
        let needs_body = inspect.as_ref().is_some_and(|(i, _)| i.needs_body);
        let (answer, headers, body) = self
            .round_trip(target, req, inspect.is_some(), needs_body)
            .await?;
        if let Some((inspection, tallies)) = inspect {
            let headers = headers.unwrap_or_default();
            (inspection.judge)(answer.status, &headers, &body, tallies);
        }
        Ok(answer)
    }

    /// Sends `req` and returns its answer with its body.
    pub(super) async fn fetch(
        &mut self,
        target: &Target,
        req: &Request,
    ) -> Result<(Answer, Vec<u8>), String> {
        let (answer, _, body) = self.round_trip(target, req, false, true).await?;
        Ok((answer, body))
    }

    /// Sends `req` and reads its answer: the headers and body when asked for.
    async fn round_trip(
        &mut self,
        target: &Target,
        req: &Request,
        wants_headers: bool,
        wants_body: bool,
    ) -> Result<(Answer, Option<HeaderMap>, Vec<u8>), String> {
        encode(&mut self.write, target, req)?;
        self.stream
            .write_all(&self.write)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        self.stream
            .flush()
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let head = loop {
            let head = self.head(req.method == Method::HEAD, wants_headers).await?;
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            if !(100..200).contains(&head.status) || head.status == 101 {
                break head;
            }
        };
        let mut body = Vec::new();
        let ended_by_close = self
            .body(&head.framing, wants_body.then_some(&mut body))
            .await?;
        let answer = Answer {
            status: head.status,
            reusable: head.keep_alive
                && !ended_by_close
                && head.status != 101
                && self.read.is_empty(),
        };
        Ok((answer, head.headers, body))
    }

    /// Reads more bytes into `read`, room for them made first; 0 when the
    /// server closed the connection. (The read future itself: no state
    /// machine of its own.)
    fn read_more(&mut self) -> impl Future<Output = io::Result<usize>> + '_ {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 4 {
            self.read.reserve(READ_CHUNK);
        }
        tokio::io::AsyncReadExt::read_buf(&mut self.stream, &mut self.read)
    }

    /// Reads more bytes; an error when the server closed the connection.
    async fn fill(&mut self, what: &str) -> Result<(), String> {
        match self.read_more().await {
            Ok(0) => Err(format!("connection closed by the server {what}")),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("reading {what}: {e}")),
        }
    }

    /// Reads and consumes the head of the next answer.
    async fn head(&mut self, head_request: bool, wants_headers: bool) -> Result<Head, String> {
        loop {
            if !self.read.is_empty()
                && let Some(head) = parse_head(&self.read, head_request, wants_headers)?
            {
                self.read.advance(head.len);
                return Ok(head);
            }
            if self.read.len() > MAX_HEAD {
                return Err(format!("answer head longer than {MAX_HEAD} bytes"));
            }
            self.fill("before the answer").await?;
        }
    }

    /// Reads the body framed by `framing` (into `keep` when given); returns
    /// whether it ended with the connection.
    async fn body(
        &mut self,
        framing: &Framing,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<bool, String> {
        match *framing {
            Framing::Empty => Ok(false),
            Framing::Length(len) => {
                self.take(len, keep).await?;
                Ok(false)
            }
            Framing::UntilClose => loop {
                self.consume_all(keep.as_deref_mut());
                match self.read_more().await {
                    Ok(0) => return Ok(true),
                    Ok(_) => {}
                    Err(e) => return Err(format!("reading the body: {e}")),
                }
            },
            Framing::Chunked => {
                loop {
                    let size = self.line().await.and_then(|line| chunk_size(&line))?;
                    if size == 0 {
                        // Trailers, up to an empty line.
                        while !self.line().await?.is_empty() {}
                        return Ok(false);
                    }
                    self.take(size, keep.as_deref_mut()).await?;
                    if !self.line().await?.is_empty() {
                        return Err("malformed chunked body (no CRLF after a chunk)".into());
                    }
                }
            }
        }
    }

    /// Consumes `len` body bytes, reading as needed.
    async fn take(&mut self, mut len: u64, mut keep: Option<&mut Vec<u8>>) -> Result<(), String> {
        loop {
            let here = (self.read.len() as u64).min(len) as usize;
            if let Some(keep) = keep.as_deref_mut() {
                keep.extend_from_slice(&self.read[..here]);
            }
            self.read.advance(here);
            len -= here as u64;
            if len == 0 {
                return Ok(());
            }
            self.fill("in the middle of the body").await?;
        }
    }

    fn consume_all(&mut self, keep: Option<&mut Vec<u8>>) {
        if let Some(keep) = keep {
            keep.extend_from_slice(&self.read);
        }
        self.read.clear();
    }

    /// Consumes one CRLF-terminated line of a chunked body (without the CRLF).
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(end) = self.read.windows(2).position(|w| w == b"\r\n") {
                let line = self.read[..end].to_vec();
                self.read.advance(end + 2);
                return Ok(line);
            }
            if self.read.len() > MAX_HEAD {
                return Err("malformed chunked body (line too long)".into());
            }
            self.fill("in the middle of the body").await?;
        }
    }
}

/// Writes the request into `out`: request line, the target's headers (built
/// once, see [`Target::head_lines`]), `Content-Length`, body.
fn encode(out: &mut Vec<u8>, target: &Target, req: &Request) -> Result<(), String> {
    let (base, path) = target.full_path_parts(&req.path);
    // What would break the request line (the URI parser refused them before).
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("cannot send {:?}: not a valid URL path", req.path));
    }
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(base.as_bytes());
    out.push(b'/');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    out.extend_from_slice(target.head_lines(req.body.is_some()));
    let body = req.body.as_deref().unwrap_or_default();
    if req.body.is_some() || method_has_body(&req.method) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

/// Methods whose requests say `Content-Length: 0` when they carry nothing.
fn method_has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Parses an answer head from the start of `buf`; None while incomplete.
fn parse_head(buf: &[u8], head_request: bool, wants_headers: bool) -> Result<Option<Head>, String> {
    // Left uninitialised: zeroing 100 slots was ~300 instructions per answer.
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed answer: {e}")),
    };
    let status = response.code.unwrap_or_default();
    let http10 = response.version == Some(0);
    let (mut length, mut chunked, mut transfer_encoded) = (None, false, false);
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = parse_digits(header.value.trim_ascii(), 10)
                .ok_or_else(|| "malformed answer: bad Content-Length".to_string())?;
            if length.is_some_and(|known| known != value) {
                return Err("malformed answer: conflicting Content-Length".into());
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoded = true;
            // Chunked only when it is the last coding applied.
            chunked = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                connection_close |= token.eq_ignore_ascii_case(b"close");
                connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if transfer_encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    let headers = wants_headers.then(|| {
        response
            .headers
            .iter()
            .filter_map(|h| {
                Some((
                    HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                    HeaderValue::from_bytes(h.value).ok()?,
                ))
            })
            .collect()
    });
    Ok(Some(Head {
        status,
        len,
        framing,
        // Both framings at once, or a transfer coding in HTTP/1.0, is faulty
        // framing (RFC 9112 §6.1, §6.3): where the next answer starts is in
        // doubt (how responses are smuggled), so close after this one.
        keep_alive: !connection_close
            && (!http10 || connection_keep_alive)
            && !(transfer_encoded && (length.is_some() || http10)),
        headers,
    }))
}

/// The size of a chunk from its size line (`1a;name=value`).
fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    parse_digits(digits, 16).ok_or_else(|| "malformed chunked body (bad chunk size)".to_string())
}

/// A number of at least one digit in `radix` and nothing else: no sign, no
/// space (`str::parse` and `from_str_radix` take a leading `+`, which RFC 9112
/// does not); None on overflow too.
fn parse_digits(digits: &[u8], radix: u32) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(radix)?;
        n.checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests;
