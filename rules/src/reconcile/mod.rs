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
use report::ReportRow;
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
        let head = |st: &Statement| {
            (
                ProgramRef {
                    id: st.program.id.clone(),
                    version: st.program.version.clone(),
                    sha256: st.program.sha256.clone(),
                },
                st.engine.clone(),
                st.currency.clone(),
            )
        };
        // The batch engine's keys stay in its table (text interned, priced per key) until
        // both sides meet: owned keys are built only for the rows listed.
        #[cfg(feature = "keyed")]
        if let Some(parts) = parts {
            let withheld = matching::withheld_brokers(&statement)
                .into_iter()
                .map(ToString::to_string)
                .collect();
            let (program, engine, currency) = head(&statement);
            return Ok(OurSide {
                program,
                engine,
                currency,
                keys: OurKeys::Parts { parts, withheld },
            });
        }
        if level != Level::Period && statement.lines.is_none() {
            return Err(Error::new(
                ErrorCode::Internal,
                "reconcile needs a statement settled with lines",
            ));
        }
        let clock = Clock::new(format.offset_minutes()?);
        let lines = statement.lines.take();
        let keys = matching::ours(level, &statement, lines, clock)?
            .into_iter()
            .collect();
        let (program, engine, currency) = head(&statement);
        Ok(OurSide {
            program,
            engine,
            currency,
            keys: OurKeys::Keys(keys),
        })
    }
}

/// Our figures per key, in key order, and the statement's head.
pub struct OurSide {
    program: ProgramRef,
    engine: crate::statement::Engine,
    currency: String,
    keys: OurKeys,
}

enum OurKeys {
    /// Owned keys in key order (per-trade lines, or the periods at `period`).
    Keys(Vec<(Key, matching::Ours)>),
    /// The batch engine's priced keys in their table (key text order) and the brokers the
    /// statement withholds.
    #[cfg(feature = "keyed")]
    Parts {
        parts: crate::engine::KeyParts,
        withheld: Vec<String>,
    },
}

impl OurKeys {
    /// Owned keys in key order.
    fn owned(self) -> Result<Vec<(Key, matching::Ours)>> {
        match self {
            OurKeys::Keys(k) => Ok(k),
            #[cfg(feature = "keyed")]
            OurKeys::Parts { parts, withheld } => {
                let mut keys = Vec::with_capacity(parts.len());
                for (text, ps) in parts.keys() {
                    keys.push((text.key(), matching::ours_of_parts(ps, &withheld)?));
                }
                // An account holding a NUL byte can break the text's order: check.
                if !keys.is_sorted_by(|a, b| a.0 <= b.0) {
                    keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                }
                Ok(keys)
            }
        }
    }
}

/// The report's figures per key.
pub struct TheirSide {
    keys: TheirKeys,
    rows: u64,
    format: String,
}

enum TheirKeys {
    /// Owned keys in key order (`period`).
    Keys(Vec<(Key, matching::Theirs)>),
    /// Keys below `period` by their tagged text ([`matching::KeyText::encode`]), in the
    /// order first met, with a hash index.
    #[cfg(feature = "keyed")]
    Text(TextTable<matching::Theirs>),
}

impl TheirKeys {
    /// Owned keys in key order.
    fn owned(self) -> Vec<(Key, matching::Theirs)> {
        match self {
            TheirKeys::Keys(k) => k,
            #[cfg(feature = "keyed")]
            TheirKeys::Text(t) => {
                let mut keys: Vec<(Key, matching::Theirs)> = Vec::with_capacity(t.values.len());
                let TextTable {
                    text, ends, values, ..
                } = t;
                for (i, v) in values.into_iter().enumerate() {
                    let start = if i == 0 { 0 } else { ends[i - 1] };
                    keys.push((matching::KeyText::decode(&text[start..ends[i]]).key(), v));
                }
                keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                keys
            }
        }
    }
}

