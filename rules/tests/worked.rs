//! The worked numbers of issue 2, asserted exactly.
mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn backpack_affiliate_rate_caps_the_broker_share() {
    // BKR 3 (40%) from 20,000,000 API volume; one client trade with fee 2,000.
    for (aff, want) in [
        ("0", "800.00"),
        ("0.10", "800.00"),
        ("0.30", "400.00"),
        ("0.50", "0.00"),
        ("0.60", "0.00"),
    ] {
        let t = with(
            trade(
                "t1",
                "2026-06-10T13:45:00Z",
                "c1",
                "B1",
                "api",
                "spot",
                "20000000",
                "2000",
            ),
            "affiliate_rate",
            json!(aff),
        );
        let s = settle("backpack", vec![t]);
        let p = &s["brokers"][0]["periods"][0];
        assert_eq!(p["tier"], "BKR 3", "affiliate {aff}");
        assert_eq!(p["rate"], "0.4");
        assert_eq!(p["commission"], want, "affiliate {aff}");
        assert_eq!(s["brokers"][0]["commission"], want);
    }
}

#[test]
fn backpack_tier_threshold_is_inclusive() {
    let below = settle(
        "backpack",
        vec![trade(
            "t1",
            "2026-06-10T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "4999999.99",
            "100",
        )],
    );
    let p = &below["brokers"][0]["periods"][0];
    assert_eq!(
        (
            p["tier"].as_str(),
            p["rate"].as_str(),
            p["commission"].as_str()
        ),
        (Some("BKR 0"), Some("0.2"), Some("20.00"))
    );
    let at = settle(
        "backpack",
        vec![trade(
            "t1",
            "2026-06-10T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "5000000",
            "100",
        )],
    );
    let p = &at["brokers"][0]["periods"][0];
    assert_eq!(
        (
            p["tier"].as_str(),
            p["rate"].as_str(),
            p["commission"].as_str()
        ),
        (Some("BKR 1"), Some("0.3"), Some("30.00"))
    );
}

fn three_clients() -> Vec<Value> {
    vec![
        trade(
            "a",
            "2026-06-03T10:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "4000000",
            "2000",
        ),
        with(
            trade(
                "b",
                "2026-06-14T10:00:00Z",
                "c2",
                "B1",
                "api",
                "futures",
                "4000000",
                "2400",
            ),
            "affiliate_rate",
            json!("0.10"),
        ),
        with(
            trade(
                "c",
                "2026-06-29T23:59:59Z",
                "c3",
                "B1",
                "api",
                "spot",
                "2000000",
                "600",
            ),
            "affiliate_rate",
            json!("0.25"),
        ),
    ]
}

#[test]
fn backpack_three_clients_in_one_month() {
    let s = settle("backpack", three_clients());
    assert_eq!(line(&s, "a")["commission"], "700");
    assert_eq!(line(&s, "b")["commission"], "840");
    assert_eq!(line(&s, "c")["commission"], "150");
    let b = &s["brokers"][0];
    assert_eq!(b["commission"], "1690.00");
    let p = &b["periods"][0];
    assert_eq!(p["tier"], "BKR 2");
    assert_eq!(p["volume"], "10000000");
    assert_eq!(p["fees"], "5000");
    assert_eq!(p["credit_at"], "2026-07-01T00:00:00Z");
    assert_eq!(s["summary"]["commission"], "1690.00");
    assert_eq!(s["currency"], "USD");
}

#[test]
fn backpack_excludes_web_and_other_products_but_counts_api_volume() {
    let trades = vec![
        trade(
            "a",
            "2026-06-03T10:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "5000000",
            "1000",
        ),
        trade(
            "w",
            "2026-06-03T11:00:00Z",
            "c1",
            "B1",
            "web",
            "spot",
            "9000000",
            "1000",
        ),
        trade(
            "o",
            "2026-06-03T12:00:00Z",
            "c1",
            "B1",
            "api",
            "options",
            "9000000",
            "1000",
        ),
    ];
    let s = settle("backpack", trades);
    let p = &s["brokers"][0]["periods"][0];
    assert_eq!(p["tier"], "BKR 1"); // only api spot+futures volume counts
    assert_eq!(p["commission"], "300.00");
    assert_eq!(
        p["excluded"],
        json!({"non_api_channel": {"trades": 1, "volume": "9000000", "fees": "1000"}, "product_not_eligible": {"trades": 1, "volume": "9000000", "fees": "1000"}})
    );
    assert_eq!(p["trades"], 3);
}

