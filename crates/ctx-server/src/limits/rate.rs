//! `--rate-limit N/s`: an optional request rate per client address (off by default).
//!
//! Keyed by the peer's IP address, not by API key: it is what a flood has whatever it
//! presents, keys are often shared by a whole farm of runners, and it needs no header
//! parsing. Behind a proxy every client shares the proxy's address, so there either set
//! the limit on the proxy or none here; `X-Forwarded-For` is not trusted (any client
//! could set it). The algorithm is GCRA (the `governor` crate): a client may send `N` at
//! once, then one every `1/N` s; over it a request is answered 429 with `Retry-After`
//! (whole seconds, rounded up) and never reaches the store. `/health` is never limited.
//! HTTP requests count, WebSocket upgrades and Socket.IO polling requests included;
//! messages over an open `/ws` are not (their writes are bounded by
//! `LiveConfig::max_inflight_writes`).
//!
//! When the limit is off the accept loop does not consult this module at all: the hot
//! path is unchanged (docs/performance.md has the measurement).

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// `N/s` or `N/min`: requests allowed per client address in each period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per: Period,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Second,
    Minute,
}

impl FromStr for RateLimit {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("rate limit must be N/s or N/min with N at least 1, not `{text}`");
        let (count, period) = text.trim().split_once('/').ok_or_else(invalid)?;
        let per = match period {
            "s" | "sec" | "second" => Period::Second,
            "m" | "min" | "minute" => Period::Minute,
            _ => return Err(invalid()),
        };
        let requests = count.trim().parse().map_err(|_| invalid())?;
        Ok(RateLimit { requests, per })
    }
}

impl TryFrom<String> for RateLimit {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = match self.per {
            Period::Second => "s",
            Period::Minute => "min",
        };
        write!(f, "{}/{per}", self.requests)
    }
}

/// Client addresses seen within this long are remembered; older ones are forgotten (a
/// client idle that long has its whole burst back anyway).
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(60);

/// The limiter shared by every connection.
pub(crate) struct Limiter {
    limit: RateLimit,
    state: RateLimiter<IpAddr, HashMapStateStore<IpAddr>, DefaultClock>,
    clock: DefaultClock,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        let quota = match limit.per {
            Period::Second => Quota::per_second(limit.requests),
            Period::Minute => Quota::per_minute(limit.requests),
        };
        Self {
            limit,
            state: RateLimiter::hashmap(quota),
            clock: DefaultClock::default(),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// `Err(wait)` when `client` is over the limit: it may retry after `wait`.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.state
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose state is back to fresh, so a scan over many addresses does
    /// not grow the table for good.
    pub fn forget_idle(&self) {
        self.state.retain_recent();
        self.state.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse_from_the_flag_and_print_back() {
        for (text, shown) in [("100/s", "100/s"), ("5/min", "5/min"), (" 7/second", "7/s")] {
            let limit: RateLimit = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(limit.to_string(), shown);
        }
        for bad in ["100", "0/s", "-1/s", "x/s", "10/h", ""] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_over_its_burst_waits_and_others_are_not_affected() {
        let limiter = Limiter::new("2/s".parse().unwrap_or_else(|e: String| panic!("{e}")));
        let (one, two): (IpAddr, IpAddr) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
        assert!(limiter.check(one).is_ok() && limiter.check(one).is_ok());
        let wait = limiter.check(one).err();
        assert!(
            wait.is_some_and(|wait| wait > Duration::ZERO && wait <= Duration::from_millis(500)),
            "{wait:?}"
        );
        assert!(limiter.check(two).is_ok());
    }
}
