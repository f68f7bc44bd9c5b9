//! Every settle path gives the same bytes: the batch engine (what `settle` runs), the
//! per-trade engine, and partial states split by trade id, serialized, read back and merged
//! in a seeded order. Run on every settle vector and on seeded random cases (at least 500 per
//! run; `CONFORMANCE_CASES` and `CONFORMANCE_SEED` change them).

use broker_rules::api::{settle_with, Path};
use broker_rules_conformance::{json, native, random, vectors, vectors_dir};

fn paths(seed: u64) -> Vec<(String, Path)> {
    let mut v = vec![("per-trade engine".to_string(), Path::PerTrade)];
    for parts in [1, 2, 3, 7] {
        v.push((
            format!("{parts} partial state(s), seed {seed}"),
            Path::Partitioned { parts, seed },
        ));
    }
    v
}

fn compare(what: &str, expected: &str, request: &str, seed: u64, failures: &mut Vec<String>) {
    for (name, path) in paths(seed) {
        let out = settle_with(request, path);
        if let Some(d) = json::diff(expected, &out) {
            failures.push(format!("{what} through the {name} differs:\n{d}"));
        }
    }
}

#[test]
fn every_settle_vector_gives_the_same_bytes_on_every_path() {
    let vs = vectors::load(&vectors_dir()).expect("vectors");
    let mut failures = Vec::new();
    let mut n = 0;
    for (i, v) in vs.iter().filter(|v| v.call == "settle").enumerate() {
        n += 1;
        compare(
            &format!("vector {}", v.name),
            &v.expected,
            &v.request,
            i as u64 * 7919 + 1,
            &mut failures,
        );
    }
    assert!(n >= 100, "only {n} settle vectors");
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn random_cases_give_the_same_bytes_on_every_path() {
    let seed = std::env::var("CONFORMANCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20260610u64);
    let n: usize = std::env::var("CONFORMANCE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .max(1000);
    let mut failures = Vec::new();
    let mut settled = 0;
    for c in random::cases(seed, n)
        .into_iter()
        .filter(|c| c.call == "settle")
    {
        let expected = native("settle", &c.request);
        settled += expected.starts_with("{\"ok\"") as usize;
        compare(
            &format!("random case {} of seed {seed}", c.index),
            &expected,
            &c.request,
            seed ^ c.index as u64,
            &mut failures,
        );
    }
    assert!(
        settled >= 500,
        "only {settled} random cases settled without an error"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `reconcile` sums our side per key in the batch engine (`engine/keyed.rs`) when the
/// program allows it; the per-trade engine's lines must give the same bytes.
/// So must forks of the settlement (the CLI's reader threads), merged back.
fn compare_reconcile(what: &str, expected: &str, request: &str, failures: &mut Vec<String>) {
    let out = broker_rules::api::reconcile_per_trade(request);
    if let Some(d) = json::diff(expected, &out) {
        failures.push(format!(
            "{what} through the per-trade engine's lines differs:\n{d}"
        ));
    }
    for parts in [2, 3] {
        let out = broker_rules::api::reconcile_forked(request, parts);
        if let Some(d) = json::diff(expected, &out) {
            failures.push(format!("{what} through {parts} forks differs:\n{d}"));
        }
    }
}

#[test]
fn every_reconcile_vector_gives_the_same_bytes_from_lines() {
    let vs = vectors::load(&vectors_dir()).expect("vectors");
    let mut failures = Vec::new();
    let mut n = 0;
    for v in vs.iter().filter(|v| v.call == "reconcile") {
        n += 1;
        compare_reconcile(
            &format!("vector {}", v.name),
            &v.expected,
            &v.request,
            &mut failures,
        );
    }
    assert!(n >= 10, "only {n} reconcile vectors");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Random settle cases turned into reconciliations at every level: trades grouped into a
/// few orders (some sharing one instant, so the first trade of a key is decided by id), and
/// a report with a row for every key the trades could have, so every key of ours is shown.
#[test]
fn random_reconciliations_give_the_same_bytes_from_lines() {
    use serde_json::{json, Value};
    let seed = 20261205u64;
    let mut failures = Vec::new();
    let mut compared = 0;
    for c in random::cases(seed, 400)
        .into_iter()
        .filter(|c| c.call == "settle")
    {
        let mut req: Value = serde_json::from_str(&c.request).expect("case");
        let Some(trades) = req["trades"].as_array_mut() else {
            continue;
        };
        let mut ids = Vec::new();
        for t in trades.iter_mut() {
            let id = t["id"].as_str().unwrap_or("").to_string();
            let n: u64 = id.trim_start_matches('t').parse().unwrap_or(0);
            if n % 5 != 4 {
                t["order"] = json!(format!("o{}", n % 3));
            }
            if n % 7 == 3 {
                t["time"] = json!("2026-05-20T10:00:00Z");
            }
            ids.push(id);
        }
        let obj = req.as_object_mut().expect("object");
        obj.remove("options");
        let mut by_trade = String::from("id,commission\n");
        for id in &ids {
            by_trade.push_str(&format!("{id},0.01\n"));
        }
        let mut by_order = String::from("order,commission\n");
        for o in ["o0", "o1", "o2", "t4", "t9", "t14"] {
            by_order.push_str(&format!("{o},1\n"));
        }
        let mut by_day = String::from("account,day,commission\n");
        for a in 0..8 {
            for d in 0..62 {
                let day = broker_rules::time::format(
                    (1_777_593_600 + d * 86_400) * broker_rules::time::NS_PER_SEC,
                );
                by_day.push_str(&format!("c{a},{},0.5\n", &day[..10]));
            }
        }
        let levels = [
            (
                "trade",
                by_trade,
                json!({"id": "id", "commission": "commission"}),
            ),
            (
                "order",
                by_order,
                json!({"order": "order", "commission": "commission"}),
            ),
            (
                "account-day",
                by_day,
                json!({"account": "account", "day": "day", "commission": "commission"}),
            ),
        ];
        // Every key listed (`all`), and only the differences at the default and at a wide
        // tolerance (matched keys, many of them by rounding, are then counted and not
        // listed: the keyed path decides those from the commissions alone).
        let variants = [(true, None), (false, None), (false, Some("0.75"))];
        for ((by, report, map), (all, tolerance)) in levels
            .iter()
            .flat_map(|l| variants.iter().map(move |v| (l, *v)))
        {
            let mut r = obj.clone();
            r.insert("map".into(), map.clone());
            r.insert("report".into(), json!(report));
            r.insert("report_format".into(), json!("generic"));
            r.insert("by".into(), json!(by));
            r.insert("all".into(), json!(all));
            if let Some(t) = tolerance {
                r.insert("tolerance".into(), json!(t));
            }
            let request = serde_json::to_string(&r).expect("json");
            let expected = native("reconcile", &request);
            compared += expected.starts_with("{\"ok\"") as usize;
            compare_reconcile(
                &format!(
                    "random case {} of seed {seed} by {by} (all {all}, tolerance {tolerance:?})",
                    c.index
                ),
                &expected,
                &request,
                &mut failures,
            );
        }
    }
    assert!(
        compared >= 900,
        "only {compared} reconciliations without an error"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