#[test]
fn xt_rolling_thirty_days_before_the_day() {
    // 1,000,000 USDT spot every UTC day from June 1, fee 2,000 a day.
    let mut trades = Vec::new();
    for d in 1..=31 {
        let time = if d <= 30 {
            format!("2026-06-{d:02}T12:00:00Z")
        } else {
            "2026-07-01T12:00:00Z".into()
        };
        trades.push(trade(
            &format!("d{d}"),
            &time,
            "c1",
            "X1",
            "api",
            "spot",
            "1000000",
            "2000",
        ));
    }
    let s = ok(
        "settle",
        json!({"program": "xt", "trades": trades, "options": {"to": "2026-07-02T00:00:00Z"}}),
    );
    let periods = s["brokers"][0]["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 31);
    for (i, p) in periods.iter().enumerate() {
        let d = i + 1;
        // Day T's tier reads the 30 days before T: (d - 1) x 1,000,000 in June.
        let (tier, commission) = match d {
            1..=10 => (Value::Null, "0.00000000"),
            11..=30 => (json!("VIP 1"), "800.00000000"),
            _ => (json!("VIP 2"), "1000.00000000"), // July 1: June 1-30 = 30,000,000
        };
        assert_eq!(p["tier"], tier, "day {d}");
        assert_eq!(p["commission"], commission, "day {d}");
        let (m, day) = if d <= 30 { (6, d) } else { (7, 1) };
        assert_eq!(p["start"], format!("2026-{m:02}-{day:02}T00:00:00Z"));
    }
    assert_eq!(periods[0]["credit_at"], "2026-06-02T09:00:00Z");
    assert_eq!(periods[29]["credit_at"], "2026-07-01T09:00:00Z");
    let june: rust_decimal::Decimal = periods[..30]
        .iter()
        .map(|p| {
            p["commission"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(june.to_string(), "16000.00000000");
    assert_eq!(s["brokers"][0]["commission"], "17000.00000000");
    assert_eq!(periods[10]["metrics"]["volume"], "10000000");
}

fn okx_may_history() -> Vec<Value> {
    // May: spot 1,000,000 over 10 clients (spot L2); derivatives 50,000,000 over 20 clients (derivatives L3).
    let mut t = Vec::new();
    for c in 0..10 {
        t.push(trade(
            &format!("ms{c}"),
            "2026-05-10T10:00:00Z",
            &format!("s{c}"),
            "K1",
            "api",
            "spot",
            "100000",
            "10",
        ));
    }
    for c in 0..20 {
        t.push(trade(
            &format!("md{c}"),
            "2026-05-20T10:00:00Z",
            &format!("d{c}"),
            "K1",
            "oauth",
            "swap",
            "2500000",
            "10",
        ));
    }
    t
}

#[test]
fn okx_previous_month_two_ladders_channels_and_exclusions() {
    let mut trades = okx_may_history();
    trades.extend([
        trade(
            "api",
            "2026-06-02T10:05:00Z",
            "c1",
            "K1",
            "api",
            "spot",
            "100000",
            "100",
        ),
        trade(
            "web",
            "2026-06-02T10:10:00Z",
            "c1",
            "K1",
            "web",
            "spot",
            "100000",
            "100",
        ),
        with(
            trade(
                "vip6",
                "2026-06-02T10:15:00Z",
                "c2",
                "K1",
                "api",
                "spot",
                "100000",
                "100",
            ),
            "vip",
            json!(6),
        ),
        with(
            trade(
                "disc",
                "2026-06-02T10:20:00Z",
                "c3",
                "K1",
                "api",
                "spot",
                "100000",
                "100",
            ),
            "fee_discount",
            json!(true),
        ),
        with(
            trade(
                "bound",
                "2026-06-02T10:25:00Z",
                "c4",
                "K1",
                "api",
                "spot",
                "100000",
                "100",
            ),
            "affiliate_rate",
            json!("0.2"),
        ),
    ]);
    let s = ok(
        "settle",
        json!({"program": "okx", "trades": trades, "options": {"from": "2026-06-01T00:00:00Z", "lines": true}}),
    );
    let periods = s["brokers"][0]["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 1);
    let p = &periods[0];
    assert_eq!(p["tier"], "L3"); // max(spot L2, derivatives L3)
    assert_eq!(p["rates"], json!({"bound_rate": "0.1", "rate": "0.35"}));
    assert_eq!(p["metrics"]["derivatives_clients"], "20");
    assert_eq!(p["metrics"]["spot_volume"], "1000000");
    assert_eq!(p["commission"], "45.00000000"); // 100 x 35% + 100 x 10%
    assert_eq!(p["start"], "2026-06-02T10:00:00Z");
    assert_eq!(p["credit_at"], "2026-06-02T12:00:00Z"); // one hour after the hour closes
    assert_eq!(line(&s, "api")["commission"], "35");
    assert_eq!(line(&s, "web")["excluded"], "non_api_channel");
    assert_eq!(line(&s, "vip6")["excluded"], "vip6_plus");
    assert_eq!(line(&s, "disc")["excluded"], "fee_discount_instrument");
    assert_eq!(line(&s, "bound")["commission"], "10");
    assert_eq!(p["trades"], 5);
    assert_eq!(p["volume"], "500000");
}

#[test]
fn okx_without_previous_month_history_earns_nothing() {
    let s = settle(
        "okx",
        vec![trade(
            "api",
            "2026-06-02T10:05:00Z",
            "c1",
            "K1",
            "api",
            "spot",
            "100000",
            "100",
        )],
    );
    let p = &s["brokers"][0]["periods"][0];
    assert_eq!(
        (p["tier"].clone(), p["commission"].clone()),
        (Value::Null, json!("0.00000000"))
    );
}

#[test]
fn okx_vip6_trades_still_count_toward_the_level() {
    // Excluded VIP 6 spot trades in May reach spot L1 (10,000 & 5 clients) on their own.
    let mut trades: Vec<Value> = (0..5)
        .map(|c| {
            with(
                trade(
                    &format!("m{c}"),
                    "2026-05-05T00:00:00Z",
                    &format!("v{c}"),
                    "K1",
                    "api",
                    "spot",
                    "2000",
                    "1",
                ),
                "vip",
                json!(7),
            )
        })
        .collect();
    trades.push(trade(
        "june",
        "2026-06-01T00:00:00Z",
        "c1",
        "K1",
        "api",
        "spot",
        "1000",
        "4",
    ));
    let s = settle("okx", trades);
    let june = s["brokers"][0]["periods"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (june["tier"].as_str(), june["commission"].as_str()),
        (Some("L1"), Some("1.00000000"))
    );
}

fn custom(rounding: &str) -> Value {
    let mut p: Value = serde_json::from_str(broker_rules::builtin::SOURCES[0].1).unwrap();
    p["id"] = json!("backpack-variant");
    p["settlement"]["rounding"] = json!(rounding);
    p
}

#[test]
fn rounding_applies_once_per_period_on_the_exact_sum() {
    // BKR 0 (20%): fees 2.8125 + 2.8125 -> 0.5625 + 0.5625 = 1.125 exactly: a half cent.
    let trades = vec![
        trade(
            "a",
            "2026-06-01T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "100",
            "2.8125",
        ),
        trade(
            "b",
            "2026-06-02T00:00:00Z",
            "c2",
            "B1",
            "api",
            "spot",
            "100",
            "2.8125",
        ),
    ];
    for (mode, want) in [("half_even", "1.12"), ("half_up", "1.13"), ("down", "1.12")] {
        let s = ok("settle", json!({"program": custom(mode), "trades": trades}));
        assert_eq!(s["brokers"][0]["periods"][0]["exact"], "1.125");
        assert_eq!(s["brokers"][0]["periods"][0]["commission"], want, "{mode}");
    }
    // half-even rounds 1.135 up to the even 1.14
    let t = vec![trade(
        "a",
        "2026-06-01T00:00:00Z",
        "c1",
        "B1",
        "api",
        "spot",
        "100",
        "5.675",
    )];
    assert_eq!(
        settle("backpack", t)["brokers"][0]["periods"][0]["commission"],
        "1.14"
    );
}

#[test]
fn negative_fee_earns_zero_and_is_counted() {
    let trades = vec![
        trade(
            "pos",
            "2026-06-01T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "100",
            "10",
        ),
        trade(
            "neg",
            "2026-06-01T00:01:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "100",
            "-5",
        ),
    ];
    let s = settle("backpack", trades.clone());
    assert_eq!(line(&s, "neg")["commission"], "0");
    let p = &s["brokers"][0]["periods"][0];
    assert_eq!(
        (
            p["trades"].as_u64(),
            p["fees"].as_str(),
            p["commission"].as_str()
        ),
        (Some(2), Some("5"), Some("2.00"))
    );
    // Netted instead: 10 x 20% - 5 x 20% = 1.00
    let mut net = custom("half_even");
    net["negative_fees"] = json!("net");
    let s = ok("settle", json!({"program": net, "trades": trades}));
    assert_eq!(s["brokers"][0]["periods"][0]["commission"], "1.00");
}

#[test]
fn duplicate_ids() {
    let t = trade(
        "same",
        "2026-06-01T00:00:00Z",
        "c1",
        "B1",
        "api",
        "spot",
        "100",
        "10",
    );
    let s = settle("backpack", vec![t.clone(), t.clone()]);
    assert_eq!(s["summary"]["trades"], 1);
    assert_eq!(s["summary"]["duplicates"], 1);
    assert_eq!(s["brokers"][0]["periods"][0]["trades"], 1);
    assert_eq!(s["brokers"][0]["periods"][0]["commission"], "2.00");
    let other = with(t.clone(), "fee", json!("11"));
    let e = err(
        "settle",
        json!({"program": "backpack", "trades": [t, other]}),
    );
    assert_eq!(e["code"], "E_DUPLICATE_ID");
    assert_eq!(
        e["message"],
        "trade id \"same\" appears twice with different content"
    );
    assert_eq!(
        e["location"],
        json!({"field": "id", "line": 2, "id": "same"})
    );
}

#[test]
fn lenient_rejects_are_listed_strict_fails() {
    let good = trade(
        "g",
        "2026-06-01T00:00:00Z",
        "c1",
        "B1",
        "api",
        "spot",
        "100",
        "10",
    );
    let bad = trade(
        "b",
        "2026-06-01T00:00:00Z",
        "c1",
        "B1",
        "api",
        "spot",
        "-1",
        "10",
    );
    let sci = trade(
        "s",
        "2026-06-01T00:00:00Z",
        "c1",
        "B1",
        "api",
        "spot",
        "1e5",
        "10",
    );
    let num = with(
        trade(
            "n",
            "2026-06-01T00:00:00Z",
            "c1",
            "B1",
            "api",
            "spot",
            "1",
            "10",
        ),
        "fee",
        json!(0.1),
    );
    let s = ok(
        "settle",
        json!({"program": "backpack", "trades": [good, bad, sci, num]}),
    );
    assert_eq!(s["summary"]["trades"], 1);
    assert_eq!(
        s["rejected"],
        json!([
            {"id": "b", "line": 2, "code": "E_VALUE", "message": "notional must be >= 0, got -1", "field": "notional"},
            {"id": "s", "line": 3, "code": "E_DECIMAL", "message": "\"1e5\" is not a decimal: scientific notation is not accepted; write the digits out, e.g. \"0.00012\"", "field": "notional"},
            {"id": "n", "line": 4, "code": "E_DECIMAL", "message": "fee is the JSON number 0.1; decimals must be strings such as \"0.1\" so no digit is lost to binary floating point", "field": "fee"}
        ])
    );
    let e = err(
        "settle",
        json!({"program": "backpack", "trades": [good, bad], "options": {"strict": true}}),
    );
    assert_eq!(
        (e["code"].as_str(), e["location"]["line"].as_u64()),
        (Some("E_VALUE"), Some(2))
    );
}

#[test]
fn independent_broker_sub_accounts_win_over_codes() {
    let registry = json!({"brokers": [
        {"code": "IND", "account": "master-1", "model": "independent", "sub_accounts": ["sub-a"]},
        {"code": "API1", "model": "api"}
    ]});
    let trades = vec![
        trade(
            "t1",
            "2026-06-01T00:00:00Z",
            "sub-a",
            "API1",
            "web",
            "spot",
            "100",
            "10",
        ),
        with(
            trade(
                "t2",
                "2026-06-01T00:00:00Z",
                "sub-b",
                "",
                "app",
                "spot",
                "100",
                "10",
            ),
            "master",
            json!("master-1"),
        ),
        trade(
            "t3",
            "2026-06-01T00:00:00Z",
            "c9",
            "NOPE",
            "api",
            "spot",
            "100",
            "10",
        ),
    ];
    let s = ok(
        "settle",
        json!({"program": "xt", "trades": trades, "registry": registry, "options": {"lines": true}}),
    );
    assert_eq!(line(&s, "t1")["broker"], "IND");
    assert_eq!(line(&s, "t1")["attribution"], "sub_account");
    assert_eq!(line(&s, "t2")["broker"], "IND");
    assert_eq!(line(&s, "t3")["excluded"], "unenrolled_broker");
    assert_eq!(
        s["summary"]["unattributed"],
        json!({"unenrolled_broker": {"trades": 1, "volume": "100", "fees": "10"}})
    );
}

#[test]
fn sub_broker_parent_share_and_affiliate_conflict() {
    let registry = json!({
        "brokers": [{"code": "P"}, {"code": "S", "parent": "P", "parent_share": "0.2"}],
        "affiliates": []
    });
    let mut trades = okx_may_history();
    for t in trades.iter_mut() {
        t["broker"] = json!("S");
    }
    trades.push(trade(
        "j",
        "2026-06-02T10:05:00Z",
        "c1",
        "S",
        "api",
        "spot",
        "100000",
        "100",
    ));
    let s = ok(
        "settle",
        json!({"program": "okx", "trades": trades, "registry": registry, "options": {"from": "2026-06-01T00:00:00Z"}}),
    );
    let (p, sb) = (&s["brokers"][0], &s["brokers"][1]);
    assert_eq!(
        (p["broker"].as_str(), p["commission"].as_str()),
        (Some("P"), Some("7.00000000"))
    );
    assert_eq!(p["periods"][0]["from_sub_brokers"], "7");
    assert_eq!(
        (sb["broker"].as_str(), sb["commission"].as_str()),
        (Some("S"), Some("28.00000000"))
    );
    assert_eq!(sb["periods"][0]["to_parent"], "7");

    let conflict =
        json!({"brokers": [{"code": "B1", "account": "acc-1"}], "affiliates": ["acc-1"]});
    let s = ok(
        "settle",
        json!({"program": "backpack", "registry": conflict,
        "trades": [trade("a", "2026-06-01T00:00:00Z", "c1", "B1", "api", "spot", "100", "10")]}),
    );
    let b = &s["brokers"][0];
    assert_eq!(
        (b["status"].as_str(), b["reason"].as_str()),
        (Some("withheld"), Some("broker_affiliate_conflict"))
    );
    assert_eq!(
        (b["commission"].as_str(), b["withheld"].as_str()),
        (Some("0.00"), Some("2.00"))
    );
    // A withheld broker's period pays 0 and shows what it withheld: 10 x 20% = 2.00.
    assert_eq!(b["periods"][0]["commission"], "0.00");
    assert_eq!(b["periods"][0]["withheld"], "2.00");
}

#[test]
fn estimate_backpack_curve() {
    let e = ok(
        "estimate",
        json!({"program": "backpack", "scenario": {"volume": "8000000", "fee_rate": "0.0002",
        "affiliate_share": "0.5", "affiliate_rate": "0.25"}}),
    );
    // fees 1,600: half at 30%, half at min(30%, 25%) = 25% -> 240 + 200
    assert_eq!(
        (
            e["tier"].as_str(),
            e["fees"].as_str(),
            e["commission"].as_str()
        ),
        (Some("BKR 1"), Some("1600"), Some("440.00"))
    );
    assert_eq!(
        e["next"],
        json!({"tier": "BKR 2", "rate": "0.35", "volume": "10000000", "volume_needed": "2000000", "commission": "600.00"})
    );
    let vols: Vec<&str> = e["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["volume"].as_str().unwrap())
        .collect();
    assert_eq!(
        vols,
        [
            "0",
            "5000000",
            "10000000",
            "20000000",
            "60000000",
            "100000000"
        ]
    );
}
