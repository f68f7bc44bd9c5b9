//! Reconciliation: the engine's result beside an exchange's own commission report, key by
//! key, with the cause of every difference (SPEC section 7, issue 13).
//!
//! Stages, one per file: [`format`] (what the report's columns mean), [`report`] (reading
//! its rows), [`matching`] (both sides per key at the level asked), [`cause`] (status and
//! cause), [`output`] (the result). Ours is the exact, unrounded commission of each trade
//! summed per key (at `period`: the period's exact commission after caps and shares). The
//! batch engine sums it per key as it settles (`engine/keyed.rs`); programs only the
//! per-trade engine takes give it through per-trade lines. Both give the same bytes. The
//! report is read into per-key sums on its own ([`read_report`]), so a host can read it
//! while the trades settle. The tolerance is absolute, in the currency, and inclusive:
//! `|theirs - ours| <= tolerance` is matched.

pub mod cause;
pub mod format;
pub mod matching;
pub mod output;
pub mod report;

#[cfg(feature = "keyed")]
use crate::engine::KeyBy;
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::program::Program;
use crate::registry::Registry;
use crate::settle::{EngineChoice, SettleOptions, Settler};
use crate::statement::{ProgramRef, Statement};
use crate::time::Clock;
use alloc::collections::BTreeMap;
use rust_decimal::Decimal;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

pub use format::{Field, ReportFormat};
pub use matching::{Key, Level};
pub use output::{Cause, Counts, Detail, Figures, ReconcileSummary, Reconciliation, Row, Status};

/// How to reconcile.
#[derive(Clone, Debug)]
pub struct ReconcileOptions {
    pub by: Level,
    /// Absolute, inclusive; `None`: one unit of the program's currency scale (0.00000001
    /// for USDT at 8 decimals, 0.01 for USD at 2).
    pub tolerance: Option<Decimal>,
    /// List matched keys too.
    pub all: bool,
    /// The broker the report is for: fills a report without a broker column, and our keys
    /// of other brokers the report does not have are left out (not `only_ours`).
    pub broker: Option<String>,
}

/// The settlement of our side for a reconciliation at `options.by`: the batch engine
/// summing per key when the program allows it (see `engine/keyed.rs`), else the per-trade
/// engine with lines; at `period` the statement's periods are enough. Push the trades, then
/// [`reconcile_settled`].
pub fn settler(
    program: &Program,
    registry: Option<&Registry>,
    settle: &SettleOptions,
    format: &ReportFormat,
    options: &ReconcileOptions,
    engine: EngineChoice,
) -> Result<Settler> {
    let mut o = settle.clone();
    o.lines = false;
    if options.by == Level::Period {
        return Settler::with_engine(program, registry, &o, engine);
    }
    #[cfg(feature = "keyed")]
    {
        let by = match options.by {
            Level::Trade | Level::Period => KeyBy::Trade,
            Level::Order => KeyBy::Order,
            Level::AccountDay => KeyBy::AccountDay(Clock::new(format.offset_minutes()?)),
        };
        let mut s = Settler::with_engine(program, registry, &o, engine)?;
        if s.keep_keys(by) {
            return Ok(s);
        }
    }
    #[cfg(not(feature = "keyed"))]
    let _ = format;
    o.lines = true;
    Settler::with_engine(program, registry, &o, engine)
}

/// Our side, settled: the statement (its `rejected` are not reconciled) and the per-key
/// sums when the batch engine kept them.
pub struct Settled {
    pub statement: Statement,
    #[cfg(feature = "keyed")]
    parts: Option<crate::engine::KeyParts>,
}

impl Settled {
    /// Finishes a [`settler`].
    pub fn of(settler: Settler) -> Result<Settled> {
        #[cfg(feature = "keyed")]
        {
            let (statement, parts) = settler.finish_keyed()?;
            Ok(Settled { statement, parts })
        }
        #[cfg(not(feature = "keyed"))]
        Ok(Settled {
            statement: settler.finish()?,
        })
    }

