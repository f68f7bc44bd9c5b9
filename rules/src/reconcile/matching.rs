//! Matching: both sides reduced to one figure set per key at the level asked for. Ours comes
//! from the statement's lines (exact commission per trade, before caps, shares and
//! rounding) or, at `period`, its periods (exact, after caps and shares); theirs from the
//! report's rows. Only per-key sums are kept, so memory grows with the keys.

use super::format::{Field, ReportFormat};
use super::report::{format_day, ReportRow};
use crate::error::{Error, ErrorCode, Result};
use crate::general::period_start;
use crate::money;
use crate::program::Program;
use crate::statement::{Line, Statement};
use crate::time::{self, Clock};
use alloc::collections::BTreeMap;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// What one key of a reconciliation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// One key per trade id (the report carries fill ids).
    Trade,
    /// One key per order id.
    Order,
    /// One key per client account and day, in the report's day offset.
    AccountDay,
    /// One key per broker and settlement period of the program.
    Period,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trade => "trade",
            Level::Order => "order",
            Level::AccountDay => "account-day",
            Level::Period => "period",
        }
    }

    /// The report fields a key at this level is built from.
    fn fields(self) -> &'static [Field] {
        match self {
            Level::Trade => &[Field::Id],
            Level::Order => &[Field::Order],
            Level::AccountDay => &[Field::Account, Field::Day],
            Level::Period => &[Field::Broker, Field::Time],
        }
    }
}

/// A key, by trade field names; only the level's fields are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Key {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The trade id: the key at `trade`, and at `order` for a trade without an order id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Key {
    /// The key's values present, in field order (for duplicate detection, messages and the
    /// CLI's key column).
    pub fn values(&self) -> Vec<String> {
        [
            &self.broker,
            &self.period_start,
            &self.account,
            &self.day,
            &self.order,
            &self.id,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

/// A key below `period` as text borrowed from a key table: an order id, a trade id, or an
/// account and day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyText<'a> {
    Order(&'a str),
    Id(&'a str),
    AccountDay(&'a str, i64),
}

impl KeyText<'_> {
    /// Its tagged bytes, appended to `out`: `o` + order, `i` + trade id, or `a` + account +
    /// NUL + the day (sign-flipped big-endian), so an order id and a trade id never meet and
    /// byte order is key order (but for an account holding a NUL byte).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            KeyText::Order(o) => {
                out.push(b'o');
                out.extend_from_slice(o.as_bytes());
            }
            KeyText::Id(id) => {
                out.push(b'i');
                out.extend_from_slice(id.as_bytes());
            }
            KeyText::AccountDay(a, day) => {
                out.push(b'a');
                out.extend_from_slice(a.as_bytes());
                out.push(0);
                out.extend_from_slice(&((day as u64) ^ (1 << 63)).to_be_bytes());
            }
        }
    }

    /// The key of tagged bytes written by [`KeyText::encode`].
    pub fn decode(t: &[u8]) -> KeyText<'_> {
        fn s(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or("")
        }
        match t.first() {
            Some(b'o') => KeyText::Order(s(&t[1..])),
            Some(b'a') if t.len() >= 10 => {
                let mut d = [0u8; 8];
                d.copy_from_slice(&t[t.len() - 8..]);
                let day = (u64::from_be_bytes(d) ^ (1 << 63)) as i64;
                KeyText::AccountDay(s(&t[1..t.len() - 9]), day)
            }
            _ => KeyText::Id(s(t.get(1..).unwrap_or_default())),
        }
    }

    /// The owned key.
    pub fn key(&self) -> Key {
        match *self {
            KeyText::Order(o) => Key {
                order: Some(o.to_string()),
                ..Key::default()
            },
            KeyText::Id(id) => Key {
                id: Some(id.to_string()),
                ..Key::default()
            },
            KeyText::AccountDay(a, day) => Key {
                account: Some(a.to_string()),
                day: Some(format_day(day)),
                ..Key::default()
            },
        }
    }

    /// The order of the owned keys ([`Key`]'s `Ord`), without building them.
    pub fn cmp_key(&self, other: &KeyText<'_>) -> core::cmp::Ordering {
        use core::cmp::Ordering;
        match (*self, *other) {
            // A key without an order (None) sorts before one with an order.
            (KeyText::Id(a), KeyText::Id(b)) | (KeyText::Order(a), KeyText::Order(b)) => a.cmp(b),
            (KeyText::Id(_), KeyText::Order(_)) => Ordering::Less,
            (KeyText::Order(_), KeyText::Id(_)) => Ordering::Greater,
            (KeyText::AccountDay(a, x), KeyText::AccountDay(b, y)) => a.cmp(b).then_with(|| {
                // Days written YYYY-MM-DD sort as numbers for years 0 to 9999.
                let plain = -719_528..=2_932_896;
                if plain.contains(&x) && plain.contains(&y) {
                    x.cmp(&y)
                } else {
                    format_day(x).cmp(&format_day(y))
                }
            }),
            // Keys of one level are of one kind; across kinds, the owned keys decide.
            (a, b) => a.key().cmp(&b.key()),
        }
    }
}

