//! JSON text helpers that keep key order without serde_json's `preserve_order` feature:
//! minify (the canonical compact form serde_json writes), pretty-print, and a readable diff.

pub use broker_rules::json::minify;

/// Pretty-prints JSON text with two-space indentation, keeping key order (the layout of
/// `serde_json::to_string_pretty`: empty `[]` and `{}` stay on one line).
pub fn pretty(text: &str) -> String {
    let m = minify(text);
    let chars: Vec<char> = m.chars().collect();
    let mut out = String::with_capacity(m.len() * 2);
    let mut depth = 0usize;
    let (mut in_str, mut esc) = (false, false);
    let nl = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else {
            match c {
                '"' => {
                    in_str = true;
                    out.push(c);
                }
                '{' | '[' => {
                    let close = if c == '{' { '}' } else { ']' };
                    if chars.get(i + 1) == Some(&close) {
                        out.push(c);
                        out.push(close);
                        i += 1;
                    } else {
                        out.push(c);
                        depth += 1;
                        nl(&mut out, depth);
                    }
                }
                '}' | ']' => {
                    depth = depth.saturating_sub(1);
                    nl(&mut out, depth);
                    out.push(c);
                }
                ',' => {
                    out.push(c);
                    nl(&mut out, depth);
                }
                ':' => out.push_str(": "),
                _ => out.push(c),
            }
        }
        i += 1;
    }
    out
}

/// `None` when the two texts are byte-identical; else a readable report: the first
/// differing byte with context, then a line diff of the pretty-printed forms.
pub fn diff(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let (e, a) = (expected.as_bytes(), actual.as_bytes());
    let pos = e
        .iter()
        .zip(a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let ctx = |s: &str| {
        let lo = floor_char(s, pos.saturating_sub(60));
        let hi = floor_char(s, (pos + 60).min(s.len()));
        s[lo..hi].to_string()
    };
    let mut r = format!(
        "first difference at byte {pos} (expected {} bytes, actual {} bytes)\n  expected: ...{}...\n  actual:   ...{}...\n",
        e.len(),
        a.len(),
        ctx(expected),
        ctx(actual)
    );
    let (pe, pa) = (pretty(expected), pretty(actual));
    r.push_str("line diff of the pretty forms (- expected, + actual):\n");
    r.push_str(&line_diff(&pe, &pa, 3, 80));
    Some(r)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A small LCS line diff with `context` lines around changes, at most `max` output lines.
pub fn line_diff(a: &str, b: &str, context: usize, max: usize) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Trim the common prefix and suffix so the LCS table stays small.
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<(char, &str)> = a[..pre].iter().map(|l| (' ', *l)).collect();
    if ma.len() * mb.len() > 4_000_000 {
        ops.extend(ma.iter().map(|l| ('-', *l)));
        ops.extend(mb.iter().map(|l| ('+', *l)));
    } else {
        let mut t = vec![vec![0u32; mb.len() + 1]; ma.len() + 1];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                t[i][j] = if ma[i] == mb[j] {
                    t[i + 1][j + 1] + 1
                } else {
                    t[i + 1][j].max(t[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push((' ', ma[i]));
                i += 1;
                j += 1;
            } else if j < mb.len() && (i == ma.len() || t[i][j + 1] >= t[i + 1][j]) {
                ops.push(('+', mb[j]));
                j += 1;
            } else {
                ops.push(('-', ma[i]));
                i += 1;
            }
        }
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (' ', *l)));
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k != ' ')
        .map(|(i, _)| i)
        .collect();
    let keep = |i: usize| {
        changed
            .iter()
            .any(|&c| i + context >= c && i <= c + context)
    };
    let mut out = String::new();
    let (mut n, mut gap) = (0, false);
    for (i, (k, l)) in ops.iter().enumerate() {
        if keep(i) {
            if gap {
                out.push_str("  ...\n");
                gap = false;
            }
            out.push_str(&format!("{k} {l}\n"));
            n += 1;
            if n >= max {
                out.push_str("  ... (diff truncated)\n");
                break;
            }
        } else {
            gap = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_matches_serde_json() {
        let text = "{\n  \"b\": [1, 2, {}],\n  \"a\": \"x y\\\" z\",\n  \"c\": {\"d\": null}\n}";
        assert_eq!(
            minify(text),
            r#"{"b":[1,2,{}],"a":"x y\" z","c":{"d":null}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&pretty(text)).unwrap();
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(text).unwrap());
    }

    #[test]
    fn pretty_matches_serde_json_layout() {
        let v = serde_json::json!({"a": [], "b": {}, "c": [1, {"d": "e"}], "f": null});
        let compact = serde_json::to_string(&v).unwrap();
        assert_eq!(pretty(&compact), serde_json::to_string_pretty(&v).unwrap());
    }

    #[test]
    fn diff_points_at_the_first_difference() {
        assert!(diff("{\"a\":1}", "{\"a\":1}").is_none());
        let d = diff(r#"{"a":"1.00","b":2}"#, r#"{"a":"1.01","b":2}"#).unwrap();
        assert!(d.contains("first difference at byte 9"), "{d}");
        assert!(d.contains("-   \"a\": \"1.00\""), "{d}");
        assert!(d.contains("+   \"a\": \"1.01\""), "{d}");
    }
}
