//! Column batches: how the batch path receives trades. Readers (fast CSV, Arrow, Parquet)
//! fill one; the engine settles it with per-dictionary-value work instead of per-row string
//! lookups. Strings that repeat (account, broker, channel, product, master) are
//! dictionary-encoded; decimals are exact integers at [`SCALE`] fractional digits.
//!
//! A batch holds only *clean* rows: every field parsed and valid, every decimal exact at
//! [`SCALE`], `fee` present. A reader sends any other row through the row path
//! ([`crate::Settler::push`] / [`crate::Settler::reject`]), which produces the same
//! errors and the same sums, so the split never changes a statement.

use crate::trade::Liquidity;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// Fractional digits of the fixed-point decimals in a batch (and of the engine's sums).
pub const SCALE: u32 = 18;
/// 10^SCALE.
pub const ONE: i128 = 1_000_000_000_000_000_000;
/// Dictionary key of an absent value (broker, master).
pub const NULL: u32 = u32::MAX;

/// A dictionary: row keys index `values`.
#[derive(Clone, Debug, Default)]
pub struct Dict {
    pub keys: Vec<u32>,
    pub values: Vec<String>,
}

impl Dict {
    /// The value of a row, or `None` for [`NULL`].
    pub fn get(&self, row: usize) -> Option<&str> {
        match self.keys[row] {
            NULL => None,
            k => Some(&self.values[k as usize]),
        }
    }
}

/// Interns strings into a [`Dict`] (one hash per cell, one allocation per distinct value).
#[derive(Clone, Debug, Default)]
pub struct DictBuilder {
    pub dict: Dict,
    index: hashbrown::HashMap<String, u32>,
}

impl DictBuilder {
    pub fn push(&mut self, v: Option<&str>) {
        let k = match v {
            None => NULL,
            Some(s) => match self.index.get(s) {
                Some(&k) => k,
                None => {
                    let k = self.dict.values.len() as u32;
                    self.dict.values.push(s.into());
                    self.index.insert(s.into(), k);
                    k
                }
            },
        };
        self.dict.keys.push(k);
    }
    pub fn clear(&mut self) {
        self.dict.keys.clear();
        self.dict.values.clear();
        self.index.clear();
    }
}

/// Clean trades in columns. All vectors have one entry per row.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    /// Input line of each row (CSV line, 1-based row number), for reports.
    pub line: Vec<u64>,
    /// Trade ids, concatenated; row `i` is `id_bytes[id_ends[i-1]..id_ends[i]]`.
    pub id_bytes: Vec<u8>,
    pub id_ends: Vec<u32>,
    /// UTC nanoseconds.
    pub time: Vec<i64>,
    pub account: Dict,
    pub broker: Dict,
    pub channel: Dict,
    pub product: Dict,
    pub master: Dict,
    /// Order and instrument ids (optional; carried to statement lines).
    pub order: Dict,
    pub instrument: Dict,
    /// Exact, at [`SCALE`].
    pub notional: Vec<i128>,
    pub fee: Vec<i128>,
    /// `None` when the trade gave only `fee`.
    pub fee_rate: Vec<Option<i128>>,
    pub liquidity: Vec<Option<Liquidity>>,
    pub vip: Vec<u32>,
    pub fee_discount: Vec<bool>,
    pub affiliate_rate: Vec<i128>,
    /// The trade's own managed sub-account flag (the registry may also list the account).
    pub msa: Vec<bool>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.time.len()
    }
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
    pub fn id(&self, row: usize) -> &str {
        let start = if row == 0 {
            0
        } else {
            self.id_ends[row - 1] as usize
        };
        core::str::from_utf8(&self.id_bytes[start..self.id_ends[row] as usize]).unwrap_or("")
    }
    /// Row `row` as a trade (the per-trade engine takes batches this way).
    pub fn trade(&self, row: usize) -> crate::TradeRef<'_> {
        let d = |x: i128| to_decimal(x).unwrap_or_default();
        crate::TradeRef {
            id: self.id(row),
            time: self.time[row],
            account: self.account.get(row).unwrap_or(""),
            broker: self.broker.get(row),
            channel: self.channel.get(row).unwrap_or(""),
            product: self.product.get(row).unwrap_or(""),
            notional: d(self.notional[row]),
            fee: d(self.fee[row]),
            fee_rate: self.fee_rate[row].map(d),
            liquidity: self.liquidity[row],
            vip: self.vip[row],
            fee_discount: self.fee_discount[row],
            affiliate_rate: d(self.affiliate_rate[row]),
            master: self.master.get(row),
            order: self.order.get(row),
            instrument: self.instrument.get(row),
            msa: self.msa[row],
        }
    }

    pub fn push_id(&mut self, id: &str) {
        self.id_bytes.extend_from_slice(id.as_bytes());
        self.id_ends.push(self.id_bytes.len() as u32);
    }
}

