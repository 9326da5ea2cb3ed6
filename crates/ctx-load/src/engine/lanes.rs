//! Where the client tasks run: on `lanes` OS threads, each with its own
//! current-thread tokio runtime and I/O driver — wrk's thread-per-core layout.
//!
//! On one multi-thread runtime a client's socket event is often picked up by
//! the worker that does not run the client, which then has to wake the other:
//! a futex wake and a context switch per request or so (`finish_task_switch`
//! and spin-unlocks were ~11 % of the engine's profile against the bench
//! baseline). Independent lanes never wake each other. Measured interleaved
//! with `wrk -t2 -c64` against `ctx-bench baseline` on the shared 2-core
//! machine: one 2-worker runtime 0.66× wrk's requests/s (median of 5 rounds);
//! two single-threaded processes of 32 clients each, 1.04×.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::recorder::Recorder;
use crate::error::LoadError;

/// One client's whole run.
pub(super) type ClientTask = Pin<Box<dyn Future<Output = Recorder> + Send>>;

/// Lanes by default: one per core the process may use.
pub fn default_lanes() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Tells the lanes' clients to stop when dropped: a run abandoned by its
/// caller (Ctrl-C, the server died) does not keep sending on other threads.
pub(super) struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

async fn join_all(tasks: Vec<ClientTask>) -> Result<Vec<Recorder>, String> {
    let mut set = JoinSet::new();
    for task in tasks {
        set.spawn(task);
    }
    let mut recorders = Vec::new();
    while let Some(joined) = set.join_next().await {
        recorders.push(joined.map_err(|e| format!("load worker failed: {e}"))?);
    }
    Ok(recorders)
}

/// Runs `tasks` dealt round-robin over `lanes` threads (on the caller's
/// runtime when one lane is asked for) and returns their recorders.
pub(super) async fn run(tasks: Vec<ClientTask>, lanes: usize) -> Result<Vec<Recorder>, LoadError> {
    let lanes = lanes.clamp(1, tasks.len().max(1));
    if lanes == 1 {
        return join_all(tasks).await.map_err(LoadError::Internal);
    }
    let mut dealt: Vec<Vec<ClientTask>> = (0..lanes).map(|_| Vec::new()).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        dealt[i % lanes].push(task);
    }
    let mut results = Vec::new();
    for (lane, mine) in dealt.into_iter().enumerate() {
        let (done, result) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("ctx-load-lane-{lane}"))
            .spawn(move || {
                let outcome = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start load lane {lane}: {e}"))
                    .and_then(|runtime| runtime.block_on(join_all(mine)));
                let _ = done.send(outcome);
            })
            .map_err(|e| LoadError::Internal(format!("cannot start load lane {lane}: {e}")))?;
        results.push(result);
    }
    let mut recorders = Vec::new();
    for result in results {
        let lane = result
            .await
            .map_err(|_| LoadError::Internal("a load lane ended without its results".into()))?
            .map_err(LoadError::Internal)?;
        recorders.extend(lane);
    }
    Ok(recorders)
}
