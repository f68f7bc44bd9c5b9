//! Settlement: the one entry point every host uses. [`Settler`] takes trades as rows
//! ([`Settler::push`]) or column batches ([`Settler::push_columns`]) and picks the engine
//! when the program loads: the batch engine ([`crate::engine`]: exact sums per broker,
//! hour or day and class, priced once per level) for every program whose formula factors
//! as `quantity * g(tier, class)` in volume mode, and the per-trade engine
//! ([`crate::general`]) for the rest (graduated mode, client caps, per-trade lines).
//! Both give the same statement bytes; the conformance runner checks it on every vector.

use crate::columns::Columns;
use crate::engine::{plan::Plan, Batch};
use crate::error::{Error, ErrorCode, Result};
use crate::general::General;
use crate::program::Program;
use crate::registry::Registry;
use crate::statement::{BrokerStatement, Explanation, Statement};
use crate::trade::TradeRef;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

pub use crate::general::window;

/// Options of `settle` and `explain`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SettleOptions {
    /// Settle trades at or after this time (RFC 3339). Earlier trades still feed the windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Settle trades before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Include one line per trade.
    #[serde(default)]
    pub lines: bool,
    /// Fail on the first bad trade (and on unknown fields, channels and products) instead of
    /// listing it under `rejected`.
    #[serde(default)]
    pub strict: bool,
    /// The trades supplied are the brokers' whole history (new brokers): no period is
    /// flagged `history: "incomplete"` when its tier window reaches before the earliest trade.
    #[serde(default)]
    pub complete_history: bool,
}

/// Which engine a [`Settler`] runs (tests and benchmarks compare them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// The batch engine when the program allows it, else the per-trade engine.
    Auto,
    /// Always the per-trade engine.
    PerTrade,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Inner {
    Batch(Batch),
    General(General),
}

/// Settlement of a stream of trades: push rows or column batches in any order, split across
/// threads ([`Settler::fork`] / [`Settler::merge`]) or processes ([`Settler::to_bytes`]),
/// then [`Settler::finish`].
#[derive(Clone, Debug)]
pub struct Settler {
    inner: Inner,
    /// `estimate`'s what-if: every pushed trade's notional and fee are multiplied by this
    /// factor (`1 + growth`) before settling ([`Settler::grown`]); `None`: as given.
    grow: Option<rust_decimal::Decimal>,
}

impl Settler {
    pub fn new(
        program: &Program,
        registry: Option<&Registry>,
        options: &SettleOptions,
    ) -> Result<Settler> {
        Settler::with_engine(program, registry, options, EngineChoice::Auto)
    }

    pub fn with_engine(
        program: &Program,
        registry: Option<&Registry>,
        options: &SettleOptions,
        engine: EngineChoice,
    ) -> Result<Settler> {
        let general = General::new(program, registry, options)?;
        let plan = match engine {
            EngineChoice::Auto => Plan::of(program, options),
            EngineChoice::PerTrade => None,
        };
        let inner = match plan {
            Some(plan) => Inner::Batch(Batch::new(
                program,
                plan,
                registry,
                options,
                general.from,
                general.to,
            )?),
            None => Inner::General(general),
        };
        Ok(Settler { inner, grow: None })
    }

    /// A settler of the same trades with every notional and fee multiplied by `factor`
    /// (`1 + growth`, > 0), exactly: `estimate`'s "what if volume grows" side. Rates, fee
    /// rates, accounts and times are unchanged, so a fee derived from `fee_rate` scales with
    /// its notional and the active clients do not grow. A product with more digits than a
    /// decimal holds stops the input with `E_INEXACT` / `E_OVERFLOW` naming the trade; it is
    /// never rounded.
    pub fn grown(
        program: &Program,
        registry: Option<&Registry>,
        options: &SettleOptions,
        factor: rust_decimal::Decimal,
    ) -> Result<Settler> {
        let mut s = Settler::new(program, registry, options)?;
        s.grow = Some(factor);
        Ok(s)
    }

