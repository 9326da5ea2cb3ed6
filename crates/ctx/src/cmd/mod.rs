pub mod client;
pub mod completions;
pub mod coord;
pub mod dev_cluster;
pub mod load;
mod lock;
pub mod serve;
mod serve_etcd;
pub mod watch;
