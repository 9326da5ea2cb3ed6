//! JSON written as Framework0's Python writer wrote it: `json.dumps` with its defaults
//! (separators `", "` and `": "`, `ensure_ascii` escapes such as `"\u00e9"`, floats as
//! Python's `repr`), optionally indented, so dump files match the old ones byte for byte.

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};
use std::io::{self, Write};

/// How a value is laid out.
#[derive(Clone, Copy)]
pub enum Layout {
    /// `json.dumps(value)`: one line, `{"a": 1, "b": [1, 2]}`.
    Spaced,
    /// `json.dumps(value, indent=2)`.
    Indented,
}

/// Whether text outside printable ASCII is escaped (`ensure_ascii`, Python's default).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Ascii,
    /// `ensure_ascii=False`: only what JSON requires.
    Minimal,
}

/// `json.dumps(value, ...)` as text.
pub fn dumps(value: &impl Serialize, layout: Layout, escape: Escape) -> String {
    let mut out = Vec::new();
    let formatter = PythonFormatter {
        layout,
        escape,
        depth: 0,
        has_value: false,
    };
    let mut serializer = Serializer::with_formatter(&mut out, formatter);
    // Serialising into memory fails only for a map with non-string keys; dumps have none.
    if value.serialize(&mut serializer).is_err() {
        return String::from("null");
    }
    // Only ASCII escapes and valid UTF-8 from `&str`s were written.
    String::from_utf8(out).unwrap_or_default()
}

struct PythonFormatter {
    layout: Layout,
    escape: Escape,
    depth: usize,
    /// Whether the innermost open array/object has an element (Python writes `[]`, `{}`).
    has_value: bool,
}

impl PythonFormatter {
    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value && matches!(self.layout, Layout::Indented) {
            self.newline(writer)?;
        }
        self.has_value = true;
        writer.write_all(bracket)
    }

    /// Before an element: `, ` or `,\n  ` between elements, the indent before the first.
    fn element<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        match self.layout {
            Layout::Spaced if first => Ok(()),
            Layout::Spaced => writer.write_all(b", "),
            Layout::Indented => {
                if !first {
                    writer.write_all(b",")?;
                }
                self.newline(writer)
            }
        }
    }

    fn newline<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\n")?;
        for _ in 0..self.depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for PythonFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.element(writer, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.element(writer, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    /// Numbers arrive as their text (serde_json's `arbitrary_precision`).
    fn write_number_str<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        text: &str,
    ) -> io::Result<()> {
        writer.write_all(python_number(text).as_bytes())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.escape == Escape::Minimal {
            return writer.write_all(fragment.as_bytes());
        }
        // Python's ESCAPE_ASCII escapes everything outside ' '..='~' (DEL included), as
        // `\uXXXX` in lowercase hex, astral characters as a surrogate pair.
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// What Python prints for a JSON number it read: an int as is (any size), a float as its
/// `repr`.
fn python_number(text: &str) -> String {
    if !text.contains(['.', 'e', 'E']) {
        return match text {
            "-0" => "0".to_owned(),
            _ => text.to_owned(),
        };
    }
    match text.parse::<f64>() {
        Ok(value) => python_float(value),
        Err(_) => text.to_owned(),
    }
}

/// Python's `float.__repr__`: the shortest round-trip digits, positional when the decimal
/// exponent is in -4..16 (always with a fraction, `1.0`), scientific otherwise with a sign
/// and at least two exponent digits (`1e+16`, `1.5e-05`); `json.dumps` writes infinities as
/// `Infinity`.
pub fn python_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest digits: `d[.ddd]e[-]N`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{mantissa}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_repr() {
        for (value, python) in [
            (1.0, "1.0"),
            (0.875, "0.875"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(python_float(value), python, "{value:e}");
        }
    }

    #[test]
    fn layouts_match_json_dumps() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"a":[1,{"é":"x\u007f😀"}],"b":{},"c":[],"d":18446744073709551616,"e":1.5}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            dumps(&value, Layout::Spaced, Escape::Ascii),
            r#"{"a": [1, {"\u00e9": "x\u007f\ud83d\ude00"}], "b": {}, "c": [], "d": 18446744073709551616, "e": 1.5}"#
        );
        assert_eq!(
            dumps(
                &json!({"a": [1, {}], "b": "é"}),
                Layout::Indented,
                Escape::Minimal
            ),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": \"é\"\n}"
        );
    }
}
