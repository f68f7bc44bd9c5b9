//! Arrow record batches, Arrow IPC and Parquet (feature `arrow`, arrow-rs 60).
//!
//! Columns are matched to trade fields by name (after a [`ColumnMap`]); each accepted type
//! is read exactly:
//!
//! | field | Arrow types |
//! |---|---|
//! | decimals (`notional`, `fee`, `fee_rate`, `affiliate_rate`) | decimal128 / decimal256 of any precision and scale, decimal strings, integers; floats only with `allow_float` (each through its shortest text) |
//! | `time` | timestamps of any unit, with or without a zone (the value is the UTC instant; naive is UTC), RFC 3339 strings |
//! | `id`, `account`, `broker`, `master` | strings or integers |
//! | `channel`, `product`, `liquidity` | strings |
//! | `vip` | integers (or whole floats), digit strings |
//! | `fee_discount`, `msa` | booleans, `true`/`false` strings |
//!
//! Strings may be Utf8, LargeUtf8, Utf8View or dictionary-encoded (each dictionary value is
//! read once, not once per row); nulls are absent values. Clean rows go to the settler in
//! column batches; any other row takes the row path, so its error is the one every reader
//! gives, located by `line` (the 1-based row number across the whole input) and `column`
//! (1-based) and `field`.

use super::{
    fast_decimal, role, ColumnMap, Interner, Progress, Role, Rows, Sink, BATCH_ROWS, REQUIRED,
};
use crate::columns::{NULL, ONE, POW10};
use crate::error::{Error, ErrorCode, Result};
use crate::settle::Settler;
use crate::time;
use crate::trade::{Liquidity, Raw, TradeBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, GenericStringArray, StringViewArray};
use arrow_buffer::{i256, NullBuffer};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use std::format;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

pub use arrow_array::RecordBatch;

/// Feeds one record batch. `first_row` is the number of rows of the input before this
/// batch (so errors name the row across the whole input); `allow_float` reads float
/// columns in decimal fields through each value's shortest text instead of refusing them.
pub fn feed_record_batch(
    s: &mut Settler,
    batch: &RecordBatch,
    first_row: u64,
    map: &ColumnMap,
    allow_float: bool,
) -> Result<()> {
    let mut rows = Rows::default();
    feed_batch(s, &mut rows, batch, first_row, map, allow_float)?;
    rows.flush(s)
}

/// Feeds a stream of record batches (an IPC reader, a Parquet reader, an FFI stream),
/// keeping clean rows of small batches together. A batch that cannot be read is `E_PARSE`.
pub fn feed_batches<I>(
    s: &mut Settler,
    batches: I,
    map: &ColumnMap,
    allow_float: bool,
    progress: Progress<'_>,
) -> Result<()>
where
    I: IntoIterator<Item = core::result::Result<RecordBatch, ArrowError>>,
{
    let mut rows = Rows::default();
    let mut n = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| {
            Error::new(
                ErrorCode::Parse,
                format!("cannot read the Arrow input: {e}"),
            )
            .field("trades")
            .line(n + 1)
        })?;
        feed_batch(s, &mut rows, &batch, n, map, allow_float)?;
        n += batch.num_rows() as u64;
        progress(0, n);
    }
    rows.flush(s)
}

/// Feeds an Arrow IPC input: the file format (`ARROW1` magic, `.arrow`, `.feather` v2),
/// else the stream format.
pub fn feed_arrow_ipc<R: Read + Seek>(
    s: &mut Settler,
    mut reader: R,
    map: &ColumnMap,
    progress: Progress<'_>,
) -> Result<()> {
    let io = |e: std::io::Error| {
        Error::new(
            ErrorCode::Parse,
            format!("cannot read the Arrow input: {e}"),
        )
        .field("trades")
    };
    let start = reader.stream_position().map_err(io)?;
    let mut magic = [0u8; 6];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    reader.seek(SeekFrom::Start(start)).map_err(io)?;
    let bad = |e: ArrowError| {
        Error::new(
            ErrorCode::Parse,
            format!("cannot read the Arrow input: {e}"),
        )
        .field("trades")
    };
    if got == 6 && &magic == b"ARROW1" {
        let r = arrow_ipc::reader::FileReader::try_new_buffered(reader, None).map_err(bad)?;
        feed_batches(s, r, map, false, progress)
    } else {
        let r = arrow_ipc::reader::StreamReader::try_new_buffered(reader, None).map_err(bad)?;
        feed_batches(s, r, map, false, progress)
    }
}

/// Feeds a Parquet file. Its row groups are spread over `threads` workers (forks of `s`,
/// merged back); row numbers in errors are the file's. In strict mode the error is the
/// first one in the file. Progress: (compressed bytes of the row groups done, rows).
pub fn feed_parquet(
    s: &mut Settler,
    file: std::fs::File,
    map: &ColumnMap,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let len = file
        .metadata()
        .map_err(|e| {
            Error::new(
                ErrorCode::Parse,
                format!("cannot read the Parquet file: {e}"),
            )
            .field("trades")
        })?
        .len();
    let src = PosFile {
        file: Arc::new(file),
        len,
    };
    feed_parquet_from(s, src, map, threads, progress)
}

