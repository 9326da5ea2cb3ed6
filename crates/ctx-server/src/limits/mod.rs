//! Limits that keep one client, or a mistake, from taking the server down; each has a
//! documented default and a `ctx serve` flag (docs/serve.md), and each refusal is a JSON
//! error that names the limit:
//!
//! - [`depth`]: how deeply a stored value may nest (400), for every way a value comes in;
//! - the number of keys: enforced by the store's committer (`ctx_store::StoreConfig::max_keys`),
//!   the one place that sees every write in order (507);
//! - request heads (431), bodies (413), WebSocket messages (1009): set where each is read;
//! - [`connections`]: open connections (503 past it, `/health` still answered);
//! - [`rate`]: an optional request rate per client address (429 with `Retry-After`).
//!
//! The accept loop asks [`Gatekeeper::admit`] once per connection; the answer is the
//! [`gate::Gate`] that connection's requests pass through.

pub(crate) mod connections;
pub(crate) mod depth;
pub(crate) mod gate;
pub(crate) mod rate;

use crate::metrics::Metrics;
use connections::{Admission, Connections, Open};
use gate::Gate;
use rate::Limiter;
use std::net::IpAddr;
use std::sync::Arc;

/// The connection-level limits, as the accept loop holds them.
pub(crate) struct Gatekeeper {
    connections: Connections,
    limiter: Option<Arc<Limiter>>,
    metrics: Arc<Metrics>,
}

impl Gatekeeper {
    pub fn new(config: &crate::config::ServerConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            connections: Connections::new(config.max_connections, metrics.clone()),
            limiter: config.rate_limit.map(|limit| Arc::new(Limiter::new(limit))),
            metrics,
        }
    }

    /// Counts a connection just accepted from `client` and gives the gate its requests
    /// pass through; `None`: close it unread.
    pub fn admit<S>(&self, service: &S, client: IpAddr) -> Option<(Open, Gate<S>)>
    where
        S: Clone,
    {
        let (open, admission) = self.connections.admit();
        let gate = match (admission, &self.limiter) {
            (Admission::Drop, _) => return None,
            (Admission::Refuse { max }, _) => Gate::Refusing {
                inner: service.clone(),
                max,
                metrics: self.metrics.clone(),
            },
            (Admission::Serve, None) => Gate::Open(service.clone()),
            (Admission::Serve, Some(limiter)) => Gate::RateLimited {
                inner: service.clone(),
                limiter: limiter.clone(),
                // An IPv4 client reaching an IPv6 socket is still one address.
                client: client.to_canonical(),
                metrics: self.metrics.clone(),
            },
        };
        Some((open, gate))
    }

    /// Forgets idle clients of the rate limit now and then, until dropped; `None` when
    /// there is no rate limit.
    pub fn spawn_upkeep(&self) -> Option<tokio::task::JoinHandle<()>> {
        let limiter = self.limiter.clone()?;
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(rate::FORGET_AFTER);
            loop {
                every.tick().await;
                limiter.forget_idle();
            }
        }))
    }
}
