//! Trades: the owned [`Trade`] for typed callers, the borrowed [`TradeRef`] the engine
//! settles, and [`TradeBuilder`], the one place raw fields (JSON values, CSV cells, Arrow
//! columns) become a validated trade. Every reader goes through the builder, so a bad value
//! gets the same code and message whichever format it came in.

use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::time;
use alloc::format;
use alloc::string::String;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Channels and products the engine knows; strict mode rejects others.
pub const KNOWN_CHANNELS: [&str; 4] = ["api", "oauth", "web", "app"];
pub const KNOWN_PRODUCTS: [&str; 5] = ["spot", "margin", "futures", "swap", "options"];

/// The trade fields, in the order CSV headers and docs list them.
pub const FIELDS: [&str; 17] = [
    "id",
    "time",
    "account",
    "broker",
    "channel",
    "product",
    "notional",
    "fee",
    "fee_rate",
    "liquidity",
    "vip",
    "fee_discount",
    "affiliate_rate",
    "master",
    "order",
    "instrument",
    "msa",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

impl Liquidity {
    pub fn as_str(self) -> &'static str {
        match self {
            Liquidity::Maker => "maker",
            Liquidity::Taker => "taker",
        }
    }
}

/// One fill, owned. Decimals travel as strings in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Trade {
    /// Unique per exchange; the de-duplication key.
    pub id: String,
    /// RFC 3339 execution time, e.g. `2026-06-10T13:45:00Z`.
    pub time: String,
    /// The client account.
    pub account: String,
    /// Broker code carried by the order (tag / header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    /// `api`, `oauth`, `web`, `app`, or other.
    pub channel: String,
    /// `spot`, `margin`, `futures`, `swap`, `options`, or other.
    pub product: String,
    /// Trade value in the settlement currency.
    #[cfg_attr(feature = "schema", schemars(with = "DecimalString"))]
    #[serde(with = "money::as_string")]
    pub notional: Decimal,
    /// Fee paid after discounts; negative = a rebate.
    #[cfg_attr(feature = "schema", schemars(with = "Option<DecimalString>"))]
    #[serde(default, with = "opt_decimal", skip_serializing_if = "Option::is_none")]
    pub fee: Option<Decimal>,
    /// Effective fee rate; when `fee` is absent, `fee = notional * fee_rate`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<DecimalString>"))]
    #[serde(default, with = "opt_decimal", skip_serializing_if = "Option::is_none")]
    pub fee_rate: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidity: Option<Liquidity>,
    /// Client fee tier.
    #[serde(default)]
    pub vip: u32,
    /// A fee-discount instrument was used.
    #[serde(default)]
    pub fee_discount: bool,
    /// Share of the client's fees owed to the referring affiliate, in [0, 1].
    #[cfg_attr(feature = "schema", schemars(with = "Option<DecimalString>"))]
    #[serde(default, with = "opt_decimal", skip_serializing_if = "Option::is_none")]
    pub affiliate_rate: Option<Decimal>,
    /// Master account of a sub-account (independent brokers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The exchange's order id: exchange commission reports are keyed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Instrument id, e.g. `BTC-USDT-SWAP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
    /// The account is a managed sub-account (OKX's MSA), as the exchange's fill says; the
    /// formula variable `msa` is true when this is or when the registry lists the account.
    #[serde(default, skip_serializing_if = "is_false")]
    pub msa: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A decimal written as a string of digits (no exponent).
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
pub(crate) struct DecimalString(
    #[schemars(regex(pattern = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"))] String,
);

pub(crate) mod opt_decimal {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        d: &Option<Decimal>,
        s: S,
    ) -> core::result::Result<S::Ok, S::Error> {
        match d {
            Some(d) => money::as_string::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> core::result::Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "money::as_string")] Decimal);
        Ok(Option::<W>::deserialize(d)?.map(|W(v)| v))
    }
}

/// A validated trade borrowing its strings: what the engine settles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeRef<'a> {
    pub id: &'a str,
    /// UTC nanoseconds since the epoch.
    pub time: i64,
    pub account: &'a str,
    pub broker: Option<&'a str>,
    pub channel: &'a str,
    pub product: &'a str,
    pub notional: Decimal,
    /// The fee paid (given, or `notional * fee_rate`).
    pub fee: Decimal,
    /// As given; `None` when only `fee` was given.
    pub fee_rate: Option<Decimal>,
    pub liquidity: Option<Liquidity>,
    pub vip: u32,
    pub fee_discount: bool,
    pub affiliate_rate: Decimal,
    pub master: Option<&'a str>,
    pub order: Option<&'a str>,
    pub instrument: Option<&'a str>,
    pub msa: bool,
}