/// [`feed_parquet`] from bytes in memory.
pub fn feed_parquet_bytes(
    s: &mut Settler,
    bytes: Vec<u8>,
    map: &ColumnMap,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()> {
    feed_parquet_from(s, bytes::Bytes::from(bytes), map, threads, progress)
}

// ---------------------------------------------------------------------------------------
// One batch.

/// One cell, as read from its column.
#[derive(Clone, Copy, Debug)]
enum Cell<'a> {
    Null,
    Str(&'a str),
    Bool(bool),
    /// A decimal: mantissa and scale.
    Dec(i128, i8),
    /// A decimal256 mantissa beyond i128, and its scale.
    Wide(i256, i8),
    Int(i128),
    Float(f64),
    /// UTC nanoseconds; `None` when out of range.
    Time(Option<i64>),
}

/// Typed access to a column's values (a dictionary's values for a dictionary column).
enum Vals<'a> {
    Null,
    Utf8(&'a GenericStringArray<i32>),
    LargeUtf8(&'a GenericStringArray<i64>),
    View(&'a StringViewArray),
    Bool(&'a BooleanArray),
    Dec128(&'a [i128], i8),
    Dec256(&'a [i256], i8),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F16(&'a [<Float16Type as arrow_array::ArrowPrimitiveType>::Native]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Time(&'a [i64], i64),
}

impl<'a> Vals<'a> {
    fn of(name: &str, a: &'a ArrayRef, allow_float: bool) -> Result<Vals<'a>> {
        let decimal_field = matches!(
            role(name),
            Role::Notional | Role::Fee | Role::FeeRate | Role::AffiliateRate
        );
        Vals::typed(name, a, decimal_field, allow_float)
    }

    /// `decimal_field`: the column holds money, so binary floats are refused.
    fn typed(
        name: &str,
        a: &'a ArrayRef,
        decimal_field: bool,
        allow_float: bool,
    ) -> Result<Vals<'a>> {
        Ok(match a.data_type() {
            DataType::Null => Vals::Null,
            DataType::Utf8 => Vals::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Vals::LargeUtf8(a.as_string::<i64>()),
            DataType::Utf8View => Vals::View(a.as_string_view()),
            DataType::Boolean => Vals::Bool(a.as_boolean()),
            DataType::Decimal128(_, s) => {
                Vals::Dec128(a.as_primitive::<Decimal128Type>().values(), *s)
            }
            DataType::Decimal256(_, s) => {
                Vals::Dec256(a.as_primitive::<Decimal256Type>().values(), *s)
            }
            DataType::Int8 => Vals::I8(a.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Vals::I16(a.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Vals::I32(a.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Vals::I64(a.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Vals::U8(a.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Vals::U16(a.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Vals::U32(a.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Vals::U64(a.as_primitive::<UInt64Type>().values()),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                if decimal_field && !allow_float {
                    return Err(Error::new(
                        ErrorCode::Decimal,
                        format!(
                            "column {name} holds binary floats ({}), which cannot carry decimal amounts exactly; pass decimal.Decimal values \
                             (a decimal128 column), strings such as \"1234.56\", or integers, or opt in with allow_float=True to convert \
                             each float through its shortest repr",
                            a.data_type()
                        ),
                    )
                    .field(name));
                }
                match a.data_type() {
                    DataType::Float16 => Vals::F16(a.as_primitive::<Float16Type>().values()),
                    DataType::Float32 => Vals::F32(a.as_primitive::<Float32Type>().values()),
                    _ => Vals::F64(a.as_primitive::<Float64Type>().values()),
                }
            }
            // Arrow stores instants as UTC epoch values whatever the zone; a naive column
            // (no zone) is read as UTC.
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => Vals::Time(
                    a.as_primitive::<TimestampSecondType>().values(),
                    1_000_000_000,
                ),
                TimeUnit::Millisecond => Vals::Time(
                    a.as_primitive::<TimestampMillisecondType>().values(),
                    1_000_000,
                ),
                TimeUnit::Microsecond => Vals::Time(
                    a.as_primitive::<TimestampMicrosecondType>().values(),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    Vals::Time(a.as_primitive::<TimestampNanosecondType>().values(), 1)
                }
            },
            t => {
                return Err(Error::new(
                    ErrorCode::Field,
                    format!("column {name} has the Arrow type {t}, which broker-rules cannot read for this field"),
                )
                .field(name))
            }
        })
    }

    #[inline]
    fn cell(&self, i: usize) -> Cell<'a> {
        match self {
            Vals::Null => Cell::Null,
            Vals::Utf8(x) => Cell::Str(x.value(i)),
            Vals::LargeUtf8(x) => Cell::Str(x.value(i)),
            Vals::View(x) => Cell::Str(x.value(i)),
            Vals::Bool(x) => Cell::Bool(x.value(i)),
            Vals::Dec128(v, s) => Cell::Dec(v[i], *s),
            Vals::Dec256(v, s) => match v[i].to_i128() {
                Some(m) => Cell::Dec(m, *s),
                None => Cell::Wide(v[i], *s),
            },
            Vals::I8(v) => Cell::Int(v[i] as i128),
            Vals::I16(v) => Cell::Int(v[i] as i128),
            Vals::I32(v) => Cell::Int(v[i] as i128),
            Vals::I64(v) => Cell::Int(v[i] as i128),
            Vals::U8(v) => Cell::Int(v[i] as i128),
            Vals::U16(v) => Cell::Int(v[i] as i128),
            Vals::U32(v) => Cell::Int(v[i] as i128),
            Vals::U64(v) => Cell::Int(v[i] as i128),
            Vals::F16(v) => Cell::Float(f64::from(v[i].to_f32())),
            // Shortest f32 text, then read as f64 text: keeps "0.1" as "0.1".
            Vals::F32(v) => Cell::Float(v[i].to_string().parse::<f64>().unwrap_or(f64::NAN)),
            Vals::F64(v) => Cell::Float(v[i]),
            Vals::Time(v, mul) => Cell::Time(v[i].checked_mul(*mul).and_then(time::in_range)),
        }
    }
}

/// A cell as the batch takes it, or `Slow`: the row path decides.
#[derive(Clone, Copy, Debug)]
enum V<'a> {
    Absent,
    Text(&'a str),
    /// An integer identifier (its decimal text is the value).
    Int(i128),
    /// A decimal, exact at `SCALE`.
    Num(i128),
    Time(i64),
    Bool(bool),
    Small(u32),
    Liq(Liquidity),
    Slow,
}

fn is_decimal(r: Role) -> bool {
    matches!(
        r,
        Role::Notional | Role::Fee | Role::FeeRate | Role::AffiliateRate
    )
}

fn is_identifier(r: Role) -> bool {
    matches!(
        r,
        Role::Id | Role::Account | Role::Broker | Role::Master | Role::Order | Role::Instrument
    )
}

/// A decimal at SCALE, when the row path would read the same value: exact at 18 fractional
/// digits and within 28 significant digits (a 96-bit decimal).
fn fixed_of(m: i128, scale: i8) -> Option<i128> {
    let s = scale as i32;
    let f = if s <= 18 {
        m.checked_mul(*POW10.get((18 - s) as usize)?)?
    } else {
        let p = *POW10.get((s - 18) as usize)?;
        if m % p != 0 {
            return None;
        }
        m / p
    };
    (f.unsigned_abs() < POW10[28] as u128 || f % ONE == 0).then_some(f)
}

/// The fast reading of one cell for a field.
fn fast<'a>(r: Role, c: Cell<'a>) -> V<'a> {
    match r {
        Role::Id
        | Role::Account
        | Role::Broker
        | Role::Master
        | Role::Order
        | Role::Instrument
        | Role::Channel
        | Role::Product => match c {
            Cell::Null | Cell::Str("") => V::Absent,
            Cell::Str(s) => V::Text(s),
            Cell::Int(v) if is_identifier(r) => V::Int(v),
            _ => V::Slow,
        },
        Role::Time => match c {
            Cell::Time(Some(t)) => V::Time(t),
            Cell::Str(s) if !s.is_empty() => time::parse(s).map_or(V::Slow, V::Time),
            _ => V::Slow,
        },
        Role::Notional | Role::Fee | Role::FeeRate | Role::AffiliateRate => match c {
            Cell::Null | Cell::Str("") => V::Absent,
            Cell::Str(s) => fast_decimal(s.as_bytes()).map_or(V::Slow, V::Num),
            Cell::Dec(m, s) => fixed_of(m, s).map_or(V::Slow, V::Num),
            Cell::Int(v) => v.checked_mul(ONE).map_or(V::Slow, V::Num),
            Cell::Float(f) if f.is_finite() => {
                fast_decimal(format!("{f}").as_bytes()).map_or(V::Slow, V::Num)
            }
            _ => V::Slow,
        },
        Role::Liquidity => match c {
            Cell::Null | Cell::Str("") => V::Absent,
            Cell::Str("maker") => V::Liq(Liquidity::Maker),
            Cell::Str("taker") => V::Liq(Liquidity::Taker),
            _ => V::Slow,
        },
        Role::Vip => match c {
            Cell::Null | Cell::Str("") => V::Small(0),
            Cell::Str(s)
                if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse::<u32>().map_or(V::Slow, V::Small)
            }
            Cell::Int(v) => u32::try_from(v).map_or(V::Slow, V::Small),
            Cell::Float(f) if f.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&f) => {
                V::Small(f as u32)
            }
            _ => V::Slow,
        },
        Role::FeeDiscount | Role::Msa => match c {
            Cell::Null | Cell::Str("" | "false" | "FALSE" | "False" | "0") => V::Bool(false),
            Cell::Str("true" | "TRUE" | "True" | "1") => V::Bool(true),
            Cell::Bool(b) => V::Bool(b),
            _ => V::Slow,
        },
        Role::Unknown => V::Absent,
    }
}

/// The decimal text of an integer, without allocating.
struct Digits {
    buf: [u8; 40],
    start: usize,
}

impl Digits {
    fn of(v: i128) -> Digits {
        let mut buf = [0u8; 40];
        let mut i = buf.len();
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        Digits { buf, start: i }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[self.start..]).unwrap_or("")
    }
}

#[cfg(test)]
pub(crate) fn digits_for_tests(v: i128) -> String {
    Digits::of(v).as_str().to_string()
}

/// The decimal text of a mantissa and scale, trailing fractional zeros removed.
pub(crate) fn dec_text(digits: String, scale: i8) -> String {
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits),
    };
    let mut t = String::new();
    if neg {
        t.push('-');
    }
    let s = scale as i32;
    if s <= 0 {
        t.push_str(&digits);
        if digits != "0" {
            for _ in 0..-s {
                t.push('0');
            }
        }
        return t;
    }
    let s = s as usize;
    let (int, frac) = if digits.len() > s {
        let (a, b) = digits.split_at(digits.len() - s);
        (a.to_string(), b.to_string())
    } else {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat(s - digits.len())),
        )
    };
    t.push_str(&int);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        t.push('.');
        t.push_str(frac);
    }
    t
}

/// One trade-field column of a batch.
struct Col<'a> {
    role: Role,
    name: &'a str,
    /// 0-based column index in the batch.
    index: usize,
    /// Logical nulls (a dictionary's null keys and null values included).
    nulls: Option<NullBuffer>,
    /// Dictionary keys: a row's index into the values.
    keys: Option<Vec<usize>>,
    vals: Vals<'a>,
    /// Dictionary columns: each value's fast reading, computed once.
    pre: Vec<V<'a>>,
    /// Dictionary text columns: each value's key in the batch being filled, as
    /// `gen << 32 | key` (`u64::MAX`: none yet).
    cache: Vec<u64>,
}

