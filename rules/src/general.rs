//! The general (per-trade) engine. Trades stream through [`General::push`]; the state kept is per broker per day
//! (tier metrics) and per broker per period per day (commission *under every level*), so a
//! 10-million-trade log needs no more memory than a small one, apart from de-duplication.
//! The tier of a day may depend on trades not yet seen (the same calendar month), so each
//! trade's commission is accumulated for every level and the level is chosen at the end.
//! Only per-trade lines and graduated mode keep per-trade records.

use crate::attribution::{attribute, Attributed};
use crate::dedupe::{self, Dedupe, Seen};
use crate::error::{Error, ErrorCode, Result};
use crate::formula::Vars;
use crate::money;
use crate::program::{Basis, MetricKind, Mode, MonthChoice, NegativeFees, Period, Program, Window};
use crate::registry::{Registry, Resolved};
use crate::settle::SettleOptions;
use crate::statement::*;
use crate::time::{self, Clock, NS_PER_DAY, NS_PER_HOUR, NS_PER_MIN};
use crate::trade::{TradeRef, KNOWN_CHANNELS, KNOWN_PRODUCTS};
use alloc::collections::{btree_map, BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use rust_decimal::Decimal;

#[derive(Clone, Debug, Default)]
pub(crate) struct Stat {
    pub(crate) trades: u64,
    pub(crate) volume: Decimal,
    pub(crate) fees: Decimal,
}

impl Stat {
    pub(crate) fn add(&mut self, trades: u64, volume: Decimal, fees: Decimal) -> Result<()> {
        self.trades += trades;
        self.volume = money::total(self.volume, volume)?;
        self.fees = money::total(self.fees, fees)?;
        Ok(())
    }
    fn sub(&self, o: &Stat) -> Result<Stat> {
        Ok(Stat {
            trades: self.trades - o.trades,
            volume: money::sub(self.volume, o.volume)?,
            fees: money::sub(self.fees, o.fees)?,
        })
    }
    fn out(&self) -> Tally {
        Tally {
            trades: self.trades,
            volume: money::canonical(self.volume),
            fees: money::canonical(self.fees),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct DayAgg {
    pub(crate) volume: Vec<Decimal>,
    pub(crate) clients: Vec<BTreeSet<u32>>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PeriodAcc {
    /// Every attributed trade of the period.
    pub(crate) all: Stat,
    pub(crate) excluded: BTreeMap<String, Stat>,
    /// (day, capped client + 1 or 0) -> commission under each level rank; `None` when that
    /// level's total passed its limit: an error only if the broker reaches that level (the
    /// batch engine prices only the level reached; found by fuzzing).
    /// The third key is the client's kickback share (0 without `client_kickback`).
    pub(crate) buckets: BTreeMap<(i64, u32, Decimal), Vec<Option<Decimal>>>,
    pub(crate) last_day: i64,
}

/// Graduated mode: the slices of a trade's volume `[before, before + volume)` cut at the
/// ladder's thresholds, each with the level it is paid at (one slice when it crosses none).
fn graduated_slices(
    p: &Program,
    metric: usize,
    before: Decimal,
    volume: Decimal,
) -> Result<Vec<(usize, Decimal)>> {
    let mut values = vec![Decimal::ZERO; p.metrics.len()];
    let mut level_at = |v: Decimal| {
        values[metric] = v;
        p.level_for(&values)
    };
    if volume <= Decimal::ZERO {
        return Ok(vec![(level_at(before), volume)]);
    }
    let end = money::total(before, volume)?;
    let mut cuts: Vec<Decimal> = p
        .ladders
        .iter()
        .flatten()
        .flat_map(|s| s.min.iter())
        .filter(|(m, t)| *m == metric && *t > before && *t < end)
        .map(|(_, t)| *t)
        .collect();
    cuts.sort();
    cuts.dedup();
    cuts.push(end);
    let mut out = Vec::with_capacity(cuts.len());
    let mut from = before;
    for to in cuts {
        out.push((level_at(from), money::sub(to, from)?));
        from = to;
    }
    Ok(out)
}

/// A trade remembered for graduated mode.
#[derive(Clone, Debug)]
pub(crate) struct GradItem {
    pub(crate) time: i64,
    pub(crate) id: String,
    pub(crate) day: i64,
    pub(crate) contribution: Decimal,
    /// (period start, client key, kickback share, commission per level) when settled and
    /// eligible.
    pub(crate) settled: Option<(i64, u32, Decimal, Vec<Option<Decimal>>)>,
    pub(crate) line: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct BrokerAcc {
    pub(crate) days: BTreeMap<i64, DayAgg>,
    pub(crate) periods: BTreeMap<i64, PeriodAcc>,
    pub(crate) grad: Vec<GradItem>,
    /// Capped clients' commission before `from`, per (day, client key) under each level: not
    /// paid here, but a monthly client cap counts what was earned earlier in the month, so
    /// an hourly run from the 15th pays what the cap has left (SPEC: history feeds caps).
    pub(crate) cap_history: BTreeMap<(i64, u32), Vec<Option<Decimal>>>,
}

#[derive(Clone, Debug)]
pub(crate) struct LineAcc {
    pub(crate) time: i64,
    pub(crate) id: String,
    pub(crate) order: Option<String>,
    pub(crate) instrument: Option<String>,
    pub(crate) account: String,
    pub(crate) volume: Decimal,
    pub(crate) fee: Decimal,
    pub(crate) broker: Option<String>,
    pub(crate) period: i64,
    pub(crate) day: i64,
    pub(crate) attribution: Option<&'static str>,
    pub(crate) excluded: Option<String>,
    pub(crate) comms: Vec<Option<Decimal>>,
    /// Level rank fixed by graduated mode.
    pub(crate) level: Option<usize>,
    /// Graduated mode, a trade split across levels: the sum of its slices' commissions.
    pub(crate) split: Option<Decimal>,
}

/// The per-trade engine: evaluates the formula for every trade at every level. It settles
/// every program, including those the batch engine does not take (graduated mode, client
/// caps, per-trade lines, formulas that do not factor); [`crate::Settler`] picks the engine.
#[derive(Clone, Debug)]
pub struct General {
    pub(crate) p: Program,
    pub(crate) reg: Option<Resolved>,
    pub(crate) options: SettleOptions,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
    pub(crate) seen: Dedupe,
    /// Distinct trades taken.
    pub(crate) accepted: u64,
    /// A total passed its limit (money::sum_limit): the statement is that error. Later
    /// trades are still checked for ids with two contents, so `E_DUPLICATE_ID` wins in any
    /// order, as it does in the batch engine, which sees every id of a batch first.
    pub(crate) over_limit: bool,
    pub(crate) accounts: hashbrown::HashMap<String, u32>,
    pub(crate) brokers: BTreeMap<String, BrokerAcc>,
    pub(crate) lines: Vec<LineAcc>,
    pub(crate) rejected: Vec<Rejected>,
    pub(crate) unattributed: BTreeMap<&'static str, Stat>,
    pub(crate) duplicates: u64,
    pub(crate) unknown_fields: u64,
    /// `channel` / `product` -> unknown value -> accepted trades (Summary::unknown_values).
    pub(crate) unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    /// Time of the earliest trade taken (i64::MAX before the first).
    pub(crate) earliest: i64,
    /// The trade's commission under each level; `None` where it is not exact (see
    /// [`level_commissions`]).
    pub(crate) scratch: Vec<Option<Decimal>>,
}

impl General {
    pub fn new(
        program: &Program,
        registry: Option<&Registry>,
        options: &SettleOptions,
    ) -> Result<General> {
        let at = |s: &Option<String>, f: &str| -> Result<Option<i64>> {
            s.as_deref()
                .map(|v| {
                    time::parse_bound(v, &program.clock).map_err(|e| {
                        Error::new(ErrorCode::Options, e.message).field(format!("options.{f}"))
                    })
                })
                .transpose()
        };
        let (from, to) = (at(&options.from, "from")?, at(&options.to, "to")?);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(Error::new(
                    ErrorCode::Options,
                    "options.from must be before options.to",
                )
                .field("options.from"));
            }
        }
        Ok(General {
            p: program.clone(),
            reg: registry.map(|r| r.resolve()).transpose()?,
            options: options.clone(),
            from,
            to,
            seen: Dedupe::default(),
            accepted: 0,
            over_limit: false,
            accounts: hashbrown::HashMap::new(),
            brokers: BTreeMap::new(),
            lines: Vec::new(),
            rejected: Vec::new(),
            unattributed: BTreeMap::new(),
            duplicates: 0,
            unknown_fields: 0,
            unknown_values: BTreeMap::new(),
            earliest: i64::MAX,
            scratch: Vec::new(),
        })
    }

    pub fn strict(&self) -> bool {
        self.options.strict
    }

    /// Counts unknown fields a reader ignored.
    /// Counts an accepted trade's channel and product when they are not known values.
    fn note_values(&mut self, t: &TradeRef<'_>) {
        note_value(
            &mut self.unknown_values,
            "channel",
            t.channel,
            &KNOWN_CHANNELS,
            1,
        );
        note_value(
            &mut self.unknown_values,
            "product",
            t.product,
            &KNOWN_PRODUCTS,
            1,
        );
    }

    pub fn note_unknown_fields(&mut self, n: u64) {
        self.unknown_fields += n;
    }

    /// Records a trade a reader could not build (lenient mode), or fails (strict mode).
    pub fn reject(&mut self, id: Option<&str>, line: Option<u64>, e: Error) -> Result<()> {
        reject_into(self.options.strict, &mut self.rejected, id, line, e)
    }

    /// Settles one trade. `line` locates it in the input for error reports.
    ///
    /// Returns an error only when the batch must stop: strict mode, or a duplicate id with
    /// different content (fatal in both modes: no order-independent choice exists).
    pub fn push(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        if self.over_limit {
            return ids_only(&mut self.seen, self.options.strict, t, line);
        }
        match self.try_push(t) {
            Ok(()) => Ok(()),
            Err(e) if crate::dedupe::is_full(&e) => Err(e),
            Err(e) if e.code == ErrorCode::DuplicateId => Err(match line {
                Some(l) => e.line(l),
                None => e,
            }),
            // A total past its limit is the settlement's error, naming no trade
            // (money::sum_limit); only ids are checked from here on.
            Err(e) if crate::money::is_sum_limit(&e) => {
                self.over_limit = true;
                Ok(())
            }
            Err(e) => self.reject(Some(t.id), line, e.id(t.id)),
        }
    }

    pub(crate) fn vars<'a>(
        t: &TradeRef<'a>,
        broker: &'a str,
        attribution: &'a str,
        msa: bool,
    ) -> Vars<'a> {
        Vars {
            notional: t.notional,
            fee: t.fee,
            fee_rate: t.fee_rate,
            vip: Decimal::from(t.vip),
            affiliate_rate: t.affiliate_rate,
            channel: t.channel,
            product: t.product,
            liquidity: t.liquidity.map_or("", |l| l.as_str()),
            account: t.account,
            broker,
            master: t.master.unwrap_or(""),
            attribution,
            fee_discount: t.fee_discount,
            msa,
            tier_level: 0,
            tier: "",
            rates: &[],
        }
    }

    fn try_push(&mut self, t: &TradeRef<'_>) -> Result<()> {
        if self.options.strict {
            known_values(t.channel, t.product)?;
        }
        let p = &self.p;
        // The id is recorded before anything can fail, as the batch engine records it: an
        // identical copy of a rejected trade is a duplicate, and a different trade under the
        // id of a rejected one is E_DUPLICATE_ID, in either order (found by fuzzing: recorded
        // only on success, the outcome depended on which of the two came first).
        match insert_seen(&mut self.seen, t)? {
            Seen::New => {}
            Seen::Same => {
                self.duplicates += 1;
                return Ok(());
            }
            Seen::Conflict => return Err(duplicate_id(t.id)),
        }
        let day = p.clock.day(t.time);
        let period = period_start(p, t.time);
        let settled = self.from.is_none_or(|f| t.time >= f) && self.to.is_none_or(|x| t.time < x);
        let attributed = attribute(t, &p.spec().attribution.sources, self.reg.as_ref());
        let (code, source) = match attributed {
            Attributed::Broker { code, source } => (code, source),
            Attributed::None { reason } => {
                if settled {
                    let u = self.unattributed.entry(reason).or_default();
                    u.add(1, t.notional, t.fee)?;
                    if self.options.lines {
                        self.lines.push(LineAcc {
                            time: t.time,
                            id: t.id.into(),
                            order: t.order.map(Into::into),
                            instrument: t.instrument.map(Into::into),
                            account: t.account.into(),
                            volume: t.notional,
                            fee: t.fee,
                            broker: None,
                            period,
                            day,
                            attribution: None,
                            excluded: Some(reason.into()),
                            comms: Vec::new(),
                            level: Some(0),
                            split: None,
                        });
                    }
                }
                self.note_values(t);
                self.accepted += 1;
                self.earliest = self.earliest.min(t.time);
                return Ok(());
            }
        };

        // Everything that can fail happens before any state changes.
        // A managed sub-account by the fill's own flag or by the registry's list.
        let msa = t.msa || self.reg.as_ref().is_some_and(|r| r.msa.contains(t.account));
        let mut vars = Self::vars(t, code, source.as_str(), msa);
        let mut excluded = None;
        for (reason, pred) in &p.exclusions {
            if pred.eval_bool(&vars)? {
                excluded = Some(reason.as_str());
                break;
            }
        }
        let mut counted = 0u64;
        for (i, m) in p.metrics.iter().enumerate() {
            if m.counts(&vars)? {
                counted |= 1 << i;
            }
        }
        self.scratch.clear();
        if excluded.is_none() {
            level_commissions(p, &mut vars, &mut self.scratch)?;
        }
        let capped = match &p.client_cap {
            Some((_, None)) => true,
            Some((_, Some(when))) => when.eval_bool(&Self::vars(t, code, source.as_str(), msa))?,
            None => false,
        };
        let kick = match &self.reg {
            Some(r) if p.spec().client_kickback => {
                r.kickbacks.get(t.account).copied().unwrap_or_default()
            }
            _ => Decimal::ZERO,
        };
        let client_key = if capped {
            let n = self.accounts.len() as u32;
            *self.accounts.entry_ref(t.account).or_insert(n) + 1
        } else {
            0
        };
        let needs_account = p
            .metrics
            .iter()
            .any(|m| m.kind == MetricKind::ActiveClients);
        let account = if needs_account {
            let n = self.accounts.len() as u32;
            *self.accounts.entry_ref(t.account).or_insert(n)
        } else {
            0
        };

        // Tier metrics.
        let counts = p.spec().tiers.basis == Basis::Attributed || excluded.is_none();
        let broker = match self.brokers.get_mut(code) {
            Some(b) => b,
            None => self.brokers.entry(code.to_string()).or_default(),
        };
        let agg = broker.days.entry(day).or_insert_with(|| DayAgg {
            volume: vec![Decimal::ZERO; p.metric_slots(MetricKind::Volume)],
            clients: vec![BTreeSet::new(); p.metric_slots(MetricKind::ActiveClients)],
        });
        let mut contribution = Decimal::ZERO;
        if counts {
            for (i, m) in p.metrics.iter().enumerate() {
                if counted & (1 << i) != 0 {
                    match m.kind {
                        MetricKind::Volume => {
                            agg.volume[m.slot] = money::total(agg.volume[m.slot], t.notional)?;
                            contribution = t.notional;
                        }
                        MetricKind::ActiveClients => {
                            agg.clients[m.slot].insert(account);
                        }
                    }
                }
            }
        }

        // Settlement.
        let line = if settled && self.options.lines {
            self.lines.push(LineAcc {
                time: t.time,
                id: t.id.into(),
                order: t.order.map(Into::into),
                instrument: t.instrument.map(Into::into),
                account: t.account.into(),
                volume: t.notional,
                fee: t.fee,
                broker: Some(code.into()),
                period,
                day,
                attribution: Some(source.as_str()),
                excluded: excluded.map(Into::into),
                comms: self.scratch.clone(),
                level: None,
                split: None,
            });
            Some(self.lines.len() - 1)
        } else {
            None
        };
        if settled {
            let acc = broker.periods.entry(period).or_default();
            acc.all.add(1, t.notional, t.fee)?;
            acc.last_day = acc.last_day.max(day);
            if acc.all.trades == 1 {
                acc.last_day = day;
            }
            if let Some(r) = excluded {
                match acc.excluded.get_mut(r) {
                    Some(s) => s.add(1, t.notional, t.fee)?,
                    None => acc
                        .excluded
                        .entry(r.to_string())
                        .or_default()
                        .add(1, t.notional, t.fee)?,
                }
            } else if p.spec().tiers.mode == Mode::Volume {
                let bucket = acc
                    .buckets
                    .entry((day, client_key, kick))
                    .or_insert_with(|| vec![Some(Decimal::ZERO); p.level_rates.len()]);
                for (b, c) in bucket.iter_mut().zip(&self.scratch) {
                    *b = b.zip(*c).and_then(|(b, c)| money::total(b, c).ok());
                }
            }
        }
        let before_from = self.from.is_some_and(|f| t.time < f);
        if before_from
            && client_key > 0
            && excluded.is_none()
            && p.spec().tiers.mode == Mode::Volume
        {
            let bucket = broker
                .cap_history
                .entry((day, client_key))
                .or_insert_with(|| vec![Some(Decimal::ZERO); p.level_rates.len()]);
            for (b, c) in bucket.iter_mut().zip(&self.scratch) {
                *b = b.zip(*c).and_then(|(b, c)| money::total(b, c).ok());
            }
        }
        if p.spec().tiers.mode == Mode::Graduated {
            broker.grad.push(GradItem {
                time: t.time,
                id: t.id.into(),
                day,
                contribution,
                settled: (settled && excluded.is_none())
                    .then(|| (period, client_key, kick, self.scratch.clone())),
                line,
            });
        }
        self.note_values(t);
        self.accepted += 1;
        self.earliest = self.earliest.min(t.time);
        Ok(())
    }

    /// The statement, its brokers handed to `emit` one by one (in order) instead of kept:
    /// the returned statement's `brokers` is empty. A month of hourly periods for many
    /// brokers is hundreds of megabytes as values; streamed, one broker at a time.
    pub fn finish_with(
        mut self,
        emit: &mut dyn FnMut(BrokerStatement) -> Result<()>,
    ) -> Result<Statement> {
        if self.over_limit {
            return Err(money::sum_limit());
        }
        let p = self.p.clone();
        let scale = p.currency_scale();
        let rounding = p.spec().settlement.rounding;
        let rate_names = &p.spec().tiers.rates;
        let shares = p.spec().sub_broker_share;

        // Pass 1: exact commission per broker per period.
        struct Draft {
            tier: usize,
            /// The day whose tier window the level was read from.
            day: i64,
            metrics: Vec<Decimal>,
            own: Decimal,
            /// The clients' part (`client_kickback`), already taken out of `own`.
            kickback: Decimal,
            to_parent: Decimal,
            from_subs: Decimal,
        }
        let mut drafts: BTreeMap<String, BTreeMap<i64, Draft>> = BTreeMap::new();
        let mut levels_by_broker: BTreeMap<String, BTreeMap<i64, usize>> = BTreeMap::new();
        let brokers = core::mem::take(&mut self.brokers);
        // `count_sub_brokers`: every broker under each parent in the registry.
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let (true, Some(reg)) = (p.spec().tiers.count_sub_brokers, &self.reg) {
            let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (child, (parent, _)) in &reg.parents {
                children
                    .entry(parent.as_str())
                    .or_default()
                    .push(child.as_str());
            }
            for top in children.keys() {
                let mut under = Vec::new();
                let mut stack: Vec<&str> = children[top].clone();
                // The registry has no cycles (checked when it was resolved); the length
                // bound only keeps a bug from looping.
                while let Some(c) = stack.pop() {
                    if under.len() > reg.codes.len() {
                        break;
                    }
                    under.push(String::from(c));
                    if let Some(cs) = children.get(c) {
                        stack.extend(cs.iter().copied());
                    }
                }
                under.sort();
                under.dedup();
                groups.insert(String::from(*top), under);
            }
        }
        let group_values = |code: &str, w: (i64, i64)| -> Result<Vec<Decimal>> {
            let mut accs: Vec<&BrokerAcc> = brokers.get(code).into_iter().collect();
            for sub in groups.get(code).into_iter().flatten() {
                accs.extend(brokers.get(sub));
            }
            metric_values_of(&p, &accs, w)
        };
        for (code, acc) in &brokers {
            // Days that share a window share a level (a calendar month's days, say).
            let mut level_of_window: BTreeMap<(i64, i64), (usize, Vec<Decimal>)> = BTreeMap::new();
            let mut level = |day: i64| -> Result<(usize, Vec<Decimal>)> {
                let w = window(&p, day);
                if let Some(v) = level_of_window.get(&w) {
                    return Ok(v.clone());
                }
                let values = group_values(code, w)?;
                let v = (p.level_for(&values), values);
                level_of_window.insert(w, v.clone());
                Ok(v)
            };
            // Graduated mode: each trade's level from the volume before it.
            let mut grad_amounts: BTreeMap<i64, Vec<(u32, Decimal, Decimal)>> = BTreeMap::new();
            let mut grad_levels: BTreeMap<i64, usize> = BTreeMap::new();
            if p.spec().tiers.mode == Mode::Graduated {
                let mut items: Vec<&GradItem> = acc.grad.iter().collect();
                items.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
                let metric = p.ladders[0][0].min[0].0;
                let slot = p.metrics[metric].slot;
                let mut intraday: BTreeMap<i64, Decimal> = BTreeMap::new();
                for it in items {
                    let (lo, hi) = window(&p, it.day);
                    let end = hi.min(it.day - 1);
                    let before = if lo > end {
                        Decimal::ZERO
                    } else {
                        acc.days
                            .range(lo..=end)
                            .try_fold(Decimal::ZERO, |s, (_, d)| money::total(s, d.volume[slot]))?
                    };
                    let so_far = intraday.entry(it.day).or_default();
                    let c0 = if hi >= it.day {
                        money::total(before, *so_far)?
                    } else {
                        before
                    };
                    *so_far = money::total(*so_far, it.contribution)?;
                    // The trade's own volume moves the window only when the window reads
                    // the trade's day; otherwise its level is fixed (volume mode).
                    let own = if hi >= it.day {
                        it.contribution
                    } else {
                        Decimal::ZERO
                    };
                    let slices = graduated_slices(&p, metric, c0, own)?;
                    let rank = slices.last().map_or(0, |s| s.0);
                    let amount = |comms: &[Option<Decimal>]| -> Result<Decimal> {
                        if let [(only, _)] = slices[..] {
                            return comms[only].ok_or_else(money::sum_limit);
                        }
                        // Each slice pays its own level: the trade's commission at that
                        // level times the slice's share of the trade's volume, exactly.
                        let mut sum = Decimal::ZERO;
                        for (r, v) in &slices {
                            let at = comms[*r].ok_or_else(money::sum_limit)?;
                            let part = money::mul(at, *v)
                                .and_then(|x| money::div(x, it.contribution))
                                .map_err(|e| {
                                    Error::new(
                                        e.code,
                                        format!(
                                            "trade {:?} crosses a level boundary and its slice of {v} (of {}) at {} is not exact: {}",
                                            it.id,
                                            it.contribution,
                                            p.level_name(*r).unwrap_or("no tier"),
                                            e.message
                                        ),
                                    )
                                    .id(it.id.clone())
                                })?;
                            sum = money::total(sum, part)?;
                        }
                        Ok(sum)
                    };
                    if let Some((period, client, kick, comms)) = &it.settled {
                        let a = amount(comms)?;
                        grad_amounts
                            .entry(*period)
                            .or_default()
                            .push((*client, a, *kick));
                        grad_levels.insert(*period, rank);
                    }
                    if let Some(l) = it.line {
                        self.lines[l].level = Some(rank);
                        if slices.len() > 1 && self.lines[l].excluded.is_none() {
                            self.lines[l].split = Some(amount(&self.lines[l].comms)?);
                        }
                    }
                }
            }
            let mut client_used: BTreeMap<(u32, i64), Decimal> = BTreeMap::new();
            if let Some((cap, _)) = &p.client_cap {
                // What capped clients earned before `from` uses up their month's cap first
                // (at the level of each day, as it would have been paid).
                let settled_months: BTreeSet<i64> = acc
                    .periods
                    .keys()
                    .map(|s| Clock::month_of_day(p.clock.day(*s)))
                    .collect();
                for ((day, client), v) in &acc.cap_history {
                    let month = Clock::month_of_day(*day);
                    if !settled_months.contains(&month) {
                        continue; // no settled period of that month: nothing to cap
                    }
                    let earned = v[level(*day)?.0].ok_or_else(money::sum_limit)?;
                    let used = client_used.entry((*client, month)).or_default();
                    *used = money::total(*used, earned)?.min(*cap);
                }
            }
            let mut out = BTreeMap::new();
            let mut day_levels = BTreeMap::new();
            for (start, per) in &acc.periods {
                let (tier, metrics) = level(per.last_day)?;
                let tier = grad_levels.get(start).copied().unwrap_or(tier);
                let amounts: Vec<(u32, Decimal, i64, Decimal)> = match p.spec().tiers.mode {
                    Mode::Volume => per
                        .buckets
                        .iter()
                        .map(|((day, client, kick), v)| {
                            let at = v[level(*day)?.0].ok_or_else(money::sum_limit)?;
                            Ok((*client, at, *day, *kick))
                        })
                        .collect::<Result<_>>()?,
                    Mode::Graduated => grad_amounts
                        .remove(start)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(c, a, k)| (c, a, per.last_day, k))
                        .collect(),
                };
                let mut own = Decimal::ZERO;
                let mut kickback = Decimal::ZERO;
                for (client, amount, day, kick) in amounts {
                    let mut amount = amount;
                    if let (Some((cap, _)), true) = (&p.client_cap, client > 0) {
                        let used = client_used
                            .entry((client, Clock::month_of_day(day)))
                            .or_default();
                        let room = money::sub(*cap, *used)
                            .map_err(money::as_sum_limit)?
                            .max(Decimal::ZERO);
                        if amount > room {
                            amount = room;
                        }
                        *used = money::total(*used, amount)?;
                    }
                    own = money::total(own, amount)?;
                    if !kick.is_zero() {
                        // The client's part of what its trades earned (after its cap).
                        let part = money::mul(amount, kick).map_err(money::as_sum_limit)?;
                        kickback = money::total(kickback, part)?;
                    }
                }
                if own < Decimal::ZERO {
                    own = Decimal::ZERO; // netted rebates never make a broker owe
                }
                // The clients' part never exceeds what the period earned (netted fees can
                // leave one client's positive part above the period's total).
                kickback = kickback.max(Decimal::ZERO).min(own);
                own = money::sub(own, kickback).map_err(money::as_sum_limit)?;
                if let Some(cap) = p.period_cap {
                    own = own.min(cap);
                }
                day_levels.insert(*start, tier);
                out.insert(
                    *start,
                    Draft {
                        tier,
                        day: per.last_day,
                        metrics,
                        own,
                        kickback,
                        to_parent: Decimal::ZERO,
                        from_subs: Decimal::ZERO,
                    },
                );
            }
            levels_by_broker.insert(code.clone(), day_levels);
            drafts.insert(code.clone(), out);
        }

        // Pass 2: sub-broker shares flow to parents (own commission only, one level up).
        if let (true, Some(reg)) = (shares, &self.reg) {
            let mut moves: Vec<(String, i64, Decimal)> = Vec::new();
            for (code, periods) in drafts.iter_mut() {
                if let Some((parent, share)) = reg.parents.get(code) {
                    for (start, d) in periods.iter_mut() {
                        let amt = money::mul(d.own, *share)?;
                        d.to_parent = amt;
                        moves.push((parent.clone(), *start, amt));
                    }
                }
            }
            for (parent, start, amt) in moves {
                // A period that exists only through a sub-broker's share still shows the
                // parent's own tier for that day (from its own trades, if any).
                let metrics_of = |day: i64| group_values(&parent, window(&p, day));
                let d = match drafts.entry(parent.clone()).or_default().entry(start) {
                    btree_map::Entry::Occupied(o) => o.into_mut(),
                    btree_map::Entry::Vacant(v) => {
                        let day = p.clock.day(start);
                        let metrics = metrics_of(day)?;
                        v.insert(Draft {
                            tier: p.level_for(&metrics),
                            day,
                            metrics,
                            own: Decimal::ZERO,
                            kickback: Decimal::ZERO,
                            to_parent: Decimal::ZERO,
                            from_subs: Decimal::ZERO,
                        })
                    }
                };
                d.from_subs = money::total(d.from_subs, amt)?;
            }
        }

        // Pass 3: round once per broker per period, and assemble.
        let mut grand = Decimal::ZERO;
        let mut incomplete = Vec::new();
        let first_day = (self.earliest != i64::MAX).then(|| p.clock.day(self.earliest));
        let kicks = p.spec().client_kickback;
        let group_listed = p.spec().tiers.count_sub_brokers;
        for (code, periods) in &drafts {
            let withheld = p.spec().broker_affiliate_exclusive
                && self
                    .reg
                    .as_ref()
                    .is_some_and(|r| r.conflicted.contains(code));
            let empty = PeriodAcc::default();
            let mut total = Decimal::ZERO;
            let mut kick_total = Decimal::ZERO;
            // The brokers counted with this one, listed on each of its periods.
            let sub_brokers = group_listed.then(|| groups.get(code).cloned().unwrap_or_default());
            let mut rows = Vec::new();
            let mut short: Option<IncompleteHistory> = None;
            for (start, d) in periods {
                let acc = brokers
                    .get(code)
                    .and_then(|b| b.periods.get(start))
                    .unwrap_or(&empty);
                let mut exact = money::total(
                    money::sub(d.own, d.to_parent).map_err(money::as_sum_limit)?,
                    d.from_subs,
                )?;
                let mut paid = rounding.apply(exact, scale);
                total = money::total(total, paid)?;
                let kept = paid;
                if withheld {
                    (exact, paid) = (Decimal::ZERO, Decimal::ZERO);
                }
                // Rounded once by the program's rule, like the broker's part; nothing is
                // passed on from a withheld broker's trades.
                let kick_paid = if withheld {
                    Decimal::ZERO
                } else {
                    rounding.apply(d.kickback, scale)
                };
                kick_total = money::total(kick_total, kick_paid)?;
                let end = period_end(&p, *start);
                let rates = &p.level_rates[d.tier];
                let mut excluded = Stat::default();
                for x in acc.excluded.values() {
                    excluded.add(x.trades, x.volume, x.fees)?;
                }
                let (lo, hi) = window(&p, d.day);
                let history = match first_day {
                    // Only days before the period are history: a window inside the
                    // period (backpack's month) reads the period's own trades.
                    Some(first)
                        if !self.options.complete_history
                            && window(&p, p.clock.day(*start)).0
                                < first.min(p.clock.day(*start)) =>
                    {
                        let s = short.get_or_insert_with(|| IncompleteHistory {
                            broker: code.clone(),
                            periods: 0,
                            first: time::format(*start),
                            last: String::new(),
                        });
                        s.periods += 1;
                        s.last = time::format(*start);
                        "incomplete"
                    }
                    _ => "complete",
                };
                rows.push(PeriodStatement {
                    start: time::format(*start),
                    end: time::format(end),
                    credit_at: time::format(
                        end + p.spec().settlement.credit_delay_minutes as i64 * NS_PER_MIN,
                    ),
                    tier: p.level_name(d.tier).map(Into::into),
                    rate: money::canonical(rates[0]),
                    volume: money::canonical(acc.all.volume),
                    fees: money::canonical(acc.all.fees),
                    commission: money::fixed(paid, scale),
                    trades: acc.all.trades,
                    excluded: acc
                        .excluded
                        .iter()
                        .map(|(k, v)| (k.clone(), v.out()))
                        .collect(),
                    rates: rate_names
                        .iter()
                        .zip(rates)
                        .map(|(n, r)| (n.clone(), money::canonical(*r)))
                        .collect(),
                    metrics: p
                        .metrics
                        .iter()
                        .zip(&d.metrics)
                        .map(|(m, v)| (m.name.clone(), money::canonical(*v)))
                        .collect(),
                    exact: money::canonical(exact),
                    to_parent: money::canonical(d.to_parent),
                    from_sub_brokers: money::canonical(d.from_subs),
                    attributed: acc.all.out(),
                    eligible: acc.all.sub(&excluded)?.out(),
                    excluded_total: excluded.out(),
                    kickback: kicks.then(|| money::fixed(kick_paid, scale)),
                    withheld: money::fixed(if withheld { kept } else { Decimal::ZERO }, scale),
                    metrics_window: Span {
                        start: time::format(p.clock.day_start(lo)),
                        end: time::format(p.clock.day_start(hi + 1)),
                    },
                    metrics_sub_brokers: sub_brokers.clone(),
                    history: history.into(),
                });
            }
            incomplete.extend(short);
            if !withheld {
                grand = money::total(grand, total)?;
            }
            emit(BrokerStatement {
                broker: code.clone(),
                status: if withheld { "withheld" } else { "eligible" }.into(),
                reason: withheld.then(|| "broker_affiliate_conflict".into()),
                commission: money::fixed(if withheld { Decimal::ZERO } else { total }, scale),
                periods: rows,
                withheld: money::fixed(if withheld { total } else { Decimal::ZERO }, scale),
                kickback: kicks.then(|| money::fixed(kick_total, scale)),
            })?;
        }

        let lines = if self.options.lines {
            let mut ls = core::mem::take(&mut self.lines);
            ls.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
            let mut cache: BTreeMap<(String, i64), usize> = BTreeMap::new();
            let mut out = Vec::with_capacity(ls.len());
            for l in ls {
                let rank = match (&l.broker, l.level) {
                    (_, Some(r)) => r,
                    (Some(b), None) => match cache.get(&(b.clone(), l.day)) {
                        Some(r) => *r,
                        None => {
                            let r = match brokers.get(b) {
                                Some(_) => p.level_for(&group_values(b, window(&p, l.day))?),
                                None => 0,
                            };
                            cache.insert((b.clone(), l.day), r);
                            r
                        }
                    },
                    (None, None) => 0,
                };
                let commission = if l.excluded.is_some() {
                    Decimal::ZERO
                } else if let Some(split) = l.split {
                    split
                } else {
                    l.comms.get(rank).copied().flatten().unwrap_or_default()
                };
                out.push(Line {
                    id: l.id,
                    order: l.order,
                    instrument: l.instrument,
                    broker: l.broker,
                    period_start: Some(time::format(l.period)),
                    tier: if l.attribution.is_some() {
                        p.level_name(rank).map(Into::into)
                    } else {
                        None
                    },
                    rate: money::canonical(if l.attribution.is_some() {
                        p.level_rates[rank][0]
                    } else {
                        Decimal::ZERO
                    }),
                    commission: money::canonical(commission),
                    excluded: l.excluded,
                    attribution: l.attribution.map(Into::into),
                    time: time::format(l.time),
                    account: l.account,
                    volume: money::canonical(l.volume),
                    fee: l.fee,
                });
            }
            Some(out)
        } else {
            None
        };
        let _ = levels_by_broker;
        let spec = p.spec();
        Ok(Statement {
            program: ProgramRef {
                id: spec.id.clone(),
                version: spec.version.clone(),
                sha256: p.sha256().into(),
            },
            engine: Engine::default(),
            currency: spec.settlement.currency.clone(),
            brokers: Vec::new(),
            summary: Summary {
                // The instants applied, in canonical UTC (SPEC 5), not the text given.
                from: self.from.map(time::format),
                to: self.to.map(time::format),
                trades: self.accepted,
                duplicates: self.duplicates,
                rejected: self.rejected.len() as u64,
                unknown_fields: self.unknown_fields,
                unknown_values: self.unknown_values.clone(),
                unattributed: self
                    .unattributed
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.out()))
                    .collect(),
                commission: money::fixed(grand, scale),
                earliest_trade: (self.earliest != i64::MAX).then(|| time::format(self.earliest)),
                incomplete_history: incomplete,
            },
            rejected: self.rejected,
            lines,
        })
    }
}

