//! The dashboard question: "at this volume, which tier, how much, and how far to the next?"
//!
//! A scenario is a volume and a mix (shares per product and channel), so every point of the
//! curve is the same mix at another volume: flows scale by multiplication only, and every
//! amount stays exact. The volume a tier needs is `threshold / share`; when that does not
//! terminate it is rounded *up* to the currency's minor unit (the least volume that reaches
//! the tier), never down.

use crate::error::{Error, ErrorCode, Result};
use crate::formula::{Var, Vars};
use crate::money::{self, DecimalText};
use crate::program::{Basis, MetricKind, NegativeFees, Program};
use crate::statement::{Engine, ProgramRef};
use alloc::borrow::Cow;
#[cfg(feature = "schema")]
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Expected flow over one tier window (a month for monthly programs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Total attributed volume over the window.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "money::as_string")]
    pub volume: Decimal,
    /// Average fee rate. Give this or `fees`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub fee_rate: Option<Decimal>,
    /// Total fees at `volume` (the fee rate is then `fees / volume`, which must be exact).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub fees: Option<Decimal>,
    /// How the volume splits by product and channel; shares sum to 1. Default: all on the
    /// first product and channel of the first volume metric the first ladder tests (else spot / api).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mix: Vec<Flow>,
    /// Share of the volume from affiliate-referred clients, in [0, 1]. Default: 1 when
    /// `affiliate_rate` is given (all the flow is referred at that rate), else 0; decided
    /// here so every host gives one scenario the same commission.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub affiliate_share: Option<Decimal>,
    /// The affiliate rate of those clients, in [0, 1].
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub affiliate_rate: Option<Decimal>,
    /// Distinct active client accounts over the window.
    #[serde(default)]
    pub active_clients: u64,
    /// The clients' VIP level.
    #[serde(default)]
    pub vip: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub product: String,
    pub channel: String,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "money::as_string")]
    pub share: Decimal,
}

/// The result of `estimate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Estimate<'p> {
    pub program: ProgramRef,
    pub engine: Engine,
    pub currency: &'p str,
    pub volume: DecimalText,
    pub fees: DecimalText,
    pub tier: Option<&'p str>,
    pub rate: DecimalText,
    // Name-sorted lists written as JSON objects (see `Way::needs`).
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    #[serde(serialize_with = "by_name")]
    pub rates: Vec<(&'p str, DecimalText)>,
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    #[serde(serialize_with = "by_name")]
    pub metrics: Vec<(&'p str, DecimalText)>,
    /// Expected commission, rounded as a settlement period would be.
    pub commission: DecimalText,
    /// The next level reachable by volume alone, or null at the top.
    pub next: Option<CurvePoint<'p>>,
    /// One point per level boundary reachable by volume, ascending.
    pub curve: Vec<CurvePoint<'p>>,
    /// Every level above the scenario's, lowest first, with each way to reach it (one per
    /// ladder): every threshold, what the scenario has and what is still missing, volume
    /// and active clients alike. `next` and `curve` move volume only; this says what else.
    pub tiers_above: Vec<TierAbove<'p>>,
}

/// A level above the scenario's and what reaching it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TierAbove<'p> {
    pub tier: &'p str,
    pub rate: DecimalText,
    /// One per ladder with a step to this level.
    pub ways: Vec<Way<'p>>,
    /// Commission at this level with the volume its cheapest way needs (at least the
    /// scenario's), as if every other threshold were met; rounded as a period would be.
    pub commission: DecimalText,
}

/// One ladder's step to a level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Way<'p> {
    pub ladder: &'p str,
    // Sorted by metric name and written as a JSON object: a list, not a map, because it is
    // built and dropped on every keystroke of a dashboard (a map's node is 1 KB).
    /// Each threshold of the step, by metric.
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, Need>"))]
    #[serde(serialize_with = "by_name")]
    pub needs: Vec<(&'p str, Need)>,
    /// The scenario's total volume at which the step's volume thresholds are met (with the
    /// scenario's mix), or null when the mix feeds none of a volume metric it needs.
    pub volume: Option<DecimalText>,
    /// `volume` minus the scenario's volume (0 when already there), or null.
    pub volume_needed: Option<DecimalText>,
    /// Whether the scenario already meets every threshold of this step.
    pub met: bool,
}

