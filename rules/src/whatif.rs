//! `estimate` from a settled statement: "last month's actuals, what if volume grows 20%?"
//!
//! A scenario's mix would have to be derived from the actuals as shares, and shares of real
//! volumes rarely terminate as decimals. So the actuals are settled twice instead: once as
//! given, once with every trade's notional and fee multiplied by `1 + growth`
//! ([`Settler::grown`]), and the two statements are set side by side per broker and period.
//! Everything the rules decide (attribution, exclusions, windows, ladders, caps, rounding)
//! is decided by the settlement itself, exactly: a 20% growth may lift a tier, and a ladder
//! that also needs active clients stays where the clients leave it, because the same
//! accounts trade in both runs (clients do not grow).

use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::program::Program;
use crate::registry::Registry;
use crate::settle::{SettleOptions, Settler};
use crate::statement::{
    BrokerStatement, Engine, IncompleteHistory, PeriodStatement, ProgramRef, Rejected, Statement,
};
use crate::trade::Trade;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;
use serde::Serialize;

/// The result of `estimate` with `actuals` and `growth`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WhatIf {
    pub program: ProgramRef,
    pub engine: Engine,
    pub currency: String,
    /// The growth applied, canonical (`"0.2"` for +20%).
    pub growth: String,
    /// `1 + growth`: what every notional and fee was multiplied by.
    pub factor: String,
    /// Sorted by broker code; only the asked broker when `broker` was given.
    pub brokers: Vec<BrokerWhatIf>,
    /// Payable commission of the brokers shown, as settled.
    pub actual: String,
    /// The same with the volume grown.
    pub what_if: String,
    /// `what_if - actual`.
    pub difference: String,
    /// Commission computed but not paid because a broker is withheld, for the brokers shown.
    pub withheld: Change,
    /// Programs with `client_kickback`: the clients' part, for the brokers shown (absent for
    /// other programs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kickback: Option<Change>,
    /// Trades refused in lenient mode (the same trades are refused in both runs).
    pub rejected: Vec<Rejected>,
    /// Brokers whose tier windows reach before the earliest trade supplied, as in the
    /// statement: their tiers may be too low in both columns.
    pub incomplete_history: Vec<IncompleteHistory>,
}

/// One broker, actual beside what-if.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BrokerWhatIf {
    pub broker: String,
    /// `eligible` or `withheld` (then every commission is 0, as in the statement).
    pub status: String,
    /// Sorted by start.
    pub periods: Vec<PeriodWhatIf>,
    /// The broker's payable total as settled.
    pub actual: String,
    /// The broker's payable total with the volume grown.
    pub what_if: String,
    pub difference: String,
    /// The broker's withheld total (its statement's `withheld`) as settled and grown.
    pub withheld: Change,
    /// Programs with `client_kickback`: the broker's clients' part (its statement's
    /// `kickback`) as settled and grown; absent for other programs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kickback: Option<Change>,
}

/// An amount as settled, with the volume grown, and the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Change {
    pub actual: String,
    pub what_if: String,
    /// `what_if - actual`.
    pub difference: String,
}

impl Change {
    fn of(actual: String, what_if: String, scale: u32) -> Result<Change> {
        Ok(Change {
            difference: diff(&actual, &what_if, scale)?,
            actual,
            what_if,
        })
    }
}

/// One settlement period, actual beside what-if.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PeriodWhatIf {
    pub period_start: String,
    pub period_end: String,
    /// The actual period's `history` (`complete` or `incomplete`).
    pub history: String,
    pub actual: Side,
    pub what_if: Side,
    /// `what_if.commission - actual.commission`.
    pub difference: String,
}

