//! The JSON-string entry points every host calls: one request in, one envelope out,
//! `{"ok": <result>}` or `{"error": {"code", "message", "location"}}`. Hosts convert their
//! own values to and from this JSON and nothing else, which is what makes the bytes the same
//! in the browser, Node, Python, the CLI and the wasmtime runner.
//!
//! Requests:
//! - `settle` / `explain`: `{"program": "<id>" | {program}, "trades": [...],
//!   "registry": {...}?, "options": {"from", "to", "lines", "strict"}?}`; `trades` may also
//!   be a trade log's text with `"format": "csv" | "ndjson" | "json"`, read by the same
//!   readers as files (std builds), so CSV and NDJSON errors are data every host replays.
//! - `estimate`: `{"program": ..., "scenario": {...}}`, or from actuals:
//!   `{"program": ..., "actuals": {"trades", "format"?, "registry"?, "options"?},
//!   "growth": "0.2" | "20%", "broker"?: "<code>"}` (`actuals` holds settle's fields; the
//!   trades are settled as given and with every notional and fee times `1 + growth`)
//! - `validate`: `{"program": ...}` | `{"trades": [...], "program"?, "options"?}` | `{"registry": {...}}`
//! - `program`: `{"id": "backpack"}`; `programs`: `{}` (or empty input)
//! - `reconcile`: settle's fields (`program`, `trades`, `format`?, `registry`?, `options`?;
//!   lines are always on) and `"report": "<CSV text>"`, `"report_format": "<built-in name>" |
//!   {format}` (default `generic`), `"map": {"column": "field"}`?, `"by": "trade" | "order" |
//!   "account-day" | "period"`, `"tolerance": "<decimal>"`? (default one unit of the
//!   program's currency scale), `"all": bool`?, `"broker": "<code>"`? (the report's broker).

use crate::builtin;
use crate::error::{Error, ErrorCode, Result};
use crate::estimate::{self, Scenario};
use crate::program::{Program, ProgramSpec};
use crate::registry::Registry;
use crate::settle::{SettleOptions, Settler};
use crate::statement::{Explanation, ProgramInfo, Statement, Validation};
use crate::trade;
use crate::whatif::{self, WhatIf};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The names of the entry points, as `call` accepts them.
pub const FUNCTIONS: [&str; 7] = [
    "settle",
    "estimate",
    "explain",
    "validate",
    "programs",
    "program",
    "reconcile",
];

/// Wraps a result in the canonical envelope.
pub fn envelope<T: Serialize>(r: Result<T>) -> String {
    let body = r.and_then(|v| {
        serde_json::to_string(&v).map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot serialize the result: {e}"),
            )
        })
    });
    match body {
        // One copy into a buffer of the final size (`format!` grew its buffer step by step).
        Ok(s) => {
            let mut out = String::with_capacity(s.len() + 7);
            out.push_str("{\"ok\":");
            out.push_str(&s);
            out.push('}');
            out
        }
        Err(e) => error_envelope(&e),
    }
}

/// `estimate`'s envelope, the bytes of [`envelope`]: a scenario's estimate is written by
/// [`estimate::Estimate::write_json`] (a dashboard calls this on every keystroke).
pub(crate) fn estimate_envelope(r: Result<Estimated>) -> String {
    match r {
        Ok(Estimated::Scenario(e)) => {
            let mut out = String::with_capacity(4096);
            out.push_str("{\"ok\":");
            e.write_json(&mut out);
            out.push('}');
            out
        }
        Ok(Estimated::Actuals(w)) => envelope(Ok(w)),
        Err(e) => error_envelope(&e),
    }
}

pub fn error_envelope(e: &Error) -> String {
    let body = serde_json::to_string(e).unwrap_or_else(|_| {
        String::from("{\"code\":\"E_INTERNAL\",\"message\":\"unserializable error\"}")
    });
    format!("{{\"error\":{body}}}")
}

/// Dispatches by function name.
pub fn call(function: &str, request: &str) -> String {
    match function {
        "settle" => settle(request),
        "estimate" => estimate(request),
        "explain" => explain(request),
        "validate" => validate(request),
        "programs" => programs(),
        "program" => program(request),
        "reconcile" => reconcile(request),
        other => error_envelope(&Error::new(
            ErrorCode::Options,
            format!(
                "unknown function {other:?} (known: {})",
                FUNCTIONS.join(", ")
            ),
        )),
    }
}

pub fn settle(request: &str) -> String {
    envelope(settle_value(request))
}

pub fn explain(request: &str) -> String {
    envelope(explain_value(request))
}

