//! Regression tests for what fuzzing found (docs/fuzzing.md lists each finding and its fix).
//! The inputs themselves are also under `fuzz/regressions/` and replayed by `fuzz_corpus.rs`.

use broker_rules::api::{self, settle_with, Path};
use serde_json::{json, Value};

const SUM_LIMIT: &str = concat!(
    r#"{"error":{"code":"E_OVERFLOW","message":"a total of volume, fees or commission cannot "#,
    r#"be held exactly in a 96-bit decimal (28 to 29 significant digits); it is never "#,
    r#"rounded, so the settlement stops (the same trades in any order or split give this "#,
    r#"error)"}}"#
);

fn trade(id: &str, time: &str, notional: &str, fee: &str) -> Value {
    json!({"id": id, "time": time, "account": "c1", "broker": "B1", "channel": "api",
           "product": "spot", "notional": notional, "fee": fee})
}

/// Every path and both orders of `trades` give `expected`, byte for byte.
fn all_paths(program: &str, trades: Vec<Value>, options: Value, expected: &str) {
    let mut reversed = trades.clone();
    reversed.reverse();
    for ts in [trades, reversed] {
        let req = json!({"program": program, "trades": ts, "options": options}).to_string();
        assert_eq!(api::call("settle", &req), expected, "{req}");
        assert_eq!(
            settle_with(&req, Path::PerTrade),
            expected,
            "per-trade: {req}"
        );
        for parts in [2, 3] {
            for seed in [0, 1, 7] {
                let out = settle_with(&req, Path::Partitioned { parts, seed });
                assert_eq!(out, expected, "{parts} partial states, seed {seed}: {req}");
            }
        }
    }
}

/// Finding 1: a volume total past 28 significant digits rejected whichever trade came second,
/// so the statement (tier BKR 4 with one trade, or BKR 0 with the other) depended on the
/// order, and merged partial states gave an error instead.
#[test]
fn a_total_past_28_digits_is_one_error_in_any_order() {
    let trades = vec![
        trade(
            "a",
            "2026-06-10T00:00:00Z",
            "99999999.99999999999999999999",
            "1000",
        ),
        trade("b", "2026-06-10T00:00:00Z", "0.000000000000000000009", "0"),
    ];
    all_paths("backpack", trades, json!({}), SUM_LIMIT);
}

/// The same in strict mode and for a total past the 96-bit range: no trade is named (which
/// one crosses the limit depends on the order).
#[test]
fn a_total_past_96_bits_names_no_trade() {
    let n = "50000000000000000000000000000";
    let trades = vec![
        trade("g", "2026-06-01T00:00:00Z", n, "1"),
        trade("h", "2026-06-01T00:00:00Z", n, "1"),
        trade("i", "2026-06-01T00:00:00Z", "1", "1"),
    ];
    all_paths("xt", trades.clone(), json!({"strict": true}), SUM_LIMIT);
    all_paths("xt", trades, json!({}), SUM_LIMIT);
}

/// Finding 2: window sums across days saturated with `checked_add`, which rounds a sum past
/// 28 digits: day volumes 99999999.99999999999999999999 and 0.000000000000000000009 gave a
/// 30-day volume of 100,000,000 (XT VIP 3, 60%) though the true volume is below it.
#[test]
fn a_window_total_is_exact_or_an_error() {
    let trades = vec![
        trade(
            "a",
            "2026-06-01T10:00:00Z",
            "99999999.99999999999999999999",
            "1",
        ),
        trade("b", "2026-06-02T10:00:00Z", "0.000000000000000000009", "1"),
        trade("c", "2026-06-03T10:00:00Z", "1000", "1"),
    ];
    all_paths("xt", trades, json!({}), SUM_LIMIT);
    // Below the limit the window is summed exactly: 99,999,999.9999 + 0.0001 = 100,000,000
    // reaches VIP 3 (60% of the fee 1 = 0.6) on June 3.
    let trades = vec![
        trade("a", "2026-06-01T10:00:00Z", "99999999.9999", "1"),
        trade("b", "2026-06-02T10:00:00Z", "0.0001", "1"),
        trade("c", "2026-06-03T10:00:00Z", "1000", "1"),
    ];
    let req = json!({"program": "xt", "trades": trades}).to_string();
    let out: Value = serde_json::from_str(&api::call("settle", &req)).unwrap();
    let june3 = &out["ok"]["brokers"][0]["periods"][2];
    assert_eq!(june3["start"], "2026-06-03T00:00:00Z");
    assert_eq!(june3["tier"], "VIP 3");
    assert_eq!(june3["commission"], "0.60000000");
}