impl Trade {
    /// Validates the trade and borrows it for settlement.
    pub fn as_ref(&self) -> Result<TradeRef<'_>> {
        TradeBuilder {
            id: Some(&self.id),
            time: Some(time::parse(&self.time).map_err(|e| e.field("time"))?),
            account: Some(&self.account),
            broker: self.broker.as_deref(),
            channel: Some(&self.channel),
            product: Some(&self.product),
            notional: Some(self.notional),
            fee: self.fee,
            fee_rate: self.fee_rate,
            liquidity: self.liquidity,
            vip: self.vip,
            fee_discount: self.fee_discount,
            affiliate_rate: self.affiliate_rate,
            master: self.master.as_deref(),
            order: self.order.as_deref(),
            instrument: self.instrument.as_deref(),
            msa: self.msa,
        }
        .finish()
    }
}

/// A raw field value from any reader.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    /// A text cell or a JSON string. Empty text means absent.
    Str(&'a str),
    /// A JSON number: accepted for `vip`, refused for decimals.
    Num(&'a serde_json::Number),
    Bool(bool),
    Null,
}

/// Assembles a [`TradeRef`] field by field, validating each value.
#[derive(Clone, Debug, Default)]
pub struct TradeBuilder<'a> {
    pub id: Option<&'a str>,
    pub time: Option<i64>,
    pub account: Option<&'a str>,
    pub broker: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub product: Option<&'a str>,
    pub notional: Option<Decimal>,
    pub fee: Option<Decimal>,
    pub fee_rate: Option<Decimal>,
    pub liquidity: Option<Liquidity>,
    pub vip: u32,
    pub fee_discount: bool,
    pub affiliate_rate: Option<Decimal>,
    pub master: Option<&'a str>,
    pub order: Option<&'a str>,
    pub instrument: Option<&'a str>,
    pub msa: bool,
}

fn decimal(field: &str, v: Raw<'_>) -> Result<Option<Decimal>> {
    match v {
        Raw::Null | Raw::Str("") => Ok(None),
        Raw::Str(s) => money::parse(s).map(Some).map_err(|e| e.field(field)),
        Raw::Num(n) => Err(Error::new(
            ErrorCode::Decimal,
            format!("{field} is the JSON number {n}; decimals must be strings such as \"{n}\" so no digit is lost to binary floating point"),
        )
        .field(field)),
        Raw::Bool(_) => Err(Error::new(ErrorCode::Field, format!("{field} must be a decimal string, not a boolean")).field(field)),
    }
}

/// A yes/no field: JSON booleans, or `true`/`false`/`1`/`0` text; empty or null is false.
fn flag(field: &str, v: Raw<'_>) -> Result<bool> {
    match v {
        Raw::Null | Raw::Str("") => Ok(false),
        Raw::Bool(b) => Ok(b),
        Raw::Str("true" | "TRUE" | "True" | "1") => Ok(true),
        Raw::Str("false" | "FALSE" | "False" | "0") => Ok(false),
        _ => {
            Err(Error::new(ErrorCode::Value, format!("{field} must be true or false")).field(field))
        }
    }
}

fn text<'a>(field: &str, v: Raw<'a>) -> Result<Option<&'a str>> {
    match v {
        Raw::Null | Raw::Str("") => Ok(None),
        Raw::Str(s) => Ok(Some(s)),
        _ => Err(Error::new(ErrorCode::Field, format!("{field} must be a string")).field(field)),
    }
}

