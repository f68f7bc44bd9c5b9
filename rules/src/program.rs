//! Programs as data. [`ProgramSpec`] is the JSON file, field for field; [`Program`] is a spec
//! that passed validation, with its expressions compiled and its canonical hash computed.
//! Only a [`Program`] can be settled, so an invalid program never reaches the hot path.

use crate::error::{Error, ErrorCode, Result};
use crate::formula::{Expr, Scope, Ty, Vars};
use crate::money::{self, Rounding};
use crate::time::{self, Clock};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A program file. Unknown fields are an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// Short identifier, e.g. `backpack`.
    pub id: String,
    pub name: String,
    pub version: String,
    /// The assumptions the file makes, in words.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Fixed UTC offset of day and month boundaries, e.g. `+00:00` or `+08:00`.
    #[serde(default = "utc")]
    pub utc_offset: String,
    pub attribution: AttributionSpec,
    /// Predicates that stop a trade's commission, checked in order; the first match wins.
    #[serde(default)]
    pub exclusions: Vec<ExclusionSpec>,
    pub tiers: TiersSpec,
    /// Commission of one eligible trade, e.g. `fee * tier_rate`.
    pub formula: String,
    #[serde(default)]
    pub negative_fees: NegativeFees,
    #[serde(default)]
    pub caps: Vec<CapSpec>,
    /// Whether a parent broker takes `parent_share` of a sub-broker's commission (registry).
    #[serde(default)]
    pub sub_broker_share: bool,
    /// Whether an account enrolled as broker and affiliate has its commission withheld.
    #[serde(default)]
    pub broker_affiliate_exclusive: bool,
    /// Part of each client's commission is passed back to the client: the registry's
    /// `clients[].kickback` share (after the client's cap, before the sub-broker share),
    /// reported per period as `kickback`; `commission` is the broker's part.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub client_kickback: bool,
    pub settlement: SettlementSpec,
}

fn utc() -> String {
    "+00:00".into()
}

/// How trades are attributed to brokers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AttributionSpec {
    /// Sources in precedence order: the first that names a broker wins.
    pub sources: Vec<AttributionSource>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttributionSource {
    /// The broker code the order carried (tag, header, API key).
    BrokerCode,
    /// The trade's account is a sub-account linked to an independent broker's master account.
    SubAccount,
}

