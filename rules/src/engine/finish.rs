//! From sums to a statement. The cells become the per-trade engine's per-day and per-period
//! aggregates (volume per metric, client sets, period totals, exclusions), each period-day
//! is priced once at the level its broker reaches that day, and the per-trade engine's own
//! finish assembles the statement: caps, netting, sub-broker shares, rounding and output
//! are one piece of code for both engines.

use super::accumulate::Batch;
use super::cells::{NO_BROKER, REASONS};
#[cfg(feature = "keyed")]
use super::keyed::KeyParts;
use super::plan::price;
use super::seen::SeenStore;
use crate::dedupe::Dedupe;
use crate::error::Result;
use crate::general::{metric_values, BrokerAcc, DayAgg, General, PeriodAcc, Stat};
use crate::money;
use crate::program::{MetricKind, NegativeFees};
use crate::settle::window;
use crate::statement::{BrokerStatement, Statement};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// A group's positive and negative quantity sums in one cell.
type Eligible = (u32, Decimal, Decimal);

impl Batch {
    pub fn finish(self, emit: &mut dyn FnMut(BrokerStatement) -> Result<()>) -> Result<Statement> {
        Ok(self.finish_then(emit, |_, _| Ok(()))?.0)
    }

    /// The statement, and reconciliation's priced keys when this settlement kept them.
    #[cfg(feature = "keyed")]
    pub fn finish_keyed(
        mut self,
        emit: &mut dyn FnMut(BrokerStatement) -> Result<()>,
    ) -> Result<(Statement, Option<KeyParts>)> {
        let keyed = self.keyed.take();
        self.finish_then(emit, move |b, rank| {
            keyed.map(|k| b.price_keys(k, rank)).transpose()
        })
    }