/// A rejected trade: listed (lenient), or the error that stops the input (strict), with the
/// trade's id and line filled in when the error lacks them.
pub(crate) fn reject_into(
    strict: bool,
    rejected: &mut Vec<Rejected>,
    id: Option<&str>,
    line: Option<u64>,
    e: Error,
) -> Result<()> {
    if strict {
        let e = match (id, &e.location.id) {
            (Some(id), None) => e.id(id),
            _ => e,
        };
        return Err(match line {
            Some(l) if e.location.line.is_none() => e.line(l),
            _ => e,
        });
    }
    rejected.push(Rejected::new(id, line, &e));
    Ok(())
}

/// Strict mode: the channel and product must be known values.
pub(crate) fn known_values(channel: &str, product: &str) -> Result<()> {
    if !KNOWN_CHANNELS.contains(&channel) {
        return Err(Error::new(
            ErrorCode::UnknownValue,
            format!(
                "unknown channel {:?} (known: {})",
                channel,
                KNOWN_CHANNELS.join(", ")
            ),
        )
        .field("channel"));
    }
    if !KNOWN_PRODUCTS.contains(&product) {
        return Err(Error::new(
            ErrorCode::UnknownValue,
            format!(
                "unknown product {:?} (known: {})",
                product,
                KNOWN_PRODUCTS.join(", ")
            ),
        )
        .field("product"));
    }
    Ok(())
}

