//! wasm-bindgen exports for the npm package `broker-rules-wasm`.
//!
//! Deliberately thin: every export takes the request as a JSON string and returns the core's
//! envelope string (`{"ok": ...}` or `{"error": ...}`) byte for byte. The JavaScript wrapper
//! (`host-wasm/js/shared/api.js`, shared with the Node addon) turns objects into JSON, parses
//! the envelope and throws `BrokerRulesError`. Keeping conversion in one JS file is what
//! makes the browser, bundler, Node-wasm and Node-addon packages behave the same.
//!
//! Trade logs as bytes and the incremental `Settlement` come from `crate::js`, the module the
//! Node addon shares; they also answer with envelopes.

use alloc::string::String;
use broker_rules::api;
use broker_rules::error::ErrorCode;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(js_name = settleJson)]
pub fn settle_json(request: &str) -> String {
    api::settle(request)
}

#[wasm_bindgen(js_name = estimateJson)]
pub fn estimate_json(request: &str) -> String {
    api::estimate(request)
}

#[wasm_bindgen(js_name = explainJson)]
pub fn explain_json(request: &str) -> String {
    api::explain(request)
}

#[wasm_bindgen(js_name = validateJson)]
pub fn validate_json(request: &str) -> String {
    api::validate(request)
}

#[wasm_bindgen(js_name = programJson)]
pub fn program_json(request: &str) -> String {
    api::program(request)
}

#[wasm_bindgen(js_name = programsJson)]
pub fn programs_json() -> String {
    api::programs()
}

/// `call(function, request)`: dispatch by name, as the conformance vectors do.
#[wasm_bindgen(js_name = callJson)]
pub fn call_json(function: &str, request: &str) -> String {
    api::call(function, request)
}

/// One sentence of help for an error code (`""` for an unknown code).
#[wasm_bindgen(js_name = errorHelp)]
pub fn error_help(code: &str) -> String {
    ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .map(|c| String::from(c.help()))
        .unwrap_or_default()
}

/// The engine version (the same string statements carry).
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    String::from(broker_rules::statement::ENGINE_VERSION)
}

/// `settle` / `explain` (`function`) over a trade log given as bytes: CSV, NDJSON or a JSON
/// array (Arrow IPC and Parquet are left out of the .wasm for size: `E_OPTIONS`). `head` is
/// the request without `trades`, plus `format` and `columns` (see `js::settle_bytes`).
#[wasm_bindgen(js_name = callBytesJson)]
pub fn call_bytes_json(function: &str, head: &str, bytes: &[u8]) -> String {
    crate::js::settle_bytes(function, head, bytes, 1)
}

/// `reconcile` with the report as bytes (see `js::reconcile_report_bytes`). This build reads
/// CSV reports only; a Parquet report is `E_PARSE` naming the packages that read it.
#[wasm_bindgen(js_name = reconcileReportBytes)]
pub fn reconcile_report_bytes(head: &str, trades: Option<Box<[u8]>>, report: &[u8]) -> String {
    crate::js::reconcile_report_bytes(head, trades.as_deref(), report, 1)
}

/// Incremental settlement: feed trades in batches (JSON arrays or trade-log bytes), then
/// `finish`. Every method answers with a core envelope string; the JS wrapper's `Settlement`
/// class turns them into values/errors. Partial states (`toBytes` / `merge`, in the Node
/// addon) are left out of the .wasm: they would add about 18 KB gzip.
#[wasm_bindgen]
extern "C" {
    /// A JavaScript function `(bytesRead, recordsRead) => void`.
    #[wasm_bindgen(typescript_type = "(bytesRead: number, recordsRead: number) => void")]
    pub type ProgressFn;
    /// `Function.prototype.call`: no js-sys needed for one callback.
    #[wasm_bindgen(method, js_name = call)]
    fn report(this: &ProgressFn, context: &JsValue, done: f64, records: f64);
}

#[wasm_bindgen(js_name = SettlementCore)]
pub struct SettlementCore(crate::js::Settlement);

#[wasm_bindgen(js_class = SettlementCore)]
impl SettlementCore {
    #[wasm_bindgen(constructor)]
    pub fn new(program_json: &str, options_json: &str, registry_json: &str) -> SettlementCore {
        SettlementCore(crate::js::Settlement::new(
            program_json,
            options_json,
            registry_json,
        ))
    }

    /// `{"ok":null}` or the error that stopped this settlement.
    pub fn status(&self) -> String {
        self.0.status()
    }

    /// Feeds a JSON array of trades (positions continue across batches).
    pub fn push(&mut self, trades_json: &str) -> String {
        self.0.push(trades_json)
    }

    /// Feeds a whole trade log given as bytes (`head`: `{"format"?, "columns"?}`).
    #[wasm_bindgen(js_name = pushBytes)]
    pub fn push_bytes(&mut self, head: &str, bytes: &[u8]) -> String {
        self.0.push_bytes(head, bytes, 1)
    }

    /// [`SettlementCore::push_bytes`], calling `progress(bytesRead, recordsRead)` after every
    /// block the reader takes (about every 4 MB of CSV): the dashboard's progress bar.
    #[wasm_bindgen(js_name = pushBytesProgress)]
    pub fn push_bytes_progress(
        &mut self,
        head: &str,
        bytes: &[u8],
        progress: &ProgressFn,
    ) -> String {
        let mut report = |done: u64, records: u64| {
            progress.report(&JsValue::NULL, done as f64, records as f64);
        };
        self.0.push_bytes_with(head, bytes, 1, &mut report)
    }

    /// The statement of the trades so far; the settlement goes on.
    pub fn snapshot(&mut self) -> String {
        self.0.snapshot()
    }

    /// The statement envelope; the settlement is spent afterwards.
    pub fn finish(&mut self) -> String {
        self.0.finish()
    }
}

/// `compile(program)`: the program parsed, checked and hashed once; `call` answers settle,
/// explain and estimate requests without a `program` field.
#[wasm_bindgen(js_name = CompiledCore)]
pub struct CompiledCore(crate::js::CompiledProgram);

#[wasm_bindgen(js_class = CompiledCore)]
impl CompiledCore {
    #[wasm_bindgen(constructor)]
    pub fn new(program_json: &str) -> CompiledCore {
        CompiledCore(crate::js::CompiledProgram::new(program_json))
    }

    /// `{"ok":null}` or the program's error.
    pub fn status(&self) -> String {
        self.0.status()
    }

    /// `settle` / `explain` / `estimate` (`function`) with a request without `program`.
    pub fn call(&self, function: &str, request: &str) -> String {
        self.0.call(function, request)
    }

    /// `settle` / `explain` over a trade log as bytes (`head` without `program`).
    #[wasm_bindgen(js_name = callBytes)]
    pub fn call_bytes(&self, function: &str, head: &str, bytes: &[u8]) -> String {
        self.0.call_bytes(function, head, bytes, 1)
    }
}
