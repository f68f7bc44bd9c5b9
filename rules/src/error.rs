//! One error type for the whole engine. Hosts never invent errors of their own: they carry
//! `code` (stable, documented in the README), `message` and `location` across unchanged, so a
//! browser, a Node server and a notebook report the same problem the same way.

use alloc::string::{String, ToString};
use core::fmt;
use serde::Serialize;

/// Stable error codes. The string form (`E_...`) is part of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ErrorCode {
    /// Malformed JSON, CSV or NDJSON: the text cannot be read at all.
    #[serde(rename = "E_PARSE")]
    Parse,
    /// A field is missing, unknown, or of the wrong JSON type.
    #[serde(rename = "E_FIELD")]
    Field,
    /// A decimal is malformed, uses an exponent, or arrived as a binary float.
    #[serde(rename = "E_DECIMAL")]
    Decimal,
    /// A timestamp is not RFC 3339.
    #[serde(rename = "E_TIME")]
    Time,
    /// A value is well-formed but out of range (negative notional, affiliate rate above 1...).
    #[serde(rename = "E_VALUE")]
    Value,
    /// Two different trades share one id.
    #[serde(rename = "E_DUPLICATE_ID")]
    DuplicateId,
    /// A program is structurally valid JSON but not a valid program.
    #[serde(rename = "E_PROGRAM")]
    Program,
    /// An expression in a program does not parse or does not type-check.
    #[serde(rename = "E_EXPR")]
    Expr,
    /// A computation left the range of a 96-bit decimal.
    #[serde(rename = "E_OVERFLOW")]
    Overflow,
    /// A formula divided by zero.
    #[serde(rename = "E_DIV_ZERO")]
    DivZero,
    /// An intermediate result cannot be held exactly; the engine refuses to round it silently.
    #[serde(rename = "E_INEXACT")]
    Inexact,
    /// No built-in program has that id.
    #[serde(rename = "E_UNKNOWN_PROGRAM")]
    UnknownProgram,
    /// The broker registry is inconsistent.
    #[serde(rename = "E_REGISTRY")]
    Registry,
    /// Settle options, a scenario or a request envelope is invalid.
    #[serde(rename = "E_OPTIONS")]
    Options,
    /// A field holds a value the program does not know (strict mode only).
    #[serde(rename = "E_UNKNOWN_VALUE")]
    UnknownValue,
    /// A partial settlement state is corrupt, truncated, or from another program, options or
    /// engine version, so it cannot be merged.
    #[serde(rename = "E_PARTIAL")]
    Partial,
    /// A bug: the engine caught something it should never do. Please report it.
    #[serde(rename = "E_INTERNAL")]
    Internal,
}

