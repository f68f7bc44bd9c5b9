//! broker-rules for Node: a napi-rs addon (npm package `broker-rules`).
//!
//! Like the wasm package, the native side is thin: every export takes the request as JSON
//! text and returns the core's envelope string byte for byte; `index.js` (generated from the
//! same JS source as the wasm package's wrapper) converts objects and throws
//! `BrokerRulesError`. Every call runs under `catch_unwind`: a panic becomes an `E_INTERNAL`
//! envelope instead of taking the Node process down.
#![deny(clippy::all)]

extern crate alloc;

use broker_rules::api;
use broker_rules::error::ErrorCode;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};

use broker_rules::incremental;

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

/// Incremental settlement; every method answers with a core envelope string.
#[napi]
pub struct SettlementCore(incremental::Incremental);

#[napi]
impl SettlementCore {
    #[napi(constructor)]
    pub fn new(program_json: String, options_json: String, registry_json: String) -> Self {
        let made = catch_unwind(|| {
            incremental::Incremental::new(&program_json, &options_json, &registry_json)
        });
        SettlementCore(made.unwrap_or_else(|p| {
            let mut i = incremental::Incremental::new("\"\"", "", "");
            i.fail(api::panic_error(p));
            i
        }))
    }

    #[napi]
    pub fn status(&self) -> String {
        self.0.status()
    }

    #[napi]
    pub fn push(&mut self, trades_json: String) -> String {
        match catch_unwind(AssertUnwindSafe(|| self.0.push(&trades_json))) {
            Ok(s) => s,
            Err(p) => {
                let e = api::panic_error(p);
                let env = api::error_envelope(&e);
                self.0.fail(e);
                env
            }
        }
    }

    #[napi]
    pub fn finish(&mut self) -> String {
        match catch_unwind(AssertUnwindSafe(|| self.0.finish())) {
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
