//! Streaming trade readers for hosts that read files or streams: CSV (a byte-level reader
//! that fills column batches, optionally on several threads), NDJSON, JSON arrays, and with
//! the `arrow` feature Arrow IPC and Parquet. They feed a [`Settler`] without holding the
//! input, and report every bad record with its line (or row), column and field.
//!
//! Clean records travel as [`Columns`] batches ([`Settler::push_columns`]); any other record
//! takes the row path ([`TradeBuilder`], [`Settler::push`] / [`Settler::reject`]), so its
//! error is the one every format gives.

use crate::columns::{Columns, Dict, NULL};
use crate::error::{Error, ErrorCode, Result};
use crate::settle::Settler;
use crate::trade::{self, TradeRef};
use std::format;
use std::io::{BufRead, BufReader, Read};
use std::string::{String, ToString};
use std::vec::Vec;

#[cfg(feature = "arrow")]
pub mod arrow;
#[cfg(all(test, feature = "arrow"))]
mod arrow_tests;
pub mod csv;
#[cfg(test)]
mod tests;

pub use self::csv::{feed_csv, feed_csv_parallel};

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Json,
    /// Apache Parquet (read with the `arrow` feature).
    Parquet,
    /// Arrow IPC, file or stream format (read with the `arrow` feature).
    Arrow,
}

impl Format {
    /// By file extension: `.csv`, `.ndjson`/`.jsonl`, `.json`, `.parquet`/`.pq`,
    /// `.arrow`/`.ipc`/`.feather`/`.arrows`.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit('.').next()?;
        match ext {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            "parquet" | "pq" => Some(Format::Parquet),
            "arrow" | "arrows" | "ipc" | "feather" => Some(Format::Arrow),
            _ => None,
        }
    }

    /// By name: `csv`, `ndjson` (`jsonl`), `json`, `parquet`, `arrow` (`ipc`, `feather`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            "parquet" => Some(Format::Parquet),
            "arrow" | "ipc" | "feather" => Some(Format::Arrow),
            _ => None,
        }
    }

    /// Whether this build reads the format (Parquet and Arrow need the `arrow` feature).
    pub fn supported(self) -> bool {
        !matches!(self, Format::Parquet | Format::Arrow) || cfg!(feature = "arrow")
    }
}

/// Progress callback: (bytes read, records read).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Renames input columns to trade fields (`trade_id=id`, `ts=time`, `user_id=account`):
/// applied to CSV headers and Arrow / Parquet field names before anything else, so every
/// rule (required columns, unknown columns, errors naming a field) sees the trade field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnMap {
    renames: Vec<(String, &'static str)>,
}

impl ColumnMap {
    /// No renames.
    pub fn new() -> ColumnMap {
        ColumnMap::default()
    }

