//! The cells of the batch engine's state: exact sums per (broker, hour or day, group), the
//! packed keys that index them, and the one-multiply hasher those integer keys use.

use crate::error::Result;
use crate::money;
use rust_decimal::Decimal;

/// Broker id of the unattributed cells (their class is the reason).
pub(crate) const NO_BROKER: u32 = u32::MAX;
pub(crate) const REASONS: [&str; 2] = ["no_broker", "unenrolled_broker"];

/// Exact sums of one cell at [`SCALE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub trades: u64,
    pub notional: i128,
    /// Sum of the positive and of the negative fees.
    pub fee_pos: i128,
    pub fee_neg: i128,
}

impl Sums {
    /// The sums with one more trade, or `None` when an i128 would overflow.
    pub(crate) fn plus(&self, notional: i128, fee: i128) -> Option<Sums> {
        let (pos, neg) = if fee >= 0 { (fee, 0) } else { (0, fee) };
        Some(Sums {
            trades: self.trades + 1,
            notional: self.notional.checked_add(notional)?,
            fee_pos: self.fee_pos.checked_add(pos)?,
            fee_neg: self.fee_neg.checked_add(neg)?,
        })
    }
    pub fn add(&self, o: &Sums) -> Option<Sums> {
        Some(Sums {
            trades: self.trades + o.trades,
            notional: self.notional.checked_add(o.notional)?,
            fee_pos: self.fee_pos.checked_add(o.fee_pos)?,
            fee_neg: self.fee_neg.checked_add(o.fee_neg)?,
        })
    }
}

/// Exact side sums of one cell for values the fixed-point sums cannot hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Wide {
    pub notional: Decimal,
    pub fee_pos: Decimal,
    pub fee_neg: Decimal,
}

impl Wide {
    pub fn add(&self, notional: Decimal, fee: Decimal) -> Result<Wide> {
        let (pos, neg) = if fee >= Decimal::ZERO {
            (fee, Decimal::ZERO)
        } else {
            (Decimal::ZERO, fee)
        };
        Ok(Wide {
            notional: money::total(self.notional, notional)?,
            fee_pos: money::total(self.fee_pos, pos)?,
            fee_neg: money::total(self.fee_neg, neg)?,
        })
    }
}

/// (broker, class, hour or day, inside `from..to`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CellKey {
    pub broker: u32,
    pub class: u32,
    pub unit: i64,
    pub settled: bool,
}

/// A hasher for keys that are already well-mixed integers (cells, client tuples): one
/// multiply instead of a general-purpose hash per field.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fast;

impl core::hash::BuildHasher for Fast {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher(u64);

impl core::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(29) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_i128(&mut self, x: i128) {
        self.write_u128(x as u128);
    }
    fn write_isize(&mut self, x: isize) {
        self.write_u64(x as u64);
    }
}

impl CellKey {
    /// The key in 64 bits when it fits: broker < 2^20, group < 2^12, unit within 2^30 of
    /// the epoch (hours until year 124,000). Half the memory per cell of [`CellKey::pack`].
    pub fn pack64(&self) -> Option<u64> {
        let unit = self.unit.checked_add(1 << 30)?;
        let fits = self.broker < 1 << 20 && self.class < 1 << 12 && (0..1i64 << 31).contains(&unit);
        fits.then_some(
            (self.broker as u64) << 44
                | (self.class as u64) << 32
                | (self.settled as u64) << 31
                | unit as u64,
        )
    }

    pub fn pack(&self) -> u128 {
        (self.broker as u128) << 96
            | (self.class as u128) << 65
            | (self.settled as u128) << 64
            | self.unit as u64 as u128
    }
}

/// A client-set entry: (broker, account, day, metric index) in one integer.
pub(crate) fn client_key(broker: u32, account: u32, day: i64, metric: u8) -> u128 {
    (broker as u128) << 96 | (account as u128) << 64 | (day as u32 as u128) << 8 | metric as u128
}

pub(crate) fn client_parts(k: u128) -> (u32, u32, i64, u8) {
    (
        (k >> 96) as u32,
        (k >> 64) as u32,
        (k >> 8) as u32 as i32 as i64,
        k as u8,
    )
}