impl<'a> TradeBuilder<'a> {
    /// Sets one field. Returns `Ok(false)` for a field name the trade format does not have.
    pub fn set(&mut self, field: &str, v: Raw<'a>) -> Result<bool> {
        match field {
            "id" => self.id = text(field, v)?,
            "time" => {
                self.time = match text(field, v)? {
                    Some(s) => Some(time::parse(s).map_err(|e| e.field(field))?),
                    None => None,
                }
            }
            "account" => self.account = text(field, v)?,
            "broker" => self.broker = text(field, v)?,
            "channel" => self.channel = text(field, v)?,
            "product" => self.product = text(field, v)?,
            "notional" => self.notional = decimal(field, v)?,
            "fee" => self.fee = decimal(field, v)?,
            "fee_rate" => self.fee_rate = decimal(field, v)?,
            "affiliate_rate" => self.affiliate_rate = decimal(field, v)?,
            "master" => self.master = text(field, v)?,
            "order" => self.order = text(field, v)?,
            "instrument" => self.instrument = text(field, v)?,
            "liquidity" => {
                self.liquidity = match text(field, v)? {
                    None => None,
                    Some("maker") => Some(Liquidity::Maker),
                    Some("taker") => Some(Liquidity::Taker),
                    Some(o) => {
                        return Err(Error::new(
                            ErrorCode::Value,
                            format!("liquidity must be maker or taker, got {o:?}"),
                        )
                        .field(field))
                    }
                }
            }
            "vip" => {
                self.vip = match v {
                    Raw::Null | Raw::Str("") => 0,
                    Raw::Str(s) => s.parse::<u32>().map_err(|_| {
                        Error::new(
                            ErrorCode::Value,
                            format!("vip must be a whole number >= 0, got {s}"),
                        )
                        .field(field)
                    })?,
                    Raw::Num(n) => {
                        n.as_u64()
                            .and_then(|x| u32::try_from(x).ok())
                            .ok_or_else(|| {
                                Error::new(
                                    ErrorCode::Value,
                                    format!("vip must be a whole number >= 0, got {n}"),
                                )
                                .field(field)
                            })?
                    }
                    Raw::Bool(_) => {
                        return Err(
                            Error::new(ErrorCode::Field, "vip must be a whole number").field(field)
                        )
                    }
                }
            }
            "fee_discount" => self.fee_discount = flag(field, v)?,
            "msa" => self.msa = flag(field, v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks required fields and ranges.
    pub fn finish(&self) -> Result<TradeRef<'a>> {
        let need = |v: Option<&'a str>, f: &str| {
            v.ok_or_else(|| {
                Error::new(ErrorCode::Field, format!("missing required field {f}")).field(f)
            })
        };
        let id = need(self.id, "id")?;
        let with_id = |e: Error| e.id(id);
        let time = self.time.ok_or_else(|| {
            with_id(Error::new(ErrorCode::Field, "missing required field time").field("time"))
        })?;
        let account = need(self.account, "account").map_err(with_id)?;
        let channel = need(self.channel, "channel").map_err(with_id)?;
        let product = need(self.product, "product").map_err(with_id)?;
        let notional = self.notional.ok_or_else(|| {
            with_id(
                Error::new(ErrorCode::Field, "missing required field notional").field("notional"),
            )
        })?;
        if notional < Decimal::ZERO {
            return Err(with_id(
                Error::new(
                    ErrorCode::Value,
                    format!("notional must be >= 0, got {notional}"),
                )
                .field("notional"),
            ));
        }
        let fee = match (self.fee, self.fee_rate) {
            (Some(f), _) => f,
            (None, Some(r)) => money::mul(notional, r).map_err(|e| with_id(e.field("fee_rate")))?,
            (None, None) => {
                return Err(with_id(
                    Error::new(ErrorCode::Field, "a trade needs fee or fee_rate").field("fee"),
                ));
            }
        };
        let affiliate_rate = self.affiliate_rate.unwrap_or_default();
        if affiliate_rate < Decimal::ZERO || affiliate_rate > Decimal::ONE {
            return Err(with_id(
                Error::new(
                    ErrorCode::Value,
                    format!("affiliate_rate must be between 0 and 1, got {affiliate_rate}"),
                )
                .field("affiliate_rate"),
            ));
        }
        Ok(TradeRef {
            id,
            time,
            account,
            broker: self.broker,
            channel,
            product,
            notional,
            fee,
            fee_rate: self.fee_rate,
            liquidity: self.liquidity,
            vip: self.vip,
            fee_discount: self.fee_discount,
            affiliate_rate,
            master: self.master,
            order: self.order,
            instrument: self.instrument,
            msa: self.msa,
        })
    }
}

impl TradeRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Trade {
        Trade {
            id: self.id.into(),
            time: time::format(self.time),
            account: self.account.into(),
            broker: self.broker.map(Into::into),
            channel: self.channel.into(),
            product: self.product.into(),
            notional: self.notional,
            fee: Some(self.fee),
            fee_rate: self.fee_rate,
            liquidity: self.liquidity,
            vip: self.vip,
            fee_discount: self.fee_discount,
            affiliate_rate: (!self.affiliate_rate.is_zero()).then_some(self.affiliate_rate),
            master: self.master.map(Into::into),
            order: self.order.map(Into::into),
            instrument: self.instrument.map(Into::into),
            msa: self.msa,
        }
    }
}

/// Reads one JSON object into a builder; unknown keys are counted into `unknown`.
pub fn from_json_object<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    unknown: &mut u64,
    strict: bool,
) -> Result<TradeRef<'a>> {
    let mut b = TradeBuilder::default();
    let id = obj.get("id").and_then(|v| v.as_str());
    let tag = |e: Error| match (id, &e.location.id) {
        (Some(id), None) => e.id(id),
        _ => e,
    };
    // Fields in the fixed FIELDS order, so the error reported for a trade with two bad
    // fields does not depend on how the host's JSON map orders keys.
    for k in FIELDS {
        let Some(v) = obj.get(k) else { continue };
        let raw = match v {
            serde_json::Value::String(s) => Raw::Str(s),
            serde_json::Value::Null => Raw::Null,
            serde_json::Value::Bool(x) => Raw::Bool(*x),
            serde_json::Value::Number(n) => Raw::Num(n),
            _ => {
                return Err(tag(Error::new(
                    ErrorCode::Field,
                    format!("{k} must not be an array or object"),
                )
                .field(k)))
            }
        };
        b.set(k, raw).map_err(tag)?;
    }
    let unknowns = obj.keys().filter(|k| !FIELDS.contains(&k.as_str()));
    if strict {
        if let Some(k) = unknowns.min() {
            return Err(tag(Error::new(
                ErrorCode::Field,
                format!("unknown field {k:?}"),
            )
            .field(k.as_str())));
        }
    } else {
        *unknown += unknowns.count() as u64;
    }
    b.finish().map_err(tag)
}
