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
//! Partial states (`partial_text`, `partial_file`, `partial_arrow`, [`Merger`]): the same
//! inputs settled into the core's serialized state (`Settler::to_bytes`) instead of a
//! statement, so parts of one trade set settled in other processes or machines (Spark
//! executors, Dask workers) merge into the statement of the whole (`Settler::from_bytes`,
//! `Settler::merge`). These return the state as `bytes`, or the error envelope as `str`.
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
use broker_rules::Program;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};

/// Calls a JSON entry point (`settle`, `estimate`, `explain`, `validate`, `program`,
/// `programs`) with a request string; returns the canonical envelope.
#[pyfunction]
fn call(py: Python<'_>, function: String, request: String) -> String {
    py.detach(move || api::guarded(|| api::call(&function, &request)))
}

/// The one-sentence help of an error code (`E_DECIMAL`...); empty for an unknown code.
#[pyfunction]
fn error_help(code: &str) -> &'static str {
    broker_rules::error::ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .map(|c| c.help())
        .unwrap_or("")
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

fn setup(request: &str, explain: bool, compiled: Option<&Program>) -> Result<Setup> {
    let req = api::parse_request(request)?;
    let allowed: &[&str] = if compiled.is_some() {
        &["registry", "options"]
    } else {
        &["program", "registry", "options"]
    };
    if let Some(k) = req.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::new(
            ErrorCode::Field,
            format!(
                "unknown request field {k:?} (allowed: {})",
                allowed.join(", ")
            ),
        )
        .field(k.as_str()));
    }
    let program = match compiled {
        Some(p) => p.clone(),
        None => api::program_from(req.get("program"))?,
    };
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

fn settler(request: &str, explain: bool, compiled: Option<&Program>) -> Result<Settler> {
    let st = setup(request, explain, compiled)?;
    Settler::new(&st.program, st.registry.as_ref(), &st.options)
}

fn run(
    request: &str,
    explain: bool,
    compiled: Option<&Program>,
    feed: impl FnOnce(&mut Settler) -> Result<()>,
) -> String {
    let mut s = match settler(request, explain, compiled) {
        Ok(s) => s,
        Err(e) => return api::error_envelope(&e),
    };
    match feed(&mut s) {
        Ok(()) => finish(s, explain),
        Err(e) => api::error_envelope(&e),
    }
}

/// A partial state of the trades `feed` gives: its bytes, or the error envelope. A program
/// the per-trade engine settles has no partial form: that is `E_PARTIAL` before any input
/// is read.
fn run_partial(request: &str, feed: impl FnOnce(&mut Settler) -> Result<()>) -> PartialOut {
    let r = guarded_partial(|| {
        let mut s = settler(request, false, None)?;
        if !s.is_batch() {
            s.to_bytes()?;
        }
        feed(&mut s)?;
        s.to_bytes()
    });
    match r {
        Ok(b) => PartialOut::State(b),
        Err(e) => PartialOut::Error(api::error_envelope(&e)),
    }
}

/// `f` with a panic turned into `E_INTERNAL`.
fn guarded_partial<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(api::panic_error(p)))
}

/// What a partial function hands back to Python: the state's `bytes`, or the error
/// envelope `str`.
enum PartialOut {
    State(Vec<u8>),
    Error(String),
}

impl PartialOut {
    fn into_py(self, py: Python<'_>) -> Py<PyAny> {
        match self {
            PartialOut::State(b) => PyBytes::new(py, &b).into_any().unbind(),
            PartialOut::Error(e) => pyo3::types::PyString::new(py, &e).into_any().unbind(),
        }
    }
}

/// Column renames from Python's `(from, to)` pairs.
fn column_map(columns: &[(String, String)]) -> Result<ColumnMap> {
    let mut m = ColumnMap::new();
    for (from, to) in columns {
        m.insert(from, to)?;
    }
    Ok(m)
}

/// Feeds text in a format through the core's readers.
fn feed_text(
    s: &mut Settler,
    text: &str,
    format: &str,
    columns: &[(String, String)],
) -> Result<()> {
    let fmt = format_of(format)?;
    let map = column_map(columns)?;
    read::feed_with(s, text.as_bytes(), fmt, &map, &mut |_, _| {})
}

