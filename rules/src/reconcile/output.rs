//! The result of `reconcile`: canonical JSON (fixed key order, decimals as plain strings),
//! the same bytes from every host; `schemas/reconciliation.schema.json`.

use super::matching::{Key, Level};
use crate::statement::{Engine, ProgramRef};
use alloc::collections::BTreeMap;
use serde::Serialize;
use std::string::String;
use std::vec::Vec;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Reconciliation {
    pub program: ProgramRef,
    pub engine: Engine,
    pub currency: String,
    /// The level keys were matched at.
    pub by: Level,
    /// The report format's name.
    pub report_format: String,
    /// Absolute tolerance, in the currency, inclusive.
    pub tolerance: String,
    pub summary: ReconcileSummary,
    /// Every key not matched (and the matched ones when `all` is asked), sorted by key.
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReconcileSummary {
    /// Keys counted (keys neither side pays are not).
    pub keys: u64,
    pub counts: Counts,
    /// Every cause code with its count (0 when absent); `rounding` counts matched keys.
    pub causes: BTreeMap<String, u64>,
    /// Our exact commission over the counted keys.
    pub ours: String,
    /// The report's commission over the counted keys.
    pub theirs: String,
    /// `theirs - ours`: positive when the report pays more than the engine computes.
    pub difference: String,
    /// Rows read from the report.
    pub report_rows: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Counts {
    pub matched: u64,
    pub differs: u64,
    pub only_ours: u64,
    pub only_theirs: u64,
}

/// A key's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Both sides agree within the tolerance.
    Matched,
    /// Both sides pay, by amounts further apart than the tolerance.
    Differs,
    /// We pay; the report has no row for the key.
    OnlyOurs,
    /// The report pays; we have no trade for the key, or pay nothing on its trades.
    OnlyTheirs,
}

/// Why a key differs (the documented, fixed list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Their fee base differs from the fees we counted.
    FeeBase,
    /// Same base, another rate: a tier or bound-client disagreement.
    Rate,
    /// We excluded the trades (the reason is in `detail.reason`).
    Excluded,
    /// The report has the key and pays nothing where we pay.
    NotPaid,
    /// The report credits another broker, or a trade we attribute to no broker.
    Attribution,
    /// The report's key has no trades in our log, or more volume than ours.
    MissingTrades,
    /// We pay; the report has no row.
    NotInReport,
    /// Within the tolerance but not equal: matched, and counted.
    Rounding,
}

impl Cause {
    pub const ALL: [Cause; 8] = [
        Cause::FeeBase,
        Cause::Rate,
        Cause::Excluded,
        Cause::NotPaid,
        Cause::Attribution,
        Cause::MissingTrades,
        Cause::NotInReport,
        Cause::Rounding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::FeeBase => "fee_base",
            Cause::Rate => "rate",
            Cause::Excluded => "excluded",
            Cause::NotPaid => "not_paid",
            Cause::Attribution => "attribution",
            Cause::MissingTrades => "missing_trades",
            Cause::NotInReport => "not_in_report",
            Cause::Rounding => "rounding",
        }
    }
}

/// What a cause needs to be acted on; only the parts that can be told are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Detail {
    /// Our exclusion reason (`vip6_plus`, `non_api_channel`, `no_broker`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Our tier and the tier their figure implies (the report's own, or the level whose rate
    /// equals their commission / fee base).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub our_tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub their_tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub our_rate: Option<String>,
    /// Their commission / fee base, when it divides exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub their_rate: Option<String>,
    /// The broker the report credits, where it is not ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub their_broker: Option<String>,
    /// `their fee - our fee` (fee_base), `their volume - our volume` (missing_trades).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_difference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_difference: Option<String>,
}

/// One side's figures for a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Figures {
    /// Our trades in the key, or the report's rows.
    pub count: u64,
    pub volume: Option<String>,
    /// The fee base.
    pub fee: Option<String>,
    pub tier: Option<String>,
    pub rate: Option<String>,
    /// Ours: exact, unrounded. Theirs: as the report states it (sign per the format).
    pub commission: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Row {
    pub key: Key,
    /// Our broker for the key, else the one the report credits.
    pub broker: Option<String>,
    pub status: Status,
    /// Null for a key matched exactly.
    pub cause: Option<Cause>,
    pub detail: Detail,
    /// Null when we have no trade for the key.
    pub ours: Option<Figures>,
    /// Null when the report has no row for the key.
    pub theirs: Option<Figures>,
    /// `theirs - ours` commission.
    pub difference: String,
}
