//! Reads an exchange's commission report (CSV with a header row, the `csv` crate) row by
//! row into typed [`ReportRow`]s. A row that cannot be read is an error with its line and
//! column, never skipped: a reconciliation that silently drops a row of the exchange's
//! report would call a payout right that is not.

use super::format::{Field, ReportFormat, TimeEncoding};
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::time;
use rust_decimal::Decimal;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// One row of a report, by trade field names. Decimals are already signed the broker's
/// way (the format's `negate` applied) and summed over the columns mapped to one field.
#[derive(Clone, Debug, Default)]
pub struct ReportRow {
    /// 1-based line of the row in the report.
    pub line: u64,
    pub broker: Option<String>,
    pub account: Option<String>,
    pub order: Option<String>,
    pub id: Option<String>,
    pub instrument: Option<String>,
    pub product: Option<String>,
    /// UTC nanoseconds.
    pub time: Option<i64>,
    /// Days since 1970-01-01 in the report's day offset.
    pub day: Option<i64>,
    pub volume: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub commission: Option<Decimal>,
    pub tier: Option<String>,
    pub rate: Option<Decimal>,
}

impl ReportRow {
    /// A text field's value.
    pub fn text(&self, f: Field) -> Option<&str> {
        match f {
            Field::Broker => self.broker.as_deref(),
            Field::Account => self.account.as_deref(),
            Field::Order => self.order.as_deref(),
            Field::Id => self.id.as_deref(),
            Field::Instrument => self.instrument.as_deref(),
            Field::Product => self.product.as_deref(),
            Field::Tier => self.tier.as_deref(),
            _ => None,
        }
    }
}

/// A column of the header and the field it holds.
struct Column {
    index: usize,
    name: String,
    field: Field,
}

/// The 1-based report column holding a field, if the format maps one (for error locations).
pub type ColumnOf<'a> = &'a dyn Fn(Field) -> Option<u64>;

