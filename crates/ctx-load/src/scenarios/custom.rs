//! User-defined scenarios from a TOML file (`--scenario-file`), so a team can
//! write its own mix without Rust. Schema (documented in docs/load.md):
//!
//! ```toml
//! [[scenario]]
//! name = "hot_keys"                 # required, unique, [A-Za-z0-9_-]
//! description = "what it does"      # optional
//! clients = 4                       # required, >= 1
//! ops = 100                         # operations per client, required, >= 1
//! setup = [                         # optional, sent once before the measurement
//!   { method = "POST", path = "/ctx", body = { key = "hot.0", value = 0 } },
//! ]
//!
//! [[scenario.request]]              # one or more; op N uses template N mod (sum of weights)
//! method = "GET"                    # optional, default GET
//! path = "/ctx/hot.{op}"            # {client} and {op} are replaced
//! weight = 4                        # optional, default 1
//!
//! [[scenario.request]]
//! method = "POST"
//! path = "/ctx"
//! body = { key = "hot.{client}", value = "{op}" }   # any TOML value, sent as JSON
//!
//! [scenario.thresholds]             # optional; same metrics as --threshold
//! success_rate = 99.9               # default 99 when not set ("off" to drop it)
//! p99_ms = 50
//! ```
//!
//! Placeholders are replaced in the path and in every string of the body; a
//! body string that is exactly `"{client}"` or `"{op}"` becomes a JSON number.
//! `{rand:N}` is a number in `0..N`, zero-padded to the width of `N - 1`, spread over
//! the key space but the same for the same client and op in every run (see `fill_rand`).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use serde_json::Value;

use super::Scenario;
use super::checks::{ContentCheck, Requirement};
use crate::engine::Request;
use crate::error::LoadError;
use crate::model::Thresholds;

/// The success-rate threshold of a file scenario that sets none, percent.
pub const DEFAULT_SUCCESS_RATE_PCT: f64 = 99.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    scenario: Vec<ScenarioDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDef {
    name: String,
    #[serde(default)]
    description: Option<String>,
    clients: u64,
    ops: u64,
    #[serde(default)]
    setup: Vec<TemplateDef>,
    request: Vec<TemplateDef>,
    #[serde(default)]
    thresholds: toml::Table,
    #[serde(default)]
    check: Vec<CheckDef>,
}

/// `[[scenario.check]]`: exactly one of `status`, `header`, `json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDef {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    json: Option<String>,
    #[serde(default)]
    equals: Option<toml::Value>,
}

impl CheckDef {
    fn parse(self, ctx: &str) -> Result<ContentCheck, String> {
        let requirement = match (self.status, self.header, self.json) {
            (Some(code), None, None) if self.equals.is_none() => {
                if !(100..=599).contains(&code) {
                    return Err(format!("{ctx}: status {code} is not an HTTP status"));
                }
                Requirement::Status(code)
            }
            (None, Some(name), None) => {
                let name = name.trim().to_ascii_lowercase();
                if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(format!("{ctx}: {name:?} is not a header name"));
                }
                let equals = match self.equals {
                    None => None,
                    Some(toml::Value::String(v)) => Some(v),
                    Some(other) => {
                        return Err(format!("{ctx}: a header equals a string, not {other}"));
                    }
                };
                Requirement::Header { name, equals }
            }
            (None, None, Some(path)) => {
                let path: Vec<String> = path.split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    return Err(format!("{ctx}: json wants a field path like \"value.seq\""));
                }
                let equals = match self.equals {
                    None => None,
                    Some(v) => Some(serde_json::to_value(v).map_err(|e| format!("{ctx}: {e}"))?),
                };
                Requirement::Json { path, equals }
            }
            _ => {
                return Err(format!(
                    "{ctx}: a check has exactly one of status, header or json (equals goes with header or json)"
                ));
            }
        };
        Ok(ContentCheck::new(self.name, requirement))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateDef {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    body: Option<toml::Value>,
    #[serde(default)]
    weight: Option<u32>,
}