    /// Parses `from=to` specs; each may also hold several separated by commas
    /// (`"trade_id=id,ts=time"`). `to` must be a trade field ([`trade::FIELDS`]).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<ColumnMap> {
        let mut m = ColumnMap::new();
        for spec in specs {
            for one in spec.as_ref().split(',') {
                if one.trim().is_empty() {
                    continue;
                }
                let Some((from, to)) = one.split_once('=') else {
                    return Err(Error::new(
                        ErrorCode::Options,
                        format!("column mapping {one:?} is not of the form input_column=field, e.g. trade_id=id"),
                    )
                    .field("columns"));
                };
                m.insert(from.trim(), to.trim())?;
            }
        }
        Ok(m)
    }

    /// Adds one rename: input column `from` is the trade field `to`.
    pub fn insert(&mut self, from: &str, to: &str) -> Result<()> {
        let Some(&field) = trade::FIELDS.iter().find(|f| **f == to) else {
            return Err(Error::new(
                ErrorCode::Options,
                format!(
                    "column mapping {from}={to}: {to:?} is not a trade field (fields: {})",
                    trade::FIELDS.join(", ")
                ),
            )
            .field("columns"));
        };
        if from.is_empty() {
            return Err(Error::new(
                ErrorCode::Options,
                format!("column mapping ={to} names no input column"),
            )
            .field("columns"));
        }
        match self.renames.iter_mut().find(|(f, _)| f == from) {
            Some(r) => r.1 = field,
            None => self.renames.push((from.to_string(), field)),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.renames.is_empty()
    }

    /// The name a column goes by: its trade field when renamed, else itself.
    pub fn target<'a>(&self, column: &'a str) -> &'a str {
        match self.renames.iter().find(|(f, _)| f == column) {
            Some((_, to)) => to,
            None => column,
        }
    }

    /// The names of an input's columns after renaming; a trade field met twice is an
    /// `E_FIELD` error naming both columns (its `column` is the second one's, 1-based).
    pub fn apply<S: AsRef<str>>(&self, columns: &[S]) -> Result<Vec<String>> {
        let names: Vec<String> = columns
            .iter()
            .map(|c| self.target(c.as_ref()).to_string())
            .collect();
        for (j, n) in names.iter().enumerate() {
            if !trade::FIELDS.contains(&n.as_str()) {
                continue;
            }
            if let Some(i) = names[..j].iter().position(|m| m == n) {
                let (a, b) = (columns[i].as_ref(), columns[j].as_ref());
                let msg = if a == b {
                    format!(
                        "the column {n} appears twice (columns {} and {})",
                        i + 1,
                        j + 1
                    )
                } else {
                    format!(
                        "columns {a:?} and {b:?} (columns {} and {}) both give the field {n}",
                        i + 1,
                        j + 1
                    )
                };
                return Err(Error::new(ErrorCode::Field, msg)
                    .field(n.as_str())
                    .column(j as u64 + 1));
            }
        }
        Ok(names)
    }
}

/// The trade field a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Id,
    Time,
    Account,
    Broker,
    Channel,
    Product,
    Notional,
    Fee,
    FeeRate,
    Liquidity,
    Vip,
    FeeDiscount,
    AffiliateRate,
    Master,
    Order,
    Instrument,
    Msa,
    Unknown,
}

pub(crate) fn role(name: &str) -> Role {
    match name {
        "id" => Role::Id,
        "time" => Role::Time,
        "account" => Role::Account,
        "broker" => Role::Broker,
        "channel" => Role::Channel,
        "product" => Role::Product,
        "notional" => Role::Notional,
        "fee" => Role::Fee,
        "fee_rate" => Role::FeeRate,
        "liquidity" => Role::Liquidity,
        "vip" => Role::Vip,
        "fee_discount" => Role::FeeDiscount,
        "affiliate_rate" => Role::AffiliateRate,
        "master" => Role::Master,
        "order" => Role::Order,
        "instrument" => Role::Instrument,
        "msa" => Role::Msa,
        _ => Role::Unknown,
    }
}

/// The columns every trade needs.
pub(crate) const REQUIRED: [&str; 6] = ["id", "time", "account", "channel", "product", "notional"];

/// Feeds every trade of `input` to the settler (one thread; see [`feed_csv_parallel`]).
pub fn feed<R: Read>(
    s: &mut Settler,
    input: R,
    format: Format,
    progress: Progress<'_>,
) -> Result<()> {
    feed_with(s, input, format, &ColumnMap::default(), progress)
}

