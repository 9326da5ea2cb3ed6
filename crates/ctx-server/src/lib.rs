//! The ctx HTTP API on top of [`ctx_store`]: routes, dumps, metrics, configuration, and
//! a [`Server`] that binds, serves and shuts down gracefully.

mod accept;
mod app;
mod auth;
pub mod config;
mod dashboard;
mod dump;
mod error;
mod limits;
pub mod live;
mod metrics;
mod observe;
mod routes;
mod tls;

pub use auth::{ApiKey, Role, Secret};
pub use config::{AuthScope, ConfigFile, RateLimit, ServerConfig, StoreBackend};
pub use tls::TlsError;

use app::App;
use ctx_store::{ContextStore, Store, StoreConfig};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the data directory: {0}")]
    Store(#[from] ctx_store::StoreError),
    /// Another backend could not be opened (e.g. no etcd member answered).
    #[error("cannot open the store: {0}")]
    Backend(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl ServeError {
    /// The store refused a damaged data directory (`--recover` opens it anyway).
    pub fn is_damaged_data(&self) -> bool {
        matches!(self, ServeError::Store(ctx_store::StoreError::Damaged(_)))
    }
}

/// How long shutdown waits for live connections to take their close frames.
const LIVE_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens a backend other than the embedded store, once the socket is bound. It is given
/// the metrics' commit observer.
pub type OpenStore = Box<
    dyn FnOnce(
            Option<Arc<dyn Fn(ctx_store::CommitStats) + Send + Sync>>,
        ) -> ctx_store::BoxFuture<'static, Result<Arc<dyn ContextStore>, ServeError>>
        + Send,
>;

/// A bound, ready server. Binding and serving are separate steps so a caller can learn
/// the real address (with port 0) before traffic starts.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Binds the listening socket, then opens the embedded store (reloading everything on
    /// disk).
    pub async fn bind(config: ServerConfig) -> Result<Server, ServeError> {
        Server::bind_with(config, None).await
    }

    /// As [`Server::bind`], on the store `open` gives (the embedded one when `None`).
    pub async fn bind_with(
        config: ServerConfig,
        open: Option<OpenStore>,
    ) -> Result<Server, ServeError> {
        // A bad certificate is refused before anything is bound or created.
        let tls = tls::acceptor(config.tls_cert.as_deref(), config.tls_key.as_deref())?;
        // The socket first: a server that cannot listen (port taken, bad host) must not
        // leave a freshly created data directory behind. Connections made while a large
        // store loads wait in the listen backlog and are served once it is open.
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let metrics = Arc::new(metrics::Metrics::new());
        let observer = metrics.clone();
        let observer: Arc<dyn Fn(ctx_store::CommitStats) + Send + Sync> =
            Arc::new(move |stats| observer.observe_commit(stats));
        let store = match open {
            Some(open) => open(Some(observer)).await?,
            None => Server::open_embedded(&config, observer).await?,
        };
        let app = Arc::new(App {
            store,
            dumps: dump::DumpDir::new(config.dump_dir.clone()),
            metrics,
            config,
            started: Instant::now(),
            clients: Default::default(),
            live: Default::default(),
        });
        Ok(Server { listener, app, tls })
    }

    async fn open_embedded(
        config: &ServerConfig,
        observer: Arc<dyn Fn(ctx_store::CommitStats) + Send + Sync>,
    ) -> Result<Arc<dyn ContextStore>, ServeError> {
        let mut store_config = StoreConfig::new(&config.data_dir);
        store_config.history_limit = config.history_limit;
        store_config.history_max_bytes = config.history_max_bytes;
        store_config.checkpoint_every = config.checkpoint_interval;
        store_config.max_key_bytes = config.max_key_bytes;
        store_config.max_keys = config.max_keys;
        store_config.recover = config.recover;
        store_config.commit_observer = Some(observer);
        // Reloading a large store is blocking work; keep it off the async workers.
        let store = tokio::task::spawn_blocking(move || Store::open(store_config))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
        Ok(Arc::new(store))
    }

    /// What `--recover` found damaged and dropped at open (empty when all was intact).
    pub fn recovered(&self) -> &[String] {
        self.app.store.recovered()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` with a TLS certificate, else `http`: how clients reach this server.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` completes, lets in-flight requests finish, then flushes
    /// and closes the store.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let service = routes::service(self.app.clone());
        // Upgraded connections outlive axum's graceful shutdown: close them ourselves, or
        // a shutdown would wait on (or abandon) open sockets. Axum stops accepting at the
        // same moment, so clients cannot reconnect in between.
        let app = self.app.clone();
        let shutdown = async move {
            shutdown.await;
            app.live.begin_shutdown();
        };
        let idle_timeout = self.app.config.idle_timeout;
        let gatekeeper = limits::Gatekeeper::new(&self.app.config, self.app.metrics.clone());
        accept::serve(
            self.listener,
            service,
            idle_timeout,
            self.tls,
            gatekeeper,
            shutdown,
        )
        .await;
        self.app.live.wait_closed(LIVE_CLOSE_GRACE).await;
        self.app.store.close().await;
        tracing::info!("store closed");
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
