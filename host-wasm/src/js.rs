//! The Rust half both JavaScript packages share: the wasm-bindgen build (`bindgen.rs`, npm
//! `broker-rules-wasm`) and the napi-rs addon (`host-node`, npm `broker-rules`, which depends
//! on this crate). Like `broker_rules::api` it answers with core envelopes
//! (`{"ok":...}` / `{"error":...}`); the shared JS wrapper (`host-wasm/js/shared/api.js`)
//! turns them into values or `BrokerRulesError`.
//!
//! - [`settle_bytes`]: `settle` / `explain` over a trade log given as bytes (CSV, NDJSON, a
//!   JSON array; Arrow IPC and Parquet with the `arrow` feature), read by the core's streaming
//!   readers, with column renames. No per-trade JSON crosses the boundary.
//! - [`Settlement`]: incremental settlement over JSON batches or trade-log bytes, with
//!   partial states ([`Settlement::to_bytes`] / [`Settlement::merge`], the core's
//!   `Settler::to_bytes` / `from_bytes` + `merge`). It replaced the core's old JSON-only
//!   `incremental` module, which no host used any more.

use alloc::string::String;
use alloc::vec::Vec;
use broker_rules::api;
use broker_rules::compiled::Compiled;
use broker_rules::error::{Error, ErrorCode, Result};
use broker_rules::program::Program;
use broker_rules::read::{self, ColumnMap, Format};
use broker_rules::{Explanation, Registry, SettleOptions, Settler};
use serde_json::{Map, Value};

/// The fields of a bytes request besides the bytes themselves.
const HEAD_FIELDS: [&str; 5] = ["program", "registry", "options", "format", "columns"];

/// Worker threads for CSV and Parquet: every core (1 where threads do not exist, e.g. wasm).
pub fn threads() -> usize {
    #[cfg(target_family = "wasm")]
    {
        1
    }
    #[cfg(not(target_family = "wasm"))]
    {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
}

/// How a bytes input is read: its format (`None`: sniffed from the first bytes) and renames.
pub struct Input {
    pub format: Option<Format>,
    pub columns: ColumnMap,
}

impl Input {
    /// From a request object's `format` and `columns`.
    pub fn from_request(req: &Map<String, Value>) -> Result<Input> {
        let format = match req.get("format") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(Format::from_name(name).ok_or_else(|| {
                Error::new(
                    ErrorCode::Options,
                    alloc::format!(
                        "unknown trade format {name:?} (formats: csv, ndjson, json, arrow, parquet)"
                    ),
                )
                .field("format")
            })?),
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::Field,
                    "format must be a string: csv, ndjson, json, arrow or parquet",
                )
                .field("format"))
            }
        };
        let columns = match req.get("columns") {
            None | Some(Value::Null) => ColumnMap::new(),
            Some(Value::Object(m)) => {
                let mut map = ColumnMap::new();
                for (from, to) in m {
                    match to {
                        Value::String(to) => map.insert(from, to)?,
                        _ => return Err(columns_error()),
                    }
                }
                map
            }
            Some(Value::String(s)) => ColumnMap::parse(&[s.as_str()])?,
            Some(Value::Array(a)) => {
                let specs = a
                    .iter()
                    .map(|v| v.as_str().ok_or_else(columns_error))
                    .collect::<Result<Vec<&str>>>()?;
                ColumnMap::parse(&specs)?
            }
            Some(_) => return Err(columns_error()),
        };
        Ok(Input { format, columns })
    }
}

fn columns_error() -> Error {
    Error::new(
        ErrorCode::Options,
        "columns renames input columns to trade fields: an object {\"trade_id\": \"id\", ...} or \"from=to\" strings",
    )
    .field("columns")
}

