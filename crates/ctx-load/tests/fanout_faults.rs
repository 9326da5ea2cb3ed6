//! ws_fanout end to end against stand-in `/ws` servers that misbehave on
//! purpose: a feed that loses, repeats and reorders events for some
//! subscribers, and a server that cuts every subscriber off as a slow
//! consumer after a frame that is not JSON. Each fault must be counted for
//! the right subscriber, fail the right threshold, and reach the report.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use ctx_load::model::CheckStatus;
use ctx_load::model::FanoutSummary;
use ctx_load::{LoadOptions, OpenLoop, RunOutcome};
use serde_json::{Value, json};
use tokio::sync::{Mutex, broadcast};

/// A store of one counter: every `POST /ctx` gets the next revision and is
/// broadcast as a `context_updated` event, in revision order.
#[derive(Clone)]
struct Feed {
    revision: Arc<Mutex<u64>>,
    events: broadcast::Sender<(u64, Value)>,
    connections: Arc<AtomicU64>,
    /// Cut every subscriber off as a slow consumer instead of feeding it.
    cut_off: bool,
}

async fn write(State(feed): State<Feed>, body: axum::Json<Value>) -> axum::Json<Value> {
    let mut rev = feed.revision.lock().await;
    *rev += 1;
    let event = json!({
        "type": "context_updated", "revision": *rev, "key": body["key"],
        "value": body["value"], "before": null, "who": body["who"], "timestamp": "t",
    });
    let _ = feed.events.send((*rev, event));
    axum::Json(json!({"status": "success", "revision": *rev, "changed": true}))
}

async fn ws(State(feed): State<Feed>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| subscriber(feed, socket))
}

async fn send(socket: &mut WebSocket, v: &Value) -> bool {
    socket.send(Message::text(v.to_string())).await.is_ok()
}

/// Connection 0 gets write 3 twice, connection 1 never gets write 5,
/// connection 2 gets write 2 after the event that followed it; the others
/// get a faithful feed.
async fn subscriber(feed: Feed, mut socket: WebSocket) {
    let id = feed.connections.fetch_add(1, Ordering::SeqCst);
    let mut events = feed.events.subscribe();
    let Some(Ok(Message::Text(_subscribe))) = socket.recv().await else {
        return;
    };
    let rev = *feed.revision.lock().await;
    if !send(
        &mut socket,
        &json!({"type": "subscribed", "revision": rev, "prefixes": []}),
    )
    .await
    {
        return;
    }
    if feed.cut_off {
        let _ = socket.send(Message::text("this is not json")).await;
        let _ = send(
            &mut socket,
            &json!({"type": "error", "code": "slow_consumer", "last_revision": rev,
                    "error": "slow consumer: more than 1024 messages were waiting"}),
        )
        .await;
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "slow consumer".into(),
            })))
            .await;
        return;
    }
    let mut held: Option<Value> = None;
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Ok((_, ev)) = ev else { return };
                let seq = ev["value"]["seq"].as_u64();
                match (id, seq) {
                    (1, Some(5)) => continue,
                    (2, Some(2)) => {
                        held = Some(ev);
                        continue;
                    }
                    _ => {}
                }
                if !send(&mut socket, &ev).await {
                    return;
                }
                if id == 0 && seq == Some(3) && !send(&mut socket, &ev).await {
                    return;
                }
                if id == 2 && seq != Some(2) && let Some(h) = held.take() && !send(&mut socket, &h).await {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
        }
    }
}

async fn run_against(cut_off: bool, subscribers: u64) -> RunOutcome {
    let feed = Feed {
        revision: Arc::new(Mutex::new(0)),
        events: broadcast::channel(4096).0,
        connections: Arc::new(AtomicU64::new(0)),
        cut_off,
    };
    let app = Router::new()
        .route("/ws", get(ws))
        .route("/ctx", post(write))
        .with_state(feed);
    let url = common::serve(app).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = LoadOptions {
        target: Some(url),
        scenarios: vec!["ws_fanout".into()],
        clients: Some(subscribers),
        // 40 writes at 40/s (seq 0..40), so the faults above all happen.
        open_loop: Some(OpenLoop {
            rate: 40.0,
            duration: Duration::from_secs(1),
        }),
        thresholds: vec!["ws_fanout.p99_ms=5000".into()],
        // Also how long subscribers wait for what is missing after the last write.
        timeout: Duration::from_secs(2),
        report_dir: Some(dir.path().join("r")),
        ..LoadOptions::default()
    };
    let outcome = ctx_load::run(opts).await.expect("the run is carried out");
    let md = std::fs::read_to_string(dir.path().join("r/report.md")).expect("report.md");
    assert!(md.contains("| subscriber | delivered | missing |"), "{md}");
    outcome
}

fn fanout(outcome: &RunOutcome) -> &FanoutSummary {
    let m = &outcome.report.scenarios[0].metrics;
    m.fanout.as_ref().expect("fan-out figures")
}

fn failed_checks(outcome: &RunOutcome) -> Vec<String> {
    outcome.report.scenarios[0]
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.metric.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_repeated_and_reordered_events_are_counted_per_subscriber() {
    let outcome = run_against(false, 4).await;
    let f = fanout(&outcome);
    assert_eq!(f.writes_ok, 40, "{f:?}");
    let per: Vec<(u64, u64, u64)> = f
        .per_subscriber
        .iter()
        .map(|s| (s.tally.missing, s.tally.duplicates, s.tally.out_of_order))
        .collect();
    // Which connection is which subscriber depends on connect order, so
    // compare the set of faults.
    let mut sorted = per.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)],
        "{per:?}"
    );
    assert_eq!(f.tally.delivered, 4 * 40 - 1);
    assert_eq!(f.complete_subscribers, 1);
    assert_eq!((f.disconnects, f.bad_frames), (0, 0));
    assert!(!outcome.all_passed);
    assert_eq!(
        failed_checks(&outcome),
        ["delivered_pct", "duplicates", "out_of_order"]
    );
    assert!(
        outcome
            .summary_table
            .contains("1 missing, 1 duplicate, 1 out of order"),
        "{}",
        outcome.summary_table
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_cut_off_as_slow_consumer_is_a_failure_with_its_reason() {
    let outcome = run_against(true, 3).await;
    let f = fanout(&outcome);
    assert_eq!((f.disconnects, f.bad_frames), (3, 3), "{f:?}");
    assert_eq!((f.tally.delivered, f.tally.missing), (0, 3 * 40));
    for s in &f.per_subscriber {
        let reason = s.disconnect.as_deref().unwrap_or_default();
        assert!(
            reason.contains("slow consumer") && reason.contains("last_revision 0"),
            "{reason}"
        );
    }
    assert!(
        f.first_problem
            .as_deref()
            .is_some_and(|p| p.contains("slow consumer"))
    );
    let mut failed = failed_checks(&outcome);
    failed.sort();
    assert_eq!(failed, ["bad_frames", "delivered_pct", "disconnects"]);
    assert!(
        outcome
            .report
            .recommendations
            .iter()
            .any(|r| r.contains("3 subscriber(s) disconnected")),
        "{:?}",
        outcome.report.recommendations
    );
}
