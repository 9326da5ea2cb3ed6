//! A network partition between etcd members without root: a TCP relay in front of each
//! member's peer port.
//!
//! Members advertise their relay's address to each other (`--initial-advertise-peer-urls`),
//! so every raft connection between two members goes through the relay of the member that
//! was dialled. Cutting a member off is then done in the relays: its own relay stops
//! forwarding, and the other members' relays stop forwarding what it dialled. Both are
//! needed because etcd's raft traffic flows both ways over a connection either end opened
//! (a member reads its peer's messages from a stream it dialled itself and posts its own on
//! the peer's address when that stream is down), so cutting one side only leaves the
//! heartbeats passing. A connection's dialling member is found as a Linux loopback
//! connection's owner: the socket with the connection's source port in `/proc/net/tcp`,
//! then which process holds that socket in `/proc/PID/fd` (readable for our own
//! children, no privilege).
//!
//! Cut means: open connections are shut down and new ones closed as soon as accepted, so a
//! member sees its peers refuse, as across a partition that resets connections. One thread
//! accepts per relay and two copy per connection (a dozen long-lived raft streams between
//! 3 members): plenty for a test helper.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The relays of all members of one cluster and what is cut; stops them all when dropped.
pub(super) struct Relays {
    shared: Arc<Shared>,
    ports: Vec<u16>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    stopped: AtomicBool,
    next_id: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Per member index: the process id of a member cut off, `None` while connected.
    isolated: Vec<Option<u32>>,
    /// Open connections by id.
    open: HashMap<u64, Connection>,
}

struct Connection {
    /// The member whose relay accepted it.
    member: usize,
    /// The connection's source port: the dialling member's side.
    source_port: u16,
    relay_port: u16,
    /// The accepted side; shutting it down ends both copying threads.
    stream: TcpStream,
}

impl Relays {
    /// Binds one relay per target peer port on a free loopback port; each forwards to its
    /// member's `peer_ports[i]` (where nothing may listen yet: dialling waits for a client).
    pub(super) fn start(peer_ports: &[u16]) -> io::Result<Relays> {
        let shared = Arc::new(Shared::default());
        lock(&shared).isolated = vec![None; peer_ports.len()];
        let mut ports = Vec::with_capacity(peer_ports.len());
        for (member, &target) in peer_ports.iter().enumerate() {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            ports.push(listener.local_addr()?.port());
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(&listener, member, target, &shared));
        }
        Ok(Relays { shared, ports })
    }

    /// The port members dial to reach member `member`'s peer port.
    pub(super) fn port(&self, member: usize) -> u16 {
        self.ports[member]
    }

    /// Cuts member `member` (process `pid`) off from every other member, both ways.
    pub(super) fn isolate(&self, member: usize, pid: u32) {
        let mut state = lock(&self.shared);
        state.isolated[member] = Some(pid);
        let cut: Vec<u64> = state
            .open
            .iter()
            .filter(|(_, connection)| {
                connection.member == member
                    || dialled_by(pid, connection.source_port, connection.relay_port)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in cut {
            if let Some(connection) = state.open.remove(&id) {
                let _ = connection.stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Lets every member reach every other again; they reconnect on their own.
    pub(super) fn heal(&self) {
        lock(&self.shared).isolated.fill(None);
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake each accept loop so it sees `stopped` and returns, closing its listener.
        for &port in &self.ports {
            let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, port));
        }
        for (_, connection) in lock(&self.shared).open.drain() {
            let _ = connection.stream.shutdown(Shutdown::Both);
        }
    }
}

/// A poisoned lock only means a copying thread panicked; the state is still consistent.
fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: &TcpListener, member: usize, target: u16, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = incoming else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || relay(stream, member, target, &shared));
    }
}