/// Trades of one key that share a broker, tier and reason: a per-trade line, or the batch
/// engine's sums of the key in one cell (`engine/keyed.rs`).
#[derive(Clone, Debug)]
pub struct KeyPart<'a> {
    pub trades: u64,
    pub volume: Decimal,
    pub fee: Decimal,
    /// Exact commission at the level the broker reaches (0 when excluded or unattributed).
    pub commission: Decimal,
    pub broker: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub rate: Decimal,
    /// The exclusion or non-attribution reason.
    pub reason: Option<&'a str>,
}

/// Our figures for a key.
#[derive(Clone, Debug, Default)]
pub struct Ours {
    pub trades: u64,
    pub volume: Decimal,
    pub fee: Decimal,
    /// Exact commission (0 for excluded or unattributed trades and withheld brokers).
    pub commission: Decimal,
    /// The broker of the key's first trade (time order), if attributed.
    pub broker: Option<String>,
    /// The tier and rate of the key's first attributed trade.
    pub tier: Option<String>,
    pub rate: Decimal,
    /// The first exclusion reason met, and how many trades were excluded.
    pub excluded: Option<String>,
    pub excluded_trades: u64,
    /// Trades no broker earns on (no broker, unenrolled broker).
    pub unattributed: u64,
    pub unattributed_reason: Option<String>,
}

/// Their figures for a key.
#[derive(Clone, Debug, Default)]
pub struct Theirs {
    /// The line of the key's first row.
    pub line: u64,
    pub rows: u64,
    pub volume: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub commission: Decimal,
    pub broker: Option<String>,
    pub tier: Option<String>,
    pub rate: Option<Decimal>,
}

/// The brokers a statement withholds (broker/affiliate conflict): they pay nothing on any key.
pub fn withheld_brokers(st: &Statement) -> Vec<&str> {
    st.brokers
        .iter()
        .filter(|b| b.status == "withheld")
        .map(|b| b.broker.as_str())
        .collect()
}

/// Reasons that mean "no broker earns on this trade" rather than an exclusion rule.
const UNATTRIBUTED: [&str; 2] = ["no_broker", "unenrolled_broker"];

/// Checks the format can give the level's key, before any row is read.
pub fn check_level(level: Level, format: &ReportFormat, broker: Option<&str>) -> Result<()> {
    if !format.has(Field::Commission) {
        return Err(Error::new(
            ErrorCode::Options,
            format!(
                "report format {:?} maps no column to commission (generic: --map COLUMN=commission)",
                format.name
            ),
        )
        .field("report_format"));
    }
    for f in level.fields() {
        let ok = match f {
            Field::Day | Field::Time => format.has(Field::Day) || format.has(Field::Time),
            Field::Broker => format.has(Field::Broker) || broker.is_some(),
            f => format.has(*f),
        };
        if !ok {
            let what = match f {
                Field::Day | Field::Time => "a day or time",
                Field::Broker => "broker (or pass the report's broker)",
                f => f.as_str(),
            };
            return Err(Error::new(
                ErrorCode::Options,
                format!(
                    "matching by {} needs {what} in the report, and format {:?} maps no column to it",
                    level.as_str(),
                    format.name
                ),
            )
            .field("by"));
        }
    }
    Ok(())
}

