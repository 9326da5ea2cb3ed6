//! The four dump layouts, byte-compatible in shape with the Framework0 server's, so that
//! readers of old dumps keep working.

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
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }

    fn csv(&self) -> String {
        let stamp = self.timestamp.rfc3339();
        let mut out = String::from("Key,Value,Type,Dump_Timestamp,Requested_By\r\n");
        for (key, record) in self.records {
            let value = record.value.to_value();
            let row = [
                key.as_ref(),
                &plain_text(&record.value, &value),
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
            let indented =
                serde_json::to_string_pretty(&record.value.to_value()).unwrap_or_default();
            let _ = writeln!(out, "{key}: {indented}\n");
        }
        if let Some(history) = self.history {
            let _ = writeln!(out, "Change History:\n{thin}");
            for (n, change) in history.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}. [{}] {} changed {}\n   Before: {}\n   After:  {}\n",
                    n + 1,
                    change.timestamp.rfc3339(),
                    change.who,
                    change.key,
                    optional_json(&change.before),
                    optional_json(&change.after),
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

fn optional_json(value: &Option<JsonValue>) -> &str {
    value.as_ref().map_or("null", JsonValue::as_str)
}

/// The Python type name Framework0's CSV carried in its `Type` column.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
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
