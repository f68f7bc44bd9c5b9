//! `broker_rules._native`: the Python extension. It converts and forwards, nothing else:
//! every rule lives in the `broker-rules` crate. Each function returns the core's canonical
//! envelope (`{"ok": ...}` or `{"error": ...}`) as a string; the Python package turns it into
//! result objects or exceptions.
//!
//! Trade inputs:
//! - JSON requests (`call`): exactly `broker_rules::api`, the path every host shares;
//! - text or files (`settle_text`, `settle_file`): the core's streaming readers;
//! - Arrow streams (`settle_arrow`): any object with `__arrow_c_stream__` (pyarrow Table or
//!   RecordBatchReader, Polars, pandas via pyarrow), read through the Arrow C stream
//!   interface column by column with no per-row Python work; each cell goes through the
//!   core's `TradeBuilder`, so a bad value gets the core's code and message.
//!
//! Every call releases the GIL while the engine runs and turns a panic into `E_INTERNAL`.

use std::ffi::CStr;

use arrow_array::cast::AsArray;
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::types::{
    Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use broker_rules::api;
use broker_rules::error::{Error, ErrorCode, Result};
use broker_rules::read::{self, Format};
use broker_rules::registry::Registry;
use broker_rules::settle::{SettleOptions, Settler};
use broker_rules::statement::Explanation;
use broker_rules::trade::{self, Raw, TradeBuilder};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Calls a JSON entry point (`settle`, `estimate`, `explain`, `validate`, `program`,
/// `programs`) with a request string; returns the canonical envelope.
#[pyfunction]
fn call(py: Python<'_>, function: String, request: String) -> String {
    py.detach(move || api::guarded(|| api::call(&function, &request)))
}

/// The engine version (the `engine.version` every result carries).
#[pyfunction]
fn engine_version() -> &'static str {
    broker_rules::statement::ENGINE_VERSION
}

/// The trade field names, in documentation order.
#[pyfunction]
fn trade_fields() -> Vec<&'static str> {
    trade::FIELDS.to_vec()
}

/// What `settle_*` needs besides the trades: program, registry, options (a request object
/// without `trades`).
struct Setup {
    program: broker_rules::Program,
    registry: Option<Registry>,
    options: SettleOptions,
}

fn setup(request: &str, explain: bool) -> Result<Setup> {
    let req = api::parse_request(request)?;
    if let Some(k) = req
        .keys()
        .find(|k| !["program", "registry", "options"].contains(&k.as_str()))
    {
        return Err(Error::new(
            ErrorCode::Field,
            format!("unknown request field {k:?} (allowed: program, registry, options)"),
        )
        .field(k.as_str()));
    }
    let program = api::program_from(req.get("program"))?;
    let registry: Option<Registry> = api::field(&req, "registry")?;
    let mut options: SettleOptions = api::field(&req, "options")?.unwrap_or_default();
    if explain {
        options.lines = true;
    }
    Ok(Setup {
        program,
        registry,
        options,
    })
}

fn finish(s: Settler, explain: bool) -> String {
    if explain {
        api::envelope(s.finish().map(Explanation::from))
    } else {
        api::envelope(s.finish())
    }
}

fn run(request: &str, explain: bool, feed: impl FnOnce(&mut Settler) -> Result<()>) -> String {
    let st = match setup(request, explain) {
        Ok(s) => s,
        Err(e) => return api::error_envelope(&e),
    };
    let mut s = match Settler::new(&st.program, st.registry.as_ref(), &st.options) {
        Ok(s) => s,
        Err(e) => return api::error_envelope(&e),
    };
    match feed(&mut s) {
        Ok(()) => finish(s, explain),
        Err(e) => api::error_envelope(&e),
    }
}

fn format_of(name: &str) -> Result<Format> {
    Format::from_name(name).ok_or_else(|| {
        Error::new(
            ErrorCode::Options,
            format!("unknown trade format {name:?} (csv, ndjson, json)"),
        )
        .field("format")
    })
}

/// Settles (or explains) trades given as CSV, NDJSON or JSON-array text.
#[pyfunction]
fn settle_text(
    py: Python<'_>,
    request: String,
    text: String,
    format: String,
    explain: bool,
) -> String {
    py.detach(move || {
        api::guarded(|| {
            let fmt = match format_of(&format) {
                Ok(f) => f,
                Err(e) => return api::error_envelope(&e),
            };
            run(&request, explain, |s| {
                read::feed(s, text.as_bytes(), fmt, &mut |_, _| {})
            })
        })
    })
}

