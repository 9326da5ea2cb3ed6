//! k6-style checks on response content, for scenario files: each answer of
//! the scenario must have a status, a header (or a header value), or a JSON
//! field (or a field value). Failures are counted per check, never fatal to
//! the request; a scenario's checks must all pass (`checks_pct`, default 100).
//!
//! ```toml
//! [[scenario.check]]
//! status = 200                      # the answer's status
//! [[scenario.check]]
//! header = "content-type"           # present (case-insensitive name)...
//! equals = "application/json"       # ...with this value (optional)
//! [[scenario.check]]
//! name = "found"                    # optional; default describes the check
//! json = "found"                    # a field of the JSON body, dots for nesting: "value.seq"
//! equals = true                     # any TOML value (optional: presence only)
//! ```

use std::sync::Arc;

use hyper::HeaderMap;
use serde_json::Value;

use crate::engine::Inspection;

/// What one check requires of an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Requirement {
    Status(u16),
    Header {
        name: String,
        equals: Option<String>,
    },
    Json {
        path: Vec<String>,
        equals: Option<Value>,
    },
}

/// A named content check.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentCheck {
    pub name: String,
    pub requirement: Requirement,
}

fn clip(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl ContentCheck {
    /// A check named after what it requires unless `name` is given.
    pub fn new(name: Option<String>, requirement: Requirement) -> Self {
        let name = name.unwrap_or_else(|| match &requirement {
            Requirement::Status(code) => format!("status {code}"),
            Requirement::Header { name, equals: None } => format!("header {name}"),
            Requirement::Header {
                name,
                equals: Some(v),
            } => format!("header {name} = {v}"),
            Requirement::Json { path, equals: None } => format!("json {}", path.join(".")),
            Requirement::Json {
                path,
                equals: Some(v),
            } => format!("json {} = {v}", path.join(".")),
        });
        ContentCheck { name, requirement }
    }

    /// None when the answer meets the requirement, else what was found instead.
    fn failure(&self, status: u16, headers: &HeaderMap, body: Option<&Value>) -> Option<String> {
        match &self.requirement {
            Requirement::Status(code) => (status != *code).then(|| format!("HTTP {status}")),
            Requirement::Header { name, equals } => match (headers.get(name.as_str()), equals) {
                (None, _) => Some(format!("no {name} header")),
                (Some(found), Some(want)) if found.as_bytes() != want.as_bytes() => Some(format!(
                    "{name}: {}",
                    clip(&String::from_utf8_lossy(found.as_bytes()))
                )),
                _ => None,
            },
            Requirement::Json { path, equals } => {
                let Some(body) = body else {
                    return Some("the body is not JSON".into());
                };
                let found = path.iter().try_fold(body, |v, key| match v {
                    Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => v.get(key),
                });
                match (found, equals) {
                    (None, _) => Some(format!("no field {}", path.join("."))),
                    (Some(found), Some(want)) if found != want => {
                        Some(format!("{} = {}", path.join("."), clip(&found.to_string())))
                    }
                    _ => None,
                }
            }
        }
    }
}

/// The engine's view of a scenario's checks: which need the body, and the
/// judge that counts each answer into per-check tallies.
pub fn inspection(checks: &[ContentCheck]) -> Option<Inspection> {
    if checks.is_empty() {
        return None;
    }
    let needs_body = checks
        .iter()
        .any(|c| matches!(c.requirement, Requirement::Json { .. }));
    let checks: Arc<Vec<ContentCheck>> = Arc::new(checks.to_vec());
    let names = checks.iter().map(|c| c.name.clone()).collect();
    Some(Inspection {
        names,
        needs_body,
        judge: Arc::new(move |status, headers, body, tallies| {
            let json = if needs_body {
                serde_json::from_slice::<Value>(body).ok()
            } else {
                None
            };
            for (check, tally) in checks.iter().zip(tallies.iter_mut()) {
                match check.failure(status, headers, json.as_ref()) {
                    None => tally.passed += 1,
                    Some(why) => {
                        tally.failed += 1;
                        tally.first_failure.get_or_insert(why);
                    }
                }
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContentCheckTally;

    #[test]
    fn each_kind_of_check_counts_passes_and_failures() {
        let checks = [
            ContentCheck::new(None, Requirement::Status(200)),
            ContentCheck::new(
                None,
                Requirement::Header {
                    name: "content-type".into(),
                    equals: Some("application/json".into()),
                },
            ),
            ContentCheck::new(
                None,
                Requirement::Json {
                    path: vec!["value".into(), "seq".into()],
                    equals: Some(Value::from(7)),
                },
            ),
            ContentCheck::new(
                Some("has items".into()),
                Requirement::Json {
                    path: vec!["items".into(), "1".into()],
                    equals: None,
                },
            ),
        ];
        let inspection = inspection(&checks).unwrap();
        assert!(inspection.needs_body);
        assert_eq!(inspection.names[2], "json value.seq = 7");
        let mut tallies: Vec<ContentCheckTally> = inspection
            .names
            .iter()
            .map(|name| ContentCheckTally::new(name))
            .collect();
        let mut json = HeaderMap::new();
        json.insert("content-type", "application/json".parse().unwrap());
        let good = br#"{"value":{"seq":7},"items":[1,2]}"#;
        (inspection.judge)(200, &json, good, &mut tallies);
        (inspection.judge)(404, &HeaderMap::new(), b"not json", &mut tallies);
        let bad = br#"{"value":{"seq":8},"items":[1]}"#;
        (inspection.judge)(200, &json, bad, &mut tallies);
        let counts: Vec<(u64, u64)> = tallies.iter().map(|t| (t.passed, t.failed)).collect();
        assert_eq!(counts, [(2, 1), (2, 1), (1, 2), (1, 2)]);
        assert_eq!(tallies[0].first_failure.as_deref(), Some("HTTP 404"));
        assert_eq!(
            tallies[1].first_failure.as_deref(),
            Some("no content-type header")
        );
        assert_eq!(
            tallies[2].first_failure.as_deref(),
            Some("the body is not JSON")
        );
    }
}
