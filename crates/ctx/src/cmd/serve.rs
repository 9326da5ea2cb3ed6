//! `ctx serve`: run the context server.
//!
//! Settings come from flags, then the environment (`CONTEXT_SERVER_HOST` /
//! `CONTEXT_SERVER_PORT`, kept for Framework0 compatibility; `CTX_API_KEY`,
//! `CTX_TLS_CERT`, `CTX_TLS_KEY`), then `--config FILE`
//! (TOML, same names as the flags with `_`), then the defaults.

use crate::exit;
use ctx_server::{ApiKey, AuthScope, ConfigFile, Server, ServerConfig, StoreBackend};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "CONTEXT_SERVER_HOST")]
    host: Option<String>,
    /// Port to listen on; 0 picks a free one [default: 8080].
    #[arg(long, env = "CONTEXT_SERVER_PORT")]
    port: Option<u16>,
    /// Directory for the durable store [default: ./ctx-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Directory for dumps [default: <data-dir>/dumps].
    #[arg(long)]
    dump_dir: Option<PathBuf>,
    /// History entries kept before the oldest are compacted [default: 100000].
    #[arg(long)]
    history_limit: Option<usize>,
    /// Bytes of history kept, whatever the entry count [default: 268435456 (256 MiB)].
    #[arg(long)]
    history_max_bytes: Option<usize>,
    /// Milliseconds between store checkpoints (redb made durable, older write-ahead log segments retired) [default: 1000].
    #[arg(long)]
    checkpoint_interval_ms: Option<u64>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long)]
    max_body: Option<usize>,
    /// Longest key in bytes [default: 1024].
    #[arg(long)]
    max_key_bytes: Option<usize>,
    /// Deepest nesting of arrays and objects in a stored value (at most 100) [default: 64].
    #[arg(long)]
    max_value_depth: Option<usize>,
    /// Most keys held; a write creating one more is refused (507); 0: no limit [default: 10000000].
    #[arg(long)]
    max_keys: Option<usize>,
    /// Most open connections; past it new ones get 503 (but /health); 0: no limit [default: 10000].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Requests per client address, N/s or N/min; over it: 429 with Retry-After [default: none].
    #[arg(long, value_name = "N/s")]
    rate_limit: Option<ctx_server::RateLimit>,
    /// Seconds before a request is answered 408 [default: 30].
    #[arg(long)]
    request_timeout_secs: Option<u64>,
    /// Seconds a connection may sit without sending a complete request head [default: 10].
    #[arg(long)]
    idle_timeout_secs: Option<u64>,
    /// Messages queued per WebSocket/Socket.IO client before it is cut off as a slow consumer [default: 1024].
    #[arg(long)]
    ws_queue: Option<usize>,
    /// Seconds between keep-alive pings to WebSocket clients (silent for two: dropped) [default: 20].
    #[arg(long)]
    ws_ping_interval_secs: Option<u64>,
    /// Largest WebSocket/Socket.IO message in bytes: bigger ones are refused with an error event, four times bigger close /ws with 1009 [default: 1048576].
    #[arg(long)]
    ws_max_message_bytes: Option<usize>,
    /// An API key with role admin (Authorization: Bearer KEY or X-API-Key); see --api-keys.
    #[arg(long, env = "CTX_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// API keys with roles, comma-separated ROLE:KEY (ROLE read, write or admin: admin may also dump).
    #[arg(
        long,
        env = "CTX_API_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    api_keys: Vec<String>,
    /// What the API key guards: `writes` or `all` [default: writes].
    #[arg(long)]
    auth_scope: Option<AuthScope>,
    /// Allow this browser origin (CORS); repeatable. None by default.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Serve HTTPS (and wss for /ws, Socket.IO) with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "CTX_TLS_CERT", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "CTX_TLS_KEY", value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Where the context lives: `embedded` (on local disk) or `etcd` (an etcd v3 cluster; see docs/cluster.md) [default: embedded].
    #[arg(long, env = "CTX_STORE")]
    store: Option<StoreBackend>,
    /// With --store etcd: the etcd members' client URLs, comma-separated (http://h1:2379,http://h2:2379).
    #[arg(long, env = "CTX_ETCD_ENDPOINTS", value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// With --store etcd: the etcd key prefix of this context; nodes with the same prefix share it [default: ctx/].
    #[arg(long, env = "CTX_ETCD_PREFIX")]
    etcd_prefix: Option<String>,
    /// TOML file with any of the settings above.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start even if the data directory is damaged: keep what is intact, move the rest to
    /// <data-dir>/damaged-<time>/, print what was dropped. Revisions never go back.
    #[arg(long)]
    recover: bool,
}