/// Forwards one accepted connection to the member's peer port, unless it is cut.
fn relay(inbound: TcpStream, member: usize, target: u16, shared: &Arc<Shared>) {
    let (Ok(source), Ok(local)) = (inbound.peer_addr(), inbound.local_addr()) else {
        return;
    };
    let (source_port, relay_port) = (source.port(), local.port());
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut state = lock(shared);
        let cut = state.isolated[member].is_some()
            || state
                .isolated
                .iter()
                .flatten()
                .any(|&pid| dialled_by(pid, source_port, relay_port));
        let Ok(registered) = inbound.try_clone() else {
            return;
        };
        if cut {
            // Dropping `inbound` closes it: the dialler sees the connection end at once.
            return;
        }
        state.open.insert(
            id,
            Connection {
                member,
                source_port,
                relay_port,
                stream: registered,
            },
        );
    }
    // Dialled outside the lock: a member still starting refuses, and the dialler retries.
    if let Ok(outbound) = TcpStream::connect((Ipv4Addr::LOCALHOST, target))
        && let (Ok(inbound_reader), Ok(outbound_writer)) =
            (inbound.try_clone(), outbound.try_clone())
    {
        let forward = std::thread::spawn(move || pipe(inbound_reader, outbound_writer));
        pipe(outbound, inbound);
        let _ = forward.join();
    }
    if let Some(connection) = lock(shared).open.remove(&id) {
        let _ = connection.stream.shutdown(Shutdown::Both);
    }
}

/// Copies until either side ends, then shuts both down so the other direction ends too.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// True when process `pid` holds the loopback socket bound to `source_port` and connected to
/// `relay_port`: the process that dialled the relay.
fn dialled_by(pid: u32, source_port: u16, relay_port: u16) -> bool {
    let Some(inode) = socket_inode(source_port, relay_port) else {
        return false;
    };
    let wanted = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str())
    })
}

/// The inode of the TCP socket whose local port is `local` and remote port `remote`, from
/// `/proc/net/tcp` and `tcp6` (lines `sl local rem st … uid timeout inode`, ports in hex).
fn socket_inode(local: u16, remote: u16) -> Option<String> {
    let port = |address: &str| {
        let (_, hex) = address.rsplit_once(':')?;
        u16::from_str_radix(hex, 16).ok()
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|table| {
            table.lines().skip(1).find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let matches = fields.len() > 9
                    && port(fields[1]) == Some(local)
                    && port(fields[2]) == Some(remote);
                matches.then(|| fields[9].to_owned())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// An echo server standing in for a member's peer port.
    fn echo_server() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    if let Ok(reader) = stream.try_clone() {
                        pipe(reader, stream);
                    }
                });
            }
        });
        port
    }

    fn round_trip(port: u16) -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"ping")?;
        let mut answer = [0u8; 4];
        stream.read_exact(&mut answer)?;
        Ok(answer.to_vec())
    }

    #[test]
    fn a_relay_forwards_until_its_member_is_isolated_and_again_after_the_heal() {
        let relays = Relays::start(&[echo_server(), echo_server()]).expect("relays");
        let mut open = TcpStream::connect((Ipv4Addr::LOCALHOST, relays.port(0))).expect("dial");
        open.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        open.write_all(b"ping").expect("write");
        let mut answer = [0u8; 4];
        open.read_exact(&mut answer).expect("echo");

        // This test process dialled member 1's relay: isolating "member 0" with our pid
        // cuts our open connection to member 0 and refuses our new ones to member 1 too.
        relays.isolate(0, std::process::id());
        let mut rest = Vec::new();
        let ended = open.read_to_end(&mut rest);
        assert!(
            matches!(ended, Ok(0)) || ended.is_err(),
            "the open connection ends"
        );
        assert!(round_trip(relays.port(0)).is_err(), "member 0 is cut off");
        assert!(
            round_trip(relays.port(1)).is_err(),
            "what member 0's process dials is cut too"
        );

        relays.heal();
        assert_eq!(round_trip(relays.port(0)).expect("healed"), b"ping");
        assert_eq!(round_trip(relays.port(1)).expect("healed"), b"ping");
    }

    #[test]
    fn a_connection_is_traced_to_the_process_that_dialled_it() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("address").port();
        let dialled = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("dial");
        let source = dialled.local_addr().expect("address").port();
        assert!(dialled_by(std::process::id(), source, port));
        assert!(!dialled_by(
            std::process::id(),
            source,
            port.wrapping_add(1)
        ));
    }
}
