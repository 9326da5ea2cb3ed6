//! What the user types in and what they read: VALUE parsing, answers as text, saved downloads.

use super::*;

/// `ctx set`'s VALUE: JSON when it parses, else the text as a string. Text that starts
/// like a JSON object, array or string (`{"a":`) but does not parse is refused rather
/// than silently stored as a string: it is almost always a typo or a shell-quoting slip.
pub(in crate::cmd) fn value_argument(text: String) -> Result<Value, Failure> {
    match serde_json::from_str(&text) {
        Ok(value) => Ok(value),
        Err(err) if text.trim_start().starts_with(['{', '[', '"']) => Err(Failure::Usage(format!(
            "VALUE looks like JSON but does not parse ({err}); fix it, or pass --string to store the text as is"
        ))),
        Err(_) => Ok(Value::String(text)),
    }
}

/// Writes a downloaded dump to `destination` (none: the current directory; a directory:
/// the dump's name inside it), never over an existing file. Answers the path written.
pub(super) fn save_download(
    file: &[u8],
    destination: Option<&Path>,
    filename: &str,
) -> Result<PathBuf, Failure> {
    // The name comes from the server: accept one plain file name, never a path.
    let mut parts = Path::new(filename).components();
    if !matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return Err(Failure::Server {
            status: StatusCode::OK,
            message: format!("the server named the dump {filename:?}, not a plain file name"),
        });
    }
    let path = match destination {
        None => PathBuf::from(filename),
        Some(dir) if dir.is_dir() => dir.join(filename),
        Some(file) => file.to_owned(),
    };
    let failed = |err: std::io::Error| Failure::Save {
        path: path.clone(),
        reason: err.to_string(),
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(failed)?;
    out.write_all(file).map_err(failed)?;
    Ok(path)
}

pub(super) fn field<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer.get(name).unwrap_or(&Value::Null)
}

/// Strings raw, anything else as compact JSON: what a shell script wants to capture
/// (`get`, `list` and `watch` all print values this way).
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn revision_suffix(answer: &Value) -> String {
    answer
        .get("revision")
        .map(|rev| format!(" (revision {rev})"))
        .unwrap_or_default()
}

pub(super) fn render_list(answer: &Value) -> String {
    let Some(context) = answer.get("context").and_then(Value::as_object) else {
        return String::new();
    };
    // Sorted here rather than trusting the map's order (serde_json may preserve insertion order).
    let mut entries: Vec<_> = context.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .iter()
        .map(|(key, value)| format!("{key}={}\n", plain(value)))
        .collect()
}

/// `REV  TIMESTAMP  WHO  KEY: BEFORE → AFTER`, both sides as JSON so `null` (absent) and
/// `"null"` (a string) stay distinct.
pub(super) fn render_history(answer: &Value) -> String {
    let Some(entries) = answer.get("history").and_then(Value::as_array) else {
        return String::new();
    };
    entries
        .iter()
        .map(|entry| {
            format!(
                "{}  {}  {}  {}: {} → {}\n",
                plain(field(entry, "revision")),
                plain(field(entry, "timestamp")),
                plain(field(entry, "who")),
                plain(field(entry, "key")),
                field(entry, "before"),
                field(entry, "after"),
            )
        })
        .collect()
}

/// `name: value` lines; every top-level field is shown so new server fields need no client change.
pub(super) fn render_status(server: &str, answer: &Value) -> String {
    let mut out = format!("server: {server}\n");
    if let Some(fields) = answer.as_object() {
        let mut fields: Vec<_> = fields.iter().collect();
        fields.sort_by_key(|(name, _)| (name.as_str() != "status", name.as_str()));
        for (name, value) in fields {
            let _ = writeln!(out, "{name}: {}", plain(value));
        }
    }
    out
}