/// Feeds a file; the format comes from `format` or the file's extension.
fn feed_file(
    s: &mut Settler,
    path: &str,
    format: Option<&str>,
    columns: &[(String, String)],
) -> Result<()> {
    let fmt = match format {
        Some(f) => format_of(f)?,
        None => Format::from_path(path).ok_or_else(|| {
            Error::new(ErrorCode::Options, format!("cannot tell the format of {path:?} from its extension (.csv, .ndjson, .jsonl, .json, .parquet, .arrow); pass format=")).field("format")
        })?,
    };
    let file = std::fs::File::open(path).map_err(|e| {
        Error::new(ErrorCode::Parse, format!("cannot open {path:?}: {e}")).field("trades")
    })?;
    let map = column_map(columns)?;
    match fmt {
        Format::Parquet => read::arrow::feed_parquet(s, file, &map, 1, &mut |_, _| {}),
        Format::Arrow => read::arrow::feed_arrow_ipc(s, file, &map, &mut |_, _| {}),
        _ => read::feed_with(s, file, fmt, &map, &mut |_, _| {}),
    }
}

/// `compile(program)`: the program parsed, checked and hashed once (the core's `Compiled`).
/// `call` answers `settle` / `explain` / `estimate` requests without a `program` field; the
/// `settle_*` functions take it as `compiled=` for text, files and Arrow streams.
#[pyclass(frozen, module = "broker_rules._native")]
struct Compiled(broker_rules::compiled::Compiled);

#[pymethods]
impl Compiled {
    /// `program_json`: a built-in id as a JSON string, or a program object; raises nothing:
    /// a bad program is `None` from `new` plus the envelope from `error` (see `make`).
    #[staticmethod]
    fn make(program_json: String) -> (Option<Compiled>, Option<String>) {
        match std::panic::catch_unwind(|| broker_rules::compiled::Compiled::new(&program_json)) {
            Ok(Ok(c)) => (Some(Compiled(c)), None),
            Ok(Err(e)) => (None, Some(api::error_envelope(&e))),
            Err(p) => (None, Some(api::error_envelope(&api::panic_error(p)))),
        }
    }

    /// The envelope of `function` (`settle`, `explain`, `estimate`) for a request without
    /// `program`.
    fn call(&self, py: Python<'_>, function: String, request: String) -> String {
        let c = &self.0;
        py.detach(|| api::guarded(|| c.call(&function, &request)))
    }
}

/// Takes the Arrow C stream out of the capsule of `__arrow_c_stream__()`, leaving a released
/// stream for the capsule's destructor.
fn take_stream(stream: &Bound<'_, PyAny>) -> PyResult<FFI_ArrowArrayStream> {
    let capsule = stream.cast::<PyCapsule>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("expected the PyCapsule of __arrow_c_stream__()")
    })?;
    let name: &CStr = c"arrow_array_stream";
    let ptr = capsule.pointer_checked(Some(name))?;
    let raw = ptr.as_ptr() as *mut FFI_ArrowArrayStream;
    Ok(unsafe { std::ptr::replace(raw, FFI_ArrowArrayStream::empty()) })
}

