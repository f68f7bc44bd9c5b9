//! A seeded generator of random cases: random programs drawn from the capability space of
//! SPEC section 3, random trade sets (and sometimes a registry), random scenarios. Used for
//! differential runs (native vs wasm): the same seed gives the same cases on every machine
//! (its own SplitMix64, no dependency whose stream could change).

use broker_rules_cli::sample::SplitMix64;
use serde_json::{json, Value};

/// The CLI sample generator's SplitMix64, with the helpers the random vectors use.
#[derive(Clone, Debug)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// A random subset, in the slice's order.
    pub fn subset<T: Clone>(&mut self, xs: &[T], percent: u64) -> Vec<T> {
        xs.iter()
            .filter(|_| self.chance(percent))
            .cloned()
            .collect()
    }
}

/// One generated case: the entry point and the request text.
#[derive(Clone, Debug)]
pub struct Case {
    pub seed: u64,
    pub index: usize,
    pub call: &'static str,
    pub request: String,
}

/// `n` cases from `seed`; case `i` depends only on `(seed, i)`.
pub fn cases(seed: u64, n: usize) -> Vec<Case> {
    (0..n).map(|i| case(seed, i)).collect()
}

pub fn case(seed: u64, index: usize) -> Case {
    let mut r = Rng::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let program = program(&mut r);
    let (call, request) = match r.below(20) {
        0..=13 => ("settle", settle_request(&mut r, program)),
        14..=16 => ("explain", settle_request(&mut r, program)),
        17 => ("estimate", actuals_request(&mut r, program)),
        _ => (
            "estimate",
            json!({"program": program, "scenario": scenario(&mut r)}),
        ),
    };
    Case {
        seed,
        index,
        call,
        request: serde_json::to_string(&request).expect("json"),
    }
}

const CHANNELS: [&str; 5] = ["api", "oauth", "web", "app", "fix"];
const PRODUCTS: [&str; 6] = ["spot", "margin", "futures", "swap", "options", "earn"];

fn list(r: &mut Rng, xs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = r.subset(xs, 50).into_iter().map(String::from).collect();
    if v.is_empty() {
        v.push(r.pick(xs).to_string());
    }
    v
}