pub fn estimate(request: &str) -> String {
    let parsed = parse_request(request).and_then(|req| {
        only(&req, &ESTIMATE_FIELDS)?;
        let program = program_from(req.get("program"))?;
        Ok((req, program))
    });
    match parsed {
        // The estimate borrows the program's names, so it is written while the program lives.
        Ok((req, program)) => estimate_envelope(estimate_parsed(&program, &req)),
        Err(e) => error_envelope(&e),
    }
}

pub fn validate(request: &str) -> String {
    envelope(validate_value(request))
}

pub fn reconcile(request: &str) -> String {
    envelope(reconcile_value(request))
}

pub fn programs() -> String {
    envelope(Ok(program_list()))
}

pub fn program(request: &str) -> String {
    envelope(program_value(request))
}

/// Summaries of the built-in programs.
pub fn program_list() -> Vec<ProgramInfo> {
    builtin::programs()
        .iter()
        .map(|p| {
            let s = p.spec();
            ProgramInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                version: s.version.clone(),
                sha256: p.sha256().into(),
                currency: s.settlement.currency.clone(),
                notes: s.notes.clone(),
            }
        })
        .collect()
}

/// Parses a request object.
pub fn parse_request(request: &str) -> Result<Map<String, Value>> {
    let text = if request.trim().is_empty() {
        "{}"
    } else {
        request
    };
    match crate::json::parse(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::new(
            ErrorCode::Parse,
            "the request must be a JSON object",
        )),
        Err(e) => Err(Error::from_json(&e, "request")),
    }
}

/// An error naming the first field of `req` not in `allowed`.
pub(crate) fn only_fields(req: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    only(req, allowed)
}

fn only(req: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match req.keys().filter(|k| !allowed.contains(&k.as_str())).min() {
        Some(k) => Err(Error::new(
            ErrorCode::Field,
            format!(
                "unknown request field {k:?} (allowed: {})",
                allowed.join(", ")
            ),
        )
        .field(k.as_str())),
        None => Ok(()),
    }
}

/// Reads a typed value from a request field.
pub fn field<T: DeserializeOwned>(req: &Map<String, Value>, name: &str) -> Result<Option<T>> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(|e| typed_error(name, &e, v)),
    }
}

/// The error for a request argument (`program`, `registry`, `scenario`, `options`) that does
/// not deserialize. A decimal given as a JSON number or as a malformed string is `E_DECIMAL`
/// naming the field's path (`program.tiers.levels[0].rates.rate`), exactly as in a trade, so
/// one mistake gets one code wherever it is; anything else is `E_FIELD` naming the argument.
pub fn typed_error(name: &str, e: &serde_json::Error, v: &Value) -> Error {
    let message = format!("{name}: {e}");
    let mut path = String::from(name);
    if decimal_at(v, &message, &mut path) {
        Error::new(ErrorCode::Decimal, message).field(path)
    } else {
        Error::new(ErrorCode::Field, message).field(name)
    }
}

/// Fields of the request arguments that are JSON integers, not decimals.
const INTEGER_FIELDS: [&str; 5] = [
    "credit_delay_minutes",
    "scale",
    "days",
    "active_clients",
    "vip",
];

