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

/// Per-key sums of one settlement, in shards by the hash of the key's text: a key lives in
/// one shard in every thread's state, so the reader threads' states merge shard by shard on
/// as many threads, and each shard is priced on its own.
#[derive(Clone, Debug)]
pub(crate) struct Keyed {
    by: KeyBy,
    shards: Vec<Shard>,
    scratch: Vec<u8>,
}

/// How many shards, and the bit of a key id naming its shard.
const SHARDS: usize = 2;
const SHARD_BIT: u32 = 31;
/// Keys a shard holds at most (its ids are below the shard bit).
const SHARD_KEYS: usize = (1 << SHARD_BIT) - 1;
/// Entries under this many are merged and priced on the calling thread.
const PARALLEL_FROM: usize = 1 << 14;

/// One shard's keys.
#[derive(Clone, Debug)]
struct Shard {
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
}

/// Every key's priced parts, each key's in the order of its first trades.
#[derive(Debug, Default)]
pub struct KeyParts {
    shards: Vec<ShardParts>,
    /// What a part's cell says (broker, tier, rate, reason), one per cell in use.
    cells: Vec<CellPart>,
    pub(crate) brokers: Vec<alloc::string::String>,
    pub(crate) tiers: Vec<alloc::string::String>,
    pub(crate) reasons: Vec<alloc::string::String>,
}

/// One shard's keys, priced.
#[derive(Debug, Default)]
struct ShardParts {
    text: Vec<u8>,
    ends: Vec<usize>,
    /// (key, part), by key text, each key's by first (time, id).
    parts: Vec<(u32, Priced)>,
}

impl ShardParts {
    fn text(&self, k: u32) -> &[u8] {
        let k = k as usize;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.text[start..self.ends[k]]
    }
}

/// Where a key's parts are: its shard and their positions there.
#[derive(Clone, Debug)]
pub struct PartsAt {
    shard: usize,
    at: core::ops::Range<usize>,
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
    /// How many keys.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.ends.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys in key text order (the shards' sorted keys merged), each with where its
    /// parts are ([`KeyParts::parts_of`]).
    pub fn runs(&self) -> Vec<(KeyText<'_>, PartsAt)> {
        self.runs_with(&|_| ())
            .into_iter()
            .map(|(t, at, ())| (t, at))
            .collect()
    }

    /// [`KeyParts::runs`], each key with `f` of its tagged text ([`KeyText::encode`]),
    /// called for each shard's keys on a thread each when they are many.
    pub fn runs_with<T: Send>(
        &self,
        f: &(dyn Fn(&[u8]) -> T + Sync),
    ) -> Vec<(KeyText<'_>, PartsAt, T)> {
        let shard = |i: usize| {
            let sh = &self.shards[i];
            let mut runs = Vec::with_capacity(sh.ends.len());
            let mut at = 0usize;
            for run in sh.parts.chunk_by(|a, b| a.0 == b.0) {
                let text = sh.text(run[0].0);
                let end = at + run.len();
                runs.push((
                    text,
                    PartsAt {
                        shard: i,
                        at: at..end,
                    },
                    f(text),
                ));
                at = end;
            }
            runs
        };
        let each: Vec<Vec<(&[u8], PartsAt, T)>> = on_shards(
            (0..self.shards.len()).collect(),
            self.len() >= PARALLEL_FROM,
            shard,
        );
        let mut out = Vec::with_capacity(self.len());
        let mut heads: Vec<_> = each.into_iter().map(|r| r.into_iter().peekable()).collect();
        loop {
            let mut best: Option<(usize, &[u8])> = None;
            for (i, h) in heads.iter_mut().enumerate() {
                if let Some(&(t, _, _)) = h.peek() {
                    if best.is_none_or(|(_, b)| t < b) {
                        best = Some((i, t));
                    }
                }
            }
            let Some((i, _)) = best else { break };
            if let Some((t, at, x)) = heads[i].next() {
                out.push((KeyText::decode(t), at, x));
            }
        }
        out
    }

    /// The keys in key text order, each with its parts.
    pub fn keys(&self) -> impl Iterator<Item = (KeyText<'_>, impl Iterator<Item = KeyPart<'_>>)> {
        self.runs()
            .into_iter()
            .map(move |(t, at)| (t, self.parts_of(at)))
    }

    /// A key's parts (from [`KeyParts::runs`]).
    pub fn parts_of(&self, at: PartsAt) -> impl Iterator<Item = KeyPart<'_>> {
        self.shards[at.shard].parts[at.at]
            .iter()
            .map(move |(_, p)| self.part(p))
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
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
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

