pub mod client;
pub mod load;
pub mod serve;
pub mod watch;
