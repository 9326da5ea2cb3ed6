//! Writers that record every attempt, and what is checked on what they saw acknowledged.

use super::common::try_http;
use super::{PATIENCE, post, status_revision, wait_until};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One write as a writer saw it.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    /// The writer's index in `Writers::start`'s addresses.
    pub(crate) writer: usize,
    pub(crate) key: String,
    value: u64,
    pub(crate) started: Instant,
    pub(crate) finished: Instant,
    /// The revision of an acknowledged write; None when refused, failed or cut.
    pub(crate) revision: Option<u64>,
    /// Why a write was not acknowledged (the answer or the I/O error), for failure messages.
    pub(crate) refusal: Option<String>,
}

/// Writers that each post new keys (`<prefix>w<writer>/<serial>` = serial) to one node, one
/// at a time, recording every attempt, until stopped.
pub(crate) struct Writers {
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Writers {
    pub(crate) fn start(prefix: &str, addresses: &[String]) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let threads = addresses
            .iter()
            .enumerate()
            .map(|(writer, addr)| {
                let (addr, stop, attempts) = (addr.clone(), stop.clone(), attempts.clone());
                let prefix = prefix.to_owned();
                std::thread::spawn(move || {
                    let mut serial = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        serial += 1;
                        let key = format!("{prefix}w{writer}/{serial}");
                        let started = Instant::now();
                        let answer = post(&addr, &key, json!(serial));
                        let (revision, refusal) = match answer {
                            Ok((200, body)) => (body["revision"].as_u64(), None),
                            other => {
                                // Refused or cut: back off a little so a dead node is not
                                // hammered in a tight loop.
                                std::thread::sleep(Duration::from_millis(20));
                                (None, Some(format!("{other:?}")))
                            }
                        };
                        attempts.lock().expect("attempts").push(Attempt {
                            writer,
                            key,
                            value: serial,
                            started,
                            finished: Instant::now(),
                            revision,
                            refusal,
                        });
                    }
                })
            })
            .collect();
        Writers {
            stop,
            attempts,
            threads,
        }
    }

    fn acknowledged_count(&self) -> usize {
        let attempts = self.attempts.lock().expect("attempts");
        attempts.iter().filter(|a| a.revision.is_some()).count()
    }

    /// Waits until `more` further writes have been acknowledged.
    #[track_caller]
    pub(crate) fn wait_for_acknowledged(&self, more: usize) {
        let target = self.acknowledged_count() + more;
        wait_until(PATIENCE, &format!("{target} acknowledged writes"), || {
            self.acknowledged_count() >= target
        });
    }

    pub(crate) fn finish(mut self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in std::mem::take(&mut self.threads) {
            thread.join().expect("writer thread");
        }
        let attempts = self.attempts.lock().expect("attempts");
        attempts.clone()
    }
}

/// A test that fails before `finish` stops its writers too: they would otherwise go on
/// writing to the cluster while the binary's other tests run.
impl Drop for Writers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every acknowledged write is on `addr` with its value, once the node has caught up to the
/// highest acknowledged revision, in a `?consistent=true` read (which also needs the node to
/// reach etcd's current revision).
#[track_caller]
pub(crate) fn assert_all_present(addr: &str, attempts: &[Attempt]) {
    let acknowledged: Vec<&Attempt> = attempts.iter().filter(|a| a.revision.is_some()).collect();
    assert!(!acknowledged.is_empty(), "no write was acknowledged");
    let newest = acknowledged
        .iter()
        .filter_map(|a| a.revision)
        .max()
        .unwrap_or(0);
    wait_until(
        PATIENCE,
        &format!("{addr} to reach revision {newest}"),
        || status_revision(addr).is_some_and(|revision| revision >= newest),
    );
    let (status, all) = try_http(addr, "GET", "/ctx/all?consistent=true", None).expect("/ctx/all");
    assert_eq!(status, 200, "{all}");
    let context = all["context"].as_object().expect("context");
    let lost: Vec<String> = acknowledged
        .iter()
        .filter(|a| context.get(&a.key) != Some(&json!(a.value)))
        .map(|a| format!("{} (revision {:?})", a.key, a.revision))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are missing on {addr}: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(10)]
    );
}

/// How long after `moment` the first write that *started* after it was acknowledged.
pub(crate) fn resumed_after(attempts: &[Attempt], moment: Instant) -> Option<Duration> {
    attempts
        .iter()
        .filter(|a| a.revision.is_some() && a.started >= moment)
        .map(|a| a.finished - moment)
        .min()
}
