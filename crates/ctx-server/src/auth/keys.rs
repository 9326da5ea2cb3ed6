//! API keys and their roles, as configured: `--api-key` / `CTX_API_KEY` / `api_key` (one
//! key, role admin: it could always do everything), and `--api-keys` / `CTX_API_KEYS` /
//! `api_keys` (several `ROLE:KEY` entries). Keys never appear in `Debug` output, logs or
//! error messages.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

/// What a key may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read keys, history, status, metrics; subscribe to live changes.
    Read,
    /// Also set and delete keys (HTTP, `/ws`, Socket.IO).
    Write,
    /// Also create dumps (files on the server's disk).
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Role, String> {
        match text {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown API key role `{other}`: use read, write or admin"
            )),
        }
    }
}

/// A key's text, kept out of `Debug` output so a logged configuration never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_owned())
    }
}

/// One `ROLE:KEY` entry.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub role: Role,
    pub key: Secret,
}

impl FromStr for ApiKey {
    type Err = String;
    /// The error never quotes the entry: it holds a key.
    fn from_str(entry: &str) -> Result<ApiKey, String> {
        let Some((role, key)) = entry.split_once(':') else {
            return Err("an API key entry must be ROLE:KEY (ROLE read, write or admin)".into());
        };
        let role = role.trim().parse()?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the {} API key must be non-empty printable ASCII without spaces (it travels in a header)",
                Role::as_str(role)
            ));
        }
        Ok(ApiKey {
            role,
            key: Secret::from(key),
        })
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ApiKey, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Compares without stopping at the first difference, so timing does not leak the key.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_errors_never_quote_the_key() {
        let key: ApiKey = "write:s3cret".parse().unwrap();
        assert_eq!((key.role, key.key.expose()), (Role::Write, "s3cret"));
        assert!(!format!("{key:?}").contains("s3cret"));
        for bad in ["s3cret", "owner:s3cret", "read:", "read:s3 cret"] {
            let error = bad.parse::<ApiKey>().unwrap_err();
            assert!(!error.contains("s3"), "{error}");
        }
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
    }
}
