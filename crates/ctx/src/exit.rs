//! Exit codes shared by every `ctx` subcommand, so scripts can branch on them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `ctx load`: the verdict is pass) |
//! | 1 | the command ran but the answer is negative: key not found (`get`, `del`), a condition did not hold (`set --if-revision`, `txn`, `incr`), `wait` timed out, the verdict is fail (`load`) |
//! | 2 | usage error: bad flags or arguments (clap's own code), a URL without `http://`, an unknown scenario, a malformed threshold or VALUE |
//! | 3 | could not run: server unreachable, a failed TLS handshake, a server that would not start |
//! | 4 | the server answered with an error |
//! | 5 | `ctx serve`: the data directory is damaged; nothing was changed (see `--recover`) |
//! | 6 | `ctx load`: the verdict is inconclusive: nothing failed, but the evidence is not enough (a `--quick` smoke run, a figure not measured, too few samples) |

use std::process::ExitCode;

pub const OK: u8 = 0;
pub const NEGATIVE: u8 = 1;
pub const USAGE: u8 = 2;
pub const COULD_NOT_RUN: u8 = 3;
pub const SERVER_ERROR: u8 = 4;
pub const DAMAGED_DATA: u8 = 5;
pub const INCONCLUSIVE: u8 = 6;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