/// [`feed`] with column renames. Parquet and Arrow IPC from a plain reader are read into
/// memory first (they need random access); `arrow::feed_parquet` reads a file in place.
pub fn feed_with<R: Read>(
    s: &mut Settler,
    input: R,
    format: Format,
    map: &ColumnMap,
    progress: Progress<'_>,
) -> Result<()> {
    match format {
        Format::Csv => csv::feed_csv_with(s, input, map, 1, progress),
        Format::Ndjson => feed_ndjson(s, BufReader::with_capacity(1 << 16, input), map, progress),
        Format::Json => feed_json(s, input, map, progress),
        #[cfg(feature = "arrow")]
        Format::Parquet => arrow::feed_parquet_bytes(s, read_all(input)?, map, 1, progress),
        #[cfg(feature = "arrow")]
        Format::Arrow => {
            arrow::feed_arrow_ipc(s, std::io::Cursor::new(read_all(input)?), map, progress)
        }
        #[cfg(not(feature = "arrow"))]
        Format::Parquet | Format::Arrow => Err(Error::new(
            ErrorCode::Options,
            format!(
                "this build of broker-rules reads no {} (it needs the arrow feature)",
                if format == Format::Parquet {
                    "Parquet"
                } else {
                    "Arrow IPC"
                }
            ),
        )
        .field("format")),
    }
}

#[cfg(feature = "arrow")]
fn read_all<R: Read>(mut input: R) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    input.read_to_end(&mut v).map_err(|e| {
        Error::new(ErrorCode::Parse, format!("cannot read the input: {e}")).field("trades")
    })?;
    Ok(v)
}

/// What the parser feeds.
pub(crate) trait Sink {
    fn strict(&self) -> bool;
    fn push(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()>;
    fn reject(&mut self, id: Option<&str>, line: Option<u64>, e: Error) -> Result<()>;
    fn note_unknown_fields(&mut self, n: u64);
    fn push_columns(&mut self, c: &Columns) -> Result<()>;
}

impl Sink for Settler {
    fn strict(&self) -> bool {
        Settler::strict(self)
    }
    fn push(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        Settler::push(self, t, line)
    }
    fn reject(&mut self, id: Option<&str>, line: Option<u64>, e: Error) -> Result<()> {
        Settler::reject(self, id, line, e)
    }
    fn note_unknown_fields(&mut self, n: u64) {
        Settler::note_unknown_fields(self, n)
    }
    fn push_columns(&mut self, c: &Columns) -> Result<()> {
        Settler::push_columns(self, c)
    }
}

/// Interns a column's strings into a [`Dict`]: one hash per new cell (none when a value
/// repeats the previous row's), and string allocations reused from batch to batch.
#[derive(Default)]
pub(crate) struct Interner {
    pub dict: Dict,
    table: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Emptied strings of earlier batches.
    pool: Vec<String>,
}

impl Interner {
    /// Appends a row's value.
    #[inline]
    pub fn push(&mut self, v: Option<&str>) {
        let Some(v) = v else {
            self.dict.keys.push(NULL);
            return;
        };
        if let Some(&k) = self.dict.keys.last() {
            if k != NULL && self.dict.values[k as usize] == v {
                self.dict.keys.push(k);
                return;
            }
        }
        let k = self.key(v);
        self.dict.keys.push(k);
    }

    /// The key of a value, interning it if new (the row's key is not appended).
    #[inline]
    pub fn key(&mut self, v: &str) -> u32 {
        use core::hash::BuildHasher;
        let h = self.hasher.hash_one(v);
        let Interner {
            dict,
            table,
            hasher,
            pool,
        } = self;
        if let Some(&k) = table.find(h, |&k| dict.values[k as usize] == v) {
            return k;
        }
        let k = dict.values.len() as u32;
        let mut owned = pool.pop().unwrap_or_default();
        owned.push_str(v);
        dict.values.push(owned);
        let values = &dict.values;
        table.insert_unique(h, k, |&k| hasher.hash_one(values[k as usize].as_str()));
        k
    }

