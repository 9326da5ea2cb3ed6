//! Limits that keep one client, or a mistake, from taking the server down; each has a
//! documented default and a `ctx serve` flag (docs/serve.md), and each refusal is a JSON
//! error that names the limit:
//!
//! - [`depth`]: how deeply a stored value may nest (400), for every way a value comes in;
//! - the number of keys: enforced by the store's committer (`ctx_store::StoreConfig::max_keys`),
//!   the one place that sees every write in order (507);
//! - request heads (431), bodies (413), WebSocket messages (1009): set where each is read.

pub(crate) mod depth;