/// Values by byte-string key: the keys' bytes in one arena, a hash index beside them.
#[cfg(feature = "keyed")]
struct TextTable<V> {
    text: Vec<u8>,
    ends: Vec<usize>,
    values: Vec<V>,
    table: hashbrown::HashTable<(u64, u32)>,
}

#[cfg(feature = "keyed")]
impl<V> TextTable<V> {
    fn new() -> Self {
        TextTable {
            text: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
            table: hashbrown::HashTable::new(),
        }
    }

    fn text(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn find(&self, s: &[u8]) -> Option<u32> {
        let hash = xxhash_rust::xxh3::xxh3_64(s);
        self.table
            .find(hash, |&(h, i)| h == hash && self.text(i) == s)
            .map(|&(_, i)| i)
    }

    /// The index of `s`, made (with `V::default()`) when new; and whether it was new.
    fn entry(&mut self, s: &[u8]) -> (u32, bool)
    where
        V: Default,
    {
        let hash = xxhash_rust::xxh3::xxh3_64(s);
        if let Some(&(_, i)) = self
            .table
            .find(hash, |&(h, i)| h == hash && self.text(i) == s)
        {
            return (i, false);
        }
        let i = self.values.len() as u32;
        self.text.extend_from_slice(s);
        self.ends.push(self.text.len());
        self.values.push(V::default());
        self.table.insert_unique(hash, (hash, i), |&(h, _)| h);
        (i, true)
    }
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
    // Below `period` a key is its tagged text in one table: no owned key per row. (Only
    // where the batch engine keeps our keys the same way: elsewhere both sides are owned
    // keys, and the web .wasm leaves the table out.)
    #[cfg(feature = "keyed")]
    if level != Level::Period {
        return read_report_text(report, format, options);
    }
    let mut theirs: BTreeMap<Key, matching::Theirs> = BTreeMap::new();
    let mut seen: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut report_rows = 0u64;
    let default_broker = options.broker.as_deref();
    each_row(
        report,
        format,
        options,
        &mut report_rows,
        &mut |r, column_of| {
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
                return Err(duplicate(level, format, &r, first, &identity, column_of));
            }
            matching::add_row(theirs.entry(key).or_default(), r)
        },
    )?;
    let keys: Vec<(Key, matching::Theirs)> = theirs.into_iter().collect();
    Ok(TheirSide {
        keys: TheirKeys::Keys(keys),
        rows: report_rows,
        format: format.name.clone(),
    })
}

/// [`read_report`] below `period`: the rows' keys as tagged text in one hashed table.
#[cfg(feature = "keyed")]
fn read_report_text(
    report: &[u8],
    format: &ReportFormat,
    options: &ReconcileOptions,
) -> Result<TheirSide> {
    let level = options.by;
    let mut table: TextTable<matching::Theirs> = TextTable::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut report_rows = 0u64;
    each_row(
        report,
        format,
        options,
        &mut report_rows,
        &mut |r, column_of| {
            buf.clear();
            matching::row_text(level, &r, column_of)?.encode(&mut buf);
            let (i, new) = table.entry(&buf);
            let first = if format.key.is_empty() {
                (!new).then(|| table.values[i as usize].line)
            } else {
                seen.insert(matching::identity(&r, &format.key), r.line)
            };
            if let Some(first) = first {
                let identity = if format.key.is_empty() {
                    matching::row_text(level, &r, column_of)?.key().values()
                } else {
                    matching::identity(&r, &format.key)
                };
                return Err(duplicate(level, format, &r, first, &identity, column_of));
            }
            matching::add_row(&mut table.values[i as usize], r)
        },
    )?;
    Ok(TheirSide {
        keys: TheirKeys::Text(table),
        rows: report_rows,
        format: format.name.clone(),
    })
}