impl AttributionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributionSource::BrokerCode => "broker_code",
            AttributionSource::SubAccount => "sub_account",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExclusionSpec {
    /// Stable reason code reported on statements, e.g. `vip6_plus`.
    pub reason: String,
    /// Predicate over trade variables, e.g. `vip >= 6`.
    pub when: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TiersSpec {
    pub window: Window,
    /// Which attributed trades feed the metrics.
    #[serde(default)]
    pub basis: Basis,
    #[serde(default)]
    pub mode: Mode,
    /// Named metrics the ladders test.
    pub metrics: BTreeMap<String, MetricSpec>,
    /// Names of the rates every level defines; the first is `tier_rate`.
    pub rates: Vec<String>,
    /// Levels, lowest first. Below the lowest reached level: no tier, every rate 0.
    pub levels: Vec<LevelSpec>,
    /// Ladders combined by max; a step is reached when all its thresholds are met (`>=`).
    pub ladders: Vec<LadderSpec>,
    /// A parent broker's tier metrics count the trades of every broker under it in the
    /// registry (its sub-brokers, theirs, ...) as well as its own: a group's volume and
    /// active clients. Default false: each broker's own trades. Statements then list the
    /// sub-brokers counted (`metrics_sub_brokers`).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub count_sub_brokers: bool,
}

/// The window a tier is measured over, relative to the trade's (local) day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    /// `days` whole days ending the day before the trade's day, or on it.
    RollingDays {
        days: u32,
        include_current_day: bool,
    },
    /// The trade's calendar month (`same`) or the month before it (`previous`).
    CalendarMonth { month: MonthChoice },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MonthChoice {
    Same,
    Previous,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Every attributed trade counts, excluded or not (an excluded VIP 6 trade adds volume).
    #[default]
    Attributed,
    /// Only trades that earn commission count.
    Eligible,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// All trades of a day pay the rate of the level the window reached.
    #[default]
    Volume,
    /// Each trade pays the rate of the level reached by the window's volume before it
    /// (trades in time order, then id), so each slice of volume pays its own rate.
    Graduated,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub kind: MetricKind,
    /// Products that count; absent = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    /// Channels that count; absent = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// A predicate over the trade's variables (as an exclusion's `when`); only trades for
    /// which it holds count, e.g. `attribution == 'sub_account' or channel == 'api'`: an
    /// independent broker's volume from every channel, a broker code's from `api` only.
    /// Absent = every trade the filters above let through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Sum of notional.
    Volume,
    /// Distinct client accounts with at least one counted trade.
    ActiveClients,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    pub name: String,
    /// One value per name in `tiers.rates`, as `"0.25"` or `"25%"`.
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    #[serde(with = "rate_map")]
    pub rates: BTreeMap<String, Decimal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LadderSpec {
    pub name: String,
    pub steps: Vec<StepSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The level this step reaches.
    pub level: String,
    /// Minimum value of each metric (`>=`).
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    #[serde(with = "rate_map")]
    pub min: BTreeMap<String, Decimal>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NegativeFees {
    /// A trade with a negative commission earns 0.
    #[default]
    Floor,
    /// Negative commissions offset positive ones within the period; the period total is
    /// floored at 0 (a broker never owes).
    Net,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CapSpec {
    pub scope: CapScope,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    #[serde(with = "money::as_string")]
    pub amount: Decimal,
    /// For `client_month`: which trades the cap covers (absent = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CapScope {
    /// Commission from one client account in one calendar month.
    ClientMonth,
    /// Commission of one broker in one settlement period.
    BrokerPeriod,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SettlementSpec {
    pub period: Period,
    /// Credit time = period end + this many minutes (T+1 09:00 for a UTC day is 540).
    pub credit_delay_minutes: u32,
    /// Currency code, e.g. `USDT`.
    pub currency: String,
    /// Fractional digits of a payable amount.
    pub scale: u32,
    pub rounding: Rounding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Hour,
    Day,
    Month,
}

mod rate_map {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Decimal>,
        s: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(m.len()))?;
        for (k, v) in m {
            map.serialize_entry(k, &money::canonical(*v))?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> core::result::Result<BTreeMap<String, Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "money::as_string")] Decimal);
        let m: BTreeMap<String, W> = BTreeMap::deserialize(d)?;
        Ok(m.into_iter().map(|(k, W(v))| (k, v)).collect())
    }
}

/// A validated, compiled program.
#[derive(Clone, Debug)]
pub struct Program {
    spec: ProgramSpec,
    sha256: String,
    pub(crate) clock: Clock,
    pub(crate) exclusions: Vec<(String, Expr)>,
    pub(crate) formula: Expr,
    pub(crate) metrics: Vec<Metric>,
    /// Rates of each level; index 0 is "no tier" (all zeros), level i is `levels[i - 1]`.
    pub(crate) level_rates: Vec<Vec<Decimal>>,
    pub(crate) ladders: Vec<Vec<Step>>,
    pub(crate) client_cap: Option<(Decimal, Option<Expr>)>,
    pub(crate) period_cap: Option<Decimal>,
}

#[derive(Clone, Debug)]
pub(crate) struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub products: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub when: Option<Expr>,
    /// Index among metrics of the same kind (slot in the per-day aggregates).
    pub slot: usize,
}