impl<'a> Col<'a> {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    #[inline]
    fn value_index(&self, row: usize) -> usize {
        match &self.keys {
            Some(k) => k[row],
            None => row,
        }
    }

    #[inline]
    fn fast(&self, row: usize) -> V<'a> {
        if self.is_null(row) {
            return fast(self.role, Cell::Null);
        }
        match &self.keys {
            Some(k) => self.pre[k[row]],
            None => fast(self.role, self.vals.cell(row)),
        }
    }

    /// Appends a text value to a dictionary, through the dictionary cache when there is one.
    #[inline]
    fn put(&mut self, row: usize, v: V<'_>, d: &mut Interner, gen: u32) {
        match v {
            V::Text(s) => {
                if self.keys.is_some() {
                    let i = self.value_index(row);
                    let e = self.cache[i];
                    let k = if e != u64::MAX && (e >> 32) as u32 == gen {
                        e as u32
                    } else {
                        let k = d.key(s);
                        self.cache[i] = ((gen as u64) << 32) | k as u64;
                        k
                    };
                    d.dict.keys.push(k);
                } else {
                    d.push(Some(s));
                }
            }
            V::Int(v) => d.push(Some(Digits::of(v).as_str())),
            _ => d.dict.keys.push(NULL),
        }
    }

    /// Sets this column's cell of `row` on a builder (the row path; the Python host's
    /// conversion before the batch path, so its errors are unchanged).
    fn set<'b>(&self, b: &mut TradeBuilder<'b>, row: usize, text: Option<&'b str>) -> Result<()>
    where
        'a: 'b,
    {
        let name = self.name;
        if self.is_null(row) {
            return b.set(name, Raw::Null).map(drop);
        }
        let cell = self.vals.cell(self.value_index(row));
        let must_be_string =
            || Error::new(ErrorCode::Field, format!("{name} must be a string")).field(name);
        match cell {
            Cell::Null => b.set(name, Raw::Null).map(drop),
            Cell::Str(x) => b.set(name, Raw::Str(x)).map(drop),
            Cell::Bool(x) => b.set(name, Raw::Bool(x)).map(drop),
            Cell::Time(t) if self.role == Role::Time => {
                b.time = Some(t.ok_or_else(|| time::out_of_range(name))?);
                Ok(())
            }
            Cell::Time(_) => Err(Error::new(
                ErrorCode::Field,
                format!("{name} must be a string, not a timestamp"),
            )
            .field(name)),
            Cell::Dec(..) | Cell::Wide(..) => match self.role {
                r if is_decimal(r) || matches!(r, Role::Vip | Role::FeeDiscount | Role::Msa) => {
                    b.set(name, Raw::Str(text.unwrap_or(""))).map(drop)
                }
                _ => Err(must_be_string()),
            },
            Cell::Int(v) => {
                if is_decimal(self.role) || is_identifier(self.role) {
                    b.set(name, Raw::Str(text.unwrap_or(""))).map(drop)
                } else {
                    let n = match i64::try_from(v) {
                        Ok(x) => serde_json::Number::from(x),
                        Err(_) => serde_json::Number::from(v as u64),
                    };
                    set_number(b, name, &n)
                }
            }
            Cell::Float(v) => {
                if is_decimal(self.role) {
                    // allow_float (checked when the column was opened): shortest text.
                    if !v.is_finite() {
                        return Err(Error::new(
                            ErrorCode::Decimal,
                            format!("{name} is {v}, not a number"),
                        )
                        .field(name));
                    }
                    b.set(name, Raw::Str(text.unwrap_or(""))).map(drop)
                } else {
                    // Whole floats are integers that lost their type to a null (pandas).
                    let n = if v.fract() == 0.0 && v.abs() < 9.0e15 {
                        Some(serde_json::Number::from(v as i64))
                    } else {
                        serde_json::Number::from_f64(v)
                    };
                    let n = n.ok_or_else(|| {
                        Error::new(ErrorCode::Value, format!("{name} is {v}")).field(name)
                    })?;
                    set_number(b, name, &n)
                }
            }
        }
    }

    /// The text the row path reads for a cell that is not a string.
    fn slow_text(&self, row: usize) -> Option<String> {
        if self.is_null(row) {
            return None;
        }
        match self.vals.cell(self.value_index(row)) {
            Cell::Dec(m, s) => Some(dec_text(m.to_string(), s)),
            Cell::Wide(m, s) => Some(dec_text(m.to_string(), s)),
            Cell::Int(v) => Some(v.to_string()),
            Cell::Float(v) if v.is_finite() => Some(format!("{v}")),
            _ => None,
        }
    }
}

