//! An [`Estimate`]'s JSON text written directly: the same bytes as serde_json writes for the
//! derived `Serialize` (fields in declaration order, maps in key order, compact), without
//! serde's per-value dispatch. A dashboard estimates on every keystroke and the result is
//! some eighty short strings, most of them decimals that never need escaping; serializing
//! through serde was a third of a compiled `estimate` call.

use crate::estimate::{CurvePoint, Estimate, Need, TierAbove, Way};
use crate::money::DecimalText;
use alloc::string::String;

impl Estimate<'_> {
    /// Appends the canonical JSON of the estimate (what `serde_json::to_string` gives).
    pub fn write_json(&self, out: &mut String) {
        let p = &self.program;
        kv(out, "{\"program\":{\"id\":", &p.id);
        kv(out, ",\"version\":", &p.version);
        kv(out, ",\"sha256\":", &p.sha256);
        kv(out, "},\"engine\":{\"name\":", &self.engine.name);
        kv(out, ",\"version\":", &self.engine.version);
        kv(out, "},\"currency\":", self.currency);
        dec(out, ",\"volume\":", &self.volume);
        dec(out, ",\"fees\":", &self.fees);
        opt(out, ",\"tier\":", self.tier);
        dec(out, ",\"rate\":", &self.rate);
        strings(out, ",\"rates\":{", &self.rates);
        strings(out, "},\"metrics\":{", &self.metrics);
        dec(out, "},\"commission\":", &self.commission);
        out.push_str(",\"next\":");
        match &self.next {
            Some(p) => point(out, p),
            None => out.push_str("null"),
        }
        out.push_str(",\"curve\":[");
        for (i, p) in self.curve.iter().enumerate() {
            comma(out, i);
            point(out, p);
        }
        out.push_str("],\"tiers_above\":[");
        for (i, t) in self.tiers_above.iter().enumerate() {
            comma(out, i);
            above(out, t);
        }
        out.push_str("]}");
    }
}

fn point(out: &mut String, p: &CurvePoint) {
    opt(out, "{\"tier\":", p.tier);
    dec(out, ",\"rate\":", &p.rate);
    dec(out, ",\"volume\":", &p.volume);
    dec(out, ",\"volume_needed\":", &p.volume_needed);
    dec(out, ",\"commission\":", &p.commission);
    out.push('}');
}

fn above(out: &mut String, t: &TierAbove) {
    kv(out, "{\"tier\":", t.tier);
    dec(out, ",\"rate\":", &t.rate);
    out.push_str(",\"ways\":[");
    for (i, w) in t.ways.iter().enumerate() {
        comma(out, i);
        way(out, w);
    }
    dec(out, "],\"commission\":", &t.commission);
    out.push('}');
}

fn way(out: &mut String, w: &Way) {
    kv(out, "{\"ladder\":", w.ladder);
    out.push_str(",\"needs\":{");
    for (i, (k, n)) in w.needs.iter().enumerate() {
        comma(out, i);
        text(out, k);
        need(out, n);
    }
    opt_dec(out, "},\"volume\":", w.volume.as_ref());
    opt_dec(out, ",\"volume_needed\":", w.volume_needed.as_ref());
    out.push_str(if w.met {
        ",\"met\":true}"
    } else {
        ",\"met\":false}"
    });
}

fn need(out: &mut String, n: &Need) {
    dec(out, ":{\"min\":", &n.min);
    dec(out, ",\"have\":", &n.have);
    dec(out, ",\"more\":", &n.more);
    out.push('}');
}

/// `open` (ending in the map's `{`), then the entries; the caller closes the brace.
fn strings(out: &mut String, open: &str, m: &[(&str, DecimalText)]) {
    out.push_str(open);
    for (i, (k, v)) in m.iter().enumerate() {
        comma(out, i);
        text(out, k);
        dec(out, ":", v);
    }
}

fn comma(out: &mut String, i: usize) {
    if i > 0 {
        out.push(',');
    }
}

/// `key` (the punctuation and quoted name before a value), then the value as a JSON string.
fn kv(out: &mut String, key: &str, v: &str) {
    out.push_str(key);
    text(out, v);
}

/// `key`, then a decimal as a JSON string: digits, point and sign never need escaping.
fn dec(out: &mut String, key: &str, v: &DecimalText) {
    out.push_str(key);
    out.push('"');
    out.push_str(v);
    out.push('"');
}

/// `key`, then a decimal as a JSON string, or `null`.
fn opt_dec(out: &mut String, key: &str, v: Option<&DecimalText>) {
    match v {
        Some(v) => dec(out, key, v),
        None => {
            out.push_str(key);
            out.push_str("null");
        }
    }
}

/// `key`, then the value as a JSON string or `null`.
fn opt(out: &mut String, key: &str, v: Option<&str>) {
    out.push_str(key);
    match v {
        Some(s) => text(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON string. serde_json escapes only `"`, `\` and control characters; text without
/// them is written as is, anything else goes through serde_json itself.
fn text(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use crate::estimate::{estimate, Scenario};

    /// Every built-in at volumes below, between and above its levels, with and without a
    /// mix, affiliates and clients: the writer's bytes are serde_json's.
    #[test]
    fn same_bytes_as_serde_json() {
        let mut n = 0;
        for id in ["backpack", "xt", "okx", "okx-v5"] {
            let p = crate::program(id).unwrap();
            for volume in ["0", "1", "5000000", "12000000", "16666666.67", "250000000"] {
                for extra in [
                    "",
                    r#","mix":[{"product":"spot","channel":"api","share":"0.6"},{"product":"futures","channel":"oauth","share":"0.4"}]"#,
                    r#","affiliate_rate":"0.2","affiliate_share":"0.5","active_clients":12"#,
                    r#","active_clients":1000,"vip":6"#,
                ] {
                    let s: Scenario = serde_json::from_str(&alloc::format!(
                        r#"{{"volume":"{volume}","fee_rate":"0.0005"{extra}}}"#
                    ))
                    .unwrap();
                    let e = estimate(&p, &s).unwrap();
                    let mut out = alloc::string::String::new();
                    e.write_json(&mut out);
                    assert_eq!(
                        out,
                        serde_json::to_string(&e).unwrap(),
                        "{id} {volume} {extra}"
                    );
                    n += 1;
                }
            }
        }
        assert_eq!(n, 96);
    }

    #[test]
    fn names_needing_escapes_go_through_serde_json() {
        let mut out = alloc::string::String::new();
        super::text(&mut out, "a\"b\\c\n\u{1f}é/");
        assert_eq!(out, serde_json::to_string("a\"b\\c\n\u{1f}é/").unwrap());
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u001fé/\"");
    }
}
