//! Properties that must hold for any trade log.
mod common;
use broker_rules::{api, program, Settler};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn arb_trade(i: usize) -> impl Strategy<Value = Value> {
    (
        0u32..3, // broker
        0u32..6, // account
        prop::sample::select(vec!["api", "api", "api", "web", "oauth"]),
        prop::sample::select(vec!["spot", "futures", "margin", "swap"]),
        0u64..60 * 24 * 3600, // seconds into June-July
        1u64..20_000_000,     // notional (cents)
        -500i64..100_000,     // fee (hundredths)
        prop::sample::select(vec!["0", "0.1", "0.25", "0.5", "0.6"]),
        0u32..8,
    )
        .prop_map(move |(b, a, ch, pr, secs, notional, fee, aff, vip)| {
            let t = 1_780_272_000i64 + secs as i64; // 2026-06-01T00:00:00Z
            json!({
                "id": format!("t{i}"),
                "time": broker_rules::time::format(t * 1_000_000_000),
                "account": format!("c{a}"),
                "broker": format!("B{b}"),
                "channel": ch, "product": pr,
                "notional": Decimal::new(notional as i64 * 1000, 2).to_string(),
                "fee": Decimal::new(fee, 2).to_string(),
                "affiliate_rate": aff, "vip": vip,
            })
        })
}

fn arb_trades() -> impl Strategy<Value = Vec<Value>> {
    (1usize..40).prop_flat_map(|n| (0..n).map(arb_trade).collect::<Vec<_>>())
}

