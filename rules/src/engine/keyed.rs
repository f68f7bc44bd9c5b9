//! Reconciliation's figures per report key (trade id, order, account-day), summed inside the
//! batch engine beside the cells. Reconciling needs each key's exact commission, which is
//! the key's quantity sums times the `g` of its cell at the level its broker reaches; the
//! level is known only at the end, so each key keeps one sums entry per cell it touches
//! (almost always one) and is priced in [`Batch::finish_keyed`]. Neither per-trade lines nor
//! the per-trade engine are needed: memory grows with the keys, not with the trades.

use super::accumulate::{overflow, Batch};
use super::cells::{Fast, Sums, Wide, NO_BROKER, REASONS};
use super::plan::price;
use crate::columns;
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::reconcile::matching::{KeyPart, KeyText};
use crate::time::Clock;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// What a key is made of (reconciliation's levels below `period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyBy {
    Trade,
    /// The order id, or the trade id for a trade without one.
    Order,
    /// The client account and its day at the report's offset.
    AccountDay(Clock),
}

/// One key's sums in one cell.
#[derive(Clone, Debug)]
struct Entry {
    key: u32,
    cell: u32,
    sums: Sums,
    wide: Option<Box<Wide>>,
    /// The key's first trade in this cell, by (time, id): which entry speaks first for the
    /// key's broker, tier and reason, as the first line would.
    first_time: i64,
    first_id: (usize, usize),
}

/// Per-key sums of one settlement.
#[derive(Clone, Debug)]
pub(crate) struct Keyed {
    by: KeyBy,
    /// Every key's tagged text in one arena; `ends[i]` closes key `i`.
    text: Vec<u8>,
    ends: Vec<usize>,
    /// (hash, key): the hash is kept so growing the table never reads the texts again.
    table: hashbrown::HashTable<(u64, u32)>,
    /// Each key's first (cell, entry); a key in more cells has the others in `pairs`.
    first: Vec<(u32, u32)>,
    pairs: hashbrown::HashMap<u64, u32, Fast>,
    entries: Vec<Entry>,
    /// First trade ids, in one arena.
    ids: Vec<u8>,
    scratch: Vec<u8>,
}

/// Every key's priced parts, each key's in the order of its first trades.
#[derive(Debug, Default)]
pub struct KeyParts {
    pub(crate) text: Vec<u8>,
    pub(crate) ends: Vec<usize>,
    /// (key, part), by key text, each key's by first (time, id).
    pub(crate) parts: Vec<(u32, Priced)>,
    /// What a part's cell says (broker, tier, rate, reason), one per cell in use.
    cells: Vec<CellPart>,
    pub(crate) brokers: Vec<alloc::string::String>,
    pub(crate) tiers: Vec<alloc::string::String>,
    pub(crate) reasons: Vec<alloc::string::String>,
}

/// A key's sums in one cell, priced; the cell's names in [`KeyParts`]' `cells`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Priced {
    trades: u64,
    volume: Decimal,
    fee: Decimal,
    commission: Decimal,
    cell: u32,
}

/// A cell's broker, tier, rate and reason, with names as indices into [`KeyParts`]' tables.
#[derive(Clone, Debug)]
struct CellPart {
    broker: Option<u32>,
    tier: Option<u32>,
    rate: Decimal,
    reason: Option<u32>,
}

impl KeyParts {
    /// The keys in key order, each with its parts.
    pub fn keys(&self) -> impl Iterator<Item = (KeyText<'_>, impl Iterator<Item = KeyPart<'_>>)> {
        self.parts.chunk_by(|a, b| a.0 == b.0).map(move |run| {
            let k = run[0].0 as usize;
            let start = if k == 0 { 0 } else { self.ends[k - 1] };
            let parts = run.iter().map(|(_, p)| self.part(p));
            (KeyText::decode(&self.text[start..self.ends[k]]), parts)
        })
    }

    /// The keys in key order, each with how many parts it has (consecutive in
    /// [`KeyParts::parts_of`]).
    pub fn runs(&self) -> impl Iterator<Item = (KeyText<'_>, usize)> {
        self.parts.chunk_by(|a, b| a.0 == b.0).map(move |run| {
            let k = run[0].0 as usize;
            let start = if k == 0 { 0 } else { self.ends[k - 1] };
            (KeyText::decode(&self.text[start..self.ends[k]]), run.len())
        })
    }

