//! A deterministic synthetic trade log, generated from a seed at run time (nothing large is
//! committed). It has what a demo needs to show every part of a statement: several brokers
//! whose monthly API volume lands in different tiers (one climbs a tier in the second month,
//! one falls), clients referred by affiliates at several rates, web/app trades that do not
//! earn, products outside a program's list, maker rebates (negative fees), VIP 6+ clients,
//! fee-discount trades and trades with no broker at all.
//!
//! Rows are produced one at a time, so `broker-rules sample --count 10000000` streams to disk
//! in constant memory. Total volume per broker does not depend on `count`: a larger log has
//! more, smaller trades, so the tiers stay the same at any size.

use std::fmt::Write as _;
use std::io::{self, Write};

/// Trades in the bundled sample (`settle` without `--trades`).
pub const DEFAULT_COUNT: u64 = 4000;
/// Seed of the bundled sample.
pub const DEFAULT_SEED: u64 = 2026;

/// 2026-06-01T00:00:00Z in seconds; the log covers June and July 2026 (61 days).
const START: i64 = 1_780_272_000;
const DAYS: i64 = 61;
const JULY: i64 = START + 30 * 86_400;

/// The CSV header (SPEC trade field names; `master` is not used by the sample).
pub const CSV_HEADER: &str =
    "id,time,account,broker,channel,product,notional,fee,fee_rate,liquidity,vip,fee_discount,affiliate_rate";

/// (code, share of trades in thousandths, monthly volume target in USD for June, for July).
/// The targets are of *all* the broker's trades; about 80% are API spot/futures trades.
const BROKERS: [(&str, u64, u64, u64); 5] = [
    ("ALPHA", 300, 150_000_000, 150_000_000), // BKR 5 both months
    ("BRAVO", 200, 33_000_000, 36_000_000),   // BKR 3
    ("CHARLIE", 150, 18_000_000, 28_000_000), // BKR 2 in June, BKR 3 in July
    ("DELTA", 120, 9_000_000, 5_000_000),     // BKR 1 in June, BKR 0 in July
    ("ECHO", 80, 2_000_000, 2_000_000),       // BKR 0
];
/// Share of trades with no broker code (retail flow), in thousandths.
const RETAIL: u64 = 150;
const RETAIL_MONTHLY: u64 = 20_000_000;

/// splitmix64: tiny, fast, and good enough for synthetic data; fixed forever so a seed
/// always gives the same file.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}

/// One generated trade; decimals as exact integers with a fixed scale.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub id: u64,
    pub time: i64,
    /// Nanoseconds within the second (0 or a millisecond multiple).
    pub millis: u32,
    pub account: String,
    pub broker: Option<&'static str>,
    pub channel: &'static str,
    pub product: &'static str,
    /// Cents.
    pub notional_cents: i128,
    /// Millionths (-50 = -0.00005).
    pub fee_rate_micros: i128,
    pub maker: bool,
    pub vip: u32,
    pub fee_discount: bool,
    /// Hundredths (10 = 0.10).
    pub affiliate_pct: u32,
}

/// Formats `v * 10^-scale` exactly, keeping at least `min` and at most `scale` fraction
/// digits (trailing zeros beyond `min` trimmed).
pub fn scaled(v: i128, scale: u32, min: u32) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let p = 10u128.pow(scale);
    let (int, frac) = (a / p, a % p);
    let mut f = format!("{frac:0width$}", width = scale as usize);
    while f.len() > min as usize && f.ends_with('0') {
        f.pop();
    }
    let sign = if neg { "-" } else { "" };
    if f.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{f}")
    }
}

