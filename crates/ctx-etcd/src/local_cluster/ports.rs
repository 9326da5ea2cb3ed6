//! Free loopback ports: bind port 0, note what the kernel chose, release it for etcd.
//!
//! Between the release and etcd's own bind another process may take the port; the
//! launcher sees that in the member's log ("address already in use") and starts over with
//! new ports (`LocalEtcdCluster::start`).

use std::io;
use std::net::{Ipv4Addr, TcpListener};

/// `count` distinct free ports: every listener is held until all are chosen, so the kernel
/// cannot hand out one port twice.
pub(super) fn free_ports(count: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|address| address.port()))
        .collect()
}