/// A random program; a few are invalid on purpose (the error envelope is compared too).
pub fn program(r: &mut Rng) -> Value {
    let graduated = r.chance(20);
    let two_rates = r.chance(40);
    let rates: Vec<&str> = if two_rates {
        vec!["rate", "bound_rate"]
    } else {
        vec!["rate"]
    };
    let nlevels = 1 + r.below(4) as usize;
    let levels: Vec<Value> = (0..nlevels)
        .map(|i| {
            let base = 10 + 10 * i as u64 + r.below(8);
            let mut m = serde_json::Map::new();
            m.insert(
                "rate".into(),
                json!(if r.chance(50) {
                    format!("{base}%")
                } else {
                    format!("0.{base:02}")
                }),
            );
            if two_rates {
                m.insert("bound_rate".into(), json!(format!("{}.5%", base / 4)));
            }
            json!({"name": format!("T{}", i + 1), "rates": m})
        })
        .collect();
    let mut metrics = serde_json::Map::new();
    let mut vol = json!({"kind": "volume"});
    if r.chance(50) {
        vol["products"] = json!(list(r, &PRODUCTS));
    }
    if r.chance(40) {
        vol["channels"] = json!(list(r, &CHANNELS));
    }
    metrics.insert("vol".into(), vol);
    let clients = !graduated && r.chance(40);
    if clients {
        metrics.insert("clients".into(), json!({"kind": "active_clients"}));
    }
    let thresholds = [0u64, 1_000, 5_000, 20_000, 100_000, 250_000, 1_000_000];
    let mut start = r.below(3) as usize;
    let mut steps = Vec::new();
    for i in 0..nlevels {
        let t = thresholds[(start + i).min(thresholds.len() - 1)];
        start += r.below(2) as usize;
        let mut min = serde_json::Map::new();
        min.insert("vol".into(), json!(format!("{t}")));
        if clients && r.chance(60) {
            min.insert(
                "clients".into(),
                json!(format!("{}", 1 + i as u64 + r.below(2))),
            );
        }
        steps.push(json!({"level": format!("T{}", i + 1), "min": min}));
    }
    let mut ladders = vec![json!({"name": "main", "steps": steps})];
    if !graduated && r.chance(25) {
        let lvl = 1 + r.below(nlevels as u64);
        ladders.push(json!({"name": "alt", "steps": [{"level": format!("T{lvl}"), "min": {"vol": format!("{}", 2_000 + r.below(50_000))}}]}));
    }
    let window = match r.below(4) {
        0 | 1 => {
            json!({"kind": "rolling_days", "days": 1 + r.below(35), "include_current_day": r.chance(50)})
        }
        2 => json!({"kind": "calendar_month", "month": "same"}),
        _ => json!({"kind": "calendar_month", "month": "previous"}),
    };
    let exclusions = r.subset(
        &[
            json!({"reason": "non_api_channel", "when": "channel not in ['api', 'oauth']"}),
            json!({"reason": "vip6_plus", "when": "vip >= 6"}),
            json!({"reason": "fee_discount_instrument", "when": "fee_discount"}),
            json!({"reason": "product_not_eligible", "when": "product not in ['spot', 'margin', 'futures']"}),
            json!({"reason": "tiny", "when": "notional < 10 and liquidity == 'maker'"}),
        ],
        40,
    );
    let mut formulas = vec![
        "fee * tier_rate",
        "fee * min(tier_rate, max(0, 50% - affiliate_rate))",
        "max(0, fee - 0.01) * tier_rate",
        "fee * tier_rate * if(vip >= 3, 0.5, 1)",
        "(fee + fee) / 2 * tier_rate",
    ];
    if two_rates {
        formulas.push("fee * if(affiliate_rate > 0, bound_rate, rate)");
    }
    if r.chance(3) {
        formulas.push("fee * no_such_rate");
    }
    let formula = *r.pick(&formulas);
    let caps = match r.below(5) {
        0 => json!([{"scope": "client_month", "amount": format!("{}", 1 + r.below(40))}]),
        1 => {
            json!([{"scope": "broker_period", "amount": format!("{}.{}", r.below(60), r.below(100))}])
        }
        2 => json!([{"scope": "client_month", "amount": "5", "when": "vip >= 5"}]),
        _ => json!([]),
    };
    json!({
        "id": format!("rand-{}", r.below(1000)),
        "name": "random program",
        "version": "1",
        "utc_offset": *r.pick(&["+00:00", "+00:00", "+08:00", "-05:30"]),
        "attribution": {"sources": r.pick(&[json!(["broker_code"]), json!(["sub_account", "broker_code"]), json!(["broker_code", "sub_account"])]).clone()},
        "exclusions": exclusions,
        "tiers": {
            "window": window,
            "basis": *r.pick(&["attributed", "eligible"]),
            "mode": if graduated { "graduated" } else { "volume" },
            "metrics": metrics,
            "rates": rates,
            "levels": levels,
            "ladders": ladders,
        },
        "formula": formula,
        "negative_fees": *r.pick(&["floor", "net"]),
        "caps": caps,
        "sub_broker_share": r.chance(50),
        "broker_affiliate_exclusive": r.chance(50),
        "settlement": {
            "period": *r.pick(&["hour", "day", "month"]),
            "credit_delay_minutes": *r.pick(&[0u32, 60, 540]),
            "currency": "USDT",
            "scale": r.below(9),
            "rounding": *r.pick(&["half_even", "half_up", "down"]),
        }
    })
}

fn decimal(r: &mut Rng, max_units: u64, dp: u32) -> String {
    let units = r.below(max_units + 1);
    if dp == 0 {
        return format!("{units}");
    }
    let frac = r.below(10u64.pow(dp));
    format!("{units}.{frac:0width$}", width = dp as usize)
}

fn trades(r: &mut Rng) -> Vec<Value> {
    let n = 1 + r.below(30) as usize;
    // May 1 2026 00:00:00 UTC, over ~62 days.
    let base: i64 = 1_777_593_600;
    let mut out = Vec::new();
    for i in 0..n {
        let mut t = serde_json::Map::new();
        t.insert("id".into(), json!(format!("t{i}")));
        let secs = base + r.below(62 * 86_400) as i64;
        let ms = if r.chance(30) {
            format!(".{:03}", r.below(1000))
        } else {
            String::new()
        };
        t.insert("time".into(), json!(rfc3339(secs, &ms)));
        t.insert("account".into(), json!(format!("c{}", r.below(8))));
        if r.chance(85) {
            t.insert("broker".into(), json!(*r.pick(&["A", "B", "C", "D"])));
        }
        t.insert("channel".into(), json!(*r.pick(&CHANNELS[..4])));
        t.insert("product".into(), json!(*r.pick(&PRODUCTS[..5])));
        let notional = decimal(r, 200_000, 2);
        t.insert("notional".into(), json!(notional));
        if r.chance(80) {
            let fee = decimal(r, 150, 4);
            t.insert(
                "fee".into(),
                json!(if r.chance(10) { format!("-{fee}") } else { fee }),
            );
        } else {
            t.insert("fee_rate".into(), json!(format!("0.000{}", 1 + r.below(9))));
        }
        if r.chance(30) {
            t.insert("vip".into(), json!(r.below(9)));
        }
        if r.chance(10) {
            t.insert("fee_discount".into(), json!(true));
        }
        if r.chance(25) {
            t.insert(
                "affiliate_rate".into(),
                json!(*r.pick(&["0.1", "0.25", "0.5", "0.6"])),
            );
        }
        if r.chance(20) {
            t.insert("liquidity".into(), json!(*r.pick(&["maker", "taker"])));
        }
        if r.chance(10) {
            t.insert("master".into(), json!(*r.pick(&["mA", "mB"])));
        }
        out.push(Value::Object(t));
    }
    if n > 2 && r.chance(10) {
        let dup = out[0].clone();
        out.push(dup);
    }
    out
}

