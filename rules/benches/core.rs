//! The core on in-memory column batches: trades/s on one core for each built-in program,
//! through the batch path (`push_columns`), the row path (`push`) and the per-trade engine.
//! `cargo bench -p broker-rules --bench core [-- N]` (N trades, default 2,000,000).
//! Data: 200 brokers (Zipf-skewed), 50,000 accounts, api/web/app/oauth, spot/futures/swap,
//! maker rebates, affiliate-referred clients, some VIP 6+ and fee-discount trades, over
//! May and June 2026; ~10% unattributed.

use broker_rules::columns::{Columns, ColumnsBuilder};
use broker_rules::settle::EngineChoice;
use broker_rules::{program, SettleOptions, Settler, TradeRef};
use rust_decimal::Decimal;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let x = self.0;
        (x ^ (x >> 29)).wrapping_mul(0xbf58476d1ce4e5b9) ^ (x >> 32)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Zipf-like: small indices much more likely.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as u64 % n
    }
}

fn batches(n: usize) -> Vec<Columns> {
    let mut r = Rng(20260610);
    let brokers: Vec<String> = (0..200).map(|i| format!("B{i:03}")).collect();
    let accounts: Vec<String> = (0..50_000).map(|i| format!("acct{i:06}")).collect();
    let channels = ["api", "api", "api", "oauth", "web", "app"];
    let products = ["spot", "spot", "futures", "swap"];
    let affs = ["0", "0", "0", "0.1", "0.2", "0.25", "0.3"];
    let start = 1_777_593_600_000_000_000i64; // 2026-05-01T00:00:00Z
    let span = 61 * 86_400_000_000_000i64;
    let mut out = Vec::new();
    let mut b = ColumnsBuilder::default();
    for i in 0..n {
        let id = format!("t{i:010}");
        let acct = r.skewed(accounts.len() as u64) as usize;
        let broker = (r.below(10) != 0).then(|| brokers[r.skewed(200) as usize].as_str());
        let notional = Decimal::new(r.below(5_000_000) as i64 + 100, 2);
        let maker = r.below(2) == 0;
        let fee_rate = if maker && r.below(4) == 0 {
            Decimal::new(-1, 4)
        } else {
            Decimal::new(r.below(8) as i64 + 2, 4)
        };
        let aff = affs[acct % affs.len()].parse::<Decimal>().unwrap();
        let t = TradeRef {
            id: &id,
            time: start + (r.below(span as u64) as i64),
            account: &accounts[acct],
            broker,
            channel: channels[r.below(6) as usize],
            product: products[r.below(4) as usize],
            notional,
            fee: notional * fee_rate,
            fee_rate: Some(fee_rate),
            liquidity: None,
            vip: if r.below(50) == 0 {
                6
            } else {
                r.below(5) as u32
            },
            fee_discount: r.below(40) == 0,
            affiliate_rate: aff,
            master: None,
            order: None,
            instrument: None,
            msa: false,
        };
        assert!(b.push(&t, i as u64 + 2));
        if b.len() == 65_536 {
            out.push(b.take());
        }
    }
    if !b.is_empty() {
        out.push(b.take());
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    // Optional filters: a program id and/or a path name (`batch`, `row`, `per-trade`).
    let want = |x: &str| {
        let filters: Vec<&String> = args
            .iter()
            .filter(|a| a.parse::<usize>().is_err() && !a.starts_with('-'))
            .collect();
        let kinds = |f: &&String| ["batch", "row", "per-trade"].contains(&f.as_str());
        let progs: Vec<_> = filters.iter().filter(|f| !kinds(f)).collect();
        let paths: Vec<_> = filters.iter().filter(|f| kinds(f)).collect();
        (progs.is_empty()
            || progs.iter().any(|f| f.as_str() == x)
            || !["backpack", "xt", "okx"].contains(&x))
            && (paths.is_empty()
                || paths.iter().any(|f| x.starts_with(f.as_str()))
                || ["backpack", "xt", "okx"].contains(&x))
    };
    eprintln!("generating {n} trades in column batches ...");
    let data = batches(n);
    println!("| program | path | seconds | trades/s (one core) |");
    println!("|---|---|---|---|");
    for id in ["backpack", "xt", "okx"] {
        if !want(id) {
            continue;
        }
        let p = program(id).unwrap();
        let opts = SettleOptions::default();
        let mut results = Vec::new();
        for (path, engine) in [
            ("batch (push_columns)", EngineChoice::Auto),
            ("row (push)", EngineChoice::Auto),
            ("per-trade engine", EngineChoice::PerTrade),
        ] {
            if !want(path) {
                continue;
            }
            let mut s = Settler::with_engine(&p, None, &opts, engine).unwrap();
            let t0 = Instant::now();
            for c in &data {
                if path.starts_with("batch") {
                    s.push_columns(c).unwrap();
                } else {
                    for i in 0..c.len() {
                        s.push(&c.trade(i), Some(c.line[i])).unwrap();
                    }
                }
            }
            let pushed = t0.elapsed().as_secs_f64();
            let st = s.finish().unwrap();
            let secs = t0.elapsed().as_secs_f64();
            eprintln!(
                "{id} {path}: push {pushed:.3} s, finish {:.3} s",
                secs - pushed
            );
            results.push(serde_json::to_string(&st).unwrap());
            println!(
                "| {id} | {path} | {secs:.3} | {:.2}M |",
                n as f64 / secs / 1e6
            );
        }
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{id}: the paths disagree"
        );
    }
}
