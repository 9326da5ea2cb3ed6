//! `ctx serve --store etcd`: the etcd backend, built with the cargo feature `etcd` (its
//! gRPC client needs `protoc` to build, so the default build leaves it out).

use ctx_server::{OpenStore, ServerConfig, StoreBackend};

/// How `ctx serve` opens its store: `None` for the embedded one.
pub fn opener(config: &ServerConfig) -> Result<Option<OpenStore>, String> {
    match config.store {
        StoreBackend::Embedded => Ok(None),
        StoreBackend::Etcd => etcd(config).map(Some),
    }
}

#[cfg(feature = "etcd")]
fn etcd(config: &ServerConfig) -> Result<OpenStore, String> {
    use ctx_etcd::store::{EtcdConfig, EtcdStore};
    use ctx_store::HistoryBound;
    let mut etcd = EtcdConfig::new(config.etcd_endpoints.clone());
    etcd.prefix = config.etcd_prefix.clone();
    etcd.history = HistoryBound {
        max_entries: config.history_limit,
        max_bytes: config.history_max_bytes,
    };
    etcd.max_key_bytes = config.max_key_bytes;
    etcd.max_keys = config.max_keys;
    Ok(Box::new(move |observer| {
        etcd.commit_observer = observer;
        Box::pin(async move {
            let store = EtcdStore::open(etcd)
                .await
                .map_err(|e| ctx_server::ServeError::Backend(e.to_string()))?;
            let store: std::sync::Arc<dyn ctx_store::ContextStore> = std::sync::Arc::new(store);
            Ok(store)
        })
    }))
}

#[cfg(not(feature = "etcd"))]
fn etcd(_: &ServerConfig) -> Result<OpenStore, String> {
    Err("this ctx was built without etcd support: build it with `cargo build --release --features etcd` (needs protoc)".into())
}