/// Sets a field from a number through a scratch builder (the builder keeps no number).
fn set_number(b: &mut TradeBuilder<'_>, name: &str, n: &serde_json::Number) -> Result<()> {
    let mut scratch = TradeBuilder::default();
    scratch.set(name, Raw::Num(n))?;
    match name {
        "vip" => b.vip = scratch.vip,
        "fee_discount" => b.fee_discount = scratch.fee_discount,
        // Every other field refuses a number, so the scratch builder has already failed.
        _ => {
            return Err(
                Error::new(ErrorCode::Field, format!("{name} must be a string")).field(name),
            )
        }
    }
    Ok(())
}

/// Number of [`Role`]s (the per-role slot arrays).
const ROLES: usize = Role::Unknown as usize + 1;

/// Index of each trade field in a fixed-size table.
fn slot(r: Role) -> usize {
    r as usize
}

pub(crate) fn feed_batch<S: Sink>(
    s: &mut S,
    rows: &mut Rows,
    batch: &RecordBatch,
    first_row: u64,
    map: &ColumnMap,
    allow_float: bool,
) -> Result<()> {
    let schema = batch.schema();
    let original: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let names = map.apply(&original)?;
    let roles: Vec<Role> = names.iter().map(|n| role(n)).collect();
    if s.strict() {
        if let Some(i) = roles.iter().position(|r| *r == Role::Unknown) {
            return Err(
                Error::new(ErrorCode::Field, format!("unknown column {:?}", names[i]))
                    .field(names[i].as_str())
                    .column(i as u64 + 1),
            );
        }
    }
    for req in REQUIRED {
        if !names.iter().any(|n| n == req) {
            return Err(
                Error::new(ErrorCode::Field, format!("the table has no {req} column")).field(req),
            );
        }
    }
    let mut cols: Vec<Col<'_>> = Vec::new();
    let mut unknown: Vec<&ArrayRef> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let array = batch.column(i);
        if roles[i] == Role::Unknown {
            unknown.push(array);
            continue;
        }
        let at = |e: Error| e.column(i as u64 + 1);
        let (keys, values) = match array.as_any_dictionary_opt() {
            Some(d) => (Some(d.normalized_keys()), d.values()),
            None => (None, array),
        };
        let vals = Vals::of(name, values, allow_float).map_err(at)?;
        let (pre, cache) = if keys.is_some() {
            let pre: Vec<V<'_>> = (0..values.len())
                .map(|k| fast(roles[i], vals.cell(k)))
                .collect();
            (pre, std::vec![u64::MAX; values.len()])
        } else {
            (Vec::new(), Vec::new())
        };
        cols.push(Col {
            role: roles[i],
            name: name.as_str(),
            index: i,
            nulls: array.logical_nulls(),
            keys,
            vals,
            pre,
            cache,
        });
    }
    let mut by_role = [usize::MAX; ROLES];
    for (k, c) in cols.iter().enumerate() {
        by_role[slot(c.role)] = k;
    }
    let unknown_cells: usize = unknown.iter().map(|a| a.len() - a.null_count()).sum();
    if unknown_cells > 0 {
        s.note_unknown_fields(unknown_cells as u64);
    }
    for row in 0..batch.num_rows() {
        let line = first_row + row as u64 + 1;
        if clean(&mut cols, &by_role, rows, row, line) {
            if rows.len() >= BATCH_ROWS {
                rows.flush(s)?;
            }
            continue;
        }
        // The row path, in input order: what is batched goes first.
        rows.flush(s)?;
        slow_row(s, &cols, &names, row, line)?;
    }
    Ok(())
}

