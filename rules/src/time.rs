//! Time without a clock: RFC 3339 in, RFC 3339 out, and the calendar arithmetic the windows
//! and settlement periods need. Instants are nanoseconds since the Unix epoch in UTC; day and
//! month boundaries move by the program's fixed UTC offset.

use crate::error::{Error, ErrorCode, Result};
use alloc::format;
use alloc::string::String;

pub const NS_PER_SEC: i64 = 1_000_000_000;
pub const NS_PER_MIN: i64 = 60 * NS_PER_SEC;
pub const NS_PER_HOUR: i64 = 60 * NS_PER_MIN;
pub const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses RFC 3339 (`2026-06-10T13:45:00Z`, `...:00.123Z`, `...+08:00`) to UTC nanoseconds.
/// A settle bound (`options.from` / `to`): an RFC 3339 time, or a bare date `YYYY-MM-DD`,
/// which is midnight at the program's day offset (the day a statement reader means: "June
/// from the 1st" of a UTC+8 program starts at 2026-05-31T16:00:00Z).
pub fn parse_bound(s: &str, clock: &Clock) -> Result<i64> {
    let b = s.as_bytes();
    let bare = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !bare {
        return parse(s);
    }
    let utc_midnight = parse(&format!("{s}T00:00:00Z"))?;
    Ok(clock.day_start(utc_midnight.div_euclid(NS_PER_DAY)))
}

pub fn parse(s: &str) -> Result<i64> {
    let err = |why: &str| {
        Error::new(
            ErrorCode::Time,
            format!("{s:?} is not an RFC 3339 time: {why}"),
        )
    };
    let b = s.as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        let mut v = 0i64;
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    };
    if b.len() < 20 {
        return Err(err("too short; expected YYYY-MM-DDTHH:MM:SSZ"));
    }
    let (y, mo, d, h, mi, se) = match (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se))
            if b[4] == b'-'
                && b[7] == b'-'
                && matches!(b[10], b'T' | b't' | b' ')
                && b[13] == b':'
                && b[16] == b':' =>
        {
            (y, mo, d, h, mi, se)
        }
        _ => return Err(err("expected YYYY-MM-DDTHH:MM:SS")),
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo as u32) as i64 {
        return Err(err("no such date"));
    }
    if h > 23 || mi > 59 || se > 59 {
        return Err(err("no such time of day"));
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac_ns = frac_ns * 10 + (b[i] - b'0') as i64;
            } else if b[i] != b'0' {
                return Err(err("more than nanosecond precision"));
            }
            i += 1;
        }
        if i == start {
            return Err(err("empty fraction"));
        }
        for _ in (i - start).min(9)..9 {
            frac_ns *= 10;
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = match (num(i + 1..i + 3), num(i + 4..i + 6)) {
                (Some(oh), Some(om)) if oh < 24 && om < 60 => (oh, om),
                _ => return Err(err("bad UTC offset")),
            };
            let o = oh * 60 + om;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(err("missing 'Z' or a UTC offset such as +08:00")),
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    let ns = secs
        .checked_mul(NS_PER_SEC)
        .and_then(|v| v.checked_add(frac_ns))
        .ok_or_else(|| err("out of range"))?;
    in_range(ns).ok_or_else(|| Error::new(ErrorCode::Time, format!("{s:?} is {OUT_OF_RANGE}")))
}

/// First supported instant: 1970-01-01T00:00:00Z.
pub const MIN_TIME: i64 = 0;
/// First instant past the supported range: 2200-01-01T00:00:00Z. Every period end, window
/// and credit time of a supported trade stays far inside i64 nanoseconds.
pub const END_TIME: i64 = 7_258_118_400 * NS_PER_SEC;
const OUT_OF_RANGE: &str =
    "outside the supported range 1970-01-01T00:00:00Z .. 2199-12-31T23:59:59.999999999Z";

/// The instant if it is in the supported range.
pub fn in_range(ns: i64) -> Option<i64> {
    (MIN_TIME..END_TIME).contains(&ns).then_some(ns)
}

/// The error for an instant outside the supported range.
pub fn out_of_range(field: &str) -> Error {
    Error::new(ErrorCode::Time, format!("{field} is {OUT_OF_RANGE}")).field(field)
}

/// Formats UTC nanoseconds as `YYYY-MM-DDTHH:MM:SSZ` (fraction only when non-zero).
pub fn format(ns: i64) -> String {
    let days = ns.div_euclid(NS_PER_DAY);
    let rem = ns.rem_euclid(NS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / NS_PER_SEC;
    let frac = rem % NS_PER_SEC;
    if !(0..=9999).contains(&y) {
        return format_with_fmt(ns); // outside the supported range; kept total, not fast
    }
    // Written digit by digit: a statement formats five instants per period, and `format!`'s
    // intermediate strings were a tenth of an hourly settlement's time.
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u64);
    put(5, 2, m as u64);
    put(8, 2, d as u64);
    put(11, 2, (secs / 3600) as u64);
    put(14, 2, (secs / 60 % 60) as u64);
    put(17, 2, (secs % 60) as u64);
    let len = if frac == 0 {
        b[19] = b'Z';
        20
    } else {
        put(20, 9, frac as u64);
        let mut end = 29;
        while b[end - 1] == b'0' {
            end -= 1;
        }
        b[end] = b'Z';
        end + 1
    };
    // Only ASCII was written.
    b[..len].iter().map(|&c| c as char).collect()
}

