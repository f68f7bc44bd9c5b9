//! `broker_rules._native`: the Python extension. It converts and forwards, nothing else:
//! every rule lives in the `broker-rules` crate. Each function returns the core's canonical
//! envelope (`{"ok": ...}` or `{"error": ...}`) as a string; the Python package turns it into
//! result objects or exceptions.
//!
//! Trade inputs:
//! - JSON requests (`call`): exactly `broker_rules::api`, the path every host shares;
//! - text or files (`settle_text`, `settle_file`): the core's streaming readers (CSV,
//!   NDJSON, JSON; Parquet and Arrow IPC files);
//! - Arrow streams (`settle_arrow`): any object with `__arrow_c_stream__` (pyarrow Table or
//!   RecordBatchReader, Polars, pandas via pyarrow), read through the Arrow C stream
//!   interface with no per-row Python work, each batch by the core's Arrow reader
//!   (`broker_rules::read::arrow`), the one the CLI's Parquet and Arrow inputs use.
//!
//! Every call releases the GIL while the engine runs and turns a panic into `E_INTERNAL`.

use std::ffi::CStr;

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use broker_rules::api;
use broker_rules::error::{Error, ErrorCode, Result};
use broker_rules::read::{self, ColumnMap, Format};
use broker_rules::registry::Registry;
use broker_rules::settle::{SettleOptions, Settler};
use broker_rules::statement::Explanation;
use broker_rules::trade;
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
            format!("unknown trade format {name:?} (csv, ndjson, json, parquet, arrow)"),
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
                    Error::new(ErrorCode::Options, format!("cannot tell the format of {path:?} from its extension (.csv, .ndjson, .jsonl, .json, .parquet, .arrow); pass format=")).field("format")
                })
            }) {
                Ok(f) => f,
                Err(e) => return api::error_envelope(&e),
            };
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => return api::error_envelope(&Error::new(ErrorCode::Parse, format!("cannot open {path:?}: {e}")).field("trades")),
            };
            let map = ColumnMap::default();
            run(&request, explain, |s| match fmt {
                Format::Parquet => read::arrow::feed_parquet(s, file, &map, 1, &mut |_, _| {}),
                Format::Arrow => read::arrow::feed_arrow_ipc(s, file, &map, &mut |_, _| {}),
                _ => read::feed(s, file, fmt, &mut |_, _| {}),
            })
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

/// Feeds each batch of an Arrow stream through the core's Arrow reader.
fn feed_arrow(s: &mut Settler, reader: RecordBatchStreamReader, allow_float: bool) -> Result<()> {
    let map = ColumnMap::default();
    let mut first_row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| {
            Error::new(
                ErrorCode::Parse,
                format!("cannot read the Arrow stream: {e}"),
            )
            .field("trades")
        })?;
        read::arrow::feed_record_batch(s, &batch, first_row, &map, allow_float)?;
        first_row += batch.num_rows() as u64;
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