/// Builds a batch row by row from validated trades (tests, and hosts whose input is rows).
#[derive(Clone, Debug, Default)]
pub struct ColumnsBuilder {
    pub cols: Columns,
    account: DictBuilder,
    broker: DictBuilder,
    channel: DictBuilder,
    product: DictBuilder,
    master: DictBuilder,
    order: DictBuilder,
    instrument: DictBuilder,
}

impl ColumnsBuilder {
    /// Adds a trade if it is clean (every decimal exact at [`SCALE`]); returns whether it was.
    pub fn push(&mut self, t: &crate::TradeRef<'_>, line: u64) -> bool {
        let (Some(n), Some(f), Some(a)) =
            (fixed(t.notional), fixed(t.fee), fixed(t.affiliate_rate))
        else {
            return false;
        };
        let r = match t.fee_rate {
            Some(r) => match fixed(r) {
                Some(r) => Some(r),
                None => return false,
            },
            None => None,
        };
        let c = &mut self.cols;
        c.line.push(line);
        c.push_id(t.id);
        c.time.push(t.time);
        c.notional.push(n);
        c.fee.push(f);
        c.fee_rate.push(r);
        c.liquidity.push(t.liquidity);
        c.vip.push(t.vip);
        c.fee_discount.push(t.fee_discount);
        c.affiliate_rate.push(a);
        c.msa.push(t.msa);
        self.account.push(Some(t.account));
        self.broker.push(t.broker);
        self.channel.push(Some(t.channel));
        self.product.push(Some(t.product));
        self.master.push(t.master);
        self.order.push(t.order);
        self.instrument.push(t.instrument);
        true
    }

    pub fn len(&self) -> usize {
        self.cols.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// The batch so far; the builder starts again empty.
    pub fn take(&mut self) -> Columns {
        let mut c = core::mem::take(&mut self.cols);
        c.account = core::mem::take(&mut self.account.dict);
        c.broker = core::mem::take(&mut self.broker.dict);
        c.channel = core::mem::take(&mut self.channel.dict);
        c.product = core::mem::take(&mut self.product.dict);
        c.master = core::mem::take(&mut self.master.dict);
        c.order = core::mem::take(&mut self.order.dict);
        c.instrument = core::mem::take(&mut self.instrument.dict);
        for d in [
            &mut self.account,
            &mut self.broker,
            &mut self.channel,
            &mut self.product,
            &mut self.master,
            &mut self.order,
            &mut self.instrument,
        ] {
            d.clear();
        }
        c
    }
}

/// A decimal as an exact integer at [`SCALE`], or `None` when it has more fractional digits.
pub fn fixed(d: Decimal) -> Option<i128> {
    let s = d.scale();
    let m = d.mantissa();
    if s <= SCALE {
        m.checked_mul(POW10[(SCALE - s) as usize])
    } else {
        let p = POW10[(s - SCALE) as usize];
        (m % p == 0).then(|| m / p)
    }
}

/// An exact integer at [`SCALE`] as a decimal, or `None` past 96 bits of digits.
pub fn to_decimal(v: i128) -> Option<Decimal> {
    if v.unsigned_abs() < 1u128 << 96 {
        return Some(Decimal::from_i128_with_scale(v, SCALE).normalize());
    }
    let (mut m, mut s) = (v, SCALE);
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    Decimal::try_from_i128_with_scale(m, s).ok()
}

/// Powers of ten up to 10^38.
pub const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::parse;

    #[test]
    fn fixed_point_round_trips_exactly() {
        for s in [
            "0",
            "1",
            "-0.0005",
            "1234.5678",
            "0.000000000000000001",
            "79228162514",
        ] {
            let d = parse(s).unwrap();
            assert_eq!(to_decimal(fixed(d).unwrap()).unwrap(), d, "{s}");
        }
        assert_eq!(fixed(parse("0.0000000000000000001").unwrap()), None);
        assert_eq!(fixed(parse("1.0000000000000000000").unwrap()), Some(ONE));
        // 29 significant digits cannot be a Decimal.
        assert_eq!(to_decimal(POW10[29] + 1), None);
    }
}
