//! What every handler shares.

use crate::config::ServerConfig;
use crate::dump::DumpDir;
use crate::live::Hub;
use crate::metrics::Metrics;
use ctx_store::ContextStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub struct App {
    /// The embedded store or another backend: handlers never know which.
    pub store: Arc<dyn ContextStore>,
    pub dumps: DumpDir,
    pub metrics: Arc<Metrics>,
    pub config: ServerConfig,
    pub started: Instant,
    /// Live WebSocket and Socket.IO connections.
    pub clients: AtomicUsize,
    /// Dump notices and shutdown for live connections.
    pub live: Hub,
}

pub type AppState = Arc<App>;

impl App {
    pub fn connected_clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }
}