    pub fn clear(&mut self) {
        self.dict.keys.clear();
        for mut s in self.dict.values.drain(..) {
            s.clear();
            self.pool.push(s);
        }
        self.table.clear();
    }
}

/// A batch of clean rows being filled: [`Columns`] plus its dictionaries' interners.
#[derive(Default)]
pub(crate) struct Rows {
    pub cols: Columns,
    pub account: Interner,
    pub broker: Interner,
    pub channel: Interner,
    pub product: Interner,
    pub master: Interner,
    pub order: Interner,
    pub instrument: Interner,
    /// Counts flushes: dictionary keys cached by a reader are valid while it is unchanged.
    pub gen: u32,
}

/// Rows per batch.
pub(crate) const BATCH_ROWS: usize = 1 << 16;

impl Rows {
    pub fn len(&self) -> usize {
        self.cols.time.len()
    }

    /// Hands the batch to the settler and starts an empty one (allocations kept).
    pub fn flush<S: Sink>(&mut self, s: &mut S) -> Result<()> {
        if self.len() == 0 {
            return Ok(());
        }
        self.gen = self.gen.wrapping_add(1);
        let c = &mut self.cols;
        core::mem::swap(&mut c.account, &mut self.account.dict);
        core::mem::swap(&mut c.broker, &mut self.broker.dict);
        core::mem::swap(&mut c.channel, &mut self.channel.dict);
        core::mem::swap(&mut c.product, &mut self.product.dict);
        core::mem::swap(&mut c.master, &mut self.master.dict);
        core::mem::swap(&mut c.order, &mut self.order.dict);
        core::mem::swap(&mut c.instrument, &mut self.instrument.dict);
        let r = s.push_columns(c);
        core::mem::swap(&mut c.account, &mut self.account.dict);
        core::mem::swap(&mut c.broker, &mut self.broker.dict);
        core::mem::swap(&mut c.channel, &mut self.channel.dict);
        core::mem::swap(&mut c.product, &mut self.product.dict);
        core::mem::swap(&mut c.master, &mut self.master.dict);
        core::mem::swap(&mut c.order, &mut self.order.dict);
        core::mem::swap(&mut c.instrument, &mut self.instrument.dict);
        c.line.clear();
        c.id_bytes.clear();
        c.id_ends.clear();
        c.time.clear();
        c.notional.clear();
        c.fee.clear();
        c.fee_rate.clear();
        c.liquidity.clear();
        c.vip.clear();
        c.fee_discount.clear();
        c.affiliate_rate.clear();
        c.msa.clear();
        for d in [
            &mut self.account,
            &mut self.broker,
            &mut self.channel,
            &mut self.product,
            &mut self.master,
            &mut self.order,
            &mut self.instrument,
        ] {
            d.clear();
        }
        r
    }
}

/// A plain decimal (`[+-]digits[.digits]`, nothing else) as an exact integer at
/// [`crate::columns::SCALE`], when it has at most 18 fractional digits, 28 significant
/// digits and an integer part below 10^20 — exactly the values `money::parse` reads to
/// the same number. `None` for anything else: the row path decides (and reports) it.
#[inline]
pub(crate) fn fast_decimal(b: &[u8]) -> Option<i128> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    // Up to 19 digits in a u64 (the common case), else the u128 loop.
    if digits.len() > 20 {
        return wide_decimal(neg, digits);
    }
    let mut m: u64 = 0;
    let mut frac = 0u32;
    let mut dot = false;
    let mut any = false;
    let mut sig = 0u32;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            any = true;
            frac += dot as u32;
            sig += (m != 0 || d != 0) as u32;
            m = m.wrapping_mul(10).wrapping_add(d as u64);
        } else if c == b'.' && !dot {
            dot = true;
        } else {
            return None;
        }
    }
    if sig > 19 {
        return wide_decimal(neg, digits);
    }
    if !any || frac > 18 {
        return None;
    }
    let v = m as i128 * crate::columns::POW10[(18 - frac) as usize];
    Some(if neg { -v } else { v })
}

