//! Values and timestamps as the store keeps them.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;

/// A JSON value kept as its canonical compact text.
///
/// Keeping the text (not a parsed tree) means a read answers by copying bytes, never by
/// re-serialising, and two values are equal exactly when their texts are. The text is
/// canonical because it is produced from a `serde_json::Value`, whose objects keep their
/// keys sorted.
#[derive(Clone, Debug)]
pub struct JsonValue(Arc<RawValue>);

impl JsonValue {
    pub fn new(value: &serde_json::Value) -> Self {
        // Serialising a Value cannot fail: its map keys are always strings.
        let text = value.to_string();
        Self::from_trusted_text(text)
    }

    /// Text that is already canonical JSON (written by this store); checked all the same,
    /// so a damaged data file is an error at open, not a bad answer later.
    pub(crate) fn from_stored_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(|raw| Self(Arc::from(raw)))
    }

    fn from_trusted_text(text: String) -> Self {
        match RawValue::from_string(text) {
            Ok(raw) => Self(Arc::from(raw)),
            Err(_) => unreachable!("serde_json produced text it cannot read back"),
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).unwrap_or(serde_json::Value::Null)
    }
}

impl PartialEq for JsonValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for JsonValue {}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A point in time, kept as microseconds since the Unix epoch and shown as RFC 3339 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(chrono::Utc::now().timestamp_micros())
    }

    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-24T06:37:29.123456Z`.
    pub fn rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}
