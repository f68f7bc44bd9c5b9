//! Incremental settlement over JSON text, for hosts that take trades in batches (the
//! wasm-bindgen package's and the Node addon's `Settlement`): positions continue across
//! batches and every answer is a core envelope, so the result is byte for byte the one-shot
//! `settle`.

use crate::api;
use crate::error::{Error, ErrorCode};
use crate::{Registry, SettleOptions, Settler};
use alloc::string::String;
use serde_json::Value;

pub struct Incremental {
    settler: Option<Settler>,
    line: u64,
    /// The first error met (construction or a strict-mode trade); every later call repeats it.
    failed: Option<Error>,
}

fn parse_value(text: &str, what: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    crate::json::parse(text).map_err(|e| Error::from_json(&e, what))
}

fn finished() -> Error {
    Error::new(ErrorCode::Options, "this settlement is already finished")
}

impl Incremental {
    /// `program_json`: a built-in id as a JSON string or a program object; `options_json` and
    /// `registry_json`: objects, `null` or empty. Never fails: a bad argument is kept and
    /// reported by `status`, `push` and `finish`.
    pub fn new(program_json: &str, options_json: &str, registry_json: &str) -> Incremental {
        let settler = (|| {
            let program = api::program_from(Some(&parse_value(program_json, "program")?))?;
            let mut req = serde_json::Map::new();
            req.insert("options".into(), parse_value(options_json, "options")?);
            req.insert("registry".into(), parse_value(registry_json, "registry")?);
            let options: SettleOptions = api::field(&req, "options")?.unwrap_or_default();
            let registry: Option<Registry> = api::field(&req, "registry")?;
            Settler::new(&program, registry.as_ref(), &options)
        })();
        match settler {
            Ok(s) => Incremental {
                settler: Some(s),
                line: 0,
                failed: None,
            },
            Err(e) => Incremental {
                settler: None,
                line: 0,
                failed: Some(e),
            },
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
    }

    /// Feeds a JSON array of trades. `{"ok":<trades accepted so far>}` or the error envelope.
    pub fn push(&mut self, trades_json: &str) -> String {
        if let Some(e) = &self.failed {
            return api::error_envelope(e);
        }
        let Some(s) = self.settler.as_mut() else {
            return api::error_envelope(&finished());
        };
        let trades = match crate::json::parse(trades_json) {
            Ok(Value::Array(a)) => a,
            Ok(_) => {
                return api::error_envelope(
                    &Error::new(ErrorCode::Field, "push takes an array of trade objects")
                        .field("trades"),
                )
            }
            Err(e) => return api::error_envelope(&Error::from_json(&e, "trades")),
        };
        for t in &trades {
            self.line += 1;
            if let Err(e) = api::feed_json_trade(s, t, self.line) {
                let env = api::error_envelope(&e);
                self.fail(e);
                return env;
            }
        }
        api::envelope(Ok(s.accepted()))
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