/// The key of one of our trade lines (not used at `period`).
pub fn line_key(level: Level, l: &Line, report_clock: Clock) -> Result<Key> {
    Ok(match level {
        Level::Trade => Key {
            id: Some(l.id.clone()),
            ..Key::default()
        },
        Level::Order => match &l.order {
            Some(o) => Key {
                order: Some(o.clone()),
                ..Key::default()
            },
            None => Key {
                id: Some(l.id.clone()),
                ..Key::default()
            },
        },
        Level::AccountDay | Level::Period => Key {
            account: Some(l.account.clone()),
            day: Some(format_day(report_clock.day(time::parse(&l.time)?))),
            ..Key::default()
        },
    })
}

/// Adds one line to our figures for its key. `withheld` brokers pay nothing.
pub fn add_line(o: &mut Ours, l: &Line, withheld: bool) -> Result<()> {
    let part = KeyPart {
        trades: 1,
        volume: money::parse(&l.volume)?,
        fee: l.fee,
        commission: money::parse(&l.commission)?,
        broker: l.broker.as_deref(),
        tier: l.tier.as_deref(),
        rate: money::parse(&l.rate)?,
        reason: l.excluded.as_deref(),
    };
    add_part(o, &part, withheld)
}

/// Adds trades of one key that share a broker, tier and reason (a line, or the batch
/// engine's sums of a key in one cell), given in the order of their first trades: the
/// key's broker, tier and reason are its first trade's that has them.
pub fn add_part(o: &mut Ours, p: &KeyPart<'_>, withheld: bool) -> Result<()> {
    // A key's first part is its figures (what adding it to zeros gives, without the adds).
    let fresh = cfg!(feature = "keyed")
        && o.trades == 0
        && o.volume.is_zero()
        && o.fee.is_zero()
        && o.commission.is_zero()
        && o.volume.scale() == 0
        && o.fee.scale() == 0
        && o.commission.scale() == 0;
    o.trades += p.trades;
    if fresh {
        o.volume = p.volume;
        o.fee = p.fee;
    } else {
        o.volume = money::total(o.volume, p.volume)?;
        o.fee = money::total(o.fee, p.fee)?;
    }
    let reason = match (p.reason, withheld) {
        (Some(r), _) => Some(r),
        (None, true) => Some("broker_affiliate_conflict"),
        (None, false) => None,
    };
    match reason {
        Some(r) if UNATTRIBUTED.contains(&r) => {
            o.unattributed += p.trades;
            if o.unattributed_reason.is_none() {
                o.unattributed_reason = Some(r.to_string());
            }
        }
        Some(r) => {
            o.excluded_trades += p.trades;
            if o.excluded.is_none() {
                o.excluded = Some(r.to_string());
            }
        }
        None if fresh => o.commission = p.commission,
        None => o.commission = money::total(o.commission, p.commission)?,
    }
    if o.broker.is_none() {
        o.broker = p.broker.map(ToString::to_string);
    }
    if p.broker.is_some() && o.tier.is_none() {
        o.tier = p.tier.map(ToString::to_string);
        o.rate = p.rate;
    }
    Ok(())
}

/// One key's figures from its parts (in the order of their first trades).
pub fn ours_of_parts<'a, S: AsRef<str>>(
    ps: impl Iterator<Item = KeyPart<'a>>,
    withheld: &[S],
) -> Result<Ours> {
    let mut o = Ours::default();
    for p in ps {
        add_part(&mut o, &p, is_withheld(&p, withheld))?;
    }
    Ok(o)
}

/// Whether the part's broker is one whose commission the statement withholds.
pub fn is_withheld<S: AsRef<str>>(p: &KeyPart<'_>, withheld: &[S]) -> bool {
    p.broker
        .is_some_and(|b| withheld.iter().any(|x| x.as_ref() == b))
}

