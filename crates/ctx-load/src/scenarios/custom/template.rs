//! `[[scenario.request]]` and `setup`: request templates with placeholders
//! (`{client}`, `{op}`, `{rand:N}`), validated once, filled per request.

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::Request;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TemplateDef {
    #[serde(default)]
    pub(super) method: Option<String>,
    pub(super) path: String,
    #[serde(default)]
    pub(super) body: Option<toml::Value>,
    #[serde(default)]
    pub(super) weight: Option<u32>,
}

/// A request with placeholders, validated once at load time.
#[derive(Debug)]
pub(super) struct Template {
    method: Method,
    path: String,
    body: Option<Value>,
}

/// Fills the placeholders of `s` in one pass: `{client}`, `{op}`, and each
/// `{rand:N}` with a number in `0..N`, zero-padded to the width of `N - 1` (so
/// `bench_00{rand:100000}` names one of `bench_0000000` … `bench_0099999`). The
/// number is a hash of the client, the op and the placeholder's position, not a
/// random draw: a run is repeatable, and the hot loop needs no generator state. A
/// malformed placeholder is left as written ([`Template::parse`] refuses it).
///
/// Called per request: one scan and one allocation. Three `str::replace`/`contains`
/// passes (each building a two-way searcher) were ~2 500 instructions of the ~23 000
/// `ctx load` spent per request against the bench baseline (callgrind).
pub(super) fn fill(s: &str, client: u64, op: u64) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    let mut position = 0u64;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let at = &rest[open..];
        if let Some(after) = at.strip_prefix("{client}") {
            push_number(&mut out, client, 0);
            rest = after;
        } else if let Some(after) = at.strip_prefix("{op}") {
            push_number(&mut out, op, 0);
            rest = after;
        } else if let Some((n, after)) = rand_bound(at) {
            let width = (n - 1).to_string().len();
            push_number(&mut out, mix(client, op, position) % n, width);
            position += 1;
            rest = after;
        } else {
            out.push('{');
            rest = &at[1..];
        }
    }
    out.push_str(rest);
    out
}

const RAND: &str = "{rand:";

/// `{rand:N}…` → N (at least 1) and the text after the placeholder.
fn rand_bound(at: &str) -> Option<(u64, &str)> {
    let after = at.strip_prefix(RAND)?;
    let end = after.find('}')?;
    let n = after[..end].parse::<u64>().ok().filter(|&n| n > 0)?;
    Some((n, &after[end + 1..]))
}

/// Appends `value` in decimal, zero-padded to `width` digits.
fn push_number(out: &mut String, value: u64, width: usize) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{value:0width$}");
}

/// splitmix64's finaliser over the three inputs: well spread for consecutive ops.
fn mix(client: u64, op: u64, position: u64) -> u64 {
    let mut z = client
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(op)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9)
        .wrapping_add(position);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fill_json(v: &Value, client: u64, op: u64) -> Value {
    match v {
        Value::String(s) if s == "{client}" => Value::from(client),
        Value::String(s) if s == "{op}" => Value::from(op),
        Value::String(s) => Value::String(fill(s, client, op)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_json(x, client, op)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (fill(k, client, op), fill_json(x, client, op)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Template {
    pub(super) fn parse(def: &TemplateDef, ctx: &str) -> Result<Template, String> {
        let method = def.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("{ctx}: bad method {:?}", def.method))?;
        let malformed_rand = |text: &str| fill(text, 0, 0).contains(RAND);
        if malformed_rand(&def.path)
            || def
                .body
                .as_ref()
                .is_some_and(|body| malformed_rand(&body.to_string()))
        {
            return Err(format!(
                "{ctx}: {{rand:N}} needs a whole number N of at least 1, e.g. {{rand:100000}}"
            ));
        }
        // The path must be a valid URI path once placeholders are filled.
        let probe = fill(&def.path, 0, 0);
        let full = format!("/{}", probe.trim_start_matches('/'));
        full.parse::<hyper::Uri>().map_err(|_| {
            format!(
                "{ctx}: path {:?} is not a valid URL path (percent-encode spaces and the like)",
                def.path
            )
        })?;
        let body = match &def.body {
            None => None,
            Some(v) => Some(serde_json::to_value(v).map_err(|e| format!("{ctx}: body: {e}"))?),
        };
        Ok(Template {
            method,
            path: def.path.clone(),
            body,
        })
    }

    pub(super) fn request(&self, client: u64, op: u64) -> Request {
        Request {
            method: self.method.clone(),
            path: fill(&self.path, client, op),
            body: self
                .body
                .as_ref()
                .map(|b| Bytes::from(fill_json(b, client, op).to_string())),
        }
    }
}