/// Settles (or explains) trades read from a file; the format comes from `format` or the
/// file's extension.
#[pyfunction]
#[pyo3(signature = (request, path, format, explain))]
fn settle_file(
    py: Python<'_>,
    request: String,
    path: String,
    format: Option<String>,
    explain: bool,
) -> String {
    py.detach(move || {
        api::guarded(|| {
            let fmt = match format.as_deref().map(format_of).unwrap_or_else(|| {
                Format::from_path(&path).ok_or_else(|| {
                    Error::new(ErrorCode::Options, format!("cannot tell the format of {path:?} from its extension (.csv, .ndjson, .jsonl, .json); pass format=")).field("format")
                })
            }) {
                Ok(f) => f,
                Err(e) => return api::error_envelope(&e),
            };
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => return api::error_envelope(&Error::new(ErrorCode::Parse, format!("cannot open {path:?}: {e}")).field("trades")),
            };
            run(&request, explain, |s| read::feed(s, file, fmt, &mut |_, _| {}))
        })
    })
}

/// Settles (or explains) an Arrow stream: `stream` is the PyCapsule returned by an object's
/// `__arrow_c_stream__()`. `allow_float` converts float columns in decimal fields through
/// each value's shortest round-trip text; off, such a column is an `E_DECIMAL` error.
#[pyfunction]
fn settle_arrow(
    py: Python<'_>,
    request: String,
    stream: &Bound<'_, PyAny>,
    explain: bool,
    allow_float: bool,
) -> PyResult<String> {
    let capsule = stream.cast::<PyCapsule>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("expected the PyCapsule of __arrow_c_stream__()")
    })?;
    let name: &CStr = c"arrow_array_stream";
    let ptr = capsule.pointer_checked(Some(name))?;
    // Move the stream out of the capsule, leaving a released one for its destructor.
    let raw = ptr.as_ptr() as *mut FFI_ArrowArrayStream;
    let ffi = unsafe { std::ptr::replace(raw, FFI_ArrowArrayStream::empty()) };
    Ok(py.detach(move || {
        api::guarded(|| {
            let reader = match RecordBatchStreamReader::try_new(ffi) {
                Ok(r) => r,
                Err(e) => {
                    return api::error_envelope(
                        &Error::new(
                            ErrorCode::Parse,
                            format!("cannot read the Arrow stream: {e}"),
                        )
                        .field("trades"),
                    )
                }
            };
            run(&request, explain, |s| feed_arrow(s, reader, allow_float))
        })
    }))
}

/// Decimal fields of a trade.
const DECIMALS: [&str; 4] = ["notional", "fee", "fee_rate", "affiliate_rate"];