/// Finding 3: a trade whose commission cannot be exact (fee 1e-28 at a 12.5% rate needs 29
/// fractional digits) was rejected by the per-trade engine but summed by the batch engine,
/// whose price of the period then failed. Both engines now price a trade only at the level
/// its broker reaches (SPEC 3; found later by the independent model): where that level's
/// commission cannot be exact the settlement stops with the same `E_OVERFLOW` on every path,
/// and a level the broker never reaches rejects nothing.
#[test]
fn both_engines_price_an_inexact_commission_only_at_the_level_reached() {
    let trades = json!([
        trade(
            "a",
            "2026-06-01T00:00:00Z",
            "1",
            "0.0000000000000000000000000001"
        ),
        trade("b", "2026-06-01T00:00:00Z", "1", "1"),
        // Past the fixed point's range the batch engine takes the row path: same rule.
        trade(
            "c",
            "2026-06-01T00:00:00Z",
            "1",
            "9999999999.999999999999999999"
        ),
    ]);
    let same_on_every_path = |req: &str| {
        let out = api::call("settle", req);
        assert_eq!(out, settle_with(req, Path::PerTrade));
        for seed in [0, 1, 2] {
            assert_eq!(out, settle_with(req, Path::Partitioned { parts: 2, seed }));
        }
        serde_json::from_str::<Value>(&out).unwrap()
    };
    // VIP 1 (12.5%) from 10,000,000: never reached, so a and c settle at no tier (rate 0).
    let mut p: Value =
        serde_json::from_str(&broker_rules::program("xt").unwrap().to_json()).unwrap();
    p["tiers"]["levels"][0]["rates"]["rate"] = json!("0.125");
    // (a and c apart: together their fees sum past 28 digits.)
    for pair in [[0, 1], [2, 1]] {
        let two = json!([trades[pair[0]], trades[pair[1]]]);
        let req = json!({"program": p, "trades": two}).to_string();
        let v = same_on_every_path(&req);
        assert_eq!(v["ok"]["rejected"], json!([]), "{v}");
        assert_eq!(v["ok"]["summary"]["trades"], 2);
        assert_eq!(v["ok"]["brokers"][0]["commission"], "0.00000000");
    }
    // VIP 1 from 0: reached, and a's 12.5% needs 29 digits: the settlement stops.
    p["tiers"]["ladders"][0]["steps"][0]["min"]["volume"] = json!("0");
    let req = json!({"program": p, "trades": trades}).to_string();
    let v = same_on_every_path(&req);
    assert_eq!(v["error"]["code"], "E_OVERFLOW");
}

