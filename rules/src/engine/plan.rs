//! What the batch engine needs to know about a program, decided once when it loads: whether
//! the formula factors as `quantity * g(tier, class)`, and which trade values make up a
//! trade's *class* (the categorical values exclusions and `g` read). Predicates and `g` are
//! then evaluated once per class, never per trade.

use crate::error::Result;
use crate::formula::{Var, Vars};
use crate::money;
use crate::program::{AttributionSource, Mode, Program};
use crate::settle::SettleOptions;
use crate::trade::Liquidity;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// Which trade values a class distinguishes (channel and product always: metric filters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClassVars {
    pub liquidity: bool,
    pub vip: bool,
    pub fee_discount: bool,
    pub affiliate_rate: bool,
    pub attribution: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// `fee` or `notional`: the additive quantity the formula multiplies.
    pub quantity: Var,
    pub vars: ClassVars,
    /// Whether any metric counts distinct accounts.
    pub clients: bool,
}

impl Plan {
    /// The plan, or `None` when the program needs the per-trade engine.
    pub fn of(p: &Program, options: &SettleOptions) -> Option<Plan> {
        if options.lines
            || p.spec().tiers.mode != Mode::Volume
            || p.client_cap.is_some()
            || p.spec().client_kickback
            || p.spec().tiers.count_sub_brokers
        {
            return None;
        }
        let quantity = p.formula.quantity_factor()?;
        // A class stands for many trades of different amounts: an exclusion or metric filter
        // that reads an amount (the formula's quantity included, e.g. `fee > 5` beside
        // `fee * tier_rate`) is decided per trade, so the per-trade engine takes the program.
        let amount = |v: &Var| matches!(v, Var::Fee | Var::Notional | Var::FeeRate);
        let filters_read_amounts = p
            .exclusions
            .iter()
            .any(|(_, e)| e.vars().any(|v| amount(&v)))
            || p.metrics
                .iter()
                .filter_map(|m| m.when.as_ref())
                .any(|e| e.vars().any(|v| amount(&v)));
        if filters_read_amounts {
            return None;
        }
        let mut vars = ClassVars::default();
        let exclusion_vars = p.exclusions.iter().flat_map(|(_, e)| e.vars());
        let metric_vars = p
            .metrics
            .iter()
            .filter_map(|m| m.when.as_ref())
            .flat_map(|e| e.vars());
        for v in p.formula.vars().chain(exclusion_vars).chain(metric_vars) {
            match v {
                Var::Fee | Var::Notional if v == quantity => {}
                Var::Channel | Var::Product => {}
                Var::Liquidity => vars.liquidity = true,
                Var::Vip => vars.vip = true,
                Var::FeeDiscount => vars.fee_discount = true,
                Var::AffiliateRate => vars.affiliate_rate = true,
                Var::Attribution => vars.attribution = true,
                Var::TierRate | Var::TierLevel | Var::Tier | Var::Rate(_) => {}
                // Per-account or per-amount values (`msa` is the account's): no small set of
                // classes.
                _ => return None,
            }
        }
        let clients = p
            .metrics
            .iter()
            .any(|m| m.kind == crate::program::MetricKind::ActiveClients);
        Some(Plan {
            quantity,
            vars,
            clients,
        })
    }
}

/// The categorical values of a trade that decide its exclusion, metrics and `g`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClassKey {
    pub channel: String,
    pub product: String,
    pub liquidity: Option<Liquidity>,
    pub vip: u32,
    pub fee_discount: bool,
    /// Normalized.
    pub affiliate_rate: Decimal,
    pub attribution: AttributionSource,
}

/// What the engine keeps of a class: its exclusion, the metrics it counts toward and `g` at
/// every level. Classes that agree on all three are one *group* and share cells, so cells
/// stay few (backpack: 60 classes, 7 groups).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Group {
    /// Index into the program's exclusions of the first that holds.
    pub excluded: Option<usize>,
    /// Bit `i` set when metric `i` counts trades of the group.
    pub metrics: u64,
    /// `g` at each level rank (normalized), for eligible groups; empty when excluded.
    pub g: Vec<Decimal>,
    /// The class itself when `g` fails at some level: the error is raised only if a period
    /// is priced at that level, so such a class stays a group of its own.
    pub failing: Option<ClassKey>,
}

impl ClassKey {
    /// Zeroes the values the plan does not distinguish, so they share a class.
    pub fn reduced(mut self, v: ClassVars) -> ClassKey {
        if !v.liquidity {
            self.liquidity = None;
        }
        if !v.vip {
            self.vip = 0;
        }
        if !v.fee_discount {
            self.fee_discount = false;
        }
        if !v.affiliate_rate {
            self.affiliate_rate = Decimal::ZERO;
        }
        if !v.attribution {
            self.attribution = AttributionSource::BrokerCode;
        }
        self.affiliate_rate = self.affiliate_rate.normalize();
        self
    }