/// Two different trades with one id.
pub(crate) fn duplicate_id(id: &str) -> Error {
    Error::new(
        ErrorCode::DuplicateId,
        format!("trade id {id:?} appears twice with different content"),
    )
    .id(id)
    .field("id")
}

/// Inclusive local-day range of the tier window for trades on `day`.
pub fn window(p: &Program, day: i64) -> (i64, i64) {
    match p.spec().tiers.window {
        Window::RollingDays {
            days,
            include_current_day: true,
        } => (day - days as i64 + 1, day),
        Window::RollingDays {
            days,
            include_current_day: false,
        } => (day - days as i64, day - 1),
        Window::CalendarMonth { month } => {
            let m = Clock::month_of_day(day) - if month == MonthChoice::Previous { 1 } else { 0 };
            (Clock::month_first_day(m), Clock::month_first_day(m + 1) - 1)
        }
    }
}

/// After a total passed its limit: a trade only checked for a strict-mode value and for an id
/// with two contents, as both engines do before anything else.
pub(crate) fn ids_only(
    seen: &mut Dedupe,
    strict: bool,
    t: &TradeRef<'_>,
    line: Option<u64>,
) -> Result<()> {
    let at = |e: Error| match line {
        Some(l) => e.line(l),
        None => e,
    };
    if strict {
        known_values(t.channel, t.product).map_err(|e| at(e.id(t.id)))?;
    }
    match insert_seen(seen, t)? {
        Seen::Conflict => Err(at(duplicate_id(t.id))),
        _ => Ok(()),
    }
}

