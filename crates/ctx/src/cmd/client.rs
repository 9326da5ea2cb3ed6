//! Client commands (`ctx get`, `ctx set`, ...): talk to a running server over HTTP.
//!
//! Every command is one request through [`Client::request`]; every failure is a
//! [`Failure`] whose [`Failure::exit_code`] is the single place where errors become
//! exit codes. Human output by default, the server's own JSON answer with `--json`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{Client as HttpClient, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::exit;

/// Options every client command (and `ctx watch`) takes; flattened into each of them
/// rather than global, so `serve` and `load` neither list nor accept them.
#[derive(clap::Args)]
pub struct ClientOptions {
    /// Server base URL.
    #[arg(
        long,
        env = "CTX_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Print the server's JSON answer (one line) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also trust this CA (PEM) for https:// and wss:// servers, e.g. a self-signed cert.
    #[arg(long, env = "CTX_CACERT", value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// API key sent as X-API-Key (servers started with --api-key or --api-keys).
    #[arg(long, env = "CTX_API_KEY", value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Print a key's value (strings raw, anything else as compact JSON). Exit 1 if absent.
    Get {
        /// The key (use `--` before it if it starts with `-`).
        key: String,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Write a key. VALUE is JSON, or plain text stored as a string (see --string).
    Set {
        key: String,
        /// JSON (`42`, `true`, `{"a":1}`, `'"42"'` for the string "42") or plain text.
        /// Text starting with `{`, `[` or `"` must be valid JSON (else exit 2).
        #[arg(allow_negative_numbers = true)]
        value: String,
        /// Store VALUE as a string exactly as given, without reading it as JSON.
        #[arg(long)]
        string: bool,
        /// Write only if the key is at this revision (0: only if it does not exist);
        /// otherwise exit 1 and write nothing.
        #[arg(long, value_name = "N")]
        if_revision: Option<u64>,
        /// Attach the key to a fresh lease of this many seconds: it is deleted when the
        /// lease expires (see `ctx lease`).
        #[arg(long, value_name = "SECS")]
        ttl: Option<f64>,
        /// Who made the change, as recorded in the history.
        #[arg(long, default_value = DEFAULT_WHO)]
        who: String,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Delete a key. Exit 1 if it did not exist.
    Del {
        key: String,
        /// Who made the change, as recorded in the history.
        #[arg(long, default_value = DEFAULT_WHO)]
        who: String,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Print `key=value` lines, sorted by key.
    List {
        /// Only keys starting with this prefix.
        prefix: Option<String>,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Print the change history, oldest first, one change per line.
    History {
        /// Only changes to this exact key.
        #[arg(long)]
        key: Option<String>,
        /// Only changes made by this writer.
        #[arg(long)]
        who: Option<String>,
        /// Only changes to keys starting with this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Only changes after this revision (then --limit pages forward).
        #[arg(long)]
        since: Option<u64>,
        /// At most this many entries (the newest ones, unless --since is given).
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Ask the server to write a dump file into its dump directory (and fetch it with --download).
    Dump {
        #[arg(long, value_enum)]
        format: DumpFormat,
        /// File name inside the dump directory (default: a timestamped name).
        #[arg(long)]
        filename: Option<String>,
        /// Include the change history (json and pretty formats only).
        #[arg(long)]
        include_history: bool,
        /// Who asked for the dump, as recorded by the server.
        #[arg(long, default_value = DEFAULT_WHO)]
        who: String,
        /// Then fetch the file from the server into PATH (a file, a directory, or `-` for
        /// stdout; default: the dump's name in the current directory). Never overwrites.
        #[arg(long, value_name = "PATH", num_args = 0..=1)]
        download: Option<Option<PathBuf>>,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Show the server's status.
    Status {
        #[command(flatten)]
        options: ClientOptions,
    },
}

impl ClientCommand {
    fn options(&self) -> &ClientOptions {
        match self {
            ClientCommand::Get { options, .. }
            | ClientCommand::Set { options, .. }
            | ClientCommand::Del { options, .. }
            | ClientCommand::List { options, .. }
            | ClientCommand::History { options, .. }
            | ClientCommand::Dump { options, .. }
            | ClientCommand::Status { options } => options,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DumpFormat {
    Json,
    Csv,
    Txt,
    Pretty,
}

/// Recorded as the writer when `--who` is not given, so CLI changes stand out in the history.
pub(super) const DEFAULT_WHO: &str = "ctx-cli";

/// Long enough for a big `list` or dump on a slow link, short enough that a script never hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything but unreserved characters, and `.` too so that keys like `..` are never
/// taken for dot segments by anything between us and the server.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

pub fn run(command: ClientCommand) -> ExitCode {
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(execute(command)),
        Err(err) => Err(Failure::Runtime(err.to_string())),
    };
    match result {
        Ok(report) => {
            // A closed stdout (`ctx list | head`) is not worth a complaint.
            let _ = std::io::stdout().lock().write_all(&report.stdout);
            match report.negative {
                Some(message) => {
                    let _ = writeln!(std::io::stderr(), "ctx: {message}");
                    exit::code(exit::NEGATIVE)
                }
                None => exit::code(exit::OK),
            }
        }
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "ctx: {failure}");
            exit::code(failure.exit_code())
        }
    }
}

/// What a command that reached the server prints, and whether the answer was negative.
struct Report {
    stdout: Vec<u8>,
    /// Set when the key was absent (`get`, `del`): the one-line stderr message for exit 1.
    negative: Option<String>,
}

async fn execute(command: ClientCommand) -> Result<Report, Failure> {
    let client = Client::new(
        &command.options().server,
        command.options().cacert.as_deref(),
    )?
    .with_api_key(command.options().api_key.as_deref())?;
    let json = command.options().json;
    let (answer, human, negative) = match command {
        ClientCommand::Get { key, .. } => {
            let answer = client
                .request(
                    Method::GET,
                    &format!("/ctx{}", query(&[("key", Some(&key))])),
                    None,
                )
                .await?;
            let value = answer.get("value").unwrap_or(&Value::Null);
            let found = answer
                .get("found")
                .and_then(Value::as_bool)
                .unwrap_or(!value.is_null());
            let human = if found {
                format!("{}\n", plain(value))
            } else {
                String::new()
            };
            let negative = (!found).then(|| format!("key not found: {key}"));
            (answer, human, negative)
        }
        ClientCommand::Set {
            key,
            value,
            string,
            who,
            if_revision,
            ttl,
            ..
        } => {
            let value = if string {
                Value::String(value)
            } else {
                value_argument(value)?
            };
            let mut body = json!({ "key": key, "value": value, "who": who });
            if let Some(revision) = if_revision {
                body["if_revision"] = revision.into();
            }
            if let Some(ttl) = ttl {
                body["ttl_secs"] = ttl.into();
            }
            let answer = client.request(Method::POST, "/ctx", Some(&body)).await?;
            // An equal value is not a change (no history entry); say so rather than "set".
            let verb = match answer.get("changed") {
                Some(Value::Bool(false)) => "unchanged",
                _ => "set",
            };
            let human = format!("{verb} {key}{}\n", revision_suffix(&answer));
            (answer, human, None)
        }
        ClientCommand::Del { key, who, .. } => {
            let path = format!("/ctx{}", query(&[("key", Some(&key)), ("who", Some(&who))]));
            let answer = client.request(Method::DELETE, &path, None).await?;
            let deleted = answer
                .get("deleted")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let human = if deleted {
                format!("deleted {key}{}\n", revision_suffix(&answer))
            } else {
                String::new()
            };
            let negative = (!deleted).then(|| format!("key not found: {key}"));
            (answer, human, negative)
        }
        ClientCommand::List { prefix, .. } => {
            let answer = client
                .request(
                    Method::GET,
                    &format!("/ctx/all{}", query(&[("prefix", prefix.as_deref())])),
                    None,
                )
                .await?;
            let human = render_list(&answer);
            (answer, human, None)
        }
        ClientCommand::History {
            key,
            who,
            prefix,
            since,
            limit,
            ..
        } => {
            let (since, limit) = (since.map(|n| n.to_string()), limit.map(|n| n.to_string()));
            let params = [
                ("key", key.as_deref()),
                ("who", who.as_deref()),
                ("prefix", prefix.as_deref()),
                ("since_revision", since.as_deref()),
                ("limit", limit.as_deref()),
            ];
            let answer = client
                .request(
                    Method::GET,
                    &format!("/ctx/history{}", query(&params)),
                    None,
                )
                .await?;
            let human = render_history(&answer);
            (answer, human, None)
        }
        ClientCommand::Dump {
            format,
            filename,
            include_history,
            who,
            download,
            ..
        } => {
            let format =
                clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_owned());
            let mut body =
                json!({ "format": format, "who": who, "include_history": include_history });
            if let Some(filename) = filename {
                body["filename"] = Value::String(filename);
            }
            let answer = client
                .request(Method::POST, "/ctx/dump", Some(&body))
                .await?;
            let mut answer = answer;
            let mut human = format!(
                "dumped {} keys to {} ({}, {} bytes)\n",
                plain(field(&answer, "key_count")),
                plain(field(&answer, "path")),
                plain(field(&answer, "filename")),
                plain(field(&answer, "file_size")),
            );
            if let Some(destination) = download {
                let filename = plain(field(&answer, "filename"));
                let file = client.fetch_dump(&filename).await?;
                if destination.as_deref() == Some(Path::new("-")) {
                    // The file itself is the output: nothing else may share stdout.
                    return Ok(Report {
                        stdout: file,
                        negative: None,
                    });
                }
                let saved = save_download(&file, destination.as_deref(), &filename)?;
                let _ = writeln!(human, "downloaded {filename} to {}", saved.display());
                answer["downloaded_to"] = Value::String(saved.display().to_string());
            }
            (answer, human, None)
        }
        ClientCommand::Status { .. } => {
            let answer = client.request(Method::GET, "/ctx/status", None).await?;
            let human = render_status(&client.server, &answer);
            (answer, human, None)
        }
    };
    let stdout = if json { format!("{answer}\n") } else { human }.into_bytes();
    Ok(Report { stdout, negative })
}

/// Why a command could not produce its answer.
#[derive(Debug)]
pub(super) enum Failure {
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
    pub(super) fn exit_code(&self) -> u8 {
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

/// A validated server base URL plus a connection pool.
#[derive(Clone)]
pub(super) struct Client {
    /// The base URL as the user gave it, for messages.
    server: String,
    /// `scheme://authority[/prefix]` without a trailing slash; request paths are appended.
    base: String,
    http: HttpClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Sent as `X-API-Key` with every request; marked sensitive so it is never logged.
    api_key: Option<HeaderValue>,
}

impl Client {
    pub(super) fn new(server: &str, cacert: Option<&Path>) -> Result<Client, Failure> {
        let bad = |reason: &str| Failure::BadUrl {
            server: server.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = server
            .parse()
            .map_err(|err: hyper::http::uri::InvalidUri| bad(&err.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme,
            Some(_) => return Err(bad("the scheme must be http:// or https://")),
            None => return Err(bad("missing http:// or https:// scheme")),
        };
        let Some(authority) = uri.authority() else {
            return Err(bad("missing host"));
        };
        if authority.host().is_empty() {
            return Err(bad("missing host"));
        }
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        let base = format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/'));
        let tls = match scheme {
            "https" => crate::tls::client_config(cacert),
            _ => crate::tls::unused_config(),
        }
        .map_err(|reason| Failure::Tls {
            server: server.to_owned(),
            reason,
        })?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(Arc::unwrap_or_clone(tls))
            .https_or_http()
            .enable_http1()
            .build();
        let http = HttpClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client {
            server: server.to_owned(),
            base,
            http,
            api_key: None,
        })
    }

    /// Sends `key` (when given) with every request.
    pub(super) fn with_api_key(mut self, key: Option<&str>) -> Result<Client, Failure> {
        if let Some(key) = key {
            let mut value = HeaderValue::from_str(key).map_err(|_| {
                Failure::Usage(
                    "the API key must be printable ASCII (it travels in a header)".into(),
                )
            })?;
            value.set_sensitive(true);
            self.api_key = Some(value);
        }
        Ok(self)
    }

    /// Sends one request with an optional JSON body and returns the JSON answer;
    /// any non-2xx status becomes [`Failure::Server`] carrying the server's `error` field.
    pub(super) async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let (status, bytes) = self.exchange(method, path_and_query, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| Failure::Server {
            status,
            message: format!("the answer is not JSON: {}", snippet(&bytes)),
        })
    }

    /// The bytes of a dump file, as the server serves it (`GET /ctx/dump/{filename}`).
    async fn fetch_dump(&self, filename: &str) -> Result<Vec<u8>, Failure> {
        let path = format!("/ctx/dump/{}", utf8_percent_encode(filename, COMPONENT));
        let (_, bytes) = self.exchange(Method::GET, &path, None).await?;
        Ok(bytes.to_vec())
    }

    /// One request; answers the status and JSON body whatever the status (for callers
    /// that act on a 409 or 408 themselves).
    pub(super) async fn answer(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let (status, bytes) = self.send(method, path_and_query, body).await?;
        let answer = serde_json::from_slice(&bytes).map_err(|_| Failure::Server {
            status,
            message: format!("the answer is not JSON: {}", snippet(&bytes)),
        })?;
        Ok((status, answer))
    }

    /// One request; answers the status and body of a 2xx, else [`Failure::Server`].
    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let (status, bytes) = self.send(method, path_and_query, body).await?;
        if !status.is_success() {
            return Err(server_failure(status, &bytes));
        }
        Ok((status, bytes))
    }

    /// One request, any status.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let uri: Uri = format!("{}{path_and_query}", self.base).parse().map_err(
            |err: hyper::http::uri::InvalidUri| Failure::BadUrl {
                server: self.server.clone(),
                reason: err.to_string(),
            },
        )?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("ctx/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(key) = &self.api_key {
            builder = builder.header("x-api-key", key.clone());
        }
        let payload = match body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(payload))
            .map_err(|err| Failure::BadUrl {
                server: self.server.clone(),
                reason: err.to_string(),
            })?;

        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| self.unreachable(&err))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|err| self.unreachable(&err))?
                .to_bytes();
            Ok::<_, Failure>((status, bytes))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| Failure::Timeout {
                server: self.server.clone(),
            })?
    }

