//! The Arrow, Arrow IPC and Parquet readers: every accepted type gives the statement the
//! same trades give as JSON.

use super::arrow::{feed_arrow_ipc, feed_parquet, feed_parquet_bytes, feed_record_batch};
use super::ColumnMap;
use crate::error::{Error, ErrorCode, Result};
use crate::settle::{SettleOptions, Settler};
use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Decimal256Array, DictionaryArray, Float64Array,
    Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt32Array, UInt8Array,
};
use arrow_buffer::i256;
use std::format;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;
use std::{println, vec};

/// One trade, with decimals as (mantissa, scale).
#[derive(Clone, Debug)]
struct T {
    id: u64,
    /// UTC nanoseconds.
    time: i64,
    account: u32,
    broker: Option<&'static str>,
    channel: &'static str,
    product: &'static str,
    notional: (i128, u32),
    fee: (i128, u32),
    fee_rate: Option<(i128, u32)>,
    liquidity: Option<&'static str>,
    vip: Option<u32>,
    fee_discount: Option<bool>,
    affiliate_rate: Option<(i128, u32)>,
    master: Option<&'static str>,
    /// Derived from the id (the random stream is unchanged): two orders share an id / 2.
    order: Option<u64>,
    instrument: Option<&'static str>,
    /// Derived from the id too: absent, false or true.
    msa: Option<bool>,
}