/// One threshold: the minimum, the scenario's value, and what is missing (0 when met).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Need {
    pub min: DecimalText,
    pub have: DecimalText,
    pub more: DecimalText,
}

/// A name-sorted list as the JSON object it stands for.
fn by_name<S: serde::Serializer, T: Serialize>(
    pairs: &[(&str, T)],
    s: S,
) -> core::result::Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// `pairs` sorted by name, a repeated name keeping its last value: what collecting them into
/// a map gives, without a map's allocation.
fn by_name_sorted<'p, T>(pairs: impl Iterator<Item = (&'p str, T)>) -> Vec<(&'p str, T)> {
    let mut out: Vec<(&'p str, T)> = Vec::with_capacity(pairs.size_hint().0);
    for (name, v) in pairs {
        insert_by_name(&mut out, name, v);
    }
    out
}

/// Puts `(name, v)` in its place in a name-sorted list, replacing an entry of the same name.
fn insert_by_name<'p, T>(out: &mut Vec<(&'p str, T)>, name: &'p str, v: T) {
    match out.iter().position(|(n, _)| *n >= name) {
        Some(i) if out[i].0 == name => out[i].1 = v,
        Some(i) => out.insert(i, (name, v)),
        None => out.push((name, v)),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CurvePoint<'p> {
    pub tier: Option<&'p str>,
    pub rate: DecimalText,
    /// Least volume that reaches the level.
    pub volume: DecimalText,
    /// Volume still needed from the scenario's volume (0 when already reached).
    pub volume_needed: DecimalText,
    pub commission: DecimalText,
}

struct Ctx<'p, 's> {
    p: &'p Program,
    s: &'s Scenario,
    fee_rate: Decimal,
    /// The scenario's mix as given (borrowed), or the default flow.
    flows: Cow<'s, [Flow]>,
    /// When no exclusion reads `notional` or `fee`, whether a (flow, part) is excluded does
    /// not depend on the volume: it is evaluated the first time and reused at every curve
    /// point (slot `flow * 2 + part`). `None`: evaluate every time.
    excluded_at: Option<RefCell<Vec<Option<bool>>>>,
    /// Share of the volume feeding each metric ([`Ctx::feeds`]): it does not depend on the
    /// volume, so it is computed once per call.
    feeds: Vec<Decimal>,
    /// For every step (ladders in order, steps in order) and threshold, the least total
    /// volume meeting it ([`Ctx::volume_for`]; `None` where the mix feeds none of it), read
    /// only for non-zero volume thresholds ([`Ctx::by_volume`]). Filled before the first
    /// [`Ctx::boundary`], in the order it used to divide, so an error is the same one.
    step_volumes: Vec<Option<Decimal>>,
    /// The curve's points as (volume, level rank, exact commission): a `tiers_above` entry at
    /// the same volume (same bits) and level reuses the commission instead of evaluating
    /// every flow's formula again.
    curve_volumes: Vec<Decimal>,
    curve_ranks: Vec<usize>,
    curve_commissions: Vec<Decimal>,
}

