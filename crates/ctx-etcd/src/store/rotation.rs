//! Which etcd members this node's requests go to.
//!
//! etcd-client balances requests over every endpoint it was given, whatever the member's
//! state. A member cut off from the others by a network partition still answers, at once,
//! `etcdserver: no leader` (the client sets require-leader), so it kept its share: with the
//! etcd leader partitioned away from the other two members, 218 of 845 writes answered 503
//! in a 6.2 s partition, 190 of them after the other two had elected a leader and served
//! (tests/cluster_failures/partition.rs); a killed member's share failed the same way with
//! `tcp connect error`. So every [`PROBE_EVERY`] each member is asked on its own, a
//! serializable count-only read with require-leader: a member without a leader, or silent
//! for [`PROBE_TIMEOUT`], leaves the shared client's rotation until it answers again. When
//! no member answers, all stay in: requests then fail with etcd's own reason (quorum lost)
//! rather than wait on an empty rotation.

use etcd_client::{Client, ConnectOptions, GetOptions};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A cut-off leader steps down after etcd's election timeout (1 s); a probe this often
/// takes it out of rotation ~0.2 s after that. Each probe is one serializable read per
/// member, served from the member's memory.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// A member that does not answer a local read within this is out (a loaded member answers
/// in tens of ms; a killed or hung one never does). A cut-off leader answers this read
/// until it steps down: it is out only then, while writes sent to it meanwhile time out.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Runs until aborted: keeps `client`'s rotation to the members of `endpoints` that have a
/// leader. `key` is read (count only) by the probes. Counts the members that left the
/// rotation on `left`, for the feed to watch again.
pub(super) async fn keep(
    client: Client,
    endpoints: Vec<String>,
    options: ConnectOptions,
    key: String,
    left: watch::Sender<u64>,
) {
    let mut members = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        // The rotation is keyed by the URI etcd-client built, which adds `http://` when the
        // scheme is missing: removing by the bare `host:port` would remove nothing.
        let endpoint = if endpoint.contains("://") {
            endpoint
        } else {
            format!("http://{endpoint}")
        };
        // Connecting is lazy (no request yet); it fails only on a malformed URL, which the
        // shared client refused already.
        if let Ok(single) = Client::connect([&endpoint], Some(options.clone())).await {
            members.push(Member {
                endpoint,
                client: single,
                in_rotation: true,
            });
        }
    }
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let mut probes = JoinSet::new();
        for (index, member) in members.iter().enumerate() {
            let (mut single, key) = (member.client.clone(), key.clone());
            probes.spawn(async move {
                let options = GetOptions::new().with_serializable().with_count_only();
                let answered = tokio::time::timeout(PROBE_TIMEOUT, single.get(key, Some(options)));
                (index, matches!(answered.await, Ok(Ok(_))))
            });
        }
        let mut has_leader = vec![false; members.len()];
        while let Some(probe) = probes.join_next().await {
            if let Ok((index, answered)) = probe {
                has_leader[index] = answered;
            }
        }
        let none = !has_leader.contains(&true);
        let wanted: Vec<bool> = has_leader.iter().map(|has| *has || none).collect();
        // Members come in before others leave, so the rotation is never empty meanwhile.
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&index| !wanted[index]);
        for index in order {
            let (member, wanted) = (&mut members[index], wanted[index]);
            if wanted == member.in_rotation {
                continue;
            }
            let changed = if wanted {
                client.add_endpoint(&member.endpoint).await
            } else {
                client.remove_endpoint(&member.endpoint).await
            };
            if changed.is_ok() {
                member.in_rotation = wanted;
                if !wanted {
                    left.send_modify(|count| *count += 1);
                }
                tracing::info!(endpoint = %member.endpoint, in_rotation = wanted, "etcd member");
            }
        }
    }
}

struct Member {
    endpoint: String,
    /// A client of this member alone, for its probe.
    client: Client,
    in_rotation: bool,
}
