//! What a run is asked to do: the requests, the mode, and the engine's settings.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use super::{Target, default_lanes};
use crate::model::{ContentCheckTally, StagePlan, WorkerShare};

/// One HTTP request as produced by a generator. The path is relative to the
/// target's base URL and may carry a query string.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

impl Request {
    /// A `GET` without a body.
    pub fn get(path: impl Into<String>) -> Self {
        Request {
            method: Method::GET,
            path: path.into(),
            body: None,
        }
    }

    /// A `POST` with a JSON body.
    pub fn post_json(path: impl Into<String>, body: &serde_json::Value) -> Self {
        Request {
            method: Method::POST,
            path: path.into(),
            body: Some(Bytes::from(body.to_string())),
        }
    }
}

/// Maps `(client_id, op_id)` to the request that client sends as its op-th
/// operation. Shared by all workers, so it must be `Send + Sync`; it is called
/// on the hot path, so keep it cheap.
pub type RequestGenerator = Arc<dyn Fn(u64, u64) -> Request + Send + Sync>;

/// Called with `(client_id, op_id, success)` as each request completes
/// (answered or failed; never for dropped ones), for callers that need to
/// know *which* requests succeeded, not only how many (`ws_fanout` expects an
/// event for every successful write). Called on the hot path: keep it cheap.
pub type CompletionHook = Arc<dyn Fn(u64, u64, bool) + Send + Sync>;

/// Open-loop settings: `rate` requests per second in total for `duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenLoop {
    pub rate: f64,
    pub duration: Duration,
}

/// Counts one answer (status, headers, body — empty unless `needs_body`)
/// into per-check tallies, in the order of [`Inspection::names`].
pub type ResponseJudge =
    Arc<dyn Fn(u16, &hyper::HeaderMap, &[u8], &mut [ContentCheckTally]) + Send + Sync>;

/// Content checks to run on every answer (k6-style). Without any, answer
/// bodies are dropped frame by frame, unread: the hot path pays nothing.
pub struct Inspection {
    pub names: Vec<String>,
    /// A check reads the body (JSON): collect it.
    pub needs_body: bool,
    pub judge: ResponseJudge,
}

/// How the load is offered.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Each of `clients` sends `ops_per_client` requests back to back.
    Closed { clients: u64, ops_per_client: u64 },
    /// Each of `clients` sends requests back to back for `duration`, op ids
    /// counting up (a generator that should repeat cycles them itself).
    ClosedFor { clients: u64, duration: Duration },
    /// `rate` requests per second in total, spread evenly over `clients`
    /// connections, for `duration`.
    Open {
        clients: u64,
        rate: f64,
        duration: Duration,
    },
    /// Open loop whose total arrival rate follows `plan` (a [`crate::model::StageKind::Rate`]
    /// plan), spread evenly over `clients` connections.
    OpenStaged { clients: u64, plan: StagePlan },
    /// Closed loop whose number of active clients follows `plan` (a
    /// [`crate::model::StageKind::Clients`] plan; as many connections as its peak).
    ClosedStaged { plan: StagePlan },
}

impl Mode {
    /// The stages of a staged mode.
    pub fn plan(&self) -> Option<&StagePlan> {
        match self {
            Mode::OpenStaged { plan, .. } | Mode::ClosedStaged { plan } => Some(plan),
            _ => None,
        }
    }

    /// How long the load is planned to last; None when bounded by a request count.
    pub fn planned_duration(&self) -> Option<Duration> {
        match self {
            Mode::Closed { .. } => None,
            Mode::ClosedFor { duration, .. } | Mode::Open { duration, .. } => Some(*duration),
            Mode::OpenStaged { plan, .. } | Mode::ClosedStaged { plan } => {
                Duration::try_from_secs_f64(plan.total_secs()).ok()
            }
        }
    }

    /// Whether requests are timed from their intended send (open loop).
    pub fn is_open(&self) -> bool {
        matches!(self, Mode::Open { .. } | Mode::OpenStaged { .. })
    }
}

/// Engine settings for one run.
#[derive(Clone)]
pub struct EngineConfig {
    pub target: Target,
    pub mode: Mode,
    /// Per-request timeout, connection set-up included (default 30 s, as the seed).
    pub timeout: Duration,
    /// Closed loop: each client's pause after each answer (None: none).
    pub think_time: Option<Duration>,
    /// Open loop: a request sent more than this after its intended time is "late".
    pub late_slack: Duration,
    /// Open loop: requests not yet sent `duration + send_grace` after the start
    /// are dropped (counted, never sent), so a dead server cannot stretch the run forever.
    pub send_grace: Duration,
    /// When the run (and the open-loop schedule) starts; None = when [`run`]
    /// is called. A caller that stamps due times into request bodies
    /// (`start + g / rate`) shares the engine's clock through it.
    pub start: Option<Instant>,
    /// See [`CompletionHook`].
    pub on_complete: Option<CompletionHook>,
    /// See [`Inspection`].
    pub inspection: Option<Arc<Inspection>>,
    /// Open loop: send only this worker's requests of the schedule (see
    /// [`WorkerShare`]); the clients of `mode` are this worker's own.
    pub share: WorkerShare,
    /// Threads the clients run on, each with its own runtime (see `lanes.rs`);
    /// 1 = on the caller's runtime. Default: one per core.
    pub lanes: usize,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("target", &self.target)
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("think_time", &self.think_time)
            .field("late_slack", &self.late_slack)
            .field("send_grace", &self.send_grace)
            .field("start", &self.start)
            .field("on_complete", &self.on_complete.is_some())
            .field("inspection", &self.inspection.as_ref().map(|i| &i.names))
            .field("share", &self.share)
            .field("lanes", &self.lanes)
            .finish()
    }
}

impl EngineConfig {
    pub fn new(target: Target, mode: Mode) -> Self {
        EngineConfig {
            target,
            mode,
            timeout: Duration::from_secs(30),
            think_time: None,
            late_slack: Duration::from_millis(10),
            send_grace: Duration::from_secs(5),
            start: None,
            on_complete: None,
            inspection: None,
            share: WorkerShare::WHOLE,
            lanes: default_lanes(),
        }
    }
}