impl ErrorCode {
    /// All codes, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Parse,
        ErrorCode::Field,
        ErrorCode::Decimal,
        ErrorCode::Time,
        ErrorCode::Value,
        ErrorCode::DuplicateId,
        ErrorCode::Program,
        ErrorCode::Expr,
        ErrorCode::Overflow,
        ErrorCode::DivZero,
        ErrorCode::Inexact,
        ErrorCode::UnknownProgram,
        ErrorCode::Registry,
        ErrorCode::Options,
        ErrorCode::UnknownValue,
        ErrorCode::Partial,
        ErrorCode::Internal,
    ];

    /// The stable string form, e.g. `"E_FIELD"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Parse => "E_PARSE",
            ErrorCode::Field => "E_FIELD",
            ErrorCode::Decimal => "E_DECIMAL",
            ErrorCode::Time => "E_TIME",
            ErrorCode::Value => "E_VALUE",
            ErrorCode::DuplicateId => "E_DUPLICATE_ID",
            ErrorCode::Program => "E_PROGRAM",
            ErrorCode::Expr => "E_EXPR",
            ErrorCode::Overflow => "E_OVERFLOW",
            ErrorCode::DivZero => "E_DIV_ZERO",
            ErrorCode::Inexact => "E_INEXACT",
            ErrorCode::UnknownProgram => "E_UNKNOWN_PROGRAM",
            ErrorCode::Registry => "E_REGISTRY",
            ErrorCode::Options => "E_OPTIONS",
            ErrorCode::UnknownValue => "E_UNKNOWN_VALUE",
            ErrorCode::Partial => "E_PARTIAL",
            ErrorCode::Internal => "E_INTERNAL",
        }
    }

    /// One sentence of help: what to do about it.
    pub fn help(self) -> &'static str {
        match self {
            ErrorCode::Parse => "check the file is well-formed JSON, NDJSON or CSV with a header row",
            ErrorCode::Field => "check the field names and types against the schema",
            ErrorCode::Decimal => "pass decimals as strings of digits such as \"1234.56\" (no exponent, no binary floats)",
            ErrorCode::Time => "pass times as RFC 3339, e.g. \"2026-06-10T13:45:00Z\"",
            ErrorCode::Value => "the value is outside the range the field allows",
            ErrorCode::DuplicateId => "each trade id must identify one fill; remove or fix the conflicting copy",
            ErrorCode::Program => "fix the program file; `broker-rules validate --program FILE` lists every problem",
            ErrorCode::Expr => "fix the expression at the given position",
            ErrorCode::Overflow => "a value is too large for a 96-bit decimal",
            ErrorCode::DivZero => "the formula divides by zero for this trade; guard it with if(...)",
            ErrorCode::Inexact => "the result has more digits than a 96-bit decimal holds; the engine does not round silently",
            ErrorCode::UnknownProgram => "`broker-rules programs` lists the built-in programs",
            ErrorCode::Registry => "fix the broker registry",
            ErrorCode::Options => "fix the options or scenario",
            ErrorCode::UnknownValue => "strict mode rejects values the program does not know; use lenient mode or fix the data",
            ErrorCode::Partial => "merge only partial states made by the same engine version from the same program, registry and options, and pass their bytes unchanged",
            ErrorCode::Internal => "this is a bug in broker-rules; please report it with the input",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an error is. Every part is optional; hosts print what is there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Location {
    /// Field name or path (`trades[3].fee`, `tiers.ladders[0]`, `formula`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 1-based line (CSV/NDJSON line, JSON text line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// The trade id, when the error concerns one trade.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 0-based character offset inside an expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self.field.is_none()
            && self.line.is_none()
            && self.column.is_none()
            && self.id.is_none()
            && self.position.is_none()
    }
}

/// The error every entry point returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Location::is_empty")]
    pub location: Location,
}

pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            location: Location::default(),
        }
    }
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.location.field = Some(field.into());
        self
    }
    /// Prefixes the field path (`fee` becomes `trades[3].fee`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.location.field = Some(match self.location.field.take() {
            Some(f) if f.starts_with('[') => alloc::format!("{prefix}{f}"),
            Some(f) => alloc::format!("{prefix}.{f}"),
            None => prefix.to_string(),
        });
        self
    }
    pub fn line(mut self, line: u64) -> Self {
        self.location.line = Some(line);
        self
    }
    pub fn column(mut self, column: u64) -> Self {
        self.location.column = Some(column);
        self
    }
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.location.id = Some(id.into());
        self
    }
    pub fn position(mut self, position: u32) -> Self {
        self.location.position = Some(position);
        self
    }
    /// Sets the column from the error's field, given the input's column names (CSV headers,
    /// Arrow field names); unchanged when the field is not a column.
    pub fn at_column_of<S: AsRef<str>>(self, columns: &[S]) -> Self {
        let col = self
            .location
            .field
            .as_deref()
            .and_then(|f| columns.iter().position(|c| c.as_ref() == f));
        match col {
            Some(c) => self.column(c as u64 + 1),
            None => self,
        }
    }

    /// Converts a serde_json error, keeping its line and column.
    pub fn from_json(e: &serde_json::Error, what: &str) -> Self {
        // A duplicate key is malformed text (E_PARSE) wherever it is, as the NDJSON and CSV
        // readers report it, though serde classifies the visitor's refusal as data.
        let code = match e.classify() {
            serde_json::error::Category::Data if !crate::json::is_duplicate_key(e) => {
                ErrorCode::Field
            }
            _ => ErrorCode::Parse,
        };
        let mut err = Error::new(code, alloc::format!("{what}: {e}"));
        if e.line() > 0 {
            err = err.line(e.line() as u64).column(e.column() as u64);
        }
        err
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        let l = &self.location;
        if let Some(id) = &l.id {
            write!(f, " (trade {id})")?;
        }
        if let Some(field) = &l.field {
            write!(f, " [field {field}]")?;
        }
        if let Some(line) = l.line {
            write!(f, " at line {line}")?;
            if let Some(c) = l.column {
                write!(f, ", column {c}")?;
            }
        }
        if let Some(p) = l.position {
            write!(f, " at position {p}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
