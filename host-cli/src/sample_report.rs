//! `broker-rules sample --report okx`: a month of OKX broker trades and the exchange's
//! rebate-per-orders report of the same month, with a handful of planted differences, to try
//! `reconcile` on. The report's figures are the engine's own (explain lines summed per
//! order); only the planted rows are changed, so `reconcile` finds exactly those.

use crate::sample::SplitMix64;
use crate::{Fail, R};
use broker_rules::money;
use broker_rules::{explain, program, SettleOptions, Trade};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What was planted, for the message on stderr and the tests.
pub struct Planted {
    pub missing: String,
    pub wrong_tier: String,
    pub vip6_paid: String,
    pub unknown: String,
}

pub const OKX_HEADER: &str = "brokerCode,level,uid,instId,ordId,clOrdId,spotTradeAmt,derivativeTradeAmt,fee,netFee,settlementFee,brokerRebate,suBrokerRebate,userRebate,affiliated,ts";
const TRADE_HEADER: &str =
    "id,time,account,broker,channel,product,notional,fee,vip,affiliate_rate,order,instrument";
const BROKER: &str = "OKB1";

struct Fill {
    id: String,
    time: String,
    account: String,
    channel: &'static str,
    product: &'static str,
    instrument: &'static str,
    notional: Decimal,
    fee: Decimal,
    vip: u32,
    affiliate_rate: &'static str,
    order: String,
    ms: i64,
}

/// Client `c06` is VIP 6 (excluded: `vip6_plus`); `c07` and `c08` are bound to an
/// affiliate (the bound rate, 5% at L1).
fn client(i: u64) -> (String, u32, &'static str) {
    let vip = if i == 6 { 6 } else { (i % 4) as u32 };
    let aff = if i >= 7 { "0.1" } else { "0" };
    (format!("c{i:02}"), vip, aff)
}

fn fills(seed: u64) -> Vec<Fill> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    // May: eight clients, 5,000 spot each: 40,000 spot volume and 8 active clients, so the
    // broker is at L1 in June (the level for June comes from May).
    for i in 1..=8u64 {
        let (account, vip, aff) = client(i);
        let ms = 1_777_593_600_000 + i as i64 * 3_600_000; // 2026-05-01T00:00Z + i hours
        out.push(Fill {
            id: format!("may-{i}"),
            time: broker_rules::time::format(ms * 1_000_000),
            account,
            channel: "api",
            product: "spot",
            instrument: "BTC-USDT",
            notional: Decimal::new(5000, 0),
            fee: Decimal::new(25, 1),
            vip,
            affiliate_rate: aff,
            order: format!("may-ord-{i}"),
            ms,
        });
    }
    // June: 60 orders of 1 to 3 fills.
    const JUNE: i64 = 1_780_272_000_000; // 2026-06-01T00:00:00Z
    for o in 1..=60u64 {
        let (account, vip, aff) = client(1 + rng.below(8));
        let (product, instrument) = if rng.below(3) == 0 {
            ("swap", "BTC-USDT-SWAP")
        } else {
            ("spot", "BTC-USDT")
        };
        let channel = if rng.below(5) == 0 { "oauth" } else { "api" };
        let start = JUNE + rng.below(29 * 24 * 3600) as i64 * 1000;
        for f in 1..=1 + rng.below(3) {
            let cents = 100_000 + rng.below(5_000_000) as i64; // 1,000.00 .. 51,000.00
            let notional = Decimal::new(cents, 2);
            let ms = start + f as i64 * 1000;
            out.push(Fill {
                id: format!("ord-{o:04}-f{f}"),
                time: broker_rules::time::format(ms * 1_000_000),
                account: account.clone(),
                channel,
                product,
                instrument,
                notional,
                fee: notional * Decimal::new(5, 4), // 0.05% taker fee, exact
                vip,
                affiliate_rate: aff,
                order: format!("ord-{o:04}"),
                ms,
            });
        }
    }
    out
}

/// Per order: the sums the report states and the engine's exact commission.
#[derive(Default)]
struct OrderSum {
    account: String,
    instrument: &'static str,
    spot: Decimal,
    derivative: Decimal,
    fee: Decimal,
    commission: Decimal,
    paid: bool,
    vip6: bool,
    ms: i64,
}

