//! A program parsed, checked and hashed once, then used by many calls: what every host's
//! `compile(program)` handle wraps. A dashboard re-estimating on every keystroke, or a service
//! settling batch after batch under one program, pays the program's parse, formula check and
//! SHA-256 once instead of per call.
//!
//! The calls take the same JSON requests as [`crate::api`] without the `program` field and
//! answer with the same envelopes, byte for byte:
//! - [`Compiled::settle`] / [`Compiled::explain`]: `{"trades": [...], "registry"?, "options"?}`
//! - [`Compiled::estimate`]: `{"scenario": {...}}` or `{"actuals", "growth", "broker"?}`

use crate::api::{self, envelope, parse_request};
use crate::error::{Error, ErrorCode, Result};
use crate::program::Program;
use crate::statement::Explanation;
use alloc::format;
use alloc::string::String;
use serde_json::{Map, Value};

/// A checked program ready for many calls.
#[derive(Clone, Debug)]
pub struct Compiled {
    program: Program,
}

impl Compiled {
    /// From a program argument as JSON text: a built-in id as a JSON string (`"\"okx\""`) or a
    /// program object. Errors are the ones `settle` would report for the same program.
    pub fn new(program_json: &str) -> Result<Compiled> {
        let v = crate::json::parse(program_json).map_err(|e| Error::from_json(&e, "program"))?;
        Compiled::from_value(&v)
    }

    /// From a parsed program argument (a built-in id or a program object).
    pub fn from_value(program: &Value) -> Result<Compiled> {
        Ok(Compiled {
            program: api::program_from(Some(program))?,
        })
    }

    pub fn from_program(program: Program) -> Compiled {
        Compiled { program }
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The envelope of `settle` for this program and `request` (no `program` field).
    pub fn settle(&self, request: &str) -> String {
        envelope(
            self.request(request, &["trades", "registry", "options", "format"])
                .and_then(|req| api::settle_parsed(&self.program, &req)),
        )
    }

    /// The envelope of `explain` for this program and `request` (no `program` field).
    pub fn explain(&self, request: &str) -> String {
        envelope(
            self.request(request, &["trades", "registry", "options", "format"])
                .and_then(|mut req| {
                    api::with_lines(&mut req);
                    api::settle_parsed(&self.program, &req)
                })
                .map(Explanation::from),
        )
    }

    /// The envelope of `estimate` for this program and `request` (`{"scenario": ...}` or
    /// `{"actuals": {...}, "growth": ..., "broker"?}`).
    pub fn estimate(&self, request: &str) -> String {
        api::estimate_envelope(
            self.request(request, &api::ESTIMATE_FIELDS[1..])
                .and_then(|req| api::estimate_parsed(&self.program, &req)),
        )
    }

    /// Dispatch by name (`settle`, `explain`, `estimate`).
    pub fn call(&self, function: &str, request: &str) -> String {
        match function {
            "settle" => self.settle(request),
            "explain" => self.explain(request),
            "estimate" => self.estimate(request),
            other => api::error_envelope(&Error::new(
                ErrorCode::Options,
                format!("a compiled program answers settle, explain and estimate, not {other:?}"),
            )),
        }
    }

    fn request(&self, request: &str, allowed: &[&str]) -> Result<Map<String, Value>> {
        let req = parse_request(request)?;
        if req.contains_key("program") {
            return Err(Error::new(
                ErrorCode::Field,
                "a compiled program's calls take no program field (the handle has one)",
            )
            .field("program"));
        }
        api::only_fields(&req, allowed)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_plain_functions() {
        let c = Compiled::new("\"backpack\"").unwrap();
        let scenario = r#"{"volume": "8000000", "fee_rate": "0.0002"}"#;
        assert_eq!(
            c.estimate(&format!("{{\"scenario\":{scenario}}}")),
            api::estimate(&format!(
                "{{\"program\":\"backpack\",\"scenario\":{scenario}}}"
            ))
        );
        assert!(c
            .estimate(&format!("{{\"scenario\":{scenario}}}"))
            .contains(r#""tier":"BKR 1","rate":"0.3""#));
        let trades = r#"[{"id":"a","time":"2026-06-02T10:00:00Z","account":"c1","broker":"B1","channel":"api","product":"spot","notional":"10000000","fee":"2000"}]"#;
        let plain = api::settle(&format!("{{\"program\":\"backpack\",\"trades\":{trades}}}"));
        assert_eq!(c.settle(&format!("{{\"trades\":{trades}}}")), plain);
        assert!(plain.contains(r#""commission":"700.00""#));
        assert_eq!(
            c.explain(&format!("{{\"trades\":{trades}}}")),
            api::explain(&format!("{{\"program\":\"backpack\",\"trades\":{trades}}}"))
        );
    }

    #[test]
    fn errors_are_data() {
        let e = Compiled::new("\"nope\"").unwrap_err();
        assert!(
            matches!(e.code, ErrorCode::Program | ErrorCode::UnknownProgram),
            "{e:?}"
        );
        let c = Compiled::new("\"xt\"").unwrap();
        assert!(c
            .settle(r#"{"program":"xt"}"#)
            .contains(r#""code":"E_FIELD""#));
        assert!(c
            .estimate(r#"{"scenario":{"volume":"1"}}"#)
            .starts_with(r#"{"error":{"code":"E_OPTIONS""#));
        assert!(c.call("validate", "{}").contains("E_OPTIONS"));
    }
}
