//! Report formats: how an exchange's commission report is laid out. A format is data (JSON,
//! `schemas/report-format.schema.json`), so a user whose exchange changes a column name edits
//! a file instead of waiting for a release. Three are built in.

use crate::error::{Error, ErrorCode, Result};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// What a report column means, by the trade field it corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The broker code the report credits.
    Broker,
    /// The client account (uid).
    Account,
    /// The exchange's order id.
    Order,
    /// The trade (fill) id.
    Id,
    /// The instrument id.
    Instrument,
    /// The product (spot, futures...), part of a row's key in some reports.
    Product,
    /// An instant (RFC 3339 or epoch milliseconds, see [`ReportFormat::time`]).
    Time,
    /// A calendar day `YYYY-MM-DD` in the report's day offset.
    Day,
    /// Traded volume; several columns mapped to it are added (OKX: spot + derivatives).
    Volume,
    /// The fee base: the fee the commission was computed on. Several columns are added.
    Fee,
    /// The commission paid to the broker. Several columns are added.
    Commission,
    /// The tier (level) name the report states.
    Tier,
    /// The rate the report states.
    Rate,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Broker => "broker",
            Field::Account => "account",
            Field::Order => "order",
            Field::Id => "id",
            Field::Instrument => "instrument",
            Field::Product => "product",
            Field::Time => "time",
            Field::Day => "day",
            Field::Volume => "volume",
            Field::Fee => "fee",
            Field::Commission => "commission",
            Field::Tier => "tier",
            Field::Rate => "rate",
        }
    }

    pub fn from_name(s: &str) -> Option<Field> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }

    /// Fields holding decimals (summed when several columns or rows meet in one key).
    pub fn is_decimal(self) -> bool {
        matches!(
            self,
            Field::Volume | Field::Fee | Field::Commission | Field::Rate
        )
    }
}

/// How the report writes instants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimeEncoding {
    /// `2026-06-10T13:45:00Z`.
    #[default]
    Rfc3339,
    /// Milliseconds since 1970-01-01T00:00:00Z (OKX's `ts`).
    EpochMs,
}

/// The layout of a commission report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportFormat {
    /// The format's name (`okx-rebate-per-orders`, or your own).
    pub name: String,
    /// Report column name -> the field it holds. Every column named here must be in the
    /// report's header; other columns are ignored.
    #[serde(default)]
    pub columns: BTreeMap<String, Field>,
    /// The fields identifying one row; two rows with the same key are an error. Empty: the
    /// key of the level matched at.
    #[serde(default)]
    pub key: Vec<Field>,
    /// How `time` columns are written.
    #[serde(default)]
    pub time: TimeEncoding,
    /// The UTC offset the report's days are in, e.g. `+08:00` (Bitget): `day` columns, and
    /// days derived from `time` when matching by `account-day`.
    #[serde(default = "utc")]
    pub day_offset: String,
    /// Decimal fields whose sign the report flips: OKX reports fees charged as negative
    /// numbers, so its format negates `fee`. By default a positive commission is paid to
    /// the broker and a positive fee is paid by the client.
    #[serde(default)]
    pub negate: Vec<Field>,
    /// Free text: what the format assumes.
    #[serde(default)]
    pub notes: Vec<String>,
}

fn utc() -> String {
    "+00:00".into()
}

/// The built-in format names.
pub const BUILTIN: [&str; 3] = [
    "okx-rebate-per-orders",
    "bitget-customer-commissions",
    "generic",
];

const OKX: &str = r#"{
  "name": "okx-rebate-per-orders",
  "columns": {
    "brokerCode": "broker", "uid": "account", "instId": "instrument", "ordId": "order",
    "spotTradeAmt": "volume", "derivativeTradeAmt": "volume", "netFee": "fee",
    "brokerRebate": "commission", "level": "tier", "ts": "time"
  },
  "key": ["order"],
  "time": "epoch_ms",
  "day_offset": "+00:00",
  "negate": ["fee"],
  "notes": [
    "OKX broker rebate per orders: one row per order; ts is epoch milliseconds (UTC).",
    "The fee base is netFee (the fee after discounts), which OKX reports as a negative number (fee charged); brokerRebate is positive when paid to the broker.",
    "Volume is spotTradeAmt + derivativeTradeAmt."
  ]
}"#;

const BITGET: &str = r#"{
  "name": "bitget-customer-commissions",
  "columns": {
    "uid": "account", "date": "day", "symbol": "instrument", "productType": "product",
    "dealAmount": "volume", "feePaid": "fee", "rebateAmount": "commission"
  },
  "key": ["account", "day", "instrument", "product"],
  "time": "rfc3339",
  "day_offset": "+08:00",
  "negate": [],
  "notes": [
    "Bitget customer commissions: one row per client, day, symbol and product; days are UTC+8 (date as YYYY-MM-DD).",
    "The fee base is feePaid (fee after feeDeduction); rebateAmount is the broker's commission."
  ]
}"#;

const GENERIC: &str = r#"{
  "name": "generic",
  "columns": {},
  "key": [],
  "time": "rfc3339",
  "day_offset": "+00:00",
  "negate": [],
  "notes": ["No columns of its own: map each column with --map column=field (request field map)."]
}"#;

impl ReportFormat {
    /// A built-in format by name, or `E_OPTIONS` naming the known ones.
    pub fn builtin(name: &str) -> Result<ReportFormat> {
        let text = match name {
            "okx-rebate-per-orders" => OKX,
            "bitget-customer-commissions" => BITGET,
            "generic" => GENERIC,
            other => {
                return Err(Error::new(
                    ErrorCode::Options,
                    format!(
                        "unknown report format {other:?} (built in: {}; or pass a format object)",
                        BUILTIN.join(", ")
                    ),
                )
                .field("report_format"))
            }
        };
        Ok(serde_json::from_str(text).expect("built-in report formats parse"))
    }

    /// Adds column mappings (`column -> field name`) over the format's own.
    pub fn with_map(mut self, map: &BTreeMap<String, String>) -> Result<ReportFormat> {
        for (column, field) in map {
            let f = Field::from_name(field).ok_or_else(|| {
                Error::new(
                    ErrorCode::Options,
                    format!(
                        "map: {column:?} maps to unknown field {field:?} (fields: broker, account, order, id, instrument, product, time, day, volume, fee, commission, tier, rate)"
                    ),
                )
                .field(format!("map.{column}"))
            })?;
            self.columns.insert(column.clone(), f);
        }
        Ok(self)
    }

    /// Whether some column holds `f`.
    pub fn has(&self, f: Field) -> bool {
        self.columns.values().any(|x| *x == f)
    }

    /// The report's day offset in minutes.
    pub fn offset_minutes(&self) -> Result<i32> {
        crate::time::parse_offset(&self.day_offset).map_err(|e| {
            Error::new(ErrorCode::Options, e.message.to_string()).field("report_format.day_offset")
        })
    }
}