    /// Keeps reconciliation's per-key sums (see `engine/keyed.rs`) when this settlement runs
    /// the batch engine; `false` for the per-trade engine, which gives lines instead.
    #[cfg(feature = "keyed")]
    pub(crate) fn keep_keys(&mut self, by: crate::engine::KeyBy) -> bool {
        match &mut self.inner {
            Inner::Batch(b) => {
                b.keyed = Some(crate::engine::Keyed::new(by));
                true
            }
            Inner::General(_) => false,
        }
    }

    /// [`Settler::finish`], with the per-key sums kept by [`Settler::keep_keys`] priced.
    #[cfg(feature = "keyed")]
    pub(crate) fn finish_keyed(self) -> Result<(Statement, Option<crate::engine::KeyParts>)> {
        let mut brokers = Vec::new();
        let mut emit = |b| {
            brokers.push(b);
            Ok(())
        };
        let (mut st, parts) = match self.inner {
            Inner::Batch(b) => b.finish_keyed(&mut emit)?,
            Inner::General(g) => (g.finish_with(&mut emit)?, None),
        };
        st.brokers = brokers;
        Ok((st, parts))
    }

    /// The statement's first fields (program, engine, currency), known before settling.
    pub fn statement_head(
        &self,
    ) -> (
        crate::statement::ProgramRef,
        crate::statement::Engine,
        String,
    ) {
        let p = match &self.inner {
            Inner::Batch(b) => &b.p,
            Inner::General(g) => &g.p,
        };
        let spec = p.spec();
        (
            crate::statement::ProgramRef {
                id: spec.id.clone(),
                version: spec.version.clone(),
                sha256: p.sha256().into(),
            },
            crate::statement::Engine::default(),
            spec.settlement.currency.clone(),
        )
    }

    /// Prepares for about `trades` more trades (a reader that knows the input's size says
    /// so): the seen-id tables are sized once instead of growing step by step. Only memory
    /// and speed change, never the statement.
    pub fn reserve(&mut self, trades: u64) {
        if let Inner::Batch(b) = &mut self.inner {
            b.seen.reserve(trades);
        }
    }

    /// Whether the batch engine runs (else the per-trade engine).
    pub fn is_batch(&self) -> bool {
        matches!(self.inner, Inner::Batch(_))
    }

    pub fn strict(&self) -> bool {
        match &self.inner {
            Inner::Batch(b) => b.options.strict,
            Inner::General(g) => g.strict(),
        }
    }

    /// Trades accepted so far (distinct ids).
    pub fn accepted(&self) -> u64 {
        match &self.inner {
            Inner::Batch(b) => b.accepted,
            Inner::General(g) => g.accepted,
        }
    }

    /// Counts unknown fields a reader ignored.
    pub fn note_unknown_fields(&mut self, n: u64) {
        match &mut self.inner {
            Inner::Batch(b) => b.unknown_fields += n,
            Inner::General(g) => g.note_unknown_fields(n),
        }
    }

    /// Records a trade a reader could not build (lenient mode), or fails (strict mode).
    pub fn reject(&mut self, id: Option<&str>, line: Option<u64>, e: Error) -> Result<()> {
        match &mut self.inner {
            Inner::Batch(b) => b.reject(id, line, e),
            Inner::General(g) => g.reject(id, line, e),
        }
    }

    /// Settles one trade. `line` locates it in the input for error reports.
    ///
    /// Returns an error only when the input must stop: strict mode, or a duplicate id with
    /// different content (fatal in both modes: no order-independent choice exists).
    pub fn push(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        match self.grow {
            Some(f) => self.push_grown(t, f, line),
            None => self.push_as_given(t, line),
        }
    }

    /// [`Settler::push`] of a what-if settler: kept out of line, so the readers' hot loops
    /// carry one call, not the growth.
    #[inline(never)]
    fn push_grown(
        &mut self,
        t: &TradeRef<'_>,
        f: rust_decimal::Decimal,
        line: Option<u64>,
    ) -> Result<()> {
        let g = grow_trade(t, f, line)?;
        self.push_as_given(&g, line)
    }

    fn push_as_given(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        match &mut self.inner {
            Inner::Batch(b) => b.push_row(t, line),
            Inner::General(g) => g.push(t, line),
        }
    }

