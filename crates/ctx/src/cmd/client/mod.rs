//! Client commands (`ctx get`, `ctx set`, ...): talk to a running server over HTTP.
//!
//! Every command is one request through [`Client::request`]; every failure is a
//! [`Failure`] whose [`Failure::exit_code`] is the single place where errors become
//! exit codes. Human output by default, the server's own JSON answer with `--json`.
//!
//! Here: the commands' flags and what each one asks. `http` holds the [`Client`],
//! `failure` the [`Failure`]s, `render` the text people type in and read back.

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

mod auth;
mod failure;
mod http;
mod render;

pub(crate) use auth::API_KEY_HEADER;
pub use auth::ApiKeyOption;
pub(crate) use failure::root_cause;
pub(super) use failure::{Failure, server_failure};
pub(super) use http::{Client, query};
pub(crate) use render::plain;
pub(super) use render::value_argument;
use render::{field, render_history, render_list, render_status, revision_suffix, save_download};

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
    #[command(flatten)]
    pub auth: ApiKeyOption,
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
    .with_api_key(&command.options().auth)?;
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
