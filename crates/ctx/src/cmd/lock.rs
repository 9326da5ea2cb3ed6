//! `ctx lock NAME -- COMMAND…`: a lease-backed lock, like `etcdctl lock`.
//!
//! The lock is the key NAME, created with `if_revision: 0` (only if absent) and attached
//! to a lease this process keeps alive (every third of its TTL). Whoever creates the key
//! holds the lock; the others wait for the key to change (long poll) and try again. When
//! COMMAND exits the lease is revoked, which deletes the key and wakes the waiters; if this
//! process dies instead, the lease expires after its TTL and the key goes the same way. If
//! the lease is lost while COMMAND runs (the server said it ended), COMMAND is stopped:
//! another process may hold the lock by then.

use super::client::{Client, Failure, query};
use super::coord::seconds;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest single wait for the holder's key to change.
const POLL_SECS: u64 = 20;

/// Holds the lock while `command` runs; answers its exit code.
pub(super) async fn run(
    client: &Client,
    name: &str,
    ttl: f64,
    command: &[String],
) -> Result<u8, Failure> {
    let ttl = seconds(ttl, "--ttl")?;
    let grant = client
        .request(
            Method::POST,
            "/ctx/lease",
            Some(&json!({"ttl_secs": ttl.as_secs_f64()})),
        )
        .await?;
    let lease = grant["lease_id"].as_u64().ok_or_else(|| Failure::Server {
        status: StatusCode::OK,
        message: format!("a lease grant without lease_id: {grant}"),
    })?;
    let (lost_tx, lost) = oneshot::channel();
    let keeper = tokio::spawn(keep_alive(client.clone(), lease, ttl / 3, lost_tx));
    let result = hold(client, name, lease, command, lost).await;
    keeper.abort();
    // Deletes the key (releasing the lock) at once rather than at expiry.
    let _ = client
        .answer(Method::DELETE, &format!("/ctx/lease/{lease}"), None)
        .await;
    result
}

async fn hold(
    client: &Client,
    name: &str,
    lease: u64,
    command: &[String],
    mut lost: oneshot::Receiver<()>,
) -> Result<u8, Failure> {
    let claim = json!({
        "key": name,
        "value": {"pid": std::process::id(), "lease": lease},
        "if_revision": 0,
        "lease": lease,
        "who": "ctx-lock",
    });
    loop {
        let (status, answer) = client.answer(Method::POST, "/ctx", Some(&claim)).await?;
        match status {
            StatusCode::OK => break,
            StatusCode::CONFLICT => {
                let held_at = answer["revision"].as_u64().unwrap_or(0);
                let poll = format!(
                    "/ctx{}&wait_for_revision={held_at}&timeout_secs={POLL_SECS}",
                    query(&[("key", Some(name))])
                );
                let (status, answer) = client.answer(Method::GET, &poll, None).await?;
                if !(status.is_success() || status == StatusCode::REQUEST_TIMEOUT) {
                    return Err(failure(status, &answer));
                }
            }
            status => return Err(failure(status, &answer)),
        }
    }
    let Some((program, args)) = command.split_first() else {
        return Err(Failure::Usage("no COMMAND given after --".into()));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Usage(format!("cannot run {program}: {e}")))?;
    tokio::select! {
        status = child.wait() => {
            let status = status.map_err(|e| Failure::Usage(format!("waiting for {program}: {e}")))?;
            Ok(exit_code(status))
        }
        _ = &mut lost => {
            let _ = child.kill().await;
            Err(Failure::Server {
                status: StatusCode::NOT_FOUND,
                message: format!("the lock's lease {lease} ended while {program} ran (the server was unreachable for longer than the TTL?); {program} was stopped"),
            })
        }
        signal = terminated() => {
            let _ = child.kill().await;
            Ok(128 + signal)
        }
    }
}

/// Keeps the lease alive; tells `lost` when the server says it has ended.
async fn keep_alive(client: Client, lease: u64, every: Duration, lost: oneshot::Sender<()>) {
    let path = format!("/ctx/lease/{lease}/keepalive");
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(30)));
    loop {
        tick.tick().await;
        // A network error is retried at the next tick; the lease outlives a few.
        if let Ok((StatusCode::NOT_FOUND, _)) =
            client.answer(Method::POST, &path, Some(&json!({}))).await
        {
            let _ = lost.send(());
            return;
        }
    }
}

/// SIGINT or SIGTERM to `ctx lock`: the number of the signal.
async fn terminated() -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => 2,
        _ = terminate.recv() => 15,
    }
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => 128u8.saturating_add(u8::try_from(signal).unwrap_or(0)),
        (None, None) => 1,
    }
}

fn failure(status: StatusCode, answer: &Value) -> Failure {
    super::client::server_failure(status, answer.to_string().as_bytes())
}
