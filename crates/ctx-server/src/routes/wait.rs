//! `GET /ctx/{key}?wait_for_revision=N&timeout_secs=T`: a long poll for shells that cannot
//! hold a WebSocket. It answers (as a plain read) once the key has changed after revision
//! N — set, or deleted — or with a 408 when `timeout_secs` (default 30, at most 300) pass
//! first.

use crate::app::AppState;
use crate::error::ApiError;
use axum::http::StatusCode;
use axum::response::Response;
use ctx_store::StoreError;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Deserialize, Default)]
pub struct WaitQuery {
    pub wait_for_revision: Option<u64>,
    pub timeout_secs: Option<f64>,
    /// `?consistent=true`: answer only once the store holds every change committed before
    /// the request (see `current`).
    pub consistent: Option<bool>,
}

/// For `?consistent=true`: waits until the store's memory holds every change committed
/// before now. At once on the embedded store; on etcd, until this node has applied etcd's
/// current revision (docs/cluster.md).
pub async fn current(app: &AppState, consistent: Option<bool>) -> Result<(), ApiError> {
    if consistent == Some(true) {
        app.store.caught_up().await?;
    }
    Ok(())
}

impl WaitQuery {
    fn timeout(&self) -> Result<Duration, ApiError> {
        match self.timeout_secs {
            None => Ok(DEFAULT_TIMEOUT),
            Some(secs) => Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|t| *t <= MAX_TIMEOUT)
                .ok_or_else(|| {
                    ApiError::bad_request("`timeout_secs` must be between 0 and 300 seconds")
                }),
        }
    }
}

/// Reads `key` once it has changed after `after`.
pub async fn wait(
    app: &AppState,
    key: &str,
    after: u64,
    query: &WaitQuery,
) -> Result<Response, ApiError> {
    let deadline = tokio::time::Instant::now() + query.timeout()?;
    app.store.validate_key(key)?;
    // Subscribed before looking, so a change between the look and the wait is not missed.
    let mut watch = match app.store.watch(Some(after)) {
        Ok(watch) => watch,
        // History after `after` is gone: the key may have changed since; answer now.
        Err(StoreError::Compacted { .. }) => return super::read::read(app, key),
        Err(e) => return Err(e.into()),
    };
    if watch.backlog.iter().any(|change| &*change.key == key) {
        return super::read::read(app, key);
    }
    drop(std::mem::take(&mut watch.backlog));
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, watch.live.recv()) => next,
            // The store reloaded its memory (cluster mode): whether the key changed in
            // what it skipped is unknown; answer now.
            Ok(()) = watch.reset.changed() => return super::read::read(app, key),
        };
        match next {
            Ok(Ok(change)) if &*change.key == key => return super::read::read(app, key),
            Ok(Ok(_)) => {}
            // Fell behind the feed: whether the key changed is unknown; answer now.
            Ok(Err(RecvError::Lagged(_))) => return super::read::read(app, key),
            Ok(Err(RecvError::Closed)) => return Err(StoreError::Closed.into()),
            Err(_) => {
                let (revision, found) = match app.store.get(key) {
                    Some(record) => (record.revision, true),
                    None => (0, false),
                };
                let mut error = ApiError::conflict(
                    format!("{key:?} did not change after revision {after} in time"),
                    key,
                    revision,
                    found,
                );
                error.status = StatusCode::REQUEST_TIMEOUT;
                return Err(error);
            }
        }
    }
}
