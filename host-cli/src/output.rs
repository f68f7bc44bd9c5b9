//! Presentation only: tables, CSV cells, error messages. Every number printed here is a
//! string the engine produced; the CLI regroups digits for reading but never computes money.

use broker_rules::{Error, ErrorCode};
use std::fmt::Write as _;

/// A plain-text table: columns separated by two spaces, numbers right-aligned.
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `cols`: (header, right-aligned).
    pub fn new(cols: &[(&str, bool)]) -> Self {
        Table {
            headers: cols.iter().map(|c| c.0.to_string()).collect(),
            right: cols.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, indent: &str) -> String {
        let n = self.headers.len();
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::from(indent);
            for (i, width) in w.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = width - c.chars().count();
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right[i] {
                    s.extend(std::iter::repeat_n(' ', pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < n {
                        s.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// `1234567.5` -> `1,234,567.5` (digits unchanged).
pub fn group(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut g = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            g.push(',');
        }
        g.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{g}.{f}"),
        None => format!("{sign}{g}"),
    }
}

/// A rate string as a percentage, by moving the decimal point: `0.35` -> `35%`,
/// `0.075` -> `7.5%`, `0` -> `0%`.
pub fn percent(rate: &str) -> String {
    let (sign, rest) = match rate.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", rate),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return rate.to_string();
    }
    let mut frac = frac.to_string();
    while frac.len() < 2 {
        frac.push('0');
    }
    let digits = format!("{int}{}", &frac[..2]);
    let int_part = digits.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let rest_frac = frac[2..].trim_end_matches('0');
    if rest_frac.is_empty() {
        format!("{sign}{int_part}%")
    } else {
        format!("{sign}{int_part}.{rest_frac}%")
    }
}

/// A CSV cell, quoted when needed.
pub fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv_row(cells: &[&str]) -> String {
    let mut s = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

/// Where an error is, as `file:line:column` (the parts that are known).
pub fn place(file: Option<&str>, e: &Error) -> String {
    let mut p = String::new();
    if let Some(f) = file {
        p.push_str(f);
    }
    if let Some(l) = e.location.line {
        if !p.is_empty() {
            p.push(':');
        }
        let _ = write!(p, "{l}");
        if let Some(c) = e.location.column {
            let _ = write!(p, ":{c}");
        }
    }
    p
}

/// The extra location parts: field, trade id, expression position.
pub fn detail(e: &Error) -> String {
    let l = &e.location;
    let mut parts = Vec::new();
    if let Some(f) = &l.field {
        parts.push(format!("field {f}"));
    }
    if let Some(id) = &l.id {
        parts.push(format!("trade {id}"));
    }
    if let Some(p) = l.position {
        parts.push(format!("position {p}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// The message printed for a fatal error:
/// `error[E_DECIMAL]: trades.csv:3:7: <message> (field notional, trade t2)` and a help line.
pub fn error_message(file: Option<&str>, e: &Error) -> String {
    let place = place(file, e);
    let place = if place.is_empty() {
        String::new()
    } else {
        format!("{place}: ")
    };
    format!(
        "error[{}]: {place}{}{}\n  help: {}\n",
        e.code,
        e.message,
        detail(e),
        e.code.help()
    )
}

/// One problem line for `validate`: `file:line:column: E_CODE message (field ...)`.
pub fn problem_line(file: &str, e: &Error) -> String {
    format!(
        "{}: {} {}{}",
        place(Some(file), e),
        e.code,
        e.message,
        detail(e)
    )
}

/// A plain error (no engine code) for usage problems.
pub fn usage_error(msg: &str) -> String {
    format!("error: {msg}\n")
}

pub fn code_str(c: ErrorCode) -> &'static str {
    c.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_percent() {
        assert_eq!(group("1234567.50"), "1,234,567.50");
        assert_eq!(group("-1000"), "-1,000");
        assert_eq!(group("999"), "999");
        assert_eq!(percent("0.35"), "35%");
        assert_eq!(percent("0.075"), "7.5%");
        assert_eq!(percent("0"), "0%");
        assert_eq!(percent("1"), "100%");
        assert_eq!(percent("0.125"), "12.5%");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&[("a", false), ("n", true)]);
        t.row(vec!["xx".into(), "1".into()]);
        t.row(vec!["y".into(), "100".into()]);
        assert_eq!(t.render(""), "a     n\nxx    1\ny   100\n");
    }
}