    /// Our figures per key, in key order.
    pub fn ours(self, format: &ReportFormat, options: &ReconcileOptions) -> Result<OurSide> {
        let Settled {
            mut statement,
            #[cfg(feature = "keyed")]
            parts,
        } = self;
        let level = options.by;
        #[cfg(feature = "keyed")]
        let summed = match parts {
            Some(parts) => Some(matching::ours_from_parts(&parts, &statement)?),
            None => None,
        };
        #[cfg(not(feature = "keyed"))]
        let summed: Option<Vec<(Key, matching::Ours)>> = None;
        #[cfg_attr(not(feature = "keyed"), allow(unused_mut))]
        let mut keys = match summed {
            Some(keys) => keys,
            None => {
                if level != Level::Period && statement.lines.is_none() {
                    return Err(Error::new(
                        ErrorCode::Internal,
                        "reconcile needs a statement settled with lines",
                    ));
                }
                let clock = Clock::new(format.offset_minutes()?);
                let lines = statement.lines.take();
                matching::ours(level, &statement, lines, clock)?
                    .into_iter()
                    .collect()
            }
        };
        // The batch engine's keys come in key order already (their text's byte order); an
        // account holding a NUL byte can break that, so check rather than trust. (Lines are
        // summed into an ordered map.)
        #[cfg(feature = "keyed")]
        if !keys.is_sorted_by(|a, b| a.0 <= b.0) {
            keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(OurSide {
            program: ProgramRef {
                id: statement.program.id.clone(),
                version: statement.program.version.clone(),
                sha256: statement.program.sha256.clone(),
            },
            engine: statement.engine.clone(),
            currency: statement.currency.clone(),
            keys,
        })
    }
}

/// Our figures per key, in key order, and the statement's head.
pub struct OurSide {
    program: ProgramRef,
    engine: crate::statement::Engine,
    currency: String,
    keys: Vec<(Key, matching::Ours)>,
}

/// The report's figures per key, in key order.
pub struct TheirSide {
    keys: Vec<(Key, matching::Theirs)>,
    rows: u64,
    format: String,
}

/// Reconciles the trades settled by a [`settler`] against a report's bytes.
pub fn reconcile_settled(
    program: &Program,
    settled: Settled,
    report: &[u8],
    format: &ReportFormat,
    options: &ReconcileOptions,
) -> Result<Reconciliation> {
    matching::check_level(options.by, format, options.broker.as_deref())?;
    let ours = settled.ours(format, options)?;
    let theirs = read_report(program, report, format, options)?;
    reconcile_sides(program, ours, theirs, options)
}

/// Reconciles a statement settled with lines (`options.lines`) against a report's bytes.
pub fn reconcile(
    program: &Program,
    statement: Statement,
    report: &[u8],
    format: &ReportFormat,
    options: &ReconcileOptions,
) -> Result<Reconciliation> {
    let settled = Settled {
        statement,
        #[cfg(feature = "keyed")]
        parts: None,
    };
    reconcile_settled(program, settled, report, format, options)
}

/// The tolerance asked for, or one unit of the program's currency scale.
fn tolerance(program: &Program, options: &ReconcileOptions) -> Result<Decimal> {
    match options.tolerance {
        Some(t) if t < Decimal::ZERO => {
            Err(Error::new(ErrorCode::Options, "tolerance must be >= 0").field("tolerance"))
        }
        Some(t) => Ok(t),
        None => Ok(Decimal::new(1, program.currency_scale().min(28))),
    }
}

/// Reads the exchange's report into per-key sums; a row that cannot be read, or two rows
/// with one key, is an error with its line. Independent of our side, so a host may read it
/// while the trades settle.
pub fn read_report(
    program: &Program,
    report: &[u8],
    format: &ReportFormat,
    options: &ReconcileOptions,
) -> Result<TheirSide> {
    let level = options.by;
    matching::check_level(level, format, options.broker.as_deref())?;
    tolerance(program, options)?;
    let mut theirs: BTreeMap<Key, matching::Theirs> = BTreeMap::new();
    let mut seen: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut report_rows = 0u64;
    let default_broker = options.broker.as_deref();
    report::read(report, format, &mut |mut r, column_of| {
        report_rows += 1;
        if r.broker.is_none() {
            r.broker = default_broker.map(ToString::to_string);
        }
        let key = matching::row_key(level, &r, column_of, program, default_broker)?;
        // Without a format key the match key is the row's identity: the map of theirs
        // already holds it (no second copy of every key).
        let (identity, first) = if format.key.is_empty() {
            (key.values(), theirs.get(&key).map(|t| t.line))
        } else {
            let identity = matching::identity(&r, &format.key);
            let first = seen.insert(identity.clone(), r.line);
            (identity, first)
        };
        if let Some(first) = first {
            let what = if format.key.is_empty() {
                Vec::from([level.as_str()])
            } else {
                format.key.iter().map(|f| f.as_str()).collect()
            };
            let mut e = Error::new(
                ErrorCode::DuplicateId,
                format!(
                    "report rows at lines {first} and {} have the same key ({} = {})",
                    r.line,
                    what.join(", "),
                    identity.join(", ")
                ),
            )
            .line(r.line)
            .id(identity.join("/"));
            let field = format.key.first().copied().unwrap_or(match level {
                Level::Trade => Field::Id,
                Level::Order => Field::Order,
                Level::AccountDay => Field::Account,
                Level::Period => Field::Broker,
            });
            e = e.field(field.as_str());
            if let Some(c) = column_of(field) {
                e = e.column(c);
            }
            return Err(e);
        }
        matching::add_row(theirs.entry(key).or_default(), r)
    })?;
    let keys: Vec<(Key, matching::Theirs)> = theirs.into_iter().collect();
    Ok(TheirSide {
        keys,
        rows: report_rows,
        format: format.name.clone(),
    })
}

/// Both sides, key by key.
pub fn reconcile_sides(
    program: &Program,
    ours: OurSide,
    theirs: TheirSide,
    options: &ReconcileOptions,
) -> Result<Reconciliation> {
    let level = options.by;
    let tolerance = tolerance(program, options)?;
    let OurSide {
        program: program_ref,
        engine,
        currency,
        keys: ours,
    } = ours;
    let (report_rows, report_format) = (theirs.rows, theirs.format);
    let theirs = theirs.keys;

    // Decide every key of either side, in key order.
    let mut rows = Vec::new();
    let mut counts = Counts::default();
    let mut causes: BTreeMap<String, u64> = Cause::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 0))
        .collect();
    let (mut our_total, mut their_total) = (Decimal::ZERO, Decimal::ZERO);
    let mut keys = 0u64;
    let mut ti = theirs.into_iter().peekable();
    let mut oi = ours.into_iter().peekable();
    loop {
        let (key, o, t) = match (oi.peek(), ti.peek()) {
            (None, None) => break,
            (Some((ok, _)), Some((tk, _))) if ok == tk => {
                let (k, o) = oi.next().unwrap();
                let (_, t) = ti.next().unwrap();
                (k, Some(o), Some(t))
            }
            (Some((ok, _)), Some((tk, _))) if ok < tk => {
                let (k, o) = oi.next().unwrap();
                (k, Some(o), None)
            }
            (Some(_), None) => {
                let (k, o) = oi.next().unwrap();
                (k, Some(o), None)
            }
            _ => {
                let (k, t) = ti.next().unwrap();
                (k, None, Some(t))
            }
        };
        let Some(d) = cause::decide(o.as_ref(), t.as_ref(), tolerance, program)? else {
            continue;
        };
        let broker = o
            .as_ref()
            .and_then(|o| o.broker.clone())
            .or_else(|| t.as_ref().and_then(|t| t.broker.clone()));
        // A report of one broker: our other brokers' keys it lacks are not its business.
        if let (Some(b), None) = (&options.broker, &t) {
            if broker.as_ref() != Some(b) {
                continue;
            }
        }
        keys += 1;
        let oc = o.as_ref().map_or(Decimal::ZERO, |o| o.commission);
        let tc = t.as_ref().map_or(Decimal::ZERO, |t| t.commission);
        our_total = money::total(our_total, oc)?;
        their_total = money::total(their_total, tc)?;
        match d.status {
            Status::Matched => counts.matched += 1,
            Status::Differs => counts.differs += 1,
            Status::OnlyOurs => counts.only_ours += 1,
            Status::OnlyTheirs => counts.only_theirs += 1,
        }
        if let Some(c) = d.cause {
            *causes.entry(c.as_str().to_string()).or_default() += 1;
        }
        if d.status == Status::Matched && !options.all {
            continue;
        }
        rows.push(Row {
            key,
            broker,
            status: d.status,
            cause: d.cause,
            detail: d.detail,
            ours: o.map(|o| Figures {
                count: o.trades,
                volume: Some(money::canonical(o.volume)),
                fee: Some(money::canonical(o.fee)),
                tier: o.tier,
                rate: Some(money::canonical(o.rate)),
                commission: money::canonical(o.commission),
            }),
            theirs: t.map(|t| Figures {
                count: t.rows,
                volume: t.volume.map(money::canonical),
                fee: t.fee.map(money::canonical),
                tier: t.tier,
                rate: t.rate.map(money::canonical),
                commission: money::canonical(t.commission),
            }),
            difference: money::canonical(money::sub(tc, oc)?),
        });
    }
    Ok(Reconciliation {
        program: program_ref,
        engine,
        currency,
        by: level,
        report_format,
        tolerance: money::canonical(tolerance),
        summary: ReconcileSummary {
            keys,
            counts,
            causes,
            ours: money::canonical(our_total),
            theirs: money::canonical(their_total),
            difference: money::canonical(money::sub(their_total, our_total)?),
            report_rows,
        },
        rows,
    })
}
