//! How deeply a value may nest: the one check for `POST /ctx`, `POST /ctx/txn`, `/ws` sets
//! and Socket.IO `context_set`.
//!
//! Depth counts the arrays and objects around the innermost value: `1` is 0, `[1]` is 1,
//! `{"a":[1]}` is 2. The default, 64, is far beyond what configurations and test results
//! need, and keeps every later walk of a value (canonical text, dumps, Python dumps, the
//! dashboard's rendering) shallow. JSON parsing stops at 128 levels of the whole message
//! whatever this says, so the limit may be set to at most [`MAX_VALUE_DEPTH_CEILING`]: the
//! envelope (`{"key":..,"value":..}`, a transaction's op, a Socket.IO packet) takes up to
//! four levels, and the limit must bite before the parser does.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::Value;

pub const DEFAULT_MAX_VALUE_DEPTH: usize = 64;
/// The highest `--max-value-depth` accepted (see the module comment).
pub const MAX_VALUE_DEPTH_CEILING: usize = 100;

/// A value nested deeper than `limit` levels: a 400 naming the limit.
pub(crate) fn check(value: &Value, limit: usize) -> Result<(), ApiError> {
    if !deeper_than(value, limit) {
        return Ok(());
    }
    let mut details = serde_json::Map::new();
    details.insert("limit".into(), limit.into());
    Err(ApiError {
        details: Some(details),
        ..ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the value nests arrays and objects more than {limit} levels deep; the server's limit is {limit} (--max-value-depth)"
            ),
        )
    })
}

/// Stops at the first branch past the limit; a scalar (most values) costs one match.
fn deeper_than(value: &Value, limit: usize) -> bool {
    match value {
        Value::Array(items) => limit == 0 || items.iter().any(|item| deeper_than(item, limit - 1)),
        Value::Object(fields) => {
            limit == 0 || fields.values().any(|field| deeper_than(field, limit - 1))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, level| match level % 2 {
            0 => json!([inner]),
            _ => json!({ "k": inner }),
        })
    }

    #[test]
    fn depth_counts_the_arrays_and_objects_around_the_innermost_value() {
        assert!(check(&json!("text"), 0).is_ok());
        assert!(check(&json!([]), 0).is_err());
        for levels in [1, 2, 63, 64] {
            assert!(check(&nested(levels), 64).is_ok(), "{levels}");
        }
        let refused = check(&nested(65), 64).err().map(|e| (e.status, e.message));
        assert!(
            matches!(&refused, Some((StatusCode::BAD_REQUEST, m)) if m.contains("64")),
            "{refused:?}"
        );
        // A deep branch beside shallow ones is found.
        assert!(check(&json!({"a": 1, "b": [nested(64)]}), 64).is_err());
    }
}
