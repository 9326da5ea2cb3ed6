//! The store over a real data directory, in three parts: `writes` (writes, reads and
//! their rules), `history` (limits, filters, paging), `durability` (reopening, the log,
//! storage failures).

use ctx_store::{HistoryQuery, Store, StoreConfig, StoreError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

mod durability;
mod history;
mod writes;

fn open(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(dir)).expect("open store")
}