    /// The formula's variables for this class, with the quantity set to 1.
    pub fn vars<'a>(&'a self, quantity: Var, vip: &'a Decimal) -> Vars<'a> {
        let one = |v: Var| {
            if v == quantity {
                Decimal::ONE
            } else {
                Decimal::ZERO
            }
        };
        Vars {
            notional: one(Var::Notional),
            fee: one(Var::Fee),
            fee_rate: None,
            vip: *vip,
            affiliate_rate: self.affiliate_rate,
            channel: &self.channel,
            product: &self.product,
            liquidity: self.liquidity.map_or("", |l| l.as_str()),
            account: "",
            broker: "",
            master: "",
            attribution: self.attribution.as_str(),
            fee_discount: self.fee_discount,
            msa: false,
            tier_level: 0,
            tier: "",
            rates: &[],
        }
    }

    /// Decides the class's group.
    pub fn decide(self, p: &Program, quantity: Var) -> Result<Group> {
        let vip = Decimal::from(self.vip);
        let vars = self.vars(quantity, &vip);
        let mut excluded = None;
        for (i, (_, pred)) in p.exclusions.iter().enumerate() {
            if pred.eval_bool(&vars)? {
                excluded = Some(i);
                break;
            }
        }
        let mut metrics = 0u64;
        for (i, m) in p.metrics.iter().enumerate() {
            if m.counts(&vars)? {
                metrics |= 1 << i;
            }
        }
        let mut g = Vec::new();
        let mut failing = None;
        if excluded.is_none() {
            for rank in 0..p.level_rates.len() {
                match self.g(p, quantity, rank) {
                    Ok(x) => g.push(x.normalize()),
                    Err(_) => {
                        g.clear();
                        failing = Some(self);
                        break;
                    }
                }
            }
        }
        Ok(Group {
            excluded,
            metrics,
            g,
            failing,
        })
    }

    /// `g` at a level: the formula with the quantity 1.
    pub fn g(&self, p: &Program, quantity: Var, rank: usize) -> Result<Decimal> {
        let vip = Decimal::from(self.vip);
        let mut vars = self.vars(quantity, &vip);
        vars.tier_level = rank as u32;
        vars.tier = p.level_name(rank).unwrap_or("");
        vars.rates = &p.level_rates[rank];
        p.formula.eval_num(&vars)
    }
}

/// Commission of summed quantities at one level: `g * positives` (or `g * negatives` when
/// `g < 0`, since each trade is floored at 0), or `g * (positives + negatives)` when the
/// program nets negative commissions.
pub(crate) fn price(g: Decimal, pos: Decimal, neg: Decimal, net: bool) -> Result<Decimal> {
    if net {
        money::mul(g, money::add(pos, neg)?)
    } else if g >= Decimal::ZERO {
        money::mul(g, pos)
    } else {
        money::mul(g, neg)
    }
}

/// Interns strings to dense ids (brokers, accounts) so state merges by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    pub names: Vec<String>,
    index: hashbrown::HashMap<String, u32>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.index.insert(s.into(), i);
        i
    }
}

impl Group {
    /// The bound below which a trade's quantity, in fixed point at [`crate::columns::SCALE`]
    /// (as an integer), times every level's `g` is exact: its digits plus `g`'s stay within
    /// 28 and its scale plus `g`'s too. `None` when no bound holds (a failing `g`, or one
    /// with more than 10 fractional digits): each trade is then checked on its own.
    pub fn exact_below(&self) -> Option<i128> {
        if self.failing.is_some() {
            return None;
        }
        let mut digits = 0u32;
        for g in &self.g {
            if g.scale() + crate::columns::SCALE > 28 {
                return None;
            }
            let m = g.mantissa().unsigned_abs();
            digits = digits.max(m.checked_ilog10().map_or(1, |d| d + 1));
        }
        10i128.checked_pow(28u32.saturating_sub(digits))
    }

    /// Whether a quantity `q` times every level's `g` is exact (see [`Group::exact_below`]).
    pub fn exact_for(&self, q: Decimal) -> bool {
        if self.failing.is_some() {
            return false;
        }
        let q = q.normalize();
        let qd = q
            .mantissa()
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d + 1);
        self.g.iter().all(|g| {
            let gd = g
                .mantissa()
                .unsigned_abs()
                .checked_ilog10()
                .map_or(1, |d| d + 1);
            qd + gd <= 28 && q.scale() + g.scale() <= 28
        })
    }

    /// `g` at a level rank.
    pub fn g_at(&self, p: &Program, quantity: Var, rank: usize) -> Result<Decimal> {
        match &self.failing {
            Some(key) => key.g(p, quantity, rank),
            None => Ok(self.g.get(rank).copied().unwrap_or_default()),
        }
    }
}