#[cold]
fn wide_decimal(neg: bool, digits: &[u8]) -> Option<i128> {
    let mut m: u128 = 0;
    let mut sig = 0u32; // significant digits (after leading zeros)
    let mut frac = 0u32;
    let mut dot = false;
    let mut any = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                any = true;
                if dot {
                    frac += 1;
                }
                if m != 0 || c != b'0' {
                    sig += 1;
                    if sig > 28 {
                        return None;
                    }
                }
                m = m * 10 + (c - b'0') as u128;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if !any || frac > 18 || sig.saturating_sub(frac) > 20 {
        return None;
    }
    let v = (m * crate::columns::POW10[(18 - frac) as usize] as u128) as i128;
    Some(if neg { -v } else { v })
}

/// A JSON trade with its keys renamed; a field given twice is an `E_FIELD` error.
fn rename_keys(
    obj: serde_json::Map<String, serde_json::Value>,
    map: &ColumnMap,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    let mut from: Vec<(String, String)> = Vec::new();
    for (k, v) in obj {
        let t = map.target(&k).to_string();
        if let Some((_, first)) = from.iter().find(|(to, _)| *to == t) {
            return Err(Error::new(
                ErrorCode::Field,
                format!("keys {first:?} and {k:?} both give the field {t}"),
            )
            .field(t));
        }
        from.push((t.clone(), k));
        out.insert(t, v);
    }
    Ok(out)
}

/// Feeds one JSON value (NDJSON line or array element) with renamed keys.
fn feed_json_value(
    s: &mut Settler,
    v: serde_json::Value,
    line: u64,
    map: &ColumnMap,
) -> Result<()> {
    match v {
        serde_json::Value::Object(obj) if !map.is_empty() => {
            let id = obj
                .iter()
                .find(|(k, _)| map.target(k) == "id")
                .and_then(|(_, v)| v.as_str())
                .map(String::from);
            match rename_keys(obj, map) {
                Ok(obj) => crate::api::feed_json_trade(s, &serde_json::Value::Object(obj), line),
                Err(e) => s.reject(id.as_deref(), Some(line), e),
            }
        }
        v => crate::api::feed_json_trade(s, &v, line),
    }
}

fn feed_ndjson<R: BufRead>(
    s: &mut Settler,
    mut input: R,
    map: &ColumnMap,
    progress: Progress<'_>,
) -> Result<()> {
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
        // The line without its end: a JSON error's column is then within the line (1-based).
        // A line in error is read again by the stream reader, which names the place the
        // JSON-array reader names for the same object (the slice reader is faster, but its
        // positions of a duplicate key differ by one).
        let text = buf.trim_end_matches(['\n', '\r']);
        let parsed = crate::json::parse(text).or_else(|_| crate::json::parse_stream(text));
        match parsed {
            Ok(serde_json::Value::Object(obj)) if !map.is_empty() => {
                feed_json_value(s, serde_json::Value::Object(obj), line, map).map_err(
                    |e| match e.location.line {
                        None => e.line(line),
                        Some(_) => e,
                    },
                )?
            }
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
                // serde_json ends its message with its own position in the one line parsed;
                // the location gives the line in the log.
                let text = e.to_string();
                let what = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(m, _)| m);
                let err = Error::new(ErrorCode::Parse, format!("malformed JSON: {what}"))
                    .line(line)
                    .column(e.column().max(1) as u64);
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
fn feed_json<R: Read>(
    s: &mut Settler,
    input: R,
    map: &ColumnMap,
    progress: Progress<'_>,
) -> Result<()> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct V<'a, 'p> {
        s: &'a mut Settler,
        map: &'a ColumnMap,
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
            while let Some(crate::json::Checked(v)) = seq.next_element()? {
                i += 1;
                if let Err(e) = feed_json_value(self.s, v, i, self.map) {
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
        map,
        progress,
        fatal: &mut fatal,
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    r.map_err(|e| Error::from_json(&e, "trades"))?;
    de.end().map_err(|e| Error::from_json(&e, "trades"))
}
