pub mod client;
pub mod completions;
pub mod coord;
pub mod load;
mod lock;
pub mod serve;
pub mod watch;
