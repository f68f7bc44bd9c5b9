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
