//! Values and timestamps as the store keeps them.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;

/// A JSON value kept as its canonical compact text.
///
/// Keeping the text (not a parsed tree) means a read answers by copying bytes, never by
/// re-serialising, and two values are equal exactly when their texts are. The text is
/// canonical because it is produced from a `serde_json::Value`, whose objects keep their
/// keys sorted, and whose numbers are normalised here: serde_json's `arbitrary_precision`
/// keeps a number's text as sent, so integers of any size stay exact (as Framework0's
/// Python ints did), while a number with a fraction or exponent is read as an `f64` and
/// written in its shortest form (`1.50`, `15e-1` → `1.5`), as before that feature.
#[derive(Clone, Debug)]
pub struct JsonValue(Arc<RawValue>);

impl JsonValue {
    pub fn new(value: &serde_json::Value) -> Self {
        if has_unnormalised_float(value) {
            let mut value = value.clone();
            normalise_floats(&mut value);
            return Self::canonical(&value);
        }
        Self::canonical(value)
    }

    /// The text of a value whose numbers are already normalised.
    fn canonical(value: &serde_json::Value) -> Self {
        // `to_raw_value` wraps the text it wrote without parsing it back (it is valid
        // JSON by construction); serialising a Value cannot fail: its keys are strings.
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => Self(Arc::from(raw)),
            Err(_) => unreachable!("serialising a serde_json::Value failed"),
        }
    }

    /// Text that is already canonical JSON (written by this store); checked all the same,
    /// so a damaged data file is an error at open, not a bad answer later.
    pub fn from_stored_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(|raw| Self(Arc::from(raw)))
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).unwrap_or(serde_json::Value::Null)
    }
}

impl From<&serde_json::Value> for JsonValue {
    fn from(value: &serde_json::Value) -> Self {
        Self::new(value)
    }
}

/// Taking the tree by value lets a caller that only needs the canonical text drop the
/// tree as soon as the text exists.
impl From<serde_json::Value> for JsonValue {
    fn from(mut value: serde_json::Value) -> Self {
        normalise_floats(&mut value);
        Self::canonical(&value)
    }
}

/// A finite number with a fraction or exponent whose text is not already the shortest
/// `f64` form. Walks the tree without allocating: most values (strings, integers) have none.
fn has_unnormalised_float(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) => normalised(number).is_some(),
        Value::Array(items) => items.iter().any(has_unnormalised_float),
        Value::Object(fields) => fields.values().any(has_unnormalised_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

fn normalise_floats(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            if let Some(shortest) = normalised(number) {
                *number = shortest;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_floats),
        Value::Object(fields) => fields.values_mut().for_each(normalise_floats),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// The shortest `f64` form of a float whose text differs from it; `None` for integers
/// (kept exact, any size), for floats already in that form, and for numbers out of `f64`
/// range (kept as sent rather than turned into `null`).
fn normalised(number: &serde_json::Number) -> Option<serde_json::Number> {
    if !number.is_f64() {
        return None;
    }
    let shortest = serde_json::Number::from_f64(number.as_f64()?)?;
    (shortest.as_str() != number.as_str()).then_some(shortest)
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
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
        match self.rfc3339_fixed() {
            // The buffer holds only ASCII digits and separators.
            Some(text) => text.iter().map(|&byte| char::from(byte)).collect(),
            None => self.rfc3339_chrono(),
        }
    }

    /// Appends [`rfc3339`](Self::rfc3339)'s text (no quotes) to `out`. The text never needs
    /// JSON escaping, so answers can copy it in directly.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        match self.rfc3339_fixed() {
            Some(text) => out.extend_from_slice(&text),
            None => out.extend_from_slice(self.rfc3339_chrono().as_bytes()),
        }
    }

    fn rfc3339_chrono(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// The RFC 3339 text computed from the date and time fields, for years 0000–9999 (chrono
    /// writes other years with a sign and more digits; those take its path). Every answer
    /// carries a timestamp, and chrono's general formatter cost ~840 instructions per GET.
    fn rfc3339_fixed(self) -> Option<[u8; 27]> {
        const MICROS_PER_DAY: i64 = 86_400_000_000;
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let in_day = self.0.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return None;
        }
        // In range: the year is 0..=9999, the rest are parts of a day.
        let (year, month, day) = (year as u32, month as u32, day as u32);
        let seconds = (in_day / 1_000_000) as u32;
        let micros = (in_day % 1_000_000) as u32;
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        for (at, value) in [
            (0, year / 100),
            (2, year % 100),
            (5, month),
            (8, day),
            (11, seconds / 3600),
            (14, seconds / 60 % 60),
            (17, seconds % 60),
            (20, micros / 10_000),
            (22, micros / 100 % 100),
            (24, micros % 100),
        ] {
            put_two_digits(&mut text[at..at + 2], value);
        }
        Some(text)
    }
}

