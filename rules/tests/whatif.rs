//! `estimate` from actuals against `settle`: for random trades on every built-in program, the
//! what-if side is exactly the statement of the trades grown by hand (notional and fee times
//! `1 + growth`), the actual side the statement of the trades as given; no growth changes
//! nothing; growth never lowers a tier.
use broker_rules::api;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn arb_trade(i: usize) -> impl Strategy<Value = Value> {
    (
        0u32..3,
        0u32..6,
        prop::sample::select(vec!["api", "api", "web", "oauth"]),
        prop::sample::select(vec!["spot", "futures", "margin", "swap"]),
        0u64..60 * 24 * 3600,
        1u64..40_000_000,
        -500i64..100_000,
        prop::sample::select(vec!["0", "0.1", "0.25"]),
        0u32..8,
    )
        .prop_map(move |(b, a, ch, pr, secs, notional, fee, aff, vip)| {
            let t = 1_780_272_000i64 + secs as i64; // 2026-06-01T00:00:00Z
            json!({
                "id": format!("t{i}"),
                "time": broker_rules::time::format(t * 1_000_000_000),
                "account": format!("c{a}"), "broker": format!("B{b}"),
                "channel": ch, "product": pr,
                "notional": Decimal::new(notional as i64 * 1000, 2).to_string(),
                "fee": Decimal::new(fee, 2).to_string(),
                "affiliate_rate": aff, "vip": vip,
            })
        })
}

fn arb_trades() -> impl Strategy<Value = Vec<Value>> {
    (1usize..30).prop_flat_map(|n| (0..n).map(arb_trade).collect::<Vec<_>>())
}

fn ok(function: &str, request: &Value) -> Value {
    let out: Value = serde_json::from_str(&api::call(function, &request.to_string())).unwrap();
    assert!(out.get("ok").is_some(), "{function}: {out}");
    out["ok"].clone()
}

fn times(v: &Value, f: Decimal) -> Value {
    let d: Decimal = v.as_str().unwrap().parse().unwrap();
    json!((d * f).normalize().to_string())
}

/// `(broker, start) -> (tier, metrics, volume, eligible volume, commission)` of a statement.
fn sides(st: &Value) -> Vec<(Value, Value, Value, Value, Value, Value, Value)> {
    let mut out = Vec::new();
    for b in st["brokers"].as_array().unwrap() {
        for p in b["periods"].as_array().unwrap() {
            out.push((
                b["broker"].clone(),
                p["start"].clone(),
                p["tier"].clone(),
                p["metrics"].clone(),
                p["attributed"]["volume"].clone(),
                p["eligible"]["volume"].clone(),
                p["commission"].clone(),
            ));
        }
    }
    out
}

fn what_if_sides(w: &Value, side: &str) -> Vec<(Value, Value, Value, Value, Value, Value, Value)> {
    let mut out = Vec::new();
    for b in w["brokers"].as_array().unwrap() {
        for p in b["periods"].as_array().unwrap() {
            let s = &p[side];
            out.push((
                b["broker"].clone(),
                p["period_start"].clone(),
                s["tier"].clone(),
                s["metrics"].clone(),
                s["volume"].clone(),
                s["eligible_volume"].clone(),
                s["commission"].clone(),
            ));
        }
    }
    out
}

fn rank(program: &Value, tier: &Value) -> i64 {
    match tier.as_str() {
        None => -1,
        Some(t) => program["tiers"]["levels"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l["name"] == t)
            .unwrap() as i64,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn what_if_is_the_settlement_of_the_grown_trades(trades in arb_trades()) {
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            let spec = ok("program", &json!({"id": id}));
            let actual = ok("settle", &json!({"program": id, "trades": trades}));
            for growth in ["0", "0.2", "-0.5", "1.5"] {
                let f = Decimal::ONE + growth.parse::<Decimal>().unwrap();
                let w = ok("estimate", &json!({"program": id, "actuals": {"trades": trades}, "growth": growth}));
                let grown: Vec<Value> = trades.iter().map(|t| {
                    let mut t = t.clone();
                    t["notional"] = times(&t["notional"], f);
                    t["fee"] = times(&t["fee"], f);
                    t
                }).collect();
                let by_hand = ok("settle", &json!({"program": id, "trades": grown}));
                prop_assert_eq!(what_if_sides(&w, "actual"), sides(&actual), "{} {}", id, growth);
                prop_assert_eq!(what_if_sides(&w, "what_if"), sides(&by_hand), "{} {}", id, growth);
                prop_assert_eq!(&w["actual"], &actual["summary"]["commission"]);
                prop_assert_eq!(&w["what_if"], &by_hand["summary"]["commission"]);
                for b in w["brokers"].as_array().unwrap() {
                    for p in b["periods"].as_array().unwrap() {
                        let (a, g) = (rank(&spec, &p["actual"]["tier"]), rank(&spec, &p["what_if"]["tier"]));
                        if growth == "0" {
                            prop_assert_eq!(&p["actual"], &p["what_if"]);
                        } else if f > Decimal::ONE {
                            prop_assert!(g >= a, "{} {}: {} -> {}", id, growth, p["actual"]["tier"], p["what_if"]["tier"]);
                        } else {
                            prop_assert!(g <= a, "{} {}: {} -> {}", id, growth, p["actual"]["tier"], p["what_if"]["tier"]);
                        }
                    }
                }
            }
        }
    }
}