/// [`format`] through `format!`: the reference the fast path is tested against.
fn format_with_fmt(ns: i64) -> String {
    let days = ns.div_euclid(NS_PER_DAY);
    let rem = ns.rem_euclid(NS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / NS_PER_SEC;
    let frac = rem % NS_PER_SEC;
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        let f = format!("{frac:09}");
        format!("{base}.{}Z", f.trim_end_matches('0'))
    }
}

/// Parses a fixed offset `+08:00` / `-05:30` / `Z` to minutes.
pub fn parse_offset(s: &str) -> Result<i32> {
    if s == "Z" || s == "+00:00" || s == "-00:00" {
        return Ok(0);
    }
    let b = s.as_bytes();
    let ok = b.len() == 6 && matches!(b[0], b'+' | b'-') && b[3] == b':';
    let h: Option<i32> = s.get(1..3).and_then(|x| x.parse().ok());
    let m: Option<i32> = s.get(4..6).and_then(|x| x.parse().ok());
    match (ok, h, m) {
        (true, Some(h), Some(m)) if h <= 14 && m < 60 => {
            let v = h * 60 + m;
            Ok(if b[0] == b'-' { -v } else { v })
        }
        _ => Err(Error::new(
            ErrorCode::Program,
            format!("{s:?} is not a UTC offset like \"+08:00\""),
        )),
    }
}

/// Calendar arithmetic at a fixed UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub offset_ns: i64,
}

impl Clock {
    pub fn new(offset_minutes: i32) -> Self {
        Clock {
            offset_ns: offset_minutes as i64 * NS_PER_MIN,
        }
    }
    /// Local day number of an instant.
    pub fn day(&self, ns: i64) -> i64 {
        (ns + self.offset_ns).div_euclid(NS_PER_DAY)
    }
    /// UTC instant at which a local day starts.
    pub fn day_start(&self, day: i64) -> i64 {
        day * NS_PER_DAY - self.offset_ns
    }
    /// Month index (year * 12 + month - 1) of a local day.
    pub fn month_of_day(day: i64) -> i64 {
        let (y, m, _) = civil_from_days(day);
        y * 12 + m as i64 - 1
    }
    /// First local day of a month index.
    pub fn month_first_day(month: i64) -> i64 {
        days_from_civil(month.div_euclid(12), (month.rem_euclid(12) + 1) as u32, 1)
    }
    pub fn month_start(&self, month: i64) -> i64 {
        self.day_start(Self::month_first_day(month))
    }
    /// Start of the hour containing an instant (hours are aligned at the offset).
    pub fn hour_start(&self, ns: i64) -> i64 {
        (ns + self.offset_ns).div_euclid(NS_PER_HOUR) * NS_PER_HOUR - self.offset_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_writes_what_format_macro_writes() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let edges = [
            i64::MIN,
            i64::MAX,
            0,
            -1,
            1,
            NS_PER_SEC,
            86_400 * NS_PER_SEC - 1,
        ];
        let random = (0..50_000).map(|i| {
            let ns = next() as i64;
            match i % 3 {
                0 => ns,
                1 => ns - ns % NS_PER_SEC,
                _ => ns - ns % 1_000_000,
            }
        });
        for ns in edges.into_iter().chain(random) {
            assert_eq!(format(ns), format_with_fmt(ns), "{ns}");
        }
        assert_eq!(format(1_780_272_000_000_000_000), "2026-06-01T00:00:00Z");
        assert_eq!(format(1_780_272_000_120_000_000), "2026-06-01T00:00:00.12Z");
    }

    #[test]
    fn round_trips_and_offsets() {
        let t = parse("2026-06-10T13:45:00Z").unwrap();
        assert_eq!(format(t), "2026-06-10T13:45:00Z");
        assert_eq!(parse("2026-06-10T21:45:00+08:00").unwrap(), t);
        assert_eq!(
            format(parse("2026-06-30T23:59:59.999Z").unwrap()),
            "2026-06-30T23:59:59.999Z"
        );
        // The supported range: 1970 through 2199 (never centuries past the i64 edges, where
        // period ends and credit times would wrap).
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            format(parse("2199-12-31T23:59:59.999Z").unwrap()),
            "2199-12-31T23:59:59.999Z"
        );
        for far in [
            "1969-12-31T23:00:00Z",
            "2200-01-01T00:00:00Z",
            "2262-04-11T23:47:16Z",
            "1677-09-21T00:12:44Z",
            "1970-01-01T07:00:00+08:00",
        ] {
            let e = parse(far).unwrap_err();
            assert_eq!(e.code, ErrorCode::Time, "{far}");
            assert!(
                e.message.contains("outside the supported range"),
                "{}",
                e.message
            );
        }
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-06-10 13:45:00",
            "2026-06-10T25:00:00Z",
            "yesterday",
            "2026-06-10T13:45:00.Z",
        ] {
            assert_eq!(parse(bad).unwrap_err().code, ErrorCode::Time, "{bad}");
        }
    }

    #[test]
    fn days_and_months_at_an_offset() {
        let c8 = Clock::new(480);
        let t = parse("2026-06-30T16:00:00Z").unwrap(); // 00:00 July 1 in UTC+8
        assert_eq!(civil_from_days(c8.day(t)), (2026, 7, 1));
        assert_eq!(civil_from_days(Clock::new(0).day(t)), (2026, 6, 30));
        assert_eq!(
            format(c8.month_start(Clock::month_of_day(c8.day(t)))),
            "2026-06-30T16:00:00Z"
        );
        assert_eq!(
            Clock::month_first_day(2026 * 12 + 11),
            days_from_civil(2026, 12, 1)
        );
        assert_eq!(parse_offset("-05:30").unwrap(), -330);
    }
}