    /// Parts by position (a key's run from [`KeyParts::runs`]).
    pub fn parts_of(&self, at: core::ops::Range<usize>) -> impl Iterator<Item = KeyPart<'_>> {
        self.parts[at].iter().map(move |(_, p)| self.part(p))
    }

    fn part(&self, p: &Priced) -> KeyPart<'_> {
        let c = &self.cells[p.cell as usize];
        KeyPart {
            trades: p.trades,
            volume: p.volume,
            fee: p.fee,
            commission: p.commission,
            broker: c.broker.map(|i| self.brokers[i as usize].as_str()),
            tier: c.tier.map(|i| self.tiers[i as usize].as_str()),
            rate: c.rate,
            reason: c.reason.map(|i| self.reasons[i as usize].as_str()),
        }
    }
}

impl Keyed {
    pub fn new(by: KeyBy) -> Keyed {
        Keyed {
            by,
            text: Vec::new(),
            ends: Vec::new(),
            table: hashbrown::HashTable::new(),
            first: Vec::new(),
            pairs: hashbrown::HashMap::default(),
            entries: Vec::new(),
            ids: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// An empty state keying the same way (a thread's share of the input).
    pub fn fresh(&self) -> Keyed {
        Keyed::new(self.by)
    }

    pub fn by_order(&self) -> bool {
        self.by == KeyBy::Order
    }

    fn key_text(&self, k: u32) -> &[u8] {
        let k = k as usize;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.text[start..self.ends[k]]
    }

    /// The key of a trade, interned: its text is built in a reused buffer, so a key met
    /// before costs a hash and a compare, no allocation.
    pub fn key_of(&mut self, id: &str, order: Option<&str>, account: &str, time: i64) -> u32 {
        let mut s = core::mem::take(&mut self.scratch);
        s.clear();
        let key = match (self.by, order) {
            (KeyBy::Order, Some(o)) => KeyText::Order(o),
            (KeyBy::Trade | KeyBy::Order, _) => KeyText::Id(id),
            (KeyBy::AccountDay(clock), _) => KeyText::AccountDay(account, clock.day(time)),
        };
        key.encode(&mut s);
        let k = self.intern(&s);
        self.scratch = s;
        k
    }

    fn intern(&mut self, s: &[u8]) -> u32 {
        self.intern_hashed(xxhash_rust::xxh3::xxh3_64(s), s)
    }

    fn intern_hashed(&mut self, hash: u64, s: &[u8]) -> u32 {
        if let Some(&(_, k)) = self
            .table
            .find(hash, |&(h, k)| h == hash && self.key_text(k) == s)
        {
            return k;
        }
        let k = self.ends.len() as u32;
        self.text.extend_from_slice(s);
        self.ends.push(self.text.len());
        self.first.push((u32::MAX, u32::MAX));
        self.table.insert_unique(hash, (hash, k), |&(h, _)| h);
        k
    }

    /// Adds a settled trade of `cell` to key `key` (from [`Keyed::key_of`]), exactly.
    pub fn add(
        &mut self,
        key: u32,
        (id, time): (&str, i64),
        cell: u32,
        notional: (Option<i128>, Decimal),
        fee: (Option<i128>, Decimal),
    ) -> Result<()> {
        let e = self.entry(key, cell, time, id.as_bytes())?;
        let en = &mut self.entries[e as usize];
        if let (Some(n), Some(f)) = (notional.0, fee.0) {
            if let Some(s) = en.sums.plus(n, f) {
                en.sums = s;
                return Ok(());
            }
        }
        let d = |x: (Option<i128>, Decimal)| match x.0 {
            Some(v) => columns::to_decimal(v).ok_or_else(overflow),
            None => Ok(x.1),
        };
        let w = en.wide.as_deref().copied().unwrap_or_default();
        en.wide = Some(Box::new(w.add(d(notional)?, d(fee)?)?));
        en.sums.trades += 1;
        Ok(())
    }

    /// The entry of (key, cell), made when new, with a first trade at (`time`, `id`).
    fn entry(&mut self, key: u32, cell: u32, time: i64, id: &[u8]) -> Result<u32> {
        if self.entries.len() >= u32::MAX as usize - 1 {
            return Err(Error::new(
                ErrorCode::Options,
                "too many keys to reconcile (over 4,294,967,294 key and cell pairs)",
            ));
        }
        let next = self.entries.len() as u32;
        let first = &mut self.first[key as usize];
        let e = if first.0 == cell {
            first.1
        } else if first.0 == u32::MAX {
            *first = (cell, next);
            next
        } else {
            // The key in the low bits: `Fast` hashes by one multiply, whose low bits (the
            // bucket) depend only on the low bits of its input, and there are few cells.
            *self
                .pairs
                .entry((cell as u64) << 32 | key as u64)
                .or_insert(next)
        };
        if e == next {
            let start = self.ids.len();
            self.ids.extend_from_slice(id);
            self.entries.push(Entry {
                key,
                cell,
                sums: Sums::default(),
                wide: None,
                first_time: time,
                first_id: (start, self.ids.len()),
            });
            return Ok(e);
        }
        let en = &self.entries[e as usize];
        if time <= en.first_time
            && (time, id) < (en.first_time, &self.ids[en.first_id.0..en.first_id.1])
        {
            let start = self.ids.len();
            self.ids.extend_from_slice(id);
            let end = self.ids.len();
            let en = &mut self.entries[e as usize];
            en.first_time = time;
            en.first_id = (start, end);
        }
        Ok(e)
    }

    /// Adds another thread's keys; `cells[i]` is this state's index of its cell `i`.
    pub fn merge(&mut self, o: Keyed, cells: &[u32]) -> Result<()> {
        if self.ends.is_empty() && self.entries.is_empty() && self.by == o.by {
            self.take(o, cells);
            return Ok(());
        }
        // Room for all of the other's keys at once (no growing while merging).
        self.text.reserve(o.text.len());
        self.ends.reserve(o.ends.len());
        self.first.reserve(o.ends.len());
        self.entries.reserve(o.entries.len());
        self.ids.reserve(o.ids.len());
        self.table.reserve(o.ends.len(), |&(h, _)| h);
        // Each key's hash, as the other table kept it: no key's text is hashed twice.
        let mut hashes = vec![0u64; o.ends.len()];
        for &(h, k) in o.table.iter() {
            hashes[k as usize] = h;
        }
        for oe in &o.entries {
            let key = self.intern_hashed(hashes[oe.key as usize], o.key_text(oe.key));
            let id = &o.ids[oe.first_id.0..oe.first_id.1];
            let e = self.entry(key, cells[oe.cell as usize], oe.first_time, id)?;
            let en = &mut self.entries[e as usize];
            match en.sums.add(&oe.sums) {
                Some(s) => en.sums = s,
                None => {
                    let d = |x: i128| columns::to_decimal(x).ok_or_else(overflow);
                    let w = en.wide.as_deref().copied().unwrap_or_default();
                    let w = w.add(d(oe.sums.notional)?, d(oe.sums.fee_pos)?)?;
                    let w = w.add(Decimal::ZERO, d(oe.sums.fee_neg)?)?;
                    en.wide = Some(Box::new(w));
                    en.sums.trades += oe.sums.trades;
                }
            }
            if let Some(w) = &oe.wide {
                let mine = en.wide.as_deref().copied().unwrap_or_default();
                let sum = mine.add(w.notional, w.fee_pos)?;
                en.wide = Some(Box::new(sum.add(Decimal::ZERO, w.fee_neg)?));
            }
        }
        Ok(())
    }

    /// Becomes another thread's keys (this state has none): its tables are kept whole and
    /// only its cells renamed.
    fn take(&mut self, o: Keyed, cells: &[u32]) {
        let scratch = core::mem::take(&mut self.scratch);
        *self = o;
        self.scratch = scratch;
        if self
            .entries
            .iter()
            .all(|e| cells[e.cell as usize] == e.cell)
        {
            return;
        }
        for e in &mut self.entries {
            e.cell = cells[e.cell as usize];
        }
        for f in &mut self.first {
            if f.0 != u32::MAX {
                f.0 = cells[f.0 as usize];
            }
        }
        self.pairs.clear();
        for (i, e) in self.entries.iter().enumerate() {
            if self.first[e.key as usize].1 != i as u32 {
                self.pairs
                    .insert((e.cell as u64) << 32 | e.key as u64, i as u32);
            }
        }
    }

    /// Where each entry goes in the priced list: grouped by key in key-text order (byte
    /// order, which is the order of the reconciliation's keys). Also the spans of keys with
    /// several entries, which the caller orders by first (time, id). Entries are then
    /// visited in the order they were made (sequential reads; only the writes scatter).
    fn positions(&self) -> (Vec<u32>, Vec<(u32, u32)>) {
        // Sorted by the 8 bytes after the prefix every key shares (`o` + "ord-", say), then
        // runs of equal bytes by their whole text: most comparisons touch no text.
        let n = self.ends.len() as u32;
        let mut common = if n == 0 { 0 } else { self.key_text(0).len() };
        for k in 1..n {
            let (a, b) = (self.key_text(0), self.key_text(k));
            common = a[..common]
                .iter()
                .zip(b)
                .take_while(|(x, y)| x == y)
                .count();
        }
        let mut pre: Vec<(u64, u32)> = (0..n)
            .map(|k| {
                let t = &self.key_text(k)[common..];
                let mut b = [0u8; 8];
                let m = t.len().min(8);
                b[..m].copy_from_slice(&t[..m]);
                (u64::from_be_bytes(b), k)
            })
            .collect();
        pre.sort_unstable();
        for run in pre.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| self.key_text(a.1).cmp(self.key_text(b.1)));
            }
        }
        // Each key's rank, then its first slot (keys with several entries are rare).
        let mut rank = vec![0u32; n as usize];
        for (r, &(_, k)) in pre.iter().enumerate() {
            rank[k as usize] = r as u32;
        }
        drop(pre);
        let mut next = vec![0u32; n as usize + 1];
        for e in &self.entries {
            next[rank[e.key as usize] as usize + 1] += 1;
        }
        let mut several = Vec::new();
        for r in 0..n as usize {
            if next[r + 1] > 1 {
                several.push((next[r], next[r] + next[r + 1]));
            }
            next[r + 1] += next[r];
        }
        let pos = self
            .entries
            .iter()
            .map(|e| {
                let slot = &mut next[rank[e.key as usize] as usize];
                *slot += 1;
                *slot - 1
            })
            .collect();
        (pos, several)
    }

    /// The exact sums of an entry (fixed point plus the side sums).
    /// Not normalized: the key's figures are summed at this one scale and normalized only
    /// when written (a normalize per value was most of the pricing's time).
    fn exact(e: &Entry) -> Result<(Decimal, Decimal, Decimal)> {
        // The value at `SCALE` as `Decimal::try_from_i128_with_scale` gives it (mantissa
        // under 2^96), built from its parts; larger values reduced by `to_decimal`.
        let d = |x: i128| {
            let m = x.unsigned_abs();
            if m < 1u128 << 96 {
                return Ok(Decimal::from_parts(
                    m as u32,
                    (m >> 32) as u32,
                    (m >> 64) as u32,
                    x < 0,
                    columns::SCALE,
                ));
            }
            columns::to_decimal(x).ok_or_else(overflow)
        };
        let (mut n, mut p, mut q) = (d(e.sums.notional)?, d(e.sums.fee_pos)?, d(e.sums.fee_neg)?);
        if let Some(w) = &e.wide {
            n = money::total(n, w.notional)?;
            p = money::total(p, w.fee_pos)?;
            q = money::total(q, w.fee_neg)?;
        }
        Ok((n, p, q))
    }
}

