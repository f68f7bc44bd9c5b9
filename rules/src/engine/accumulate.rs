//! The batch engine's state and the two ways trades enter it: rows and column batches.
//! Sums are exact integers at [`SCALE`] fractional digits; a value that does not fit (more
//! digits, or past i128) goes to an exact `Decimal` side sum for its cell instead, so the
//! fast path never rounds and never wraps.

use super::plan::{ClassKey, Group, Interner, Plan};
use crate::attribution::{attribute, Attributed};
use crate::columns::{self, Columns, NULL, SCALE};
use crate::dedupe::{self, Dedupe, Seen};
use crate::error::{Error, ErrorCode, Result};
use crate::general::{duplicate_id, known_values};
use crate::money;
use crate::program::{AttributionSource, Basis, MetricKind, Period, Program};
use crate::registry::{Registry, Resolved};
use crate::settle::SettleOptions;
use crate::statement::Rejected;
use crate::time::{Clock, NS_PER_HOUR};
use crate::trade::{Liquidity, TradeRef};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
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
    fn plus(&self, notional: i128, fee: i128) -> Option<Sums> {
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
            notional: money::add(self.notional, notional)?,
            fee_pos: money::add(self.fee_pos, pos)?,
            fee_neg: money::add(self.fee_neg, neg)?,
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

/// Seen ids: this state's own, or shared by threads settling one input together.
#[derive(Clone, Debug)]
pub(crate) enum SeenStore {
    Local(Dedupe),
    #[cfg(feature = "std")]
    Shared(std::sync::Arc<[std::sync::Mutex<Dedupe>]>),
}

impl SeenStore {
    /// Inserts many ids; the answer for each, as if inserted one by one in order.
    fn insert_many(&mut self, keys: &[(u64, u32)]) -> Vec<Seen> {
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
        for (k, _) in keys {
            starts[group(*k) + 1] += 1;
        }
        for i in 0..n_groups {
            starts[i + 1] += starts[i];
        }
        let mut order = alloc::vec![0u32; keys.len()];
        let mut at = starts.clone();
        for (row, (k, _)) in keys.iter().enumerate() {
            let g = group(*k);
            order[at[g]] = row as u32;
            at[g] += 1;
        }
        let mut out = alloc::vec![Seen::New; keys.len()];
        for g in 0..n_groups {
            let rows = &order[starts[g]..starts[g + 1]];
            if rows.is_empty() {
                continue;
            }
            match self {
                SeenStore::Local(d) => {
                    for &r in rows {
                        let (k, v) = keys[r as usize];
                        out[r as usize] = d.insert(k, v);
                    }
                }
                #[cfg(feature = "std")]
                SeenStore::Shared(locks) => {
                    let mut d = match locks[g].lock() {
                        Ok(d) => d,
                        Err(p) => p.into_inner(),
                    };
                    for &r in rows {
                        let (k, v) = keys[r as usize];
                        out[r as usize] = d.insert(k, v);
                    }
                }
            }
        }
        out
    }

    fn insert(&mut self, key: u64, content: u32) -> Seen {
        match self {
            SeenStore::Local(d) => d.insert(key, content),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let i = (key >> 8) as usize % locks.len();
                match locks[i].lock() {
                    Ok(mut d) => d.insert(key, content),
                    Err(p) => p.into_inner().insert(key, content),
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub p: Program,
    pub plan: Plan,
    pub reg: Option<Resolved>,
    /// The registry as given (its fingerprint goes into serialized states).
    pub registry_json: Option<alloc::string::String>,
    pub options: SettleOptions,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub hourly: bool,
    pub seen: SeenStore,
    pub accepted: u64,
    pub duplicates: u64,
    pub unknown_fields: u64,
    pub rejected: Vec<Rejected>,
    pub brokers: Interner,
    pub accounts: Interner,
    /// Groups of classes (see [`Group`]); cells are per group.
    pub classes: Vec<Group>,
    pub group_index: hashbrown::HashMap<Group, u32>,
    /// Class -> group.
    pub class_index: hashbrown::HashMap<ClassKey, u32>,
    pub cells: hashbrown::HashMap<u128, u32, Fast>,
    pub keys: Vec<CellKey>,
    pub sums: Vec<Sums>,
    pub wide: BTreeMap<u32, Wide>,
    /// (broker, account, day, metric index) for active-client metrics.
    pub clients: hashbrown::HashSet<u128, Fast>,
    /// Bits of the active-client metrics.
    pub client_metrics: u64,
    /// Whether tier windows are whole calendar months (see [`Batch::client_day`]).
    pub monthly_clients: bool,
}

/// Per-string hash used in content fingerprints (absent values hash to a fixed marker).
fn h(s: Option<&str>) -> u64 {
    match s {
        Some(s) => xxhash_rust::xxh3::xxh3_64(s.as_bytes()),
        None => 0x9e37_79b9_7f4a_7c15,
    }
}

/// A decimal's bytes for fingerprints: its fixed-point value, or (when it has none) its
/// normalized 96-bit form behind a marker no fixed value produces.
fn num(fixed: Option<i128>, d: Decimal) -> [u8; 17] {
    let mut b = [0u8; 17];
    match fixed {
        Some(v) => b[..16].copy_from_slice(&v.to_le_bytes()),
        None => {
            b[..16].copy_from_slice(&d.normalize().serialize());
            b[16] = 1;
        }
    }
    b
}

/// The content fingerprint of a trade, from its parts (the same for rows and columns).
#[allow(clippy::too_many_arguments)]
fn content(
    time: i64,
    hashes: [u64; 5],
    notional: [u8; 17],
    fee: [u8; 17],
    fee_rate: Option<[u8; 17]>,
    liquidity: Option<Liquidity>,
    vip: u32,
    fee_discount: bool,
    affiliate_rate: [u8; 17],
) -> u32 {
    let mut buf = [0u8; 8 + 40 + 17 * 4 + 1 + 4 + 1 + 1];
    buf[..8].copy_from_slice(&time.to_le_bytes());
    for (i, x) in hashes.iter().enumerate() {
        buf[8 + i * 8..16 + i * 8].copy_from_slice(&x.to_le_bytes());
    }
    let mut o = 48;
    for n in [
        notional,
        fee,
        fee_rate.unwrap_or([0xee; 17]),
        affiliate_rate,
    ] {
        buf[o..o + 17].copy_from_slice(&n);
        o += 17;
    }
    buf[o] = match liquidity {
        None => 0,
        Some(Liquidity::Maker) => 1,
        Some(Liquidity::Taker) => 2,
    };
    buf[o + 1..o + 5].copy_from_slice(&vip.to_le_bytes());
    buf[o + 5] = fee_discount as u8;
    buf[o + 6] = fee_rate.is_some() as u8;
    xxhash_rust::xxh3::xxh3_64(&buf) as u32
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

impl Batch {
    pub fn new(
        p: &Program,
        plan: Plan,
        registry: Option<&Registry>,
        options: &SettleOptions,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Batch> {
        let client_metrics = p
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == MetricKind::ActiveClients)
            .fold(0u64, |b, (i, _)| b | 1 << i);
        Ok(Batch {
            p: p.clone(),
            plan,
            reg: registry.map(|r| r.resolve()).transpose()?,
            registry_json: registry.map(|r| serde_json::to_string(r).unwrap_or_default()),
            options: options.clone(),
            from,
            to,
            hourly: p.spec().settlement.period == Period::Hour,
            seen: SeenStore::Local(Dedupe::default()),
            accepted: 0,
            duplicates: 0,
            unknown_fields: 0,
            rejected: Vec::new(),
            brokers: Interner::default(),
            accounts: Interner::default(),
            classes: Vec::new(),
            group_index: hashbrown::HashMap::new(),
            class_index: hashbrown::HashMap::new(),
            cells: hashbrown::HashMap::default(),
            keys: Vec::new(),
            sums: Vec::new(),
            wide: BTreeMap::new(),
            clients: hashbrown::HashSet::default(),
            client_metrics,
            monthly_clients: matches!(
                p.spec().tiers.window,
                crate::program::Window::CalendarMonth { .. }
            ),
        })
    }

    /// An empty state for the same settlement (another thread's share of the input).
    #[cfg(feature = "std")]
    pub fn fork(&mut self) -> Batch {
        if let SeenStore::Local(d) = &mut self.seen {
            // Ids seen so far move into the shared store; both states then share it.
            let mut locks: Vec<std::sync::Mutex<Dedupe>> = (0..64)
                .map(|_| std::sync::Mutex::new(Dedupe::default()))
                .collect();
            for (k, v) in d.entries() {
                let i = (k >> 8) as usize % locks.len();
                if let Ok(m) = locks[i].get_mut() {
                    m.insert(k, v);
                }
            }
            self.seen = SeenStore::Shared(locks.into());
        }
        let mut b = self.empty();
        b.reg = self.reg.clone();
        b.seen = self.seen.clone();
        b
    }

    /// A state with nothing pushed, for the same program, registry and options.
    pub fn empty(&self) -> Batch {
        Batch {
            seen: SeenStore::Local(Dedupe::default()),
            accepted: 0,
            duplicates: 0,
            unknown_fields: 0,
            rejected: Vec::new(),
            brokers: Interner::default(),
            accounts: Interner::default(),
            classes: Vec::new(),
            group_index: hashbrown::HashMap::new(),
            class_index: hashbrown::HashMap::new(),
            cells: hashbrown::HashMap::default(),
            keys: Vec::new(),
            sums: Vec::new(),
            wide: BTreeMap::new(),
            clients: hashbrown::HashSet::default(),
            p: self.p.clone(),
            plan: self.plan.clone(),
            reg: self.reg.clone(),
            registry_json: self.registry_json.clone(),
            options: self.options.clone(),
            ..*self
        }
    }

    fn settled(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|x| t < x)
    }

    fn unit(&self, t: i64) -> i64 {
        if self.hourly {
            (t + self.p.clock.offset_ns).div_euclid(NS_PER_HOUR)
        } else {
            self.p.clock.day(t)
        }
    }

    /// The day under which a trade's account is recorded for active-client metrics: its own
    /// day, or the first day of its month when every window is whole calendar months (then
    /// a month's accounts are one set, not thirty).
    pub fn client_day(&self, unit: i64) -> i64 {
        let day = self.day_of_unit(unit);
        if self.monthly_clients {
            Clock::month_first_day(Clock::month_of_day(day))
        } else {
            day
        }
    }

    pub fn day_of_unit(&self, unit: i64) -> i64 {
        if self.hourly {
            unit.div_euclid(24)
        } else {
            unit
        }
    }

    /// A representative instant of a unit (its start), for period arithmetic.
    pub fn unit_start(&self, unit: i64) -> i64 {
        if self.hourly {
            unit * NS_PER_HOUR - self.p.clock.offset_ns
        } else {
            self.p.clock.day_start(unit)
        }
    }

    pub(crate) fn class_of(&mut self, key: ClassKey) -> Result<u32> {
        let key = key.reduced(self.plan.vars);
        if let Some(&c) = self.class_index.get(&key) {
            return Ok(c);
        }
        let group = key.clone().decide(&self.p, self.plan.quantity)?;
        let c = self.group_of(group);
        self.class_index.insert(key, c);
        Ok(c)
    }

    pub(crate) fn group_of(&mut self, group: Group) -> u32 {
        if let Some(&g) = self.group_index.get(&group) {
            return g;
        }
        let g = self.classes.len() as u32;
        self.classes.push(group.clone());
        self.group_index.insert(group, g);
        g
    }

    pub(crate) fn cell_of(&mut self, key: CellKey) -> u32 {
        let packed = key.pack();
        match self.cells.get(&packed) {
            Some(&i) => i,
            None => {
                let i = self.sums.len() as u32;
                self.sums.push(Sums::default());
                self.keys.push(key);
                self.cells.insert(packed, i);
                i
            }
        }
    }

    /// Adds a trade to a cell, exactly: fixed point when both values fit, else the side sum.
    fn add(
        &mut self,
        cell: u32,
        notional: (Option<i128>, Decimal),
        fee: (Option<i128>, Decimal),
    ) -> Result<()> {
        let s = &mut self.sums[cell as usize];
        if let (Some(n), Some(f)) = (notional.0, fee.0) {
            if let Some(next) = s.plus(n, f) {
                *s = next;
                return Ok(());
            }
        }
        let w = self.wide.get(&cell).copied().unwrap_or_default();
        let w = w.add(notional.1, fee.1)?;
        self.sums[cell as usize].trades += 1;
        self.wide.insert(cell, w);
        Ok(())
    }

    fn count_client(&mut self, broker: u32, class: u32, account: &str, day: i64) {
        let c = &self.classes[class as usize];
        let counts = self.p.spec().tiers.basis == Basis::Attributed || c.excluded.is_none();
        let bits = c.metrics & self.client_metrics;
        if bits == 0 || !counts {
            return;
        }
        let a = self.accounts.id(account);
        for i in 0..64u8 {
            if bits & (1 << i) != 0 {
                self.clients.insert(client_key(broker, a, day, i));
            }
        }
    }

    /// Records a trade a reader could not build (lenient), or fails (strict).
    pub fn reject(&mut self, id: Option<&str>, line: Option<u64>, e: Error) -> Result<()> {
        if self.options.strict {
            let e = match (id, &e.location.id) {
                (Some(id), None) => e.id(id),
                _ => e,
            };
            return Err(match line {
                Some(l) if e.location.line.is_none() => e.line(l),
                _ => e,
            });
        }
        self.rejected.push(Rejected::new(id, line, &e));
        Ok(())
    }

    /// The row path (same contract as the per-trade engine's `push`).
    pub fn push_row(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        match self.try_row(t) {
            Ok(()) => Ok(()),
            Err(e) if e.code == ErrorCode::DuplicateId => Err(match line {
                Some(l) => e.line(l),
                None => e,
            }),
            Err(e) => self.reject(Some(t.id), line, e.id(t.id)),
        }
    }

    fn try_row(&mut self, t: &TradeRef<'_>) -> Result<()> {
        if self.options.strict {
            known_values(t.channel, t.product)?;
        }
        let notional = (columns::fixed(t.notional), t.notional);
        let fee = (columns::fixed(t.fee), t.fee);
        let key = dedupe::fingerprint(t.id);
        let c = content(
            t.time,
            [
                h(Some(t.account)),
                h(t.broker),
                h(Some(t.channel)),
                h(Some(t.product)),
                h(t.master),
            ],
            num(notional.0, notional.1),
            num(fee.0, fee.1),
            t.fee_rate.map(|r| num(columns::fixed(r), r)),
            t.liquidity,
            t.vip,
            t.fee_discount,
            num(columns::fixed(t.affiliate_rate), t.affiliate_rate),
        );
        match self.seen.insert(key, c) {
            Seen::New => {}
            Seen::Same => {
                self.duplicates += 1;
                return Ok(());
            }
            Seen::Conflict => return Err(duplicate_id(t.id)),
        }
        self.accepted += 1;
        let settled = self.settled(t.time);
        let unit = self.unit(t.time);
        let sources = &self.p.spec().attribution.sources;
        let (broker, source) = match attribute(t, sources, self.reg.as_ref()) {
            Attributed::Broker { code, source } => (self.brokers.id(code), source),
            Attributed::None { reason } => {
                if settled {
                    let cell = self.cell_of(CellKey {
                        broker: NO_BROKER,
                        class: (reason == REASONS[1]) as u32,
                        unit: 0,
                        settled: true,
                    });
                    self.add(cell, (Some(0), Decimal::ZERO), fee)?;
                }
                return Ok(());
            }
        };
        let class = self.class_of(ClassKey {
            channel: t.channel.into(),
            product: t.product.into(),
            liquidity: t.liquidity,
            vip: t.vip,
            fee_discount: t.fee_discount,
            affiliate_rate: t.affiliate_rate,
            attribution: source,
        })?;
        let cell = self.cell_of(CellKey {
            broker,
            class,
            unit,
            settled,
        });
        self.add(cell, notional, fee)?;
        if self.plan.clients {
            let day = self.client_day(unit);
            self.count_client(broker, class, t.account, day);
        }
        Ok(())
    }

    /// The batch path: clean rows in columns (see [`crate::columns`]).
    pub fn push_columns(&mut self, c: &Columns) -> Result<()> {
        let strict = self.options.strict;
        let hashes =
            |d: &columns::Dict| -> Vec<u64> { d.values.iter().map(|v| h(Some(v))).collect() };
        let (ha, hb, hc, hp, hm) = (
            hashes(&c.account),
            hashes(&c.broker),
            hashes(&c.channel),
            hashes(&c.product),
            hashes(&c.master),
        );
        let known: Vec<bool> = c
            .channel
            .values
            .iter()
            .map(|v| crate::trade::KNOWN_CHANNELS.contains(&v.as_str()))
            .collect();
        let known_p: Vec<bool> = c
            .product
            .values
            .iter()
            .map(|v| crate::trade::KNOWN_PRODUCTS.contains(&v.as_str()))
            .collect();
        // Attribution tables, once per dictionary value.
        let reg = self.reg.clone();
        let by_code: Vec<Option<u32>> = c
            .broker
            .values
            .iter()
            .map(|b| match &reg {
                Some(r) if !r.codes.contains(b.as_str()) => None,
                _ => Some(self.brokers.id(b)),
            })
            .collect();
        let sources = self.p.spec().attribution.sources.clone();
        let uses_sub = sources.contains(&AttributionSource::SubAccount);
        let by_master: Vec<Option<u32>> = if uses_sub {
            c.master
                .values
                .iter()
                .map(|m| match &reg {
                    None => Some(self.brokers.id(m)),
                    Some(r) => r.masters.get(m.as_str()).map(|b| self.brokers.id(b)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let by_account: Vec<Option<u32>> = match (&reg, uses_sub) {
            (Some(r), true) => c
                .account
                .values
                .iter()
                .map(|a| r.sub_accounts.get(a.as_str()).map(|b| self.brokers.id(b)))
                .collect(),
            _ => Vec::new(),
        };
        let accounts: Vec<u32> = if self.plan.clients {
            c.account
                .values
                .iter()
                .map(|a| self.accounts.id(a))
                .collect()
        } else {
            Vec::new()
        };
        type Local = (
            u32,
            u32,
            Option<Liquidity>,
            u32,
            bool,
            i128,
            AttributionSource,
        );
        let mut local: hashbrown::HashMap<Local, u32, Fast> = hashbrown::HashMap::default();
        let v = self.plan.vars;
        let mut last: Option<(CellKey, u32)> = None;

        // Ids first, all rows at once, grouped by table shard so each shard's inserts run
        // while it is in cache (the id tables are the one state that grows with trades).
        let mut keys = Vec::with_capacity(c.len());
        for row in 0..c.len() {
            let opt = |d: &columns::Dict, hs: &[u64]| match d.keys[row] {
                NULL => h(None),
                k => hs[k as usize],
            };
            let fixed = |x: i128| num(Some(x), Decimal::ZERO);
            let (ch, pr) = (c.channel.keys[row] as usize, c.product.keys[row] as usize);
            keys.push((
                dedupe::fingerprint(c.id(row)),
                content(
                    c.time[row],
                    [
                        ha[c.account.keys[row] as usize],
                        opt(&c.broker, &hb),
                        hc[ch],
                        hp[pr],
                        opt(&c.master, &hm),
                    ],
                    fixed(c.notional[row]),
                    fixed(c.fee[row]),
                    c.fee_rate[row].map(fixed),
                    c.liquidity[row],
                    c.vip[row],
                    c.fee_discount[row],
                    fixed(c.affiliate_rate[row]),
                ),
            ));
        }
        let seen = self.seen.insert_many(&keys);

        for row in 0..c.len() {
            let line = c.line[row];
            let (ch, pr) = (c.channel.keys[row], c.product.keys[row]);
            if strict && !(known[ch as usize] && known_p[pr as usize]) {
                let e = known_values(
                    &c.channel.values[ch as usize],
                    &c.product.values[pr as usize],
                )
                .err()
                .unwrap_or_else(|| Error::new(ErrorCode::Internal, "unknown value"));
                return Err(e.id(c.id(row)).line(line));
            }
            let (notional, fee, aff) = (c.notional[row], c.fee[row], c.affiliate_rate[row]);
            match seen[row] {
                Seen::New => {}
                Seen::Same => {
                    self.duplicates += 1;
                    continue;
                }
                Seen::Conflict => return Err(duplicate_id(c.id(row)).line(line)),
            }
            self.accepted += 1;
            let t = c.time[row];
            let settled = self.settled(t);
            let unit = self.unit(t);
            // Attribution, in the program's precedence order.
            let mut found = None;
            let mut unenrolled = false;
            for s in &sources {
                let g = match s {
                    AttributionSource::BrokerCode => match c.broker.keys[row] {
                        NULL => None,
                        k => {
                            let g = by_code[k as usize];
                            unenrolled |= g.is_none();
                            g
                        }
                    },
                    AttributionSource::SubAccount => {
                        let by_acc = by_account
                            .get(c.account.keys[row] as usize)
                            .copied()
                            .flatten();
                        by_acc.or_else(|| match c.master.keys[row] {
                            NULL => None,
                            k => by_master[k as usize],
                        })
                    }
                };
                if let Some(g) = g {
                    found = Some((g, *s));
                    break;
                }
            }
            let Some((broker, source)) = found else {
                if settled {
                    let cell = self.cell_of(CellKey {
                        broker: NO_BROKER,
                        class: unenrolled as u32,
                        unit: 0,
                        settled: true,
                    });
                    self.add(cell, (Some(0), Decimal::ZERO), (Some(fee), Decimal::ZERO))?;
                }
                continue;
            };
            let lk: Local = (
                ch,
                pr,
                if v.liquidity { c.liquidity[row] } else { None },
                if v.vip { c.vip[row] } else { 0 },
                v.fee_discount && c.fee_discount[row],
                if v.affiliate_rate { aff } else { 0 },
                if v.attribution {
                    source
                } else {
                    AttributionSource::BrokerCode
                },
            );
            let class = match local.get(&lk) {
                Some(&k) => k,
                None => {
                    let key = ClassKey {
                        channel: c.channel.values[ch as usize].clone(),
                        product: c.product.values[pr as usize].clone(),
                        liquidity: lk.2,
                        vip: lk.3,
                        fee_discount: lk.4,
                        affiliate_rate: columns::to_decimal(lk.5).unwrap_or_default(),
                        attribution: lk.6,
                    };
                    let k = match self.class_of(key) {
                        Ok(k) => k,
                        // A predicate that fails for this class fails for each of its
                        // trades: the row path rejects them one by one.
                        Err(e) => {
                            self.reject(Some(c.id(row)), Some(line), e.id(c.id(row)))?;
                            continue;
                        }
                    };
                    local.insert(lk, k);
                    k
                }
            };
            let ck = CellKey {
                broker,
                class,
                unit,
                settled,
            };
            let cell = match last {
                Some((k, i)) if k == ck => i,
                _ => {
                    let i = self.cell_of(ck);
                    last = Some((ck, i));
                    i
                }
            };
            let s = &mut self.sums[cell as usize];
            match s.plus(notional, fee) {
                Some(next) => *s = next,
                None => {
                    let d = |x: i128| columns::to_decimal(x).unwrap_or_default();
                    self.add(cell, (None, d(notional)), (None, d(fee)))?;
                }
            }
            if self.plan.clients {
                let day = self.client_day(unit);
                let cl = &self.classes[class as usize];
                let counts =
                    self.p.spec().tiers.basis == Basis::Attributed || cl.excluded.is_none();
                let bits = cl.metrics & self.client_metrics;
                if counts && bits != 0 {
                    let a = accounts[c.account.keys[row] as usize];
                    for i in 0..64u8 {
                        if bits & (1 << i) != 0 {
                            self.clients.insert(client_key(broker, a, day, i));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds another state of the same settlement (its own rows; ids are checked across).
    pub fn merge(&mut self, o: Batch) -> Result<()> {
        let brokers: Vec<u32> = o.brokers.names.iter().map(|b| self.brokers.id(b)).collect();
        let accounts: Vec<u32> = o
            .accounts
            .names
            .iter()
            .map(|a| self.accounts.id(a))
            .collect();
        let classes: Vec<u32> = o.classes.into_iter().map(|g| self.group_of(g)).collect();
        let map_broker = |b: u32| {
            if b == NO_BROKER {
                b
            } else {
                brokers[b as usize]
            }
        };
        for (i, k) in o.keys.iter().enumerate() {
            let key = CellKey {
                broker: map_broker(k.broker),
                class: if k.broker == NO_BROKER {
                    k.class
                } else {
                    classes[k.class as usize]
                },
                ..*k
            };
            let cell = self.cell_of(key);
            let (mine, theirs) = (self.sums[cell as usize], o.sums[i]);
            match mine.add(&theirs) {
                Some(s) => self.sums[cell as usize] = s,
                None => {
                    let d = |x: i128| columns::to_decimal(x).ok_or_else(overflow);
                    let w = self.wide.get(&cell).copied().unwrap_or_default();
                    let w = Wide {
                        notional: money::add(w.notional, d(theirs.notional)?)?,
                        fee_pos: money::add(w.fee_pos, d(theirs.fee_pos)?)?,
                        fee_neg: money::add(w.fee_neg, d(theirs.fee_neg)?)?,
                    };
                    self.wide.insert(cell, w);
                    self.sums[cell as usize].trades += theirs.trades;
                }
            }
            if let Some(w) = o.wide.get(&(i as u32)) {
                let mine = self.wide.get(&cell).copied().unwrap_or_default();
                self.wide.insert(
                    cell,
                    Wide {
                        notional: money::add(mine.notional, w.notional)?,
                        fee_pos: money::add(mine.fee_pos, w.fee_pos)?,
                        fee_neg: money::add(mine.fee_neg, w.fee_neg)?,
                    },
                );
            }
        }
        for k in o.clients {
            let (b, a, d, m) = client_parts(k);
            self.clients
                .insert(client_key(brokers[b as usize], accounts[a as usize], d, m));
        }
        match (&mut self.seen, o.seen) {
            (SeenStore::Local(mine), SeenStore::Local(theirs)) => {
                for (k, v) in theirs.entries() {
                    if mine.insert(k, v) != Seen::New {
                        return Err(Error::new(
                            ErrorCode::DuplicateId,
                            format!(
                                "a trade id (fingerprint {k:016x}) is in two partial states; \
                                 partition trades by id before settling partitions separately"
                            ),
                        )
                        .field("id"));
                    }
                }
            }
            #[cfg(feature = "std")]
            (SeenStore::Shared(a), SeenStore::Shared(b)) if std::sync::Arc::ptr_eq(a, &b) => {}
            #[cfg(feature = "std")]
            _ => {
                return Err(Error::new(
                    ErrorCode::Partial,
                    "states that share de-duplication merge only with each other",
                ))
            }
        }
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.unknown_fields += o.unknown_fields;
        self.rejected.extend(o.rejected);
        Ok(())
    }

    /// Every day's per-metric volume and per-metric client set sizes need the classes'
    /// metric bits; exposed for the finish step.
    pub fn metric_counts(&self, class: u32) -> (u64, bool) {
        let c = &self.classes[class as usize];
        let counts = self.p.spec().tiers.basis == Basis::Attributed || c.excluded.is_none();
        (c.metrics, counts)
    }

    /// The program's time helpers for the finish step.
    pub fn period_of_unit(&self, unit: i64) -> i64 {
        crate::general::period_start(&self.p, self.unit_start(unit))
    }

    /// The exact value of fixed-point sums plus the side sums, or `E_OVERFLOW` past 96 bits.
    pub fn exact(&self, cell: u32) -> Result<(Decimal, Decimal, Decimal)> {
        let s = &self.sums[cell as usize];
        let d = |x: i128| columns::to_decimal(x).ok_or_else(overflow);
        let (mut n, mut p, mut q) = (d(s.notional)?, d(s.fee_pos)?, d(s.fee_neg)?);
        if let Some(w) = self.wide.get(&cell) {
            n = money::add(n, w.notional)?;
            p = money::add(p, w.fee_pos)?;
            q = money::add(q, w.fee_neg)?;
        }
        Ok((n, p, q))
    }
}

fn overflow() -> Error {
    Error::new(
        ErrorCode::Overflow,
        format!(
            "a sum needs more than 28 significant digits (96 bits) to be exact; \
             it is never rounded (fixed point at {SCALE} fractional digits)"
        ),
    )
}
