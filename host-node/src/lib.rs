//! broker-rules for Node: a napi-rs addon (npm package `broker-rules`).
//!
//! Like the wasm package, the native side is thin: every export takes the request as JSON
//! text and returns the core's envelope string byte for byte; `index.js` (generated from the
//! same JS source as the wasm package's wrapper) converts objects and throws
//! `BrokerRulesError`. Every call runs under `catch_unwind`: a panic becomes an `E_INTERNAL`
//! envelope instead of taking the Node process down.
//!
//! Trade logs as bytes (`callBytesJson`: CSV, NDJSON, JSON, Arrow IPC, Parquet; CSV and
//! Parquet on every core) and the incremental `Settlement` with partial states come from
//! `broker_rules_wasm::js`, the Rust side the two JS packages share. The bytes are read in
//! place from the JS `Uint8Array` / `Buffer` (no copy, no JSON per trade).
#![deny(clippy::all)]

extern crate alloc;

use broker_rules::api;
use broker_rules::error::ErrorCode;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};

use broker_rules_wasm::js;

#[napi]
pub fn settle_json(request: String) -> String {
    api::guarded(|| api::settle(&request))
}

#[napi]
pub fn estimate_json(request: String) -> String {
    api::guarded(|| api::estimate(&request))
}

#[napi]
pub fn explain_json(request: String) -> String {
    api::guarded(|| api::explain(&request))
}

#[napi]
pub fn validate_json(request: String) -> String {
    api::guarded(|| api::validate(&request))
}

#[napi]
pub fn program_json(request: String) -> String {
    api::guarded(|| api::program(&request))
}

#[napi]
pub fn programs_json() -> String {
    api::guarded(api::programs)
}

/// `call(function, request)`: dispatch by name, as the conformance vectors do.
#[napi]
pub fn call_json(function: String, request: String) -> String {
    api::guarded(|| api::call(&function, &request))
}

/// One sentence of help for an error code (`""` for an unknown code).
#[napi]
pub fn error_help(code: String) -> String {
    ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .map(|c| c.help().to_string())
        .unwrap_or_default()
}

#[napi]
pub fn engine_version() -> String {
    broker_rules::statement::ENGINE_VERSION.to_string()
}

/// A JSON entry point run on the libuv thread pool.
pub struct CallTask {
    function: String,
    request: String,
}

impl Task for CallTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        Ok(api::guarded(|| api::call(&self.function, &self.request)))
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// `callJsonAsync(function, request)`: the envelope, computed off the main thread.
#[napi(ts_return_type = "Promise<string>")]
pub fn call_json_async(function: String, request: String) -> AsyncTask<CallTask> {
    AsyncTask::new(CallTask { function, request })
}

/// `callBytesJson(function, head, bytes)`: `settle` / `explain` over a trade log given as
/// bytes; `head` is the request without `trades`, plus `format` and `columns`.
#[napi]
pub fn call_bytes_json(function: String, head: String, bytes: &[u8]) -> String {
    api::guarded(|| js::settle_bytes(&function, &head, bytes, js::threads()))
}

/// `reconcileReportBytes(head, trades, report)`: `reconcile` with the exchange's report as
/// bytes (Parquet or CSV); `trades` a trade log as bytes, or null with the trades as a JSON
/// array in `head`.
#[napi]
pub fn reconcile_report_bytes(head: String, trades: Option<&[u8]>, report: &[u8]) -> String {
    api::guarded(|| js::reconcile_report_bytes(&head, trades, report, js::threads()))
}

/// [`call_bytes_json`] run on the libuv thread pool. The task holds a reference to the
/// caller's `Uint8Array` (read in place; the caller must not modify it until it settles).
pub struct BytesTask {
    function: String,
    head: String,
    bytes: Uint8Array,
}

impl Task for BytesTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let (function, head, bytes) = (&self.function, &self.head, &self.bytes[..]);
        Ok(api::guarded(|| {
            js::settle_bytes(function, head, bytes, js::threads())
        }))
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// `callBytesJsonAsync(function, head, bytes)`: the envelope, computed off the main thread.
#[napi(ts_return_type = "Promise<string>")]
pub fn call_bytes_json_async(
    function: String,
    head: String,
    bytes: Uint8Array,
) -> AsyncTask<BytesTask> {
    AsyncTask::new(BytesTask {
        function,
        head,
        bytes,
    })
}