/// Reads every row of `report` under `format`, calling `row` for each in order. The report
/// is CSV with a header row, or a Parquet file (recognised by its `PAR1` magic; builds with
/// the `arrow` feature), whose rows are read as text cells: decimals and integers exactly,
/// instants as the format's time encoding, binary floats refused where a decimal belongs.
pub fn read(
    report: &[u8],
    format: &ReportFormat,
    row: &mut dyn FnMut(ReportRow, ColumnOf<'_>) -> Result<()>,
) -> Result<()> {
    if report.starts_with(b"PAR1") {
        return read_parquet(report, format, row);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(report);
    let header = rdr.headers().map_err(csv_error)?.clone();
    let header: Vec<&str> = header.iter().collect();
    let rows = Rows::new(&header, format)?;
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return Err(csv_error(e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        rows.row(line, &|i| record.get(i).unwrap_or(""), row)?;
    }
}

#[cfg(feature = "arrow")]
fn read_parquet(
    report: &[u8],
    format: &ReportFormat,
    row: &mut dyn FnMut(ReportRow, ColumnOf<'_>) -> Result<()>,
) -> Result<()> {
    let field_of = |name: &str| {
        format
            .columns
            .iter()
            .find(|(c, _)| c.as_str() == name)
            .map(|(_, f)| *f)
    };
    let mut rows: Option<Rows> = None;
    crate::read::arrow::parquet_text_rows(
        report,
        &|name| field_of(name).is_some_and(|f| f.is_decimal()),
        &|name| field_of(name) == Some(Field::Time) && format.time == TimeEncoding::EpochMs,
        &mut |line, header, cells| {
            if rows.is_none() {
                rows = Some(Rows::new(header, format)?);
            }
            match &rows {
                Some(r) => r.row(line, &|i| cells.get(i).map_or("", |c| c.as_str()), row),
                None => Ok(()),
            }
        },
    )?;
    if rows.is_none() {
        // No rows: the header alone must still have the format's columns.
        let header = crate::read::arrow::parquet_header(report)?;
        let names: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
        Rows::new(&names, format)?;
    }
    Ok(())
}

#[cfg(not(feature = "arrow"))]
fn read_parquet(
    _: &[u8],
    _: &ReportFormat,
    _: &mut dyn FnMut(ReportRow, ColumnOf<'_>) -> Result<()>,
) -> Result<()> {
    Err(Error::new(
        ErrorCode::Parse,
        "the report is a Parquet file; this build reads CSV reports only (Parquet needs the arrow feature: the CLI, the Node addon and the Python package have it)",
    )
    .field("report"))
}

/// The format's columns found in a header, and the reading of one row of cells.
struct Rows<'f> {
    columns: Vec<Column>,
    format: &'f ReportFormat,
    clock: time::Clock,
}

impl<'f> Rows<'f> {
    fn new<S: AsRef<str>>(header: &[S], format: &'f ReportFormat) -> Result<Rows<'f>> {
        let mut columns = Vec::new();
        for (name, field) in &format.columns {
            let index = header
                .iter()
                .position(|h| h.as_ref().trim_start_matches('\u{feff}').trim() == name)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::Field,
                        format!(
                            "the report has no column {name:?} (format {:?} reads {} from it; header: {})",
                            format.name,
                            field.as_str(),
                            header.iter().map(|h| h.as_ref()).collect::<Vec<_>>().join(",")
                        ),
                    )
                    .field(name.as_str())
                    .line(1)
                })?;
            columns.push(Column {
                index,
                name: name.clone(),
                field: *field,
            });
        }
        columns.sort_by_key(|c| c.index);
        let clock = time::Clock::new(format.offset_minutes()?);
        Ok(Rows {
            columns,
            format,
            clock,
        })
    }

    /// One row: `cell(i)` is the text of the row's column `i`.
    fn row<'c>(
        &self,
        line: u64,
        cell: &(dyn Fn(usize) -> &'c str + 'c),
        row: &mut dyn FnMut(ReportRow, ColumnOf<'_>) -> Result<()>,
    ) -> Result<()> {
        let format = self.format;
        let mut r = ReportRow {
            line,
            ..ReportRow::default()
        };
        for c in &self.columns {
            let cell = cell(c.index).trim();
            let at = |e: Error| {
                e.field(c.name.as_str())
                    .line(line)
                    .column(c.index as u64 + 1)
            };
            if cell.is_empty() {
                continue;
            }
            if c.field.is_decimal() {
                let mut d = money::parse(cell).map_err(|e| {
                    at(Error::new(
                        ErrorCode::Decimal,
                        format!("report column {:?}: {}", c.name, e.message),
                    ))
                })?;
                if format.negate.contains(&c.field) {
                    d = -d;
                }
                let slot = match c.field {
                    Field::Volume => &mut r.volume,
                    Field::Fee => &mut r.fee,
                    Field::Commission => &mut r.commission,
                    _ => &mut r.rate,
                };
                *slot = Some(match *slot {
                    Some(prev) => money::add(prev, d).map_err(at)?,
                    None => d,
                });
                continue;
            }
            match c.field {
                Field::Time => r.time = Some(parse_time(cell, format.time).map_err(at)?),
                Field::Day => r.day = Some(parse_day(cell).map_err(at)?),
                f => {
                    let slot = match f {
                        Field::Broker => &mut r.broker,
                        Field::Account => &mut r.account,
                        Field::Order => &mut r.order,
                        Field::Id => &mut r.id,
                        Field::Instrument => &mut r.instrument,
                        Field::Product => &mut r.product,
                        _ => &mut r.tier,
                    };
                    *slot = Some(cell.to_string());
                }
            }
        }
        if r.day.is_none() {
            r.day = r.time.map(|t| self.clock.day(t));
        }
        let column_of = |f: Field| {
            self.columns
                .iter()
                .find(|c| c.field == f)
                .map(|c| c.index as u64 + 1)
        };
        row(r, &column_of)
    }
}

/// A time cell as the format writes it.
fn parse_time(cell: &str, enc: TimeEncoding) -> Result<i64> {
    match enc {
        TimeEncoding::Rfc3339 => time::parse(cell),
        TimeEncoding::EpochMs => cell
            .parse::<i64>()
            .ok()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .and_then(time::in_range)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Time,
                    format!("{cell:?} is not a time in epoch milliseconds"),
                )
            }),
    }
}

/// A `YYYY-MM-DD` day cell to days since 1970-01-01.
pub fn parse_day(cell: &str) -> Result<i64> {
    let b = cell.as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        part.iter().try_fold(0i64, |v, c| {
            c.is_ascii_digit().then(|| v * 10 + (c - b'0') as i64)
        })
    };
    let ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    match (ok, num(0..4), num(5..7), num(8..10)) {
        (true, Some(y), Some(m), Some(d))
            if (1..=12).contains(&m) && d >= 1 && d <= days_in(y, m as u32) as i64 =>
        {
            Ok(time::days_from_civil(y, m as u32, d as u32))
        }
        _ => Err(Error::new(
            ErrorCode::Time,
            format!("{cell:?} is not a day written YYYY-MM-DD"),
        )),
    }
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = time::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A CSV the crate cannot read: `E_PARSE` with the line.
fn csv_error(e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("report: a row has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("report: not UTF-8 ({err})"),
        _ => format!("report: {e}"),
    };
    let err = Error::new(ErrorCode::Parse, message);
    match line {
        Some(l) => err.line(l),
        None => err,
    }
}