impl Row {
    pub fn notional(&self) -> String {
        scaled(self.notional_cents, 2, 2)
    }
    /// notional x fee_rate, exactly (scale 8).
    pub fn fee(&self) -> String {
        scaled(self.notional_cents * self.fee_rate_micros, 8, 2)
    }
    pub fn fee_rate(&self) -> String {
        scaled(self.fee_rate_micros, 6, 1)
    }
    pub fn affiliate_rate(&self) -> String {
        scaled(self.affiliate_pct as i128, 2, 0)
    }
    pub fn time(&self) -> String {
        let t = broker_rules::time::format(self.time * 1_000_000_000);
        if self.millis == 0 {
            t
        } else {
            format!("{}.{:03}Z", &t[..t.len() - 1], self.millis)
        }
    }
    pub fn id(&self) -> String {
        format!("T{:08}", self.id)
    }
}

/// The generator: an iterator of rows.
#[derive(Clone, Debug)]
pub struct Sample {
    rng: SplitMix64,
    seed: u64,
    count: u64,
    i: u64,
}

impl Sample {
    pub fn new(count: u64, seed: u64) -> Self {
        Sample {
            rng: SplitMix64::new(seed),
            seed,
            count,
            i: 0,
        }
    }

    fn pick<T: Copy>(&mut self, table: &[(u64, T)]) -> T {
        let total: u64 = table.iter().map(|(w, _)| w).sum();
        let mut r = self.rng.below(total);
        for &(w, v) in table {
            if r < w {
                return v;
            }
            r -= w;
        }
        table[table.len() - 1].1
    }
}

impl Iterator for Sample {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.i >= self.count {
            return None;
        }
        let i = self.i;
        self.i += 1;
        let span = DAYS * 86_400;
        // Evenly spread over the two months, jittered within the slot.
        let slot = span as f64 / self.count as f64;
        let base = (i as f64 * slot) as i64;
        let jitter = if slot >= 1.0 {
            self.rng.below(slot as u64) as i64
        } else {
            0
        };
        let time = START + (base + jitter).min(span - 1);
        let millis = self.rng.below(1000) as u32;
        let july = time >= JULY;

        // Broker (or none) by share of trades.
        let r = self.rng.below(1000);
        let mut acc = 0;
        let mut broker = None;
        for (k, b) in BROKERS.iter().enumerate() {
            acc += b.1;
            if r < acc {
                broker = Some(k);
                break;
            }
        }
        let (code, share, target) = match broker {
            Some(k) => {
                let b = BROKERS[k];
                (Some(b.0), b.1, if july { b.3 } else { b.2 })
            }
            None => (None, RETAIL, RETAIL_MONTHLY),
        };
        // Mean notional so that the month's volume meets the target at any count.
        let month_trades = (self.count as u128 * 30 / DAYS as u128 * share as u128 / 1000).max(1);
        let mean_cents = (target as u128 * 100 / month_trades).max(1) as i128;
        let notional_cents = (mean_cents * (200 + self.rng.below(1600) as i128) / 1000).max(1);

        // A client pool per broker; a client's VIP level and affiliate are properties of the
        // account, so they are derived from the account, not drawn per trade.
        let pool = (self.count * share / 1000 / 25).clamp(4, 5000);
        let client = self.rng.below(pool);
        let prefix = code
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_else(|| "retail".into());
        let account = format!("{prefix}-c{client:04}");
        let h = mix(self.seed ^ mix(client ^ ((broker.unwrap_or(9) as u64) << 32)));
        let affiliate_pct = [0, 0, 0, 0, 0, 0, 10, 20, 25, 30][(h % 10) as usize];
        let vip = match (h >> 8) % 100 {
            0..=79 => 0,
            80..=89 => 1,
            90..=94 => 2 + ((h >> 16) % 2) as u32,
            95..=97 => 4 + ((h >> 16) % 2) as u32,
            _ => 6 + ((h >> 16) % 3) as u32,
        };