pub fn estimate<'p>(p: &'p Program, s: &Scenario) -> Result<Estimate<'p>> {
    let opt = |m: &str, f: &str| {
        Error::new(ErrorCode::Options, String::from(m)).field(format!("scenario.{f}"))
    };
    if s.volume < Decimal::ZERO {
        return Err(opt("volume must be >= 0", "volume"));
    }
    let fee_rate = match (s.fee_rate, s.fees) {
        (Some(r), None) => r,
        (None, Some(f)) => money::div(f, s.volume).map_err(|e| {
            opt(
                &format!(
                    "fees / volume is not an exact rate ({}); pass fee_rate instead",
                    e.message
                ),
                "fees",
            )
        })?,
        _ => return Err(opt("give exactly one of fee_rate and fees", "fee_rate")),
    };
    for (v, f) in [
        (s.affiliate_share, "affiliate_share"),
        (s.affiliate_rate, "affiliate_rate"),
    ] {
        if v.is_some_and(|v| v < Decimal::ZERO || v > Decimal::ONE) {
            return Err(opt(&format!("{f} must be between 0 and 1"), f));
        }
    }
    let flows = if s.mix.is_empty() {
        // The first volume metric the first ladder tests (spot for okx), else any.
        let first = p
            .ladders
            .iter()
            .flatten()
            .flat_map(|s| s.min.iter().map(|(m, _)| &p.metrics[*m]))
            .find(|m| m.kind == MetricKind::Volume)
            .or_else(|| p.metrics.iter().find(|m| m.kind == MetricKind::Volume));
        let pick = |l: Option<&Vec<String>>, d: &str| {
            l.and_then(|l| l.first().cloned())
                .unwrap_or_else(|| d.into())
        };
        Cow::Owned(vec![Flow {
            product: pick(first.and_then(|m| m.products.as_ref()), "spot"),
            channel: pick(first.and_then(|m| m.channels.as_ref()), "api"),
            share: Decimal::ONE,
        }])
    } else {
        let total = s
            .mix
            .iter()
            .try_fold(Decimal::ZERO, |a, f| money::add(a, f.share))?;
        if total != Decimal::ONE || s.mix.iter().any(|f| f.share < Decimal::ZERO) {
            return Err(opt("mix shares must be >= 0 and sum to 1", "mix"));
        }
        Cow::Borrowed(&s.mix[..])
    };
    let volume_free = p
        .exclusions
        .iter()
        .all(|(_, pred)| pred.vars().all(|v| !matches!(v, Var::Notional | Var::Fee)));
    let excluded_at = volume_free.then(|| RefCell::new(vec![None; flows.len() * 2]));
    let mut cx = Ctx {
        p,
        s,
        fee_rate,
        flows,
        excluded_at,
        feeds: Vec::new(),
        step_volumes: Vec::new(),
        curve_volumes: Vec::new(),
        curve_ranks: Vec::new(),
        curve_commissions: Vec::new(),
    };
    cx.feeds = cx.feeds()?;
    let scale = p.currency_scale();
    let (rank, metrics) = cx.level_at(s.volume)?;
    let (commission, fees) = cx.commission_at(s.volume, rank)?;
    if p.level_rates.len() > 1 {
        cx.step_volumes = cx.step_volumes()?;
    }
    // Points kept in order of their exact volume (the text is canonical, so this is the
    // order of the written volumes); equal volumes keep the order of their levels.
    let mut curve: Vec<CurvePoint> = Vec::new();
    let (mut volumes, mut ranks, mut commissions) = (Vec::new(), Vec::new(), Vec::new());
    let mut cx_volumes = Vec::new();
    for r in 1..p.level_rates.len() {
        if let Some(v) = cx.boundary(r) {
            let at = cx.level_at(v)?.0;
            let needed = money::sub(v, s.volume)?.max(Decimal::ZERO);
            let exact = cx.commission_at(v, at)?.0;
            let i = volumes.iter().position(|x| *x > v).unwrap_or(volumes.len());
            curve.insert(
                i,
                CurvePoint {
                    tier: p.level_name(at),
                    rate: DecimalText::canonical(p.level_rates[at][0]),
                    volume: DecimalText::canonical(v),
                    volume_needed: DecimalText::canonical(needed),
                    commission: DecimalText::fixed(cx.round(exact), scale),
                },
            );
            volumes.insert(i, v);
            cx_volumes.push(v);
            ranks.push(at);
            commissions.push(exact);
        }
    }
    cx.curve_volumes = cx_volumes;
    cx.curve_ranks = ranks;
    cx.curve_commissions = commissions;
    curve.dedup_by(|a, b| a.tier == b.tier);
    let next = curve
        .iter()
        .find(|c| {
            c.tier
                .and_then(|t| p.level_names().position(|n| n == t))
                .is_some_and(|i| i + 1 > rank)
        })
        .cloned();
    let tiers_above = cx.tiers_above(rank, &metrics)?;
    let spec = p.spec();
    Ok(Estimate {
        program: ProgramRef {
            id: spec.id.clone(),
            version: spec.version.clone(),
            sha256: p.sha256().into(),
        },
        engine: Engine::default(),
        currency: &spec.settlement.currency,
        volume: DecimalText::canonical(s.volume),
        fees: DecimalText::canonical(fees),
        tier: p.level_name(rank),
        rate: DecimalText::canonical(p.level_rates[rank][0]),
        rates: by_name_sorted(
            spec.tiers
                .rates
                .iter()
                .zip(&p.level_rates[rank])
                .map(|(n, r)| (n.as_str(), DecimalText::canonical(*r))),
        ),
        metrics: by_name_sorted(
            p.metrics
                .iter()
                .zip(&metrics)
                .map(|(m, v)| (m.name.as_str(), DecimalText::canonical(*v))),
        ),
        commission: DecimalText::fixed(cx.round(commission), scale),
        next,
        curve,
        tiers_above,
    })
}