/// A period as one run settled it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Side {
    /// Level name, or null below the lowest level.
    pub tier: Option<String>,
    /// The level's primary rate.
    pub rate: String,
    /// The tier basis: each tier metric over the period's tier window.
    pub metrics: BTreeMap<String, String>,
    /// Attributed volume of the period.
    pub volume: String,
    /// Volume the rate applied to (not excluded).
    pub eligible_volume: String,
    /// Payable commission, rounded as the statement rounds it.
    pub commission: String,
    /// The rounded commission computed but not paid because the broker is withheld.
    pub withheld: String,
    /// Programs with `client_kickback`: the clients' part, rounded as the statement rounds
    /// it (absent for other programs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kickback: Option<String>,
}

/// `1 + growth`, refusing a growth of -100% or less (nothing would be left to settle).
pub fn growth_factor(growth: Decimal) -> Result<Decimal> {
    if growth <= Decimal::NEGATIVE_ONE {
        return Err(Error::new(
            ErrorCode::Options,
            format!("growth must be greater than -1 (-100%), got {growth}"),
        )
        .field("growth"));
    }
    money::add(Decimal::ONE, growth).map_err(|e| e.field("growth"))
}

/// Sets the two statements of the same trades side by side: `actual` as given, `grown`
/// settled with [`Settler::grown`] by `1 + growth`. `broker`: keep only that broker (an
/// error when the actuals have no statement for it).
pub fn what_if(
    program: &Program,
    actual: Statement,
    grown: Statement,
    growth: Decimal,
    broker: Option<&str>,
) -> Result<WhatIf> {
    let factor = growth_factor(growth)?;
    let scale = program.currency_scale();
    if let Some(code) = broker {
        if !actual.brokers.iter().any(|b| b.broker == code) {
            return Err(Error::new(
                ErrorCode::Options,
                format!("broker {code:?} has no statement in the actuals (no trade is attributed to it)"),
            )
            .field("broker"));
        }
    }
    let mut total = Totals::default();
    let mut brokers = Vec::new();
    // Both statements list brokers by code and periods by start: a merge join, no maps.
    // The same trades are attributed in both runs, so every grown broker has its actual one.
    let mut grown = grown.brokers.into_iter().peekable();
    for a in actual.brokers {
        let w = next_match(&mut grown, |g| g.broker.as_str().cmp(&a.broker));
        if broker.is_some_and(|code| code != a.broker) {
            continue;
        }
        let b = broker_what_if(a, w, scale)?;
        total.add(&b)?;
        brokers.push(b);
    }
    let kickback = match program.spec().client_kickback {
        true => Some(Change::of(
            money::fixed(total.kickback[0], scale),
            money::fixed(total.kickback[1], scale),
            scale,
        )?),
        false => None,
    };
    let withheld = Change::of(
        money::fixed(total.withheld[0], scale),
        money::fixed(total.withheld[1], scale),
        scale,
    )?;
    Ok(WhatIf {
        program: actual.program,
        engine: actual.engine,
        currency: actual.currency,
        growth: money::canonical(growth),
        factor: money::canonical(factor),
        brokers,
        actual: money::fixed(total.commission[0], scale),
        what_if: money::fixed(total.commission[1], scale),
        difference: money::fixed(money::sub(total.commission[1], total.commission[0])?, scale),
        withheld,
        kickback,
        rejected: actual.rejected,
        incomplete_history: actual.summary.incomplete_history,
    })
}

/// The brokers' sums, as settled (`[0]`) and grown (`[1]`).
#[derive(Default)]
struct Totals {
    commission: [Decimal; 2],
    withheld: [Decimal; 2],
    kickback: [Decimal; 2],
}

impl Totals {
    fn add(&mut self, b: &BrokerWhatIf) -> Result<()> {
        let pairs = [
            (&mut self.commission, [&b.actual, &b.what_if]),
            (
                &mut self.withheld,
                [&b.withheld.actual, &b.withheld.what_if],
            ),
        ];
        for (sum, [a, w]) in pairs {
            sum[0] = money::add(sum[0], money::parse(a)?)?;
            sum[1] = money::add(sum[1], money::parse(w)?)?;
        }
        if let Some(k) = &b.kickback {
            self.kickback[0] = money::add(self.kickback[0], money::parse(&k.actual)?)?;
            self.kickback[1] = money::add(self.kickback[1], money::parse(&k.what_if)?)?;
        }
        Ok(())
    }
}