    /// Settles a batch of clean rows (see [`crate::columns`]).
    pub fn push_columns(&mut self, c: &Columns) -> Result<()> {
        if self.grow.is_some() {
            // Not in wasm builds: the web package has a size budget, and the row path below
            // gives the same statement, only slower.
            #[cfg(not(target_family = "wasm"))]
            if let Some(g) = self.grow.and_then(|f| grow_columns(c, f)) {
                return self.push_columns_as_given(&g);
            }
            // A grown value leaves the columns' fixed point: row by row, through `push`,
            // which multiplies exactly or names the trade that cannot be.
            for row in 0..c.len() {
                self.push(&c.trade(row), Some(c.line[row]))?;
            }
            return Ok(());
        }
        self.push_columns_as_given(c)
    }

    fn push_columns_as_given(&mut self, c: &Columns) -> Result<()> {
        match &mut self.inner {
            Inner::Batch(b) => b.push_columns(c),
            Inner::General(g) => {
                for row in 0..c.len() {
                    let t = c.trade(row);
                    g.push(&t, Some(c.line[row]))?;
                }
                Ok(())
            }
        }
    }

    /// An empty settler for another thread's share of the same input. The two share
    /// de-duplication, so an id met by both is still one trade; [`Settler::merge`] the fork
    /// back before [`Settler::finish`]. The per-trade engine cannot fork: its forks settle
    /// nothing and hand their rows back (`None`).
    #[cfg(feature = "std")]
    pub fn fork(&mut self) -> Option<Settler> {
        match &mut self.inner {
            Inner::Batch(b) => Some(Settler {
                inner: Inner::Batch(b.fork()),
                grow: self.grow,
            }),
            Inner::General(_) => None,
        }
    }

    /// An empty settler like this one (program, options, registry, engine) when nothing
    /// has been pushed to it yet and it forks: what a parallel reader keeps to start over
    /// on one thread.
    #[cfg(feature = "std")]
    pub(crate) fn blank(&self) -> Option<Settler> {
        match &self.inner {
            Inner::Batch(b) if b.is_blank() => Some(Settler {
                inner: Inner::Batch(b.blank()),
                grow: self.grow,
            }),
            _ => None,
        }
    }

    /// Adds another settler's state: a fork, or a state of another part of the input
    /// settled separately (its ids must not overlap this one's).
    pub fn merge(&mut self, other: Settler) -> Result<()> {
        if self.grow != other.grow {
            return Err(Error::new(
                ErrorCode::Partial,
                "the states settle the trades grown by different factors",
            ));
        }
        match (&mut self.inner, other.inner) {
            (Inner::Batch(a), Inner::Batch(b)) => {
                if a.p.sha256() != b.p.sha256() || a.options != b.options {
                    return Err(Error::new(
                        ErrorCode::Partial,
                        "the states settle different programs or options",
                    ));
                }
                a.merge(b)
            }
            _ => Err(Error::new(
                ErrorCode::Partial,
                "this program settles trade by trade (graduated mode, client caps or lines), so its states do not merge",
            )),
        }
    }

    /// The statement of everything pushed.
    pub fn finish(self) -> Result<Statement> {
        let mut brokers = Vec::new();
        let mut st = self.finish_with(&mut |b| {
            brokers.push(b);
            Ok(())
        })?;
        st.brokers = brokers;
        Ok(st)
    }

    /// The statement with its brokers handed to `emit` one at a time, in order, instead of
    /// kept (the returned statement's `brokers` is empty): output can be written as it is
    /// made, so memory holds one broker's periods, not every broker's.
    /// [`crate::statement::write_json`] writes the canonical JSON this way.
    pub fn finish_with(
        self,
        emit: &mut dyn FnMut(BrokerStatement) -> Result<()>,
    ) -> Result<Statement> {
        match self.inner {
            Inner::Batch(b) => b.finish(emit),
            Inner::General(g) => g.finish_with(emit),
        }
    }

