//! One `/ws` subscriber of the fan-out: subscribe, then read every event,
//! timing each from its write's due time and feeding its [`DeliveryTracker`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ctx_wire::{ClientMessage, Event, SLOW_CONSUMER};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::tracker::{Arrival, DeliveryTracker, SeqSet};
use crate::engine::Target;
use crate::model::{new_histogram, us_between};

/// The monotonic clock the due times in write bodies are expressed on.
pub(super) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A write's value: the only part of an event a subscriber reads besides its revision.
#[derive(Debug, Deserialize, Serialize)]
pub(super) struct Stamp {
    pub seq: u64,
    /// Due time, µs since [`epoch`].
    pub due_us: u64,
}

/// Sent to the subscribers when the writers are done.
pub(super) struct Stop {
    pub expected: SeqSet,
    pub deadline: Instant,
}

/// What one subscriber task found.
pub(super) struct SubscriberRun {
    pub id: u64,
    pub tracker: DeliveryTracker,
    pub latency: Histogram<u64>,
    pub bad_frames: u64,
    pub first_bad: Option<String>,
    pub disconnect: Option<String>,
}

impl SubscriberRun {
    fn bad(&mut self, why: impl FnOnce() -> String) {
        self.bad_frames += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some(format!("subscriber {}: {}", self.id, why()));
        }
    }

    /// Handles one text frame received at `at`. Returns true when the frame
    /// was a fresh delivery of a write in `expected`.
    fn on_text(
        &mut self,
        text: &str,
        at: Instant,
        prefix: &str,
        planned: u64,
        expected: Option<&SeqSet>,
    ) -> bool {
        let event = match Event::parse(text) {
            Ok(event) => event,
            Err(e) => {
                self.bad(|| format!("unparsable frame ({e}): {}", clip(text)));
                return false;
            }
        };
        let update = match event {
            Event::ContextUpdated(update) => update,
            // Dump notices go to every subscriber; pongs answer nothing we sent.
            Event::ContextDumped(_) | Event::Pong { .. } | Event::Subscribed { .. } => {
                return false;
            }
            Event::Error {
                code: Some(code),
                error,
                last_revision,
                ..
            } if code == SLOW_CONSUMER => {
                self.disconnect.get_or_insert_with(|| {
                    format!(
                        "disconnected as a slow consumer (last_revision {}): {error}",
                        last_revision.map_or_else(|| "?".to_string(), |r| r.to_string()),
                    )
                });
                return false;
            }
            _ => {
                self.bad(|| format!("unexpected frame: {}", clip(text)));
                return false;
            }
        };
        if !update.key.starts_with(prefix) {
            self.bad(|| format!("event outside the run: {}", clip(text)));
            return false;
        }
        let stamp = match Stamp::deserialize(&update.value) {
            Ok(stamp) if stamp.seq < planned => stamp,
            _ => {
                self.bad(|| format!("event without a valid write stamp: {}", clip(text)));
                return false;
            }
        };
        let revision = update.revision;
        let arrival = self.tracker.observe(stamp.seq, revision);
        if arrival == Arrival::Duplicate {
            return false;
        }
        let due = epoch() + Duration::from_micros(stamp.due_us);
        self.latency.saturating_record(us_between(due, at));
        expected.is_some_and(|e| e.contains(stamp.seq))
    }
}

fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects (with the target's headers on the upgrade) and subscribes;
/// returns once the `subscribed` answer arrived.
async fn subscribe(target: &Target, prefix: &str) -> Result<Socket, String> {
    let url = target.ws_url("ws");
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad WebSocket URL {url}: {e}"))?;
    for (name, value) in target.headers() {
        request.headers_mut().insert(name, value.clone());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        target.ws_connector(),
    )
    .await
    .map_err(|e| format!("connect to {url}: {e}"))?;
    let message = ClientMessage::subscribe(vec![prefix.to_string()], None);
    ws.send(Message::text(message.encode()))
        .await
        .map_err(|e| format!("send subscribe: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return match Event::parse(t.as_str()) {
                    Ok(Event::Subscribed { .. }) => Ok(ws),
                    // Nothing of ours can precede the answer; anything else is a refusal.
                    _ => Err(format!("subscribe answered with {}", clip(t.as_str()))),
                };
            }
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed before subscribing: {}", close_reason(f)));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("before subscribing: {e}")),
            None => return Err("connection ended before subscribing".into()),
        }
    }
}

fn close_reason(f: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match f {
        Some(f) => format!("close {} {:?}", u16::from(f.code), f.reason.as_str()),
        None => "close without a reason".into(),
    }
}

