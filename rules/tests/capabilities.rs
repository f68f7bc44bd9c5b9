//! Capabilities no built-in program uses, on variants of the built-in files.
mod common;
use common::*;
use serde_json::{json, Value};

fn variant(base: usize, edit: impl FnOnce(&mut Value)) -> Value {
    let mut p: Value = serde_json::from_str(broker_rules::builtin::SOURCES[base].1).unwrap();
    p["id"] = json!("variant");
    edit(&mut p);
    p
}

#[test]
fn graduated_mode_prices_each_slice_at_its_own_rate() {
    let trades = vec![
        trade(
            "t1",
            "2026-06-01T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "5000000",
            "1000",
        ),
        trade(
            "t2",
            "2026-06-02T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "1000000",
            "100",
        ),
    ];
    // Volume mode: 6,000,000 is BKR 1 for the whole month: 1100 x 30% = 330.
    let s = ok(
        "settle",
        json!({"program": variant(0, |_| {}), "trades": trades}),
    );
    assert_eq!(s["brokers"][0]["periods"][0]["commission"], "330.00");
    // Graduated: t1 starts at 0 (BKR 0, 20% -> 200), t2 starts at 5,000,000 (BKR 1, 30% -> 30).
    let g = variant(0, |p| p["tiers"]["mode"] = json!("graduated"));
    let s = ok(
        "settle",
        json!({"program": g, "trades": trades, "options": {"lines": true}}),
    );
    assert_eq!(s["brokers"][0]["periods"][0]["commission"], "230.00");
    assert_eq!(line(&s, "t1")["tier"], "BKR 0");
    assert_eq!(line(&s, "t2")["commission"], "30");
    // A graduated program with two metrics per step is refused.
    let bad = variant(2, |p| p["tiers"]["mode"] = json!("graduated"));
    let e = err("settle", json!({"program": bad, "trades": []}));
    assert_eq!(
        (e["code"].as_str(), e["location"]["field"].as_str()),
        (Some("E_PROGRAM"), Some("tiers.mode"))
    );
}

#[test]
fn client_month_and_broker_period_caps() {
    let trades = vec![
        trade(
            "a",
            "2026-06-01T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "1000",
            "100",
        ),
        trade(
            "b",
            "2026-06-02T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "1000",
            "100",
        ),
        trade(
            "c",
            "2026-06-03T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "1000",
            "100",
        ),
        trade(
            "d",
            "2026-06-03T00:00:00Z",
            "c2",
            "B1",
            "api",
            "spot",
            "1000",
            "100",
        ),
    ];
    // 20 a trade at BKR 0; c1 capped at 50 for the month: 50 + 20 = 70.
    let p = variant(0, |p| {
        p["caps"] = json!([{"scope": "client_month", "amount": "50"}])
    });
    let s = ok("settle", json!({"program": p, "trades": trades}));
    assert_eq!(s["brokers"][0]["periods"][0]["commission"], "70.00");
    // Only VIP >= 5 clients capped: nobody here.
    let p =
        variant(
            0,
            |p| p["caps"] = json!([{"scope": "client_month", "amount": "50", "when": "vip >= 5"}]),
        );
    assert_eq!(
        ok("settle", json!({"program": p, "trades": trades}))["brokers"][0]["periods"][0]
            ["commission"],
        "80.00"
    );
    let p = variant(
        0,
        |p| p["caps"] = json!([{"scope": "client_month", "amount": "50"}, {"scope": "broker_period", "amount": "60"}]),
    );
    assert_eq!(
        ok("settle", json!({"program": p, "trades": trades}))["brokers"][0]["periods"][0]
            ["commission"],
        "60.00"
    );
}

#[test]
fn day_boundaries_at_utc_plus_8() {
    let p = variant(1, |p| p["utc_offset"] = json!("+08:00"));
    let trades = vec![
        trade(
            "late",
            "2026-06-30T15:59:59.999Z",
            "c1",
            "X1",
            "api",
            "spot",
            "100",
            "1",
        ),
        trade(
            "next",
            "2026-06-30T16:00:00Z",
            "c1",
            "X1",
            "api",
            "spot",
            "100",
            "1",
        ),
    ];
    let s = ok(
        "settle",
        json!({"program": p, "trades": trades, "options": {"lines": true}}),
    );
    let periods = s["brokers"][0]["periods"].as_array().unwrap();
    assert_eq!(periods[0]["start"], "2026-06-29T16:00:00Z");
    assert_eq!(periods[1]["start"], "2026-06-30T16:00:00Z");
    assert_eq!(periods[1]["credit_at"], "2026-07-02T01:00:00Z"); // T+1 09:00 local = 01:00 UTC
}

#[test]
fn program_errors_carry_positions() {
    let p = variant(0, |p| p["formula"] = json!("fee * tier_rat"));
    let e = err("settle", json!({"program": p, "trades": []}));
    assert_eq!(
        e,
        json!({"code": "E_EXPR", "message": "unknown name 'tier_rat'", "location": {"field": "formula", "position": 6}})
    );
    let p = variant(0, |p| p["surprise"] = json!(1));
    let e = err("settle", json!({"program": p, "trades": []}));
    assert_eq!(e["code"], "E_FIELD");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `surprise`"),
        "{e}"
    );
    let v = ok(
        "validate",
        json!({"program": variant(0, |p| {
            p["exclusions"][0]["when"] = json!("channel + 1");
            p["tiers"]["ladders"][0]["steps"][1]["level"] = json!("BKR 9");
        })}),
    );
    assert_eq!(v["valid"], false);
    let fields: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["location"]["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["tiers.ladders[0].steps[1].level", "exclusions[0].when"]
    );
    assert_eq!(
        err("program", json!({"id": "binance"}))["code"],
        "E_UNKNOWN_PROGRAM"
    );
}