impl<'p> Ctx<'p, '_> {
    fn round(&self, d: Decimal) -> Decimal {
        self.p
            .spec()
            .settlement
            .rounding
            .apply(d, self.p.currency_scale())
    }

    /// The (share, affiliate rate) parts of a flow: referred and not referred.
    fn parts(&self) -> [(Decimal, Decimal); 2] {
        let a = self
            .s
            .affiliate_share
            .unwrap_or(match self.s.affiliate_rate {
                Some(_) => Decimal::ONE,
                None => Decimal::ZERO,
            });
        [
            (Decimal::ONE - a, Decimal::ZERO),
            (a, self.s.affiliate_rate.unwrap_or_default()),
        ]
    }

    fn vars<'a>(&self, f: &'a Flow, notional: Decimal, fee: Decimal, aff: Decimal) -> Vars<'a> {
        Vars {
            notional,
            fee,
            fee_rate: Some(self.fee_rate),
            vip: Decimal::from(self.s.vip),
            affiliate_rate: aff,
            channel: &f.channel,
            product: &f.product,
            liquidity: "",
            account: "",
            broker: "",
            master: "",
            attribution: "broker_code",
            msa: false,
            fee_discount: false,
            tier_level: 0,
            tier: "",
            rates: &[],
        }
    }

    fn excluded(&self, v: &Vars<'_>) -> Result<bool> {
        for (_, pred) in &self.p.exclusions {
            if pred.eval_bool(v)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`Ctx::excluded`] for a (flow, part) slot, remembered when the volume cannot change it.
    fn excluded_slot(&self, slot: usize, v: &Vars<'_>) -> Result<bool> {
        let Some(cache) = &self.excluded_at else {
            return self.excluded(v);
        };
        if let Some(known) = cache.borrow()[slot] {
            return Ok(known);
        }
        let x = self.excluded(v)?;
        cache.borrow_mut()[slot] = Some(x);
        Ok(x)
    }

    /// Share of the volume that feeds each metric (clients metrics: unused).
    fn feeds(&self) -> Result<Vec<Decimal>> {
        let mut out = vec![Decimal::ZERO; self.p.metrics.len()];
        for f in self.flows.iter() {
            let v = self.vars(f, Decimal::ONE, self.fee_rate, Decimal::ZERO);
            if self.p.spec().tiers.basis == Basis::Eligible && self.excluded(&v)? {
                continue;
            }
            for (i, m) in self.p.metrics.iter().enumerate() {
                if m.kind == MetricKind::Volume && m.counts(&v)? {
                    out[i] = money::add(out[i], f.share)?;
                }
            }
        }
        Ok(out)
    }

    fn level_at(&self, volume: Decimal) -> Result<(usize, Vec<Decimal>)> {
        let mut values = Vec::with_capacity(self.p.metrics.len());
        for (m, share) in self.p.metrics.iter().zip(&self.feeds) {
            values.push(match m.kind {
                MetricKind::Volume => money::mul(volume, *share)?,
                MetricKind::ActiveClients => Decimal::from(self.s.active_clients),
            });
        }
        Ok((self.p.level_for(&values), values))
    }

    /// Exact commission and fees at a volume and level rank.
    fn commission_at(&self, volume: Decimal, rank: usize) -> Result<(Decimal, Decimal)> {
        let p = self.p;
        let mut total = Decimal::ZERO;
        let mut fees = Decimal::ZERO;
        for (fi, f) in self.flows.iter().enumerate() {
            for (pi, (part, aff)) in self.parts().into_iter().enumerate() {
                if part.is_zero() {
                    continue;
                }
                let notional = money::mul(money::mul(volume, f.share)?, part)?;
                let fee = money::mul(notional, self.fee_rate)?;
                fees = money::add(fees, fee)?;
                let mut v = self.vars(f, notional, fee, aff);
                if self.excluded_slot(fi * 2 + pi, &v)? {
                    continue;
                }
                v.tier_level = rank as u32;
                v.tier = p.level_name(rank).unwrap_or("");
                v.rates = &p.level_rates[rank];
                let mut c = p.formula.eval_num(&v)?;
                if p.spec().negative_fees == NegativeFees::Floor && c < Decimal::ZERO {
                    c = Decimal::ZERO;
                }
                total = money::add(total, c)?;
            }
        }
        Ok((total.max(Decimal::ZERO), fees))
    }

    /// Every level above `rank`: each ladder's step to it, threshold by threshold.
    fn tiers_above(&self, rank: usize, have: &[Decimal]) -> Result<Vec<TierAbove<'p>>> {
        let p = self.p;
        let scale = p.currency_scale();
        let names = &p.spec().tiers.ladders;
        let mut out = Vec::with_capacity(p.level_rates.len().saturating_sub(rank + 1));
        for r in rank + 1..p.level_rates.len() {
            let mut ways = Vec::new();
            let mut cheapest: Option<Decimal> = None;
            let mut base = 0;
            for (ladder, steps) in p.ladders.iter().enumerate() {
                let first = base;
                base += steps.iter().map(|s| s.min.len()).sum::<usize>();
                let Some((i, step)) = steps.iter().enumerate().find(|(_, s)| s.level == r) else {
                    continue;
                };
                let slot0 = first + steps[..i].iter().map(|s| s.min.len()).sum::<usize>();
                let mut needs: Vec<(&'p str, Need)> = Vec::with_capacity(step.min.len());
                let mut met = true;
                let mut volume = Some(self.s.volume);
                for (k, (m, thr)) in step.min.iter().enumerate() {
                    let h = have[*m];
                    let more = money::sub(*thr, h)?.max(Decimal::ZERO);
                    met &= more.is_zero();
                    if let Some(need) = self.by_volume(*m, *thr, slot0 + k) {
                        volume = match (volume, need) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    // A step's thresholds name distinct metrics (the program's `min` map).
                    insert_by_name(
                        &mut needs,
                        p.metrics[*m].name.as_str(),
                        Need {
                            min: DecimalText::canonical(*thr),
                            have: DecimalText::canonical(h),
                            more: DecimalText::canonical(more),
                        },
                    );
                }
                if let Some(v) = volume {
                    cheapest = Some(cheapest.map_or(v, |c: Decimal| c.min(v)));
                }
                ways.push(Way {
                    ladder: names.get(ladder).map_or("", |l| l.name.as_str()),
                    needs,
                    volume: volume.map(DecimalText::canonical),
                    volume_needed: volume
                        .map(|v| {
                            money::sub(v, self.s.volume)
                                .map(|d| DecimalText::canonical(d.max(Decimal::ZERO)))
                        })
                        .transpose()?,
                    met,
                });
            }
            let at = cheapest.unwrap_or(self.s.volume);
            out.push(TierAbove {
                tier: p.level_name(r).unwrap_or(""),
                rate: DecimalText::canonical(p.level_rates[r][0]),
                ways,
                commission: DecimalText::fixed(self.round(self.commission_above(at, r)?), scale),
            });
        }
        Ok(out)
    }

    /// Least total volume whose `feed` share reaches `thr` (to the currency's scale).
    fn volume_for(&self, thr: Decimal, feed: Decimal, scale: u32) -> Result<Option<Decimal>> {
        if feed.is_zero() {
            return Ok(None);
        }
        let q = thr
            .checked_div(feed)
            .ok_or_else(|| Error::new(ErrorCode::Overflow, "volume needed overflows"))?;
        let mut v = q.round_dp_with_strategy(scale, RoundingStrategy::AwayFromZero);
        if money::mul(v, feed).is_ok_and(|x| x < thr) {
            v = money::add(v, Decimal::new(1, scale))?;
        }
        Ok(Some(v))
    }

    /// Every step threshold's [`Ctx::volume_for`] (see `step_volumes`), in ladder, step and
    /// threshold order.
    fn step_volumes(&self) -> Result<Vec<Option<Decimal>>> {
        let scale = self.p.currency_scale();
        let mut out = Vec::new();
        for step in self.p.ladders.iter().flatten() {
            for (m, thr) in &step.min {
                out.push(match self.p.metrics[*m].kind {
                    MetricKind::Volume if !thr.is_zero() => {
                        self.volume_for(*thr, self.feeds[*m], scale)?
                    }
                    _ => None,
                });
            }
        }
        Ok(out)
    }

    /// `step_volumes[slot]` for metric `m`'s threshold `thr`, or `None` when it is not a
    /// non-zero volume threshold.
    fn by_volume(&self, m: usize, thr: Decimal, slot: usize) -> Option<Option<Decimal>> {
        (self.p.metrics[m].kind == MetricKind::Volume && !thr.is_zero())
            .then(|| self.step_volumes[slot])
    }

    /// The exact commission at level `r` and `volume`: a curve point's when one has both.
    fn commission_above(&self, volume: Decimal, r: usize) -> Result<Decimal> {
        for (i, v) in self.curve_volumes.iter().enumerate() {
            if self.curve_ranks[i] == r && *v == volume && v.scale() == volume.scale() {
                return Ok(self.curve_commissions[i]);
            }
        }
        Ok(self.commission_at(volume, r)?.0)
    }

    /// Least volume reaching level rank `r` or above, if volume alone can.
    fn boundary(&self, r: usize) -> Option<Decimal> {
        let mut best: Option<Decimal> = None;
        let mut slot = 0;
        for step in self.p.ladders.iter().flatten() {
            let first = slot;
            slot += step.min.len();
            if step.level < r {
                continue;
            }
            let mut need = Some(Decimal::ZERO);
            for (k, (m, thr)) in step.min.iter().enumerate() {
                let req = match self.p.metrics[*m].kind {
                    MetricKind::ActiveClients => {
                        (Decimal::from(self.s.active_clients) >= *thr).then_some(Decimal::ZERO)
                    }
                    MetricKind::Volume => self
                        .by_volume(*m, *thr, first + k)
                        .unwrap_or(Some(Decimal::ZERO)),
                };
                need = match (need, req) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            if let Some(v) = need {
                best = Some(best.map_or(v, |b: Decimal| b.min(v)));
            }
        }
        best
    }
}
