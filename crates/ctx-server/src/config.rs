//! Server settings: the resolved [`ServerConfig`] and the optional TOML [`ConfigFile`].
//!
//! Precedence is flag > environment > file > default; the CLI resolves flags and the
//! environment, then fills the gaps from the file with [`ServerConfig::resolve`].

use crate::auth::{ApiKey, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Where dumps are written; `<data_dir>/dumps` by default.
    pub dump_dir: PathBuf,
    pub history_limit: usize,
    /// Bytes of history kept, whatever the entry count (see `ctx_store::StoreConfig`).
    pub history_max_bytes: usize,
    /// How often the store checkpoints (see `ctx_store::StoreConfig::checkpoint_every`).
    pub checkpoint_interval: Duration,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body: usize,
    pub max_key_bytes: usize,
    /// How deeply a stored value may nest arrays and objects (`limits::depth`).
    pub max_value_depth: usize,
    /// Most keys the store holds; a write creating one more is refused. `None`: no limit.
    pub max_keys: Option<usize>,
    /// Most open connections (`limits::connections`). `None`: no limit.
    pub max_connections: Option<usize>,
    /// Requests per client address (`limits::rate`). `None` (the default): no limit.
    pub rate_limit: Option<RateLimit>,
    /// A request (body included) that takes longer than this is answered 408.
    pub request_timeout: Duration,
    /// A connection that sends no complete request head for this long (idle keep-alive,
    /// or a peer trickling its headers) is closed.
    pub idle_timeout: Duration,
    /// One API key with role admin (`--api-key`, `CTX_API_KEY`); see `auth/`.
    pub api_key: Option<Secret>,
    /// Further keys, each with its role (`--api-keys`, `CTX_API_KEYS`).
    pub api_keys: Vec<ApiKey>,
    /// With an API key: guard every request (`all`) or only writes (`writes`, the default).
    pub auth_scope: AuthScope,
    /// Origins allowed by CORS; empty sends no CORS headers (browsers then refuse).
    pub cors_origins: Vec<String>,
    /// WebSocket and Socket.IO settings (queues, keep-alive, frame size).
    pub live: crate::live::LiveConfig,
    /// Open a damaged data directory anyway, keeping what is intact
    /// (`ctx_store::StoreConfig::recover`). A one-off action, so a flag only, never a
    /// file setting.
    pub recover: bool,
    /// With `tls_key`: serve HTTPS (and wss) on the port with this PEM certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Which store serves: the embedded one, or an etcd cluster (docs/cluster.md).
    pub store: StoreBackend,
    /// With `store = etcd`: the client URLs of the etcd members.
    pub etcd_endpoints: Vec<String>,
    /// With `store = etcd`: the etcd key prefix of this context (nodes sharing it share
    /// the context).
    pub etcd_prefix: String,
}

/// `--store`: where the context lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// On local disk (`data_dir`): one process, no setup.
    #[default]
    Embedded,
    /// On an etcd v3 cluster: any number of ctx nodes in front of it.
    Etcd,
}

impl std::str::FromStr for StoreBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(StoreBackend::Embedded),
            "etcd" => Ok(StoreBackend::Etcd),
            other => Err(format!("store must be `embedded` or `etcd`, not `{other}`")),
        }
    }
}

pub const DEFAULT_ETCD_PREFIX: &str = "ctx/";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScope {
    #[default]
    Writes,
    All,
}

impl std::str::FromStr for AuthScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "writes" => Ok(AuthScope::Writes),
            "all" => Ok(AuthScope::All),
            other => Err(format!(
                "auth scope must be `writes` or `all`, not `{other}`"
            )),
        }
    }
}

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_DATA_DIR: &str = "./ctx-data";
pub const DEFAULT_HISTORY_LIMIT: usize = 100_000;
pub const DEFAULT_HISTORY_MAX_BYTES: usize = 256 * 1024 * 1024;
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 1000;
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
pub const DEFAULT_MAX_KEY_BYTES: usize = 1024;
pub use crate::limits::connections::DEFAULT_MAX_CONNECTIONS;
pub use crate::limits::depth::{DEFAULT_MAX_VALUE_DEPTH, MAX_VALUE_DEPTH_CEILING};
pub use crate::limits::rate::RateLimit;
/// At ~250 bytes of memory per key plus its value (docs/performance.md: 1 000 000 keys of
/// 100 bytes took 247 MiB), 10 million keys of small values is ~2.5 GiB: far above any
/// test campaign's context, low enough that a runaway writer inventing keys meets a clear
/// error before the machine runs out of memory (as etcd's 2 GiB quota does).
pub const DEFAULT_MAX_KEYS: usize = 10_000_000;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Also the time allowed for a request head: a slowloris peer holds a connection at most
/// this long (hyper starts the same clock for an idle keep-alive connection).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 10;

/// The TOML file: every field optional, unknown fields refused (a typo should not be
/// silently ignored).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub dump_dir: Option<PathBuf>,
    pub history_limit: Option<usize>,
    pub history_max_bytes: Option<usize>,
    pub checkpoint_interval_ms: Option<u64>,
    /// Messages queued per live client before it is cut off as a slow consumer.
    pub ws_queue: Option<usize>,
    pub ws_ping_interval_secs: Option<u64>,
    pub max_body: Option<usize>,
    pub max_key_bytes: Option<usize>,
    pub max_value_depth: Option<usize>,
    /// `0`: no limit.
    pub max_keys: Option<usize>,
    /// `0`: no limit.
    pub max_connections: Option<usize>,
    /// `"N/s"` or `"N/min"`.
    pub rate_limit: Option<RateLimit>,
    /// Largest WebSocket / Socket.IO message (`live::LiveConfig::max_message_bytes`).
    pub ws_max_message_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub api_key: Option<String>,
    /// `ROLE:KEY` entries.
    pub api_keys: Option<Vec<ApiKey>>,
    pub auth_scope: Option<AuthScope>,
    pub cors_origins: Option<Vec<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub store: Option<StoreBackend>,
    pub etcd_endpoints: Option<Vec<String>>,
    pub etcd_prefix: Option<String>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }
}

