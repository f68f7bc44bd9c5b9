//! Replays every vector on the native core and on the plain-ABI .wasm under wasmtime, runs
//! the seeded differential cases, and checks the schemas. `BLESS=1` regenerates the
//! vectors' `expected` (only where the hand-computed `checks` hold) and `schemas/` first.

use broker_rules_conformance::{
    json, native, native_checked, random, schemas_dir, vectors, vectors_dir, wasm,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn bless() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| v != "0")
}

fn load() -> Vec<vectors::Vector> {
    vectors::load(&vectors_dir()).unwrap_or_else(|e| panic!("cannot load the vectors: {e}"))
}

fn plain() -> Option<wasm::Plain> {
    let path = wasm::default_path();
    if !path.exists() {
        let msg = format!(
            "no plain-ABI module at {} (build it with scripts/test-conformance.sh, or set BROKER_RULES_PLAIN_WASM)",
            path.display()
        );
        if wasm::required() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED the wasm replay: {msg}");
        return None;
    }
    Some(wasm::Plain::load(&path).unwrap_or_else(|e| {
        panic!("cannot load {} (is it the plain-ABI build of broker-rules-wasm-plain? the bindgen build imports JS glue): {e:?}", path.display())
    }))
}

fn report(failures: &[String], total: usize, what: &str) {
    if !failures.is_empty() {
        panic!(
            "{} of {total} {what} failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
    eprintln!("{total} {what}: all identical");
}

#[test]
fn vectors_native() {
    if bless() {
        let (written, refused) = vectors::bless(&vectors_dir()).unwrap();
        eprintln!(
            "blessed {} vector(s): {}",
            written.len(),
            written.join(", ")
        );
        assert!(
            refused.is_empty(),
            "not blessed, the hand-computed checks fail:\n{}",
            refused.join("\n")
        );
    }
    let vs = load();
    let mut failures = Vec::new();
    for v in &vs {
        let out = match native_checked(&v.call, &v.request) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("vector {}: {e}", v.name));
                continue;
            }
        };
        if let Some(d) = json::diff(&v.expected, &out) {
            failures.push(format!(
                "vector {} ({}) differs natively:\n{d}",
                v.name,
                v.file.display()
            ));
        }
        let bad = v.failed_checks(&out);
        if !bad.is_empty() {
            failures.push(format!(
                "vector {}: hand-computed figures differ:\n  {}",
                v.name,
                bad.join("\n  ")
            ));
        }
    }
    report(&failures, vs.len(), "vectors (native)");
}