impl Batch {
    /// Adds a settled trade to reconciliation's keys, when this settlement keeps them.
    pub(crate) fn add_key(
        &mut self,
        t: (&str, Option<&str>, &str, i64),
        cell: u32,
        notional: (Option<i128>, Decimal),
        fee: (Option<i128>, Decimal),
    ) -> Result<()> {
        match &mut self.keyed {
            Some(k) => {
                let key = k.key_of(t.0, t.1, t.2, t.3);
                k.add(key, (t.0, t.3), cell, notional, fee)
            }
            None => Ok(()),
        }
    }

    /// A cell's broker, level, rate and reason, with its `g` at that level when it earns.
    fn cell_part(
        &self,
        cell: u32,
        unattributed: u32,
        rank: &mut dyn FnMut(u32, i64) -> Result<usize>,
    ) -> Result<(CellPart, Option<Decimal>)> {
        let p = &self.p;
        let k = self.keys[cell as usize];
        let mut part = CellPart {
            broker: None,
            tier: None,
            rate: Decimal::ZERO,
            reason: None,
        };
        if k.broker == NO_BROKER {
            part.reason = Some(unattributed + k.class);
            return Ok((part, None));
        }
        let r = rank(k.broker, self.day_of_unit(k.unit))?;
        part.broker = Some(k.broker);
        part.tier = p.level_name(r).map(|_| r as u32 - 1);
        part.rate = p.level_rates[r][0];
        let group = &self.classes[k.class as usize];
        match group.excluded {
            Some(x) => {
                part.reason = Some(x as u32);
                Ok((part, None))
            }
            None => Ok((part, Some(group.g_at(p, self.plan.quantity, r)?))),
        }
    }

