//! Trade ids already seen, and the exact content that tells an identical duplicate from a
//! different trade with the same id. Rows and column batches encode the same values to the
//! same bytes, so both paths de-duplicate against each other (and the per-trade engine uses
//! the same encoding).

use crate::dedupe::{Dedupe, Entry, Seen, Text};
use crate::error::Result;
use crate::trade::{Liquidity, TradeRef};
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// Seen ids: this state's own, or shared by threads settling one input together.
#[derive(Clone, Debug)]
pub(crate) enum SeenStore {
    Local(Dedupe),
    #[cfg(feature = "std")]
    Shared(std::sync::Arc<[std::sync::Mutex<Dedupe>]>),
}

/// One row for [`SeenStore::insert_many`]: id, text fields, the rest's bytes.
pub(crate) type Row<'a> = (&'a str, [Option<&'a str>; TEXT_FIELDS], &'a [u8]);

impl SeenStore {
    /// Inserts many trades (`keys[i]` the fingerprint of row `i`'s id, `row(i)` the row); the
    /// answer for each, as if inserted one by one in order.
    pub(crate) fn insert_many<'a>(
        &mut self,
        keys: &[u64],
        row: impl Fn(usize) -> Row<'a>,
    ) -> Result<Vec<Seen>> {
        const GROUPS: usize = 64;
        let (n_groups, shared) = match self {
            SeenStore::Local(_) => (GROUPS, false),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => (locks.len(), true),
        };
        let group = |k: u64| {
            if shared {
                (k >> 8) as usize % n_groups
            } else {
                k as usize % n_groups
            }
        };
        // A stable counting sort of row indices by group keeps input order within a group.
        let mut starts = alloc::vec![0usize; n_groups + 1];
        for k in keys {
            starts[group(*k) + 1] += 1;
        }
        for i in 0..n_groups {
            starts[i + 1] += starts[i];
        }
        let mut order = alloc::vec![0u32; keys.len()];
        let mut at = starts.clone();
        for (r, k) in keys.iter().enumerate() {
            let g = group(*k);
            order[at[g]] = r as u32;
            at[g] += 1;
        }
        let mut out = alloc::vec![Seen::New; keys.len()];
        let one = |d: &mut Dedupe, r: usize| {
            let (id, text, rest) = row(r);
            d.insert(keys[r], id.as_bytes(), Text::Parts(&text), rest)
        };
        for g in 0..n_groups {
            let rows = &order[starts[g]..starts[g + 1]];
            if rows.is_empty() {
                continue;
            }
            match self {
                SeenStore::Local(d) => {
                    for &r in rows {
                        out[r as usize] = one(d, r as usize)?;
                    }
                }
                #[cfg(feature = "std")]
                SeenStore::Shared(locks) => {
                    let mut d = match locks[g].lock() {
                        Ok(d) => d,
                        Err(p) => p.into_inner(),
                    };
                    for &r in rows {
                        out[r as usize] = one(&mut d, r as usize)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Distinct ids stored.
    #[cfg(feature = "std")]
    pub(crate) fn len(&self) -> u64 {
        match self {
            SeenStore::Local(d) => d.len(),
            SeenStore::Shared(locks) => locks
                .iter()
                .map(|l| match l.lock() {
                    Ok(d) => d.len(),
                    Err(p) => p.into_inner().len(),
                })
                .sum(),
        }
    }

    /// Room for about `more` more ids.
    pub(crate) fn reserve(&mut self, more: u64) {
        match self {
            SeenStore::Local(d) => d.reserve(more),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let per = more / locks.len() as u64 + 1;
                for l in locks.iter() {
                    match l.lock() {
                        Ok(mut d) => d.reserve(per),
                        Err(p) => p.into_inner().reserve(per),
                    }
                }
            }
        }
    }

    /// Runs `f` on the table that holds `key`.
    fn with<T>(&mut self, key: u64, f: impl FnOnce(&mut Dedupe) -> T) -> T {
        let _ = key; // only the shared store picks a table by it
        match self {
            SeenStore::Local(d) => f(d),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let i = (key >> 8) as usize % locks.len();
                match locks[i].lock() {
                    Ok(mut d) => f(&mut d),
                    Err(p) => f(&mut p.into_inner()),
                }
            }
        }
    }

    /// What inserting `e` would answer, without inserting.
    pub(crate) fn check(&mut self, e: Entry<'_>) -> Seen {
        self.with(e.key, |d| {
            d.check(e.key, e.id, Text::Encoded(e.text), e.rest)
        })
    }

    /// Inserts an entry of another table (a merge).
    pub(crate) fn insert_entry(&mut self, e: Entry<'_>) -> Result<Seen> {
        self.with(e.key, |d| d.insert_entry(e))
    }

    /// Inserts one trade.
    pub(crate) fn insert(&mut self, t: &TradeRef<'_>) -> Result<Seen> {
        let key = crate::dedupe::fingerprint(t.id);
        let rest = Rest::of_trade(t);
        self.with(key, |d| insert_trade(d, key, t, &rest))
    }

    /// Every stored entry, copied out (`Shared`: table by table), sorted by (fingerprint,
    /// id): the canonical order of a serialized state.
    pub(crate) fn sorted_entries<T>(&self, f: impl FnOnce(&mut [Entry<'_>]) -> T) -> T {
        match self {
            SeenStore::Local(d) => {
                let mut all: Vec<Entry<'_>> = d.entries().collect();
                all.sort_unstable();
                f(&mut all)
            }
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let guards: Vec<_> = locks
                    .iter()
                    .map(|m| match m.lock() {
                        Ok(d) => d,
                        Err(p) => p.into_inner(),
                    })
                    .collect();
                let mut all: Vec<Entry<'_>> = guards.iter().flat_map(|d| d.entries()).collect();
                all.sort_unstable();
                f(&mut all)
            }
        }
    }
}

/// Inserts one trade into a table (the per-trade engine's store is a bare [`Dedupe`]).
pub(crate) fn insert_trade(
    d: &mut Dedupe,
    key: u64,
    t: &TradeRef<'_>,
    rest: &Rest,
) -> Result<Seen> {
    d.insert(key, t.id.as_bytes(), Text::Parts(&text_of(t)), rest.bytes())
}

/// The text fields of a trade's content, in their fixed order. The order and instrument ids
/// are part of it: one trade id under two order ids is two trades (`E_DUPLICATE_ID`).
pub(crate) const TEXT_FIELDS: usize = 7;

pub(crate) fn text_of<'a>(t: &TradeRef<'a>) -> [Option<&'a str>; TEXT_FIELDS] {
    [
        Some(t.account),
        t.broker,
        Some(t.channel),
        Some(t.product),
        t.master,
        t.order,
        t.instrument,
    ]
}

/// A decimal of a trade's content: its exact fixed-point value at [`crate::columns::SCALE`]
/// (what a column batch holds), or, when it has none, its normalized 96-bit form. Either is
/// a function of the value alone, so equal values give equal bytes on both paths.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Fixed(i128),
    Wide(Decimal),
}

impl Num {
    pub(crate) fn of(d: Decimal) -> Num {
        match crate::columns::fixed(d) {
            Some(v) => Num::Fixed(v),
            None => Num::Wide(d),
        }
    }
}

/// Largest [`Rest`]: time 8, four decimals at most 1 + 19 bytes, flags 1, vip 5.
const REST_MAX: usize = 8 + 4 * 20 + 1 + 5;

/// The canonical bytes of a trade's content other than its text: time (8 bytes), notional,
/// fee, fee rate (or absent), affiliate rate, liquidity and fee discount (one byte), vip
/// (varint). A decimal is one tag byte then its value: a fixed value `v != 0` as tag
/// `trailing_zeros(v)` and the zigzag varint of `v >> tag` (cheap, and shorter than `v`:
/// scale-18 values end in many zero bits); zero as tag 128; a wide value as tag 129 and its
/// 16 normalized bytes; an absent fee rate as tag 130. Injective: equal bytes, equal content.
#[derive(Clone, Copy)]
pub(crate) struct Rest {
    buf: [u8; REST_MAX],
    len: u8,
}

impl Rest {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        time: i64,
        notional: Num,
        fee: Num,
        fee_rate: Option<Num>,
        liquidity: Option<Liquidity>,
        vip: u32,
        fee_discount: bool,
        msa: bool,
        affiliate_rate: Num,
    ) -> Rest {
        let mut r = Rest {
            buf: [0; REST_MAX],
            len: 0,
        };
        r.put(&time.to_le_bytes());
        for n in [Some(notional), Some(fee), fee_rate, Some(affiliate_rate)] {
            r.num(n);
        }
        let liq = match liquidity {
            None => 0u8,
            Some(Liquidity::Maker) => 1,
            Some(Liquidity::Taker) => 2,
        };
        // Bit 0 the discount, bits 1-2 the liquidity, bit 3 the trade's MSA flag.
        r.put(&[(msa as u8) << 3 | liq << 1 | fee_discount as u8]);
        r.varint(vip as u128);
        r
    }

    pub(crate) fn of_trade(t: &TradeRef<'_>) -> Rest {
        Rest::new(
            t.time,
            Num::of(t.notional),
            Num::of(t.fee),
            t.fee_rate.map(Num::of),
            t.liquidity,
            t.vip,
            t.fee_discount,
            t.msa,
            Num::of(t.affiliate_rate),
        )
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    fn put(&mut self, b: &[u8]) {
        let at = self.len as usize;
        self.buf[at..at + b.len()].copy_from_slice(b);
        self.len += b.len() as u8;
    }

    fn varint(&mut self, mut v: u128) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.put(&[b]);
                return;
            }
            self.put(&[b | 0x80]);
        }
    }

    fn num(&mut self, n: Option<Num>) {
        match n {
            None => self.put(&[130]),
            Some(Num::Fixed(0)) => self.put(&[128]),
            Some(Num::Fixed(v)) => {
                let tz = v.trailing_zeros();
                let m = v >> tz;
                self.put(&[tz as u8]);
                self.varint(((m << 1) ^ (m >> 127)) as u128);
            }
            Some(Num::Wide(d)) => {
                self.put(&[129]);
                self.put(&d.normalize().serialize());
            }
        }
    }
}