        let channel = if code.is_some() {
            self.pick(&[(820, "api"), (30, "oauth"), (100, "web"), (50, "app")])
        } else {
            self.pick(&[(300, "api"), (450, "web"), (250, "app")])
        };
        let product = self.pick(&[
            (580, "spot"),
            (300, "futures"),
            (50, "swap"),
            (40, "margin"),
            (30, "options"),
        ]);
        let maker = self.rng.below(100) < 40;
        let fee_rate_micros = if maker {
            self.pick(&[(40, 200), (25, 100), (10, 0), (25, -50)])
        } else {
            self.pick(&[(50, 500), (30, 400), (20, 350)])
        };
        let fee_discount = self.rng.below(100) < 2;
        Some(Row {
            id: i + 1,
            time,
            millis,
            account,
            broker: code,
            channel,
            product,
            notional_cents,
            fee_rate_micros,
            maker,
            vip,
            fee_discount,
            affiliate_pct,
        })
    }
}

/// Output format of `sample`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    Csv,
    Ndjson,
}

/// Writes `count` rows; `tick` is called every 65,536 rows with the rows written so far.
pub fn write<W: Write>(
    out: &mut W,
    count: u64,
    seed: u64,
    format: SampleFormat,
    tick: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let mut line = String::with_capacity(256);
    if format == SampleFormat::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    for (n, r) in Sample::new(count, seed).enumerate() {
        line.clear();
        let liquidity = if r.maker { "maker" } else { "taker" };
        match format {
            SampleFormat::Csv => {
                let _ = writeln!(
                    line,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    r.id(),
                    r.time(),
                    r.account,
                    r.broker.unwrap_or(""),
                    r.channel,
                    r.product,
                    r.notional(),
                    r.fee(),
                    r.fee_rate(),
                    liquidity,
                    r.vip,
                    r.fee_discount,
                    r.affiliate_rate()
                );
            }
            SampleFormat::Ndjson => {
                let broker = match r.broker {
                    Some(b) => format!("\"{b}\""),
                    None => "null".into(),
                };
                let _ = writeln!(
                    line,
                    "{{\"id\":\"{}\",\"time\":\"{}\",\"account\":\"{}\",\"broker\":{},\"channel\":\"{}\",\"product\":\"{}\",\"notional\":\"{}\",\"fee\":\"{}\",\"fee_rate\":\"{}\",\"liquidity\":\"{}\",\"vip\":{},\"fee_discount\":{},\"affiliate_rate\":\"{}\"}}",
                    r.id(),
                    r.time(),
                    r.account,
                    broker,
                    r.channel,
                    r.product,
                    r.notional(),
                    r.fee(),
                    r.fee_rate(),
                    liquidity,
                    r.vip,
                    r.fee_discount,
                    r.affiliate_rate()
                );
            }
        }
        out.write_all(line.as_bytes())?;
        if (n as u64 + 1) & 0xFFFF == 0 {
            tick(n as u64 + 1);
        }
    }
    tick(count);
    Ok(())
}

/// The bundled sample as CSV bytes (a few hundred kilobytes).
pub fn bundled_csv() -> Vec<u8> {
    let mut v = Vec::with_capacity(DEFAULT_COUNT as usize * 120);
    write(
        &mut v,
        DEFAULT_COUNT,
        DEFAULT_SEED,
        SampleFormat::Csv,
        &mut |_| {},
    )
    .expect("writing to memory cannot fail");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_is_exact() {
        assert_eq!(scaled(12345, 2, 2), "123.45");
        assert_eq!(scaled(-5, 6, 1), "-0.000005");
        assert_eq!(scaled(100, 2, 1), "1.0");
        assert_eq!(scaled(1_230_000, 8, 2), "0.0123");
        assert_eq!(scaled(0, 8, 2), "0.00");
    }

    #[test]
    fn deterministic_and_sized() {
        let a = bundled_csv();
        assert_eq!(a, bundled_csv());
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.lines().count() as u64, DEFAULT_COUNT + 1);
        assert!(text
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("T00000001,2026-06-01T00:"));
        assert!(text.contains(",-0."), "has maker rebates");
        assert!(text.contains(",web,"), "has web trades");
    }
}