/// Adds the row to the batch if every value is plain; false (nothing added) if not.
fn clean(
    cols: &mut [Col<'_>],
    by_role: &[usize; ROLES],
    rows: &mut Rows,
    row: usize,
    line: u64,
) -> bool {
    let mut v = [V::Absent; ROLES];
    for c in cols.iter() {
        let x = c.fast(row);
        if let V::Slow = x {
            return false;
        }
        v[slot(c.role)] = x;
    }
    let time = match v[slot(Role::Time)] {
        V::Time(t) => t,
        _ => return false,
    };
    let notional = match v[slot(Role::Notional)] {
        V::Num(x) if x >= 0 => x,
        _ => return false,
    };
    let fee = match v[slot(Role::Fee)] {
        V::Num(x) => x,
        _ => return false,
    };
    let fee_rate = match v[slot(Role::FeeRate)] {
        V::Num(x) => Some(x),
        _ => None,
    };
    let affiliate_rate = match v[slot(Role::AffiliateRate)] {
        V::Num(x) if (0..=ONE).contains(&x) => x,
        V::Absent => 0,
        _ => return false,
    };
    for r in [Role::Id, Role::Account, Role::Channel, Role::Product] {
        if !matches!(v[slot(r)], V::Text(_) | V::Int(_)) {
            return false;
        }
    }
    let c = &mut rows.cols;
    c.line.push(line);
    match v[slot(Role::Id)] {
        V::Text(s) => c.push_id(s),
        V::Int(i) => c.push_id(Digits::of(i).as_str()),
        _ => {}
    }
    c.time.push(time);
    c.notional.push(notional);
    c.fee.push(fee);
    c.fee_rate.push(fee_rate);
    c.liquidity.push(match v[slot(Role::Liquidity)] {
        V::Liq(l) => Some(l),
        _ => None,
    });
    c.vip.push(match v[slot(Role::Vip)] {
        V::Small(x) => x,
        _ => 0,
    });
    c.fee_discount
        .push(matches!(v[slot(Role::FeeDiscount)], V::Bool(true)));
    c.affiliate_rate.push(affiliate_rate);
    c.msa.push(matches!(v[slot(Role::Msa)], V::Bool(true)));
    let gen = rows.gen;
    for (r, d) in [
        (Role::Account, &mut rows.account),
        (Role::Broker, &mut rows.broker),
        (Role::Channel, &mut rows.channel),
        (Role::Product, &mut rows.product),
        (Role::Master, &mut rows.master),
        (Role::Order, &mut rows.order),
        (Role::Instrument, &mut rows.instrument),
    ] {
        match by_role[slot(r)] {
            usize::MAX => d.dict.keys.push(NULL),
            k => cols[k].put(row, v[slot(r)], d, gen),
        }
    }
    true
}

/// Builds a row through [`TradeBuilder`] and pushes or rejects it.
fn slow_row<S: Sink>(
    s: &mut S,
    cols: &[Col<'_>],
    names: &[String],
    row: usize,
    line: u64,
) -> Result<()> {
    let texts: Vec<Option<String>> = cols.iter().map(|c| c.slow_text(row)).collect();
    let mut b = TradeBuilder::default();
    let mut bad = None;
    for (c, t) in cols.iter().zip(&texts) {
        if let Err(e) = c.set(&mut b, row, t.as_deref()) {
            bad = Some(e.column(c.index as u64 + 1));
            break;
        }
    }
    let id = b.id;
    let built = match bad {
        Some(e) => Err(e),
        None => b.finish().map_err(|e| e.at_column_of(names)),
    };
    match built {
        Ok(t) => s.push(&t, Some(line)),
        Err(e) => {
            let e = match (id, &e.location.id) {
                (Some(id), None) => e.id(id),
                _ => e,
            };
            s.reject(id, Some(line), e.line(line))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parquet.

/// A file read at positions, so threads share it without sharing a cursor.
#[derive(Clone)]
struct PosFile {
    file: Arc<std::fs::File>,
    len: u64,
}

struct PosRead {
    file: Arc<std::fs::File>,
    pos: u64,
}

fn read_at(f: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(f, buf, pos)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(f, buf, pos)
    }
    #[cfg(not(any(unix, windows)))]
    {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = LOCK.lock();
        let mut f = f;
        f.seek(SeekFrom::Start(pos))?;
        f.read(buf)
    }
}

impl Read for PosRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::Length for PosFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl parquet::file::reader::ChunkReader for PosFile {
    type T = BufReader<PosRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(BufReader::new(PosRead {
            file: self.file.clone(),
            pos: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut v = std::vec![0u8; length];
        let mut r = PosRead {
            file: self.file.clone(),
            pos: start,
        };
        r.read_exact(&mut v)?;
        Ok(v.into())
    }
}

/// The column names of a Parquet file in memory.
pub fn parquet_header(bytes: &[u8]) -> Result<Vec<String>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let b = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| parquet_error(e).field("report"))?;
    Ok(b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// `row(line, header, cells)` of [`parquet_text_rows`].
pub type TextRow<'a> = dyn FnMut(u64, &[String], &[String]) -> Result<()> + 'a;

/// A Parquet file's rows as text cells, for a reader that takes text (an exchange's report
/// for `reconcile`): `row(line, header, cells)` for each row, `line` its 1-based row number.
/// Decimals (decimal128/256) and integers are written exactly; booleans `true` / `false`;
/// instants as RFC 3339 UTC, or as whole epoch milliseconds in the columns `epoch_ms`
/// names; a null is an empty cell. Binary floats in a column `is_decimal` names are refused
/// with `E_DECIMAL`, as in a trade file: they cannot carry a decimal amount exactly.
pub fn parquet_text_rows(
    bytes: &[u8],
    is_decimal: &dyn Fn(&str) -> bool,
    epoch_ms: &dyn Fn(&str) -> bool,
    row: &mut TextRow<'_>,
) -> Result<()> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| parquet_error(e).field("report"))?
        .with_batch_size(16 << 10)
        .build()
        .map_err(|e| parquet_error(e).field("report"))?;
    let mut n = 0u64;
    let mut cells: Vec<String> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| parquet_error(e).field("report").line(n + 1))?;
        let header: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let cols = batch.columns();
        let mut vals = Vec::with_capacity(cols.len());
        for (name, a) in header.iter().zip(cols) {
            vals.push(Vals::typed(name, a, is_decimal(name), false).map_err(|e| e.line(n + 1))?);
        }
        for i in 0..batch.num_rows() {
            let line = n + i as u64 + 1;
            cells.clear();
            for ((name, a), v) in header.iter().zip(cols).zip(&vals) {
                let at = |e: Error| e.field(name.as_str()).line(line);
                cells.push(if a.is_null(i) {
                    String::new()
                } else {
                    match v.cell(i) {
                        Cell::Null => String::new(),
                        Cell::Str(s) => s.to_string(),
                        Cell::Bool(b) => (if b { "true" } else { "false" }).to_string(),
                        Cell::Dec(m, s) => dec_text(Digits::of(m).as_str().to_string(), s),
                        Cell::Int(x) => Digits::of(x).as_str().to_string(),
                        Cell::Float(f) => format!("{f}"),
                        Cell::Wide(..) => {
                            return Err(at(Error::new(
                                ErrorCode::Decimal,
                                "a decimal256 value with more digits than a 96-bit decimal holds",
                            )))
                        }
                        Cell::Time(None) => {
                            return Err(at(Error::new(
                                ErrorCode::Time,
                                "an instant outside the supported range (1970 to 2199)",
                            )))
                        }
                        Cell::Time(Some(ns)) if epoch_ms(name) => {
                            if ns % 1_000_000 != 0 {
                                return Err(at(Error::new(
                                    ErrorCode::Time,
                                    "an instant with a fraction of a millisecond in an epoch-milliseconds column",
                                )));
                            }
                            (ns / 1_000_000).to_string()
                        }
                        Cell::Time(Some(ns)) => time::format(ns),
                    }
                });
            }
            row(line, &header, &cells)?;
        }
        n += batch.num_rows() as u64;
    }
    Ok(())
}

fn parquet_error(e: impl core::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Parse,
        format!("cannot read the Parquet input: {e}"),
    )
    .field("trades")
}

/// A Parquet input's row groups, read one at a time.
struct Groups<'a, T> {
    src: &'a T,
    meta: &'a parquet::arrow::arrow_reader::ArrowReaderMetadata,
    map: &'a ColumnMap,
}