/// Finds (depth first) the value the decimal error in `message` is about: a JSON number the
/// message quotes (`got the number 0.5`), or a string the message quotes that is not a
/// decimal. `path` is extended to it.
fn decimal_at(v: &Value, message: &str, path: &mut String) -> bool {
    match v {
        Value::Number(n) => message.contains(&format!("got the number {n}:")),
        Value::String(t) => {
            message.contains(&format!("{t:?} ")) && crate::money::parse_rate_or_decimal(t).is_err()
        }
        Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = decimal_at(x, message, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(o) => o.iter().any(|(k, x)| {
            if x.is_number() && INTEGER_FIELDS.contains(&k.as_str()) {
                return false;
            }
            let len = path.len();
            path.push('.');
            path.push_str(k);
            let found = decimal_at(x, message, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

/// A program given as a built-in id or as a program object.
pub fn program_from(v: Option<&Value>) -> Result<Program> {
    match v {
        Some(Value::String(id)) => builtin::program(id),
        Some(v @ Value::Object(_)) => {
            let spec = ProgramSpec::deserialize(v).map_err(|e| typed_error("program", &e, v))?;
            Program::new(spec)
        }
        Some(_) => Err(Error::new(
            ErrorCode::Field,
            "program must be a built-in id or a program object",
        )
        .field("program")),
        None => {
            Err(Error::new(ErrorCode::Field, "missing required field program").field("program"))
        }
    }
}
use serde::Deserialize;

/// Feeds a JSON array of trade objects; `line` is the 1-based position.
pub fn feed_json_trades(s: &mut Settler, trades: &[Value]) -> Result<()> {
    for (i, v) in trades.iter().enumerate() {
        feed_json_trade(s, v, i as u64 + 1)?;
    }
    Ok(())
}

/// Feeds one JSON trade object found at 1-based position (or line) `line`.
pub fn feed_json_trade(s: &mut Settler, v: &Value, line: u64) -> Result<()> {
    let strict = s.strict();
    match v {
        Value::Object(obj) => {
            let mut unknown = 0;
            match trade::from_json_object(obj, &mut unknown, strict) {
                Ok(t) => s.push(&t, Some(line))?,
                Err(e) => s.reject(obj.get("id").and_then(|v| v.as_str()), Some(line), e)?,
            }
            s.note_unknown_fields(unknown);
            Ok(())
        }
        _ => s.reject(
            None,
            Some(line),
            Error::new(ErrorCode::Field, "a trade must be a JSON object"),
        ),
    }
}

/// The request fields `settle`, `explain` and `validate` take.
const SETTLE_FIELDS: [&str; 5] = ["program", "trades", "registry", "options", "format"];

/// A request's trades: a JSON array of trade objects, or a trade log's text in a `format`.
enum Trades<'a> {
    Json(&'a [Value]),
    Text(&'a str, &'a str),
}

fn trades_in(req: &Map<String, Value>) -> Result<Trades<'_>> {
    let format = match req.get("format") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => Some(f.as_str()),
        Some(_) => {
            return Err(Error::new(
                ErrorCode::Field,
                "format must be a string: csv, ndjson or json",
            )
            .field("format"))
        }
    };
    match (req.get("trades"), format) {
        (Some(Value::String(t)), Some(f)) => Ok(Trades::Text(t, f)),
        (Some(Value::String(_)), None) => Err(Error::new(
            ErrorCode::Field,
            "trades is text: say how to read it with \"format\": \"csv\", \"ndjson\" or \"json\" (or pass an array of trade objects)",
        )
        .field("format")),
        (_, Some(_)) if !matches!(req.get("trades"), None | Some(Value::Null)) => Err(Error::new(
            ErrorCode::Field,
            "format applies to trades given as text; trades here is not a string",
        )
        .field("format")),
        _ => trades_of(req).map(Trades::Json),
    }
}

/// Feeds a request's trades, whichever form they take.
fn feed_trades(s: &mut Settler, trades: &Trades<'_>) -> Result<()> {
    match trades {
        Trades::Json(a) => feed_json_trades(s, a),
        Trades::Text(text, format) => feed_text(s, text, format),
    }
}

#[cfg(feature = "std")]
fn feed_text(s: &mut Settler, text: &str, format: &str) -> Result<()> {
    use crate::read::{feed_with, ColumnMap, Format};
    let f = match Format::from_name(format) {
        Some(f @ (Format::Csv | Format::Ndjson | Format::Json)) => f,
        Some(_) => {
            return Err(Error::new(
                ErrorCode::Options,
                format!("format {format:?} is binary: pass Arrow IPC or Parquet as bytes through a host (CLI file, Node Buffer, Python bytes), not as request text"),
            )
            .field("format"))
        }
        None => {
            return Err(Error::new(
                ErrorCode::Options,
                format!("unknown trade format {format:?} (text formats: csv, ndjson, json)"),
            )
            .field("format"))
        }
    };
    feed_with(s, text.as_bytes(), f, &ColumnMap::default(), &mut |_, _| {})
}

#[cfg(not(feature = "std"))]
fn feed_text(_: &mut Settler, _: &str, _: &str) -> Result<()> {
    Err(Error::new(
        ErrorCode::Options,
        "this build of broker-rules has no trade-log readers (the std feature); pass trades as an array",
    )
    .field("format"))
}

fn trades_of(req: &Map<String, Value>) -> Result<&[Value]> {
    match req.get("trades") {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) => Ok(&[]),
        Some(_) => Err(
            Error::new(ErrorCode::Field, "trades must be an array of trade objects")
                .field("trades"),
        ),
    }
}

fn settle_value(request: &str) -> Result<Statement> {
    let req = parse_request(request)?;
    only(&req, &SETTLE_FIELDS)?;
    let program = program_from(req.get("program"))?;
    settle_parsed(&program, &req)
}

/// `settle` of a parsed request under a program already built (the request's `program`, if
/// any, is not read: callers check the request's fields).
pub(crate) fn settle_parsed(program: &Program, req: &Map<String, Value>) -> Result<Statement> {
    let registry: Option<Registry> = field(req, "registry")?;
    let options: SettleOptions = field(req, "options")?.unwrap_or_default();
    let trades = trades_in(req)?;
    let mut s = Settler::new(program, registry.as_ref(), &options)?;
    feed_trades(&mut s, &trades)?;
    s.finish()
}

/// Sets `options.lines` (explain is settle with lines, reshaped).
pub(crate) fn with_lines(req: &mut Map<String, Value>) {
    let options = req
        .entry("options")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(o) = options {
        o.insert("lines".into(), Value::Bool(true));
    }
}

/// How a request's trades are settled by [`settle_with`] (conformance runners use it to
/// show every path gives the same bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Always the per-trade engine.
    PerTrade,
    /// The trades split into `parts` partial states by a hash of their id (so an id's copies
    /// meet in one state), each state serialized and read back, then merged in an order
    /// drawn from `seed`. Programs the batch engine does not take settle as one.
    Partitioned { parts: usize, seed: u64 },
}

/// `settle`, through another path; the envelope must equal [`settle`]'s byte for byte.
#[doc(hidden)]
pub fn settle_with(request: &str, path: Path) -> String {
    envelope(settle_path(request, path))
}

fn settle_path(request: &str, path: Path) -> Result<Statement> {
    use crate::settle::EngineChoice;
    let req = parse_request(request)?;
    only(&req, &SETTLE_FIELDS)?;
    // The same order of checks as `settle_parsed`, so the first error is the same.
    let program = program_from(req.get("program"))?;
    let registry: Option<Registry> = field(&req, "registry")?;
    let options: SettleOptions = field(&req, "options")?.unwrap_or_default();
    let trades = match trades_in(&req)? {
        Trades::Json(a) => a,
        // A trade log's text is read as one stream.
        text @ Trades::Text(..) => {
            let mut s = Settler::new(&program, registry.as_ref(), &options)?;
            feed_trades(&mut s, &text)?;
            return s.finish();
        }
    };
    let (parts, seed) = match path {
        Path::PerTrade => {
            let mut s = Settler::with_engine(
                &program,
                registry.as_ref(),
                &options,
                EngineChoice::PerTrade,
            )?;
            feed_json_trades(&mut s, trades)?;
            return s.finish();
        }
        Path::Partitioned { parts, seed } => (parts.max(1), seed),
    };
    let mut base = Settler::new(&program, registry.as_ref(), &options)?;
    if !base.is_batch() {
        feed_json_trades(&mut base, trades)?;
        return base.finish();
    }
    let mut states: Vec<Settler> = Vec::with_capacity(parts);
    for _ in 0..parts {
        states.push(Settler::new(&program, registry.as_ref(), &options)?);
    }
    let mut first_error: Option<(u64, Error)> = None;
    let mut stopped = alloc::vec![false; parts];
    for (i, v) in trades.iter().enumerate() {
        let line = i as u64 + 1;
        let key = match v.get("id") {
            Some(Value::String(id)) => xxhash_rust::xxh3::xxh3_64(id.as_bytes()),
            _ => line,
        };
        let part = ((key ^ seed) % parts as u64) as usize;
        if stopped[part] {
            continue;
        }
        if let Err(e) = feed_json_trade(&mut states[part], v, line) {
            stopped[part] = true;
            if first_error.as_ref().is_none_or(|(l, _)| line < *l) {
                first_error = Some((line, e));
            }
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    let mut bytes = Vec::with_capacity(parts);
    for s in &states {
        bytes.push(s.to_bytes()?);
    }
    // A seeded shuffle of the merge order.
    let mut order: Vec<usize> = (0..parts).collect();
    let mut x = seed | 1;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for i in order {
        let s = base.from_bytes(&bytes[i])?;
        base.merge(s)?;
    }
    base.finish()
}

/// The request fields of `reconcile`.
#[cfg(feature = "std")]
const RECONCILE_FIELDS: [&str; 12] = [
    "program",
    "trades",
    "registry",
    "options",
    "format",
    "report",
    "report_format",
    "map",
    "by",
    "tolerance",
    "all",
    "broker",
];

/// The reconciliation's own arguments of a request: the report's text, its format (with
/// `map` applied) and the options. Checked before any trade is settled.
#[cfg(feature = "std")]
/// `given`: the host passes the report's bytes beside the request (no `report` in it).
fn reconcile_args(
    req: &Map<String, Value>,
    given: bool,
) -> Result<(
    String,
    crate::reconcile::ReportFormat,
    crate::reconcile::ReconcileOptions,
)> {
    use crate::reconcile::{Level, ReconcileOptions, ReportFormat};
    use alloc::collections::BTreeMap;
    let report = match req.get("report") {
        Some(Value::String(t)) => t.clone(),
        None if given => String::new(),
        None | Some(Value::Null) => {
            return Err(Error::new(
                ErrorCode::Field,
                "missing required field report (the exchange's report as CSV text)",
            )
            .field("report"))
        }
        Some(_) => {
            return Err(Error::new(
                ErrorCode::Field,
                "report must be the exchange's report as CSV text",
            )
            .field("report"))
        }
    };
    let format = match req.get("report_format") {
        None | Some(Value::Null) => ReportFormat::builtin("generic")?,
        Some(Value::String(name)) => ReportFormat::builtin(name)?,
        Some(v @ Value::Object(_)) => {
            ReportFormat::deserialize(v).map_err(|e| typed_error("report_format", &e, v))?
        }
        Some(_) => {
            return Err(Error::new(
                ErrorCode::Field,
                "report_format must be a built-in format name or a format object",
            )
            .field("report_format"))
        }
    };
    let map: BTreeMap<String, String> = field(req, "map")?.unwrap_or_default();
    let format = format.with_map(&map)?;
    format.offset_minutes()?;
    let by = match req.get("by") {
        Some(Value::String(b)) => Level::deserialize(Value::String(b.clone())).map_err(|_| {
            Error::new(
                ErrorCode::Options,
                format!("by {b:?} is not a level (trade, order, account-day, period)"),
            )
            .field("by")
        })?,
        _ => {
            return Err(Error::new(
                ErrorCode::Field,
                "missing required field by (trade, order, account-day or period)",
            )
            .field("by"))
        }
    };
    let tolerance = match req.get("tolerance") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(crate::money::parse(t).map_err(|e| e.field("tolerance"))?),
        Some(v) => {
            return Err(Error::new(
                ErrorCode::Decimal,
                format!("tolerance must be a decimal string such as \"0.00000001\", got {v}"),
            )
            .field("tolerance"))
        }
    };
    let options = ReconcileOptions {
        by,
        tolerance,
        all: field(req, "all")?.unwrap_or(false),
        broker: field(req, "broker")?,
    };
    Ok((report, format, options))
}

#[cfg(feature = "std")]
fn reconcile_value(request: &str) -> Result<crate::reconcile::Reconciliation> {
    reconcile_engine(request, crate::settle::EngineChoice::Auto, 1)
}

/// `reconcile` with the per-trade engine's lines as our side, whatever the program; the
/// envelope must equal [`reconcile`]'s byte for byte (conformance runners check it).
#[doc(hidden)]
#[cfg(feature = "std")]
pub fn reconcile_per_trade(request: &str) -> String {
    envelope(reconcile_engine(
        request,
        crate::settle::EngineChoice::PerTrade,
        1,
    ))
}

/// `reconcile` with a JSON array of trades dealt round-robin to `parts` forks of one
/// settlement (as the CLI's reader threads do), merged back before the keys are priced;
/// the envelope must equal [`reconcile`]'s byte for byte.
#[doc(hidden)]
#[cfg(feature = "std")]
pub fn reconcile_forked(request: &str, parts: usize) -> String {
    envelope(reconcile_engine(
        request,
        crate::settle::EngineChoice::Auto,
        parts,
    ))
}

/// `reconcile` on one engine choice; a JSON array of trades is dealt to `parts` forks.
#[cfg(feature = "std")]
fn reconcile_engine(
    request: &str,
    engine: crate::settle::EngineChoice,
    parts: usize,
) -> Result<crate::reconcile::Reconciliation> {
    let req = parse_request(request)?;
    only(&req, &RECONCILE_FIELDS)?;
    let program = program_from(req.get("program"))?;
    let (report, format, options) = reconcile_args(&req, false)?;
    let registry: Option<Registry> = field(&req, "registry")?;
    let settle: SettleOptions = field(&req, "options")?.unwrap_or_default();
    let trades = trades_in(&req)?;
    let mut s = crate::reconcile::settler(
        &program,
        registry.as_ref(),
        &settle,
        &format,
        &options,
        engine,
    )?;
    match &trades {
        Trades::Json(a) if parts > 1 => {
            let mut forks: Vec<Settler> = (1..parts).filter_map(|_| s.fork()).collect();
            for (i, v) in a.iter().enumerate() {
                let target = match i % (forks.len() + 1) {
                    0 => &mut s,
                    f => &mut forks[f - 1],
                };
                feed_json_trade(target, v, i as u64 + 1)?;
            }
            for f in forks {
                s.merge(f)?;
            }
        }
        all => feed_trades(&mut s, all)?,
    }
    let settled = crate::reconcile::Settled::of(s)?;
    crate::reconcile::reconcile_settled(&program, settled, report.as_bytes(), &format, &options)
}

/// `reconcile` with the trades fed by the host (an Arrow stream, a Parquet file): the
/// request has every field but `trades` and `format`. The envelope is [`reconcile`]'s for
/// the same trades.
#[cfg(feature = "std")]
pub fn reconcile_fed(request: &str, feed: impl FnOnce(&mut Settler) -> Result<()>) -> String {
    reconcile_fed_report(request, None, feed)
}

/// [`reconcile_fed`] with the report's bytes given beside the request instead of in it (a
/// Parquet report, which is not text): then the request has no `report`.
#[cfg(feature = "std")]
pub fn reconcile_fed_report(
    request: &str,
    report_bytes: Option<&[u8]>,
    feed: impl FnOnce(&mut Settler) -> Result<()>,
) -> String {
    envelope((|| {
        let req = parse_request(request)?;
        let allowed: Vec<&str> = RECONCILE_FIELDS
            .iter()
            .copied()
            .filter(|f| *f != "trades" && *f != "format")
            .filter(|f| report_bytes.is_none() || *f != "report")
            .collect();
        only(&req, &allowed)?;
        let program = program_from(req.get("program"))?;
        let (report, format, options) = reconcile_args(&req, report_bytes.is_some())?;
        let report = report_bytes.unwrap_or(report.as_bytes());
        let registry: Option<Registry> = field(&req, "registry")?;
        let settle: SettleOptions = field(&req, "options")?.unwrap_or_default();
        let mut s = crate::reconcile::settler(
            &program,
            registry.as_ref(),
            &settle,
            &format,
            &options,
            crate::settle::EngineChoice::Auto,
        )?;
        feed(&mut s)?;
        let settled = crate::reconcile::Settled::of(s)?;
        crate::reconcile::reconcile_settled(&program, settled, report, &format, &options)
    })())
}

#[cfg(not(feature = "std"))]
fn reconcile_value(_: &str) -> Result<Statement> {
    Err(Error::new(
        ErrorCode::Options,
        "this build of broker-rules has no report reader (the std feature)",
    ))
}

fn explain_value(request: &str) -> Result<Explanation> {
    let mut req = parse_request(request)?;
    with_lines(&mut req);
    only(&req, &SETTLE_FIELDS)?;
    let program = program_from(req.get("program"))?;
    settle_parsed(&program, &req).map(Explanation::from)
}

/// The request fields of `estimate`.
pub(crate) const ESTIMATE_FIELDS: [&str; 5] =
    ["program", "scenario", "actuals", "growth", "broker"];

/// What `estimate` returns: a scenario's [`estimate::Estimate`], or the actuals'
/// [`WhatIf`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Estimated<'p> {
    Scenario(estimate::Estimate<'p>),
    Actuals(WhatIf),
}

/// `estimate` of a parsed request (`{"scenario": ...}` or `{"actuals", "growth",
/// "broker"?}`) under a program already built.
pub(crate) fn estimate_parsed<'p>(
    program: &'p Program,
    req: &Map<String, Value>,
) -> Result<Estimated<'p>> {
    let given = |k: &str| !matches!(req.get(k), None | Some(Value::Null));
    let misuse = |f: &str, m: &str| Err(Error::new(ErrorCode::Field, String::from(m)).field(f));
    match (given("scenario"), given("actuals")) {
        (true, true) => {
            return misuse(
                "actuals",
                "give scenario or actuals (with growth), not both",
            )
        }
        (true, false) => {
            for f in ["growth", "broker"] {
                if given(f) {
                    return misuse(
                        f,
                        &format!("{f} applies to actuals; a scenario states its own volume"),
                    );
                }
            }
            let scenario: Scenario = field(req, "scenario")?.unwrap_or_default();
            return estimate::estimate(program, &scenario).map(Estimated::Scenario);
        }
        (false, false) => {
            return misuse(
                "scenario",
                "missing required field scenario (or actuals with growth)",
            )
        }
        (false, true) => {}
    }
    let trades = actuals_of(req, &["trades", "format", "registry", "options"])
        .and_then(|a| trades_in(a).map_err(|e| e.within("actuals")))?;
    estimate_actuals(program, req, &mut |s| feed_trades(s, &trades)).map(Estimated::Actuals)
}

/// The request's `actuals` object, its fields checked against `allowed`.
fn actuals_of<'a>(req: &'a Map<String, Value>, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    match req.get("actuals") {
        Some(Value::Object(m)) => {
            only(m, allowed).map_err(|e| e.within("actuals"))?;
            Ok(m)
        }
        _ => Err(Error::new(
            ErrorCode::Field,
            format!(
                "actuals must be an object with settle's fields: {}",
                allowed.join(", ")
            ),
        )
        .field("actuals")),
    }
}