/// Records a trade's id and exact content (the encoding both engines use).
fn insert_seen(seen: &mut Dedupe, t: &TradeRef<'_>) -> Result<Seen> {
    let rest = crate::engine::seen::Rest::of_trade(t);
    crate::engine::seen::insert_trade(seen, dedupe::fingerprint(t.id), t, &rest)
}

/// A trade's commission at every level, lowest first, into `out` (negative ones floored when
/// the program floors them); the first level whose formula fails is the error. The batch
/// engine calls it too, for a trade whose commission it cannot prove exact from its class, so
/// both engines reject the same trades with the same error.
///
/// A trade is priced only at the level its broker gets (SPEC 3), which is known only when the
/// period closes; so a commission that is not exact under some level (`E_INEXACT`,
/// `E_OVERFLOW`: e.g. a 27-decimal fee times a level's 35%) is `None` there, and is an error
/// only if the broker reaches that level (the period's sum is then `money::sum_limit`, as
/// the batch engine's pricing of the summed fees gives). The trade is rejected when no level
/// prices it, or on any other formula error.
pub(crate) fn level_commissions<'a>(
    p: &'a Program,
    vars: &mut Vars<'a>,
    out: &mut Vec<Option<Decimal>>,
) -> Result<()> {
    let floor = p.spec().negative_fees == NegativeFees::Floor;
    let mut first_error = None;
    for (rank, rates) in p.level_rates.iter().enumerate() {
        if rank > 0 && !p.formula.uses_tier() {
            let first = out[0];
            out.push(first);
            continue;
        }
        vars.tier_level = rank as u32;
        vars.tier = p.level_name(rank).unwrap_or("");
        vars.rates = rates;
        match p.formula.eval_num(vars) {
            Ok(c) => out.push(Some(if floor && c < Decimal::ZERO {
                Decimal::ZERO
            } else {
                c
            })),
            Err(e) if matches!(e.code, ErrorCode::Inexact | ErrorCode::Overflow) => {
                first_error.get_or_insert(e);
                out.push(None);
            }
            Err(e) => return Err(e),
        }
    }
    match first_error {
        Some(e) if out.iter().all(Option::is_none) => Err(e),
        _ => Ok(()),
    }
}