    fn unreachable(&self, err: &(dyn std::error::Error + 'static)) -> Failure {
        if let Some(reason) = crate::tls::describe_failure(err) {
            return Failure::Tls {
                server: self.server.clone(),
                reason,
            };
        }
        Failure::Unreachable {
            server: self.server.clone(),
            reason: root_cause(err),
        }
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

/// `ctx set`'s VALUE: JSON when it parses, else the text as a string. Text that starts
/// like a JSON object, array or string (`{"a":`) but does not parse is refused rather
/// than silently stored as a string: it is almost always a typo or a shell-quoting slip.
pub(super) fn value_argument(text: String) -> Result<Value, Failure> {
    match serde_json::from_str(&text) {
        Ok(value) => Ok(value),
        Err(err) if text.trim_start().starts_with(['{', '[', '"']) => Err(Failure::Usage(format!(
            "VALUE looks like JSON but does not parse ({err}); fix it, or pass --string to store the text as is"
        ))),
        Err(_) => Ok(Value::String(text)),
    }
}

/// Writes a downloaded dump to `destination` (none: the current directory; a directory:
/// the dump's name inside it), never over an existing file. Answers the path written.
fn save_download(
    file: &[u8],
    destination: Option<&Path>,
    filename: &str,
) -> Result<PathBuf, Failure> {
    // The name comes from the server: accept one plain file name, never a path.
    let mut parts = Path::new(filename).components();
    if !matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return Err(Failure::Server {
            status: StatusCode::OK,
            message: format!("the server named the dump {filename:?}, not a plain file name"),
        });
    }
    let path = match destination {
        None => PathBuf::from(filename),
        Some(dir) if dir.is_dir() => dir.join(filename),
        Some(file) => file.to_owned(),
    };
    let failed = |err: std::io::Error| Failure::Save {
        path: path.clone(),
        reason: err.to_string(),
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(failed)?;
    out.write_all(file).map_err(failed)?;
    Ok(path)
}

/// `?a=x&b=y` for the parameters that are set, or an empty string.
/// A non-2xx answer as a failure carrying the server's `error` sentence.
pub(super) fn server_failure(status: StatusCode, bytes: &[u8]) -> Failure {
    let message = match serde_json::from_slice::<Value>(bytes) {
        Ok(answer) => answer
            .get("error")
            .map(plain)
            .unwrap_or_else(|| answer.to_string()),
        Err(_) => snippet(bytes),
    };
    Failure::Server { status, message }
}

pub(super) fn query(params: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in params {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            let _ = write!(out, "{name}={}", utf8_percent_encode(value, COMPONENT));
        }
    }
    out
}

/// The start of a non-JSON body (e.g. an HTML page from a proxy), on one line.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

fn field<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer.get(name).unwrap_or(&Value::Null)
}

/// Strings raw, anything else as compact JSON: what a shell script wants to capture
/// (`get`, `list` and `watch` all print values this way).
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn revision_suffix(answer: &Value) -> String {
    answer
        .get("revision")
        .map(|rev| format!(" (revision {rev})"))
        .unwrap_or_default()
}

fn render_list(answer: &Value) -> String {
    let Some(context) = answer.get("context").and_then(Value::as_object) else {
        return String::new();
    };
    // Sorted here rather than trusting the map's order (serde_json may preserve insertion order).
    let mut entries: Vec<_> = context.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .iter()
        .map(|(key, value)| format!("{key}={}\n", plain(value)))
        .collect()
}

/// `REV  TIMESTAMP  WHO  KEY: BEFORE → AFTER`, both sides as JSON so `null` (absent) and
/// `"null"` (a string) stay distinct.
fn render_history(answer: &Value) -> String {
    let Some(entries) = answer.get("history").and_then(Value::as_array) else {
        return String::new();
    };
    entries
        .iter()
        .map(|entry| {
            format!(
                "{}  {}  {}  {}: {} → {}\n",
                plain(field(entry, "revision")),
                plain(field(entry, "timestamp")),
                plain(field(entry, "who")),
                plain(field(entry, "key")),
                field(entry, "before"),
                field(entry, "after"),
            )
        })
        .collect()
}

/// `name: value` lines; every top-level field is shown so new server fields need no client change.
fn render_status(server: &str, answer: &Value) -> String {
    let mut out = format!("server: {server}\n");
    if let Some(fields) = answer.as_object() {
        let mut fields: Vec<_> = fields.iter().collect();
        fields.sort_by_key(|(name, _)| (name.as_str() != "status", name.as_str()));
        for (name, value) in fields {
            let _ = writeln!(out, "{name}: {}", plain(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_skips_unset_parameters_and_encodes_values() {
        assert_eq!(
            query(&[("key", None), ("prefix", Some("a&b=c+d"))]),
            "?prefix=a%26b%3Dc%2Bd"
        );
        assert_eq!(query(&[("key", None)]), "");
    }

    #[test]
    fn bad_server_urls_are_rejected_before_any_request() {
        for url in [
            "not a url",
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "http://h/?q=1",
        ] {
            assert!(
                matches!(Client::new(url, None), Err(Failure::BadUrl { .. })),
                "{url}"
            );
        }
        assert_eq!(
            Client::new("http://h:1/base/", None).map(|c| c.base).ok(),
            Some("http://h:1/base".to_owned())
        );
        assert_eq!(
            Client::new("https://h:1", None).map(|c| c.base).ok(),
            Some("https://h:1".to_owned())
        );
    }
}