    /// Prices every key's entries at the level its broker reaches; `rank` gives a broker's
    /// level on a unit's day (the finish's cache).
    pub(crate) fn price_keys(
        &self,
        keyed: Keyed,
        rank: &mut dyn FnMut(u32, i64) -> Result<usize>,
    ) -> Result<KeyParts> {
        let p = &self.p;
        let net = p.spec().negative_fees == crate::program::NegativeFees::Net;
        let by_fee = self.plan.quantity == crate::formula::Var::Fee;
        let (pos, several) = keyed.positions();
        let mut out = KeyParts {
            brokers: self.brokers.names.clone(),
            tiers: p.level_names().map(Into::into).collect(),
            reasons: p.exclusions.iter().map(|(r, _)| r.clone()).collect(),
            ..KeyParts::default()
        };
        let unattributed = out.reasons.len() as u32;
        out.reasons.extend(REASONS.iter().map(|r| (*r).into()));
        // (Cells outnumber keys' cells: a slot per cell, the parts only for cells in use.)
        let mut slot: Vec<u32> = vec![u32::MAX; self.keys.len()];
        let mut gs: Vec<Option<Decimal>> = Vec::new();
        // Each entry's part written straight to its place; `from[i]`: the entry at place i.
        let n = keyed.entries.len();
        let mut parts: Vec<(u32, Priced)> = vec![(0, Priced::default()); n];
        let mut from: Vec<u32> = if several.is_empty() {
            Vec::new()
        } else {
            vec![0; n]
        };
        for (i, e) in keyed.entries.iter().enumerate() {
            let at = match slot[e.cell as usize] {
                u32::MAX => {
                    let (c, g) = self.cell_part(e.cell, unattributed, rank)?;
                    slot[e.cell as usize] = out.cells.len() as u32;
                    out.cells.push(c);
                    gs.push(g);
                    out.cells.len() as u32 - 1
                }
                at => at,
            };
            let (notional, fee_pos, fee_neg) = Keyed::exact(e)?;
            let mut part = Priced {
                trades: e.sums.trades,
                volume: notional,
                fee: money::total(fee_pos, fee_neg)?,
                commission: Decimal::ZERO,
                cell: at,
            };
            if let Some(g) = gs[at as usize] {
                let (pos, neg) = if by_fee {
                    (fee_pos, fee_neg)
                } else {
                    (notional, Decimal::ZERO)
                };
                part.commission = price_fast(g, pos, neg, net)?;
            }
            let place = pos[i] as usize;
            parts[place] = (e.key, part);
            if let Some(f) = from.get_mut(place) {
                *f = i as u32;
            }
        }
        drop(pos);
        // A key in several cells: its parts in the order of their first trades.
        for (a, b) in several {
            let (a, b) = (a as usize, b as usize);
            let mut run: Vec<(u32, (u32, Priced))> = (a..b)
                .map(|i| (from[i], core::mem::take(&mut parts[i])))
                .collect();
            run.sort_unstable_by(|x, y| {
                let first = |e: u32| {
                    let e = &keyed.entries[e as usize];
                    (e.first_time, &keyed.ids[e.first_id.0..e.first_id.1])
                };
                first(x.0).cmp(&first(y.0))
            });
            for (i, (_, p)) in (a..b).zip(run) {
                parts[i] = p;
            }
        }
        out.text = keyed.text;
        out.ends = keyed.ends;
        out.parts = parts;
        Ok(out)
    }
}

/// [`price`] without normalizing first when the plain product is already exact (its scale
/// is the sum of the operands'); otherwise `price` itself decides. The same value.
fn price_fast(g: Decimal, pos: Decimal, neg: Decimal, net: bool) -> Result<Decimal> {
    let q = match (net, g >= Decimal::ZERO) {
        (true, _) => pos
            .checked_add(neg)
            .filter(|q| q.scale() == pos.scale().max(neg.scale())),
        (false, true) => Some(pos),
        (false, false) => Some(neg),
    };
    if let Some(q) = q {
        if let Some(p) = g.checked_mul(q) {
            let exact = if p.is_zero() {
                g.is_zero() || q.is_zero()
            } else {
                p.scale() == g.scale() + q.scale()
            };
            if exact {
                return Ok(p);
            }
        }
    }
    price(g, pos, neg, net).map_err(money::as_sum_limit)
}