fn dec_text(m: i128, scale: u32) -> String {
    let d = rust_decimal::Decimal::from_i128_with_scale(m, scale);
    d.to_string()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Trades over June 2026. `whole`: times in whole seconds; `ints`: integer notionals and fees.
fn trades(n: usize, whole: bool, ints: bool) -> Vec<T> {
    let mut r = Rng(42);
    let june = crate::time::parse("2026-06-01T00:00:00Z").unwrap();
    (0..n)
        .map(|i| {
            let secs = r.below(29 * 86_400) as i64;
            let ms = if whole { 0 } else { r.below(1000) as i64 };
            let (notional, fee) = if ints {
                (
                    (r.below(1_000_000) as i128, 0),
                    (r.below(500) as i128 - 20, 0),
                )
            } else {
                (
                    (r.below(100_000_000) as i128, 2),
                    (r.below(5_000_000) as i128 - 100_000, 6),
                )
            };
            let id = 1000 + i as u64;
            T {
                id,
                order: (id % 3 != 0).then_some(id / 2),
                instrument: [None, Some("BTC-USDT"), Some("BTC-USDT-SWAP")][(id % 3) as usize],
                msa: [None, Some(false), None, Some(true)][(id % 4) as usize],
                time: june + secs * 1_000_000_000 + ms * 1_000_000,
                account: r.below(40) as u32,
                broker: [Some("B1"), Some("B2"), None][r.below(3) as usize],
                channel: ["api", "oauth", "web", "app"][r.below(4) as usize],
                product: ["spot", "futures", "swap", "margin"][r.below(4) as usize],
                notional,
                fee,
                fee_rate: [None, Some((5, 4)), Some((35, 5))][r.below(3) as usize],
                liquidity: [None, Some("maker"), Some("taker")][r.below(3) as usize],
                vip: [None, Some(0), Some(3)][r.below(3) as usize],
                fee_discount: [None, Some(true), Some(false)][r.below(3) as usize],
                affiliate_rate: [None, Some((0, 0)), Some((25, 2))][r.below(3) as usize],
                master: [None, None, Some("m1")][r.below(3) as usize],
            }
        })
        .collect()
}

fn json_of(ts: &[T]) -> Vec<serde_json::Value> {
    ts.iter()
        .map(|t| {
            let mut o = serde_json::Map::new();
            let mut put = |k: &str, v: serde_json::Value| {
                o.insert(k.to_string(), v);
            };
            put("id", t.id.to_string().into());
            put("time", crate::time::format(t.time).into());
            put("account", format!("c{}", t.account).into());
            if let Some(b) = t.broker {
                put("broker", b.into());
            }
            put("channel", t.channel.into());
            put("product", t.product.into());
            put("notional", dec_text(t.notional.0, t.notional.1).into());
            put("fee", dec_text(t.fee.0, t.fee.1).into());
            if let Some((m, s)) = t.fee_rate {
                put("fee_rate", dec_text(m, s).into());
            }
            if let Some(l) = t.liquidity {
                put("liquidity", l.into());
            }
            if let Some(v) = t.vip {
                put("vip", v.into());
            }
            if let Some(f) = t.fee_discount {
                put("fee_discount", f.into());
            }
            if let Some((m, s)) = t.affiliate_rate {
                put("affiliate_rate", dec_text(m, s).into());
            }
            if let Some(m) = t.master {
                put("master", m.into());
            }
            if let Some(x) = t.order {
                put("order", format!("o{x}").into());
            }
            if let Some(x) = t.msa {
                put("msa", x.into());
            }
            if let Some(x) = t.instrument {
                put("instrument", x.into());
            }
            serde_json::Value::Object(o)
        })
        .collect()
}

fn options(strict: bool) -> SettleOptions {
    SettleOptions {
        strict,
        lines: true,
        ..SettleOptions::default()
    }
}

fn settler(o: &SettleOptions) -> Settler {
    Settler::new(&crate::program("okx").unwrap(), None, o).unwrap()
}

fn outcome(s: Settler, r: Result<()>) -> String {
    match r.and_then(|()| s.finish()) {
        Ok(st) => serde_json::to_string(&st).unwrap(),
        Err(e) => format!("error {}", serde_json::to_string(&e).unwrap()),
    }
}

/// The statement of the trades given as JSON (the reference).
fn reference(ts: &[T], o: &SettleOptions) -> String {
    let mut s = settler(o);
    let r = crate::api::feed_json_trades(&mut s, &json_of(ts));
    outcome(s, r)
}

fn via_batches(
    batches: &[RecordBatch],
    o: &SettleOptions,
    map: &ColumnMap,
    allow_float: bool,
) -> String {
    let mut s = settler(o);
    let mut first = 0;
    let mut r = Ok(());
    for b in batches {
        r = feed_record_batch(&mut s, b, first, map, allow_float);
        if r.is_err() {
            break;
        }
        first += b.num_rows() as u64;
    }
    outcome(s, r)
}

// Column builders, one per representation.

fn strs(v: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn dict(v: Vec<Option<String>>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for x in v {
        match x {
            Some(s) => {
                b.append_value(s);
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

fn d128(v: Vec<Option<(i128, u32)>>, scale: i8) -> ArrayRef {
    let vals: Vec<Option<i128>> = v
        .iter()
        .map(|x| x.map(|(m, s)| m * 10i128.pow(scale as u32 - s)))
        .collect();
    Arc::new(
        Decimal128Array::from(vals)
            .with_precision_and_scale(38, scale)
            .unwrap(),
    )
}

fn d256(v: Vec<Option<(i128, u32)>>, scale: i8) -> ArrayRef {
    let vals: Vec<Option<i256>> = v
        .iter()
        .map(|x| {
            x.map(|(m, s)| {
                i256::from_i128(m).wrapping_mul(i256::from_i128(10i128.pow(scale as u32 - s)))
            })
        })
        .collect();
    Arc::new(
        Decimal256Array::from(vals)
            .with_precision_and_scale(76, scale)
            .unwrap(),
    )
}

/// Replaces a column of a test batch: `Some(Some(array))`, or `Some(None)` to drop it.
type Override<'a> = &'a dyn Fn(&str, &[T]) -> Option<Option<ArrayRef>>;

/// The columns of `ts`; `f` overrides any column (None drops it).
fn batch(ts: &[T], f: Override<'_>) -> RecordBatch {
    let text =
        |g: &dyn Fn(&T) -> Option<String>| -> Vec<Option<String>> { ts.iter().map(g).collect() };
    let default = |name: &str| -> ArrayRef {
        match name {
            "id" => strs(text(&|t| Some(t.id.to_string()))),
            "time" => strs(text(&|t| Some(crate::time::format(t.time)))),
            "account" => strs(text(&|t| Some(format!("c{}", t.account)))),
            "broker" => strs(text(&|t| t.broker.map(Into::into))),
            "channel" => strs(text(&|t| Some(t.channel.into()))),
            "product" => strs(text(&|t| Some(t.product.into()))),
            "notional" => d128(ts.iter().map(|t| Some(t.notional)).collect(), 8),
            "fee" => d128(ts.iter().map(|t| Some(t.fee)).collect(), 10),
            "fee_rate" => d128(ts.iter().map(|t| t.fee_rate).collect(), 6),
            "liquidity" => strs(text(&|t| t.liquidity.map(Into::into))),
            "vip" => Arc::new(UInt32Array::from(
                ts.iter().map(|t| t.vip).collect::<Vec<_>>(),
            )),
            "fee_discount" => Arc::new(BooleanArray::from(
                ts.iter().map(|t| t.fee_discount).collect::<Vec<_>>(),
            )),
            "affiliate_rate" => d128(ts.iter().map(|t| t.affiliate_rate).collect(), 4),
            "master" => strs(text(&|t| t.master.map(Into::into))),
            "order" => strs(text(&|t| t.order.map(|x| format!("o{x}")))),
            "instrument" => strs(text(&|t| t.instrument.map(Into::into))),
            "msa" => Arc::new(BooleanArray::from(
                ts.iter().map(|t| t.msa).collect::<Vec<_>>(),
            )),
            _ => unreachable!(),
        }
    };
    let mut cols: Vec<(String, ArrayRef)> = Vec::new();
    for name in crate::trade::FIELDS {
        match f(name, ts) {
            None => cols.push((name.to_string(), default(name))),
            Some(Some(a)) => cols.push((name.to_string(), a)),
            Some(None) => {}
        }
    }
    RecordBatch::try_from_iter(cols).unwrap()
}

fn plain(ts: &[T]) -> RecordBatch {
    batch(ts, &|_, _| None)
}

/// Both modes: batches of `ts` with the given overrides settle as the JSON trades do, in
/// one batch and in several.
fn assert_same(ts: &[T], f: Override<'_>, what: &str) {
    for strict in [false, true] {
        let o = options(strict);
        let want = reference(ts, &o);
        assert!(!want.starts_with("error"), "{what}: {want}");
        let one = batch(ts, f);
        assert_eq!(
            via_batches(&[one], &o, &ColumnMap::default(), false),
            want,
            "{what}"
        );
        let parts: Vec<RecordBatch> = ts.chunks(37).map(|c| batch(c, f)).collect();
        assert_eq!(
            via_batches(&parts, &o, &ColumnMap::default(), false),
            want,
            "{what} in parts"
        );
    }
}

/// The `msa` column reaches okx-v5's exclusion, which reads the trade's own flag (okx-v5
/// settles trade by trade): the statement from Arrow columns equals the one from JSON
/// objects, and the flagged api trades are excluded as `msa_account`.
#[test]
fn msa_column_reaches_okx_v5() {
    let p = crate::program("okx-v5").unwrap();
    let ts = trades(400, false, false);
    let o = options(false);
    let mut a = Settler::new(&p, None, &o).unwrap();
    let r = crate::api::feed_json_trades(&mut a, &json_of(&ts));
    let want = outcome(a, r);
    assert!(want.contains(r#""excluded":"msa_account""#), "{want}");
    for parts in [400, 37] {
        let mut b = Settler::new(&p, None, &o).unwrap();
        let mut r = Ok(());
        for (i, c) in ts.chunks(parts).enumerate() {
            r = r.and_then(|()| {
                feed_record_batch(
                    &mut b,
                    &plain(c),
                    (i * parts) as u64,
                    &ColumnMap::default(),
                    false,
                )
            });
        }
        assert_eq!(outcome(b, r), want, "batches of {parts}");
    }
}

#[test]
fn arrow_decimal128_columns() {
    let ts = trades(300, false, false);
    assert_same(&ts, &|_, _| None, "decimal128 (scales 8, 10, 6, 4)");
    // A scale below the values' (exact only where the digits fit) and above 18.
    assert_same(
        &ts,
        &|n, ts| match n {
            "notional" => Some(Some(d128(ts.iter().map(|t| Some(t.notional)).collect(), 2))),
            "fee" => Some(Some(d128(ts.iter().map(|t| Some(t.fee)).collect(), 24))),
            _ => None,
        },
        "decimal128 scales 2 and 24",
    );
}

#[test]
fn arrow_decimal256_columns() {
    let ts = trades(200, false, false);
    assert_same(
        &ts,
        &|n, ts| match n {
            "notional" => Some(Some(d256(
                ts.iter().map(|t| Some(t.notional)).collect(),
                20,
            ))),
            "fee" => Some(Some(d256(ts.iter().map(|t| Some(t.fee)).collect(), 40))),
            "fee_rate" => Some(Some(d256(ts.iter().map(|t| t.fee_rate).collect(), 6))),
            _ => None,
        },
        "decimal256",
    );
}

#[test]
fn arrow_decimal_strings() {
    let ts = trades(200, false, false);
    let text = |g: fn(&T) -> Option<(i128, u32)>, ts: &[T]| -> Vec<Option<String>> {
        ts.iter()
            .map(|t| g(t).map(|(m, s)| dec_text(m, s)))
            .collect()
    };
    assert_same(
        &ts,
        &|n, ts| match n {
            "notional" => Some(Some(strs(text(|t| Some(t.notional), ts)))),
            "fee" => Some(Some(Arc::new(LargeStringArray::from(text(
                |t| Some(t.fee),
                ts,
            ))))),
            "fee_rate" => Some(Some(Arc::new(StringViewArray::from(text(
                |t| t.fee_rate,
                ts,
            ))))),
            "affiliate_rate" => Some(Some(dict(text(|t| t.affiliate_rate, ts)))),
            _ => None,
        },
        "decimal strings (utf8, large, view, dictionary)",
    );
}

#[test]
fn arrow_integer_decimals() {
    let ts = trades(200, false, true);
    assert_same(
        &ts,
        &|n, ts| match n {
            "notional" => Some(Some(Arc::new(UInt32Array::from(
                ts.iter().map(|t| t.notional.0 as u32).collect::<Vec<_>>(),
            )))),
            "fee" => Some(Some(Arc::new(Int64Array::from(
                ts.iter().map(|t| t.fee.0 as i64).collect::<Vec<_>>(),
            )))),
            _ => None,
        },
        "integer decimals",
    );
}

#[test]
fn arrow_timestamps_of_every_unit_with_and_without_zone() {
    let whole = trades(150, true, false);
    let ms = trades(150, false, false);
    for tz in [None, Some("UTC"), Some("+08:00"), Some("Asia/Singapore")] {
        let zoned = |a: ArrayRef| -> ArrayRef {
            match tz {
                None => a,
                Some(z) => arrow_cast_tz(a, z),
            }
        };
        assert_same(
            &whole,
            &|n, ts| {
                (n == "time").then(|| {
                    Some(zoned(Arc::new(TimestampSecondArray::from(
                        ts.iter()
                            .map(|t| t.time / 1_000_000_000)
                            .collect::<Vec<_>>(),
                    ))))
                })
            },
            &format!("timestamp[s, {tz:?}]"),
        );
        assert_same(
            &ms,
            &|n, ts| {
                (n == "time").then(|| {
                    Some(zoned(Arc::new(TimestampMillisecondArray::from(
                        ts.iter().map(|t| t.time / 1_000_000).collect::<Vec<_>>(),
                    ))))
                })
            },
            &format!("timestamp[ms, {tz:?}]"),
        );
        assert_same(
            &ms,
            &|n, ts| {
                (n == "time").then(|| {
                    Some(zoned(Arc::new(TimestampMicrosecondArray::from(
                        ts.iter().map(|t| t.time / 1_000).collect::<Vec<_>>(),
                    ))))
                })
            },
            &format!("timestamp[us, {tz:?}]"),
        );
        assert_same(
            &ms,
            &|n, ts| {
                (n == "time").then(|| {
                    Some(zoned(Arc::new(TimestampNanosecondArray::from(
                        ts.iter().map(|t| t.time).collect::<Vec<_>>(),
                    ))))
                })
            },
            &format!("timestamp[ns, {tz:?}]"),
        );
    }
}

/// The same instants, typed with a time zone.
fn arrow_cast_tz(a: ArrayRef, tz: &str) -> ArrayRef {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    match a.data_type() {
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Second, _) => Arc::new(
            a.as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone(tz),
        ),
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _) => Arc::new(
            a.as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone(tz),
        ),
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => Arc::new(
            a.as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone(tz),
        ),
        _ => Arc::new(
            a.as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone(tz),
        ),
    }
}

#[test]
fn arrow_rfc3339_string_times() {
    let ts = trades(200, false, false);
    // Offsets other than Z are the same instants.
    assert_same(
        &ts,
        &|n, ts| {
            (n == "time").then(|| {
                Some(Arc::new(LargeStringArray::from(
                    ts.iter()
                        .map(|t| {
                            let local = crate::time::format(t.time + 8 * 3_600_000_000_000);
                            Some(local.replace('Z', "+08:00"))
                        })
                        .collect::<Vec<_>>(),
                )) as ArrayRef)
            })
        },
        "rfc 3339 strings with an offset",
    );
    assert_same(
        &ts,
        &|n, ts| {
            (n == "time").then(|| {
                Some(dict(
                    ts.iter()
                        .map(|t| Some(crate::time::format(t.time)))
                        .collect(),
                ))
            })
        },
        "rfc 3339 strings in a dictionary",
    );
}

#[test]
fn arrow_dictionary_strings() {
    let ts = trades(300, false, false);
    assert_same(
        &ts,
        &|n, ts| match n {
            "account" => Some(Some(dict(
                ts.iter().map(|t| Some(format!("c{}", t.account))).collect(),
            ))),
            "broker" => Some(Some(dict(
                ts.iter().map(|t| t.broker.map(Into::into)).collect(),
            ))),
            "channel" => Some(Some(dict(
                ts.iter().map(|t| Some(t.channel.into())).collect(),
            ))),
            "product" => Some(Some(dict(
                ts.iter().map(|t| Some(t.product.into())).collect(),
            ))),
            "liquidity" => Some(Some(dict(
                ts.iter().map(|t| t.liquidity.map(Into::into)).collect(),
            ))),
            "master" => Some(Some(dict(
                ts.iter().map(|t| t.master.map(Into::into)).collect(),
            ))),
            _ => None,
        },
        "dictionary strings",
    );
    // A dictionary with unused and null values, and keys that repeat across batches.
    let values = StringArray::from(vec![Some("api"), None, Some("unused"), Some("web")]);
    let keys = arrow_array::Int8Array::from(
        ts.iter()
            .map(|t| if t.channel == "api" { 0 } else { 3 })
            .collect::<Vec<i8>>(),
    );
    let channel: ArrayRef = Arc::new(DictionaryArray::try_new(keys, Arc::new(values)).unwrap());
    let mut ts2 = ts.clone();
    for t in &mut ts2 {
        t.channel = if t.channel == "api" { "api" } else { "web" };
    }
    let o = options(false);
    let b = batch(&ts2, &|n, _| {
        (n == "channel").then(|| Some(channel.clone()))
    });
    assert_eq!(
        via_batches(&[b], &o, &ColumnMap::default(), false),
        reference(&ts2, &o)
    );
}

#[test]
fn arrow_nulls_in_optional_fields() {
    let mut ts = trades(200, false, false);
    for t in &mut ts {
        t.broker = None;
        t.fee_rate = None;
        t.liquidity = None;
        t.vip = None;
        t.fee_discount = None;
        t.affiliate_rate = None;
        t.master = None;
    }
    assert_same(&ts, &|_, _| None, "all-null optional columns");
    // A column of the null type, and columns left out.
    assert_same(
        &ts,
        &|n, ts| match n {
            "broker" => Some(Some(Arc::new(arrow_array::NullArray::new(ts.len())))),
            "master" | "vip" | "fee_rate" => Some(None),
            _ => None,
        },
        "null type and missing optional columns",
    );
}

#[test]
fn arrow_integer_ids_and_accounts() {
    let ts = trades(200, false, false);
    // The reference has ids "1000".. and accounts "c0".., so accounts as integers are
    // compared against their own text.
    let mut numeric = ts.clone();
    for t in &mut numeric {
        t.account += 7;
    }
    let o = options(false);
    let b = batch(&numeric, &|n, ts| match n {
        "id" => Some(Some(Arc::new(Int64Array::from(
            ts.iter().map(|t| t.id as i64).collect::<Vec<_>>(),
        )))),
        "account" => Some(Some(Arc::new(UInt8Array::from(
            ts.iter().map(|t| t.account as u8).collect::<Vec<_>>(),
        )))),
        _ => None,
    });
    let mut refs = json_of(&numeric);
    for (r, t) in refs.iter_mut().zip(&numeric) {
        r["account"] = t.account.to_string().into();
    }
    let mut s = settler(&o);
    let want = {
        let r = crate::api::feed_json_trades(&mut s, &refs);
        outcome(s, r)
    };
    assert_eq!(via_batches(&[b], &o, &ColumnMap::default(), false), want);
}

#[test]
fn arrow_column_map_renames_fields() {
    let ts = trades(100, false, false);
    let b = plain(&ts);
    let renamed: Vec<(String, ArrayRef)> = b
        .schema()
        .fields()
        .iter()
        .zip(b.columns())
        .map(|(f, c)| {
            let n = match f.name().as_str() {
                "id" => "trade_id",
                "time" => "ts",
                "account" => "user_id",
                "broker" => "broker_code",
                n => n,
            };
            (n.to_string(), c.clone())
        })
        .collect();
    let renamed = RecordBatch::try_from_iter(renamed).unwrap();
    let map = ColumnMap::parse(&[
        "trade_id=id",
        "ts=time",
        "user_id=account",
        "broker_code=broker",
    ])
    .unwrap();
    let o = options(true);
    assert_eq!(
        via_batches(std::slice::from_ref(&renamed), &o, &map, false),
        reference(&ts, &o)
    );
    // Without the map the columns are unknown (strict) or missing.
    let e = via_batches(&[renamed], &o, &ColumnMap::default(), false);
    assert!(
        e.contains(r#""code":"E_FIELD","message":"unknown column \"trade_id\"""#),
        "{e}"
    );
}

#[test]
fn arrow_float_decimal_column_is_refused_unless_allowed() {
    let ts = trades(50, false, false);
    let floats = |n: &str, ts: &[T]| -> Option<Option<ArrayRef>> {
        (n == "fee").then(|| {
            Some(Arc::new(Float64Array::from(
                ts.iter()
                    .map(|t| dec_text(t.fee.0, t.fee.1).parse::<f64>().unwrap())
                    .collect::<Vec<_>>(),
            )) as ArrayRef)
        })
    };
    let o = options(false);
    let got = via_batches(&[batch(&ts, &floats)], &o, &ColumnMap::default(), false);
    assert_eq!(
        got,
        r#"error {"code":"E_DECIMAL","message":"column fee holds binary floats (Float64), which cannot carry decimal amounts exactly; pass decimal.Decimal values (a decimal128 column), strings such as \"1234.56\", or integers, or opt in with allow_float=True to convert each float through its shortest repr","location":{"field":"fee","column":8}}"#
    );
    // Allowed: each float through its shortest text, which is the decimal it came from.
    assert_eq!(
        via_batches(&[batch(&ts, &floats)], &o, &ColumnMap::default(), true),
        reference(&ts, &o)
    );
}

#[test]
fn arrow_errors_name_the_row_and_the_column() {
    let ts = trades(100, false, false);
    let times = |ts: &[T], bad: usize| -> ArrayRef {
        strs(
            ts.iter()
                .enumerate()
                .map(|(i, t)| {
                    Some(if i == bad {
                        "yesterday".to_string()
                    } else {
                        crate::time::format(t.time)
                    })
                })
                .collect(),
        )
    };
    // Row 70 of the input is row 20 of the second batch.
    let b1 = batch(&ts[..50], &|_, _| None);
    let b2 = batch(&ts[50..], &|n, ts| {
        (n == "time").then(|| Some(times(ts, 20)))
    });
    let o = options(true);
    let e = via_batches(&[b1.clone(), b2.clone()], &o, &ColumnMap::default(), false);
    assert_eq!(
        e,
        format!(
            r#"error {{"code":"E_TIME","message":"\"yesterday\" is not an RFC 3339 time: too short; expected YYYY-MM-DDTHH:MM:SSZ","location":{{"field":"time","line":71,"column":2,"id":"{}"}}}}"#,
            ts[70].id
        )
    );
    // Lenient: listed with its row, and the rest settled.
    let st = via_batches(&[b1, b2], &options(false), &ColumnMap::default(), false);
    assert!(
        st.contains(&format!(
            r#""rejected":[{{"id":"{}","line":71,"code":"E_TIME""#,
            ts[70].id
        )),
        "{st}"
    );
    // A negative notional: found when the trade is built, located by its column.
    let neg = batch(&ts, &|n, ts| {
        (n == "notional").then(|| {
            Some(strs(
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| {
                        Some(if i == 3 {
                            "-1".into()
                        } else {
                            dec_text(t.notional.0, t.notional.1)
                        })
                    })
                    .collect(),
            ))
        })
    });
    let e = via_batches(&[neg], &o, &ColumnMap::default(), false);
    assert!(
        e.contains(r#""location":{"field":"notional","line":4,"column":7"#),
        "{e}"
    );
}

#[test]
fn arrow_required_columns_and_strict_unknown_columns() {
    let ts = trades(10, false, false);
    let o = options(false);
    let e = via_batches(
        &[batch(&ts, &|n, _| (n == "account").then_some(None))],
        &o,
        &ColumnMap::default(),
        false,
    );
    assert_eq!(
        e,
        r#"error {"code":"E_FIELD","message":"the table has no account column","location":{"field":"account"}}"#
    );
    let b = plain(&ts);
    let mut cols: Vec<(String, ArrayRef)> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .zip(b.columns().iter().cloned())
        .collect();
    cols.push((
        "note".into(),
        strs(
            ts.iter()
                .enumerate()
                .map(|(i, _)| (i % 2 == 0).then(|| "x".to_string()))
                .collect(),
        ),
    ));
    let with_note = RecordBatch::try_from_iter(cols).unwrap();
    let st = via_batches(
        std::slice::from_ref(&with_note),
        &o,
        &ColumnMap::default(),
        false,
    );
    assert!(st.contains(r#""unknown_fields":5"#), "{st}");
    let e = via_batches(&[with_note], &options(true), &ColumnMap::default(), false);
    assert_eq!(
        e,
        r#"error {"code":"E_FIELD","message":"unknown column \"note\"","location":{"field":"note","column":18}}"#
    );
}

fn parquet_bytes(batches: &[RecordBatch], rows_per_group: usize) -> Vec<u8> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    out
}

#[test]
fn parquet_round_trip_on_one_and_two_threads() {
    let ts = trades(1000, false, false);
    let dir = std::env::temp_dir().join(format!("broker-rules-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (strict, lines) in [(false, true), (true, true), (false, false), (true, false)] {
        let o = SettleOptions {
            strict,
            lines,
            ..SettleOptions::default()
        };
        let want = {
            let mut s = settler(&o);
            let r = crate::api::feed_json_trades(&mut s, &json_of(&ts));
            outcome(s, r)
        };
        // Dictionary strings and timestamps, in row groups of 128 rows.
        let b = batch(&ts, &|n, ts| match n {
            "time" => Some(Some(Arc::new(
                TimestampMillisecondArray::from(
                    ts.iter().map(|t| t.time / 1_000_000).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ))),
            "account" => Some(Some(dict(
                ts.iter().map(|t| Some(format!("c{}", t.account))).collect(),
            ))),
            _ => None,
        });
        let bytes = parquet_bytes(&[b], 128);
        let path = dir.join("t.parquet");
        std::fs::write(&path, &bytes).unwrap();
        for threads in [1, 2, 3] {
            let mut s = settler(&o);
            let r = feed_parquet(
                &mut s,
                std::fs::File::open(&path).unwrap(),
                &ColumnMap::default(),
                threads,
                &mut |_, _| {},
            );
            assert_eq!(
                outcome(s, r),
                want,
                "strict={strict} lines={lines} threads={threads}"
            );
            let mut s = settler(&o);
            let r = feed_parquet_bytes(
                &mut s,
                bytes.clone(),
                &ColumnMap::default(),
                threads,
                &mut |_, _| {},
            );
            assert_eq!(outcome(s, r), want, "bytes, threads={threads}");
        }
    }
    // Bad rows in several row groups: the rows are the file's, and strict mode reports the
    // first.
    let bad = batch(&ts, &|n, ts| {
        (n == "notional").then(|| {
            Some(strs(
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| {
                        Some(if i == 300 || i == 900 || i == 901 {
                            "x".into()
                        } else {
                            dec_text(t.notional.0, t.notional.1)
                        })
                    })
                    .collect(),
            ))
        })
    });
    let path = dir.join("bad.parquet");
    std::fs::write(&path, parquet_bytes(&[bad], 100)).unwrap();
    for threads in [1, 2, 4] {
        let strict = SettleOptions {
            strict: true,
            ..SettleOptions::default()
        };
        let mut s = settler(&strict);
        let r = feed_parquet(
            &mut s,
            std::fs::File::open(&path).unwrap(),
            &ColumnMap::default(),
            threads,
            &mut |_, _| {},
        );
        let e: Error = r.unwrap_err();
        assert_eq!(
            (e.code, e.location.line, e.location.column),
            (ErrorCode::Decimal, Some(301), Some(7)),
            "{threads}"
        );
        let mut s = settler(&SettleOptions::default());
        assert!(s.is_batch());
        let r = feed_parquet(
            &mut s,
            std::fs::File::open(&path).unwrap(),
            &ColumnMap::default(),
            threads,
            &mut |_, _| {},
        );
        let st = s.finish().unwrap();
        r.unwrap();
        let lines: Vec<Option<u64>> = st.rejected.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![Some(301), Some(901), Some(902)]);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn arrow_ipc_file_and_stream() {
    let ts = trades(300, false, false);
    let o = options(true);
    let want = reference(&ts, &o);
    let parts: Vec<RecordBatch> = ts.chunks(64).map(plain).collect();
    let mut file = Vec::new();
    {
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut file, &parts[0].schema()).unwrap();
        for b in &parts {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    let mut stream = Vec::new();
    {
        let mut w =
            arrow_ipc::writer::StreamWriter::try_new(&mut stream, &parts[0].schema()).unwrap();
        for b in &parts {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    for (what, bytes) in [("file", file), ("stream", stream)] {
        let mut s = settler(&o);
        let r = feed_arrow_ipc(
            &mut s,
            std::io::Cursor::new(&bytes),
            &ColumnMap::default(),
            &mut |_, _| {},
        );
        assert_eq!(outcome(s, r), want, "{what}");
        // And through the generic reader (from memory).
        let mut s = settler(&o);
        let r = super::feed(&mut s, &bytes[..], super::Format::Arrow, &mut |_, _| {});
        assert_eq!(outcome(s, r), want, "{what} via feed");
    }
    println!("ipc ok");
}

/// Rows through the batch path and the row path for one batch.
fn paths(b: &RecordBatch) -> (u64, u64) {
    let mut c = super::tests::Count::default();
    let mut rows = super::Rows::default();
    super::arrow::feed_batch(&mut c, &mut rows, b, 0, &ColumnMap::default(), false).unwrap();
    rows.flush(&mut c).unwrap();
    (c.rows, c.slow)
}

#[test]
fn arrow_clean_rows_take_the_batch_path() {
    let ts = trades(300, false, false);
    assert_eq!(paths(&plain(&ts)), (300, 0));
    let d = batch(&ts, &|n, ts| match n {
        "account" => Some(Some(dict(
            ts.iter().map(|t| Some(format!("c{}", t.account))).collect(),
        ))),
        "time" => Some(Some(Arc::new(TimestampNanosecondArray::from(
            ts.iter().map(|t| t.time).collect::<Vec<_>>(),
        )))),
        "id" => Some(Some(Arc::new(Int64Array::from(
            ts.iter().map(|t| t.id as i64).collect::<Vec<_>>(),
        )))),
        "notional" => Some(Some(d256(
            ts.iter().map(|t| Some(t.notional)).collect(),
            20,
        ))),
        _ => None,
    });
    assert_eq!(paths(&d), (300, 0));
    // Decimal256 values beyond i128 take the row path (and give the same trades).
    let wide = batch(&ts, &|n, ts| {
        (n == "fee").then(|| Some(d256(ts.iter().map(|t| Some(t.fee)).collect(), 40)))
    });
    assert_eq!(paths(&wide).0 + paths(&wide).1, 300);
    assert!(paths(&wide).1 > 250);
}

#[test]
fn integer_identifiers_print_as_their_digits() {
    for v in [
        0i128,
        7,
        -7,
        1234567890123,
        i64::MIN as i128,
        u64::MAX as i128,
    ] {
        assert_eq!(super::arrow::digits_for_tests(v), v.to_string());
    }
}

#[test]
fn decimal_text_of_mantissa_and_scale() {
    let t = |m: &str, s: i8| super::arrow::dec_text(m.to_string(), s);
    assert_eq!(t("12345", 2), "123.45");
    assert_eq!(t("-5", 3), "-0.005");
    assert_eq!(t("100", 2), "1");
    assert_eq!(t("-120", 1), "-12");
    assert_eq!(t("12", -2), "1200");
    assert_eq!(t("0", -3), "0");
    assert_eq!(t("0", 4), "0");
    // What the row path reads from it is the value.
    for (m, s, m2, s2) in [
        (123456789i128, 28i8, 123456789, 28),
        (-1, 0, -1, 0),
        (500, 30, 5, 28),
    ] {
        let d = crate::money::parse(&t(&m.to_string(), s)).unwrap();
        assert_eq!(d, rust_decimal::Decimal::from_i128_with_scale(m2, s2));
    }
}
