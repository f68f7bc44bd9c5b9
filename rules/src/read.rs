//! Streaming trade readers (CSV, NDJSON, JSON array) for hosts that read files or streams.
//! They feed a [`Settler`] record by record, so memory does not grow with the input; every
//! bad record is reported with its line, column and field.

use crate::error::{Error, ErrorCode, Result};
use crate::settle::Settler;
use crate::trade::{self, Raw, TradeBuilder};
use std::format;
use std::io::{BufRead, BufReader, Read};
use std::string::{String, ToString};
use std::vec::Vec;

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Json,
}

impl Format {
    /// By file extension: `.csv`, `.ndjson`/`.jsonl`, `.json`.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit('.').next()?;
        match ext {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Progress callback: (bytes read, records read).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Feeds every trade of `input` to the settler.
pub fn feed<R: Read>(
    s: &mut Settler,
    input: R,
    format: Format,
    progress: Progress<'_>,
) -> Result<()> {
    match format {
        Format::Csv => feed_csv(s, input, progress),
        Format::Ndjson => feed_ndjson(s, BufReader::with_capacity(1 << 16, input), progress),
        Format::Json => feed_json(s, input, progress),
    }
}

fn feed_csv<R: Read>(s: &mut Settler, input: R, progress: Progress<'_>) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let unknown: Vec<usize> = (0..headers.len())
        .filter(|&i| !trade::FIELDS.contains(&headers[i].as_str()))
        .collect();
    if s.strict() {
        if let Some(&i) = unknown.first() {
            return Err(
                Error::new(ErrorCode::Field, format!("unknown column {:?}", headers[i]))
                    .field(headers[i].as_str())
                    .line(1)
                    .column(i as u64 + 1),
            );
        }
    }
    for req in ["id", "time", "account", "channel", "product", "notional"] {
        if !headers.iter().any(|h| h == req) {
            return Err(Error::new(
                ErrorCode::Field,
                format!("the CSV header has no {req} column"),
            )
            .field(req)
            .line(1));
        }
    }
    let mut rec = csv::StringRecord::new();
    let mut n = 0u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let err = csv_error(&e);
                let line = err.location.line;
                s.reject(None, line, err)?;
                continue;
            }
        }
        n += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(n + 1);
        let mut b = TradeBuilder::default();
        let mut bad = None;
        for (i, cell) in rec.iter().enumerate() {
            if let Err(e) = b.set(&headers[i], Raw::Str(cell)) {
                bad = Some(e.column(i as u64 + 1));
                break;
            }
        }
        s.note_unknown_fields(unknown.iter().filter(|&&i| !rec[i].is_empty()).count() as u64);
        let id = b.id;
        let built = match bad {
            Some(e) => Err(e),
            None => b.finish().map_err(|e| e.at_column_of(&headers)),
        };
        match built {
            Ok(t) => s.push(&t, Some(line))?,
            Err(e) => s.reject(id, Some(line), e.line(line))?,
        }
        if n % 4096 == 0 {
            progress(rdr.position().byte(), n);
        }
    }
    progress(rdr.position().byte(), n);
    Ok(())
}

fn csv_error(e: &csv::Error) -> Error {
    let mut err = Error::new(ErrorCode::Parse, format!("malformed CSV: {e}"));
    if let Some(p) = e.position() {
        err = err.line(p.line());
    }
    err
}

fn feed_ndjson<R: BufRead>(s: &mut Settler, mut input: R, progress: Progress<'_>) -> Result<()> {
    let mut buf = String::new();
    let (mut line, mut bytes, mut n) = (0u64, 0u64, 0u64);
    loop {
        buf.clear();
        let read = input.read_line(&mut buf).map_err(|e| {
            Error::new(
                ErrorCode::Parse,
                format!("cannot read line {}: {e}", line + 1),
            )
            .line(line + 1)
        })?;
        if read == 0 {
            break;
        }
        line += 1;
        bytes += read as u64;
        if buf.trim().is_empty() {
            continue;
        }
        n += 1;
        match serde_json::from_str::<serde_json::Value>(&buf) {
            Ok(serde_json::Value::Object(obj)) => {
                let mut unknown = 0;
                let strict = s.strict();
                match trade::from_json_object(&obj, &mut unknown, strict) {
                    Ok(t) => s.push(&t, Some(line))?,
                    Err(e) => s.reject(
                        obj.get("id").and_then(|v| v.as_str()),
                        Some(line),
                        e.line(line),
                    )?,
                }
                s.note_unknown_fields(unknown);
            }
            Ok(_) => s.reject(
                None,
                Some(line),
                Error::new(ErrorCode::Field, "a trade must be a JSON object").line(line),
            )?,
            Err(e) => {
                let err = Error::new(ErrorCode::Parse, format!("malformed JSON: {e}"))
                    .line(line)
                    .column(e.column() as u64);
                s.reject(None, Some(line), err)?
            }
        }
        if n % 4096 == 0 {
            progress(bytes, n);
        }
    }
    progress(bytes, n);
    Ok(())
}

/// A JSON array read element by element (the whole document is never held).
fn feed_json<R: Read>(s: &mut Settler, input: R, progress: Progress<'_>) -> Result<()> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct V<'a, 'p> {
        s: &'a mut Settler,
        progress: Progress<'p>,
        fatal: &'a mut Option<Error>,
    }
    impl<'de> Visitor<'de> for V<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
            f.write_str("a JSON array of trade objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<(), A::Error> {
            let mut i = 0u64;
            while let Some(v) = seq.next_element::<serde_json::Value>()? {
                i += 1;
                if let Err(e) = crate::api::feed_json_trade(self.s, &v, i) {
                    *self.fatal = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
                if i % 4096 == 0 {
                    (self.progress)(0, i);
                }
            }
            (self.progress)(0, i);
            Ok(())
        }
    }
    let mut fatal = None;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, input));
    let r = (&mut de).deserialize_seq(V {
        s,
        progress,
        fatal: &mut fatal,
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    r.map_err(|e| Error::from_json(&e, "trades"))?;
    de.end().map_err(|e| Error::from_json(&e, "trades"))
}