/// Value of every metric (program order) over a window of days.
pub(crate) fn metric_values(
    p: &Program,
    acc: &BrokerAcc,
    window: (i64, i64),
) -> Result<Vec<Decimal>> {
    metric_values_of(p, &[acc], window)
}

/// The metrics of several brokers' trades together (a parent and the brokers under it with
/// `count_sub_brokers`): volumes add up, a client active with two of them counts once.
pub(crate) fn metric_values_of(
    p: &Program,
    accs: &[&BrokerAcc],
    (lo, hi): (i64, i64),
) -> Result<Vec<Decimal>> {
    let mut vols = vec![Decimal::ZERO; p.metric_slots(MetricKind::Volume)];
    // Accounts of every day concatenated, then sorted and deduplicated: a month of days is
    // one sort, not thirty set unions.
    let mut clients: Vec<Vec<u32>> = vec![Vec::new(); p.metric_slots(MetricKind::ActiveClients)];
    for acc in accs {
        for (_, d) in acc.days.range(lo..=hi.max(lo)) {
            for (v, x) in vols.iter_mut().zip(&d.volume) {
                // Exact: a rounded window sum could cross a threshold the true sum does not.
                *v = money::total(*v, *x)?;
            }
            for (c, x) in clients.iter_mut().zip(&d.clients) {
                c.extend(x.iter().copied());
            }
        }
    }
    for c in clients.iter_mut() {
        c.sort_unstable();
        c.dedup();
    }
    Ok(p.metrics
        .iter()
        .map(|m| match m.kind {
            MetricKind::Volume => vols[m.slot],
            MetricKind::ActiveClients => Decimal::from(clients[m.slot].len() as u64),
        })
        .collect())
}