/// The next item of a sorted iterator equal to the key (`cmp` orders an item against it),
/// skipping the smaller ones.
fn next_match<T>(
    it: &mut core::iter::Peekable<impl Iterator<Item = T>>,
    cmp: impl Fn(&T) -> core::cmp::Ordering,
) -> Option<T> {
    while it.peek().is_some_and(|x| cmp(x).is_lt()) {
        it.next();
    }
    it.next_if(|x| cmp(x).is_eq())
}

fn broker_what_if(
    a: BrokerStatement,
    w: Option<BrokerStatement>,
    scale: u32,
) -> Result<BrokerWhatIf> {
    let zero = money::fixed(Decimal::ZERO, scale);
    let (what_if, withheld, kickback, grown) = match w {
        Some(w) => (w.commission, w.withheld, w.kickback, w.periods),
        None => (zero.clone(), zero.clone(), None, Vec::new()),
    };
    let kickback = match a.kickback {
        Some(k) => Some(Change::of(
            k,
            kickback.unwrap_or_else(|| zero.clone()),
            scale,
        )?),
        None => None,
    };
    let withheld = Change::of(a.withheld, withheld, scale)?;
    let mut grown = grown.into_iter().peekable();
    let mut periods = Vec::with_capacity(a.periods.len());
    for p in a.periods {
        let g = next_match(&mut grown, |g| g.start.cmp(&p.start));
        let (period_start, period_end, history) =
            (p.start.clone(), p.end.clone(), p.history.clone());
        let actual = side(p);
        let what_if = match g {
            Some(g) => side(g),
            None => Side {
                tier: None,
                rate: String::from("0"),
                metrics: BTreeMap::new(),
                volume: String::from("0"),
                eligible_volume: String::from("0"),
                commission: zero.clone(),
                withheld: zero.clone(),
                kickback: actual.kickback.as_ref().map(|_| zero.clone()),
            },
        };
        let difference = diff(&actual.commission, &what_if.commission, scale)?;
        periods.push(PeriodWhatIf {
            period_start,
            period_end,
            history,
            actual,
            what_if,
            difference,
        });
    }
    Ok(BrokerWhatIf {
        difference: diff(&a.commission, &what_if, scale)?,
        broker: a.broker,
        status: a.status,
        periods,
        actual: a.commission,
        what_if,
        withheld,
        kickback,
    })
}

fn side(p: PeriodStatement) -> Side {
    Side {
        tier: p.tier,
        rate: p.rate,
        metrics: p.metrics,
        volume: p.attributed.volume,
        eligible_volume: p.eligible.volume,
        commission: p.commission,
        withheld: p.withheld,
        kickback: p.kickback,
    }
}

fn diff(a: &str, w: &str, scale: u32) -> Result<String> {
    Ok(money::fixed(
        money::sub(money::parse(w)?, money::parse(a)?)?,
        scale,
    ))
}

/// `estimate` from owned trades: settles them as given and grown by `1 + growth`, and sets
/// the two statements side by side (see [`what_if`]).
pub fn estimate_actuals(
    program: &Program,
    trades: &[Trade],
    registry: Option<&Registry>,
    options: &SettleOptions,
    growth: Decimal,
    broker: Option<&str>,
) -> Result<WhatIf> {
    estimate_fed(program, registry, options, growth, broker, |s| {
        for (i, t) in trades.iter().enumerate() {
            let line = Some(i as u64 + 1);
            match t.as_ref() {
                Ok(r) => s.push(&r, line)?,
                Err(e) => s.reject(Some(&t.id), line, e)?,
            }
        }
        Ok(())
    })
}

