pub mod load;
pub mod serve;