/// One subscriber: subscribe, signal `ready`, then read until every expected
/// write arrived, the drain deadline passed, or the connection ended.
pub(super) async fn subscriber(
    id: u64,
    target: Target,
    prefix: String,
    planned: u64,
    setup_timeout: Duration,
    ready: oneshot::Sender<()>,
    mut stop: watch::Receiver<Option<Arc<Stop>>>,
) -> SubscriberRun {
    let mut me = SubscriberRun {
        id,
        tracker: DeliveryTracker::default(),
        latency: new_histogram(),
        bad_frames: 0,
        first_bad: None,
        disconnect: None,
    };
    let ws = tokio::time::timeout(setup_timeout, subscribe(&target, &prefix)).await;
    let _ = ready.send(());
    let mut ws = match ws {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            me.disconnect = Some(format!("could not subscribe: {e}"));
            return me;
        }
        Err(_) => {
            me.disconnect = Some(format!(
                "could not subscribe within {} s",
                setup_timeout.as_secs_f64()
            ));
            return me;
        }
    };
    // Known once the writers are done: the expected set, and how many of it
    // are still missing here.
    let mut wanted: Option<(Arc<Stop>, u64)> = None;
    let drain = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(drain);
    loop {
        if matches!(wanted, Some((_, 0))) {
            break;
        }
        tokio::select! {
            msg = ws.next() => {
                let at = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let expected = wanted.as_ref().map(|(s, _)| &s.expected);
                        if me.on_text(t.as_str(), at, &prefix, planned, expected)
                            && let Some((_, missing)) = wanted.as_mut()
                        {
                            *missing -= 1;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => me.bad(|| "binary frame".into()),
                    Some(Ok(Message::Close(f))) => {
                        let reason = close_reason(f);
                        me.disconnect.get_or_insert_with(|| format!("closed by the server: {reason}"));
                        break;
                    }
                    Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                    Some(Err(e)) => {
                        me.disconnect.get_or_insert_with(|| format!("connection lost: {e}"));
                        break;
                    }
                    None => {
                        me.disconnect.get_or_insert_with(|| "connection ended".into());
                        break;
                    }
                }
            }
            changed = stop.changed(), if wanted.is_none() => {
                if changed.is_err() {
                    break; // the run is gone
                }
                let s = stop.borrow_and_update().clone();
                if let Some(s) = s {
                    let missing = s.expected.len() - me.tracker.seen().common(&s.expected);
                    drain.as_mut().reset(s.deadline.into());
                    wanted = Some((s, missing));
                }
            }
            () = &mut drain, if wanted.is_some() => break,
        }
    }
    if me.disconnect.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    me
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_that_do_not_parse_are_counted_not_fatal() {
        let mut r = SubscriberRun {
            id: 7,
            tracker: DeliveryTracker::default(),
            latency: new_histogram(),
            bad_frames: 0,
            first_bad: None,
            disconnect: None,
        };
        let now = Instant::now();
        let p = "fanout.x.";
        for bad in [
            "not json",
            "[1,2]",
            r#"{"no":"type"}"#,
            r#"{"type":"context_updated","revision":5,"key":"other.1","value":{"seq":1,"due_us":0}}"#,
            r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":"one"}}"#,
            r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":99,"due_us":0}}"#,
            r#"{"type":"context_updated","key":"fanout.x.1","value":{"seq":1,"due_us":0}}"#,
            r#"{"type":"launch"}"#,
        ] {
            assert!(!r.on_text(bad, now, p, 10, None), "{bad}");
        }
        assert_eq!(r.bad_frames, 8);
        assert!(
            r.first_bad
                .as_deref()
                .is_some_and(|f| f.contains("not json"))
        );
        assert!(!r.on_text(r#"{"type":"pong","id":1}"#, now, p, 10, None));
        let expected: SeqSet = [1].into_iter().collect();
        let ok = r#"{"type":"context_updated","revision":5,"key":"fanout.x.1","value":{"seq":1,"due_us":0},"before":null,"who":"w","timestamp":"t"}"#;
        assert!(r.on_text(ok, now, p, 10, Some(&expected)));
        assert!(!r.on_text(ok, now, p, 10, Some(&expected)), "a duplicate");
        assert_eq!(r.bad_frames, 8);
        assert_eq!(r.latency.len(), 1);
        let slow = r#"{"type":"error","error":"slow consumer: ...","code":"slow_consumer","last_revision":5}"#;
        r.on_text(slow, now, p, 10, None);
        assert!(
            r.disconnect
                .as_deref()
                .is_some_and(|d| d.contains("slow consumer") && d.contains("last_revision 5")),
            "{:?}",
            r.disconnect
        );
    }
}
