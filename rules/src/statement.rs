//! The results crossing every boundary, with decimals already in their canonical text, so
//! serializing them with serde_json gives the same bytes in every host (SPEC section 5).

use crate::error::{Error, ErrorCode};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

/// The engine that produced a result.
pub const ENGINE_NAME: &str = "broker-rules";
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProgramRef {
    pub id: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Engine {
    pub name: String,
    pub version: String,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            name: ENGINE_NAME.into(),
            version: ENGINE_VERSION.into(),
        }
    }
}

/// The result of `settle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Statement {
    pub program: ProgramRef,
    pub engine: Engine,
    pub currency: String,
    /// Sorted by broker code.
    pub brokers: Vec<BrokerStatement>,
    /// Trades refused in lenient mode, in input order.
    pub rejected: Vec<Rejected>,
    /// Per-trade lines (time, then id), or null when not requested.
    pub lines: Option<Vec<Line>>,
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BrokerStatement {
    pub broker: String,
    /// `eligible` or `withheld`.
    pub status: String,
    /// Why a broker is withheld (`broker_affiliate_conflict`), else null.
    pub reason: Option<String>,
    /// Payable total: the sum of the rounded period commissions (0 when withheld).
    pub commission: String,
    /// Sorted by start.
    pub periods: Vec<PeriodStatement>,
    /// What was computed but not paid because the broker is withheld.
    pub withheld: String,
    /// Programs with `client_kickback`: the clients' part of the commission, the sum of
    /// the rounded period kickbacks (absent for other programs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kickback: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PeriodStatement {
    pub start: String,
    pub end: String,
    pub credit_at: String,
    /// Level name of the period's last trading day, or null below the lowest level.
    pub tier: Option<String>,
    /// The level's primary rate (`tier_rate`).
    pub rate: String,
    /// Attributed volume (all attributed trades of the period; `attributed.volume`).
    pub volume: String,
    /// Fees of those trades (`attributed.fees`).
    pub fees: String,
    /// Payable commission: the exact amount below, rounded once by the program's rule; 0
    /// when the broker is withheld (the amount is then under `withheld`).
    pub commission: String,
    /// Attributed trades in the period, excluded ones included (`attributed.trades`).
    pub trades: u64,
    /// Excluded trades by reason code.
    pub excluded: BTreeMap<String, Tally>,
    /// Every named rate of the level.
    pub rates: BTreeMap<String, String>,
    /// The tier basis: each tier metric's value over `metrics_window`, the level read from.
    pub metrics: BTreeMap<String, String>,
    /// Exact payable commission before rounding (after caps and hierarchy shares; 0 when
    /// the broker is withheld).
    pub exact: String,
    /// Exact amount passed to the parent broker.
    pub to_parent: String,
    /// Exact amount received from sub-brokers.
    pub from_sub_brokers: String,
    /// Every trade attributed to the broker in the period: `eligible` + every `excluded`
    /// reason, exactly.
    pub attributed: Tally,
    /// The attributed trades the rate applied to (not excluded).
    pub eligible: Tally,
    /// Every `excluded` reason together: `attributed` = `eligible` + `excluded_total`,
    /// exactly, so no host has to subtract.
    pub excluded_total: Tally,
    /// Programs with `client_kickback`: the clients' part of the period's commission (each
    /// client's earned amount after its cap times its registry `kickback` share), rounded
    /// once; `commission` and `exact` are the broker's part (absent for other programs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kickback: Option<String>,
    /// The rounded commission computed but not paid because the broker is withheld.
    pub withheld: String,
    /// The days the tier metrics were read from, as `[start, end)`.
    pub metrics_window: Span,
    /// Programs with `tiers.count_sub_brokers`: the brokers under this one in the registry
    /// whose trades `metrics` count as well (empty for a broker with none); absent for other
    /// programs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_sub_brokers: Option<Vec<String>>,
    /// `complete`, or `incomplete` when the part of the tier window before the period
    /// reaches before the earliest trade supplied (the tier may be too low: pass the earlier
    /// trades, or state that the history is complete with the `complete_history` option). A
    /// window inside the period (backpack's month) is never history.
    pub history: String,
}

/// Trades, their volume and their fees.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tally {
    pub trades: u64,
    pub volume: String,
    pub fees: String,
}

/// A time range `[start, end)`, RFC 3339 UTC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Span {
    pub start: String,
    pub end: String,
}