    /// The key of a trade, interned: its text is built in a reused buffer, so a key met
    /// before costs a hash and a compare, no allocation. The id names the shard in its top
    /// bit.
    pub fn key_of(
        &mut self,
        id: &str,
        order: Option<&str>,
        account: &str,
        time: i64,
    ) -> Result<u32> {
        let mut s = core::mem::take(&mut self.scratch);
        s.clear();
        let key = match (self.by, order) {
            (KeyBy::Order, Some(o)) => KeyText::Order(o),
            (KeyBy::Trade | KeyBy::Order, _) => KeyText::Id(id),
            (KeyBy::AccountDay(clock), _) => KeyText::AccountDay(account, clock.day(time)),
        };
        key.encode(&mut s);
        let hash = xxhash_rust::xxh3::xxh3_64(&s);
        let shard = (hash >> 63) as usize;
        let k = self.shards[shard].intern_hashed(hash, &s);
        self.scratch = s;
        Ok(k? | (shard as u32) << SHARD_BIT)
    }

    /// Adds a settled trade of `cell` to key `key` (from [`Keyed::key_of`]), exactly.
    pub fn add(
        &mut self,
        key: u32,
        trade: (&str, i64),
        cell: u32,
        notional: (Option<i128>, Decimal),
        fee: (Option<i128>, Decimal),
    ) -> Result<()> {
        let shard = (key >> SHARD_BIT) as usize;
        self.shards[shard].add(key & SHARD_KEYS as u32, trade, cell, notional, fee)
    }

    /// Adds another thread's keys; `cells[i]` is this state's index of its cell `i`. Shard
    /// by shard, on a thread each when they are large.
    pub fn merge(&mut self, o: Keyed, cells: &[u32]) -> Result<()> {
        if self.by != o.by {
            return Err(Error::new(
                ErrorCode::Partial,
                "a settlement kept for reconcile merges only with its own forks",
            ));
        }
        let big = o.shards.iter().map(|s| s.entries.len()).sum::<usize>() >= PARALLEL_FROM;
        let pairs: Vec<_> = self.shards.iter_mut().zip(o.shards).collect();
        // Every shard merges; the first error (in shard order) is the answer.
        on_shards(pairs, big, |(mine, theirs)| mine.merge(theirs, cells))
            .into_iter()
            .collect::<Result<Vec<()>>>()
            .map(drop)
    }
}

