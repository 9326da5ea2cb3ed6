pub mod client;
pub mod completions;
pub mod load;
pub mod serve;
pub mod watch;