    /// The statement, after `keys` has run with each broker's level (by unit day) at hand.
    fn finish_then<T>(
        mut self,
        emit: &mut dyn FnMut(BrokerStatement) -> Result<()>,
        keys: impl FnOnce(&Batch, &mut dyn FnMut(u32, i64) -> Result<usize>) -> Result<T>,
    ) -> Result<(Statement, T)> {
        if self.over_limit {
            return Err(money::sum_limit());
        }
        // The seen ids are the largest part of the state and the statement needs only their
        // count (`accepted`): free them before the statement's own structures are built.
        self.seen = SeenStore::Local(Dedupe::default());
        self.cells = Default::default();
        self.far_cells = Default::default();
        let p = &self.p;
        let vol_slots = p.metric_slots(MetricKind::Volume);
        let client_slots = p.metric_slots(MetricKind::ActiveClients);
        let net = p.spec().negative_fees == NegativeFees::Net;
        let mut brokers: BTreeMap<u32, BrokerAcc> = BTreeMap::new();
        let mut unattributed: BTreeMap<&'static str, Stat> = BTreeMap::new();
        // (broker, period, day) -> (class, positive and negative quantity sums) of eligible trades.
        let mut eligible: BTreeMap<(u32, i64, i64), Vec<Eligible>> = BTreeMap::new();
        let by_fee = self.plan.quantity == crate::formula::Var::Fee;

        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by_key(|&i| self.keys[i]);
        for i in order {
            let k = self.keys[i];
            let trades = self.sums[i].trades;
            let (notional, fee_pos, fee_neg) = self.exact(i as u32)?;
            let fees = money::total(fee_pos, fee_neg)?;
            if k.broker == NO_BROKER {
                let s = unattributed.entry(REASONS[k.class as usize]).or_default();
                s.add(trades, notional, fees)?;
                continue;
            }
            let day = self.day_of_unit(k.unit);
            let acc = brokers.entry(k.broker).or_default();
            let agg = acc.days.entry(day).or_insert_with(|| DayAgg {
                volume: vec![Decimal::ZERO; vol_slots],
                clients: vec![BTreeSet::new(); client_slots],
            });
            let (bits, counts) = self.metric_counts(k.class);
            if counts {
                for (m, metric) in p.metrics.iter().enumerate() {
                    if bits & (1 << m) != 0 && metric.kind == MetricKind::Volume {
                        agg.volume[metric.slot] = money::total(agg.volume[metric.slot], notional)?;
                    }
                }
            }
            if !k.settled {
                continue;
            }
            let period = self.period_of_unit(k.unit);
            let per = acc.periods.entry(period).or_insert_with(|| PeriodAcc {
                last_day: day,
                ..PeriodAcc::default()
            });
            per.all.add(trades, notional, fees)?;
            per.last_day = per.last_day.max(day);
            match self.classes[k.class as usize].excluded {
                Some(x) => {
                    let reason: &String = &p.exclusions[x].0;
                    let s = per.excluded.entry(reason.clone()).or_default();
                    s.add(trades, notional, fees)?;
                }
                None => {
                    let (pos, neg) = if by_fee {
                        (fee_pos, fee_neg)
                    } else {
                        (notional, Decimal::ZERO)
                    };
                    eligible
                        .entry((k.broker, period, day))
                        .or_default()
                        .push((k.class, pos, neg));
                }
            }
        }
        let mut clients: Vec<(u32, i64, u8, u32)> = self
            .clients
            .iter()
            .map(|&k| {
                let (b, a, day, m) = super::cells::client_parts(k);
                (b, day, m, a)
            })
            .collect();
        clients.sort_unstable();
        for run in clients.chunk_by(|x, y| (x.0, x.1, x.2) == (y.0, y.1, y.2)) {
            let (b, day, m, _) = run[0];
            let slot = p.metrics[m as usize].slot;
            let acc = brokers.entry(b).or_default();
            let agg = acc.days.entry(day).or_insert_with(|| DayAgg {
                volume: vec![Decimal::ZERO; vol_slots],
                clients: vec![BTreeSet::new(); client_slots],
            });
            agg.clients[slot] = run.iter().map(|x| x.3).collect();
        }

        // Price each eligible period-day once, at the level its broker reaches that day; the
        // bucket holds that level's amount (the finish reads no other).
        let levels = p.level_rates.len();
        let mut level_cache: BTreeMap<(u32, (i64, i64)), usize> = BTreeMap::new();
        let mut g_cache: BTreeMap<(u32, usize), Decimal> = BTreeMap::new();
        for ((b, period, day), parts) in eligible {
            let acc = &brokers[&b];
            let rank = match level_cache.get(&(b, window(p, day))) {
                Some(r) => *r,
                None => {
                    let r = p.level_for(&metric_values(p, acc, window(p, day))?);
                    level_cache.insert((b, window(p, day)), r);
                    r
                }
            };
            let mut amount = Decimal::ZERO;
            for (class, pos, neg) in parts {
                let g = match g_cache.get(&(class, rank)) {
                    Some(g) => *g,
                    None => {
                        let g = self.classes[class as usize].g_at(p, self.plan.quantity, rank)?;
                        g_cache.insert((class, rank), g);
                        g
                    }
                };
                // Each trade was proven exact at every level: only the magnitude can fail here.
                let priced = price(g, pos, neg, net).map_err(money::as_sum_limit)?;
                amount = money::total(amount, priced)?;
            }
            let mut bucket = vec![Some(Decimal::ZERO); levels];
            bucket[rank] = Some(amount);
            if let Some(acc) = brokers.get_mut(&b) {
                if let Some(per) = acc.periods.get_mut(&period) {
                    per.buckets.insert((day, 0, Decimal::ZERO), bucket);
                }
            }
        }

        let parts = keys(&self, &mut |b, day| {
            let w = window(p, day);
            if let Some(r) = level_cache.get(&(b, w)) {
                return Ok(*r);
            }
            let r = match brokers.get(&b) {
                Some(acc) => p.level_for(&metric_values(p, acc, w)?),
                None => 0,
            };
            level_cache.insert((b, w), r);
            Ok(r)
        })?;

        let mut g = General::new(&self.p, None, &self.options)?;
        g.reg = self.reg;
        g.brokers = brokers
            .into_iter()
            .map(|(b, acc)| (self.brokers.names[b as usize].clone(), acc))
            .collect();
        g.unattributed = unattributed;
        g.accepted = self.accepted;
        g.earliest = self.earliest;
        g.duplicates = self.duplicates;
        g.unknown_fields = self.unknown_fields;
        g.unknown_values = core::mem::take(&mut self.unknown_values);
        let mut rejected = self.rejected;
        rejected.sort_by_key(|r| r.line);
        g.rejected = rejected;
        Ok((g.finish_with(emit)?, parts))
    }
}
