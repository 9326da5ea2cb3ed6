//! `[[scenario.check]]`: a content check on every answer, as the file writes it.

use serde::Deserialize;

use crate::scenarios::checks::{ContentCheck, Requirement};

/// `[[scenario.check]]`: exactly one of `status`, `header`, `json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckDef {
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
    pub(super) fn parse(self, ctx: &str) -> Result<ContentCheck, String> {
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
