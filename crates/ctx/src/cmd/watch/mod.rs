//! `ctx watch [PREFIX...] [--since REV]`: follow changes live over the server's `/ws`.
//!
//! One line per change on stdout (`REV KEY = VALUE (who)`, or the event's JSON with
//! `--json`). Notices (reconnects, resyncs) go to stderr so stdout stays data. After a
//! dropped connection it reconnects with a bounded backoff and resumes from the last
//! revision it printed, so nothing is missed or printed twice; if the server no longer
//! keeps that revision, it says so and continues from the server's current revision.
//! `--server` may name several servers, comma-separated (the nodes of a cluster, which
//! share one revision sequence): a reconnect that fails moves on to the next one, and
//! resumes there from the same revision.
//!
//! Here: the flags and the start (`run`). `url` turns `--server` into `/ws` URLs and
//! reads a refused upgrade; `watcher` holds the `Watcher`: its connection, the first
//! connect and the reconnect with backoff; `events` what it does with each message:
//! subscribe, print, and skip what it printed before a reconnect.

use crate::cmd::client::ClientOptions;
use crate::exit;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use tokio_tungstenite::Connector;
use url::ws_url;
use watcher::{BACKOFF_MIN, Watcher};

mod events;
mod url;
mod watcher;

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Only keys starting with one of these prefixes (none: every key).
    prefixes: Vec<String>,
    /// First replay the retained changes after this revision.
    #[arg(long)]
    since: Option<u64>,
    /// After a connection drops, give up once every server has been unreachable this long.
    /// (--server may list several cluster nodes, comma-separated: reconnects go round them.)
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    retry_for: u64,
    #[command(flatten)]
    options: ClientOptions,
}

pub fn run(args: WatchArgs) -> ExitCode {
    let options = args.options;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(
                exit::COULD_NOT_RUN,
                &format!("cannot start the runtime: {e}"),
            );
        }
    };
    let servers: Vec<String> = options.server.split(',').map(str::to_owned).collect();
    let mut urls = Vec::with_capacity(servers.len());
    for server in &servers {
        match ws_url(server) {
            Ok(url) => urls.push(url),
            Err(reason) => {
                return fail(
                    exit::USAGE,
                    &format!(
                        "bad server URL {server:?}: {reason}; expected e.g. http://127.0.0.1:8080"
                    ),
                );
            }
        }
    }
    let tls = if urls.iter().any(|url| url.starts_with("wss://")) {
        match crate::tls::client_config(options.cacert.as_deref()) {
            Ok(config) => Some(Connector::Rustls(config)),
            Err(message) => return fail(exit::COULD_NOT_RUN, &message),
        }
    } else {
        None
    };
    let api_key = match options.auth.header() {
        Ok(key) => key,
        Err(message) => return fail(exit::USAGE, &message),
    };
    let mut watcher = Watcher {
        urls,
        servers,
        current: 0,
        tls,
        api_key,
        json: options.json,
        prefixes: args.prefixes,
        last: args.since,
        printed_at_last: Vec::new(),
        retry_for: Duration::from_secs(args.retry_for),
        pause: BACKOFF_MIN,
        down_since: None,
    };
    match runtime.block_on(watcher.watch()) {
        Ok(()) => exit::code(exit::OK),
        Err((code, message)) => fail(code, &message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "ctx: {message}");
    exit::code(code)
}

fn notice(message: &str) {
    let _ = writeln!(std::io::stderr(), "ctx watch: {message}");
}