/// Feeds an Arrow C stream.
fn feed_stream(
    s: &mut Settler,
    ffi: FFI_ArrowArrayStream,
    allow_float: bool,
    columns: &[(String, String)],
) -> Result<()> {
    let reader = RecordBatchStreamReader::try_new(ffi).map_err(|e| {
        Error::new(
            ErrorCode::Parse,
            format!("cannot read the Arrow stream: {e}"),
        )
        .field("trades")
    })?;
    let map = column_map(columns)?;
    feed_arrow(s, reader, allow_float, &map)
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

/// Settles (or explains) trades given as CSV, NDJSON or JSON-array text. `columns` renames
/// input columns to trade fields (`(from, to)` pairs).
#[pyfunction]
#[pyo3(signature = (request, text, format, explain, columns=Vec::new(), compiled=None))]
fn settle_text(
    py: Python<'_>,
    request: String,
    text: String,
    format: String,
    explain: bool,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> String {
    let program = compiled.map(|c| c.0.program().clone());
    py.detach(move || {
        api::guarded(|| {
            run(&request, explain, program.as_ref(), |s| {
                feed_text(s, &text, &format, &columns)
            })
        })
    })
}

/// Settles (or explains) trades read from a file; the format comes from `format` or the
/// file's extension.
#[pyfunction]
#[pyo3(signature = (request, path, format, explain, columns=Vec::new(), compiled=None))]
fn settle_file(
    py: Python<'_>,
    request: String,
    path: String,
    format: Option<String>,
    explain: bool,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> String {
    let program = compiled.map(|c| c.0.program().clone());
    py.detach(move || {
        api::guarded(|| {
            run(&request, explain, program.as_ref(), |s| {
                feed_file(s, &path, format.as_deref(), &columns)
            })
        })
    })
}

/// Settles (or explains) an Arrow stream: `stream` is the PyCapsule returned by an object's
/// `__arrow_c_stream__()`. `allow_float` converts float columns in decimal fields through
/// each value's shortest round-trip text; off, such a column is an `E_DECIMAL` error.
#[pyfunction]
#[pyo3(signature = (request, stream, explain, allow_float, columns=Vec::new(), compiled=None))]
fn settle_arrow(
    py: Python<'_>,
    request: String,
    stream: &Bound<'_, PyAny>,
    explain: bool,
    allow_float: bool,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> PyResult<String> {
    let ffi = take_stream(stream)?;
    let program = compiled.map(|c| c.0.program().clone());
    Ok(py.detach(move || {
        api::guarded(|| {
            run(&request, explain, program.as_ref(), |s| {
                feed_stream(s, ffi, allow_float, &columns)
            })
        })
    }))
}

/// `estimate` from actuals given as CSV, NDJSON or JSON-array text: `request` is
/// estimate's with `actuals` holding only `registry`? and `options`? (the core's
/// `api::estimate_fed`); the text is read twice, once per run.
#[pyfunction]
#[pyo3(signature = (request, text, format, columns=Vec::new(), compiled=None))]
fn estimate_text(
    py: Python<'_>,
    request: String,
    text: String,
    format: String,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> String {
    let program = compiled.map(|c| c.0.program().clone());
    py.detach(move || {
        api::guarded(|| {
            api::estimate_fed(&request, program.as_ref(), |s| {
                feed_text(s, &text, &format, &columns)
            })
        })
    })
}

/// `estimate` from actuals read from a file (read twice, once per run).
#[pyfunction]
#[pyo3(signature = (request, path, format, columns=Vec::new(), compiled=None))]
fn estimate_file(
    py: Python<'_>,
    request: String,
    path: String,
    format: Option<String>,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> String {
    let program = compiled.map(|c| c.0.program().clone());
    py.detach(move || {
        api::guarded(|| {
            api::estimate_fed(&request, program.as_ref(), |s| {
                feed_file(s, &path, format.as_deref(), &columns)
            })
        })
    })
}

/// `estimate` from actuals in an Arrow stream: the stream is read once into its record
/// batches (they are shared, not copied), which both runs read.
#[pyfunction]
#[pyo3(signature = (request, stream, allow_float, columns=Vec::new(), compiled=None))]
fn estimate_arrow(
    py: Python<'_>,
    request: String,
    stream: &Bound<'_, PyAny>,
    allow_float: bool,
    columns: Vec<(String, String)>,
    compiled: Option<PyRef<'_, Compiled>>,
) -> PyResult<String> {
    let ffi = take_stream(stream)?;
    let program = compiled.map(|c| c.0.program().clone());
    Ok(py.detach(move || {
        api::guarded(|| {
            let mut batches = Vec::new();
            let mut failed: Option<String> = None;
            match RecordBatchStreamReader::try_new(ffi) {
                Ok(reader) => {
                    for b in reader {
                        match b {
                            Ok(b) => batches.push(b),
                            Err(e) => {
                                failed = Some(e.to_string());
                                break;
                            }
                        }
                    }
                }
                Err(e) => failed = Some(e.to_string()),
            }
            api::estimate_fed(&request, program.as_ref(), |s| {
                let map = column_map(&columns)?;
                let items = batches.iter().cloned().map(Ok).chain(
                    failed
                        .iter()
                        .map(|m| Err(arrow_schema::ArrowError::ExternalError(m.clone().into()))),
                );
                read::arrow::feed_batches(s, items, &map, allow_float, &mut |_, _| {})
            })
        })
    }))
}

/// `reconcile` of trades given as CSV, NDJSON or JSON-array text with column renames; the
/// request is reconcile's without `trades` and `format`.
#[pyfunction]
#[pyo3(signature = (request, text, format, columns=Vec::new(), report=None))]
fn reconcile_text(
    py: Python<'_>,
    request: String,
    text: String,
    format: String,
    columns: Vec<(String, String)>,
    report: Option<Vec<u8>>,
) -> String {
    py.detach(move || {
        api::guarded(|| {
            api::reconcile_fed_report(&request, report.as_deref(), |s| {
                feed_text(s, &text, &format, &columns)
            })
        })
    })
}

/// `reconcile` of trades read from a file (any trade format, Parquet included); the request
/// is reconcile's without `trades` and `format`.
#[pyfunction]
#[pyo3(signature = (request, path, format, columns=Vec::new(), report=None))]
fn reconcile_file(
    py: Python<'_>,
    request: String,
    path: String,
    format: Option<String>,
    columns: Vec<(String, String)>,
    report: Option<Vec<u8>>,
) -> String {
    py.detach(move || {
        api::guarded(|| {
            api::reconcile_fed_report(&request, report.as_deref(), |s| {
                feed_file(s, &path, format.as_deref(), &columns)
            })
        })
    })
}

/// `reconcile` of trades given as an Arrow stream (a DataFrame's `__arrow_c_stream__()`).
#[pyfunction]
#[pyo3(signature = (request, stream, allow_float, columns=Vec::new(), report=None))]
fn reconcile_arrow(
    py: Python<'_>,
    request: String,
    stream: &Bound<'_, PyAny>,
    allow_float: bool,
    columns: Vec<(String, String)>,
    report: Option<Vec<u8>>,
) -> PyResult<String> {
    let ffi = take_stream(stream)?;
    Ok(py.detach(move || {
        api::guarded(|| {
            api::reconcile_fed_report(&request, report.as_deref(), |s| {
                feed_stream(s, ffi, allow_float, &columns)
            })
        })
    }))
}

/// The partial state of trades given as CSV, NDJSON or JSON-array text: `bytes`, or the
/// error envelope (`str`).
#[pyfunction]
#[pyo3(signature = (request, text, format, columns=Vec::new()))]
fn partial_text(
    py: Python<'_>,
    request: String,
    text: String,
    format: String,
    columns: Vec<(String, String)>,
) -> Py<PyAny> {
    py.detach(move || run_partial(&request, |s| feed_text(s, &text, &format, &columns)))
        .into_py(py)
}

/// The partial state of the trades of a file.
#[pyfunction]
#[pyo3(signature = (request, path, format, columns=Vec::new()))]
fn partial_file(
    py: Python<'_>,
    request: String,
    path: String,
    format: Option<String>,
    columns: Vec<(String, String)>,
) -> Py<PyAny> {
    py.detach(move || {
        run_partial(&request, |s| {
            feed_file(s, &path, format.as_deref(), &columns)
        })
    })
    .into_py(py)
}

/// The partial state of an Arrow stream (the capsule of `__arrow_c_stream__()`).
#[pyfunction]
#[pyo3(signature = (request, stream, allow_float, columns=Vec::new()))]
fn partial_arrow(
    py: Python<'_>,
    request: String,
    stream: &Bound<'_, PyAny>,
    allow_float: bool,
    columns: Vec<(String, String)>,
) -> PyResult<Py<PyAny>> {
    let ffi = take_stream(stream)?;
    Ok(py
        .detach(move || run_partial(&request, |s| feed_stream(s, ffi, allow_float, &columns)))
        .into_py(py))
}

/// Merges partial states, one at a time, into one settlement (the request's program,
/// registry and options: a state made under others is `E_PARTIAL`). Then either its state
/// (`to_bytes`, for a tree reduction) or its statement (`finish`). Errors come back as the
/// envelope `str`; after one, or after `finish`, the merger refuses further use.
#[pyclass(module = "broker_rules._native")]
struct Merger {
    acc: Option<Settler>,
    error: Option<String>,
    states: u64,
}

const MERGER_DONE: &str = "this merger has finished or failed; make a new one";

impl Merger {
    fn done() -> String {
        api::error_envelope(&Error::new(ErrorCode::Partial, MERGER_DONE))
    }
}

#[pymethods]
impl Merger {
    /// A merger for the request's settlement (`{"program", "registry"?, "options"?}`). An
    /// invalid request is reported by the first `add`, `to_bytes` or `finish`.
    #[new]
    fn new(py: Python<'_>, request: String) -> Self {
        let r = py.detach(move || {
            guarded_partial(|| {
                let s = settler(&request, false, None)?;
                if !s.is_batch() {
                    s.to_bytes()?;
                }
                Ok(s)
            })
        });
        match r {
            Ok(s) => Merger {
                acc: Some(s),
                error: None,
                states: 0,
            },
            Err(e) => Merger {
                acc: None,
                error: Some(api::error_envelope(&e)),
                states: 0,
            },
        }
    }

    /// Merges one state; `None`, or the error envelope (the merger is then unusable).
    fn add(&mut self, py: Python<'_>, state: &[u8]) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        let Some(mut acc) = self.acc.take() else {
            return Some(Merger::done());
        };
        let r = py.detach(|| {
            guarded_partial(|| {
                let other = acc.from_bytes(state)?;
                acc.merge(other)?;
                Ok(acc)
            })
        });
        match r {
            Ok(acc) => {
                self.acc = Some(acc);
                self.states += 1;
                None
            }
            Err(e) => {
                let env = api::error_envelope(&e);
                self.error = Some(env.clone());
                Some(env)
            }
        }
    }

    /// How many states were merged.
    #[getter]
    fn states(&self) -> u64 {
        self.states
    }

    /// The merged state's bytes (the merger stays usable), or the error envelope.
    fn to_bytes(&self, py: Python<'_>) -> Py<PyAny> {
        let out = match (&self.error, &self.acc) {
            (Some(e), _) => PartialOut::Error(e.clone()),
            (None, None) => PartialOut::Error(Merger::done()),
            (None, Some(acc)) => match py.detach(|| guarded_partial(|| acc.to_bytes())) {
                Ok(b) => PartialOut::State(b),
                Err(e) => PartialOut::Error(api::error_envelope(&e)),
            },
        };
        out.into_py(py)
    }

    /// The statement of everything merged (the envelope); the merger is then used up.
    fn finish(&mut self, py: Python<'_>) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        let Some(acc) = self.acc.take() else {
            return Merger::done();
        };
        self.error = Some(Merger::done());
        py.detach(move || api::guarded(|| finish(acc, false)))
    }
}

/// Feeds an Arrow stream through the core's Arrow reader (small batches, e.g. Spark's
/// 10,000-row ones, are settled together; errors name the row across the whole stream).
fn feed_arrow(
    s: &mut Settler,
    reader: RecordBatchStreamReader,
    allow_float: bool,
    map: &ColumnMap,
) -> Result<()> {
    read::arrow::feed_batches(s, reader, map, allow_float, &mut |_, _| {})
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(call, m)?)?;
    m.add_function(wrap_pyfunction!(error_help, m)?)?;
    m.add_function(wrap_pyfunction!(settle_text, m)?)?;
    m.add_function(wrap_pyfunction!(settle_file, m)?)?;
    m.add_function(wrap_pyfunction!(settle_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_text, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_file, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(reconcile_text, m)?)?;
    m.add_function(wrap_pyfunction!(reconcile_file, m)?)?;
    m.add_function(wrap_pyfunction!(reconcile_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(partial_text, m)?)?;
    m.add_function(wrap_pyfunction!(partial_file, m)?)?;
    m.add_function(wrap_pyfunction!(partial_arrow, m)?)?;
    m.add_class::<Merger>()?;
    m.add_class::<Compiled>()?;
    m.add_function(wrap_pyfunction!(engine_version, m)?)?;
    m.add_function(wrap_pyfunction!(trade_fields, m)?)?;
    Ok(())
}