/// `estimate` from trades a host feeds (a file, a stream): `feed` is called twice, once
/// with the settler of the actuals and once with the grown one, and must feed the same
/// trades both times.
pub fn estimate_fed(
    program: &Program,
    registry: Option<&Registry>,
    options: &SettleOptions,
    growth: Decimal,
    broker: Option<&str>,
    mut feed: impl FnMut(&mut Settler) -> Result<()>,
) -> Result<WhatIf> {
    estimate_dyn(program, registry, options, growth, broker, &mut feed)
}

/// [`estimate_fed`] through one `dyn` feed: one copy of the two settlements in the binary
/// whatever the hosts' feeds are (the web .wasm has a size budget).
fn estimate_dyn(
    program: &Program,
    registry: Option<&Registry>,
    options: &SettleOptions,
    growth: Decimal,
    broker: Option<&str>,
    feed: &mut dyn FnMut(&mut Settler) -> Result<()>,
) -> Result<WhatIf> {
    let factor = growth_factor(growth)?;
    if options.lines {
        return Err(Error::new(
            ErrorCode::Options,
            "estimate sets periods side by side and has no per-trade lines; drop options.lines",
        )
        .field("options.lines"));
    }
    let mut a = Settler::new(program, registry, options)?;
    feed(&mut a)?;
    let actual = a.finish()?;
    let mut g = Settler::grown(program, registry, options, factor)?;
    feed(&mut g)?;
    let grown = g.finish()?;
    what_if(program, actual, grown, growth, broker)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::read::{feed_with, ColumnMap, Format};

    const CSV: &str = "id,time,account,broker,channel,product,notional,fee\n\
        t1,2026-06-03T10:00:00Z,a,B1,api,spot,8000000,1600\n\
        t2,2026-06-12T10:00:00Z,b,B1,api,futures,1000000.000000000000000001,400\n\
        t3,2026-07-02T10:00:00Z,c,B2,web,spot,500000,100\n";

    fn from_csv(program: &Program, growth: &str) -> WhatIf {
        let g = money::parse(growth).unwrap();
        estimate_fed(program, None, &SettleOptions::default(), g, None, |s| {
            feed_with(
                s,
                CSV.as_bytes(),
                Format::Csv,
                &ColumnMap::default(),
                &mut |_, _| {},
            )
        })
        .unwrap()
    }

    fn from_rows(program: &Program, growth: &str) -> WhatIf {
        let trades: Vec<Trade> = CSV
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                serde_json::from_value(serde_json::json!({"id": f[0], "time": f[1], "account": f[2],
                    "broker": f[3], "channel": f[4], "product": f[5], "notional": f[6], "fee": f[7]}))
                .unwrap()
            })
            .collect();
        let g = money::parse(growth).unwrap();
        estimate_actuals(program, &trades, None, &SettleOptions::default(), g, None).unwrap()
    }

    /// The column path (grown in place when every product is exact at 18 digits, else row
    /// by row) gives what the row path gives: 1.2 keeps t2's 18 fractional digits exact only
    /// when its last digit times 12 ends in 0 (it does not: 1.2 x ...001 needs 19 digits, so
    /// that batch goes row by row); 2 keeps every batch in columns.
    #[test]
    fn columns_and_rows_agree() {
        for id in ["backpack", "xt", "okx"] {
            let p = crate::builtin::program(id).unwrap();
            for g in ["0.2", "1", "-0.5", "0"] {
                assert_eq!(from_csv(&p, g), from_rows(&p, g), "{id} {g}");
            }
        }
    }

    /// No growth: every period's what-if is its actual, and every difference is zero.
    #[test]
    fn zero_growth_changes_nothing() {
        let p = crate::builtin::program("backpack").unwrap();
        let w = from_csv(&p, "0");
        assert_eq!(w.factor, "1");
        for b in &w.brokers {
            for per in &b.periods {
                assert_eq!(per.actual, per.what_if);
                assert_eq!(per.difference, "0.00");
            }
        }
        // B1: 9,000,000.000000000000000001 api volume -> BKR 1 (30%); fees 2,000 -> 600.00.
        assert_eq!(w.brokers[0].periods[0].actual.commission, "600.00");
        assert_eq!(w.difference, "0.00");
    }
}