impl Metric {
    /// Whether a trade with these variables counts toward the metric.
    pub fn counts(&self, vars: &Vars<'_>) -> Result<bool> {
        let listed = self
            .products
            .as_ref()
            .is_none_or(|p| p.iter().any(|x| x == vars.product))
            && self
                .channels
                .as_ref()
                .is_none_or(|c| c.iter().any(|x| x == vars.channel));
        match &self.when {
            Some(pred) if listed => pred.eval_bool(vars),
            _ => Ok(listed),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// 1-based level rank.
    pub level: usize,
    pub min: Vec<(usize, Decimal)>,
}

impl Program {
    /// Parses and validates a program file.
    pub fn from_json(text: &str) -> Result<Program> {
        let value = crate::json::parse(text).map_err(|e| Error::from_json(&e, "program"))?;
        let spec: ProgramSpec =
            serde_json::from_value(value).map_err(|e| Error::from_json(&e, "program"))?;
        Program::new(spec)
    }

    /// Validates and compiles a spec; returns the first problem. [`Program::problems`] lists all.
    pub fn new(spec: ProgramSpec) -> Result<Program> {
        let mut problems = Vec::new();
        let p = compile(spec, &mut problems);
        match (p, problems.into_iter().next()) {
            (Some(p), None) => Ok(p),
            (_, Some(e)) => Err(e),
            (None, None) => Err(Error::new(
                ErrorCode::Internal,
                "program failed without a reason",
            )),
        }
    }

    /// Every problem of a spec (empty when it is valid).
    pub fn problems(spec: ProgramSpec) -> Vec<Error> {
        let mut problems = Vec::new();
        compile(spec, &mut problems);
        problems
    }

    pub fn spec(&self) -> &ProgramSpec {
        &self.spec
    }
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    /// SHA-256 (hex) of the canonical JSON of the program.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// Canonical JSON: fixed key order, decimals as canonical strings.
    pub fn to_json(&self) -> String {
        canonical_json(&self.spec)
    }
    /// Level names, lowest first.
    pub fn level_names(&self) -> impl Iterator<Item = &str> {
        self.spec.tiers.levels.iter().map(|l| l.name.as_str())
    }
    pub(crate) fn level_name(&self, rank: usize) -> Option<&str> {
        rank.checked_sub(1)
            .map(|i| self.spec.tiers.levels[i].name.as_str())
    }
    pub(crate) fn currency_scale(&self) -> u32 {
        self.spec.settlement.scale
    }
    pub(crate) fn metric_slots(&self, kind: MetricKind) -> usize {
        self.metrics.iter().filter(|m| m.kind == kind).count()
    }

    /// The highest level rank reached by metric values (`values[i]` is metric `i`).
    pub(crate) fn level_for(&self, values: &[Decimal]) -> usize {
        self.ladders
            .iter()
            .flat_map(|steps| steps.iter())
            .filter(|s| s.min.iter().all(|(m, thr)| values[*m] >= *thr))
            .map(|s| s.level)
            .max()
            .unwrap_or(0)
    }
}

fn canonical_json(spec: &ProgramSpec) -> String {
    serde_json::to_string(spec).unwrap_or_default()
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Longest credit delay: 366 days.
pub const MAX_CREDIT_DELAY_MINUTES: u32 = 366 * 24 * 60;

/// Reasons the engine itself assigns; a program cannot reuse them for its predicates.
pub const BUILTIN_REASONS: [&str; 3] = [
    "no_broker",
    "unenrolled_broker",
    "broker_affiliate_conflict",
];

/// Size limits of a program (docs/limits-and-errors.md). Settlement cost grows with levels
/// and steps (each trade's commission is priced per level, each day's level is found by
/// walking the ladders), and a trade's metrics are one bit each in a 64-bit mask; past these
/// a program is refused rather than settled slowly or wrongly.
pub const MAX_LEVELS: usize = 256;
pub const MAX_LADDERS: usize = 16;
pub const MAX_STEPS: usize = 256;
pub const MAX_METRICS: usize = 64;
pub const MAX_RATES: usize = 32;
pub const MAX_EXCLUSIONS: usize = 64;

/// An optional `when` predicate compiled, or its error recorded under `field`.
fn predicate(
    when: Option<&str>,
    scope: &Scope,
    field: &str,
    problems: &mut Vec<Error>,
) -> Option<Expr> {
    match Expr::compile(when?, scope, Ty::Bool) {
        Ok(e) => Some(e),
        Err(e) => {
            problems.push(e.field(field));
            None
        }
    }
}

fn compile(spec: ProgramSpec, problems: &mut Vec<Error>) -> Option<Program> {
    let mut bad =
        |msg: String, field: &str| problems.push(Error::new(ErrorCode::Program, msg).field(field));
    let t = &spec.tiers;
    let sizes = [
        ("tiers.levels", t.levels.len(), MAX_LEVELS, "levels"),
        ("tiers.ladders", t.ladders.len(), MAX_LADDERS, "ladders"),
        ("tiers.metrics", t.metrics.len(), MAX_METRICS, "metrics"),
        ("tiers.rates", t.rates.len(), MAX_RATES, "rate names"),
        (
            "exclusions",
            spec.exclusions.len(),
            MAX_EXCLUSIONS,
            "exclusions",
        ),
    ];
    let ladder_sizes = t.ladders.iter().enumerate().map(|(i, l)| {
        (
            format!("tiers.ladders[{i}].steps"),
            l.steps.len(),
            MAX_STEPS,
            "steps in a ladder",
        )
    });
    let mut too_big = false;
    for (field, n, max, what) in sizes
        .into_iter()
        .map(|(f, n, m, w)| (String::from(f), n, m, w))
        .chain(ladder_sizes)
    {
        if n > max {
            too_big = true;
            bad(format!("at most {max} {what}, got {n}"), &field);
        }
    }
    if too_big {
        // Checking the rest would cost what the limit is there to prevent.
        return None;
    }
    if !is_code(&spec.id.replace('-', "_")) {
        bad(
            format!(
                "id {:?} must be lowercase letters, digits, '-' or '_'",
                spec.id
            ),
            "id",
        );
    }
    let offset = match time::parse_offset(&spec.utc_offset) {
        Ok(o) => o,
        Err(e) => {
            problems.push(e.field("utc_offset"));
            0
        }
    };
    if spec.attribution.sources.is_empty() {
        problems.push(
            Error::new(
                ErrorCode::Program,
                "attribution.sources needs at least one source",
            )
            .field("attribution.sources"),
        );
    }
    let t = &spec.tiers;
    if t.rates.is_empty() {
        problems.push(
            Error::new(
                ErrorCode::Program,
                "tiers.rates needs at least one rate name",
            )
            .field("tiers.rates"),
        );
    }
    let reserved = [
        "tier_rate",
        "tier_level",
        "tier",
        "true",
        "false",
        "and",
        "or",
        "not",
        "in",
    ];
    for (i, r) in t.rates.iter().enumerate() {
        if !is_code(r) || reserved.contains(&r.as_str()) || t.rates[..i].contains(r) {
            problems.push(
                Error::new(
                    ErrorCode::Program,
                    format!("rate name {r:?} must be a new snake_case name"),
                )
                .field(format!("tiers.rates[{i}]")),
            );
        }
    }
    let scope_tier = Scope {
        tier: true,
        rate_names: t.rates.clone(),
    };
    let scope_trade = Scope {
        tier: false,
        rate_names: t.rates.clone(),
    };

    // Metrics, with a slot per kind.
    let mut metrics = Vec::new();
    let mut slots = [0usize; 2];
    for (name, m) in &t.metrics {
        let k = m.kind as usize;
        let when = predicate(
            m.when.as_deref(),
            &scope_trade,
            &format!("tiers.metrics.{name}.when"),
            problems,
        );
        metrics.push(Metric {
            name: name.clone(),
            kind: m.kind,
            products: m.products.clone(),
            channels: m.channels.clone(),
            when,
            slot: slots[k],
        });
        slots[k] += 1;
    }
    if let Window::RollingDays { days: 0, .. } = t.window {
        problems.push(
            Error::new(ErrorCode::Program, "a rolling window needs at least 1 day")
                .field("tiers.window.days"),
        );
    }
    if let Window::RollingDays { days, .. } = t.window {
        if days > 3660 {
            problems.push(
                Error::new(ErrorCode::Program, "a rolling window is at most 3660 days")
                    .field("tiers.window.days"),
            );
        }
    }

    // Levels.
    let mut level_rates = alloc::vec![alloc::vec![Decimal::ZERO; t.rates.len()]];
    for (i, l) in t.levels.iter().enumerate() {
        let field = format!("tiers.levels[{i}]");
        if l.name.is_empty() || t.levels[..i].iter().any(|o| o.name == l.name) {
            problems.push(
                Error::new(
                    ErrorCode::Program,
                    format!("level name {:?} must be non-empty and unique", l.name),
                )
                .field(&field),
            );
        }
        let mut rates = Vec::new();
        for r in &t.rates {
            match l.rates.get(r) {
                Some(v) => rates.push(*v),
                None => {
                    problems.push(
                        Error::new(
                            ErrorCode::Program,
                            format!("level {:?} has no rate {r:?}", l.name),
                        )
                        .field(format!("{field}.rates")),
                    );
                    rates.push(Decimal::ZERO);
                }
            }
        }
        for k in l.rates.keys() {
            if !t.rates.contains(k) {
                problems.push(
                    Error::new(
                        ErrorCode::Program,
                        format!(
                            "level {:?} has rate {k:?}, which tiers.rates does not declare",
                            l.name
                        ),
                    )
                    .field(format!("{field}.rates.{k}")),
                );
            }
        }
        level_rates.push(rates);
    }
    if t.levels.is_empty() {
        problems.push(
            Error::new(ErrorCode::Program, "tiers.levels needs at least one level")
                .field("tiers.levels"),
        );
    }

    // Ladders.
    let mut ladders = Vec::new();
    for (li, ladder) in t.ladders.iter().enumerate() {
        let mut steps = Vec::new();
        for (si, s) in ladder.steps.iter().enumerate() {
            let field = format!("tiers.ladders[{li}].steps[{si}]");
            let level = t.levels.iter().position(|l| l.name == s.level);
            if level.is_none() {
                problems.push(
                    Error::new(ErrorCode::Program, format!("unknown level {:?}", s.level))
                        .field(format!("{field}.level")),
                );
            }
            let mut min = Vec::new();
            for (m, thr) in &s.min {
                match metrics.iter().position(|x| &x.name == m) {
                    Some(mi) if *thr >= Decimal::ZERO => min.push((mi, *thr)),
                    Some(_) => problems.push(
                        Error::new(ErrorCode::Program, "thresholds must be >= 0")
                            .field(format!("{field}.min.{m}")),
                    ),
                    None => problems.push(
                        Error::new(ErrorCode::Program, format!("unknown metric {m:?}"))
                            .field(format!("{field}.min.{m}")),
                    ),
                }
            }
            if s.min.is_empty() {
                problems.push(
                    Error::new(ErrorCode::Program, "a step needs at least one threshold")
                        .field(format!("{field}.min")),
                );
            }
            steps.push(Step {
                level: level.map_or(0, |l| l + 1),
                min,
            });
        }
        if ladder.steps.is_empty() {
            problems.push(
                Error::new(ErrorCode::Program, "a ladder needs at least one step")
                    .field(format!("tiers.ladders[{li}].steps")),
            );
        }
        ladders.push(steps);
    }
    if t.ladders.is_empty() {
        problems.push(
            Error::new(
                ErrorCode::Program,
                "tiers.ladders needs at least one ladder",
            )
            .field("tiers.ladders"),
        );
    }
    if t.mode == Mode::Graduated && t.count_sub_brokers {
        problems.push(
            Error::new(
                ErrorCode::Program,
                "count_sub_brokers is not supported in graduated mode (a trade's slice would depend on other brokers' trade order)",
            )
            .field("tiers.count_sub_brokers"),
        );
    }
    if t.mode == Mode::Graduated {
        let single = ladders.len() == 1
            && ladders[0]
                .iter()
                .all(|s| s.min.len() == 1 && metrics[s.min[0].0].kind == MetricKind::Volume)
            && ladders[0].windows(2).all(|w| {
                w[0].min[0].0 == w[1].min[0].0
                    && w[0].min[0].1 < w[1].min[0].1
                    && w[0].level < w[1].level
            });
        if !single {
            problems.push(Error::new(ErrorCode::Program, "graduated mode needs one ladder whose steps each test the same volume metric, with rising thresholds and levels").field("tiers.mode"));
        }
    }

    // Expressions.
    let mut exclusions = Vec::new();
    for (i, x) in spec.exclusions.iter().enumerate() {
        if !is_code(&x.reason) || BUILTIN_REASONS.contains(&x.reason.as_str()) {
            problems.push(
                Error::new(
                    ErrorCode::Program,
                    format!(
                        "reason {:?} must be a snake_case code not used by the engine",
                        x.reason
                    ),
                )
                .field(format!("exclusions[{i}].reason")),
            );
        }
        match Expr::compile(&x.when, &scope_trade, Ty::Bool) {
            Ok(e) => exclusions.push((x.reason.clone(), e)),
            Err(e) => problems.push(e.field(format!("exclusions[{i}].when"))),
        }
    }
    let formula = match Expr::compile(&spec.formula, &scope_tier, Ty::Num) {
        Ok(f) => Some(f),
        Err(e) => {
            problems.push(e.field("formula"));
            None
        }
    };
    let mut client_cap = None;
    let mut period_cap = None;
    for (i, c) in spec.caps.iter().enumerate() {
        let field = format!("caps[{i}]");
        if c.amount < Decimal::ZERO {
            problems.push(
                Error::new(ErrorCode::Program, "a cap must be >= 0")
                    .field(format!("{field}.amount")),
            );
        }
        match c.scope {
            CapScope::ClientMonth if client_cap.is_none() => {
                let when = predicate(
                    c.when.as_deref(),
                    &scope_trade,
                    &format!("{field}.when"),
                    problems,
                );
                client_cap = Some((c.amount, when));
            }
            CapScope::BrokerPeriod if period_cap.is_none() && c.when.is_none() => {
                period_cap = Some(c.amount)
            }
            _ => problems.push(
                Error::new(
                    ErrorCode::Program,
                    "one cap per scope; `when` only on client_month",
                )
                .field(field),
            ),
        }
    }
    let s = &spec.settlement;
    if s.credit_delay_minutes > MAX_CREDIT_DELAY_MINUTES {
        problems.push(
            Error::new(
                ErrorCode::Program,
                format!(
                    "settlement.credit_delay_minutes is at most {MAX_CREDIT_DELAY_MINUTES} (366 days), got {}",
                    s.credit_delay_minutes
                ),
            )
            .field("settlement.credit_delay_minutes"),
        );
    }
    if s.scale > 18 {
        problems.push(
            Error::new(ErrorCode::Program, "settlement.scale is at most 18")
                .field("settlement.scale"),
        );
    }
    if s.currency.is_empty() {
        problems.push(
            Error::new(ErrorCode::Program, "settlement.currency is empty")
                .field("settlement.currency"),
        );
    }
    let formula = formula?;
    if !problems.is_empty() {
        return None;
    }
    let sha256 = {
        let digest = Sha256::digest(canonical_json(&spec).as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    Some(Program {
        sha256,
        clock: Clock::new(offset),
        exclusions,
        formula,
        metrics,
        level_rates,
        ladders,
        client_cap,
        period_cap,
        spec,
    })
}

impl core::str::FromStr for Program {
    type Err = Error;
    fn from_str(s: &str) -> Result<Program> {
        Program::from_json(s)
    }
}
