//! Coordination commands: `ctx txn`, `ctx incr`, `ctx lease`, `ctx lock`, `ctx wait`.
//! Each is a few requests through the client commands' [`Client`]; the failures and exit
//! codes are theirs (`client.rs`), plus: a transaction whose conditions did not hold and a
//! wait that timed out exit 1, and `ctx lock` exits with its command's code.

use super::client::{Client, ClientOptions, Failure, plain, query, value_argument};
use crate::exit;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::Instant;

#[derive(clap::Subcommand)]
pub enum CoordCommand {
    /// Run a transaction from a JSON or TOML file (or stdin): `compare`, `success`,
    /// `failure` as in POST /ctx/txn. Exit 1 when the conditions did not hold.
    Txn {
        /// The file (`-` or absent: stdin). TOML when it ends in `.toml` or is not JSON.
        file: Option<PathBuf>,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Add to an integer key (absent: 0) and print the new value.
    Incr {
        key: String,
        /// The amount (negative to decrement).
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        by: i64,
        #[arg(long, default_value = super::client::DEFAULT_WHO)]
        who: String,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Grant, keep alive or revoke a lease (keys set with it are deleted when it ends).
    Lease {
        #[command(subcommand)]
        action: LeaseAction,
    },
    /// Hold a lock (the key NAME, attached to a lease) while COMMAND runs; released when
    /// it exits, or by the lease's expiry if this process dies. Exits with COMMAND's code.
    Lock {
        name: String,
        /// The lease's time to live: how long a crashed holder keeps the lock.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        ttl: f64,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Wait until KEY exists (or has the value V); exit 0 then, 1 on timeout.
    Wait {
        key: String,
        /// The value to wait for: JSON, or plain text taken as a string.
        #[arg(long, allow_negative_numbers = true)]
        value: Option<String>,
        /// Give up after this many seconds (default: wait for ever).
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
        #[command(flatten)]
        options: ClientOptions,
    },
}

#[derive(clap::Subcommand)]
pub enum LeaseAction {
    /// Grant a lease of SECS seconds; prints its id.
    Grant {
        secs: f64,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// Restart a lease's time to live (exit 4 when it has already ended).
    Keepalive {
        id: u64,
        #[command(flatten)]
        options: ClientOptions,
    },
    /// End a lease now, deleting its keys.
    Revoke {
        id: u64,
        #[command(flatten)]
        options: ClientOptions,
    },
}

impl CoordCommand {
    fn options(&self) -> &ClientOptions {
        match self {
            CoordCommand::Txn { options, .. }
            | CoordCommand::Incr { options, .. }
            | CoordCommand::Lock { options, .. }
            | CoordCommand::Wait { options, .. } => options,
            CoordCommand::Lease { action } => match action {
                LeaseAction::Grant { options, .. }
                | LeaseAction::Keepalive { options, .. }
                | LeaseAction::Revoke { options, .. } => options,
            },
        }
    }
}

/// What a command prints and how it exits.
struct Outcome {
    answer: Value,
    human: String,
    code: u8,
}

pub fn run(command: CoordCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&Failure::Runtime(err.to_string())),
    };
    let json = command.options().json;
    match runtime.block_on(execute(command)) {
        Ok(outcome) => {
            let text = if json {
                format!("{}\n", outcome.answer)
            } else {
                outcome.human
            };
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            exit::code(outcome.code)
        }
        Err(failure) => fail(&failure),
    }
}

fn fail(failure: &Failure) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "ctx: {failure}");
    exit::code(failure.exit_code())
}

async fn execute(command: CoordCommand) -> Result<Outcome, Failure> {
    let options = command.options();
    let client =
        Client::new(&options.server, options.cacert.as_deref())?.with_api_key(&options.auth)?;
    match command {
        CoordCommand::Txn { file, .. } => txn(&client, file).await,
        CoordCommand::Incr { key, by, who, .. } => {
            let body = json!({"key": key, "by": by, "who": who});
            let answer = client
                .request(Method::POST, "/ctx/incr", Some(&body))
                .await?;
            let human = format!("{}\n", plain(&answer["value"]));
            Ok(done(answer, human))
        }
        CoordCommand::Lease { action } => lease(&client, action).await,
        CoordCommand::Lock {
            name, ttl, command, ..
        } => {
            let code = super::lock::run(&client, &name, ttl, &command).await?;
            let answer = json!({"status": "success", "lock": name, "exit_code": code});
            Ok(Outcome {
                answer,
                human: String::new(),
                code,
            })
        }
        CoordCommand::Wait {
            key,
            value,
            timeout,
            ..
        } => {
            let value = value.map(value_argument).transpose()?;
            let deadline = match timeout {
                Some(secs) => Some(Instant::now() + seconds(secs, "--timeout")?),
                None => None,
            };
            wait(&client, &key, value.as_ref(), deadline).await
        }
    }
}