/// `estimate` from actuals once the request's shape is checked: growth, broker, the
/// actuals' registry and options; `feed` gives the trades (twice: as given and grown).
fn estimate_actuals(
    program: &Program,
    req: &Map<String, Value>,
    feed: &mut dyn FnMut(&mut Settler) -> Result<()>,
) -> Result<WhatIf> {
    let actuals = match req.get("actuals") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(
                Error::new(ErrorCode::Field, "missing required field actuals").field("actuals"),
            )
        }
    };
    let growth = match req.get("growth") {
        None | Some(Value::Null) => {
            return Err(Error::new(
                ErrorCode::Field,
                "missing required field growth (e.g. \"0.2\" or \"20%\" for +20% volume)",
            )
            .field("growth"))
        }
        Some(Value::String(g)) => {
            crate::money::parse_rate_or_decimal(g).map_err(|e| e.field("growth"))?
        }
        Some(v) => {
            return Err(Error::new(
                ErrorCode::Decimal,
                format!("growth must be a decimal string such as \"0.2\" or \"20%\", got {v}"),
            )
            .field("growth"))
        }
    };
    whatif::growth_factor(growth)?;
    let broker: Option<String> = field(req, "broker")?;
    let registry: Option<Registry> = field(actuals, "registry").map_err(|e| e.within("actuals"))?;
    let options: SettleOptions = field(actuals, "options")
        .map_err(|e| e.within("actuals"))?
        .unwrap_or_default();
    if options.lines {
        return Err(Error::new(
            ErrorCode::Field,
            "estimate sets periods side by side and has no per-trade lines; drop lines",
        )
        .field("actuals.options.lines"));
    }
    whatif::estimate_fed(
        program,
        registry.as_ref(),
        &options,
        growth,
        broker.as_deref(),
        feed,
    )
}