/// Finding 4: the per-trade engine recorded an id only once its trade was settled, the batch
/// engine before: nine copies of a rejected trade were nine rejections on one engine and one
/// rejection plus eight duplicates on the other; and a rejected trade followed by a valid
/// one under the same id settled, while the other order was `E_DUPLICATE_ID`. Both engines
/// now record the id first.
#[test]
fn an_id_is_recorded_before_its_trade_can_be_rejected() {
    let mut p: Value =
        serde_json::from_str(&broker_rules::program("xt").unwrap().to_json()).unwrap();
    p["tiers"]["levels"][0]["rates"]["rate"] = json!("0.125");
    p["tiers"]["ladders"][0]["steps"][0]["min"]["volume"] = json!("0");
    // Fee 1e-28 times 0.125 + any level's rate is exact at no level: the trade is rejected.
    p["formula"] = json!("fee * (tier_rate + 0.125)");
    let bad = trade(
        "a",
        "2026-06-01T00:00:00Z",
        "1",
        "0.0000000000000000000000000001",
    );
    let good = trade("b", "2026-06-01T00:00:00Z", "1", "1");
    for program in [p.clone(), {
        // Graduated mode: a program only the per-trade engine settles.
        let mut g = p.clone();
        g["tiers"]["mode"] = json!("graduated");
        g
    }] {
        let req = json!({"program": program, "trades": [bad, bad, bad, good]}).to_string();
        let out = api::call("settle", &req);
        assert_eq!(out, settle_with(&req, Path::PerTrade));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ok"]["summary"]["rejected"], 1, "{out}");
        assert_eq!(v["ok"]["summary"]["duplicates"], 2, "{out}");
        assert_eq!(v["ok"]["summary"]["trades"], 1, "{out}");
        let other = trade("a", "2026-06-01T00:00:00Z", "1", "1");
        for trades in [json!([bad, other]), json!([other, bad])] {
            let req = json!({"program": program, "trades": trades}).to_string();
            for out in [api::call("settle", &req), settle_with(&req, Path::PerTrade)] {
                assert!(
                    out.starts_with(r#"{"error":{"code":"E_DUPLICATE_ID""#),
                    "{out}"
                );
            }
        }
    }
}

/// Finding 5: with two fatal problems in one log, a total past its limit and an id with two
/// contents, the batch engine (which checks a batch's ids first) said `E_DUPLICATE_ID` and the
/// per-trade engine `E_OVERFLOW`. Now a total past its limit is the result only once every
/// trade's id was checked: `E_DUPLICATE_ID` wins on every path and in any order.
#[test]
fn a_duplicate_id_wins_over_a_total_past_its_limit() {
    let n = "50000000000000000000000000000";
    let trades = vec![
        trade("g", "2026-06-01T00:00:00Z", n, "1"),
        trade("h", "2026-06-01T00:00:00Z", n, "1"),
        trade("x", "2026-06-02T00:00:00Z", "1", "1"),
        trade("x", "2026-06-02T00:00:00Z", "2", "1"),
    ];
    for (program, options) in [("xt", json!({})), ("xt", json!({"lines": true}))] {
        let mut reversed = trades.clone();
        reversed.reverse();
        for ts in [trades.clone(), reversed] {
            let req = json!({"program": program, "trades": ts, "options": options}).to_string();
            let out = api::call("settle", &req);
            assert!(
                out.starts_with(r#"{"error":{"code":"E_DUPLICATE_ID""#),
                "{out}"
            );
            assert_eq!(out, settle_with(&req, Path::PerTrade));
            assert_eq!(
                out,
                settle_with(&req, Path::Partitioned { parts: 3, seed: 5 })
            );
        }
    }
    // The same log as CSV through the readers (the batch engine's column path).
    let csv = "id,time,account,broker,channel,product,notional,fee\n\
               g,2026-06-01T00:00:00Z,c1,B1,api,spot,50000000000000000000000000000,1\n\
               h,2026-06-01T00:00:00Z,c1,B1,api,spot,50000000000000000000000000000,1\n\
               x,2026-06-02T00:00:00Z,c1,B1,api,spot,1,1\n\
               x,2026-06-02T00:00:00Z,c1,B1,api,spot,2,1\n";
    let p = broker_rules::program("xt").unwrap();
    for engine in [
        broker_rules::settle::EngineChoice::Auto,
        broker_rules::settle::EngineChoice::PerTrade,
    ] {
        let opts = broker_rules::SettleOptions::default();
        let mut s = broker_rules::Settler::with_engine(&p, None, &opts, engine).unwrap();
        let e = broker_rules::read::feed(
            &mut s,
            csv.as_bytes(),
            broker_rules::read::Format::Csv,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(
            e.code,
            broker_rules::ErrorCode::DuplicateId,
            "{engine:?}: {e:?}"
        );
        assert_eq!(e.location.line, Some(5));
    }
}

/// Finding 7: the per-trade engine summed each trade's commission under every level, and
/// failed the settlement when the total under a level the broker never reached passed the
/// limit; the batch engine prices only the level reached. Two fees of
/// 99,999,999.99999999999999999999 on an XT day without a tier: 40% of each is exact, their
/// sum at VIP 1 is not, and at no tier (rate 0) the day pays 0 on both engines.
#[test]
fn a_total_under_an_unreached_level_is_not_an_error() {
    let f = "99999999.99999999999999999999";
    let trades = json!([
        trade("a", "2026-06-10T01:00:00Z", f, f),
        trade("b", "2026-06-10T02:00:00Z", f, f),
    ]);
    let req = json!({"program": "xt", "trades": trades}).to_string();
    let out = api::call("settle", &req);
    assert_eq!(out, settle_with(&req, Path::PerTrade));
    let v: Value = serde_json::from_str(&out).unwrap();
    let day = &v["ok"]["brokers"][0]["periods"][0];
    assert_eq!(day["tier"], Value::Null, "{out}");
    assert_eq!(day["commission"], "0.00000000");
    assert_eq!(day["fees"], "199999999.99999999999999999998");
}

/// Finding 8: the batch engine summed the fee and notional of trades outside `from..to` that
/// feed no tier metric, which nothing reads; when such a sum passed its limit it failed the
/// settlement the per-trade engine (which never sums them) completed. A May trade of notional
/// 79,228,162,514,264,337,593,543,950,335 on channel `app` (Backpack counts only API volume)
/// and another in its hour, settled from June 1.
#[test]
fn unused_history_sums_are_not_summed() {
    let max = "79228162514264337593543950335";
    let mut a = trade("a", "2026-05-31T10:00:00Z", max, max);
    a["channel"] = json!("app");
    let mut b = trade("b", "2026-05-31T10:30:00Z", "1", "1");
    b["channel"] = json!("app");
    let c = trade("c", "2026-06-10T10:00:00Z", "1000", "1");
    let req = json!({"program": "backpack", "trades": [a, b, c],
                     "options": {"from": "2026-06-01T00:00:00Z"}})
    .to_string();
    let out = api::call("settle", &req);
    assert_eq!(out, settle_with(&req, Path::PerTrade));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"]["brokers"][0]["commission"], "0.20", "{out}"); // 1 x 20%
}