impl ServerConfig {
    /// Whether any API key is configured (otherwise every request is allowed).
    pub fn auth_enabled(&self) -> bool {
        self.api_key.is_some() || !self.api_keys.is_empty()
    }

    /// Settings that no server can run with, as one line for the operator.
    pub fn check(&self) -> Result<(), String> {
        if self.store == StoreBackend::Etcd && self.etcd_endpoints.is_empty() {
            return Err("--store etcd needs --etcd-endpoints (http://host:2379,...)".into());
        }
        if self.store == StoreBackend::Etcd && self.etcd_prefix.is_empty() {
            return Err(
                "--etcd-prefix must not be empty (it would share etcd's whole key space)".into(),
            );
        }
        if self.max_value_depth > MAX_VALUE_DEPTH_CEILING {
            return Err(format!(
                "max_value_depth {} is above {MAX_VALUE_DEPTH_CEILING}: JSON parsing stops at 128 levels of a whole message",
                self.max_value_depth
            ));
        }
        if self.live.max_message_bytes == 0 {
            return Err("ws_max_message_bytes must be at least 1".into());
        }
        Ok(())
    }

    /// Fills every setting `overrides` leaves unset from `file`, then from the defaults.
    pub fn resolve(overrides: ConfigFile, file: ConfigFile) -> ServerConfig {
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        ServerConfig {
            host: overrides
                .host
                .or(file.host)
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: overrides.port.or(file.port).unwrap_or(DEFAULT_PORT),
            dump_dir: overrides
                .dump_dir
                .or(file.dump_dir)
                .unwrap_or_else(|| data_dir.join("dumps")),
            data_dir,
            history_limit: overrides
                .history_limit
                .or(file.history_limit)
                .unwrap_or(DEFAULT_HISTORY_LIMIT),
            history_max_bytes: overrides
                .history_max_bytes
                .or(file.history_max_bytes)
                .unwrap_or(DEFAULT_HISTORY_MAX_BYTES),
            checkpoint_interval: Duration::from_millis(
                overrides
                    .checkpoint_interval_ms
                    .or(file.checkpoint_interval_ms)
                    .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL_MS),
            ),
            max_body: overrides
                .max_body
                .or(file.max_body)
                .unwrap_or(DEFAULT_MAX_BODY),
            max_key_bytes: overrides
                .max_key_bytes
                .or(file.max_key_bytes)
                .unwrap_or(DEFAULT_MAX_KEY_BYTES),
            max_value_depth: overrides
                .max_value_depth
                .or(file.max_value_depth)
                .unwrap_or(DEFAULT_MAX_VALUE_DEPTH),
            max_keys: match overrides.max_keys.or(file.max_keys) {
                Some(0) => None,
                Some(limit) => Some(limit),
                None => Some(DEFAULT_MAX_KEYS),
            },
            max_connections: match overrides.max_connections.or(file.max_connections) {
                Some(0) => None,
                Some(limit) => Some(limit),
                None => Some(DEFAULT_MAX_CONNECTIONS),
            },
            rate_limit: overrides.rate_limit.or(file.rate_limit),
            request_timeout: Duration::from_secs(
                overrides
                    .request_timeout_secs
                    .or(file.request_timeout_secs)
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS),
            ),
            idle_timeout: Duration::from_secs(
                overrides
                    .idle_timeout_secs
                    .or(file.idle_timeout_secs)
                    .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
            ),
            api_key: overrides.api_key.or(file.api_key).map(Secret::from),
            api_keys: overrides.api_keys.or(file.api_keys).unwrap_or_default(),
            auth_scope: overrides.auth_scope.or(file.auth_scope).unwrap_or_default(),
            cors_origins: overrides
                .cors_origins
                .or(file.cors_origins)
                .unwrap_or_default(),
            recover: false,
            live: {
                let defaults = crate::live::LiveConfig::default();
                crate::live::LiveConfig {
                    queue: overrides
                        .ws_queue
                        .or(file.ws_queue)
                        .unwrap_or(defaults.queue),
                    ping_interval: overrides
                        .ws_ping_interval_secs
                        .or(file.ws_ping_interval_secs)
                        .map_or(defaults.ping_interval, Duration::from_secs),
                    max_message_bytes: overrides
                        .ws_max_message_bytes
                        .or(file.ws_max_message_bytes)
                        .unwrap_or(defaults.max_message_bytes),
                    ..defaults
                }
            },
            tls_cert: overrides.tls_cert.or(file.tls_cert),
            tls_key: overrides.tls_key.or(file.tls_key),
            store: overrides.store.or(file.store).unwrap_or_default(),
            etcd_endpoints: overrides
                .etcd_endpoints
                .or(file.etcd_endpoints)
                .unwrap_or_default(),
            etcd_prefix: overrides
                .etcd_prefix
                .or(file.etcd_prefix)
                .unwrap_or_else(|| DEFAULT_ETCD_PREFIX.to_owned()),
        }
    }

    /// Defaults with a given data directory: handy for tests and embedding.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> ServerConfig {
        let overrides = ConfigFile {
            data_dir: Some(data_dir.into()),
            ..ConfigFile::default()
        };
        ServerConfig::resolve(overrides, ConfigFile::default())
    }
}