/// `estimate` from actuals a host feeds (a file, an Arrow stream): `request` is
/// `estimate`'s with `actuals` holding only `registry`? and `options`? (no `trades` or
/// `format`), and no `program` when `compiled` gives it. `feed` is called twice, once per
/// run, and must give the same trades both times. The envelope is [`estimate`]'s for the
/// same trades.
pub fn estimate_fed(
    request: &str,
    compiled: Option<&Program>,
    mut feed: impl FnMut(&mut Settler) -> Result<()>,
) -> String {
    envelope((|| {
        let req = parse_request(request)?;
        let fields: &[&str] = if compiled.is_some() {
            &ESTIMATE_FIELDS[1..]
        } else {
            &ESTIMATE_FIELDS
        };
        only(&req, fields)?;
        if req.contains_key("scenario") {
            return Err(Error::new(
                ErrorCode::Field,
                "give scenario or actuals (with growth), not both",
            )
            .field("actuals"));
        }
        let built;
        let program = match compiled {
            Some(p) => p,
            None => {
                built = program_from(req.get("program"))?;
                &built
            }
        };
        actuals_of(&req, &["registry", "options"])?;
        estimate_actuals(program, &req, &mut feed)
    })())
}

fn program_value(request: &str) -> Result<ProgramSpec> {
    let req = parse_request(request)?;
    only(&req, &["id"])?;
    match req.get("id") {
        Some(Value::String(id)) => builtin::program(id).map(|p| p.spec().clone()),
        _ => Err(Error::new(
            ErrorCode::Field,
            "missing required field id (a built-in program id)",
        )
        .field("id")),
    }
}

