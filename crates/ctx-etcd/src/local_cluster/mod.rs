//! A real etcd cluster on loopback for tests, `ctx dev-cluster` and bench/run.
//!
//! [`LocalEtcdCluster::start`] runs N `etcd` child processes (v3.4, found on PATH) on free
//! 127.0.0.1 ports with their data under a directory the caller owns, and returns once every
//! member answers `/health` (it has a leader and serves a quorum read). A test can then
//! SIGKILL a member (the leader, found with [`LocalEtcdCluster::leader`]) and restart it
//! with its data; dropping the cluster kills every member. Waiting is always polling a
//! condition with a deadline, never a fixed sleep, so a busy machine only makes it slower.
//!
//! ```no_run
//! # fn main() -> Result<(), ctx_etcd::local_cluster::ClusterError> {
//! use ctx_etcd::local_cluster::LocalEtcdCluster;
//! let dir = std::env::temp_dir().join("my-etcd");
//! let mut cluster = LocalEtcdCluster::start(3, &dir)?;
//! let endpoints = cluster.endpoints(); // "http://127.0.0.1:P1,http://127.0.0.1:P2,…"
//! let leader = cluster.leader()?;
//! cluster.kill_member(leader)?;
//! cluster.restart_member(leader)?;
//! # Ok(()) }
//! ```
//!
//! [`LocalEtcdCluster::start_partitionable`] also puts a relay in front of each member's
//! peer port (relay.rs), so a test can cut a member off from the others with
//! [`LocalEtcdCluster::isolate`] (a network partition; its client port stays reachable) and
//! [`LocalEtcdCluster::heal`] it.

mod member;
mod ports;
mod probe;
mod relay;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use member::Member;
pub use probe::MemberStatus;
use relay::Relays;

/// How long start-up, a restart or a leader election may take. A 3-member cluster is healthy
/// in ~1 s on an idle machine; the margin is for a 2-core machine shared with builds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// How often a wait polls: `/health` costs a quorum read, so not in a tight loop.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Start-ups tried before giving up when another process keeps taking our free ports.
const PORT_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot run `{program}` (install etcd v3.4+, e.g. Debian's etcd-server package)")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot prepare {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no free loopback ports")]
    Ports(#[source] io::Error),
    #[error("etcd {name} exited ({status}); the end of {}:\n{tail}", log.display())]
    Exited {
        name: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("etcd {what} not reached within {waited:?}: {detail}")]
    Timeout {
        what: String,
        waited: Duration,
        detail: String,
    },
    #[error("cannot ask etcd for the {what}")]
    Probe {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("no member {index}: the cluster has {members}")]
    NoSuchMember { index: usize, members: usize },
    #[error("another process took our ports {attempts} times in a row")]
    PortsKeptTaken { attempts: usize },
    #[error(
        "cannot cut a member off: the cluster was started without relays (start_partitionable)"
    )]
    NotPartitionable,
    #[error("cannot cut member {index} off: it is not running")]
    NotRunning { index: usize },
}

/// Running etcd members on loopback; every one is killed when this is dropped. Members are
/// addressed by index, 0..len().
pub struct LocalEtcdCluster {
    members: Vec<Member>,
    initial_cluster: String,
    token: String,
    deadline: Duration,
    /// The peer relays, when started partitionable; after `members` so they outlive them.
    relays: Option<Relays>,
}

impl LocalEtcdCluster {
    /// Starts `members` etcd processes with their data and logs in `dir/attempt-A/member-I/`
    /// (A counts start-overs after the port race) and waits until all are healthy. `dir`
    /// should be empty (a fresh temporary directory).
    pub fn start(members: usize, dir: &Path) -> Result<Self, ClusterError> {
        Self::start_with_deadline(members, dir, DEFAULT_DEADLINE)
    }

    /// As [`start`](Self::start), with `deadline` for start-up and every later wait.
    pub fn start_with_deadline(
        members: usize,
        dir: &Path,
        deadline: Duration,
    ) -> Result<Self, ClusterError> {
        Self::start_all(members, dir, deadline, false)
    }

    /// As [`start`](Self::start), with the members' peer traffic through relays the test
    /// controls: [`isolate`](Self::isolate) and [`heal`](Self::heal) then work.
    pub fn start_partitionable(members: usize, dir: &Path) -> Result<Self, ClusterError> {
        Self::start_all(members, dir, DEFAULT_DEADLINE, true)
    }

