//! A seeded generator plants each kind of difference (every cause code) in reports of all
//! three built-in programs: each planted difference is found with its cause, nothing else is
//! flagged, and the clean report matches 100% (issue 13's generator test).

use broker_rules::api;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const HEADER: &str = "brokerCode,level,uid,instId,ordId,clOrdId,spotTradeAmt,derivativeTradeAmt,fee,netFee,settlementFee,brokerRebate,suBrokerRebate,userRebate,affiliated,ts";
const JUNE_10_MS: i64 = 1_781_049_600_000; // 2026-06-10T00:00:00Z

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn trade(
    id: &str,
    order: &str,
    account: &str,
    time: &str,
    notional: &str,
    fee: &str,
    channel: &str,
) -> Value {
    json!({"id": id, "order": order, "time": time, "account": account, "broker": "B1",
           "channel": channel, "product": "spot", "notional": notional, "fee": fee})
}

/// History that gives each program a paying tier in June: XT VIP 1 (40%) from May's
/// 20,000,000; OKX L1 (25%) from May's 5 clients; Backpack pays BKR 0 (20%) with none.
fn history(program: &str) -> Vec<Value> {
    match program {
        "xt" => vec![trade(
            "h0",
            "h0",
            "m0",
            "2026-05-20T00:00:00Z",
            "20000000",
            "0",
            "api",
        )],
        "okx" => (0..5)
            .map(|i| {
                trade(
                    &format!("h{i}"),
                    &format!("h{i}"),
                    &format!("m{i}"),
                    "2026-05-10T00:00:00Z",
                    "2000",
                    "0",
                    "api",
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One report row per our key: (account, volume, fee, commission, broker).
#[derive(Clone)]
struct Row {
    account: String,
    volume: String,
    fee: String,
    commission: String,
    broker: String,
}

fn report(rows: &BTreeMap<String, Row>) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for (order, r) in rows {
        s.push_str(&format!(
            "{},L1,{},BTC-USDT,{order},,{},0,-{},-{},0,{},0,0,false,{}\n",
            r.broker, r.account, r.volume, r.fee, r.fee, r.commission, JUNE_10_MS
        ));
    }
    s
}

fn reconcile(program: &str, trades: &[Value], report: &str) -> Value {
    let req = json!({"program": program, "trades": trades, "options": {"from": "2026-06-01T00:00:00Z"},
                     "report": report, "report_format": "okx-rebate-per-orders", "by": "order"});
    let out: Value = serde_json::from_str(&api::call("reconcile", &req.to_string())).unwrap();
    out.get("ok")
        .cloned()
        .unwrap_or_else(|| panic!("{program}: {out}"))
}

fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

fn run(program: &str, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut trades = history(program);
    let mut june = Vec::new();
    for i in 0..40 {
        let fee_cents = 100 + rng.below(100_000);
        let fee = format!("{}.{:02}", fee_cents / 100, fee_cents % 100);
        let notional = format!("{}", fee_cents * 10);
        let day = 2 + rng.below(27);
        let t = trade(
            &format!("t{i}"),
            &format!("o{i:02}"),
            &format!("c{}", rng.below(5)),
            &format!("2026-06-{day:02}T{:02}:00:00Z", rng.below(24)),
            &notional,
            &fee,
            "api",
        );
        june.push(t);
    }
    // A trade we exclude (web channel), planted as paid below.
    june.push(trade(
        "tx",
        "o-excluded",
        "c1",
        "2026-06-15T00:00:00Z",
        "5000",
        "5",
        "web",
    ));
    trades.extend(june.iter().cloned());

    // Ours per order, from the engine's own lines.
    let req =
        json!({"program": program, "trades": trades, "options": {"from": "2026-06-01T00:00:00Z"}});
    let ex: Value = serde_json::from_str(&api::call("explain", &req.to_string())).unwrap();
    let mut clean = BTreeMap::new();
    for l in ex["ok"]["lines"].as_array().unwrap() {
        if l["excluded"].is_null() {
            let c = l["commission"].as_str().unwrap();
            assert!(dec(c) > dec("0"), "{program}: {l}");
            clean.insert(
                l["order"].as_str().unwrap().to_string(),
                Row {
                    account: l["account"].as_str().unwrap().into(),
                    volume: l["volume"].as_str().unwrap().into(),
                    fee: june.iter().find(|t| t["id"] == l["id"]).unwrap()["fee"]
                        .as_str()
                        .unwrap()
                        .into(),
                    commission: c.into(),
                    broker: "B1".into(),
                },
            );
        }
    }
    assert_eq!(clean.len(), 40, "{program}: every api trade pays");

    // The clean report matches 100%.
    let r = reconcile(program, &trades, &report(&clean));
    assert_eq!(
        r["summary"]["counts"],
        json!({"matched": 40, "differs": 0, "only_ours": 0, "only_theirs": 0}),
        "{program}"
    );
    assert_eq!(r["summary"]["difference"], "0");
    assert_eq!(r["rows"], json!([]));

    // Plant one difference per cause on distinct orders, drawn by the seed.
    let mut orders: Vec<String> = clean.keys().cloned().collect();
    for i in (1..orders.len()).rev() {
        orders.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let tolerance = dec(r["tolerance"].as_str().unwrap());
    let mut planted: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    let mut rows = clean.clone();
    let mut take = |cause: &'static str, status: &'static str| {
        let o = orders.pop().unwrap();
        planted.insert(o.clone(), (status, cause));
        o
    };
    let o = take("fee_base", "differs");
    let r0 = rows.get_mut(&o).unwrap();
    r0.fee = (dec(&r0.fee) + dec("1")).to_string();
    r0.commission = (dec(&r0.commission) + dec("0.5")).to_string();
    let o = take("rate", "differs");
    let r0 = rows.get_mut(&o).unwrap();
    r0.commission = (dec(&r0.commission) * dec("2")).normalize().to_string();
    let o = take("not_paid", "differs");
    rows.get_mut(&o).unwrap().commission = "0".into();
    let o = take("not_in_report", "only_ours");
    rows.remove(&o);
    let o = take("missing_trades", "differs");
    let r0 = rows.get_mut(&o).unwrap();
    r0.volume = (dec(&r0.volume) + dec("1000")).to_string();
    r0.commission = (dec(&r0.commission) + dec("1")).to_string();
    let o = take("attribution", "differs");
    rows.get_mut(&o).unwrap().broker = "B9".into();
    rows.get_mut(&o).unwrap().commission = (dec(&clean[&o].commission) + dec("1")).to_string();
    let o = take("rounding", "matched");
    let r0 = rows.get_mut(&o).unwrap();
    r0.commission = (dec(&r0.commission) + tolerance / dec("2"))
        .normalize()
        .to_string();
    // An order we never saw, and the excluded trade the exchange paid anyway.
    let extra = Row {
        account: "c9".into(),
        volume: "700".into(),
        fee: "0.7".into(),
        commission: "0.14".into(),
        broker: "B1".into(),
    };
    rows.insert("o-unknown".into(), extra);
    planted.insert("o-unknown".into(), ("only_theirs", "missing_trades"));
    let paid = Row {
        account: "c1".into(),
        volume: "5000".into(),
        fee: "5".into(),
        commission: "1".into(),
        broker: "B1".into(),
    };
    rows.insert("o-excluded".into(), paid);
    planted.insert("o-excluded".into(), ("only_theirs", "excluded"));

    let r = reconcile(program, &trades, &report(&rows));
    let found: BTreeMap<String, (String, String)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["key"]["order"].as_str().unwrap().to_string(),
                (
                    x["status"].as_str().unwrap().to_string(),
                    x["cause"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let want: BTreeMap<String, (String, String)> = planted
        .iter()
        .filter(|(_, (s, _))| *s != "matched")
        .map(|(o, (s, c))| (o.clone(), (s.to_string(), c.to_string())))
        .collect();
    assert_eq!(
        found, want,
        "{program} seed {seed}: every planted difference, nothing else"
    );
    let causes = &r["summary"]["causes"];
    for (cause, n) in [
        ("fee_base", 1),
        ("rate", 1),
        ("not_paid", 1),
        ("not_in_report", 1),
        ("missing_trades", 2),
        ("attribution", 1),
        ("excluded", 1),
        ("rounding", 1),
    ] {
        assert_eq!(causes[cause], n, "{program} seed {seed}: {cause}");
    }
    assert_eq!(
        r["summary"]["counts"],
        json!({"matched": 34, "differs": 5, "only_ours": 1, "only_theirs": 2}),
        "{program}"
    );
    // The rate row tells which tier each side implies: ours, and theirs at twice our rate.
    let rate_row = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["cause"] == "rate")
        .unwrap();
    let ours_rate = dec(rate_row["detail"]["our_rate"].as_str().unwrap());
    assert_eq!(
        dec(rate_row["detail"]["their_rate"].as_str().unwrap()),
        ours_rate * dec("2")
    );
    assert_eq!(rate_row["detail"]["our_tier"], rate_row["ours"]["tier"]);
    // The totals add up: theirs - ours over the counted keys.
    let diff =
        dec(r["summary"]["theirs"].as_str().unwrap()) - dec(r["summary"]["ours"].as_str().unwrap());
    assert_eq!(diff, dec(r["summary"]["difference"].as_str().unwrap()));
}

#[test]
fn every_planted_cause_is_found_in_every_program() {
    for seed in [1u64, 20260610, 0xdead_beef] {
        for program in ["backpack", "xt", "okx"] {
            run(program, seed);
        }
    }
}