/// A request with placeholders, validated once at load time.
#[derive(Debug)]
struct Template {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn fill(s: &str, client: u64, op: u64) -> String {
    let s = s
        .replace("{client}", &client.to_string())
        .replace("{op}", &op.to_string());
    if s.contains(RAND) {
        fill_rand(&s, client, op)
    } else {
        s
    }
}

const RAND: &str = "{rand:";

/// Replaces each `{rand:N}` with a number in `0..N`, zero-padded to the width of `N - 1`
/// (so `bench_00{rand:100000}` names one of `bench_0000000` … `bench_0099999`). The number
/// is a hash of the client, the op and the placeholder's position, not a random draw: a
/// run is repeatable, and the hot loop needs no generator state. A malformed placeholder
/// is left as written ([`Template::parse`] refuses it).
fn fill_rand(s: &str, client: u64, op: u64) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut position = 0u64;
    while let Some(start) = rest.find(RAND) {
        out.push_str(&rest[..start]);
        let after = &rest[start + RAND.len()..];
        let bound = after.find('}').and_then(|end| {
            let n = after[..end].parse::<u64>().ok().filter(|&n| n > 0)?;
            Some((end, n))
        });
        match bound {
            Some((end, n)) => {
                let width = (n - 1).to_string().len();
                let value = mix(client, op, position) % n;
                out.push_str(&format!("{value:0width$}"));
                position += 1;
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(RAND);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
    fn parse(def: &TemplateDef, ctx: &str) -> Result<Template, String> {
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

    fn request(&self, client: u64, op: u64) -> Request {
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

/// Parses scenarios from TOML text (`origin` names the file in errors).
pub fn parse(text: &str, origin: &str) -> Result<Vec<Scenario>, LoadError> {
    let bad = |why: String| LoadError::InvalidOption(format!("{origin}: {why}"));
    let file: File =
        toml::from_str(text).map_err(|e| bad(e.to_string().trim().replace('\n', " ")))?;
    if file.scenario.is_empty() {
        return Err(bad("no [[scenario]] defined".into()));
    }
    let mut out: Vec<Scenario> = Vec::new();
    for def in file.scenario {
        let name = def.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(format!(
                "scenario name {:?} must be non-empty [A-Za-z0-9_-]",
                def.name
            )));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(bad(format!("scenario {name:?} is defined twice")));
        }
        if def.clients == 0 || def.ops == 0 {
            return Err(bad(format!(
                "scenario {name:?}: clients and ops must be at least 1"
            )));
        }
        if def.request.is_empty() {
            return Err(bad(format!(
                "scenario {name:?}: needs at least one [[scenario.request]]"
            )));
        }
        let mut templates = Vec::new();
        let mut order = Vec::new();
        for (i, t) in def.request.iter().enumerate() {
            let tpl =
                Template::parse(t, &format!("scenario {name:?} request {}", i + 1)).map_err(bad)?;
            let weight = t.weight.unwrap_or(1);
            if weight == 0 || weight > 1000 {
                return Err(bad(format!(
                    "scenario {name:?} request {}: weight must be 1..=1000",
                    i + 1
                )));
            }
            order.extend(std::iter::repeat_n(templates.len(), weight as usize));
            templates.push(tpl);
        }
        let mut setup = Vec::new();
        for (i, t) in def.setup.iter().enumerate() {
            let tpl =
                Template::parse(t, &format!("scenario {name:?} setup {}", i + 1)).map_err(bad)?;
            setup.push(tpl.request(0, i as u64));
        }
        // A scenario whose requests fail must not pass: success ≥ 99 % unless
        // the file says otherwise (`success_rate = "off"` to judge nothing).
        let mut thresholds = Thresholds {
            min_success_rate_pct: Some(DEFAULT_SUCCESS_RATE_PCT),
            ..Thresholds::default()
        };
        for (metric, v) in &def.thresholds {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
                other => {
                    return Err(bad(format!(
                        "scenario {name:?}: threshold {metric} has unsupported value {other}"
                    )));
                }
            };
            thresholds
                .set(metric, &text)
                .map_err(|e| bad(format!("scenario {name:?}: {e}")))?;
        }
        let checks = def
            .check
            .into_iter()
            .enumerate()
            .map(|(i, check)| check.parse(&format!("scenario {name:?} check {}", i + 1)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let templates = Arc::new(templates);
        let order = Arc::new(order);
        out.push(Scenario {
            description: def
                .description
                .unwrap_or_else(|| format!("user scenario from {origin}")),
            name,
            clients: def.clients,
            ops_per_client: def.ops,
            setup,
            generator: Arc::new(move |c, o| {
                templates[order[(o % order.len() as u64) as usize]].request(c, o)
            }),
            thresholds,
            fanout: None,
            open_loop: None,
            checks,
        });
    }
    Ok(out)
}

/// Reads and parses a scenario file.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        LoadError::InvalidOption(format!("cannot read scenario file {}: {e}", path.display()))
    })?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[scenario]]
name = "hot_keys"
clients = 2
ops = 10
setup = [ { method = "POST", path = "/ctx", body = { key = "hot.0", value = 0 } } ]

[[scenario.request]]
path = "/ctx/hot.{op}"
weight = 2

[[scenario.request]]
method = "post"
path = "/ctx"
body = { key = "hot.{client}", value = "{op}", who = "c{client}" }

[scenario.thresholds]
success_rate = 99
p99_ms = 50.5
leak = true
"#;

    #[test]
    fn parses_and_generates() {
        let s = parse(GOOD, "t.toml").unwrap();
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(
            (s.name.as_str(), s.clients, s.ops_per_client, s.setup.len()),
            ("hot_keys", 2, 10, 1)
        );
        assert_eq!(s.thresholds.min_success_rate_pct, Some(99.0));
        assert_eq!(s.thresholds.max_p99_ms, Some(50.5));
        assert!(s.thresholds.fail_on_leak);
        let g = &s.generator;
        assert_eq!(g(1, 0).path, "/ctx/hot.0");
        assert_eq!(g(1, 1).path, "/ctx/hot.1");
        let w = g(1, 5);
        assert_eq!(w.method, Method::POST);
        let body: Value = serde_json::from_slice(w.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"key": "hot.1", "value": 5, "who": "c1"})
        );
    }

    #[test]
    fn a_file_scenario_must_succeed_unless_it_says_otherwise() {
        let plain = "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]";
        let s = parse(plain, "t.toml").unwrap();
        assert_eq!(s[0].thresholds.min_success_rate_pct, Some(99.0));
        let off = format!("{plain}\nthresholds={{success_rate='off'}}");
        let s = parse(&off, "t.toml").unwrap();
        assert_eq!(s[0].thresholds.min_success_rate_pct, None);
    }

    #[test]
    fn rand_placeholders_spread_over_a_padded_range() {
        let path = fill("/ctx/bench_00{rand:100000}/{rand:7}", 3, 0);
        let (key, small) = path["/ctx/bench_00".len()..].split_once('/').unwrap();
        assert_eq!(key.len(), 5, "{path}");
        assert!(small.parse::<u64>().unwrap() < 7, "{path}");
        let keys: std::collections::HashSet<String> =
            (0..1000).map(|op| fill("{rand:100000}", 1, op)).collect();
        assert!(
            keys.len() > 990,
            "1000 ops hit {} distinct keys",
            keys.len()
        );
        assert!(
            keys.iter()
                .all(|k| k.len() == 5 && k.parse::<u64>().unwrap() < 100_000)
        );
        assert_eq!(fill("{rand:100000}", 1, 9), fill("{rand:100000}", 1, 9));
        assert_ne!(fill("{rand:100000}", 1, 9), fill("{rand:100000}", 2, 9));
        assert_eq!(fill("{rand:1}", 5, 5), "0");
    }

    #[test]
    fn rejects_bad_files() {
        for (text, needle) in [
            ("", "no [[scenario]]"),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[]",
                "at least one",
            ),
            (
                "[[scenario]]\nname='a b'\nclients=1\nops=1\nrequest=[{path='/x'}]",
                "name",
            ),
            (
                "[[scenario]]\nname='a'\nclients=0\nops=1\nrequest=[{path='/x'}]",
                "at least 1",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x y'}]",
                "valid URL path",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\nthresholds={p98_ms=1}",
                "unknown metric",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x', colour=1}]",
                "unknown field",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x/{rand:0}'}]",
                "{rand:N}",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{status=200, json='a'}]",
                "exactly one of status, header or json",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{status=99}]",
                "not an HTTP status",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x'}]\ncheck=[{json='a..b'}]",
                "field path",
            ),
            (
                "[[scenario]]\nname='a'\nclients=1\nops=1\nrequest=[{path='/x', body={k='{rand:many}'}}]",
                "{rand:N}",
            ),
        ] {
            let err = parse(text, "t.toml").unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