/// `secs` since the epoch as RFC 3339 UTC (proleptic Gregorian; civil-from-days).
pub fn rfc3339(secs: i64, frac: &str) -> String {
    // Whole seconds format without a fraction; the generator's own fraction text goes before Z.
    let whole = broker_rules::time::format(secs * broker_rules::time::NS_PER_SEC);
    format!("{}{frac}Z", whole.trim_end_matches('Z'))
}

fn registry(r: &mut Rng) -> Value {
    let mut brokers = vec![
        json!({"code": "A", "account": "accA", "sub_accounts": ["c1", "c2"]}),
        json!({"code": "B", "account": "mB", "model": "independent"}),
    ];
    if r.chance(60) {
        brokers.push(
            json!({"code": "C", "parent": "A", "parent_share": *r.pick(&["0.1", "0.2", "0.5"])}),
        );
    }
    let affiliates = if r.chance(30) {
        json!(["accA"])
    } else {
        json!([])
    };
    json!({"brokers": brokers, "affiliates": affiliates})
}

fn settle_request(r: &mut Rng, program: Value) -> Value {
    let mut req = json!({"program": program, "trades": trades(r)});
    if r.chance(35) {
        req["registry"] = registry(r);
    }
    let mut options = serde_json::Map::new();
    if r.chance(40) {
        options.insert("from".into(), json!("2026-06-01T00:00:00Z"));
    }
    if r.chance(15) {
        options.insert("to".into(), json!("2026-06-20T00:00:00Z"));
    }
    if r.chance(40) {
        options.insert("lines".into(), json!(true));
    }
    if r.chance(10) {
        options.insert("strict".into(), json!(true));
    }
    req["options"] = Value::Object(options);
    req
}

/// `estimate` from actuals: a settle request's trades, registry and options (without
/// lines) under `actuals`, and a growth from -50% to +150%.
fn actuals_request(r: &mut Rng, program: Value) -> Value {
    let mut actuals = settle_request(r, program.clone());
    let a = actuals.as_object_mut().expect("an object");
    a.remove("program");
    if let Some(Value::Object(o)) = a.get_mut("options") {
        o.remove("lines");
    }
    let growth = *r.pick(&["-0.5", "0.2", "20%", "1.5", "0.125", "0"]);
    json!({"program": program, "actuals": actuals, "growth": growth})
}

fn scenario(r: &mut Rng) -> Value {
    let mut s = json!({"volume": decimal(r, 2_000_000, 2)});
    if r.chance(70) {
        s["fee_rate"] = json!(format!("0.000{}", 1 + r.below(9)));
    } else {
        s["fees"] = json!(decimal(r, 500, 1));
    }
    if r.chance(40) {
        s["affiliate_share"] = json!(*r.pick(&["0.2", "0.5", "1"]));
        s["affiliate_rate"] = json!(*r.pick(&["0.1", "0.3"]));
    }
    if r.chance(30) {
        s["mix"] = json!([{"product": "spot", "channel": "api", "share": "0.6"}, {"product": "futures", "channel": "web", "share": "0.4"}]);
    }
    if r.chance(40) {
        s["active_clients"] = json!(r.below(12));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_from_the_seed() {
        let a = cases(42, 5);
        let b = cases(42, 5);
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.request == y.request && x.call == y.call));
        assert_ne!(cases(43, 1)[0].request, a[0].request);
    }

    #[test]
    fn rfc3339_known_days() {
        assert_eq!(rfc3339(1_777_593_600, ""), "2026-05-01T00:00:00Z");
        assert_eq!(rfc3339(0, ".5"), "1970-01-01T00:00:00.5Z");
        assert_eq!(rfc3339(951_782_400, ""), "2000-02-29T00:00:00Z");
    }
}