/// Every row of the report, counted into `rows`, with the options' broker where the row
/// names none (both ways of keeping the report read rows this way).
fn each_row(
    report: &[u8],
    format: &ReportFormat,
    options: &ReconcileOptions,
    rows: &mut u64,
    f: &mut dyn FnMut(ReportRow, report::ColumnOf<'_>) -> Result<()>,
) -> Result<()> {
    let default_broker = options.broker.as_deref();
    report::read(report, format, &mut |mut r, column_of| {
        *rows += 1;
        if r.broker.is_none() {
            r.broker = default_broker.map(ToString::to_string);
        }
        f(r, column_of)
    })
}

/// Two report rows with one key (the level's, or the format's `key`): `E_DUPLICATE_ID` at
/// the second.
fn duplicate(
    level: Level,
    format: &ReportFormat,
    r: &ReportRow,
    first: u64,
    identity: &[String],
    column_of: &dyn Fn(Field) -> Option<u64>,
) -> Error {
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
    e
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
    let mut acc = Decider {
        program,
        options,
        tolerance,
        rows: Vec::new(),
        counts: Counts::default(),
        causes: Cause::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), 0))
            .collect(),
        ours: Decimal::ZERO,
        theirs: Decimal::ZERO,
        keys: 0,
    };
    // Decide every key of either side, in key order.
    match (ours, theirs.keys) {
        #[cfg(feature = "keyed")]
        (OurKeys::Parts { parts, withheld }, TheirKeys::Text(table)) => {
            by_text(&mut acc, &parts, &withheld, table)?
        }
        (ours, theirs) => {
            let mut ti = theirs.owned().into_iter().peekable();
            let mut oi = ours.owned()?.into_iter().peekable();
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
                acc.visit(|| key, o, t)?;
            }
        }
    }
    let Decider {
        rows,
        counts,
        causes,
        ours: our_total,
        theirs: their_total,
        keys,
        ..
    } = acc;
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

/// The batch engine's keys against the report's, both by key text: each of our keys looks
/// its report row up by text; the report's keys we lack are sorted and merged in. Owned
/// keys are built only for the rows listed.
#[cfg(feature = "keyed")]
fn by_text(
    acc: &mut Decider<'_>,
    parts: &crate::engine::KeyParts,
    withheld: &[String],
    mut table: TextTable<matching::Theirs>,
) -> Result<()> {
    use matching::KeyText;
    // Each of our keys looks its report row up by its tagged text (the report's keys are
    // tagged the same way), a shard of keys per thread.
    let mut values = core::mem::take(&mut table.values);
    let mut ours = parts.runs_with(&|text| table.find(text).unwrap_or(u32::MAX));
    let mut used = vec![false; values.len()];
    for &(_, _, t) in &ours {
        if t != u32::MAX {
            used[t as usize] = true;
        }
    }
    // Key text order is key order but for an account holding a NUL byte: check.
    if !ours.is_sorted_by(|a, b| a.0.cmp_key(&b.0).is_le()) {
        ours.sort_by(|a, b| a.0.cmp_key(&b.0));
    }
    let mut only: Vec<(KeyText<'_>, u32)> = Vec::new();
    for (i, u) in used.iter().enumerate() {
        if !u {
            only.push((KeyText::decode(table.text(i as u32)), i as u32));
        }
    }
    only.sort_by(|a, b| a.0.cmp_key(&b.0));
    let take =
        |values: &mut Vec<matching::Theirs>, i: u32| core::mem::take(&mut values[i as usize]);
    let mut ti = only.into_iter().peekable();
    let mut oi = ours.into_iter().peekable();
    loop {
        let theirs_first = match (oi.peek(), ti.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(t)) => t.0.cmp_key(&o.0).is_lt(),
        };
        if theirs_first {
            let (text, i) = ti.next().unwrap();
            acc.visit(|| text.key(), None, Some(take(&mut values, i)))?;
            continue;
        }
        let (text, range, i) = oi.next().unwrap();
        // Most keys are one part that matches: decided from the two commissions alone,
        // with no owned figures built and the report's row left in place.
        if !acc.options.all {
            let mut ps = parts.parts_of(range.clone());
            if let (Some(p), None) = (ps.next(), ps.next()) {
                let t = (i != u32::MAX).then(|| values[i as usize].commission);
                if acc.matched_part(&p, withheld, t)? {
                    continue;
                }
            }
        }
        let o = matching::ours_of_parts(parts.parts_of(range), withheld)?;
        let t = (i != u32::MAX).then(|| take(&mut values, i));
        acc.visit(|| text.key(), Some(o), t)?;
    }
    Ok(())
}

