//! Replays every conformance vector (`tests/vectors/*.json`) through the built binary's raw
//! JSON API, `broker-rules call <name> --request -`: stdout must be the vector's expected
//! envelope byte for byte plus a newline, exit 0 for `{"ok":...}` and 1 for `{"error":...}`,
//! nothing on stderr. The request is the file's `input` text minified (key order as in the
//! file), as every host replays it (tests/README.md).

use broker_rules::json::minify;
use serde_json::value::RawValue;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[derive(serde::Deserialize)]
struct Vector<'a> {
    name: String,
    call: String,
    #[serde(borrow)]
    input: &'a RawValue,
    #[serde(borrow)]
    expected: &'a RawValue,
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn call(name: &str, request: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_broker-rules"))
        .args(["call", name, "--request", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run broker-rules");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_vector_through_the_cli_call_command() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "only {} vectors", files.len());
    let mut failures = Vec::new();
    let mut errors = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let v: Vector = serde_json::from_str(&text).unwrap();
        let want = minify(v.expected.get());
        let out = call(&v.call, &minify(v.input.get()));
        let got = String::from_utf8(out.stdout).unwrap();
        let is_error = want.starts_with("{\"error\":");
        errors += is_error as usize;
        let code = out.status.code();
        if got != format!("{want}\n") {
            failures.push(format!(
                "{}: stdout differs\n  got  {}\n  want {}",
                v.name,
                &got[..got.len().min(300)],
                &want[..want.len().min(300)]
            ));
        } else if code != Some(if is_error { 1 } else { 0 }) || !out.stderr.is_empty() {
            failures.push(format!(
                "{}: exit {code:?}, stderr {:?}",
                v.name,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        errors >= 100,
        "the bad-input matrix has {errors} error vectors"
    );
}

#[test]
fn call_prints_the_raw_envelope() {
    let out = call("program", "{\"id\":\"nope\"}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"error\":{\"code\":\"E_UNKNOWN_PROGRAM\",\"message\":\"no built-in program \\\"nope\\\" (known: backpack, xt, okx, okx-v5)\",\"location\":{\"field\":\"program\"}}}\n"
    );
    let out = call("settel", "{}");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with(
        "{\"error\":{\"code\":\"E_OPTIONS\",\"message\":\"unknown function \\\"settel\\\""
    ));
    let out = call("settle", "{\"program\":\"xt\",\"trades\":[]}");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("{\"ok\":{\"program\":{\"id\":\"xt\""));
}