/// How one column's cells become raw field values.
enum Conv<'a> {
    Null,
    Str(Box<dyn Fn(usize) -> &'a str + 'a>),
    /// Exact decimal text (Decimal128/256 with their scale, integers).
    Text(Box<dyn Fn(usize) -> String + 'a>),
    Int(Box<dyn Fn(usize) -> Option<serde_json::Number> + 'a>),
    Float(Box<dyn Fn(usize) -> f64 + 'a>),
    Bool(&'a arrow_array::BooleanArray),
    /// Timestamp in UTC nanoseconds (None: out of range).
    Time(Box<dyn Fn(usize) -> Option<i64> + 'a>),
}

struct Column<'a> {
    name: String,
    index: usize,
    /// Logical nulls (a dictionary's null keys and null values included).
    nulls: Option<NullBuffer>,
    /// Dictionary keys, resolving a row to an index into the values.
    keys: Option<Vec<usize>>,
    conv: Conv<'a>,
}

fn conv_of<'a>(name: &str, a: &'a ArrayRef, allow_float: bool) -> Result<Conv<'a>> {
    let decimal_field = DECIMALS.contains(&name);
    let unsupported = || {
        Error::new(ErrorCode::Field, format!("column {name} has the Arrow type {}, which broker-rules cannot read for this field", a.data_type())).field(name)
    };
    Ok(match a.data_type() {
        DataType::Null => Conv::Null,
        DataType::Utf8 => {
            let x = a.as_string::<i32>();
            Conv::Str(Box::new(move |i| x.value(i)))
        }
        DataType::LargeUtf8 => {
            let x = a.as_string::<i64>();
            Conv::Str(Box::new(move |i| x.value(i)))
        }
        DataType::Utf8View => {
            let x = a.as_string_view();
            Conv::Str(Box::new(move |i| x.value(i)))
        }
        DataType::Boolean => Conv::Bool(a.as_boolean()),
        DataType::Decimal128(_, _) => {
            let x = a.as_primitive::<Decimal128Type>();
            Conv::Text(Box::new(move |i| x.value_as_string(i)))
        }
        DataType::Decimal256(_, _) => {
            let x = a.as_primitive::<Decimal256Type>();
            Conv::Text(Box::new(move |i| x.value_as_string(i)))
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            macro_rules! ints {
                ($t:ty) => {{
                    let x = a.as_primitive::<$t>();
                    if decimal_field {
                        Conv::Text(Box::new(move |i| x.value(i).to_string()))
                    } else {
                        Conv::Int(Box::new(move |i| {
                            Some(serde_json::Number::from(x.value(i)))
                        }))
                    }
                }};
            }
            match a.data_type() {
                DataType::Int8 => ints!(Int8Type),
                DataType::Int16 => ints!(Int16Type),
                DataType::Int32 => ints!(Int32Type),
                DataType::Int64 => ints!(Int64Type),
                DataType::UInt8 => ints!(UInt8Type),
                DataType::UInt16 => ints!(UInt16Type),
                DataType::UInt32 => ints!(UInt32Type),
                _ => ints!(UInt64Type),
            }
        }
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
                DataType::Float16 => {
                    let x = a.as_primitive::<Float16Type>();
                    Conv::Float(Box::new(move |i| f64::from(x.value(i).to_f32())))
                }
                DataType::Float32 => {
                    // Shortest f32 text, then read as f64 text: keeps "0.1" as "0.1".
                    let x = a.as_primitive::<Float32Type>();
                    Conv::Float(Box::new(move |i| {
                        x.value(i).to_string().parse::<f64>().unwrap_or(f64::NAN)
                    }))
                }
                _ => {
                    let x = a.as_primitive::<Float64Type>();
                    Conv::Float(Box::new(move |i| x.value(i)))
                }
            }
        }
        DataType::Timestamp(unit, _tz) => {
            // Arrow stores instants as UTC epoch values whatever the zone; a naive column
            // (no zone) is read as UTC.
            macro_rules! ts {
                ($t:ty, $mul:expr) => {{
                    let x = a.as_primitive::<$t>();
                    Conv::Time(Box::new(move |i| x.value(i).checked_mul($mul)))
                }};
            }
            match unit {
                TimeUnit::Second => ts!(TimestampSecondType, 1_000_000_000),
                TimeUnit::Millisecond => ts!(TimestampMillisecondType, 1_000_000),
                TimeUnit::Microsecond => ts!(TimestampMicrosecondType, 1_000),
                TimeUnit::Nanosecond => ts!(TimestampNanosecondType, 1),
            }
        }
        _ => return Err(unsupported()),
    })
}

fn column<'a>(
    name: &str,
    index: usize,
    array: &'a ArrayRef,
    allow_float: bool,
) -> Result<Column<'a>> {
    if let Some(d) = array.as_any_dictionary_opt() {
        let conv = conv_of(name, d.values(), allow_float)?;
        return Ok(Column {
            name: name.into(),
            index,
            nulls: array.logical_nulls(),
            keys: Some(d.normalized_keys()),
            conv,
        });
    }
    Ok(Column {
        name: name.into(),
        index,
        nulls: array.logical_nulls(),
        keys: None,
        conv: conv_of(name, array, allow_float)?,
    })
}

fn feed_arrow(s: &mut Settler, reader: RecordBatchStreamReader, allow_float: bool) -> Result<()> {
    let mut row_base = 0u64;
    let mut checked = false;
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| {
            Error::new(
                ErrorCode::Parse,
                format!("cannot read the Arrow stream: {e}"),
            )
            .field("trades")
        })?;
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if !checked {
            checked = true;
            if s.strict() {
                if let Some((i, n)) = names
                    .iter()
                    .enumerate()
                    .find(|(_, n)| !trade::FIELDS.contains(n))
                {
                    return Err(
                        Error::new(ErrorCode::Field, format!("unknown column {n:?}"))
                            .field(*n)
                            .column(i as u64 + 1),
                    );
                }
            }
            for req in ["id", "time", "account", "channel", "product", "notional"] {
                if !names.contains(&req) {
                    return Err(Error::new(
                        ErrorCode::Field,
                        format!("the table has no {req} column"),
                    )
                    .field(req));
                }
            }
        }
        let mut cols = Vec::new();
        let mut unknown = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if trade::FIELDS.contains(n) {
                cols.push(column(n, i, batch.column(i), allow_float)?);
            } else {
                unknown.push(batch.column(i));
            }
        }
        for row in 0..batch.num_rows() {
            let line = row_base + row as u64 + 1;
            let mut b = TradeBuilder::default();
            let mut bad = None;
            for c in &cols {
                if let Err(e) = set_cell(&mut b, c, row) {
                    bad = Some(e.column(c.index as u64 + 1));
                    break;
                }
            }
            s.note_unknown_fields(unknown.iter().filter(|a| a.is_valid(row)).count() as u64);
            let id = b.id;
            let built = match bad {
                Some(e) => Err(e),
                None => b.finish().map_err(|e| e.at_column_of(&names)),
            };
            match built {
                Ok(t) => s.push(&t, Some(line))?,
                Err(e) => {
                    let e = match (id, &e.location.id) {
                        (Some(id), None) => e.id(id),
                        _ => e,
                    };
                    s.reject(id, Some(line), e.line(line))?
                }
            }
        }
        row_base += batch.num_rows() as u64;
    }
    Ok(())
}