fn validate_value(request: &str) -> Result<Validation> {
    let req = parse_request(request)?;
    only(&req, &SETTLE_FIELDS)?;
    let problems = if req.contains_key("trades") {
        validate_trades(&req)?
    } else if let Some(v) = req.get("registry") {
        match Registry::deserialize(v) {
            Ok(r) => r.problems(),
            Err(e) => alloc::vec![typed_error("registry", &e, v)],
        }
    } else if let Some(v) = req.get("program") {
        match v {
            Value::Object(_) => match ProgramSpec::deserialize(v) {
                Ok(spec) => Program::problems(spec),
                Err(e) => alloc::vec![typed_error("program", &e, v)],
            },
            other => match program_from(Some(other)) {
                Ok(_) => Vec::new(),
                Err(e) => alloc::vec![e],
            },
        }
    } else {
        return Err(Error::new(
            ErrorCode::Field,
            "validate needs one of program, trades or registry",
        ));
    };
    Ok(Validation {
        valid: problems.is_empty(),
        problems,
    })
}

/// Trades are checked by settling them leniently under the program (backpack if none), so
/// validation reports exactly what settlement would reject.
fn validate_trades(req: &Map<String, Value>) -> Result<Vec<Error>> {
    let program = match req.get("program") {
        None => builtin::program("backpack")?,
        v => program_from(v)?,
    };
    let registry: Option<Registry> = field(req, "registry")?;
    let mut options: SettleOptions = field(req, "options")?.unwrap_or_default();
    let trades = match trades_in(req)? {
        Trades::Json(a) => a,
        text => {
            return check_trades(&program, registry.as_ref(), &options, |s| {
                feed_trades(s, &text)
            })
        }
    };
    let mut problems = Vec::new();
    if options.strict {
        // Objects carry their position: each unknown field and value is reported at its
        // trade rather than counted (as `check_trades` does for text).
        for (i, v) in trades.iter().enumerate() {
            if let Value::Object(obj) = v {
                let mut unknown = 0;
                if let Err(e) = trade::from_json_object(obj, &mut unknown, true) {
                    if e.code == ErrorCode::Field && e.message.starts_with("unknown field") {
                        problems.push(e.line(i as u64 + 1));
                    }
                }
                for name in ["channel", "product"] {
                    let known: &[&str] = if name == "channel" {
                        &trade::KNOWN_CHANNELS
                    } else {
                        &trade::KNOWN_PRODUCTS
                    };
                    if let Some(v) = obj.get(name).and_then(|v| v.as_str()) {
                        if !known.contains(&v) {
                            problems.push(
                                Error::new(
                                    ErrorCode::UnknownValue,
                                    format!("unknown {name} {v:?}"),
                                )
                                .field(name)
                                .line(i as u64 + 1),
                            );
                        }
                    }
                }
            }
        }
        options.strict = false;
    }
    problems.extend(check_trades(&program, registry.as_ref(), &options, |s| {
        feed_json_trades(s, trades)
    })?);
    problems.sort_by_key(|e| e.location.line);
    Ok(problems)
}