#[test]
fn vectors_wasm() {
    let Some(mut m) = plain() else { return };
    let vs = load();
    let mut failures = Vec::new();
    for v in &vs {
        match m.call(&v.call, &v.request) {
            Ok(out) => {
                if let Some(d) = json::diff(&v.expected, &out) {
                    failures.push(format!(
                        "vector {} ({}) differs under wasmtime:\n{d}",
                        v.name,
                        v.file.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("vector {}: the wasm call failed: {e:?}", v.name)),
        }
    }
    report(&failures, vs.len(), "vectors (wasmtime)");
}

#[test]
fn the_corpus_covers_the_contract() {
    let vs = load();
    assert!(vs.len() >= 80, "only {} vectors", vs.len());
    let mut codes = BTreeMap::new();
    let mut calls = BTreeMap::new();
    for v in &vs {
        assert!(
            broker_rules::api::FUNCTIONS.contains(&v.call.as_str()) || v.call == "nope",
            "{}: unknown call {}",
            v.name,
            v.call
        );
        assert!(!v.description.is_empty(), "{}: empty description", v.name);
        *calls.entry(v.call.clone()).or_insert(0) += 1;
        let out: Value = serde_json::from_str(&v.expected).unwrap();
        let mut found = Vec::new();
        if let Some(c) = out.pointer("/error/code").and_then(Value::as_str) {
            found.push(c.to_string());
        }
        for p in ["/ok/rejected", "/ok/problems"] {
            for r in out
                .pointer(p)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                found.extend(r.get("code").and_then(Value::as_str).map(String::from));
            }
        }
        for c in found {
            *codes.entry(c).or_insert(0) += 1;
        }
    }
    eprintln!("calls: {calls:?}\nerror codes: {codes:?}");
    // Every code JSON input can reach (E_INTERNAL is a bug; nothing should reach it).
    for c in [
        "E_PARSE",
        "E_FIELD",
        "E_DECIMAL",
        "E_TIME",
        "E_VALUE",
        "E_DUPLICATE_ID",
        "E_PROGRAM",
        "E_EXPR",
        "E_OVERFLOW",
        "E_DIV_ZERO",
        "E_INEXACT",
        "E_UNKNOWN_PROGRAM",
        "E_REGISTRY",
        "E_OPTIONS",
        "E_UNKNOWN_VALUE",
    ] {
        assert!(codes.contains_key(c), "no vector produces {c}");
    }
    assert!(!codes.contains_key("E_INTERNAL"));
    for f in broker_rules::api::FUNCTIONS {
        assert!(calls.contains_key(f), "no vector calls {f}");
    }
}

fn seed() -> u64 {
    std::env::var("CONFORMANCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20260610)
}

fn count() -> usize {
    std::env::var("CONFORMANCE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

#[test]
fn random_differential_native_vs_wasm() {
    let Some(mut m) = plain() else { return };
    let (seed, n) = (seed(), count());
    let mut failures = Vec::new();
    let mut ok = 0;
    for c in random::cases(seed, n) {
        let a = match native_checked(c.call, &c.request) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!(
                    "random case {} of seed {seed} ({}): {e}\nrequest: {}",
                    c.index, c.call, c.request
                ));
                continue;
            }
        };
        ok += a.starts_with("{\"ok\"") as usize;
        match m.call(c.call, &c.request) {
            Ok(b) => {
                if let Some(d) = json::diff(&a, &b) {
                    failures.push(format!(
                        "random case {} of seed {seed} ({}) differs (expected = native, actual = wasm):\n{d}\nrequest: {}",
                        c.index, c.call, c.request
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "random case {} of seed {seed}: the wasm call failed: {e:?}",
                c.index
            )),
        }
    }
    eprintln!("seed {seed}: {ok} of {n} random cases settled without an error");
    assert!(
        ok * 2 > n,
        "fewer than half of the random cases are valid: the generator needs fixing"
    );
    report(
        &failures,
        n,
        &format!("random cases (seed {seed}, native vs wasmtime)"),
    );
}

#[test]
fn wasm_entry_points_free_what_they_allocate() {
    let Some(mut m) = plain() else { return };
    let req = r#"{"program": "xt", "scenario": {"volume": "30000000", "fees": "6000"}}"#;
    // Warm up both calls (the allocator settles into the pages each one needs), then 1,000
    // more calls must not grow the memory by a page: nothing is left allocated per call.
    for _ in 0..50 {
        m.call("estimate", req).unwrap();
        m.call("programs", "").unwrap();
    }
    let before = m.memory_size();
    for _ in 0..500 {
        m.call("estimate", req).unwrap();
        m.call("programs", "").unwrap();
    }
    assert_eq!(
        m.memory_size(),
        before,
        "linear memory grew over 1000 calls"
    );
    // Bytes that are not UTF-8, and an unknown function, give error envelopes, not traps.
    let out = m.call("settle", "{\"program\": \"\u{fffd}\"}").unwrap();
    assert!(out.starts_with("{\"error\""), "{out}");
    let out = m.call("nope", "{}").unwrap();
    assert_eq!(out, native("nope", "{}"));
}

// ---------------------------------------------------------------------------------------
// Schemas.

fn schema(name: &str) -> jsonschema::Validator {
    let text = broker_rules::schema::schema(name).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"))
}

fn problems(v: &jsonschema::Validator, x: &Value) -> Vec<String> {
    v.iter_errors(x)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schemas_are_current() {
    let dir = schemas_dir();
    if bless() {
        broker_rules::schema::write_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for name in broker_rules::schema::NAMES {
        let path = dir.join(broker_rules::schema::file_name(name));
        let want = broker_rules::schema::schema(name).unwrap();
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(have) => stale.push(format!(
                "{} differs from the generated schema:\n{}",
                path.display(),
                json::line_diff(&have, &want, 2, 40)
            )),
            Err(_) => stale.push(format!("{} is missing", path.display())),
        }
    }
    let known: Vec<String> = broker_rules::schema::NAMES
        .iter()
        .map(|n| broker_rules::schema::file_name(n))
        .collect();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let f = e.file_name().to_string_lossy().to_string();
        if f.ends_with(".schema.json") && !known.contains(&f) {
            stale.push(format!(
                "{f} is not generated by broker_rules::schema (remove it)"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is not current; regenerate with `BLESS=1 cargo test -p broker-rules-conformance --test conformance schemas` \
         or `cargo run -p broker-rules-conformance -- schemas`:\n{}",
        stale.join("\n")
    );
}

#[test]
fn builtin_programs_match_the_program_schema() {
    let v = schema("program");
    let dir = broker_rules_conformance::root()
        .join("rules")
        .join("programs");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let x: Value = serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
        let p = problems(&v, &x);
        assert!(p.is_empty(), "{}: {p:?}", e.path().display());
        n += 1;
    }
    assert_eq!(n, broker_rules::programs().len());
    // And what `program` returns.
    for info in broker_rules::api::program_list() {
        let out: Value = serde_json::from_str(&broker_rules::api::program(&format!(
            "{{\"id\":{:?}}}",
            info.id
        )))
        .unwrap();
        let p = problems(&v, &out["ok"]);
        assert!(p.is_empty(), "program {}: {p:?}", info.id);
    }
}

/// Validates the parts of a request that are meant to be valid, and the output.
fn check_case(
    call: &str,
    request: &Value,
    output: &Value,
    s: &BTreeMap<&str, jsonschema::Validator>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |what: &str, schema: &str, x: &Value| {
        for p in problems(&s[schema], x) {
            bad.push(format!("{what} vs {schema}.schema.json: {p}"));
        }
    };
    if let Some(e) = output.get("error") {
        check("error", "error", e);
        return bad;
    }
    let ok = &output["ok"];
    let clean = ok
        .get("rejected")
        .and_then(Value::as_array)
        .is_none_or(|r| r.is_empty())
        && ok
            .pointer("/summary/unknown_fields")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            == 0;
    if clean && call != "validate" {
        if let Some(p) = request.get("program").filter(|p| p.is_object()) {
            check("input program", "program", p);
        }
        for (i, t) in request
            .get("trades")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            check(&format!("input trades[{i}]"), "trade", t);
        }
        if let Some(r) = request.get("registry") {
            check("input registry", "registry", r);
        }
        if let Some(o) = request.get("options") {
            check("input options", "settle-options", o);
        }
        if let Some(x) = request.get("scenario") {
            check("input scenario", "scenario", x);
        }
        // `estimate` from actuals: settle's fields, one level down.
        let actuals = request.get("actuals");
        for (i, t) in actuals
            .and_then(|a| a.get("trades"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            check(&format!("input actuals.trades[{i}]"), "trade", t);
        }
        if let Some(r) = actuals.and_then(|a| a.get("registry")) {
            check("input actuals.registry", "registry", r);
        }
        if let Some(o) = actuals.and_then(|a| a.get("options")) {
            check("input actuals.options", "settle-options", o);
        }
        if let Some(f) = request.get("report_format").filter(|f| f.is_object()) {
            check("input report_format", "report-format", f);
        }
    }
    match call {
        "settle" => check("output", "statement", ok),
        "explain" => check("output", "explanation", ok),
        "estimate" if request.get("actuals").is_some() => check("output", "what-if", ok),
        "estimate" => check("output", "estimate", ok),
        "validate" => check("output", "validation", ok),
        "program" => check("output", "program", ok),
        "reconcile" => check("output", "reconciliation", ok),
        _ => {}
    }
    bad
}

#[test]
fn vectors_and_outputs_match_the_schemas() {
    let s: BTreeMap<&str, jsonschema::Validator> = broker_rules::schema::NAMES
        .iter()
        .map(|n| (*n, schema(n)))
        .collect();
    let mut failures = Vec::new();
    let vs = load();
    for v in &vs {
        let req: Value = serde_json::from_str(&v.request).unwrap();
        let Ok(out) = native_checked(&v.call, &v.request) else {
            continue;
        }; // reported by vectors_native
        let out: Value = serde_json::from_str(&out).unwrap();
        for p in check_case(&v.call, &req, &out, &s) {
            failures.push(format!("vector {}: {p}", v.name));
        }
    }
    let seed = seed();
    for c in random::cases(seed, count()) {
        let req: Value = serde_json::from_str(&c.request).unwrap();
        let Ok(out) = native_checked(c.call, &c.request) else {
            continue;
        }; // reported by the differential test
        let out: Value = serde_json::from_str(&out).unwrap();
        for p in check_case(c.call, &req, &out, &s) {
            failures.push(format!("random case {} of seed {seed}: {p}", c.index));
        }
    }
    assert!(
        failures.is_empty(),
        "{} schema problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_one_character_change_is_caught() {
    // The comparison is byte-exact: any single changed byte of an expected output is a failure.
    let vs = load();
    let v = vs
        .iter()
        .find(|v| v.expected.starts_with("{\"ok\""))
        .expect("an ok vector");
    let out = native(&v.call, &v.request);
    assert!(json::diff(&v.expected, &out).is_none());
    let mut changed = v.expected.clone().into_bytes();
    let i = changed.iter().rposition(|b| b.is_ascii_digit()).unwrap();
    changed[i] = if changed[i] == b'9' {
        b'8'
    } else {
        changed[i] + 1
    };
    let d = json::diff(&String::from_utf8(changed).unwrap(), &out)
        .expect("a one-byte change must differ");
    assert!(d.contains("first difference at byte"));
}