impl<T: parquet::file::reader::ChunkReader + Clone + 'static> Groups<'_, T> {
    /// Reads row group `g`, whose first row is row `first_row` of the file, into `s`;
    /// `done` hears the rows of each batch.
    fn feed<S: Sink>(
        &self,
        s: &mut S,
        rows: &mut Rows,
        g: usize,
        first_row: u64,
        done: &mut dyn FnMut(u64),
    ) -> Result<()> {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(self.src.clone(), self.meta.clone())
                .with_row_groups(std::vec![g])
                .with_batch_size(16 << 10)
                .build()
                .map_err(parquet_error)?;
        let mut n = first_row;
        for batch in reader {
            let batch = batch.map_err(|e| parquet_error(e).line(n + 1))?;
            feed_batch(s, rows, &batch, n, self.map, false)?;
            n += batch.num_rows() as u64;
            done(batch.num_rows() as u64);
        }
        Ok(())
    }
}

/// Reads the repeating string columns (account, broker, channel, product, master,
/// liquidity) as dictionary arrays: Parquet stores them dictionary-encoded, and keeping the
/// dictionary means each distinct value is looked at once per batch instead of once per row.
fn dictionary_strings(
    meta: parquet::arrow::arrow_reader::ArrowReaderMetadata,
    map: &ColumnMap,
) -> Result<parquet::arrow::arrow_reader::ArrowReaderMetadata> {
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let schema = meta.schema();
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let repeats = matches!(
                map.target(f.name()),
                "account"
                    | "broker"
                    | "channel"
                    | "product"
                    | "master"
                    | "instrument"
                    | "liquidity"
            );
            match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 if repeats => {
                    changed = true;
                    Field::new(
                        f.name(),
                        DataType::Dictionary(
                            Box::new(DataType::Int32),
                            Box::new(f.data_type().clone()),
                        ),
                        f.is_nullable(),
                    )
                    .with_metadata(f.metadata().clone())
                }
                _ => f.as_ref().clone(),
            }
        })
        .collect();
    if !changed {
        return Ok(meta);
    }
    let schema = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(schema),
    )
    .map_err(parquet_error)
}