/// What `validate` reports for trades however they are fed (a request's text or objects, the
/// CLI's files): the trades are settled leniently, so the problems are exactly what settle
/// would reject, in line order, and a fatal error of the input itself. In strict mode the
/// unknown fields and the unknown channel and product values that strict settlement refuses
/// are reported too, one problem per field or value with its count.
pub fn check_trades(
    program: &Program,
    registry: Option<&Registry>,
    options: &SettleOptions,
    feed: impl FnOnce(&mut Settler) -> Result<()>,
) -> Result<Vec<Error>> {
    let mut lenient = options.clone();
    lenient.strict = false;
    let mut s = Settler::new(program, registry, &lenient)?;
    let fatal = feed(&mut s).err();
    let st = s.finish()?;
    let mut problems: Vec<Error> = st.rejected.into_iter().map(Error::from).collect();
    problems.extend(fatal);
    if options.strict {
        let n = st.summary.unknown_fields;
        if n > 0 {
            problems.push(Error::new(
                ErrorCode::Field,
                format!("{n} unknown field value(s) ignored; strict mode rejects them"),
            ));
        }
        for (name, values) in &st.summary.unknown_values {
            for (value, n) in values {
                problems.push(
                    Error::new(
                        ErrorCode::UnknownValue,
                        format!(
                            "unknown {name} {value:?} in {n} trade{}",
                            if *n == 1 { "" } else { "s" }
                        ),
                    )
                    .field(name),
                );
            }
        }
    }
    problems.sort_by_key(|e| e.location.line);
    Ok(problems)
}

/// The `E_INTERNAL` error for a caught panic payload. The core never panics on any input (the
/// property tests feed it hostile ones); hosts that can catch unwinding still turn a bug into
/// an error value rather than a crashed Node process or Python interpreter.
#[cfg(feature = "std")]
pub fn panic_error(payload: std::boxed::Box<dyn core::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| String::from(*s))
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("unknown panic"));
    Error::new(
        ErrorCode::Internal,
        format!("the engine panicked: {what}; this is a bug in broker-rules, please report it with the input"),
    )
}

/// Runs an entry point, turning a panic into an `E_INTERNAL` envelope.
#[cfg(feature = "std")]
pub fn guarded(f: impl FnOnce() -> String) -> String {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| error_envelope(&panic_error(p)))
}