    fn start_all(
        members: usize,
        dir: &Path,
        deadline: Duration,
        relayed: bool,
    ) -> Result<Self, ClusterError> {
        for attempt in 0..PORT_ATTEMPTS {
            let attempt_dir = dir.join(format!("attempt-{attempt}"));
            let mut cluster = Self::spawn_all(members, &attempt_dir, deadline, relayed)?;
            match cluster.wait_healthy() {
                Ok(()) => return Ok(cluster),
                // The port race (ports.rs): start over on new ports.
                Err(_) if cluster.members.iter().any(Member::lost_a_port) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(ClusterError::PortsKeptTaken {
            attempts: PORT_ATTEMPTS,
        })
    }

    fn spawn_all(
        members: usize,
        dir: &Path,
        deadline: Duration,
        relayed: bool,
    ) -> Result<Self, ClusterError> {
        let ports = ports::free_ports(members * 2).map_err(ClusterError::Ports)?;
        let mut spawned: Vec<Member> = ports
            .chunks_exact(2)
            .enumerate()
            .map(|(index, pair)| Member::new(index, dir, pair[0], pair[1]))
            .collect();
        let relays = if relayed {
            let peer_ports: Vec<u16> = spawned.iter().map(|member| member.peer_port).collect();
            let relays = Relays::start(&peer_ports).map_err(ClusterError::Ports)?;
            for (index, member) in spawned.iter_mut().enumerate() {
                member.advertised_peer_port = relays.port(index);
            }
            Some(relays)
        } else {
            None
        };
        let initial_cluster = spawned
            .iter()
            .map(|member| format!("{}={}", member.name, member.advertised_peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        // A token of our own: a member of another test's cluster that lands on a recycled
        // port refuses to talk to ours instead of joining it.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or(0);
        let token = format!("ctx-local-{}-{nanos}", std::process::id());
        for member in &mut spawned {
            member.spawn(&initial_cluster, &token)?;
        }
        Ok(Self {
            members: spawned,
            initial_cluster,
            token,
            deadline,
            relays,
        })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every member's client URL, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }

    /// The client URLs joined with commas: the value of `ctx serve --etcd-endpoints`.
    pub fn endpoints(&self) -> String {
        self.client_urls().join(",")
    }

    pub fn client_url(&self, index: usize) -> Result<String, ClusterError> {
        Ok(self.member(index)?.client_url())
    }

    /// The member's process id while it runs.
    pub fn pid(&self, index: usize) -> Result<Option<u32>, ClusterError> {
        Ok(self.member(index)?.pid())
    }

    pub fn log_path(&self, index: usize) -> Result<PathBuf, ClusterError> {
        Ok(self.member(index)?.log_path.clone())
    }

    pub fn is_running(&mut self, index: usize) -> Result<bool, ClusterError> {
        Ok(self.member_mut(index)?.is_running())
    }

    /// SIGKILLs the member and reaps it. Its data stays for [`restart_member`](Self::restart_member).
    pub fn kill_member(&mut self, index: usize) -> Result<(), ClusterError> {
        self.member_mut(index)?.kill();
        Ok(())
    }

    /// Starts a killed member again on its ports and data, and waits until it is healthy
    /// (rejoined, caught up enough to have a leader and serve a quorum read).
    pub fn restart_member(&mut self, index: usize) -> Result<(), ClusterError> {
        let (initial_cluster, token) = (self.initial_cluster.clone(), self.token.clone());
        let member = self.member_mut(index)?;
        member.kill();
        member.spawn(&initial_cluster, &token)?;
        self.wait_until(&format!("health of member {index}"), |cluster| {
            cluster.check_running(index)?;
            Ok(probe::healthy(cluster.members[index].client_port).then_some(()))
        })
    }

    /// Cuts member `index` off from the other members, both ways, as a network partition
    /// would: its open peer connections are shut and new ones closed as soon as accepted.
    /// Its client port stays reachable (a partition between etcd members, not between
    /// etcd and its clients). Heal before restarting it: the cut follows its process.
    pub fn isolate(&mut self, index: usize) -> Result<(), ClusterError> {
        let pid = self
            .member_mut(index)?
            .is_running()
            .then(|| self.members[index].pid())
            .flatten()
            .ok_or(ClusterError::NotRunning { index })?;
        let relays = self.relays.as_ref().ok_or(ClusterError::NotPartitionable)?;
        relays.isolate(index, pid);
        Ok(())
    }

    /// Ends every cut: the members reconnect on their own (see [`wait_healthy`](Self::wait_healthy)).
    pub fn heal(&mut self) -> Result<(), ClusterError> {
        let relays = self.relays.as_ref().ok_or(ClusterError::NotPartitionable)?;
        relays.heal();
        Ok(())
    }

    /// Waits until every running member answers `/health` with true.
    pub fn wait_healthy(&mut self) -> Result<(), ClusterError> {
        self.wait_until("health of every running member", |cluster| {
            let mut all = true;
            for index in 0..cluster.members.len() {
                if cluster.members[index].child.is_none() {
                    continue;
                }
                cluster.check_running(index)?;
                all &= probe::healthy(cluster.members[index].client_port);
            }
            Ok(all.then_some(()))
        })
    }

    /// The index of the current leader, waiting (up to the deadline) while an election runs.
    /// Only an answer from a running member that says it leads itself counts.
    pub fn leader(&mut self) -> Result<usize, ClusterError> {
        self.wait_until("a leader", |cluster| {
            for index in 0..cluster.members.len() {
                if !cluster.members[index].is_running() {
                    continue;
                }
                if let Ok(status) = probe::status(cluster.members[index].client_port)
                    && status.is_leader()
                {
                    return Ok(Some(index));
                }
            }
            Ok(None)
        })
    }

    /// The member's own status (raft ids, term, applied revision), asked once.
    pub fn member_status(&self, index: usize) -> Result<MemberStatus, ClusterError> {
        let member = self.member(index)?;
        probe::status(member.client_port).map_err(|source| ClusterError::Probe {
            what: format!("status of member {index}"),
            source,
        })
    }

    /// Asks member `index`'s v3 JSON gateway: POST `path` (e.g. `/v3/kv/put`) with a JSON
    /// body, the JSON answer back (keys and values are base64 there, 64-bit integers
    /// strings). Tests use it to look at etcd directly, past ctx.
    pub fn gateway(
        &self,
        index: usize,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClusterError> {
        let member = self.member(index)?;
        let failed = |source| ClusterError::Probe {
            what: format!("{path} on member {index}"),
            source,
        };
        let (code, answer) =
            probe::request(member.client_port, "POST", path, Some(&body.to_string()))
                .map_err(failed)?;
        if code != 200 {
            return Err(failed(io::Error::other(format!("HTTP {code}: {answer}"))));
        }
        serde_json::from_str(&answer)
            .map_err(|error| failed(io::Error::new(io::ErrorKind::InvalidData, error)))
    }

    /// Polls `check` until it yields a value or the deadline passes.
    fn wait_until<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Result<Option<T>, ClusterError>,
    ) -> Result<T, ClusterError> {
        let started = Instant::now();
        loop {
            if let Some(value) = check(self)? {
                return Ok(value);
            }
            if started.elapsed() >= self.deadline {
                let tails: Vec<String> = self
                    .members
                    .iter()
                    .map(|member| format!("{}: {}", member.name, last_line(&member.log_tail())))
                    .collect();
                return Err(ClusterError::Timeout {
                    what: what.to_owned(),
                    waited: started.elapsed(),
                    detail: tails.join("; "),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// An error when the member was started and its process has ended.
    fn check_running(&mut self, index: usize) -> Result<(), ClusterError> {
        let member = &mut self.members[index];
        let Some(status) = member.exit_status() else {
            return Ok(());
        };
        Err(ClusterError::Exited {
            name: member.name.clone(),
            status: status.to_string(),
            log: member.log_path.clone(),
            tail: member.log_tail(),
        })
    }

    fn member(&self, index: usize) -> Result<&Member, ClusterError> {
        let members = self.members.len();
        self.members
            .get(index)
            .ok_or(ClusterError::NoSuchMember { index, members })
    }

    fn member_mut(&mut self, index: usize) -> Result<&mut Member, ClusterError> {
        let members = self.members.len();
        self.members
            .get_mut(index)
            .ok_or(ClusterError::NoSuchMember { index, members })
    }
}

fn last_line(log: &str) -> &str {
    log.trim_end().rsplit('\n').next().unwrap_or("")
}
