//! JSON text read as `serde_json::Value` with duplicate object keys refused. serde_json's own
//! `Value` keeps the last of two equal keys, so a request `{"fee": "1", ..., "fee": "9"}` or a
//! spliced `"program"` would silently replace the first; every JSON document the engine reads
//! (requests, trades, programs, registries, scenarios, options) comes through here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Removes whitespace outside strings. For text serde_json wrote (any indentation) the
/// result is exactly the compact bytes the engine writes for the same value and key order:
/// how conformance vectors' pretty files are compared with a host's output.
pub fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut esc) = (false, false);
    for c in text.chars() {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Parses JSON text; a duplicate key is an error at its line and column.
pub fn parse(text: &str) -> core::result::Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Checked::deserialize(&mut de)?;
    de.end()?;
    Ok(v.0)
}

/// [`parse`] through serde_json's stream reader: error positions as the JSON-array trade
/// reader (a stream) reports them, so an NDJSON line and the same object in an array name
/// the same column.
#[cfg(feature = "std")]
pub fn parse_stream(text: &str) -> core::result::Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(text.as_bytes());
    let v = Checked::deserialize(&mut de)?;
    de.end()?;
    Ok(v.0)
}

/// A value whose objects have no duplicate keys (deserialize it from any JSON source).
pub struct Checked(pub Value);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Checked, D::Error> {
        d.deserialize_any(V)
    }
}

struct V;

impl<'de> Visitor<'de> for V {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::Number(v.into())))
    }
    fn visit_f64<E>(self, v: f64) -> core::result::Result<Checked, E> {
        Ok(Checked(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::String(v.into())))
    }
    fn visit_string<E>(self, v: String) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::String(v)))
    }
    fn visit_unit<E>(self) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::Null))
    }
    fn visit_none<E>(self) -> core::result::Result<Checked, E> {
        Ok(Checked(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> core::result::Result<Checked, D::Error> {
        Checked::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<Checked, A::Error> {
        let mut v = Vec::new();
        while let Some(Checked(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(Checked(Value::Array(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<Checked, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if m.contains_key(&k) {
                return Err(de::Error::custom(format!(
                    "duplicate key {k:?} {DUPLICATE}"
                )));
            }
            let Checked(v) = map.next_value()?;
            m.insert(k, v);
        }
        Ok(Checked(Value::Object(m)))
    }
}

/// The tail of the duplicate-key message, by which [`is_duplicate_key`] knows it.
const DUPLICATE: &str = "(each key may appear once in an object)";

/// Whether a serde_json error is this module's duplicate-key refusal.
pub(crate) fn is_duplicate_key(e: &serde_json::Error) -> bool {
    alloc::string::ToString::to_string(e).contains(DUPLICATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_errors_with_their_position() {
        let e = parse("{\"a\": 1,\n \"b\": {\"c\": 2, \"c\": 3}}").unwrap_err();
        assert!(e.to_string().contains("duplicate key \"c\""), "{e}");
        assert_eq!(
            (e.line(), e.classify()),
            (2, serde_json::error::Category::Data)
        );
        let v = parse("{\"a\": [1, 2.5, \"x\", null, true, {\"b\": -3}]}").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": [1, 2.5, "x", null, true, {"b": -3}]})
        );
        assert!(parse("{} x").is_err());
    }
}
