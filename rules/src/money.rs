//! Exact decimal arithmetic. rust_decimal silently rescales products and quotients that do
//! not fit 28 fractional digits; the engine promises never to round silently, so every
//! operation on a money path goes through these checked helpers instead.

use crate::error::{Error, ErrorCode, Result};
use alloc::format;
use alloc::string::String;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Parses a decimal written as a plain string: optional sign, digits, optional fraction.
/// Exponents, `NaN`, `inf`, thousands separators and empty strings are refused, and so are
/// values with more digits than a 96-bit decimal holds (never rounded).
pub fn parse(s: &str) -> Result<Decimal> {
    let t = s.trim();
    let bad = |why: &str| Error::new(ErrorCode::Decimal, format!("{t:?} is not a decimal: {why}"));
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    if body.is_empty() {
        return Err(bad("no digits"));
    }
    let mut dot = false;
    let mut digits = 0usize;
    for c in body.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' if !dot => dot = true,
            'e' | 'E' => {
                return Err(bad(
                    "scientific notation is not accepted; write the digits out, e.g. \"0.00012\"",
                ))
            }
            _ => return Err(bad("only digits, one '.', and a leading sign are allowed")),
        }
    }
    if digits == 0 {
        return Err(bad("no digits"));
    }
    // Trailing zeros of a fraction are not significant: "1.000000000000000000000000000000"
    // is 1, whatever the digit limit.
    let trimmed = if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.')
    } else {
        t
    };
    let trimmed = if trimmed.is_empty() || trimmed == "-" || trimmed == "+" {
        "0"
    } else {
        trimmed
    };
    Decimal::from_str_exact(trimmed).map_err(|_| {
        Error::new(
            ErrorCode::Decimal,
            format!("{t:?} has more digits than a 96-bit decimal holds (28 significant digits)"),
        )
    })
}

/// Canonical text of an exact value: trailing zeros removed, no exponent, `0` for zero.
// Not inlined: some seventy callers, and the web .wasm's size is budgeted.
#[inline(never)]
pub fn canonical(d: Decimal) -> String {
    DecimalText::canonical(d).as_str().into()
}

/// Canonical text of a rounded amount: exactly `scale` fractional digits.
#[inline(never)]
pub fn fixed(d: Decimal, scale: u32) -> String {
    DecimalText::fixed(d, scale).as_str().into()
}

/// A decimal's text held inline, no allocation: a 96-bit decimal writes at most 31 bytes
/// (sign, 29 digits, point). An estimate answers with some eighty of them on every keystroke
/// of a dashboard, and a `String` each was a fifth of the call in allocating and freeing.
/// Reads as `&str` (`Deref`), serializes as a JSON string.
#[derive(Clone, Copy)]
pub struct DecimalText {
    /// The text is `buf[at..end]`: written right to left.
    at: u8,
    end: u8,
    buf: [u8; 32],
}

impl DecimalText {
    /// [`canonical`]'s text: the digits at the decimal's own scale, trailing fractional
    /// zeros then dropped from the text (what `normalize` would do, without its 96-bit
    /// divisions).
    #[inline(never)]
    pub fn canonical(d: Decimal) -> DecimalText {
        let mut t = DecimalText::digits(d.mantissa(), d.scale());
        if d.scale() > 0 {
            let mut end = t.end as usize;
            while t.buf[end - 1] == b'0' {
                end -= 1;
            }
            if t.buf[end - 1] == b'.' {
                end -= 1;
            }
            t.end = end as u8;
        }
        t
    }

    /// [`fixed`]'s text: exactly `scale` fractional digits.
    #[inline(never)]
    pub fn fixed(d: Decimal, scale: u32) -> DecimalText {
        let mut r = d;
        r.rescale(scale);
        DecimalText::digits(r.mantissa(), r.scale())
    }