/// `f` over each item: one scoped thread per item when `parallel` (a thread's panic is raised
/// again here), else in order on this thread. Results in the items' order.
fn on_shards<I: Send, R: Send>(items: Vec<I>, parallel: bool, f: impl Fn(I) -> R + Sync) -> Vec<R> {
    if !parallel {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|x| scope.spawn(move || f(x)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

impl Shard {
    fn new() -> Shard {
        Shard {
            text: Vec::new(),
            ends: Vec::new(),
            table: hashbrown::HashTable::new(),
            first: Vec::new(),
            pairs: hashbrown::HashMap::default(),
            entries: Vec::new(),
            ids: Vec::new(),
        }
    }

    fn key_text(&self, k: u32) -> &[u8] {
        let k = k as usize;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.text[start..self.ends[k]]
    }

    fn intern_hashed(&mut self, hash: u64, s: &[u8]) -> Result<u32> {
        if let Some(&(_, k)) = self
            .table
            .find(hash, |&(h, k)| h == hash && self.key_text(k) == s)
        {
            return Ok(k);
        }
        if self.ends.len() >= SHARD_KEYS {
            return Err(Error::new(
                ErrorCode::Options,
                "too many keys to reconcile (over 2,147,483,647 in one of two hash shards)",
            ));
        }
        let k = self.ends.len() as u32;
        self.text.extend_from_slice(s);
        self.ends.push(self.text.len());
        self.first.push((u32::MAX, u32::MAX));
        self.table.insert_unique(hash, (hash, k), |&(h, _)| h);
        Ok(k)
    }

    /// Adds a settled trade of `cell` to key `key` (the shard's own id), exactly.
    fn add(
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

    /// Adds another thread's shard; `cells[i]` is this state's index of its cell `i`.
    fn merge(&mut self, o: Shard, cells: &[u32]) -> Result<()> {
        if self.ends.is_empty() && self.entries.is_empty() {
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
            let key = self.intern_hashed(hashes[oe.key as usize], o.key_text(oe.key))?;
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
    fn take(&mut self, o: Shard, cells: &[u32]) {
        *self = o;
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
    fn exact(e: &Entry) -> Result<(Decimal, Decimal, Decimal, Decimal)> {
        // The value at `SCALE` as `Decimal::try_from_i128_with_scale` gives it (mantissa
        // under 2^96), built from its parts; larger values reduced by `to_decimal`.
        let at_scale = |x: i128| {
            let m = x.unsigned_abs();
            (m < 1u128 << 96).then(|| {
                Decimal::from_parts(
                    m as u32,
                    (m >> 32) as u32,
                    (m >> 64) as u32,
                    x < 0,
                    columns::SCALE,
                )
            })
        };
        let d = |x: i128| {
            at_scale(x)
                .or_else(|| columns::to_decimal(x))
                .ok_or_else(overflow)
        };
        let (mut n, mut p, mut q) = (d(e.sums.notional)?, d(e.sums.fee_pos)?, d(e.sums.fee_neg)?);
        if let Some(w) = &e.wide {
            n = money::total(n, w.notional)?;
            p = money::total(p, w.fee_pos)?;
            q = money::total(q, w.fee_neg)?;
        } else if let Some(fee) = e
            .sums
            .fee_pos
            .checked_add(e.sums.fee_neg)
            .and_then(at_scale)
        {
            // Both at `SCALE`: their exact sum at that scale, as `money::total` gives it.
            return Ok((n, p, q, fee));
        }
        Ok((n, p, q, money::total(p, q)?))
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
                let key = k.key_of(t.0, t.1, t.2, t.3)?;
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
    /// level on a unit's day (the finish's cache). The cells' levels are found here; the
    /// shards are priced on a thread each when they are large.
    pub(crate) fn price_keys(
        &self,
        keyed: Keyed,
        rank: &mut dyn FnMut(u32, i64) -> Result<usize>,
    ) -> Result<KeyParts> {
        let p = &self.p;
        let mut out = KeyParts {
            brokers: self.brokers.names.clone(),
            tiers: p.level_names().map(Into::into).collect(),
            reasons: p.exclusions.iter().map(|(r, _)| r.clone()).collect(),
            ..KeyParts::default()
        };
        let unattributed = out.reasons.len() as u32;
        out.reasons.extend(REASONS.iter().map(|r| (*r).into()));
        // Each cell in use: its part and `g` (cells outnumber keys' cells: a slot per
        // cell, the parts only for cells in use), in the order entries first use them.
        let mut slot: Vec<u32> = vec![u32::MAX; self.keys.len()];
        let mut gs: Vec<Option<Decimal>> = Vec::new();
        for sh in &keyed.shards {
            for e in &sh.entries {
                if slot[e.cell as usize] == u32::MAX {
                    let (c, g) = self.cell_part(e.cell, unattributed, rank)?;
                    slot[e.cell as usize] = out.cells.len() as u32;
                    out.cells.push(c);
                    gs.push(g);
                }
            }
        }
        let how = Pricing {
            slot: &slot,
            gs: &gs,
            by_fee: self.plan.quantity == crate::formula::Var::Fee,
            net: p.spec().negative_fees == crate::program::NegativeFees::Net,
        };
        let big = keyed.shards.iter().map(|s| s.entries.len()).sum::<usize>() >= PARALLEL_FROM;
        let priced: Vec<Result<ShardParts>> = on_shards(keyed.shards, big, |sh| how.shard(sh));
        for sh in priced {
            out.shards.push(sh?);
        }
        Ok(out)
    }
}

/// What pricing a shard needs: each cell's slot among the cells in use and the cells' `g`.
struct Pricing<'a> {
    slot: &'a [u32],
    gs: &'a [Option<Decimal>],
    by_fee: bool,
    net: bool,
}

impl Pricing<'_> {
    /// A shard's keys priced, in key text order.
    fn shard(&self, keyed: Shard) -> Result<ShardParts> {
        let (pos, several) = keyed.positions();
        // Each entry's part written straight to its place; `from[i]`: the entry at place i.
        let n = keyed.entries.len();
        let mut parts: Vec<(u32, Priced)> = vec![(0, Priced::default()); n];
        let mut from: Vec<u32> = if several.is_empty() {
            Vec::new()
        } else {
            vec![0; n]
        };
        for (i, e) in keyed.entries.iter().enumerate() {
            let at = self.slot[e.cell as usize];
            let (notional, fee_pos, fee_neg, fee) = Shard::exact(e)?;
            let mut part = Priced {
                trades: e.sums.trades,
                volume: notional,
                fee,
                commission: Decimal::ZERO,
                cell: at,
            };
            if let Some(g) = self.gs[at as usize] {
                let (pos, neg) = if self.by_fee {
                    (fee_pos, fee_neg)
                } else {
                    (notional, Decimal::ZERO)
                };
                part.commission = price_fast(g, pos, neg, self.net)?;
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
        Ok(ShardParts {
            text: keyed.text,
            ends: keyed.ends,
            parts,
        })
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