pub(crate) fn period_start(p: &Program, t: i64) -> i64 {
    let c = p.clock;
    match p.spec().settlement.period {
        Period::Hour => c.hour_start(t),
        Period::Day => c.day_start(c.day(t)),
        Period::Month => c.month_start(Clock::month_of_day(c.day(t))),
    }
}

pub(crate) fn period_end(p: &Program, start: i64) -> i64 {
    let c = p.clock;
    match p.spec().settlement.period {
        Period::Hour => start + NS_PER_HOUR,
        Period::Day => start + NS_PER_DAY,
        Period::Month => c.month_start(Clock::month_of_day(c.day(start)) + 1),
    }
}

/// Adds `n` accepted trades with `value` in `field` when it is not a known value.
pub(crate) fn note_value(
    counts: &mut BTreeMap<String, BTreeMap<String, u64>>,
    field: &str,
    value: &str,
    known: &[&str],
    n: u64,
) {
    if n > 0 && !known.contains(&value) {
        *counts
            .entry(field.into())
            .or_default()
            .entry(value.into())
            .or_default() += n;
    }
}

/// Adds one unknown-values map into another (merging partial states).
pub(crate) fn merge_values(
    into: &mut BTreeMap<String, BTreeMap<String, u64>>,
    from: BTreeMap<String, BTreeMap<String, u64>>,
) {
    for (field, values) in from {
        let f = into.entry(field).or_default();
        for (v, n) in values {
            *f.entry(v).or_default() += n;
        }
    }
}
