//! CSV output: a header and rows of already formatted fields. Fields with a
//! comma, quote or newline are quoted (RFC 4180, by `luge_report`).

use anyhow::{Context, Result};
use luge_report::csv::quote;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// A table being built, written at once with [`Table::write`].
#[derive(Debug, Clone)]
pub struct Table {
    columns: usize,
    text: String,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        let mut t = Table {
            columns: header.len(),
            text: String::new(),
        };
        t.push_line(header.iter().map(|h| h.to_string()).collect());
        t
    }

    /// Appends a row; it must have as many fields as the header.
    pub fn row(&mut self, fields: Vec<String>) {
        assert_eq!(fields.len(), self.columns, "CSV row width");
        self.push_line(fields);
    }

    fn push_line(&mut self, fields: Vec<String>) {
        let line: Vec<Cow<str>> = fields.iter().map(|f| quote(f)).collect();
        let _ = writeln!(self.text, "{}", line.join(","));
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Writes the table to `path`, creating its directory.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_file(path, self.text.as_bytes())
    }
}

/// Writes `bytes` to `path`, creating the parent directory.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A number with `decimals` digits after the point.
pub fn num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_quoting() {
        let mut t = Table::new(&["name", "value"]);
        t.row(vec!["plain".into(), num(1.23456, 2)]);
        t.row(vec!["a,b".into(), "say \"hi\"".into()]);
        assert_eq!(
            t.text(),
            "name,value\nplain,1.23\n\"a,b\",\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    #[should_panic(expected = "CSV row width")]
    fn rows_must_match_the_header() {
        Table::new(&["a", "b"]).row(vec!["1".into()]);
    }

    #[test]
    fn tables_are_written_with_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.csv");
        Table::new(&["x"]).write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), "x\n");
    }
}