/// Sets one cell. Values the builder keeps by reference (text) are borrowed from the batch;
/// the others go through a scratch builder so the core validates them with its own messages.
fn set_cell<'a>(b: &mut TradeBuilder<'a>, c: &Column<'a>, row: usize) -> Result<()> {
    let name = c.name.as_str();
    if c.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
        b.set(name, Raw::Null)?;
        return Ok(());
    }
    let i = match &c.keys {
        Some(k) => k[row],
        None => row,
    };
    let mut scratch = TradeBuilder::default();
    match &c.conv {
        Conv::Null => b.set(name, Raw::Null).map(drop),
        Conv::Str(f) => b.set(name, Raw::Str(f(i))).map(drop),
        Conv::Bool(x) => b.set(name, Raw::Bool(x.value(i))).map(drop),
        Conv::Time(f) if name == "time" => {
            b.time = Some(f(i).ok_or_else(|| {
                Error::new(ErrorCode::Time, "the timestamp is out of range").field(name)
            })?);
            Ok(())
        }
        Conv::Time(_) => Err(Error::new(
            ErrorCode::Field,
            format!("{name} must be a string, not a timestamp"),
        )
        .field(name)),
        Conv::Text(f) => {
            let t = f(i);
            scratch.set(name, Raw::Str(&t))?;
            take(b, &scratch, name)
        }
        Conv::Int(f) => match f(i) {
            Some(n) => {
                scratch.set(name, Raw::Num(&n))?;
                take(b, &scratch, name)
            }
            None => {
                Err(Error::new(ErrorCode::Value, format!("{name} is out of range")).field(name))
            }
        },
        Conv::Float(f) => {
            let v = f(i);
            if DECIMALS.contains(&name) {
                // allow_float (checked when the column was opened): shortest round-trip text.
                if !v.is_finite() {
                    return Err(Error::new(
                        ErrorCode::Decimal,
                        format!("{name} is {v}, not a number"),
                    )
                    .field(name));
                }
                let t = format!("{v}");
                scratch.set(name, Raw::Str(&t))?;
                take(b, &scratch, name)
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
                scratch.set(name, Raw::Num(&n))?;
                take(b, &scratch, name)
            }
        }
    }
}

/// Copies a validated non-text field from a scratch builder.
fn take(b: &mut TradeBuilder<'_>, scratch: &TradeBuilder<'_>, name: &str) -> Result<()> {
    match name {
        "notional" => b.notional = scratch.notional,
        "fee" => b.fee = scratch.fee,
        "fee_rate" => b.fee_rate = scratch.fee_rate,
        "affiliate_rate" => b.affiliate_rate = scratch.affiliate_rate,
        "vip" => b.vip = scratch.vip,
        "fee_discount" => b.fee_discount = scratch.fee_discount,
        "liquidity" => b.liquidity = scratch.liquidity,
        // Text fields given as numbers: the scratch builder has already refused them.
        _ => {
            return Err(
                Error::new(ErrorCode::Field, format!("{name} must be a string")).field(name),
            )
        }
    }
    Ok(())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(call, m)?)?;
    m.add_function(wrap_pyfunction!(settle_text, m)?)?;
    m.add_function(wrap_pyfunction!(settle_file, m)?)?;
    m.add_function(wrap_pyfunction!(settle_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(engine_version, m)?)?;
    m.add_function(wrap_pyfunction!(trade_fields, m)?)?;
    Ok(())
}