    /// `mantissa / 10^scale` written out, as rust_decimal's `Display` writes it, without a
    /// sign on zero; going through `fmt` and its intermediate strings was a tenth of an hourly
    /// settlement's time. Only a `Decimal`'s parts reach here (a mantissa of at most 96 bits,
    /// so 29 digits, and a scale of at most 28).
    #[inline(never)]
    fn digits(mantissa: i128, scale: u32) -> DecimalText {
        let mut t = DecimalText {
            at: 32,
            end: 32,
            buf: [0u8; 32],
        };
        let scale = (scale as usize).min(28);
        let mut at = 32usize;
        // Split off 19 digits at a time in u64 arithmetic (most amounts fit one u64 and never
        // reach the slower u128 division); every chunk but the first is written in full.
        const CHUNK: u128 = 10_000_000_000_000_000_000;
        let mut u = mantissa.unsigned_abs().min((1u128 << 96) - 1);
        while u >= CHUNK {
            let v = (u % CHUNK) as u64;
            u /= CHUNK;
            let stop = at - 19;
            t.write(&mut at, v);
            t.buf[stop..at].fill(b'0');
            at = stop;
        }
        t.write(&mut at, u as u64);
        // Zeros up to one digit before the point, then the point among the digits.
        let min_at = 32 - (scale + 1);
        if at > min_at {
            t.buf[min_at..at].fill(b'0');
            at = min_at;
        }
        if scale > 0 {
            let point = 32 - scale;
            t.buf.copy_within(at..point, at - 1);
            at -= 1;
            t.buf[point - 1] = b'.';
        }
        if mantissa < 0 {
            at -= 1;
            t.buf[at] = b'-';
        }
        t.at = at as u8;
        t
    }

