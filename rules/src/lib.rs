//! # broker-rules
//!
//! Crypto exchange broker commissions, computed exactly: which trades a broker earns on
//! (attribution and exclusions), its tier (windows, ladders), the payout (a formula in exact
//! decimal), and when it is paid (settlement periods, credit times, the program's rounding).
//!
//! The same core runs natively, as WebAssembly, in Node and in Python. Every host calls the
//! JSON entry points in [`api`], which is why they agree to the last digit.
//!
//! ## Settle
//! ```
//! use broker_rules::{program, settle, SettleOptions, Trade};
//!
//! let backpack = program("backpack").unwrap();
//! let trades: Vec<Trade> = serde_json::from_str(r#"[
//!   {"id": "t1", "time": "2026-06-10T13:45:00Z", "account": "c1", "broker": "B1",
//!    "channel": "api", "product": "spot", "notional": "25000000", "fee": "2000"}
//! ]"#).unwrap();
//! let statement = settle(&backpack, &trades, None, &SettleOptions::default()).unwrap();
//! let june = &statement.brokers[0].periods[0];
//! assert_eq!(june.tier.as_deref(), Some("BKR 3"));
//! assert_eq!(june.commission, "800.00"); // 2,000 fee x 40%
//! assert_eq!(june.credit_at, "2026-07-01T00:00:00Z");
//! ```
//!
//! ## Estimate
//! ```
//! use broker_rules::{estimate, program, Scenario};
//!
//! let scenario: Scenario = serde_json::from_str(
//!     r#"{"volume": "8000000", "fee_rate": "0.0002"}"#).unwrap();
//! // The estimate borrows the program's names, so the program outlives it.
//! let backpack = program("backpack").unwrap();
//! let e = estimate(&backpack, &scenario).unwrap();
//! assert_eq!((e.tier, e.commission.as_str()), (Some("BKR 1"), "480.00"));
//! let next = e.next.unwrap();
//! assert_eq!((next.tier, next.volume_needed.as_str()), (Some("BKR 2"), "2000000"));
//! assert_eq!(next.commission, "700.00");
//! ```
//!
//! ## Estimate from actuals: "what if volume grows 20%?"
//! ```
//! use broker_rules::{estimate_actuals, program, SettleOptions, Trade};
//!
//! let trades: Vec<Trade> = serde_json::from_str(r#"[
//!   {"id": "t1", "time": "2026-06-10T13:45:00Z", "account": "c1", "broker": "B1",
//!    "channel": "api", "product": "spot", "notional": "9000000", "fee": "1800"}
//! ]"#).unwrap();
//! let growth = "0.2".parse().unwrap();
//! let w = estimate_actuals(&program("backpack").unwrap(), &trades, None,
//!     &SettleOptions::default(), growth, None).unwrap();
//! let june = &w.brokers[0].periods[0];
//! // 9,000,000 -> BKR 1: 1,800 x 30%; grown 10,800,000 -> BKR 2: 2,160 x 35%
//! assert_eq!((june.actual.tier.as_deref(), june.actual.commission.as_str()), (Some("BKR 1"), "540.00"));
//! assert_eq!((june.what_if.tier.as_deref(), june.what_if.commission.as_str()), (Some("BKR 2"), "756.00"));
//! assert_eq!(w.difference, "216.00");
//! ```
//!
//! ## The same through JSON (what every host calls)
//! ```
//! let out = broker_rules::api::call("estimate",
//!     r#"{"program": "xt", "scenario": {"volume": "30000000", "fees": "6000"}}"#);
//! assert!(out.starts_with(r#"{"ok":{"program":{"id":"xt""#));
//! assert!(out.contains(r#""tier":"VIP 2","rate":"0.5""#));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod api;
pub mod attribution;
pub mod builtin;
pub mod columns;
pub mod compiled;
mod dedupe;
pub mod engine;
pub mod error;
pub mod estimate;
mod estimate_json;
pub mod formula;
pub(crate) mod general;
pub mod json;
pub mod money;
pub mod program;
#[cfg(feature = "std")]
pub mod read;
#[cfg(feature = "std")]
pub mod reconcile;
pub mod registry;
#[cfg(feature = "schema")]
pub mod schema;
pub mod settle;
pub mod statement;
pub mod time;
pub mod trade;
pub mod whatif;

pub use builtin::{program, programs};
pub use error::{Error, ErrorCode, Location, Result};
pub use estimate::{estimate, Estimate, Scenario};
pub use program::{Program, ProgramSpec};
pub use registry::Registry;
pub use settle::{explain, settle, SettleOptions, Settler};
pub use statement::{Explanation, Line, Statement, Validation};
pub use trade::{Trade, TradeRef};
pub use whatif::{estimate_actuals, WhatIf};

/// Validates a program file's text: every problem, or an empty list.
pub fn validate_program(text: &str) -> alloc::vec::Vec<Error> {
    let spec = json::parse(text).and_then(serde_json::from_value::<ProgramSpec>);
    match spec {
        Ok(spec) => Program::problems(spec),
        Err(e) => alloc::vec![Error::from_json(&e, "program")],
    }
}