fn done(answer: Value, human: String) -> Outcome {
    Outcome {
        answer,
        human,
        code: exit::OK,
    }
}

/// A non-negative, finite number of seconds from the command line.
pub(super) fn seconds(secs: f64, flag: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| Failure::Usage(format!("{flag} must be a non-negative number of seconds")))
}

async fn txn(client: &Client, file: Option<PathBuf>) -> Result<Outcome, Failure> {
    let (text, name) = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
            (text, path.display().to_string())
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("cannot read stdin: {e}")))?;
            (text, "stdin".to_owned())
        }
    };
    let body: Value = match serde_json::from_str(&text) {
        Ok(body) if !name.ends_with(".toml") => body,
        _ => toml::from_str::<Value>(&text).map_err(|e| {
            Failure::Usage(format!(
                "{name} is neither a JSON nor a TOML transaction: {e}"
            ))
        })?,
    };
    let answer = client
        .request(Method::POST, "/ctx/txn", Some(&body))
        .await?;
    let succeeded = answer["succeeded"].as_bool().unwrap_or(false);
    let mut human = format!(
        "{} at revision {}\n",
        if succeeded {
            "succeeded"
        } else {
            "conditions failed; the failure branch ran"
        },
        plain(&answer["revision"])
    );
    for result in answer["results"].as_array().into_iter().flatten() {
        let line = match result["op"].as_str() {
            Some("get") if result["found"] == true => {
                format!(
                    "get {} = {}",
                    plain(&result["key"]),
                    plain(&result["value"])
                )
            }
            Some("get") => format!("get {}: not found", plain(&result["key"])),
            Some(op) => format!(
                "{op} {} @{}",
                plain(&result["key"]),
                plain(&result["revision"])
            ),
            None => result.to_string(),
        };
        human.push_str(&line);
        human.push('\n');
    }
    Ok(Outcome {
        answer,
        human,
        code: if succeeded { exit::OK } else { exit::NEGATIVE },
    })
}

async fn lease(client: &Client, action: LeaseAction) -> Result<Outcome, Failure> {
    let (method, path, body) = match &action {
        LeaseAction::Grant { secs, .. } => (
            Method::POST,
            "/ctx/lease".to_owned(),
            Some(json!({"ttl_secs": secs})),
        ),
        LeaseAction::Keepalive { id, .. } => (
            Method::POST,
            format!("/ctx/lease/{id}/keepalive"),
            Some(json!({})),
        ),
        LeaseAction::Revoke { id, .. } => (Method::DELETE, format!("/ctx/lease/{id}"), None),
    };
    let answer = client.request(method, &path, body.as_ref()).await?;
    let human = match action {
        LeaseAction::Grant { .. } => format!("{}\n", plain(&answer["lease_id"])),
        LeaseAction::Keepalive { id, .. } => {
            format!("lease {id} expires at {}\n", plain(&answer["expires_at"]))
        }
        LeaseAction::Revoke { id, .. } => format!(
            "revoked lease {id}: {} keys deleted\n",
            plain(&answer["deleted"])
        ),
    };
    Ok(done(answer, human))
}

/// Longest single long poll; the client's own request timeout is 30 s.
const POLL: Duration = Duration::from_secs(20);

/// Reads `key` until it exists (with `value`, if given), following changes with the
/// server's long poll; `None` deadline: no limit.
async fn wait(
    client: &Client,
    key: &str,
    value: Option<&Value>,
    deadline: Option<Instant>,
) -> Result<Outcome, Failure> {
    let read = format!("/ctx{}", query(&[("key", Some(key))]));
    let mut answer = client.request(Method::GET, &read, None).await?;
    loop {
        let found = answer["found"] == true;
        if found && value.is_none_or(|v| &answer["value"] == v) {
            let human = format!("{}\n", plain(&answer["value"]));
            return Ok(done(answer, human));
        }
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => POLL,
        };
        if left.is_zero() {
            let _ = writeln!(std::io::stderr(), "ctx: timed out waiting for {key}");
            return Ok(Outcome {
                human: String::new(),
                answer,
                code: exit::NEGATIVE,
            });
        }
        // A found key's revision is its own; an absent key's is the store's, after which
        // its creation is a change.
        let after = answer["revision"].as_u64().unwrap_or(0);
        let poll = format!(
            "{read}&wait_for_revision={after}&timeout_secs={}",
            left.min(POLL).as_secs_f64()
        );
        let (status, next) = client.answer(Method::GET, &poll, None).await?;
        answer = match status {
            StatusCode::OK => next,
            // No change in time: read again (the key's state is in the 408's body too,
            // but a plain read keeps the answer's shape).
            StatusCode::REQUEST_TIMEOUT => client.request(Method::GET, &read, None).await?,
            status => {
                return Err(super::client::server_failure(
                    status,
                    next.to_string().as_bytes(),
                ));
            }
        };
    }
}
