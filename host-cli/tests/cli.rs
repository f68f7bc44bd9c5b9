//! Runs the `broker-rules` binary on fixture files and asserts its exact output, stderr and
//! exit code (0 ok, 1 input rejected, 2 usage).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn run_with(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_broker-rules"));
    cmd.args(args)
        .current_dir(fixtures())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("run broker-rules");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> Output {
    run_with(args, None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

// ---- the backpack worked example: three clients, 10,000,000 API volume, BKR 2 (35%) ----

#[test]
fn backpack_three_clients_exact_json() {
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--trades",
        "backpack_month.csv",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), fixture("backpack_month.expected.json"));
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    assert!(out.contains(
        r#""tier":"BKR 2","rate":"0.35","volume":"10000000","fees":"5000","commission":"1690.00""#
    ));
    assert!(out.contains(r#""summary":{"from":null,"to":null,"trades":3,"duplicates":0,"rejected":0,"unknown_fields":0,"unknown_values":{},"unattributed":{},"commission":"1690.00","earliest_trade":"2026-06-03T10:00:00Z","incomplete_history":[]}"#));
    assert!(out.contains(r#""attributed":{"trades":3,"volume":"10000000","fees":"5000"},"eligible":{"trades":3,"volume":"10000000","fees":"5000"},"excluded_total":{"trades":0,"volume":"0","fees":"0"},"withheld":"0.00","metrics_window":{"start":"2026-06-01T00:00:00Z","end":"2026-07-01T00:00:00Z"},"history":"complete""#), "{out}");
}

#[test]
fn every_input_format_gives_the_same_bytes() {
    let expected = fixture("backpack_month.expected.json");
    for f in [
        "backpack_month.csv",
        "backpack_month.ndjson",
        "backpack_month.json",
    ] {
        let o = run(&["settle", "-p", "backpack", "-t", f]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), expected, "{f}");
    }
    // stdin, format sniffed from the first byte, and forced
    let csv = fixture("backpack_month.csv");
    let o = run_with(
        &["settle", "-p", "backpack", "-t", "-"],
        Some(csv.as_bytes()),
    );
    assert_eq!(stdout(&o), expected);
    let nd = fixture("backpack_month.ndjson");
    let o = run_with(
        &[
            "settle",
            "-p",
            "backpack",
            "-t",
            "-",
            "--input-format",
            "ndjson",
        ],
        Some(nd.as_bytes()),
    );
    assert_eq!(stdout(&o), expected);
}

#[test]
fn explain_lines_per_trade() {
    let o = run(&[
        "explain",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--format",
        "csv",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "id,time,broker,attribution,period_start,tier,rate,commission,excluded\n\
         t1,2026-06-03T10:00:00Z,BKR,broker_code,2026-06-01T00:00:00Z,BKR 2,0.35,700,\n\
         t2,2026-06-12T15:30:00Z,BKR,broker_code,2026-06-01T00:00:00Z,BKR 2,0.35,840,\n\
         t3,2026-06-25T08:15:00Z,BKR,broker_code,2026-06-01T00:00:00Z,BKR 2,0.35,150,\n"
    );
    let o = run(&[
        "explain",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--format",
        "json",
    ]);
    let out = stdout(&o);
    assert!(out.contains(r#"{"id":"t2","broker":"BKR","period_start":"2026-06-01T00:00:00Z","tier":"BKR 2","rate":"0.35","commission":"840","excluded":null"#), "{out}");
}

// ---- table layout ----

#[test]
fn table_layout() {
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), fixture("backpack_month.table.txt"));
    assert_eq!(
        stdout(&o),
        "Backpack API Broker Program - program backpack 2026.1 (sha256 ce366dd4950d), engine broker-rules 0.1.0\n\
         \n\
         broker  status    period   tier   tier basis             rate  eligible volume  eligible fees  commission USD  withheld  excluded  excluded volume  credit at\n\
         BKR     eligible  2026-06  BKR 2  api_volume 10,000,000   35%       10,000,000          5,000        1,690.00      0.00         0                0  2026-07-01T00:00:00Z\n\
         \n\
         Total commission: 1,690.00 USD (1 broker)\n\
         Trades: 3 accepted, 0 identical duplicates, 0 rejected, 0 unknown fields ignored\n"
    );
}

/// XT's tier reads the 30 days before each day: a log that starts on 06-10 settles 06-10 at
/// no tier without the earlier trades. The table marks such periods, stderr warns, and
/// `--complete-history` (a new broker) silences both.
#[test]
fn missing_history_is_flagged_and_can_be_declared_complete() {
    let o = run(&[
        "settle",
        "-p",
        "xt",
        "-t",
        "xt_new_broker.csv",
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("B1      eligible  2026-06-10  -*      volume 0             0%       12,000,000          1,200       0.00000000  0.00000000           0                0  2026-06-11T09:00:00Z\n"), "{out}");
    assert!(out.contains("                  2026-06-11  VIP 1*  volume 12,000,000   40%            1,000              1       0.40000000  0.00000000           0                0  2026-06-12T09:00:00Z\n"), "{out}");
    assert!(out.contains("* 2 period(s) settled on a tier window that reaches before the earliest trade supplied (2026-06-10T08:00:00Z): the tier may be too low (--complete-history if the brokers are new)\n"), "{out}");
    assert_eq!(
        stderr(&o),
        "broker-rules: warning: 2 period(s) of 1 broker(s) have a tier window reaching before the earliest trade supplied (2026-06-10T08:00:00Z); their tier may be too low (history: \"incomplete\"). Pass the earlier trades, or --complete-history if the brokers are new.\n\
         broker-rules:   B1: 2 period(s), 2026-06-10T00:00:00Z .. 2026-06-11T00:00:00Z\n"
    );
    let o = run(&[
        "settle",
        "-p",
        "xt",
        "-t",
        "xt_new_broker.csv",
        "--format",
        "json",
        "--complete-history",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    assert!(
        out.contains(r#""history":"complete""#) && !out.contains(r#""history":"incomplete""#),
        "{out}"
    );
    assert!(out.contains(r#""incomplete_history":[]"#), "{out}");
}

#[test]
fn explain_one_broker_in_words() {
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--explain",
        "BKR",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "Backpack API Broker Program - program backpack 2026.1 (sha256 ce366dd4950d), engine broker-rules 0.1.0\n\
         \n\
         Broker BKR (eligible): 1,690.00 USD payable over 1 period(s).\n\
         Formula per eligible trade: fee * min(tier_rate, max(0, 50% - affiliate_rate)); summed exactly per period, then rounded once (half_even, 2 decimals).\n\
         \n\
         2026-06 (2026-06-01T00:00:00Z .. 2026-07-01T00:00:00Z), credited 2026-07-01T00:00:00Z\n\
         \x20 tier basis: api_volume 10,000,000 over [2026-06-01T00:00:00Z, 2026-07-01T00:00:00Z)\n\
         \x20 tier: BKR 2 (rate 35%)\n\
         \x20 next on ladder api_volume: BKR 3 needs api_volume >= 20,000,000 (10,000,000 more)\n\
         \x20 attributed: 3 trade(s), volume 10,000,000, fees 5,000\n\
         \x20 = eligible: 3 trade(s), volume 10,000,000, fees 5,000 (what the rate applied to)\n\
         \x20 commission: exact 1690 -> 1,690.00 USD\n"
    );
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--explain",
        "NOPE",
    ]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("--explain NOPE: no such broker in this statement (brokers: BKR)"),
        "{}",
        stderr(&o)
    );
}

/// The README's console example shows what the binary prints, byte for byte.
#[test]
fn readme_console_example_is_current() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    for (args, marker) in [
        (
            vec![
                "settle",
                "-p",
                "backpack",
                "-t",
                "backpack_month.csv",
                "--format",
                "table",
            ],
            "$ broker-rules settle --program backpack --trades june.csv --format table\n",
        ),
        (
            vec![
                "settle",
                "-p",
                "backpack",
                "-t",
                "backpack_month.csv",
                "--explain",
                "BKR",
            ],
            "$ broker-rules settle --program backpack --trades june.csv --explain BKR\n",
        ),
    ] {
        let start = readme.find(marker).expect(marker) + marker.len();
        let block = &readme[start..];
        let end = block.find("\n$ ").map(|i| i + 1).unwrap_or(block.len());
        let o = run(&args);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o).trim_end(), block[..end].trim_end(), "{marker}");
    }
    // `estimate --actuals`, in the README and in docs/estimate.md.
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/estimate.md"),
    )
    .unwrap();
    for (text, growth, format) in [
        (&readme, "100%", "table"),
        (&docs, "100%", "table"),
        (&docs, "-10%", "csv"),
    ] {
        let marker = format!(
            "$ broker-rules estimate --program backpack --actuals june.csv --growth {growth} --format {format}\n"
        );
        let start = text.find(&marker).expect(&marker) + marker.len();
        let block = &text[start..];
        let end = ["\n$ ", "\n```"]
            .iter()
            .filter_map(|m| block.find(m))
            .min()
            .map(|i| i + 1)
            .unwrap_or(block.len());
        let o = run(&[
            "estimate",
            "-p",
            "backpack",
            "--actuals",
            "backpack_month.csv",
            "--growth",
            growth,
            "--format",
            format,
        ]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o).trim_end(), block[..end].trim_end(), "{marker}");
    }
}

#[test]
fn table_lists_rejected_trades_in_lenient_mode() {
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "bad_row.csv",
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), fixture("bad_row.table.txt"));
}

