pub mod client;
pub mod completions;
pub mod coord;
pub mod load;
mod lock;
pub mod serve;
mod serve_etcd;
pub mod watch;