impl ServeArgs {
    fn into_config(self) -> Result<ServerConfig, String> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let overrides = ConfigFile {
            host: self.host,
            port: self.port,
            data_dir: self.data_dir,
            dump_dir: self.dump_dir,
            history_limit: self.history_limit,
            history_max_bytes: self.history_max_bytes,
            checkpoint_interval_ms: self.checkpoint_interval_ms,
            ws_queue: self.ws_queue,
            ws_ping_interval_secs: self.ws_ping_interval_secs,
            max_body: self.max_body,
            max_key_bytes: self.max_key_bytes,
            max_value_depth: self.max_value_depth,
            max_keys: self.max_keys,
            max_connections: self.max_connections,
            rate_limit: self.rate_limit,
            ws_max_message_bytes: self.ws_max_message_bytes,
            request_timeout_secs: self.request_timeout_secs,
            idle_timeout_secs: self.idle_timeout_secs,
            api_key: self.api_key,
            api_keys: parse_api_keys(&self.api_keys)?,
            auth_scope: self.auth_scope,
            cors_origins: (!self.cors_origins.is_empty()).then_some(self.cors_origins),
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            store: self.store,
            etcd_endpoints: (!self.etcd_endpoints.is_empty()).then_some(self.etcd_endpoints),
            etcd_prefix: self.etcd_prefix,
        };
        let mut config = ServerConfig::resolve(overrides, file);
        config.recover = self.recover;
        config.check()?;
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(ctx_server::TlsError::Incomplete.to_string());
        }
        Ok(config)
    }
}

/// `ROLE:KEY` entries; none given is `None` (the config file's then apply). The error
/// names the entry's position, never its text (it holds a key).
fn parse_api_keys(entries: &[String]) -> Result<Option<Vec<ApiKey>>, String> {
    if entries.is_empty() {
        return Ok(None);
    }
    entries
        .iter()
        .enumerate()
        .map(|(at, entry)| {
            entry
                .parse()
                .map_err(|e| format!("--api-keys entry {}: {e}", at + 1))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

pub fn run(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("ctx serve: {message}");
            return exit::code(exit::USAGE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ctx serve: cannot start the async runtime: {e}");
            return exit::code(exit::COULD_NOT_RUN);
        }
    };
    runtime.block_on(async move {
        let data_dir = config.data_dir.clone();
        let open = match super::serve_etcd::opener(&config) {
            Ok(open) => open,
            Err(message) => {
                eprintln!("ctx serve: {message}");
                return exit::code(exit::USAGE);
            }
        };
        let server = match Server::bind_with(config, open).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("ctx serve: {e}");
                return exit::code(if e.is_damaged_data() {
                    exit::DAMAGED_DATA
                } else {
                    exit::COULD_NOT_RUN
                });
            }
        };
        for dropped in server.recovered() {
            eprintln!("ctx serve: recovered: {dropped}");
        }
        // Opening a large store allocates and frees a lot once (decoding, the bulk-built
        // key map); hand those pages back to the system rather than carry them as RSS.
        // SAFETY: mi_collect only walks mimalloc's own heaps; any thread may call it.
        unsafe { libmimalloc_sys::mi_collect(true) };
        match server.local_addr() {
            Ok(addr) => {
                // One line on stdout that scripts (and `ctx load`) wait for.
                println!("listening on {}://{addr}", server.scheme());
                let _ = std::io::stdout().flush();
                tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
            }
            Err(e) => {
                eprintln!("ctx serve: {e}");
                return exit::code(exit::COULD_NOT_RUN);
            }
        }
        match server.run(ctx_server::shutdown_signal()).await {
            Ok(()) => exit::code(exit::OK),
            Err(e) => {
                eprintln!("ctx serve: {e}");
                exit::code(exit::COULD_NOT_RUN)
            }
        }
    })
}