    /// Writes `v`'s digits (at least one) right to left ending at `*at`.
    fn write(&mut self, at: &mut usize, mut v: u64) {
        loop {
            *at -= 1;
            self.buf[*at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, point and sign are written.
        core::str::from_utf8(&self.buf[self.at as usize..self.end as usize]).unwrap_or_default()
    }
}

impl core::ops::Deref for DecimalText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DecimalText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl core::fmt::Display for DecimalText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for DecimalText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for DecimalText {
    fn eq(&self, other: &DecimalText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for DecimalText {}

impl PartialEq<str> for DecimalText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DecimalText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DecimalText {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> alloc::borrow::Cow<'static, str> {
        String::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(g)
    }
}

/// Exact sum, `E_OVERFLOW` past the 96-bit range, or `E_INEXACT` when the sum needs more than
/// 28 significant digits (rust_decimal would round it to fit).
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    exact_sum(a, b, false)
}

/// Exact difference (see [`add`]).
pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal> {
    exact_sum(a, b, true)
}

/// rust_decimal keeps the larger scale of the operands unless the result does not fit 96
/// bits at it, and then rounds: a smaller scale means digits were dropped, unless they were
/// trailing zeros of an operand (checked again with both normalized).
fn exact_sum(a: Decimal, b: Decimal, sub: bool) -> Result<Decimal> {
    let op = |x: Decimal, y: Decimal| {
        if sub {
            x.checked_sub(y)
        } else {
            x.checked_add(y)
        }
    };
    let r = op(a, b).ok_or_else(overflow)?;
    if r.scale() >= a.scale().max(b.scale()) {
        return Ok(r);
    }
    let (na, nb) = (a.normalize(), b.normalize());
    let again = op(na, nb).ok_or_else(overflow)?;
    if again.scale() >= na.scale().max(nb.scale()) {
        Ok(r)
    } else {
        Err(Error::new(
            ErrorCode::Inexact,
            format!(
                "{} and {} sum to a value with more than 28 significant digits; it is never rounded",
                canonical(a),
                canonical(b)
            ),
        ))
    }
}

/// The error of a running total (volume, fees, commission) that cannot be held exactly.
/// It stops the whole settlement: which trade crosses the limit depends on the input's order
/// and split, so rejecting that trade would make the statement depend on them (SPEC 6.4, 7).
/// It names no trade, so every order, engine and partial-state merge gives the same bytes.
pub fn sum_limit() -> Error {
    Error::new(
        ErrorCode::Overflow,
        "a total of volume, fees or commission cannot be held exactly in a 96-bit decimal (28 \
         to 29 significant digits); it is never rounded, so the settlement stops (the same \
         trades in any order or split give this error)",
    )
}

/// Whether `e` is [`sum_limit`].
pub(crate) fn is_sum_limit(e: &Error) -> bool {
    e.code == ErrorCode::Overflow && e.message.starts_with("a total of volume")
}

/// An exact running total: [`add`], failing with [`sum_limit`].
pub fn total(a: Decimal, b: Decimal) -> Result<Decimal> {
    add(a, b).map_err(|_| sum_limit())
}

/// Any arithmetic failure of combining totals (finishing, merging) as [`sum_limit`].
pub(crate) fn as_sum_limit(e: Error) -> Error {
    match e.code {
        ErrorCode::Overflow | ErrorCode::Inexact => sum_limit(),
        _ => e,
    }
}

/// Exact product, or `E_INEXACT` when it would need more than 28 fractional digits.
pub fn mul(a: Decimal, b: Decimal) -> Result<Decimal> {
    if a.is_zero() || b.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let (a, b) = (a.normalize(), b.normalize());
    let p = a.checked_mul(b).ok_or_else(overflow)?;
    if p.scale() < a.scale() + b.scale() {
        return Err(Error::new(
            ErrorCode::Inexact,
            format!("{a} * {b} needs more than 28 fractional digits"),
        ));
    }
    Ok(p)
}

/// Exact quotient, or `E_INEXACT` when it does not terminate within 28 digits.
pub fn div(a: Decimal, b: Decimal) -> Result<Decimal> {
    if b.is_zero() {
        return Err(Error::new(ErrorCode::DivZero, format!("{a} / 0")));
    }
    let q = a.checked_div(b).ok_or_else(overflow)?;
    match mul(q, b) {
        Ok(back) if back == a => Ok(q),
        _ => Err(Error::new(
            ErrorCode::Inexact,
            format!("{a} / {b} does not terminate within 28 digits"),
        )),
    }
}

fn overflow() -> Error {
    Error::new(
        ErrorCode::Overflow,
        "a value exceeds the range of a 96-bit decimal",
    )
}

/// How a period total becomes a payable amount: the program's only rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Ties to the even neighbour (banker's rounding).
    HalfEven,
    /// Ties away from zero.
    HalfUp,
    /// Truncate toward zero.
    Down,
}

impl Rounding {
    pub fn apply(self, d: Decimal, scale: u32) -> Decimal {
        let strategy = match self {
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::Down => RoundingStrategy::ToZero,
        };
        d.round_dp_with_strategy(scale, strategy)
    }
}

/// Serde adapter for decimals written as strings (schemars sees a pattern-checked string).
pub mod as_string {
    use super::*;
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&canonical(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> core::result::Result<Decimal, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str("a decimal as a string, e.g. \"0.25\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<Decimal, E> {
                parse_rate_or_decimal(v).map_err(|e| E::custom(e.message))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> core::result::Result<Decimal, E> {
                Err(E::custom(format!(
                    "got the number {v}: pass decimals as strings, e.g. \"{v}\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> core::result::Result<Decimal, E> {
                Err(E::custom(format!(
                    "got the number {v}: pass decimals as strings, e.g. \"{v}\""
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> core::result::Result<Decimal, E> {
                Err(E::custom(format!(
                    "got the number {v}: pass decimals as strings, e.g. \"{v}\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Accepts `"0.25"` or a percent literal `"25%"` (program files read better with percents).
pub fn parse_rate_or_decimal(s: &str) -> Result<Decimal> {
    match s.trim().strip_suffix('%') {
        Some(p) => div(parse(p)?, Decimal::ONE_HUNDRED),
        None => parse(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_rust_decimal_displays_them() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let edges = [
            Decimal::ZERO,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(-5, 1),
            Decimal::new(-1, 28),
            Decimal::new(12, 0),
            Decimal::from_i128_with_scale(10_000_000_000_000_000_000, 0),
            Decimal::from_i128_with_scale(-9_999_999_999_999_999_999, 19),
        ];
        let random = (0..20_000).map(|_| {
            let hi = (next() >> 32) as u32;
            let m = ((hi as i128) << 64) | next() as i128;
            let m = if next() % 2 == 0 { m } else { -m };
            let m = m >> (next() % 96);
            Decimal::from_i128_with_scale(m, (next() % 29) as u32)
        });
        for d in edges.into_iter().chain(random) {
            let n = d.normalize();
            let want = if n.is_zero() {
                "0".into()
            } else {
                n.to_string()
            };
            assert_eq!(canonical(d), want, "canonical {d:?}");
            for scale in [0, 2, 8] {
                let mut r = d;
                r.rescale(scale);
                let want = if r.is_zero() {
                    Decimal::new(0, scale).to_string()
                } else {
                    r.to_string()
                };
                assert_eq!(fixed(d, scale), want, "fixed {d:?} at {scale}");
            }
        }
    }

    #[test]
    fn parses_plain_decimals_and_refuses_the_rest() {
        assert_eq!(canonical(parse("1234.5600").unwrap()), "1234.56");
        assert_eq!(canonical(parse("-0.0").unwrap()), "0");
        assert_eq!(canonical(parse("+7").unwrap()), "7");
        for bad in ["", "1e5", "1.2E-3", "NaN", "1,000", "1.2.3", "-", "."] {
            assert_eq!(parse(bad).unwrap_err().code, ErrorCode::Decimal, "{bad}");
        }
        assert!(parse("1e5")
            .unwrap_err()
            .message
            .contains("scientific notation"));
    }

    #[test]
    fn products_and_quotients_are_exact_or_refused() {
        let p = mul(
            parse("0.0000000000000001").unwrap(),
            parse("0.0000000000000001").unwrap(),
        );
        assert_eq!(p.unwrap_err().code, ErrorCode::Inexact);
        assert_eq!(
            div(Decimal::ONE, Decimal::from(3)).unwrap_err().code,
            ErrorCode::Inexact
        );
        assert_eq!(
            canonical(div(Decimal::ONE, Decimal::from(8)).unwrap()),
            "0.125"
        );
        assert_eq!(
            div(Decimal::ONE, Decimal::ZERO).unwrap_err().code,
            ErrorCode::DivZero
        );
        assert_eq!(
            mul(Decimal::MAX, Decimal::TWO).unwrap_err().code,
            ErrorCode::Overflow
        );
        assert_eq!(canonical(parse_rate_or_decimal("7.5%").unwrap()), "0.075");
        assert_eq!(
            mul(Decimal::ZERO, parse("0.5").unwrap()).unwrap(),
            Decimal::ZERO
        );
        assert_eq!(
            canonical(mul(parse("2.8125").unwrap(), parse("0.2").unwrap()).unwrap()),
            "0.5625"
        );
    }

    #[test]
    fn sums_are_exact_or_refused() {
        // 28 significant digits plus a digit further right: once rounded to 100,000,000.
        let a = parse("99999999.99999999999999999999").unwrap();
        let b = parse("0.000000000000000000009").unwrap();
        assert_eq!(add(a, b).unwrap_err().code, ErrorCode::Inexact);
        let x = parse("1000.000000005").unwrap();
        let y = parse("0.00000000000000000000000001").unwrap();
        assert_eq!(add(x, y).unwrap_err().code, ErrorCode::Inexact);
        assert_eq!(sub(x, y).unwrap_err().code, ErrorCode::Inexact);
        // Trailing zeros never count: 1.10 + 2.200 is 3.3 exactly.
        assert_eq!(
            canonical(add(parse("1.10").unwrap(), parse("2.200").unwrap()).unwrap()),
            "3.3"
        );
        assert_eq!(
            canonical(add(Decimal::MAX, parse("-1").unwrap()).unwrap()),
            "79228162514264337593543950334"
        );
        assert_eq!(
            add(Decimal::MAX, Decimal::ONE).unwrap_err().code,
            ErrorCode::Overflow
        );
        // A value with 30 written digits but one significant digit is fine.
        assert_eq!(
            canonical(parse("1.000000000000000000000000000000").unwrap()),
            "1"
        );
        assert_eq!(
            canonical(parse("-0.000000000000000000000000000000").unwrap()),
            "0"
        );
    }

    #[test]
    fn rounding_modes_on_ties() {
        let half = parse("0.125").unwrap();
        assert_eq!(fixed(Rounding::HalfEven.apply(half, 2), 2), "0.12");
        assert_eq!(fixed(Rounding::HalfUp.apply(half, 2), 2), "0.13");
        assert_eq!(
            fixed(Rounding::Down.apply(parse("0.129").unwrap(), 2), 2),
            "0.12"
        );
        assert_eq!(fixed(Decimal::ZERO, 8), "0.00000000");
    }
}
