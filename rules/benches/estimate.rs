//! Per-call cost of `estimate`: the plain JSON entry point (program parsed, checked and hashed
//! on every call), a compiled program (`Compiled::estimate`: request JSON in, envelope out),
//! and its parts (request parse, the estimate itself, writing the result).
//! `cargo bench -p broker-rules --bench estimate [-- N]` (N calls per measurement, default 20,000).

use broker_rules::api;
use broker_rules::compiled::Compiled;
use broker_rules::estimate::{self, Scenario};
use std::hint::black_box;
use std::time::Instant;

fn per_call(n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..n.min(1000) {
        f();
    }
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[2]
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let scenario = r#"{"volume":"12000000","fee_rate":"0.0005","mix":[{"product":"spot","channel":"api","share":"0.6"},{"product":"futures","channel":"api","share":"0.4"}]}"#;
    println!("| program | call | us/call |\n|---|---|---:|");
    for id in ["backpack", "xt", "okx"] {
        let plain = format!(r#"{{"program":"{id}","scenario":{scenario}}}"#);
        let compiled_req = format!(r#"{{"scenario":{scenario}}}"#);
        let c = Compiled::new(&format!("\"{id}\"")).unwrap();
        assert_eq!(c.estimate(&compiled_req), api::estimate(&plain));
        let s: Scenario = serde_json::from_str(scenario).unwrap();
        let e = estimate::estimate(c.program(), &s).unwrap();
        let rows = [
            (
                "estimate (plain JSON API)",
                per_call(n / 4, || drop(black_box(api::estimate(black_box(&plain))))),
            ),
            (
                "Compiled::estimate (JSON in, envelope out)",
                per_call(n, || drop(black_box(c.estimate(black_box(&compiled_req))))),
            ),
            (
                "  request parse (api::parse_request + Scenario)",
                per_call(n, || {
                    let req = api::parse_request(black_box(&compiled_req)).unwrap();
                    drop(black_box(api::field::<Scenario>(&req, "scenario").unwrap()));
                }),
            ),
            (
                "  estimate::estimate (typed)",
                per_call(n, || {
                    drop(black_box(
                        estimate::estimate(c.program(), black_box(&s)).unwrap(),
                    ))
                }),
            ),
            (
                "  write the result (Estimate::write_json, what the api answers with)",
                per_call(n, || {
                    let mut out = String::with_capacity(2048);
                    black_box(&e).write_json(&mut out);
                    drop(black_box(out))
                }),
            ),
            (
                "  (serializing it through serde_json instead, for comparison)",
                per_call(n, || drop(black_box(api::envelope(Ok(black_box(&e)))))),
            ),
            (
                "program build (builtin::program)",
                per_call(n / 4, || {
                    drop(black_box(broker_rules::program(black_box(id)).unwrap()))
                }),
            ),
        ];
        for (what, us) in rows {
            println!("| {id} | {what} | {us:.2} |");
        }
    }
}
