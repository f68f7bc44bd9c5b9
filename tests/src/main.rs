//! `cargo run -p broker-rules-conformance -- COMMAND`
//! - `bless`: regenerate every vector's `expected` from the native engine (refused for a
//!   vector whose hand-computed `checks` fail) and the committed schemas;
//! - `schemas`: regenerate `schemas/` only;
//! - `random SEED N`: print N random cases of SEED as NDJSON `{"call", "request"}`.

use broker_rules_conformance::{random, schemas_dir, vectors, vectors_dir};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bless") => {
            broker_rules::schema::write_all(&schemas_dir()).expect("write schemas");
            let (written, refused) =
                vectors::bless(&vectors_dir()).unwrap_or_else(|e| panic!("{e}"));
            println!(
                "rewrote {} vector(s){}",
                written.len(),
                if written.is_empty() {
                    String::new()
                } else {
                    format!(": {}", written.join(", "))
                }
            );
            if !refused.is_empty() {
                eprintln!(
                    "refused (hand-computed checks fail):\n{}",
                    refused.join("\n")
                );
                std::process::exit(1);
            }
        }
        Some("schemas") => {
            broker_rules::schema::write_all(&schemas_dir()).expect("write schemas");
            println!(
                "wrote {} schemas to {}",
                broker_rules::schema::NAMES.len(),
                schemas_dir().display()
            );
        }
        Some("random") => {
            let seed = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20260610);
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
            for c in random::cases(seed, n) {
                println!(
                    "{}",
                    serde_json::json!({"call": c.call, "request": serde_json::from_str::<serde_json::Value>(&c.request).unwrap()})
                );
            }
        }
        _ => {
            eprintln!("usage: conformance bless | schemas | random [SEED] [N]");
            std::process::exit(2);
        }
    }
}