/// Decides keys one by one, in key order, into rows, counts and totals.
struct Decider<'a> {
    program: &'a Program,
    options: &'a ReconcileOptions,
    tolerance: Decimal,
    rows: Vec<Row>,
    counts: Counts,
    causes: BTreeMap<String, u64>,
    ours: Decimal,
    theirs: Decimal,
    keys: u64,
}

impl Decider<'_> {
    /// A key of one part (ours) and the report's commission for it, when it has a row:
    /// counted here, as [`Decider::visit`] would, when the key is matched or not counted
    /// (`true`); `false` when it needs `visit` (a difference). Only without `all`, where
    /// matched keys are not listed.
    #[cfg(feature = "keyed")]
    fn matched_part<S: AsRef<str>>(
        &mut self,
        p: &matching::KeyPart<'_>,
        withheld: &[S],
        theirs: Option<Decimal>,
    ) -> Result<bool> {
        // Our commission as `ours_of_parts` gives it for one part.
        let oc = matching::paid(p, matching::is_withheld(p, withheld));
        let Some(tc) = theirs else {
            // Only ours: not counted when we pay nothing (`cause::decide`).
            return Ok(oc.is_zero());
        };
        let Some(cause) = cause::compare(oc, tc, self.tolerance)?.matched else {
            return Ok(false);
        };
        self.tally(Status::Matched, cause, oc, tc)?;
        Ok(true)
    }

    /// Counts one decided key: its status and cause, and both sides' commissions in the totals.
    fn tally(
        &mut self,
        status: Status,
        cause: Option<Cause>,
        oc: Decimal,
        tc: Decimal,
    ) -> Result<()> {
        self.keys += 1;
        self.ours = money::total(self.ours, oc)?;
        self.theirs = money::total(self.theirs, tc)?;
        match status {
            Status::Matched => self.counts.matched += 1,
            Status::Differs => self.counts.differs += 1,
            Status::OnlyOurs => self.counts.only_ours += 1,
            Status::OnlyTheirs => self.counts.only_theirs += 1,
        }
        if let Some(c) = cause {
            *self.causes.entry(c.as_str().to_string()).or_default() += 1;
        }
        Ok(())
    }

    /// One key; `key` builds it when the key is listed.
    fn visit(
        &mut self,
        key: impl FnOnce() -> Key,
        o: Option<matching::Ours>,
        t: Option<matching::Theirs>,
    ) -> Result<()> {
        let options = self.options;
        let Some(d) = cause::decide(o.as_ref(), t.as_ref(), self.tolerance, self.program)? else {
            return Ok(());
        };
        // A report of one broker: our other brokers' keys it lacks are not its business.
        if let (Some(b), None) = (&options.broker, &t) {
            let ours = o.as_ref().and_then(|o| o.broker.as_ref());
            if ours != Some(b) {
                return Ok(());
            }
        }
        let oc = o.as_ref().map_or(Decimal::ZERO, |o| o.commission);
        let tc = t.as_ref().map_or(Decimal::ZERO, |t| t.commission);
        self.tally(d.status, d.cause, oc, tc)?;
        if d.status == Status::Matched && !options.all {
            return Ok(());
        }
        let broker = o
            .as_ref()
            .and_then(|o| o.broker.clone())
            .or_else(|| t.as_ref().and_then(|t| t.broker.clone()));
        self.rows.push(Row {
            key: key(),
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
        Ok(())
    }
}