#[test]
fn statement_csv() {
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "backpack_month.csv",
        "--format",
        "csv",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "broker,status,reason,period_start,period_end,credit_at,tier,rate,volume,fees,commission,trades,excluded_trades,currency,eligible_volume,eligible_fees,eligible_trades,excluded_volume,excluded_fees,withheld,metrics_window_start,metrics_window_end,history,tier_basis\n\
         BKR,eligible,,2026-06-01T00:00:00Z,2026-07-01T00:00:00Z,2026-07-01T00:00:00Z,BKR 2,0.35,10000000,5000,1690.00,3,0,USD,10000000,5000,3,0,0,0.00,2026-06-01T00:00:00Z,2026-07-01T00:00:00Z,complete,api_volume=10000000\n"
    );
}

// ---- bad input: exact messages and exit codes ----

fn strict_error(file: &str) -> String {
    let o = run(&["settle", "-p", "backpack", "-t", file, "--strict"]);
    assert_exit(&o, 1);
    assert_eq!(stdout(&o), "");
    stderr(&o)
}

#[test]
fn malformed_csv_row() {
    assert_eq!(
        strict_error("bad_row.csv"),
        "error[E_PARSE]: bad_row.csv:3: malformed CSV: CSV error: record 2 (line: 3, byte: 128): found record with 5 fields, but the previous record has 9 fields\n  \
         help: check the file is well-formed JSON, NDJSON or CSV with a header row\n"
    );
    // lenient: listed, the rest settled
    let o = run(&[
        "settle",
        "-p",
        "backpack",
        "-t",
        "bad_row.csv",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains(
        r#""rejected":[{"id":null,"line":3,"code":"E_PARSE","message":"malformed CSV: CSV error: record 2 (line: 3, byte: 128): found record with 5 fields, but the previous record has 9 fields","field":null}]"#
    ));
    assert!(stdout(&o).contains(r#""commission":"750.00""#));
    assert_eq!(
        stderr(&o),
        "broker-rules: 1 trade(s) of bad_row.csv rejected and not settled; they are listed under \"rejected\" (--strict fails on the first)\n"
    );
}

#[test]
fn scientific_notation() {
    assert_eq!(
        strict_error("scientific.csv"),
        "error[E_DECIMAL]: scientific.csv:2:7: \"1e5\" is not a decimal: scientific notation is not accepted; write the digits out, e.g. \"0.00012\" (field notional, trade t1)\n  \
         help: pass decimals as strings of digits such as \"1234.56\" (no exponent, no binary floats)\n"
    );
    let o = run(&["settle", "-p", "backpack", "-t", "scientific.csv"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains(r#""rejected":[{"id":"t1","line":2,"code":"E_DECIMAL","message":"\"1e5\" is not a decimal: scientific notation is not accepted; write the digits out, e.g. \"0.00012\"","field":"notional"}]"#));
}

#[test]
fn negative_notional() {
    assert_eq!(
        strict_error("negative.csv"),
        "error[E_VALUE]: negative.csv:2:7: notional must be >= 0, got -100 (field notional, trade t1)\n  \
         help: the value is outside the range the field allows\n"
    );
}

#[test]
fn missing_required_field() {
    assert_eq!(
        strict_error("missing_field.ndjson"),
        "error[E_FIELD]: missing_field.ndjson:1: missing required field account (field account, trade t1)\n  \
         help: check the field names and types against the schema\n"
    );
    // a CSV without the column fails in both modes: no row could be read
    let o = run(&["settle", "-p", "backpack", "-t", "missing_column.csv"]);
    assert_exit(&o, 1);
    assert_eq!(
        stderr(&o),
        "error[E_FIELD]: missing_column.csv:1: the CSV header has no account column (field account)\n  \
         help: check the field names and types against the schema\n"
    );
}

#[test]
fn duplicate_id_with_different_content() {
    let expected = "error[E_DUPLICATE_ID]: duplicate.csv:3:1: trade id \"t1\" appears twice with different content (field id, trade t1)\n  \
                    help: each trade id must identify one fill; remove or fix the conflicting copy\n";
    assert_eq!(strict_error("duplicate.csv"), expected);
    // fatal in lenient mode too: no order-independent choice exists
    let o = run(&["settle", "-p", "backpack", "-t", "duplicate.csv"]);
    assert_exit(&o, 1);
    assert_eq!(stderr(&o), expected);
}

#[test]
fn unknown_program() {
    let o = run(&[
        "settle",
        "--program",
        "nope",
        "--trades",
        "backpack_month.csv",
    ]);
    assert_exit(&o, 2);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        "error[E_UNKNOWN_PROGRAM]: no built-in program \"nope\" (known: backpack, xt, okx, okx-v5) (field program)\n  \
         help: `broker-rules programs` lists the built-in programs\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["settle"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--program <PROGRAM>"), "{}", stderr(&o));
    let o = run(&["settle", "-p", "backpack", "-t", "no-such-file.csv"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).starts_with("error: cannot open no-such-file.csv: "),
        "{}",
        stderr(&o)
    );
    let o = run(&["settle", "-p", "backpack", "--format", "xml"]);
    assert_exit(&o, 2);
}

// ---- the bundled sample and the generator ----

#[test]
fn settle_without_trades_uses_the_bundled_sample() {
    let o = run(&["settle", "--program", "backpack", "--format", "table"]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).starts_with(
            "broker-rules: no --trades given; using the bundled sample log (4000 trades"
        ),
        "{}",
        stderr(&o)
    );
    let out = stdout(&o);
    for b in ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO"] {
        assert!(out.contains(b), "{b} missing:\n{out}");
    }
    for tier in ["BKR 0", "BKR 1", "BKR 2", "BKR 3", "BKR 5"] {
        assert!(out.contains(tier), "{tier} missing:\n{out}");
    }
    assert!(
        out.contains("Excluded trades by reason: non_api_channel"),
        "{out}"
    );
    assert!(out.contains("Unattributed trades: no_broker"), "{out}");
    // deterministic: the same bytes every run, and the same as the written sample
    let a = run(&["settle", "-p", "backpack", "-f", "json"]);
    let b = run(&["settle", "-p", "backpack", "-f", "json"]);
    assert_eq!(a.stdout, b.stdout);
    // By value (the independent model in tests/model gives the same figures): each broker's
    // commission, tier and tier basis per month. DELTA's July is BKR 0 although its attributed
    // volume passes 5M: the tier basis is its API volume, 3,955,719.33.
    let st: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let got: Vec<(String, String, String, String, String)> = st["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| {
            b["periods"].as_array().unwrap().iter().map(move |p| {
                (
                    b["broker"].as_str().unwrap().to_string(),
                    p["start"].as_str().unwrap()[..7].to_string(),
                    p["tier"].as_str().unwrap().to_string(),
                    p["metrics"]["api_volume"].as_str().unwrap().to_string(),
                    p["commission"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    let want = [
        ("ALPHA", "2026-06", "BKR 5", "112592536.71", "15217.33"),
        ("ALPHA", "2026-07", "BKR 5", "114042960.21", "15298.19"),
        ("BRAVO", "2026-06", "BKR 3", "23998386.34", "2642.86"),
        ("BRAVO", "2026-07", "BKR 3", "25857799.13", "3018.65"),
        ("CHARLIE", "2026-06", "BKR 2", "13326586.75", "1316.08"),
        ("CHARLIE", "2026-07", "BKR 3", "22423631.72", "2490.18"),
        ("DELTA", "2026-06", "BKR 1", "7106871.39", "644.08"),
        ("DELTA", "2026-07", "BKR 0", "3955719.33", "240.14"),
        ("ECHO", "2026-06", "BKR 0", "1105196.64", "67.44"),
        ("ECHO", "2026-07", "BKR 0", "1413464.07", "82.05"),
    ];
    let want: Vec<(String, String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(st["summary"]["commission"], "41017.00");
    let csv = run(&["sample"]);
    assert_exit(&csv, 0);
    let c = run_with(
        &["settle", "-p", "backpack", "-t", "-", "-f", "json"],
        Some(&csv.stdout),
    );
    assert_eq!(a.stdout, c.stdout);
    // the sample has affiliate-referred clients, web trades and negative fees
    let text = stdout(&csv);
    assert_eq!(text.lines().count(), 4001);
    assert!(text.contains(",web,") && text.contains(",-0.00005,") && text.contains(",0.25\n"));
}

#[test]
fn sample_writes_csv_and_ndjson_by_extension() {
    let dir = std::env::temp_dir().join(format!("broker-rules-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("s.csv");
    let nd = dir.join("s.ndjson");
    let o = run(&[
        "sample",
        "--count",
        "1000",
        "--seed",
        "7",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let o = run(&[
        "sample",
        "--count",
        "1000",
        "--seed",
        "7",
        "--out",
        nd.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 1001);
    let first = std::fs::read_to_string(&nd)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        first.starts_with(r#"{"id":"T00000001","time":"2026-06-01T"#),
        "{first}"
    );
    let a = run(&["settle", "-p", "xt", "-t", csv.to_str().unwrap()]);
    let b = run(&["settle", "-p", "xt", "-t", nd.to_str().unwrap()]);
    assert_exit(&a, 0);
    assert_eq!(a.stdout, b.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- estimate, programs, validate, schema ----

#[test]
fn estimate_json_and_table() {
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--volume",
        "8000000",
        "--fee-rate",
        "0.0002",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains(r#""tier":"BKR 1","rate":"0.3""#), "{out}");
    assert!(out.contains(r#""commission":"480.00","next":{"tier":"BKR 2","rate":"0.35","volume":"10000000","volume_needed":"2000000","commission":"700.00"}"#), "{out}");
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--volume",
        "8000000",
        "--fee-rate",
        "0.0002",
        "--format",
        "table",
    ]);
    let out = stdout(&o);
    assert!(out.contains("tier        BKR 1 (30%)\ncommission  480.00 USD\nnext tier   BKR 2 (35%) from 10,000,000 USD: 2,000,000 USD more volume, commission there 700.00 USD\n"), "{out}");
    // a float-looking value is refused with the engine's code
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--volume",
        "8e6",
        "--fee-rate",
        "0.0002",
    ]);
    assert_exit(&o, 1);
    assert!(
        stderr(&o).starts_with("error[E_OPTIONS]: scenario: "),
        "{}",
        stderr(&o)
    );
}

/// `estimate --actuals --growth`: backpack_month.csv settled as given and doubled. Worked
/// by hand: actual api_volume 10,000,000 -> BKR 2 (35%): t1 2,000 x 35% = 700, t2 2,400 x
/// min(35%, 50% - 10%) = 840, t3 600 x min(35%, 25%) = 150 -> 1,690.00. Doubled: 20,000,000
/// -> BKR 3 (40%): 4,000 x 40% = 1,600, 4,800 x min(40%, 40%) = 1,920, 1,200 x 25% = 300
/// -> 3,820.00, +2,130.00. At -10%: 9,000,000 -> BKR 1 (30%): 540 + 648 + 135 = 1,323.00.
#[test]
fn estimate_from_actuals_table_json_and_errors() {
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--actuals",
        "backpack_month.csv",
        "--growth",
        "100%",
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "Backpack API Broker Program - program backpack 2026.1 (sha256 ce366dd4950d), engine broker-rules 0.1.0\n\
What if volume grows 100% (every notional and fee x 2; accounts, fee rates and dates as settled)\n\
\n\
broker  period   tier            tier basis actual      tier basis what-if     actual USD  what-if USD  difference\n\
BKR     2026-06  BKR 2 -> BKR 3  api_volume 10,000,000  api_volume 20,000,000    1,690.00     3,820.00   +2,130.00\n\
\n\
Total commission: actual 1,690.00 USD, what-if 3,820.00 USD, difference +2,130.00 USD (1 broker)\n\
Active clients do not grow: a ladder that also needs clients keeps its tier until they are there.\n"
    );
    // The same trades from stdin, one broker, a decline, as JSON: the core's bytes.
    let csv = std::fs::read(fixtures().join("backpack_month.csv")).unwrap();
    let o = run_with(
        &[
            "estimate",
            "-p",
            "backpack",
            "--actuals",
            "-",
            "--growth",
            "-0.1",
            "--broker",
            "BKR",
            "-f",
            "json",
        ],
        Some(&csv),
    );
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains(r#""growth":"-0.1","factor":"0.9""#), "{out}");
    assert!(out.contains(r#""what_if":{"tier":"BKR 1","rate":"0.3","metrics":{"api_volume":"9000000"},"volume":"9000000","eligible_volume":"9000000","commission":"1323.00","withheld":"0.00"},"difference":"-367.00"}"#), "{out}");
    assert!(out.ends_with("\"actual\":\"1690.00\",\"what_if\":\"1323.00\",\"difference\":\"-367.00\",\"withheld\":{\"actual\":\"0.00\",\"what_if\":\"0.00\",\"difference\":\"0.00\"},\"rejected\":[],\"incomplete_history\":[]}\n"), "{out}");
    // The same request through `call` gives the same bytes.
    let req = format!(
        r#"{{"program":"backpack","actuals":{{"trades":{},"format":"csv"}},"growth":"-0.1","broker":"BKR"}}"#,
        serde_json::to_string(std::str::from_utf8(&csv).unwrap()).unwrap()
    );
    let c = run_with(&["call", "estimate", "-r", "-"], Some(req.as_bytes()));
    assert_exit(&c, 0);
    assert_eq!(stdout(&c), format!("{{\"ok\":{}}}\n", out.trim_end()));
    // growth -100% is the core's E_OPTIONS; a scenario flag beside --actuals is usage.
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--actuals",
        "backpack_month.csv",
        "--growth",
        "-100%",
    ]);
    assert_exit(&o, 1);
    assert_eq!(
        stderr(&o),
        "error[E_OPTIONS]: growth must be greater than -1 (-100%), got -1 (field growth)\n  help: fix the options or scenario\n"
    );
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--actuals",
        "backpack_month.csv",
        "--growth",
        "1",
        "--volume",
        "5",
    ]);
    assert_exit(&o, 2);
    let o = run(&[
        "estimate",
        "-p",
        "backpack",
        "--actuals",
        "backpack_month.csv",
        "--growth",
        "0.2",
        "--broker",
        "NOPE",
    ]);
    assert_exit(&o, 1);
    assert!(
        stderr(&o).starts_with("error[E_OPTIONS]: broker \"NOPE\" has no statement"),
        "{}",
        stderr(&o)
    );
}

/// okx-v5 actuals with a client kickback, grown 20% (the vector
/// estimate-actuals-okx-v5-kickback-and-cap): K1 stays L1 (25%); j1's fee 100 -> 120 pays
/// 25 -> 30, of which the client's 0.2 is 5 -> 6; the VIP 5 client stays at its 500 cap;
/// j5 10 -> 12. The broker's part 530 -> 536, the clients' 5 -> 6: both in the table and
/// the CSV's kickback columns.
#[test]
fn estimate_from_actuals_shows_the_kickback() {
    let dir = std::env::temp_dir().join(format!("br-whatif-kick-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/vectors/estimate-actuals-okx-v5-kickback-and-cap.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (trades, registry) = (dir.join("t.json"), dir.join("r.json"));
    std::fs::write(&trades, v["input"]["actuals"]["trades"].to_string()).unwrap();
    std::fs::write(&registry, v["input"]["actuals"]["registry"].to_string()).unwrap();
    let args = |format: &'static str| {
        vec![
            "estimate".to_string(),
            "-p".into(),
            "okx-v5".into(),
            "--actuals".into(),
            trades.display().to_string(),
            "--registry".into(),
            registry.display().to_string(),
            "--from".into(),
            "2026-06-01T00:00:00Z".into(),
            "--growth".into(),
            "20%".into(),
            "-f".into(),
            format.into(),
        ]
    };
    let table = run(&args("table").iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&table, 0);
    let out = stdout(&table);
    assert!(out.contains("Total commission: actual 530.00000000 USDT, what-if 536.00000000 USDT, difference +6.00000000 USDT (1 broker)\n\
Clients' kickback (besides the commission): actual 5.00000000 USDT, what-if 6.00000000 USDT, difference +1.00000000 USDT\n"), "{out}");
    assert!(!out.contains("Withheld"), "{out}");
    let csv = run(&args("csv").iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&csv, 0);
    assert_eq!(
        stdout(&csv),
        "broker,status,period_start,history,actual_tier,what_if_tier,actual_volume,what_if_volume,actual_commission,what_if_commission,difference,actual_withheld,what_if_withheld,actual_kickback,what_if_kickback,currency\n\
K1,eligible,2026-06-10T10:00:00Z,complete,L1,L1,8680000,10416000,530.00000000,536.00000000,6.00000000,0.00000000,0.00000000,5.00000000,6.00000000,USDT\n"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn programs_list_and_show() {
    let o = run(&["programs", "--format", "csv"]);
    assert_exit(&o, 0);
    let ids: Vec<String> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["backpack", "xt", "okx", "okx-v5"]);
    let o = run(&["programs", "show", "backpack"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["id"], "backpack");
    let o = run(&["programs", "show", "nope"]);
    assert_exit(&o, 2);
}

#[test]
fn validate_reports_every_problem() {
    let o = run(&["validate", "--trades", "bad_row.csv", "--format", "table"]);
    assert_exit(&o, 1);
    assert_eq!(
        stdout(&o),
        "bad_row.csv: 1 problem (trades)\n  bad_row.csv:3: E_PARSE malformed CSV: CSV error: record 2 (line: 3, byte: 128): found record with 5 fields, but the previous record has 9 fields\n"
    );
    let o = run(&[
        "validate",
        "--trades",
        "backpack_month.csv",
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "backpack_month.csv: ok (trades)\n");
    let o = run(&[
        "validate",
        "--program",
        "bad_program.json",
        "--format",
        "json",
    ]);
    assert_exit(&o, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["valid"], false);
    assert!(!v[0]["problems"].as_array().unwrap().is_empty());
}

/// `validate --strict` is the core's check fed from the file: the problems are the bytes of
/// the `validate-trades-csv-strict-unknown-values` vector, which every host replays.
#[test]
fn validate_strict_is_the_cores_check() {
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            fixtures()
                .join("../../../tests/vectors/validate-trades-csv-strict-unknown-values.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("br-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unknown.csv");
    std::fs::write(&file, vector["input"]["trades"].as_str().unwrap()).unwrap();
    let path = file.to_str().unwrap();
    let o = run(&[
        "validate",
        "--program",
        "xt",
        "--trades",
        path,
        "--strict",
        "--format",
        "json",
    ]);
    assert_exit(&o, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["problems"], vector["expected"]["ok"]["problems"]);
    assert_eq!(
        v[0]["problems"][1]["message"],
        "unknown channel \"API\" in 2 trades"
    );
    // Without --strict the same file is valid: lenient settlement rejects none of it.
    let o = run(&[
        "validate",
        "--program",
        "xt",
        "--trades",
        path,
        "--format",
        "table",
    ]);
    assert_exit(&o, 0);
    std::fs::remove_dir_all(&dir).ok();
}

/// okx-v5 from files: the table lists the clients' kickback beside the broker's commission,
/// the CSV adds it as a last column (the `okx-v5-exclusions-cap-and-kickback` vector's input).
#[test]
fn okx_v5_reports_the_clients_kickback() {
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            fixtures().join("../../../tests/vectors/okx-v5-exclusions-cap-and-kickback.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("br-okx-v5-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trades = dir.join("trades.ndjson");
    let lines: Vec<String> = vector["input"]["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    std::fs::write(&trades, lines.join("\n") + "\n").unwrap();
    let registry = dir.join("registry.json");
    std::fs::write(&registry, vector["input"]["registry"].to_string()).unwrap();
    let args = |format: &'static str| {
        vec![
            "settle".to_string(),
            "--program".into(),
            "okx-v5".into(),
            "--trades".into(),
            trades.to_str().unwrap().into(),
            "--brokers".into(),
            registry.to_str().unwrap().into(),
            "--from".into(),
            "2026-06-01".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let run_owned = |a: Vec<String>| run(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let o = run_owned(args("table"));
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("Total commission: 530.00000000 USDT (1 broker)"),
        "{out}"
    );
    assert!(
        out.contains("Client kickbacks (not in the commission above): K1 5.00000000\n"),
        "{out}"
    );
    let o = run_owned(args("csv"));
    assert_exit(&o, 0);
    let out = stdout(&o);
    let mut rows = out.lines();
    assert!(rows.next().unwrap().ends_with(",tier_basis,kickback"));
    let june = rows.next().unwrap();
    assert!(
        june.starts_with("K1,eligible,,2026-06-10T10:00:00Z,"),
        "{june}"
    );
    assert!(june.contains(",530.00000000,5,"), "{june}");
    assert!(june.ends_with(",5.00000000"), "{june}");
    let mut explain = args("table");
    explain.extend(["--explain".to_string(), "K1".to_string()]);
    let o = run_owned(explain);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("  clients' kickback: 5.00000000 USDT passed back to clients"),
        "{out}"
    );
    assert!(
        out.contains("  commission: exact 530 -> 530.00000000 USDT"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn schema_prints_json_schemas() {
    let o = run(&["schema", "trade"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["properties"]["notional"].is_object(), "{v}");
    let o = run(&["schema", "--list"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).lines().any(|l| l == "statement"));
    let o = run(&["schema", "nope"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).starts_with("error: no schema \"nope\" (known: program, trade,"),
        "{}",
        stderr(&o)
    );
}

// ---- columnar input, renamed columns, threads ----

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("broker-rules-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn parquet_sample_settles_to_the_csv_sample_bytes_on_every_program() {
    let (csv, pq) = (temp("s.csv"), temp("s.parquet"));
    for out in [&csv, &pq] {
        assert_exit(
            &run(&["sample", "--count", "20000", "--seed", "7", "--out", out]),
            0,
        );
    }
    assert_eq!(&std::fs::read(&pq).unwrap()[..4], b"PAR1");
    for program in ["backpack", "xt", "okx"] {
        let a = run(&[
            "settle",
            "--program",
            program,
            "--trades",
            &csv,
            "--format",
            "json",
        ]);
        let b = run(&[
            "settle",
            "--program",
            program,
            "--trades",
            &pq,
            "--format",
            "json",
        ]);
        let c = run(&[
            "settle",
            "--program",
            program,
            "--trades",
            &csv,
            "--format",
            "json",
            "--threads",
            "1",
        ]);
        assert_exit(&a, 0);
        assert_exit(&b, 0);
        assert_eq!(stdout(&a), stdout(&b), "{program}: CSV and Parquet differ");
        assert_eq!(stdout(&a), stdout(&c), "{program}: 1 and 2 threads differ");
        assert!(stdout(&a).contains(r#""trades":20000"#), "{program}");
    }
}

#[test]
fn renamed_columns_settle_like_the_trade_field_names() {
    let text = fixture("backpack_month.csv");
    let (header, rows) = text.split_once('\n').unwrap();
    let renamed = header
        .replace("id,", "trade_id,")
        .replace("time", "ts")
        .replace("account", "user_id")
        .replace("broker", "broker_code");
    let path = temp("renamed.csv");
    std::fs::write(&path, format!("{renamed}\n{rows}")).unwrap();
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--trades",
        &path,
        "--format",
        "json",
        "--column",
        "trade_id=id",
        "--column",
        "ts=time",
        "--column",
        "user_id=account",
        "--column",
        "broker_code=broker",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), fixture("backpack_month.expected.json"));
    // A rename onto a field the trade format does not have is a usage error.
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--trades",
        &path,
        "--column",
        "ts=when",
    ]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("when"), "{}", stderr(&o));
    // Without the renames the required columns are missing.
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--trades",
        &path,
        "--format",
        "json",
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("E_FIELD"), "{}", stderr(&o));
}

#[test]
fn partial_states_written_and_merged_give_the_one_process_statement() {
    let text = fixture("backpack_month.csv");
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let (a, b) = (temp("part-a.csv"), temp("part-b.csv"));
    std::fs::write(&a, format!("{header}\n{}\n", rows[0])).unwrap();
    std::fs::write(&b, format!("{header}\n{}\n", rows[1..].join("\n"))).unwrap();
    let (sa, sb) = (temp("a.brps"), temp("b.brps"));
    for (trades, state) in [(&a, &sa), (&b, &sb)] {
        let o = run(&[
            "settle",
            "--program",
            "backpack",
            "--trades",
            trades,
            "--state-out",
            state,
        ]);
        assert_exit(&o, 0);
        assert!(
            stderr(&o).contains("wrote the partial state"),
            "{}",
            stderr(&o)
        );
        assert_eq!(&std::fs::read(state).unwrap()[..4], b"BRPS");
    }
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--state",
        &sa,
        "--state",
        &sb,
        "--format",
        "json",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), fixture("backpack_month.expected.json"));
    // Trades and a state together.
    let o = run(&[
        "settle",
        "--program",
        "backpack",
        "--trades",
        &b,
        "--state",
        &sa,
        "--format",
        "json",
    ]);
    assert_eq!(stdout(&o), fixture("backpack_month.expected.json"));
    // A state of another program is refused with its code.
    let o = run(&[
        "settle",
        "--program",
        "xt",
        "--state",
        &sa,
        "--format",
        "json",
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("E_PARTIAL"), "{}", stderr(&o));
}

/// One id with two contents on either side of a 4 MiB chunk boundary, read on two threads:
/// the worker on the second chunk meets the later trade first. The error is still the
/// one-thread error, on the later trade's line (the reader settles again in input order).
#[test]
fn duplicate_id_across_chunks_names_the_later_line_on_threads() {
    const CHUNK: usize = 4 << 20;
    let mut text = String::from("id,time,account,broker,channel,product,notional,fee\n");
    let row = |id: usize, fee: u32| {
        format!(
            "t{id:07},2026-06-{:02}T10:00:00Z,c{},BKR,api,spot,{}000,{fee}\n",
            1 + id % 28,
            id % 40,
            1 + id % 7
        )
    };
    let (mut first, mut later) = (None, None);
    let mut line = 1;
    for i in 0..200_000 {
        let start = text.len();
        line += 1;
        if first.is_none() && start + 2_000 > CHUNK {
            first = Some(line);
            text.push_str(&row(1, 1));
        } else if later.is_none() && start > CHUNK + 2_000 {
            later = Some(line);
            text.push_str(&row(1, 2));
        } else {
            text.push_str(&row(i + 10, 1));
        }
    }
    let (first, later) = (first.unwrap(), later.unwrap());
    assert!(first < later && text.len() > 2 * CHUNK);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("duplicate-across-chunks.csv");
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();
    let expected = format!(
        "error[E_DUPLICATE_ID]: {path}:{later}:1: trade id \"t0000001\" appears twice with different content (field id, trade t0000001)\n  \
         help: each trade id must identify one fill; remove or fix the conflicting copy\n"
    );
    for threads in ["2", "1", "2", "2"] {
        let o = run(&["settle", "-p", "backpack", "-t", path, "--threads", threads]);
        assert_exit(&o, 1);
        assert_eq!(stderr(&o), expected, "--threads {threads}");
    }
}
