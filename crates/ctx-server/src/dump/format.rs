//! The four dump layouts. json, csv and pretty files are byte for byte what Framework0's
//! Python writer produced for the same context (timestamps aside; `python` writes JSON as
//! its `json.dumps` did), so readers of old dumps keep working.

use super::python::{self, Escape, Layout};
use ctx_store::{Change, JsonValue, Record, Timestamp};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpFormat {
    Json,
    Csv,
    Txt,
    Pretty,
}

impl DumpFormat {
    pub fn parse(s: &str) -> Option<DumpFormat> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(DumpFormat::Json),
            "csv" => Some(DumpFormat::Csv),
            "txt" => Some(DumpFormat::Txt),
            "pretty" => Some(DumpFormat::Pretty),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Json => "json",
            DumpFormat::Csv => "csv",
            DumpFormat::Txt => "txt",
            DumpFormat::Pretty => "pretty",
        }
    }

    /// Framework0 used the format name as the file extension, `pretty` included.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// Only json and csv carry history; txt and csv never did, pretty does on request.
    pub fn carries_history(self) -> bool {
        matches!(self, DumpFormat::Json | DumpFormat::Pretty)
    }
}

/// Everything a dump shows.
pub struct DumpContent<'a> {
    pub format: DumpFormat,
    pub filename: &'a str,
    pub who: &'a str,
    pub timestamp: Timestamp,
    pub records: &'a [(Arc<str>, Record)],
    /// Present when history was asked for.
    pub history: Option<&'a [Arc<Change>]>,
}

impl DumpContent<'_> {
    pub fn render(&self) -> Vec<u8> {
        match self.format {
            DumpFormat::Json => self.json(),
            DumpFormat::Csv => self.csv().into_bytes(),
            DumpFormat::Txt => self.txt().into_bytes(),
            DumpFormat::Pretty => self.pretty().into_bytes(),
        }
    }

    fn json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Entry<'a> {
            timestamp: String,
            key: &'a str,
            before: Option<Value>,
            after: Option<Value>,
            who: &'a str,
            revision: u64,
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            timestamp: String,
            format: &'a str,
            filename: &'a str,
            who: &'a str,
            key_count: usize,
            include_history: bool,
            context: serde_json::Map<String, Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            history: Option<Vec<Entry<'a>>>,
        }
        let doc = Doc {
            timestamp: self.timestamp.rfc3339(),
            format: "json",
            filename: self.filename,
            who: self.who,
            key_count: self.records.len(),
            include_history: self.history.is_some(),
            // Parsed back to values so nested data is indented like the rest of the file.
            context: self
                .records
                .iter()
                .map(|(k, r)| (k.to_string(), r.value.to_value()))
                .collect(),
            history: self.history.map(|entries| {
                entries
                    .iter()
                    .map(|c| Entry {
                        timestamp: c.timestamp.rfc3339(),
                        key: &c.key,
                        before: c.before.as_ref().map(JsonValue::to_value),
                        after: c.after.as_ref().map(JsonValue::to_value),
                        who: &c.who,
                        revision: c.revision,
                    })
                    .collect()
            }),
        };
        // `json.dump(doc, f, indent=2, ensure_ascii=False)`: no newline at the end.
        python::dumps(&doc, Layout::Indented, Escape::Minimal).into_bytes()
    }

    fn csv(&self) -> String {
        let stamp = self.timestamp.rfc3339();
        let mut out = String::from("Key,Value,Type,Dump_Timestamp,Requested_By\r\n");
        for (key, record) in self.records {
            let value = record.value.to_value();
            // A string raw, anything else as `json.dumps(value)`.
            let text = match &value {
                Value::String(text) => text.clone(),
                other => python::dumps(other, Layout::Spaced, Escape::Ascii),
            };
            let row = [
                key.as_ref(),
                &text,
                python_type_name(&value),
                &stamp,
                self.who,
            ];
            let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    fn txt(&self) -> String {
        let mut out = format!(
            "Context Dump - {}\nRequested by: {}\nTotal keys: {}\n\n",
            self.timestamp.rfc3339(),
            self.who,
            self.records.len()
        );
        for (key, record) in self.records {
            let _ = writeln!(
                out,
                "{key}={}",
                plain_text(&record.value, &record.value.to_value())
            );
        }
        out
    }

    fn pretty(&self) -> String {
        let rule = "=".repeat(80);
        let thin = "-".repeat(40);
        let mut out = format!(
            "{rule}\nFramework0 Context Dump - Pretty Format\n{rule}\n\n\
             Timestamp: {}\nRequested by: {}\nTotal keys: {}\nInclude history: {}\n\n\
             Context Data:\n{thin}\n",
            self.timestamp.rfc3339(),
            self.who,
            self.records.len(),
            // Python's spelling of booleans, as the old dumps had it.
            if self.history.is_some() {
                "True"
            } else {
                "False"
            },
        );
        for (key, record) in self.records {
            let indented = python::dumps(&record.value.to_value(), Layout::Indented, Escape::Ascii);
            let _ = writeln!(out, "{key}: {indented}\n");
        }
        if let Some(history) = self.history {
            // The old writer left a blank line of its own before the section.
            let _ = writeln!(out, "\nChange History:\n{thin}");
            for (n, change) in history.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}. [{}] {} changed {}\n   Before: {}\n   After:  {}\n",
                    n + 1,
                    change.timestamp.rfc3339(),
                    change.who,
                    change.key,
                    python_json(&change.before),
                    python_json(&change.after),
                );
            }
        }
        out
    }
}

/// A string as its raw text, anything else as compact JSON.
fn plain_text(text: &JsonValue, value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        _ => text.as_str().to_owned(),
    }
}

/// `json.dumps(value)`, `null` for an absent side.
fn python_json(value: &Option<JsonValue>) -> String {
    value.as_ref().map_or_else(
        || "null".to_owned(),
        |value| python::dumps(&value.to_value(), Layout::Spaced, Escape::Ascii),
    )
}

/// The Python type name Framework0's CSV carried in its `Type` column.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        // Python read any number without a fraction or exponent as an int, whatever its size.
        Value::Number(n) if !n.as_str().contains(['.', 'e', 'E']) => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Standard CSV quoting (RFC 4180, as Python's csv module writes it).
fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}
