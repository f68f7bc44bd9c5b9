//! Replays every committed fuzz input (`fuzz/corpus/<target>/*`, and the findings under
//! `fuzz/regressions/<target>/*`) through the same harness functions libFuzzer runs
//! (`fuzz/src/harness.rs`), without libFuzzer: the corpus becomes a regression suite that
//! `cargo test` checks in seconds. The long fuzz run is `scripts/fuzz.sh` (docs/fuzzing.md).

#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Runs every file of `fuzz/<kind>/<target>/`; fails listing every input that fails.
fn replay(kind: &str, target: &str) -> usize {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a harness target");
    let mut failed = Vec::new();
    let inputs = files(&fuzz_dir().join(kind).join(target));
    for f in &inputs {
        let data = fs::read(f).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{} {kind}/{target} inputs fail: {failed:#?}",
        failed.len()
    );
    inputs.len()
}

// One test per target, so `cargo test` replays them on all cores.
macro_rules! replays {
    ($($target:ident),*) => {
        mod corpus {
            $(#[test]
            fn $target() {
                super::replay("corpus", stringify!($target));
            })*
        }
        mod regressions {
            $(#[test]
            fn $target() {
                super::replay("regressions", stringify!($target));
            })*
        }
        #[test]
        fn every_target_is_replayed() {
            let mut names = vec![$(stringify!($target)),*];
            names.sort();
            let mut all: Vec<&str> = harness::TARGETS.iter().map(|(n, _)| *n).collect();
            all.sort();
            assert_eq!(names, all);
        }
    };
}

replays!(
    program_json,
    formula,
    trades_csv,
    trades_ndjson,
    trades_json,
    registry_json,
    settle_request,
    settle_generated,
    partial_state
);

/// Runs one input file: `FUZZ_INPUT=path FUZZ_TARGET=name cargo test -p broker-rules --test
/// fuzz_corpus -- --ignored one_input` (with `FUZZ_PRINT=1` a generated request is printed).
#[test]
#[ignore]
fn one_input() {
    let path = std::env::var("FUZZ_INPUT").expect("FUZZ_INPUT");
    let target = std::env::var("FUZZ_TARGET").expect("FUZZ_TARGET");
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a harness target");
    run(&fs::read(path).unwrap());
}

#[test]
fn every_target_has_a_corpus() {
    let mut total = 0;
    for (name, _) in harness::TARGETS {
        let n = files(&fuzz_dir().join("corpus").join(name)).len();
        assert!(n > 0, "no corpus for {name}");
        total += n;
    }
    assert!(
        total >= 1000,
        "only {total} corpus files: is fuzz/corpus committed?"
    );
}

/// Writes the seed corpus from the conformance vectors and the built-in programs
/// (`cargo test -p broker-rules --test fuzz_corpus -- --ignored write_seeds`); the fuzzer
/// grows it and `cargo fuzz cmin` keeps it small.
#[test]
#[ignore]
fn write_seeds() {
    use serde_json::Value;
    let out = fuzz_dir().join("seeds");
    let put = |target: &str, name: &str, data: &[u8]| {
        let d = out.join(target);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), data).unwrap();
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in files(&root.join("programs")) {
        let text = fs::read(&f).unwrap();
        let name = f.file_stem().unwrap().to_str().unwrap();
        put("program_json", name, &text);
        let spec: Value = serde_json::from_slice(&text).unwrap();
        put(
            "formula",
            &format!("{name}-formula"),
            spec["formula"].as_str().unwrap().as_bytes(),
        );
        for (i, e) in spec["exclusions"].as_array().unwrap().iter().enumerate() {
            put(
                "formula",
                &format!("{name}-when-{i}"),
                e["when"].as_str().unwrap().as_bytes(),
            );
        }
    }
    for (i, f) in [
        "(fee + 1) * -tier_rate / 2",
        "if(vip >= 6 and not fee_discount, 1%, max(0, 50% - affiliate_rate))",
        "channel in ['api', 'oauth'] or tier == 'VIP 1'",
        "abs(fee) > notional * 0.001",
        "bound_rate * fee",
    ]
    .iter()
    .enumerate()
    {
        put("formula", &format!("extra-{i}"), f.as_bytes());
    }
    for (i, s) in [
        [1u8, 9, 3, 0x33, 5, 7, 2, 200, 1].as_slice(),
        &[
            2, 0xff, 0xff, 0x1f, 24, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 1, 2,
        ],
        &[0, 0, 31, 20],
    ]
    .iter()
    .enumerate()
    {
        put("settle_generated", &format!("seed-{i}"), s);
    }
    for f in files(&root.join("../tests/vectors")) {
        let v: Value = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        let call = v["call"].as_str().unwrap();
        let input = &v["input"];
        put(
            "settle_request",
            name,
            format!("{call}\n{input}").as_bytes(),
        );
        if let Some(p) = input.get("program").filter(|p| p.is_object()) {
            put("program_json", name, p.to_string().as_bytes());
            put(
                "formula",
                &format!("{name}-formula"),
                p["formula"].as_str().unwrap_or("").as_bytes(),
            );
        }
        if let Some(r) = input.get("registry") {
            put("registry_json", name, r.to_string().as_bytes());
        }
        let Some(Value::Array(trades)) = input.get("trades") else {
            continue;
        };
        if trades.is_empty() {
            continue;
        }
        put(
            "trades_json",
            name,
            Value::Array(trades.clone()).to_string().as_bytes(),
        );
        let ndjson: String = trades.iter().map(|t| format!("{t}\n")).collect();
        put("trades_ndjson", name, ndjson.as_bytes());
        // CSV: the union of the trades' keys as the header.
        let mut cols: Vec<String> = Vec::new();
        for t in trades {
            for k in t
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_else(Vec::new)
            {
                if !cols.contains(&k) {
                    cols.push(k);
                }
            }
        }
        let mut csv = cols.join(",") + "\n";
        for t in trades {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match t.get(c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) if s.contains([',', '"', '\n']) => {
                        format!("\"{}\"", s.replace('"', "\"\""))
                    }
                    Some(Value::String(s)) => s.clone(),
                    Some(x) => x.to_string(),
                })
                .collect();
            csv += &(cells.join(",") + "\n");
        }
        put("trades_csv", name, csv.as_bytes());
        // Partial states of built-in programs without registry or options.
        let builtin = ["backpack", "xt", "okx"]
            .iter()
            .position(|p| input.get("program") == Some(&Value::from(*p)));
        if let (Some(which), None, None) = (builtin, input.get("registry"), input.get("options")) {
            let p = broker_rules::program(["backpack", "xt", "okx"][which]).unwrap();
            let opts = broker_rules::SettleOptions::default();
            let mut s = broker_rules::Settler::new(&p, None, &opts).unwrap();
            if s.is_batch() && broker_rules::api::feed_json_trades(&mut s, trades).is_ok() {
                let mut bytes = vec![which as u8];
                bytes.extend(s.to_bytes().unwrap());
                put("partial_state", name, &bytes);
            }
        }
    }
}
