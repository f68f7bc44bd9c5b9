//! The batch engine's state and its small operations: cells, classes and groups, clients,
//! rejections. Trades enter through `rows.rs` (one at a time) and `batch.rs` (columns);
//! states combine in `merge.rs`; `finish.rs` turns them into a statement.

use super::plan::{ClassKey, Group, Interner, Plan};
use crate::columns;
use crate::dedupe::Dedupe;
use crate::error::{Error, Result};
use crate::money;
use crate::program::{Basis, MetricKind, Period, Program};
use crate::registry::{Registry, Resolved};
use crate::settle::SettleOptions;
use crate::statement::Rejected;
use crate::time::{Clock, NS_PER_HOUR};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

pub(crate) use super::cells::*;
pub(crate) use super::seen::*;

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
    /// Time of the earliest trade taken (i64::MAX before the first): history warnings.
    pub earliest: i64,
    /// A total passed its limit: the statement is that error; later trades only have their
    /// ids checked (see `General::over_limit`).
    pub over_limit: bool,
    pub duplicates: u64,
    pub unknown_fields: u64,
    pub unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    pub rejected: Vec<Rejected>,
    pub brokers: Interner,
    pub accounts: Interner,
    /// Groups of classes (see [`Group`]); cells are per group.
    pub classes: Vec<Group>,
    pub group_index: hashbrown::HashMap<Group, u32>,
    /// Class -> group.
    pub class_index: hashbrown::HashMap<ClassKey, u32>,
    pub cells: hashbrown::HashMap<u64, u32, Fast>,
    /// Cells whose key does not pack into 64 bits (over a million brokers, thousands of
    /// groups, or times centuries away).
    pub far_cells: hashbrown::HashMap<u128, u32, Fast>,
    pub keys: Vec<CellKey>,
    pub sums: Vec<Sums>,
    pub wide: BTreeMap<u32, Wide>,
    /// (broker, account, day, metric index) for active-client metrics.
    pub clients: hashbrown::HashSet<u128, Fast>,
    /// Bits of the active-client metrics.
    pub client_metrics: u64,
    /// Whether tier windows are whole calendar months (see [`Batch::client_day`]).
    pub monthly_clients: bool,
    /// Reconciliation's per-key sums, when this settlement is for `reconcile`.
    #[cfg(feature = "keyed")]
    pub keyed: Option<super::Keyed>,
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
        let mut b = Batch::fresh(p, plan, options, from, to);
        b.reg = registry.map(|r| r.resolve()).transpose()?;
        b.registry_json = registry.map(|r| serde_json::to_string(r).unwrap_or_default());
        Ok(b)
    }

    /// A state with nothing pushed and no registry.
    fn fresh(
        p: &Program,
        plan: Plan,
        options: &SettleOptions,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Batch {
        let client_metrics = p
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == MetricKind::ActiveClients)
            .fold(0u64, |b, (i, _)| b | 1 << i);
        Batch {
            p: p.clone(),
            plan,
            reg: None,
            registry_json: None,
            options: options.clone(),
            from,
            to,
            hourly: p.spec().settlement.period == Period::Hour,
            seen: SeenStore::Local(Dedupe::default()),
            accepted: 0,
            earliest: i64::MAX,
            over_limit: false,
            duplicates: 0,
            unknown_fields: 0,
            unknown_values: BTreeMap::new(),
            rejected: Vec::new(),
            brokers: Interner::default(),
            accounts: Interner::default(),
            classes: Vec::new(),
            group_index: hashbrown::HashMap::new(),
            class_index: hashbrown::HashMap::new(),
            cells: hashbrown::HashMap::default(),
            far_cells: hashbrown::HashMap::default(),
            keys: Vec::new(),
            sums: Vec::new(),
            wide: BTreeMap::new(),
            clients: hashbrown::HashSet::default(),
            client_metrics,
            monthly_clients: matches!(
                p.spec().tiers.window,
                crate::program::Window::CalendarMonth { .. }
            ),
            #[cfg(feature = "keyed")]
            keyed: None,
        }
    }

    /// An empty state for the same settlement (another thread's share of the input).
    #[cfg(feature = "std")]
    pub fn fork(&mut self) -> Batch {
        if let SeenStore::Local(d) = &mut self.seen {
            // Ids seen so far move into the shared store; both states then share it.
            let mut locks: Vec<std::sync::Mutex<Dedupe>> = (0..64)
                .map(|_| std::sync::Mutex::new(Dedupe::default()))
                .collect();
            for e in d.entries() {
                let i = (e.key >> 8) as usize % locks.len();
                if let Ok(m) = locks[i].get_mut() {
                    // Cannot fail: each shard here gets a subset of one shard there, so its
                    // arena stays below the limit that one kept.
                    let _ = m.insert_entry(e);
                }
            }
            self.seen = SeenStore::Shared(locks.into());
        }
        let mut b = self.blank();
        b.seen = self.seen.clone();
        b
    }

    /// A state with nothing pushed, for the same program, registry and options.
    pub fn empty(&self) -> Batch {
        let mut b = Batch::fresh(
            &self.p,
            self.plan.clone(),
            &self.options,
            self.from,
            self.to,
        );
        b.reg = self.reg.clone();
        b.registry_json = self.registry_json.clone();
        b
    }

    /// Whether nothing has been pushed yet (no trade taken, dropped or rejected).
    #[cfg(feature = "std")]
    pub fn is_blank(&self) -> bool {
        self.accepted == 0
            && self.duplicates == 0
            && self.rejected.is_empty()
            && self.seen.len() == 0
            && self.unknown_fields == 0
            && self.unknown_values.is_empty()
            && self.keys.is_empty()
    }

    /// An empty state like this one, its registry and reconcile sums included, with its own
    /// seen ids ([`Batch::fork`] then shares them).
    #[cfg(feature = "std")]
    pub fn blank(&self) -> Batch {
        #[allow(unused_mut)]
        let mut b = self.empty();
        #[cfg(feature = "keyed")]
        {
            b.keyed = self.keyed.as_ref().map(|k| k.fresh());
        }
        b
    }

    pub(crate) fn settled(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|x| t < x)
    }

    pub(crate) fn unit(&self, t: i64) -> i64 {
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

    /// A trade's commission at every level through the formula itself, as the per-trade
    /// engine computes it: the error (the trade is rejected) when one is not exact. Called
    /// only for trades whose class cannot prove it (see [`Group::exact_below`]).
    pub(crate) fn check_commission(
        &self,
        t: &crate::trade::TradeRef<'_>,
        broker: u32,
        source: crate::program::AttributionSource,
    ) -> Result<()> {
        let code = &self.brokers.names[broker as usize];
        // The batch engine never settles a program that reads `msa` (see `Plan::of`).
        let mut vars = crate::general::General::vars(t, code, source.as_str(), false);
        let mut out = alloc::vec::Vec::new();
        crate::general::level_commissions(&self.p, &mut vars, &mut out)
    }

    /// Whether a trade's notional is summed: always inside `from..to`; outside only when its
    /// group feeds a volume metric (its fee is never summed there).
    pub(crate) fn sums_needed(&self, class: u32, settled: bool) -> bool {
        let (metrics, counts) = self.metric_counts(class);
        settled || (counts && metrics & !self.client_metrics != 0)
    }

    pub(crate) fn cell_of(&mut self, key: CellKey) -> u32 {
        let next = self.sums.len() as u32;
        let i = match key.pack64() {
            Some(packed) => *self.cells.entry(packed).or_insert(next),
            None => *self.far_cells.entry(key.pack()).or_insert(next),
        };
        if i == next {
            self.sums.push(Sums::default());
            self.keys.push(key);
        }
        i
    }

    /// Adds a trade to a cell, exactly: fixed point when both values fit, else the side sum.
    pub(crate) fn add(
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

    pub(crate) fn count_client(&mut self, broker: u32, class: u32, account: &str, day: i64) {
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
        crate::general::reject_into(self.options.strict, &mut self.rejected, id, line, e)
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
            n = money::total(n, w.notional)?;
            p = money::total(p, w.fee_pos)?;
            q = money::total(q, w.fee_neg)?;
        }
        Ok((n, p, q))
    }
}

/// A fixed-point total past its range: the one error of a total that cannot be held exactly.
pub(crate) fn overflow() -> Error {
    money::sum_limit()
}