fn feed_parquet_from<T>(
    s: &mut Settler,
    src: T,
    map: &ColumnMap,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()>
where
    T: parquet::file::reader::ChunkReader + Clone + 'static,
{
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    let meta =
        ArrowReaderMetadata::load(&src, ArrowReaderOptions::default()).map_err(parquet_error)?;
    let meta = dictionary_strings(meta, map)?;
    let reader = Groups {
        src: &src,
        meta: &meta,
        map,
    };
    let md = meta.metadata().clone();
    let groups = md.num_row_groups();
    let mut starts = Vec::with_capacity(groups);
    let mut total = 0u64;
    for g in 0..groups {
        starts.push(total);
        total += md.row_group(g).num_rows().max(0) as u64;
    }
    s.reserve(total);
    let sizes: Vec<u64> = (0..groups)
        .map(|g| md.row_group(g).compressed_size().max(0) as u64)
        .collect();

    let mut forks = Vec::new();
    if threads > 1 && groups > 1 {
        for _ in 0..threads.min(groups) {
            match s.fork() {
                Some(f) => forks.push(f),
                None => break,
            }
        }
        if forks.len() < threads.min(groups) {
            for f in forks.drain(..) {
                s.merge(f)?;
            }
        }
    }
    if forks.is_empty() {
        let mut rows = Rows::default();
        let (mut bytes, mut n) = (0u64, 0u64);
        for g in 0..groups {
            reader.feed(s, &mut rows, g, starts[g], &mut |k| {
                n += k;
                progress(bytes, n);
            })?;
            bytes += sizes[g];
            progress(bytes, n);
        }
        rows.flush(s)?;
        // A file with no row groups still has a schema to check.
        if groups == 0 {
            let empty = RecordBatch::new_empty(meta.schema().clone());
            feed_batch(s, &mut rows, &empty, 0, map, false)?;
        }
        return Ok(());
    }

    let next = AtomicUsize::new(0);
    let stop_line = AtomicU64::new(u64::MAX);
    let (done_rows, done_bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let results: Vec<(Settler, Option<Error>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = forks
            .into_iter()
            .map(|mut w| {
                let (next, stop_line, starts, sizes) = (&next, &stop_line, &starts, &sizes);
                let (done_rows, done_bytes, reader) = (&done_rows, &done_bytes, &reader);
                scope.spawn(move || {
                    let mut rows = Rows::default();
                    let mut failure = None;
                    loop {
                        let g = next.fetch_add(1, Ordering::Relaxed);
                        if g >= starts.len() {
                            break;
                        }
                        if starts[g] + 1 > stop_line.load(Ordering::Relaxed) {
                            continue;
                        }
                        let r = reader.feed(&mut w, &mut rows, g, starts[g], &mut |k| {
                            done_rows.fetch_add(k, Ordering::Relaxed);
                        });
                        done_bytes.fetch_add(sizes[g], Ordering::Relaxed);
                        if let Err(e) = r {
                            failure = Some(e);
                            break;
                        }
                    }
                    if failure.is_none() {
                        failure = rows.flush(&mut w).err();
                    }
                    if let Some(e) = &failure {
                        stop_line.fetch_min(e.location.line.unwrap_or(u64::MAX), Ordering::Relaxed);
                    }
                    (w, failure)
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            // Progress from this thread while the workers run.
            while !h.is_finished() {
                progress(
                    done_bytes.load(Ordering::Relaxed),
                    done_rows.load(Ordering::Relaxed),
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            match h.join() {
                Ok(r) => out.push(r),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    });
    let mut first: Option<Error> = None;
    let mut settlers = Vec::new();
    for (w, f) in results {
        if let Some(e) = f {
            let better = match &first {
                None => true,
                Some(x) => {
                    e.location.line.unwrap_or(u64::MAX) < x.location.line.unwrap_or(u64::MAX)
                }
            };
            if better {
                first = Some(e);
            }
        }
        settlers.push(w);
    }
    if let Some(e) = first {
        return Err(e);
    }
    for w in settlers {
        s.merge(w)?;
    }
    progress(
        done_bytes.load(Ordering::Relaxed),
        done_rows.load(Ordering::Relaxed),
    );
    Ok(())
}