/// Writes `value` (below 100) as two decimal digits from a table. A division per digit
/// cost ~135 of the timestamp's ~370 instructions.
fn put_two_digits(field: &mut [u8], value: u32) {
    const PAIRS: &[u8; 200] = b"\
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let at = value as usize * 2;
    field.copy_from_slice(&PAIRS[at..at + 2]);
}

/// (year, month, day) of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`: exact for every `i64` day count used here).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_fixed() {
            Some(text) => match std::str::from_utf8(&text) {
                Ok(text) => serializer.serialize_str(text),
                Err(_) => unreachable!("RFC 3339 text is ASCII"),
            },
            None => serializer.serialize_str(&self.rfc3339_chrono()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_text(micros: i64) -> String {
        Timestamp(micros).rfc3339_chrono()
    }

    fn check(micros: i64) {
        let expected = chrono_text(micros);
        let timestamp = Timestamp(micros);
        assert_eq!(timestamp.rfc3339(), expected, "micros {micros}");
        let mut written = b"x".to_vec();
        timestamp.write_rfc3339(&mut written);
        assert_eq!(&written[1..], expected.as_bytes(), "micros {micros}");
        let json = serde_json::to_string(&timestamp).unwrap_or_default();
        assert_eq!(json, format!("\"{expected}\""), "micros {micros}");
    }

    fn micros_of(year: i32, month: u32, day: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc().timestamp_micros())
            .unwrap_or_else(|| panic!("bad date {year}-{month}-{day}"))
    }

    #[test]
    fn rfc3339_matches_chrono_at_calendar_edges() {
        // Every day from 1899 to 2101 (leap years 1904..2096, non-leap 1900 and 2100, leap
        // 2000), around midnight.
        let mut day = micros_of(1899, 1, 1);
        let end = micros_of(2101, 12, 31);
        while day <= end {
            for offset in [-1, 0, 1, 86_399_999_999] {
                check(day + offset);
            }
            day += 86_400_000_000;
        }
        // Year boundaries, the epoch and the ends of the four-digit range, both sides.
        for (year, month, day) in [
            (0, 1, 1),
            (1, 1, 1),
            (1600, 2, 29),
            (1600, 3, 1),
            (1969, 12, 31),
            (1970, 1, 1),
            (1970, 1, 2),
            (2024, 2, 29),
            (2026, 11, 24),
            (2400, 2, 29),
            (9999, 12, 31),
            (-1, 12, 31),
            (10000, 1, 1),
        ] {
            let start = micros_of(year, month, day);
            for offset in [
                -86_400_000_001,
                -1_000_001,
                -1,
                0,
                1,
                999_999,
                86_399_999_999,
            ] {
                check(start + offset);
            }
        }
        // Out of chrono's range: both fall back to the same text.
        for micros in [i64::MIN, i64::MAX] {
            check(micros);
        }
    }

    #[test]
    fn rfc3339_matches_chrono_over_many_timestamps() {
        // A fixed pseudo-random walk over years -500..10500.
        let low = micros_of(-500, 1, 1);
        let span = (micros_of(10500, 1, 1) - low) as u64;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            check(low + (state % span) as i64);
        }
    }
}

#[cfg(test)]
mod number_tests {
    use super::JsonValue;

    fn canonical(text: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        let by_ref = JsonValue::new(&value).as_str().to_owned();
        assert_eq!(JsonValue::from(value).as_str(), by_ref, "both ways agree");
        by_ref
    }

    #[test]
    fn integers_of_any_size_keep_their_exact_text() {
        for text in [
            "18446744073709551616",
            "1000000000000000000000000000000",
            "-170141183460469231731687303715884105729",
            "42",
        ] {
            assert_eq!(canonical(text), text);
        }
        assert_eq!(
            canonical(r#"{"b":[18446744073709551616],"a":1}"#),
            r#"{"a":1,"b":[18446744073709551616]}"#
        );
    }

    #[test]
    fn floats_take_their_shortest_f64_form_as_before() {
        assert_eq!(canonical("1.50"), "1.5");
        assert_eq!(canonical("15e-1"), "1.5");
        assert_eq!(canonical("1E2"), "100.0");
        assert_eq!(canonical("0.1"), "0.1");
        assert_eq!(
            canonical(r#"{"x":[2.50,{"y":1e0}]}"#),
            r#"{"x":[2.5,{"y":1.0}]}"#
        );
        assert_eq!(JsonValue::new(&serde_json::json!(1.5)).as_str(), "1.5");
    }
}