fn statement_bytes(program_id: &str, trades: &[Value], batches: &[usize]) -> String {
    let p = program(program_id).unwrap();
    let mut s = Settler::new(
        &p,
        None,
        &broker_rules::SettleOptions {
            lines: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut rest = trades;
    for &b in batches {
        let (head, tail) = rest.split_at(b.min(rest.len()));
        api::feed_json_trades(&mut s, head).unwrap();
        rest = tail;
    }
    api::feed_json_trades(&mut s, rest).unwrap();
    serde_json::to_string(&s.finish().unwrap()).unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn order_and_batches_never_change_the_bytes(trades in arb_trades(), seed in any::<u64>(), cut in 0usize..40) {
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            let base = statement_bytes(id, &trades, &[]);
            let mut shuffled = trades.clone();
            // Deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(&base, &statement_bytes(id, &shuffled, &[cut, 1, cut / 2]));
        }
    }

    #[test]
    fn commission_never_exceeds_fee_times_highest_rate(trades in arb_trades()) {
        for (id, top) in [("backpack", "0.5"), ("xt", "0.6"), ("okx", "0.4")] {
            let s: Value = serde_json::from_str(&statement_bytes(id, &trades, &[])).unwrap();
            let top: Decimal = top.parse().unwrap();
            for line in s["lines"].as_array().unwrap() {
                let t = trades.iter().find(|t| t["id"] == line["id"]).unwrap();
                let fee = dec(&t["fee"]).max(Decimal::ZERO);
                prop_assert!(dec(&line["commission"]) <= fee * top, "{} {}", id, line);
                prop_assert!(dec(&line["commission"]) >= Decimal::ZERO);
            }
            for b in s["brokers"].as_array().unwrap() {
                for p in b["periods"].as_array().unwrap() {
                    let positive: Decimal = trades.iter()
                        .filter(|t| t["broker"] == b["broker"])
                        .filter(|t| { let l = s["lines"].as_array().unwrap().iter().find(|l| l["id"] == t["id"]).unwrap(); l["period_start"] == p["start"] })
                        .map(|t| dec(&t["fee"]).max(Decimal::ZERO)).sum();
                    // one rounding step of slack per period
                    prop_assert!(dec(&p["commission"]) <= positive * top + Decimal::new(1, 2));
                }
            }
        }
    }

    /// The statement reconciles with itself: a period's attributed trades are its eligible
    /// ones plus every excluded reason, exactly, and they are the lines settled in it.
    #[test]
    fn attributed_is_eligible_plus_excluded(trades in arb_trades()) {
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            let s: Value = serde_json::from_str(&statement_bytes(id, &trades, &[])).unwrap();
            let lines = s["lines"].as_array().unwrap();
            for b in s["brokers"].as_array().unwrap() {
                for p in b["periods"].as_array().unwrap() {
                    let (a, e) = (&p["attributed"], &p["eligible"]);
                    let mut sum = (e["trades"].as_u64().unwrap(), dec(&e["volume"]), dec(&e["fees"]));
                    for x in p["excluded"].as_object().unwrap().values() {
                        sum.0 += x["trades"].as_u64().unwrap();
                        sum.1 += dec(&x["volume"]);
                        sum.2 += dec(&x["fees"]);
                    }
                    prop_assert_eq!(sum, (a["trades"].as_u64().unwrap(), dec(&a["volume"]), dec(&a["fees"])), "{} {}", id, p);
                    // ... and the excluded total is the reasons' sum.
                    let x = &p["excluded_total"];
                    prop_assert_eq!(
                        (x["trades"].as_u64().unwrap() + e["trades"].as_u64().unwrap(), dec(&x["volume"]) + dec(&e["volume"]), dec(&x["fees"]) + dec(&e["fees"])),
                        (a["trades"].as_u64().unwrap(), dec(&a["volume"]), dec(&a["fees"])), "{} {}", id, p
                    );
                    prop_assert_eq!(&p["trades"], &a["trades"]);
                    prop_assert_eq!(dec(&p["volume"]), dec(&a["volume"]));
                    prop_assert_eq!(dec(&p["fees"]), dec(&a["fees"]));
                    // The lines of this broker and period: their count, volume, fees and
                    // the split by exclusion.
                    let mine: Vec<&Value> = lines.iter()
                        .filter(|l| l["broker"] == b["broker"] && l["period_start"] == p["start"])
                        .collect();
                    let fee_of = |l: &Value| dec(&trades.iter().find(|t| t["id"] == l["id"]).unwrap()["fee"]);
                    prop_assert_eq!(mine.len() as u64, a["trades"].as_u64().unwrap());
                    prop_assert_eq!(mine.iter().map(|l| dec(&l["volume"])).sum::<Decimal>(), dec(&a["volume"]));
                    prop_assert_eq!(mine.iter().map(|l| fee_of(l)).sum::<Decimal>(), dec(&a["fees"]));
                    let eligible: Vec<&&Value> = mine.iter().filter(|l| l["excluded"].is_null()).collect();
                    prop_assert_eq!(eligible.len() as u64, e["trades"].as_u64().unwrap());
                    prop_assert_eq!(eligible.iter().map(|l| dec(&l["volume"])).sum::<Decimal>(), dec(&e["volume"]));
                    prop_assert_eq!(eligible.iter().map(|l| fee_of(l)).sum::<Decimal>(), dec(&e["fees"]));
                    // No registry: nobody is withheld.
                    prop_assert_eq!(dec(&p["withheld"]), Decimal::ZERO);
                }
            }
        }
    }

    #[test]
    fn backpack_effective_rate_is_at_most_half_minus_affiliate(trades in arb_trades()) {
        let s: Value = serde_json::from_str(&statement_bytes("backpack", &trades, &[])).unwrap();
        for line in s["lines"].as_array().unwrap() {
            let t = trades.iter().find(|t| t["id"] == line["id"]).unwrap();
            let fee = dec(&t["fee"]).max(Decimal::ZERO);
            let cap = (Decimal::new(5, 1) - dec(&t["affiliate_rate"])).max(Decimal::ZERO);
            prop_assert!(dec(&line["commission"]) <= fee * cap, "{}", line);
        }
    }

    #[test]
    fn tiers_are_monotone_in_volume(a in 0u64..200_000_000, b in 0u64..200_000_000, clients in 0u64..120) {
        let (lo, hi) = (a.min(b), a.max(b));
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            let p = program(id).unwrap();
            let rank = |v: u64| {
                let sc: broker_rules::Scenario = serde_json::from_value(json!({
                    "volume": v.to_string(), "fee_rate": "0.0005", "active_clients": clients,
                    "mix": [{"product": "spot", "channel": "api", "share": "0.5"}, {"product": "futures", "channel": "api", "share": "0.5"}]
                })).unwrap();
                let e = broker_rules::estimate(&p, &sc).unwrap();
                (e.tier.map(|t| p.level_names().position(|n| n == t).unwrap() + 1).unwrap_or(0), dec(&json!(e.commission)))
            };
            let (r_lo, c_lo) = rank(lo);
            let (r_hi, c_hi) = rank(hi);
            prop_assert!(r_lo <= r_hi, "{}: {} -> {}, {} -> {}", id, lo, r_lo, hi, r_hi);
            prop_assert!(c_lo <= c_hi);
        }
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9.eE+-]{0,12}",
        "\\PC{0,16}",
        Just("79228162514264337593543950335".to_string()),
        Just("-79228162514264337593543950335".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        Just("9999-12-31T23:59:59.999999999Z".to_string()),
        Just("0000-01-01T00:00:00Z".to_string()),
        Just("2026-06-01T00:00:00+14:00".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Hostile field values, request shapes and expressions come back as envelopes, never panics.
    #[test]
    fn no_input_panics(fields in prop::collection::vec(arb_text(), 8), fee_num in any::<f64>(), expr in "[a-z_ ()0-9.%+*/<>=!,'\\[\\]-]{0,30}") {
        let keys = ["time", "notional", "fee", "fee_rate", "affiliate_rate", "vip", "channel", "product"];
        let mut t = json!({"id": "x", "account": "a", "broker": "B", "channel": "api", "product": "spot", "time": "2026-06-01T00:00:00Z", "notional": "1", "fee": "1"});
        for (k, v) in keys.iter().zip(&fields) {
            t[*k] = json!(v);
        }
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            for req in [
                json!({"program": id, "trades": [t.clone()], "options": {"lines": true}}),
                json!({"program": id, "trades": [{"id": "n", "fee": fee_num}]}),
                json!({"program": id, "scenario": {"volume": fields[1], "fee_rate": fields[2], "affiliate_share": fields[3]}}),
            ] {
                for f in ["settle", "explain", "estimate", "validate"] {
                    let out = api::call(f, &req.to_string());
                    prop_assert!(out.starts_with("{\"ok\":") || out.starts_with("{\"error\":"), "{}", out);
                }
            }
        }
        let mut p: Value = serde_json::from_str(broker_rules::builtin::SOURCES[0].1).unwrap();
        p["formula"] = json!(expr.clone());
        p["exclusions"][0]["when"] = json!(expr);
        let out = api::call("settle", &json!({"program": p, "trades": [t]}).to_string());
        prop_assert!(out.starts_with("{\"ok\":") || out.starts_with("{\"error\":"), "{}", out);
        let _ = api::call("settle", &fields.join(""));
    }
}