/// Writes the trade log and the report; returns what was planted.
pub fn write(seed: u64, trades_out: &mut String, report_out: &mut String) -> R<Planted> {
    let fills = fills(seed);
    let engine_err = |e: broker_rules::Error| Fail::input(None, &e);
    let mut csv = String::from(TRADE_HEADER);
    csv.push('\n');
    let mut trades = Vec::new();
    for f in &fills {
        let _ = writeln!(
            csv,
            "{},{},{},{BROKER},{},{},{},{},{},{},{},{}",
            f.id,
            f.time,
            f.account,
            f.channel,
            f.product,
            f.notional,
            f.fee,
            f.vip,
            f.affiliate_rate,
            f.order,
            f.instrument
        );
        let t: Trade = serde_json::from_value(serde_json::json!({
            "id": f.id, "time": f.time, "account": f.account, "broker": BROKER,
            "channel": f.channel, "product": f.product, "notional": f.notional.to_string(),
            "fee": f.fee.to_string(), "vip": f.vip, "affiliate_rate": f.affiliate_rate,
            "order": f.order, "instrument": f.instrument}))
        .map_err(|e| Fail::usage(format!("sample trade: {e}")))?;
        trades.push(t);
    }
    let okx = program("okx").map_err(engine_err)?;
    let options = SettleOptions {
        from: Some("2026-06-01T00:00:00Z".into()),
        ..SettleOptions::default()
    };
    let ex = explain(&okx, &trades, None, &options).map_err(engine_err)?;
    let by_id: BTreeMap<&str, &Fill> = fills.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut orders: BTreeMap<String, OrderSum> = BTreeMap::new();
    for l in &ex.lines {
        let f = by_id[l.id.as_str()];
        let o = orders.entry(f.order.clone()).or_default();
        o.account = f.account.clone();
        o.instrument = f.instrument;
        if f.product == "spot" {
            o.spot += f.notional;
        } else {
            o.derivative += f.notional;
        }
        o.fee += f.fee;
        o.commission += money::parse(&l.commission).map_err(engine_err)?;
        o.paid |= l.excluded.is_none();
        o.vip6 |= l.excluded.as_deref() == Some("vip6_plus");
        if o.ms == 0 {
            o.ms = f.ms;
        }
    }
    // The plants, drawn from the orders by kind.
    let paid_unbound: Vec<&String> = orders
        .iter()
        .filter(|(_, o)| o.paid && o.account != "c07" && o.account != "c08")
        .map(|(k, _)| k)
        .collect();
    let planted = Planted {
        missing: paid_unbound[3].clone(),
        wrong_tier: paid_unbound[7].clone(),
        vip6_paid: orders
            .iter()
            .find(|(_, o)| o.vip6)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| Fail::usage("the sample month has no VIP 6 order"))?,
        unknown: "ord-0999".into(),
    };
    report_out.push_str(OKX_HEADER);
    report_out.push('\n');
    let row = |out: &mut String, order: &str, o: &OrderSum, level: &str, rebate: Decimal| {
        let _ = writeln!(
            out,
            "{BROKER},{level},{},{},{order},,{},{},{},{},0,{},0,0,false,{}",
            o.account,
            o.instrument,
            money::canonical(o.spot),
            money::canonical(o.derivative),
            money::canonical(-o.fee),
            money::canonical(-o.fee),
            money::canonical(rebate),
            o.ms
        );
    };
    for (order, o) in &orders {
        if *order == planted.missing {
            continue;
        }
        if *order == planted.wrong_tier {
            row(report_out, order, o, "L2", o.fee * Decimal::new(30, 2)); // L2's 30%
        } else if *order == planted.vip6_paid {
            row(report_out, order, o, "L1", o.fee * Decimal::new(25, 2)); // paid anyway
        } else if o.paid {
            row(report_out, order, o, "L1", o.commission);
        }
    }
    let ghost = OrderSum {
        account: "c09".into(),
        instrument: "ETH-USDT",
        spot: Decimal::new(2000, 0),
        fee: Decimal::new(1, 0),
        ms: 1_781_049_600_000,
        ..OrderSum::default()
    };
    row(
        report_out,
        &planted.unknown,
        &ghost,
        "L1",
        Decimal::new(25, 2),
    );
    trades_out.push_str(&csv);
    Ok(planted)
}