/// Whether `b` is a well-formed [`Rest`] (a decoded state's).
pub(crate) fn rest_well_formed(b: &[u8]) -> bool {
    let mut at = 8;
    let varint = |at: &mut usize, max: u32| -> bool {
        for i in 0..max.div_ceil(7) {
            let Some(&x) = b.get(*at) else { return false };
            *at += 1;
            if x & 0x80 == 0 {
                return i == 0 || x != 0; // no padded (non-canonical) varints
            }
        }
        false
    };
    if b.len() < 8 {
        return false;
    }
    for field in 0..4 {
        let Some(&tag) = b.get(at) else { return false };
        at += 1;
        match tag {
            0..=127 => {
                if !varint(&mut at, 128) {
                    return false;
                }
            }
            128 => {}
            129 => at += 16,
            130 if field == 2 => {}
            _ => return false,
        }
    }
    match b.get(at) {
        Some(&f) if f >> 1 <= 2 => at += 1,
        _ => return false,
    }
    varint(&mut at, 32) && at == b.len()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dedupe::fingerprint;

    /// The content fingerprint of engine version 0.1.0 up to wire version 3 (32 bits of
    /// xxh3 over the trade's parts, strings hashed): kept here only to show that the
    /// regression pair below really collided under it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn legacy_fingerprint(t: &TradeRef<'_>) -> u32 {
        fn h(s: Option<&str>) -> u64 {
            match s {
                Some(s) => xxhash_rust::xxh3::xxh3_64(s.as_bytes()),
                None => 0x9e37_79b9_7f4a_7c15,
            }
        }
        fn num(d: Decimal) -> [u8; 17] {
            let mut b = [0u8; 17];
            match crate::columns::fixed(d) {
                Some(v) => b[..16].copy_from_slice(&v.to_le_bytes()),
                None => {
                    b[..16].copy_from_slice(&d.normalize().serialize());
                    b[16] = 1;
                }
            }
            b
        }
        let mut buf = [0u8; 8 + 40 + 17 * 4 + 1 + 4 + 1 + 1];
        buf[..8].copy_from_slice(&t.time.to_le_bytes());
        let hashes = [
            h(Some(t.account)),
            h(t.broker),
            h(Some(t.channel)),
            h(Some(t.product)),
            h(t.master),
        ];
        for (i, x) in hashes.iter().enumerate() {
            buf[8 + i * 8..16 + i * 8].copy_from_slice(&x.to_le_bytes());
        }
        let mut o = 48;
        let fee_rate = t.fee_rate.map(num);
        for n in [
            num(t.notional),
            num(t.fee),
            fee_rate.unwrap_or([0xee; 17]),
            num(t.affiliate_rate),
        ] {
            buf[o..o + 17].copy_from_slice(&n);
            o += 17;
        }
        buf[o] = match t.liquidity {
            None => 0,
            Some(Liquidity::Maker) => 1,
            Some(Liquidity::Taker) => 2,
        };
        buf[o + 1..o + 5].copy_from_slice(&t.vip.to_le_bytes());
        buf[o + 5] = t.fee_discount as u8;
        buf[o + 6] = fee_rate.is_some() as u8;
        xxhash_rust::xxh3::xxh3_64(&buf) as u32
    }

    /// A backpack trade of B1 in June 2026 with the given fee.
    pub(crate) fn trade(fee: Decimal) -> TradeRef<'static> {
        TradeRef {
            id: "t1",
            time: 1_780_617_600_000_000_000, // 2026-06-05T00:00:00Z
            account: "c1",
            broker: Some("B1"),
            channel: "api",
            product: "spot",
            notional: Decimal::from(1_000_000),
            fee,
            fee_rate: None,
            liquidity: None,
            vip: 0,
            fee_discount: false,
            msa: false,
            affiliate_rate: Decimal::ZERO,
            master: None,
            order: None,
            instrument: None,
        }
    }

    /// Fees of the regression pair (the first pair the search below finds): trade `t1` with
    /// either fee has one legacy 32-bit fingerprint. The same pair is in
    /// `rules/tests/exact_dedupe.rs` and the `*-content-fingerprint-collision*` vectors.
    const COLLIDING_FEES: [&str; 2] = ["480.045257", "480.077107"];

    #[test]
    fn a_birthday_search_finds_a_real_32_bit_collision_and_exact_content_tells_it() {
        // Fees 480.000000 + k / 10^6: about 2^16 trades give a collision (birthday bound).
        let mut seen = hashbrown::HashMap::new();
        let mut pair = None;
        for k in 0..1_000_000i64 {
            let fee = Decimal::new(480_000_000 + k, 6);
            if let Some(other) = seen.insert(legacy_fingerprint(&trade(fee)), fee) {
                pair = Some((other, fee));
                break;
            }
        }
        let (a, b) = pair.expect("a collision within 10^6 trades");
        let fees = COLLIDING_FEES.map(|f| f.parse::<Decimal>().unwrap());
        assert_eq!([a, b], fees);
        assert_eq!(legacy_fingerprint(&trade(a)), legacy_fingerprint(&trade(b)));
        for (first, second) in [(a, b), (b, a)] {
            let mut d = Dedupe::default();
            let key = fingerprint("t1");
            for (fee, want) in [
                (first, Seen::New),
                (second, Seen::Conflict),
                (first, Seen::Same),
            ] {
                let t = trade(fee);
                let got = insert_trade(&mut d, key, &t, &Rest::of_trade(&t)).unwrap();
                assert_eq!(got, want, "{first} then {second}: {fee}");
            }
        }
    }
}
