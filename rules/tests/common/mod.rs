#![allow(dead_code)]
use broker_rules::{api, Statement};
use serde_json::{json, Value};

/// A trade object with the fields most tests vary.
#[allow(clippy::too_many_arguments)]
pub fn trade(
    id: &str,
    time: &str,
    account: &str,
    broker: &str,
    channel: &str,
    product: &str,
    notional: &str,
    fee: &str,
) -> Value {
    json!({"id": id, "time": time, "account": account, "broker": broker, "channel": channel,
           "product": product, "notional": notional, "fee": fee})
}

pub fn with(mut t: Value, key: &str, v: Value) -> Value {
    t[key] = v;
    t
}

/// Calls the JSON API and returns the `ok` value, panicking with the error otherwise.
pub fn ok(function: &str, request: Value) -> Value {
    let out = api::call(function, &request.to_string());
    let v: Value = serde_json::from_str(&out).unwrap();
    match v.get("ok") {
        Some(ok) => ok.clone(),
        None => panic!("{function} failed: {out}"),
    }
}

pub fn err(function: &str, request: Value) -> Value {
    let out = api::call(function, &request.to_string());
    let v: Value = serde_json::from_str(&out).unwrap();
    v.get("error")
        .unwrap_or_else(|| panic!("{function} succeeded: {out}"))
        .clone()
}

pub fn settle(program: &str, trades: Vec<Value>) -> Value {
    ok(
        "settle",
        json!({"program": program, "trades": trades, "options": {"lines": true}}),
    )
}

pub fn settle_typed(program: &broker_rules::Program, trades: &[Value]) -> Statement {
    let trades: Vec<broker_rules::Trade> = trades
        .iter()
        .map(|t| serde_json::from_value(t.clone()).unwrap())
        .collect();
    broker_rules::settle(program, &trades, None, &Default::default()).unwrap()
}

/// Line commissions by id.
pub fn line(statement: &Value, id: &str) -> Value {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no line {id}"))
        .clone()
}