    /// The state as canonical bytes (see [`crate::engine::wire`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        match &self.inner {
            // A state past a total's limit has no statement to carry: its error is the result.
            Inner::Batch(b) if b.over_limit => Err(crate::money::sum_limit()),
            #[cfg(feature = "keyed")]
            Inner::Batch(b) if b.keyed.is_some() => Err(no_partial_form()),
            Inner::Batch(b) => Ok(crate::engine::wire::encode(b)),
            Inner::General(_) => Err(no_partial_form()),
        }
    }

    /// A state from [`Settler::to_bytes`], checked against this settler's program,
    /// registry, options and engine version; merge it with [`Settler::merge`].
    pub fn from_bytes(&self, bytes: &[u8]) -> Result<Settler> {
        match &self.inner {
            Inner::Batch(b) => Ok(Settler {
                inner: Inner::Batch(crate::engine::wire::decode(b, bytes)?),
                grow: self.grow,
            }),
            Inner::General(_) => Err(no_partial_form()),
        }
    }
}

/// A batch with every notional and fee multiplied by `factor`, when every product is exact
/// at the columns' scale and fits a decimal (so the row path would give the same values);
/// `None` otherwise.
#[cfg(not(target_family = "wasm"))]
fn grow_columns(c: &Columns, factor: rust_decimal::Decimal) -> Option<Columns> {
    let f = factor.normalize();
    let (m, p) = (
        f.mantissa(),
        *crate::columns::POW10.get(f.scale() as usize)?,
    );
    let times = |v: i128| {
        let x = v.checked_mul(m)?;
        let y = (x % p == 0).then(|| x / p)?;
        crate::columns::to_decimal(y).map(|_| y)
    };
    let mut g = c.clone();
    for v in g.notional.iter_mut().chain(g.fee.iter_mut()) {
        *v = times(*v)?;
    }
    Some(g)
}

/// A trade with its notional and fee multiplied by `factor`, exactly, or the error naming it.
fn grow_trade<'a>(
    t: &TradeRef<'a>,
    factor: rust_decimal::Decimal,
    line: Option<u64>,
) -> Result<TradeRef<'a>> {
    let times = |v: rust_decimal::Decimal, field: &str| {
        crate::money::mul(v, factor).map_err(|e| {
            let e = Error::new(
                e.code,
                alloc::format!(
                    "the what-if of trade {:?}: {field} {v} x {factor}: {}",
                    t.id,
                    e.message
                ),
            )
            .field(field)
            .id(t.id);
            match line {
                Some(l) => e.line(l),
                None => e,
            }
        })
    };
    Ok(TradeRef {
        notional: times(t.notional, "notional")?,
        fee: times(t.fee, "fee")?,
        ..*t
    })
}

/// Settles a batch of owned trades.
pub fn settle(
    program: &Program,
    trades: &[crate::trade::Trade],
    registry: Option<&Registry>,
    options: &SettleOptions,
) -> Result<Statement> {
    let mut s = Settler::new(program, registry, options)?;
    for (i, t) in trades.iter().enumerate() {
        let line = Some(i as u64 + 1);
        match t.as_ref() {
            Ok(r) => s.push(&r, line)?,
            Err(e) => s.reject(Some(&t.id), line, e)?,
        }
    }
    s.finish()
}

/// Per-trade lines for a batch of owned trades.
pub fn explain(
    program: &Program,
    trades: &[crate::trade::Trade],
    registry: Option<&Registry>,
    options: &SettleOptions,
) -> Result<Explanation> {
    let opts = SettleOptions {
        lines: true,
        ..options.clone()
    };
    settle(program, trades, registry, &opts).map(Explanation::from)
}

impl From<Statement> for Explanation {
    fn from(s: Statement) -> Explanation {
        Explanation {
            program: s.program,
            engine: s.engine,
            currency: s.currency,
            lines: s.lines.unwrap_or_default(),
            rejected: s.rejected,
        }
    }
}

/// The per-trade engine keeps per-trade records where it must; its state is not a partial.
fn no_partial_form() -> Error {
    Error::new(
        ErrorCode::Partial,
        "this program settles trade by trade (graduated mode, client caps or lines), so its state has no partial form",
    )
}