/// The format of a trade log from its first bytes, as the CLI sniffs stdin: Parquet and
/// Arrow IPC by their magic, then `[` a JSON array, `{` NDJSON, anything else CSV.
pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PAR1") {
        Format::Parquet
    } else if bytes.starts_with(b"ARROW1") || bytes.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
        Format::Arrow
    } else {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Format::Json,
            Some(b'{') => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

/// Feeds a whole trade log given as bytes to the settler, through the core's readers (CSV
/// and Parquet on `threads` workers).
pub fn feed_bytes(s: &mut Settler, bytes: &[u8], input: &Input, threads: usize) -> Result<()> {
    feed_bytes_with(s, bytes, input, threads, &mut |_, _| {})
}

/// [`feed_bytes`], reporting `(bytes read, records read)` after every block the reader takes
/// (the dashboard's progress bar).
pub fn feed_bytes_with(
    s: &mut Settler,
    bytes: &[u8],
    input: &Input,
    threads: usize,
    progress: read::Progress<'_>,
) -> Result<()> {
    let format = input.format.unwrap_or_else(|| sniff(bytes));
    if !format.supported() {
        let name = if format == Format::Parquet {
            "Parquet"
        } else {
            "Arrow IPC"
        };
        return Err(Error::new(
            ErrorCode::Options,
            alloc::format!("this build reads no {name}: the Node addon (npm broker-rules) does; broker-rules-wasm leaves Arrow IPC and Parquet out for size (pass CSV, NDJSON or JSON)"),
        )
        .field("format"));
    }
    let map = &input.columns;
    match format {
        // Bytes in memory can be read again: the same E_DUPLICATE_ID on any number of
        // threads. (The wasm build reads on one thread and keeps the plain reader.)
        #[cfg(not(target_arch = "wasm32"))]
        Format::Csv => read::csv::feed_csv_reopen(s, &bytes, map, threads, progress),
        #[cfg(target_arch = "wasm32")]
        Format::Csv => read::csv::feed_csv_with(s, bytes, map, threads, progress),
        #[cfg(feature = "arrow")]
        Format::Arrow => read::arrow::feed_arrow_ipc(s, std::io::Cursor::new(bytes), map, progress),
        #[cfg(feature = "arrow")]
        Format::Parquet => {
            read::arrow::feed_parquet_bytes(s, bytes.to_vec(), map, threads, progress)
        }
        other => read::feed_with(s, bytes, other, map, progress),
    }
}

fn only(req: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match req.keys().filter(|k| !allowed.contains(&k.as_str())).min() {
        Some(k) => Err(Error::new(
            ErrorCode::Field,
            alloc::format!(
                "unknown request field {k:?} (allowed: {})",
                allowed.join(", ")
            ),
        )
        .field(k.as_str())),
        None => Ok(()),
    }
}

/// `settle`, `explain` or `reconcile` (`function`) over a trade log given as bytes. `head` is the
/// request without its trades: `{"program", "registry"?, "options"?, "format"?,
/// "columns"?}` (`format`: csv, ndjson, json, arrow, parquet; absent: sniffed; `columns`:
/// `{"input_column": "field"}`). Returns the envelope, byte for byte what `api::settle`
/// gives for the same trades as JSON.
pub fn settle_bytes(function: &str, head: &str, bytes: &[u8], threads: usize) -> String {
    match function {
        "settle" => api::envelope(settle_value(head, bytes, threads, false)),
        "explain" => api::envelope(settle_value(head, bytes, threads, true).map(Explanation::from)),
        "reconcile" => reconcile_bytes(head, bytes, threads),
        "estimate" => estimate_bytes(head, bytes, threads, None),
        other => api::error_envelope(&Error::new(
            ErrorCode::Options,
            alloc::format!(
                "{other:?} takes no trade bytes (settle, explain, estimate and reconcile do)"
            ),
        )),
    }
}

/// `estimate` from actuals given as a trade log's bytes: `head` is estimate's request with
/// `actuals` holding `registry`?, `options`?, `format`? and `columns`? (no `trades`); the
/// bytes are read twice, once per run (as given and grown).
fn estimate_bytes(head: &str, bytes: &[u8], threads: usize, compiled: Option<&Program>) -> String {
    let parsed = api::parse_request(head).and_then(|mut req| {
        let input = match req.get_mut("actuals") {
            Some(Value::Object(a)) => {
                let input = Input::from_request(a).map_err(|e| e.within("actuals"))?;
                a.remove("format");
                a.remove("columns");
                input
            }
            _ => Input {
                format: None,
                columns: ColumnMap::new(),
            },
        };
        Ok((Value::Object(req).to_string(), input))
    });
    match parsed {
        Ok((rest, input)) => {
            api::estimate_fed(&rest, compiled, |s| feed_bytes(s, bytes, &input, threads))
        }
        Err(e) => api::error_envelope(&e),
    }
}

/// `reconcile` over a trade log given as bytes: `head` is reconcile's request without
/// `trades`, plus `format` and `columns` for the log.
fn reconcile_bytes(head: &str, bytes: &[u8], threads: usize) -> String {
    let parsed = api::parse_request(head).and_then(|mut req| {
        let input = Input::from_request(&req)?;
        req.remove("format");
        req.remove("columns");
        Ok((Value::Object(req).to_string(), input))
    });
    match parsed {
        Ok((rest, input)) => api::reconcile_fed(&rest, |s| feed_bytes(s, bytes, &input, threads)),
        Err(e) => api::error_envelope(&e),
    }
}

/// `reconcile` with the exchange's report given as bytes (a Parquet report, which is not
/// text; CSV bytes work too): `head` is reconcile's request without `report`. The trades
/// are `trades` as a trade log's bytes (read as [`settle_bytes`] reads them, with `format`
/// and `columns` from `head`), or else the JSON array under `head`'s `trades`.
pub fn reconcile_report_bytes(
    head: &str,
    trades: Option<&[u8]>,
    report: &[u8],
    threads: usize,
) -> String {
    let parsed = api::parse_request(head).and_then(|mut req| {
        let input = Input::from_request(&req)?;
        req.remove("format");
        req.remove("columns");
        let json = match trades {
            Some(_) => None,
            None => Some(req.remove("trades").ok_or_else(|| {
                Error::new(ErrorCode::Field, "missing required field trades").field("trades")
            })?),
        };
        Ok((Value::Object(req).to_string(), input, json))
    });
    match parsed {
        Ok((rest, input, json)) => {
            api::reconcile_fed_report(&rest, Some(report), |s| match (trades, json) {
                (Some(bytes), _) => feed_bytes(s, bytes, &input, threads),
                (None, Some(Value::Array(a))) => api::feed_json_trades(s, &a),
                (None, _) => Err(Error::new(
                    ErrorCode::Field,
                    "trades must be an array of trade objects, or a trade log as bytes",
                )
                .field("trades")),
            })
        }
        Err(e) => api::error_envelope(&e),
    }
}

fn settle_value(
    head: &str,
    bytes: &[u8],
    threads: usize,
    lines: bool,
) -> Result<broker_rules::Statement> {
    let req = api::parse_request(head)?;
    only(&req, &HEAD_FIELDS)?;
    let program = api::program_from(req.get("program"))?;
    settle_head(&program, &req, bytes, threads, lines)
}

fn settle_head(
    program: &Program,
    req: &Map<String, Value>,
    bytes: &[u8],
    threads: usize,
    lines: bool,
) -> Result<broker_rules::Statement> {
    let registry: Option<Registry> = api::field(req, "registry")?;
    let mut options: SettleOptions = api::field(req, "options")?.unwrap_or_default();
    options.lines |= lines;
    let input = Input::from_request(req)?;
    let mut s = Settler::new(program, registry.as_ref(), &options)?;
    feed_bytes(&mut s, bytes, &input, threads)?;
    s.finish()
}

/// `compile(program)` for both JS packages: the core's [`Compiled`] (parsed, checked and
/// hashed once), plus trade logs as bytes. A bad program is kept and reported by every call,
/// as [`Settlement`] does.
pub struct CompiledProgram(core::result::Result<Compiled, Error>);

impl CompiledProgram {
    /// `program_json`: a built-in id as a JSON string, or a program object.
    pub fn new(program_json: &str) -> CompiledProgram {
        CompiledProgram(Compiled::new(program_json))
    }

    /// `{"ok":null}` or the program's error.
    pub fn status(&self) -> String {
        match &self.0 {
            Ok(_) => String::from("{\"ok\":null}"),
            Err(e) => api::error_envelope(e),
        }
    }

    /// `settle` / `explain` / `estimate` with a request that has no `program`.
    pub fn call(&self, function: &str, request: &str) -> String {
        match &self.0 {
            Ok(c) => c.call(function, request),
            Err(e) => api::error_envelope(e),
        }
    }

    /// `settle` / `explain` over a trade log as bytes; `head`: `{"registry"?, "options"?,
    /// "format"?, "columns"?}`; `estimate`: estimate's request without `program` (see
    /// [`settle_bytes`]).
    pub fn call_bytes(&self, function: &str, head: &str, bytes: &[u8], threads: usize) -> String {
        let c = match &self.0 {
            Ok(c) => c,
            Err(e) => return api::error_envelope(e),
        };
        let lines = match function {
            "settle" => false,
            "explain" => true,
            "estimate" => return estimate_bytes(head, bytes, threads, Some(c.program())),
            other => {
                return api::error_envelope(&Error::new(
                    ErrorCode::Options,
                    alloc::format!(
                        "{other:?} takes no trade bytes (settle, explain and estimate do)"
                    ),
                ))
            }
        };
        let r = api::parse_request(head).and_then(|req| {
            only(&req, &HEAD_FIELDS[1..])?;
            settle_head(c.program(), &req, bytes, threads, lines)
        });
        if lines {
            api::envelope(r.map(Explanation::from))
        } else {
            api::envelope(r)
        }
    }
}

fn parse_value(text: &str, what: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    broker_rules::json::parse(text).map_err(|e| Error::from_json(&e, what))
}

fn finished() -> Error {
    Error::new(ErrorCode::Options, "this settlement is already finished")
}

/// Incremental settlement: batches of JSON trades or trade-log bytes, partial states out
/// ([`Settlement::to_bytes`]) and in ([`Settlement::merge`]), then the statement. Every
/// answer is an envelope; the first fatal error (construction, a strict-mode trade, a failed
/// merge) is repeated by every later call. Positions continue across batches.
pub struct Settlement {
    settler: Option<Settler>,
    line: u64,
    failed: Option<Error>,
    /// The error of the last call that answers with bytes ([`Settlement::to_bytes`]).
    last: Option<Error>,
    /// A log was read on several threads: the settler's de-duplication is shared with its
    /// (merged) forks, and the core merges such a settler only with its forks, so
    /// [`Settlement::merge`] first re-reads it from its own bytes.
    forked: bool,
}

impl Settlement {
    /// `program_json`: a built-in id as a JSON string or a program object; `options_json` and
    /// `registry_json`: objects, `null` or empty. Never fails: a bad argument is kept and
    /// reported by every call.
    pub fn new(program_json: &str, options_json: &str, registry_json: &str) -> Settlement {
        let settler = (|| {
            let program = api::program_from(Some(&parse_value(program_json, "program")?))?;
            let mut req = Map::new();
            req.insert("options".into(), parse_value(options_json, "options")?);
            req.insert("registry".into(), parse_value(registry_json, "registry")?);
            let options: SettleOptions = api::field(&req, "options")?.unwrap_or_default();
            let registry: Option<Registry> = api::field(&req, "registry")?;
            Settler::new(&program, registry.as_ref(), &options)
        })();
        let (settler, failed) = match settler {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        Settlement {
            settler,
            line: 0,
            failed,
            last: None,
            forked: false,
        }
    }

    /// `{"ok":null}` or the error that stopped this settlement.
    pub fn status(&self) -> String {
        match &self.failed {
            Some(e) => api::error_envelope(e),
            None => String::from("{\"ok\":null}"),
        }
    }

    /// Marks the settlement as failed (a host caught a panic).
    pub fn fail(&mut self, e: Error) {
        self.settler = None;
        self.failed = Some(e);
        self.last = None;
    }

    fn live(&mut self) -> Result<&mut Settler> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.settler.as_mut().ok_or_else(finished)
    }

    /// Runs `f` on the settler; an error of `f` stops the settlement.
    fn run(&mut self, f: impl FnOnce(&mut Settler, &mut u64) -> Result<()>) -> String {
        let mut line = self.line;
        let r = match self.live() {
            Ok(s) => f(s, &mut line),
            Err(e) => return api::error_envelope(&e),
        };
        self.line = line;
        match r {
            Ok(()) => api::envelope(Ok(self.settler.as_ref().map_or(0, |s| s.accepted()))),
            Err(e) => {
                let env = api::error_envelope(&e);
                self.fail(e);
                env
            }
        }
    }

    /// Feeds a JSON array of trades. `{"ok":<distinct trades accepted so far>}` or the error.
    pub fn push(&mut self, trades_json: &str) -> String {
        if self.failed.is_none() && self.settler.is_some() {
            let trades = match broker_rules::json::parse(trades_json) {
                Ok(Value::Array(a)) => a,
                Ok(_) => {
                    return api::error_envelope(
                        &Error::new(ErrorCode::Field, "push takes an array of trade objects")
                            .field("trades"),
                    )
                }
                Err(e) => return api::error_envelope(&Error::from_json(&e, "trades")),
            };
            return self.run(|s, line| {
                for t in &trades {
                    *line += 1;
                    api::feed_json_trade(s, t, *line)?;
                }
                Ok(())
            });
        }
        self.run(|_, _| Ok(()))
    }

    /// Feeds a whole trade log given as bytes; `head` is `{"format"?, "columns"?}` (JSON
    /// text, may be empty). Lines in errors and `rejected` are the log's own.
    pub fn push_bytes(&mut self, head: &str, bytes: &[u8], threads: usize) -> String {
        self.push_bytes_with(head, bytes, threads, &mut |_, _| {})
    }

    /// [`Settlement::push_bytes`], reporting `(bytes read, records read)` as the log is read.
    pub fn push_bytes_with(
        &mut self,
        head: &str,
        bytes: &[u8],
        threads: usize,
        progress: read::Progress<'_>,
    ) -> String {
        let input = api::parse_request(head).and_then(|req| {
            only(&req, &["format", "columns"])?;
            Input::from_request(&req)
        });
        match input {
            Ok(input) => {
                self.forked |= threads > 1;
                self.run(|s, _| feed_bytes_with(s, bytes, &input, threads, progress))
            }
            Err(e) => api::error_envelope(&e),
        }
    }

    /// The partial state (`Settler::to_bytes`: canonical, versioned, checksummed). Empty
    /// when there is none; [`Settlement::last_error`] says why.
    pub fn to_bytes(&mut self) -> Vec<u8> {
        let r = self.live().and_then(|s| s.to_bytes());
        match r {
            Ok(b) => {
                self.last = None;
                b
            }
            Err(e) => {
                self.last = Some(e);
                Vec::new()
            }
        }
    }

    /// The error envelope of the last [`Settlement::to_bytes`] that returned nothing (or of
    /// the error that stopped this settlement since).
    pub fn last_error(&self) -> String {
        match self.last.as_ref().or(self.failed.as_ref()) {
            Some(e) => api::error_envelope(e),
            None => String::from("{\"ok\":null}"),
        }
    }

    /// Merges a partial state from [`Settlement::to_bytes`] of a settlement of the same
    /// program, options and registry (another is `E_PARTIAL`, and this settlement goes on);
    /// `{"ok":<distinct trades accepted so far>}` or the error. An error of the merge itself
    /// (an id in both states, an overflow) stops this settlement.
    pub fn merge(&mut self, state: &[u8]) -> String {
        let other = match self.live() {
            Ok(s) => s.from_bytes(state),
            Err(e) => return api::error_envelope(&e),
        };
        if other.is_ok() && self.forked {
            // The core merges a settler whose de-duplication its forks share only with
            // those forks: continue from this settler's own state, read back (local ids).
            let own = self
                .settler
                .as_ref()
                .map(|s| s.to_bytes().and_then(|b| s.from_bytes(&b)));
            match own {
                Some(Ok(s)) => {
                    self.settler = Some(s);
                    self.forked = false;
                }
                Some(Err(e)) => return api::error_envelope(&e),
                None => {}
            }
        }
        match other {
            Ok(other) => self.run(|s, _| s.merge(other)),
            Err(e) => api::error_envelope(&e),
        }
    }

    /// The statement of the trades pushed so far, and the settlement goes on: a live view's
    /// running totals without settling again from the start (the state is copied, the trades
    /// are not read again).
    pub fn snapshot(&mut self) -> String {
        match self.live() {
            Ok(s) => api::envelope(s.clone().finish()),
            Err(e) => api::error_envelope(&e),
        }
    }

    /// The statement envelope. The settlement is spent afterwards.
    pub fn finish(&mut self) -> String {
        if let Some(e) = &self.failed {
            return api::error_envelope(e);
        }
        match self.settler.take() {
            Some(s) => api::envelope(s.finish()),
            None => api::error_envelope(&finished()),
        }
    }
}