/// What one part adds to our commission ([`add_part`]): its own, unless it is excluded,
/// unattributed or its broker withheld.
pub fn paid(p: &KeyPart<'_>, withheld: bool) -> Decimal {
    if p.reason.is_none() && !withheld {
        p.commission
    } else {
        Decimal::ZERO
    }
}

/// Our figures per key: lines grouped by key, or the statement's periods at `period`.
/// The statement is consumed: each line is dropped once it is summed into its key.
pub fn ours(
    level: Level,
    st: &Statement,
    lines: Option<Vec<Line>>,
    report_clock: Clock,
) -> Result<BTreeMap<Key, Ours>> {
    let mut out: BTreeMap<Key, Ours> = BTreeMap::new();
    if level == Level::Period {
        for b in &st.brokers {
            let withheld = b.status == "withheld";
            for p in &b.periods {
                let excluded_trades: u64 = p.excluded.values().map(|s| s.trades).sum();
                let o = Ours {
                    trades: p.trades,
                    volume: money::parse(&p.volume)?,
                    fee: money::parse(&p.fees)?,
                    commission: if withheld {
                        Decimal::ZERO
                    } else {
                        money::parse(&p.exact)?
                    },
                    broker: Some(b.broker.clone()),
                    tier: p.tier.clone(),
                    rate: money::parse(&p.rate)?,
                    excluded: if withheld {
                        b.reason.clone()
                    } else {
                        // The reason excluding the most fees (ties: the first code).
                        p.excluded
                            .iter()
                            .max_by(|a, b| {
                                let fa = money::parse(&a.1.fees).unwrap_or_default();
                                let fb = money::parse(&b.1.fees).unwrap_or_default();
                                fa.cmp(&fb).then(b.0.cmp(a.0))
                            })
                            .map(|(k, _)| k.clone())
                    },
                    excluded_trades: if withheld { p.trades } else { excluded_trades },
                    unattributed: 0,
                    unattributed_reason: None,
                };
                let key = Key {
                    broker: Some(b.broker.clone()),
                    period_start: Some(p.start.clone()),
                    ..Key::default()
                };
                out.insert(key, o);
            }
        }
        return Ok(out);
    }
    let withheld = withheld_brokers(st);
    for l in lines.into_iter().flatten() {
        let key = line_key(level, &l, report_clock)?;
        let w = l.broker.as_deref().is_some_and(|b| withheld.contains(&b));
        add_line(out.entry(key).or_default(), &l, w)?;
    }
    Ok(out)
}

/// The error for a report row without a field its key needs.
fn missing(r: &ReportRow, f: Field, column_of: &dyn Fn(Field) -> Option<u64>) -> Error {
    let e = Error::new(
        ErrorCode::Field,
        format!("report row at line {} has no {}", r.line, f.as_str()),
    )
    .field(f.as_str())
    .line(r.line);
    match column_of(f) {
        Some(c) => e.column(c),
        None => e,
    }
}

/// The key of a report row below `period`, borrowed from the row (what [`row_key`] owns;
/// the batch engine's keys and the report's meet as this text).
#[cfg(feature = "keyed")]
pub fn row_text<'r>(
    level: Level,
    r: &'r ReportRow,
    column_of: &dyn Fn(Field) -> Option<u64>,
) -> Result<KeyText<'r>> {
    let need = |f: Field, v: Option<&'r str>| v.ok_or_else(|| missing(r, f, column_of));
    Ok(match level {
        Level::Trade => KeyText::Id(need(Field::Id, r.id.as_deref())?),
        Level::Order => KeyText::Order(need(Field::Order, r.order.as_deref())?),
        Level::AccountDay => {
            let account = need(Field::Account, r.account.as_deref())?;
            KeyText::AccountDay(
                account,
                r.day.ok_or_else(|| missing(r, Field::Day, column_of))?,
            )
        }
        Level::Period => {
            return Err(Error::new(
                ErrorCode::Internal,
                "a period's key is not kept as text",
            ))
        }
    })
}

