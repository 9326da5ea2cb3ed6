//! The part of the bench helpers other crates use: the crash torture (`torture/`), which
//! `crates/ctx/tests/torture.rs` runs briefly in `cargo test`.

pub mod torture;
