//! The decision: a key's status and, when the two sides are not equal, the cause, from what
//! the engine knows about the key's trades. The checks run in a fixed order, so one key gets
//! one cause: the first that explains the difference.
//!
//! 1. `attribution`: the report credits another broker, or we attribute the trades to no
//!    broker (`no_broker`, `unenrolled_broker`).
//! 2. `excluded`: we pay nothing because we excluded the trades (reason in the detail).
//! 3. `missing_trades`: the report's volume for the key is larger than ours (or we have no
//!    trade at all for the key).
//! 4. `fee_base`: their fee base differs from our fees by more than the tolerance.
//! 5. `not_paid`: the report has the key at zero where we pay.
//! 6. `excluded`: some of the key's trades are excluded and the report pays more.
//! 7. `rate`: the same base at another rate: a tier or bound-client disagreement. The
//!    detail gives our tier and effective rate (commission / fee), their rate (the report's,
//!    or their commission / fee base) and the tier it implies.
//!
//! Beside them: `not_in_report` (we pay, no row) and `rounding` (within the tolerance but
//! not equal; the key counts as matched).

use super::matching::{Ours, Theirs};
use super::output::{Cause, Detail, Status};
use crate::error::Result;
use crate::money;
use crate::program::Program;
use rust_decimal::Decimal;
use std::string::String;

/// A key's decision: `None` when neither side pays (not counted).
pub struct Decision {
    pub status: Status,
    pub cause: Option<Cause>,
    pub detail: Detail,
}

pub fn decide(
    ours: Option<&Ours>,
    theirs: Option<&Theirs>,
    tolerance: Decimal,
    p: &Program,
) -> Result<Option<Decision>> {
    let decision = |status, cause, detail| {
        Some(Decision {
            status,
            cause,
            detail,
        })
    };
    let (o, t) = match (ours, theirs) {
        (None, None) => return Ok(None),
        (Some(o), None) => {
            if o.commission.is_zero() {
                return Ok(None);
            }
            return Ok(decision(
                Status::OnlyOurs,
                Some(Cause::NotInReport),
                Detail::default(),
            ));
        }
        (None, Some(t)) => {
            if t.commission.is_zero() {
                return Ok(None);
            }
            return Ok(decision(
                Status::OnlyTheirs,
                Some(Cause::MissingTrades),
                Detail {
                    their_broker: t.broker.clone(),
                    their_tier: t.tier.clone(),
                    ..Detail::default()
                },
            ));
        }
        (Some(o), Some(t)) => (o, t),
    };
    let Compared { diff, matched } = compare(o.commission, t.commission, tolerance)?;
    if let Some(cause) = matched {
        return Ok(decision(Status::Matched, cause, Detail::default()));
    }
    let status = if o.commission.is_zero() {
        Status::OnlyTheirs
    } else {
        Status::Differs
    };
    let mut d = Detail::default();
    // 1. attribution
    let other_broker = match (&o.broker, &t.broker) {
        (Some(ob), Some(tb)) => ob != tb,
        _ => false,
    };
    let unattributed = o.broker.is_none() && o.unattributed > 0;
    if other_broker || unattributed {
        d.their_broker = t.broker.clone();
        if unattributed {
            d.reason = o.unattributed_reason.clone();
        }
        return Ok(decision(status, Some(Cause::Attribution), d));
    }
    // 2. everything excluded
    if o.commission.is_zero() && o.excluded.is_some() {
        d.reason = o.excluded.clone();
        return Ok(decision(status, Some(Cause::Excluded), d));
    }
    // 3. missing trades
    if let Some(tv) = t.volume {
        let dv = money::sub(tv, o.volume)?;
        if dv > Decimal::ZERO {
            d.volume_difference = Some(money::canonical(dv));
            return Ok(decision(status, Some(Cause::MissingTrades), d));
        }
    }
    // 4. fee base
    if let Some(tf) = t.fee {
        let df = money::sub(tf, o.fee)?;
        if df.abs() > tolerance {
            d.fee_difference = Some(money::canonical(df));
            return Ok(decision(status, Some(Cause::FeeBase), d));
        }
    }
    // 5. not paid
    if t.commission.is_zero() {
        return Ok(decision(status, Some(Cause::NotPaid), d));
    }
    // 6. partly excluded, and they pay more
    if o.excluded.is_some() && diff > Decimal::ZERO {
        d.reason = o.excluded.clone();
        return Ok(decision(status, Some(Cause::Excluded), d));
    }
    // 7. rate
    d.our_tier = o.tier.clone();
    // Our effective rate (commission / fee) shows a bound-client rate the tier's primary
    // rate would hide; the tier's rate where it does not divide.
    let ours_rate = if o.fee.is_zero() {
        None
    } else {
        money::div(o.commission, o.fee).ok()
    };
    d.our_rate = Some(money::canonical(ours_rate.unwrap_or(o.rate)));
    let base = t.fee.unwrap_or(o.fee);
    let implied = match t.rate {
        Some(r) => Some(r),
        None if !base.is_zero() => money::div(t.commission, base).ok(),
        None => None,
    };
    d.their_rate = implied.map(money::canonical);
    d.their_tier = t
        .tier
        .clone()
        .or_else(|| implied.and_then(|r| tier_of(p, r)));
    Ok(decision(status, Some(Cause::Rate), d))
}

/// Two commissions of one key side by side.
pub(crate) struct Compared {
    /// Theirs minus ours.
    pub diff: Decimal,
    /// `Some(cause)` when they match: within the tolerance (inclusive), with `rounding` as
    /// the cause when not exactly.
    pub matched: Option<Option<Cause>>,
}

pub(crate) fn compare(ours: Decimal, theirs: Decimal, tolerance: Decimal) -> Result<Compared> {
    let diff = money::sub(theirs, ours)?;
    let matched = (diff.abs() <= tolerance).then(|| (!diff.is_zero()).then_some(Cause::Rounding));
    Ok(Compared { diff, matched })
}

/// The level one of whose named rates is exactly `rate` (the lowest such level).
fn tier_of(p: &Program, rate: Decimal) -> Option<String> {
    p.level_rates
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, rates)| rates.contains(&rate))
        .and_then(|(rank, _)| p.level_name(rank).map(String::from))
}
