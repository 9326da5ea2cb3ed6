//! The one row model every table of the report goes through: a [`Table`] of
//! text cells, rendered as Markdown, HTML, a padded terminal table, or JSON.
//! The figures are formatted once (in [`super::rows`]), never per format.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::esc;

/// How a cell reads: plain, or a verdict to colour (HTML) or embolden (Markdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Pass,
    Fail,
}

impl Tone {
    /// The HTML class of a cell in this tone ("" for plain).
    pub fn class(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Pass => "pass",
            Tone::Fail => "fail",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            tone: Tone::Plain,
        }
    }

    pub fn toned(text: impl Into<String>, tone: Tone) -> Self {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

/// A header row and rows of cells; the first column is left-aligned, the
/// others right-aligned (figures), except the last when `text_last` is set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// The last column is text (a verdict, a reason): left-aligned.
    pub text_last: bool,
}

impl Table {
    pub fn new(columns: Vec<&'static str>) -> Self {
        Table {
            columns,
            rows: Vec::new(),
            text_last: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn left_aligned(&self, column: usize) -> bool {
        column == 0 || (self.text_last && column + 1 == self.columns.len())
    }

    /// A GitHub-flavoured Markdown table; failed cells in bold.
    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n|", self.columns.join(" | "));
        for column in 0..self.columns.len() {
            out.push_str(if self.left_aligned(column) {
                "---|"
            } else {
                "--:|"
            });
        }
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| {
                    let text = cell.text.replace('|', "\\|");
                    match cell.tone {
                        Tone::Fail => format!("**{text}**"),
                        _ => text,
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// An HTML `<table>`; verdict cells carry the class `pass` or `fail`.
    pub fn html(&self) -> String {
        let mut out = String::from("<table><tr>");
        for column in &self.columns {
            let _ = write!(out, "<th>{}</th>", esc(column));
        }
        out.push_str("</tr>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (column, cell) in row.iter().enumerate() {
                let mut classes = Vec::new();
                if cell.tone != Tone::Plain {
                    classes.push(cell.tone.class());
                }
                if self.left_aligned(column) {
                    classes.push("text");
                }
                if classes.is_empty() {
                    let _ = write!(out, "<td>{}</td>", esc(&cell.text));
                } else {
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{}</td>",
                        classes.join(" "),
                        esc(&cell.text)
                    );
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        out
    }

    /// Columns padded to their widest cell, for the terminal.
    pub fn terminal(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
            for (column, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(column) {
                    *width = (*width).max(cell.text.chars().count());
                }
            }
        }
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(column, text)| {
                    let width = widths.get(column).copied().unwrap_or(0);
                    if self.left_aligned(column) {
                        format!("{text:<width$}")
                    } else {
                        format!("{text:>width$}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        let mut out = line(self.columns.clone());
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row.iter().map(|c| c.text.as_str()).collect()));
            out.push('\n');
        }
        out
    }

    /// One JSON object per row, keyed by column name.
    pub fn json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let object: Map<String, Value> = self
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(column, cell)| (column.to_string(), Value::from(cell.text.clone())))
                        .collect();
                    Value::Object(object)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut table = Table::new(vec!["scenario", "ops", "result"]);
        table.text_last = true;
        table.rows.push(vec![
            Cell::new("reads"),
            Cell::new("500"),
            Cell::toned("pass", Tone::Pass),
        ]);
        table.rows.push(vec![
            Cell::new("a|b"),
            Cell::new("7"),
            Cell::toned("FAIL (p99_ms)", Tone::Fail),
        ]);
        table
    }

    #[test]
    fn one_table_four_renderings() {
        let table = sample();
        assert_eq!(
            table.markdown(),
            "| scenario | ops | result |\n|---|--:|---|\n| reads | 500 | pass |\n| a\\|b | 7 | **FAIL (p99_ms)** |\n"
        );
        assert_eq!(
            table.terminal(),
            "scenario  ops  result\nreads     500  pass\na|b         7  FAIL (p99_ms)\n"
        );
        let html = table.html();
        assert!(
            html.contains("<td class=\"fail text\">FAIL (p99_ms)</td>"),
            "{html}"
        );
        assert_eq!(table.json()[1]["result"], "FAIL (p99_ms)");
    }
}