/// The key of a report row; `default_broker` fills a report without a broker column.
pub fn row_key(
    level: Level,
    r: &ReportRow,
    column_of: &dyn Fn(Field) -> Option<u64>,
    p: &Program,
    default_broker: Option<&str>,
) -> Result<Key> {
    let need = |f: Field, v: Option<&str>| -> Result<String> {
        v.map(ToString::to_string)
            .ok_or_else(|| missing(r, f, column_of))
    };
    Ok(match level {
        Level::Trade => Key {
            id: Some(need(Field::Id, r.id.as_deref())?),
            ..Key::default()
        },
        Level::Order => Key {
            order: Some(need(Field::Order, r.order.as_deref())?),
            ..Key::default()
        },
        Level::AccountDay => Key {
            account: Some(need(Field::Account, r.account.as_deref())?),
            day: Some(format_day(
                r.day.ok_or_else(|| missing(r, Field::Day, column_of))?,
            )),
            ..Key::default()
        },
        Level::Period => {
            // A report's day (no time) names the program's period holding that day.
            let instant = match (r.time, r.day) {
                (Some(t), _) => t,
                (None, Some(d)) => p.clock.day_start(d),
                (None, None) => return Err(missing(r, Field::Time, column_of)),
            };
            Key {
                broker: Some(need(Field::Broker, r.broker.as_deref().or(default_broker))?),
                period_start: Some(time::format(period_start(p, instant))),
                ..Key::default()
            }
        }
    })
}

/// Adds a report row to their figures for its key.
pub fn add_row(t: &mut Theirs, r: ReportRow) -> Result<()> {
    let sum = |a: Option<Decimal>, b: Option<Decimal>| -> Result<Option<Decimal>> {
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(money::total(a, b)?),
            (a, b) => a.or(b),
        })
    };
    if t.rows == 0 {
        t.line = r.line;
    }
    t.rows += 1;
    t.volume = sum(t.volume, r.volume)?;
    t.fee = sum(t.fee, r.fee)?;
    t.commission = money::total(t.commission, r.commission.unwrap_or_default())?;
    if t.broker.is_none() {
        t.broker = r.broker;
    }
    if t.tier.is_none() {
        t.tier = r.tier;
    }
    if t.rate.is_none() {
        t.rate = r.rate;
    }
    Ok(())
}

/// The text of a row's identity under the format's key (or the level's), for duplicates.
pub fn identity(r: &ReportRow, fields: &[Field]) -> Vec<String> {
    fields
        .iter()
        .map(|f| match f {
            Field::Time => r.time.map(time::format).unwrap_or_default(),
            Field::Day => r.day.map(format_day).unwrap_or_default(),
            f if f.is_decimal() => String::new(),
            f => r.text(*f).unwrap_or("").to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tagged text round-trips, and `cmp_key` is the owned keys' order for every pair,
    /// including accounts holding NUL and days outside years 0 to 9999.
    #[test]
    fn key_text_orders_as_the_owned_keys() {
        let days = [
            i64::MIN / 4,
            -719_529,
            -719_528,
            -1,
            0,
            20_000,
            2_932_896,
            2_932_897,
            i64::MAX / 4,
        ];
        let mut keys = Vec::new();
        for s in ["", "a", "a\0", "a\0b", "ab", "b", "ord-10", "ord-9", "é"] {
            keys.push(KeyText::Order(s));
            keys.push(KeyText::Id(s));
            for d in days {
                keys.push(KeyText::AccountDay(s, d));
            }
        }
        for a in &keys {
            let mut buf = Vec::new();
            a.encode(&mut buf);
            assert_eq!(KeyText::decode(&buf), *a);
            for b in &keys {
                assert_eq!(a.cmp_key(b), a.key().cmp(&b.key()), "{a:?} vs {b:?}");
            }
        }
        // Byte order of the tagged text is key order where no account holds NUL.
        let (x, y) = (KeyText::AccountDay("ab", 5), KeyText::AccountDay("abc", 1));
        let (mut bx, mut by) = (Vec::new(), Vec::new());
        x.encode(&mut bx);
        y.encode(&mut by);
        assert_eq!(bx.cmp(&by), x.cmp_key(&y));
    }
}