/// Incremental settlement with partial states; every method answers with a core envelope
/// string (`toBytes`: the state, empty on error, then `lastError`).
#[napi]
pub struct SettlementCore(js::Settlement);

impl SettlementCore {
    /// Runs `f`, turning a panic into an `E_INTERNAL` envelope that also stops the settlement.
    fn guard(&mut self, f: impl FnOnce(&mut js::Settlement) -> String) -> String {
        match catch_unwind(AssertUnwindSafe(|| f(&mut self.0))) {
            Ok(s) => s,
            Err(p) => {
                let e = api::panic_error(p);
                let env = api::error_envelope(&e);
                self.0.fail(e);
                env
            }
        }
    }
}

#[napi]
impl SettlementCore {
    #[napi(constructor)]
    pub fn new(program_json: String, options_json: String, registry_json: String) -> Self {
        let made =
            catch_unwind(|| js::Settlement::new(&program_json, &options_json, &registry_json));
        SettlementCore(made.unwrap_or_else(|p| {
            let mut s = js::Settlement::new("\"\"", "", "");
            s.fail(api::panic_error(p));
            s
        }))
    }

    #[napi]
    pub fn status(&self) -> String {
        self.0.status()
    }

    #[napi]
    pub fn push(&mut self, trades_json: String) -> String {
        self.guard(|s| s.push(&trades_json))
    }

    /// A whole trade log as bytes (`head`: `{"format"?, "columns"?}`), CSV and Parquet on
    /// every core.
    #[napi]
    pub fn push_bytes(&mut self, head: String, bytes: &[u8]) -> String {
        self.guard(|s| s.push_bytes(&head, bytes, js::threads()))
    }

    /// The partial state (`Settler::to_bytes`); empty on error (then `lastError`).
    #[napi]
    pub fn to_bytes(&mut self) -> Uint8Array {
        let mut out = Vec::new();
        // a panic leaves `out` empty and stops the settlement (`lastError` says so)
        self.guard(|s| {
            out = s.to_bytes();
            String::new()
        });
        Uint8Array::new(out)
    }

    /// The error envelope of the last `toBytes` that returned nothing.
    #[napi]
    pub fn last_error(&self) -> String {
        self.0.last_error()
    }

    /// Merges a partial state of the same program, options and registry.
    #[napi]
    pub fn merge(&mut self, state: &[u8]) -> String {
        self.guard(|s| s.merge(state))
    }

    /// The statement of the trades so far; the settlement goes on.
    #[napi]
    pub fn snapshot(&mut self) -> String {
        self.guard(|s| s.snapshot())
    }

    #[napi]
    pub fn finish(&mut self) -> String {
        self.guard(|s| s.finish())
    }
}

/// `compile(program)`: the program parsed, checked and hashed once (the core's `Compiled`);
/// `call` answers settle, explain and estimate requests without a `program` field.
#[napi]
pub struct CompiledCore(js::CompiledProgram);

#[napi]
impl CompiledCore {
    #[napi(constructor)]
    pub fn new(program_json: String) -> Self {
        let made = catch_unwind(|| js::CompiledProgram::new(&program_json));
        CompiledCore(made.unwrap_or_else(|_| js::CompiledProgram::new("null")))
    }

    /// `{"ok":null}` or the program's error.
    #[napi]
    pub fn status(&self) -> String {
        api::guarded(|| self.0.status())
    }

    /// `settle` / `explain` / `estimate` (`function`) with a request without `program`.
    #[napi]
    pub fn call(&self, function: String, request: String) -> String {
        api::guarded(|| self.0.call(&function, &request))
    }

    /// `settle` / `explain` over a trade log as bytes (CSV and Parquet on every core).
    #[napi]
    pub fn call_bytes(&self, function: String, head: String, bytes: &[u8]) -> String {
        api::guarded(|| self.0.call_bytes(&function, &head, bytes, js::threads()))
    }
}