/// A broker whose tier windows reach before the earliest trade supplied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncompleteHistory {
    pub broker: String,
    /// How many of its periods are `history: "incomplete"`.
    pub periods: u64,
    /// Start of the first and of the last such period.
    pub first: String,
    pub last: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rejected {
    pub id: Option<String>,
    /// CSV/NDJSON line, or 1-based position in a JSON array.
    pub line: Option<u64>,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl Rejected {
    pub fn new(id: Option<&str>, line: Option<u64>, e: &Error) -> Self {
        Rejected {
            id: id.map(Into::into).or_else(|| e.location.id.clone()),
            line: line.or(e.location.line),
            code: e.code,
            message: e.message.clone(),
            field: e.location.field.clone(),
        }
    }
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Error {
        let mut e = Error::new(r.code, r.message);
        e.location.field = r.field;
        e.location.line = r.line;
        e.location.id = r.id;
        e
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Line {
    pub id: String,
    /// The trade's order id, when the trade gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The trade's instrument id, when the trade gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
    pub broker: Option<String>,
    pub period_start: Option<String>,
    pub tier: Option<String>,
    pub rate: String,
    /// Exact commission of the trade (before period caps, shares and rounding).
    pub commission: String,
    /// Exclusion reason code, or null.
    pub excluded: Option<String>,
    /// `broker_code` or `sub_account`, or null when unattributed.
    pub attribution: Option<String>,
    pub time: String,
    /// The client account (what the dashboard's clients view groups by).
    pub account: String,
    /// The trade's notional (its attributed volume).
    pub volume: String,
    /// The fee the trade paid (the fee base): carried for `reconcile`, not written to the
    /// statement's JSON (its bytes are unchanged).
    #[serde(skip)]
    pub fee: rust_decimal::Decimal,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Summary {
    /// Settle range, as given.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Distinct trades accepted (settled or only feeding windows).
    pub trades: u64,
    /// Identical copies of an id that were counted once.
    pub duplicates: u64,
    pub rejected: u64,
    /// Unknown fields ignored in lenient mode.
    pub unknown_fields: u64,
    /// Accepted trades whose `channel` or `product` is not a known value, by field and value
    /// (lenient mode; strict rejects them): a miscased `API` is not `api`, so it earns as any
    /// non-API channel would, and this says so instead of settling it silently.
    pub unknown_values: BTreeMap<String, BTreeMap<String, u64>>,
    /// Settled-range trades no broker earns on, by reason (`no_broker`, `unenrolled_broker`).
    pub unattributed: BTreeMap<String, Tally>,
    /// Sum of all brokers' payable commission.
    pub commission: String,
    /// Time of the earliest trade supplied (settled or only feeding windows), or null.
    pub earliest_trade: Option<String>,
    /// Brokers with periods whose tier window reaches before `earliest_trade` (empty when
    /// the `complete_history` option is set).
    pub incomplete_history: Vec<IncompleteHistory>,
}

/// Explanation of individual trades.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Explanation {
    pub program: ProgramRef,
    pub engine: Engine,
    pub currency: String,
    pub lines: Vec<Line>,
    pub rejected: Vec<Rejected>,
}

/// A problem list from `validate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Validation {
    pub valid: bool,
    pub problems: Vec<Error>,
}

/// One entry of `programs()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProgramInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub currency: String,
    pub notes: Vec<String>,
}

/// Settles and writes the statement's canonical JSON (the bytes of `serde_json::to_writer`
/// on the finished [`Statement`]) while brokers are produced, so the whole statement is
/// never held: the CLI's `--format json` path for large inputs.
#[cfg(feature = "std")]
pub fn write_json<W: std::io::Write>(
    settler: crate::Settler,
    out: &mut W,
) -> crate::Result<Summary> {
    use crate::error::{Error, ErrorCode};
    let io =
        |e: std::io::Error| Error::new(ErrorCode::Internal, alloc::format!("cannot write: {e}"));
    let ser = |e: serde_json::Error| Error::new(ErrorCode::Internal, alloc::format!("{e}"));
    let mut first = true;
    let mut started = false;
    let head =
        |out: &mut W, program: &ProgramRef, engine: &Engine, currency: &str| -> crate::Result<()> {
            out.write_all(b"{\"program\":").map_err(io)?;
            serde_json::to_writer(&mut *out, program).map_err(ser)?;
            out.write_all(b",\"engine\":").map_err(io)?;
            serde_json::to_writer(&mut *out, engine).map_err(ser)?;
            out.write_all(b",\"currency\":").map_err(io)?;
            serde_json::to_writer(&mut *out, currency).map_err(ser)?;
            out.write_all(b",\"brokers\":[").map_err(io)
        };
    let (program, engine, currency) = settler.statement_head();
    let st = {
        let out_ref = &mut *out;
        settler.finish_with(&mut |b| {
            if !started {
                head(out_ref, &program, &engine, &currency)?;
                started = true;
            }
            if !first {
                out_ref.write_all(b",").map_err(io)?;
            }
            first = false;
            serde_json::to_writer(&mut *out_ref, &b).map_err(ser)
        })?
    };
    if !started {
        head(out, &st.program, &st.engine, &st.currency)?;
    }
    out.write_all(b"],\"rejected\":").map_err(io)?;
    serde_json::to_writer(&mut *out, &st.rejected).map_err(ser)?;
    out.write_all(b",\"lines\":").map_err(io)?;
    serde_json::to_writer(&mut *out, &st.lines).map_err(ser)?;
    out.write_all(b",\"summary\":").map_err(io)?;
    serde_json::to_writer(&mut *out, &st.summary).map_err(ser)?;
    out.write_all(b"}").map_err(io)?;
    Ok(st.summary)
}
