//! `broker-rules reconcile` on fixture files: exact output and exit codes (0 all matched,
//! 3 differences, 1 a bad report, 2 usage). The fixtures are the trades and OKX-format
//! report of the conformance vector `reconcile-order-every-cause` (worked figures there).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_broker-rules"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .stdin(Stdio::null())
        .output()
        .expect("run broker-rules")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const BASE: [&str; 9] = [
    "reconcile",
    "--program",
    "backpack",
    "--trades",
    "reconcile-fills.csv",
    "--report-format",
    "okx-rebate-per-orders",
    "--by",
    "order",
];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    BASE.iter().chain(extra).copied().collect()
}

/// The fixtures' reconciliation as JSON (every cause, exit 3): what other inputs of the same
/// trades and report must reproduce byte for byte.
fn every_cause_json(report: &str) -> Output {
    run(&with(&[
        "--report",
        report,
        "--tolerance",
        "0.00000001",
        "-f",
        "json",
    ]))
}

#[test]
fn table_lists_every_difference_with_its_cause_and_exits_3() {
    let o = run(&with(&[
        "--report",
        "reconcile-rebates.csv",
        "--tolerance",
        "0.00000001",
        "-f",
        "table",
    ]));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let want = "\
Backpack API Broker Program - program backpack 2026.1 (sha256 ce366dd4950d), engine broker-rules 0.1.0
by order, report format okx-rebate-per-orders, tolerance 0.00000001 USD

keys 10: matched 2, differs 4, only ours 1, only theirs 3
ours 2.5 USD, theirs 2.540000001 USD, difference (theirs - ours) 0.040000001 USD
causes: attribution 1, excluded 1, fee_base 1, missing_trades 2, not_in_report 1, not_paid 1, rate 1, rounding 1

key  broker  status       cause           ours  theirs  difference  detail
o10  B1      only_theirs  missing_trades     -    0.14        0.14  their_broker=B1
o11  B1      differs      missing_trades   0.4     0.6         0.2  volume_difference=1000
o3   B1      only_theirs  excluded           0     0.2         0.2  reason=non_api_channel
o4   B1      only_ours    not_in_report    0.6       -        -0.6
o6   B1      differs      rate             0.2     0.3         0.1  our_tier=BKR 0 their_tier=BKR 1 our_rate=0.2 their_rate=0.3
o7   B1      only_theirs  attribution        0     0.1         0.1  reason=no_broker their_broker=B1
o8   B1      differs      fee_base         0.4     0.5         0.1  fee_difference=0.5
o9   B1      differs      not_paid         0.2       0        -0.2
";
    assert_eq!(text(&o.stdout), want);
    assert_eq!(text(&o.stderr), "");
}

#[test]
fn json_is_the_core_envelope_body() {
    let o = every_cause_json("reconcile-rebates.csv");
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["difference"], "0.040000001");
    assert_eq!(v["summary"]["counts"]["only_theirs"], 3);
    assert_eq!(v["rows"][4]["key"]["order"], "o6");
    assert_eq!(v["rows"][4]["detail"]["their_tier"], "BKR 1");
    // The same bytes as the JSON API with the vector's request.
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/vectors/reconcile-order-every-cause.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v, vector["expected"]["ok"]);
}

/// A trade log with the exchange's own column names reconciles with `--column` renames
/// exactly as the log with the field names does (and `validate` takes the same renames).
#[test]
fn renamed_trade_columns_reconcile_the_same() {
    let dir = std::env::temp_dir().join(format!("br-rc-cols-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fills = std::fs::read_to_string(fixtures.join("reconcile-fills.csv")).unwrap();
    let (head, rest) = fills.split_once('\n').unwrap();
    assert_eq!(
        head,
        "id,time,account,broker,channel,product,notional,fee,order,instrument"
    );
    let renamed = dir.join("fills.csv");
    std::fs::write(
        &renamed,
        format!("tradeId,ts,uid,brokerCode,channel,product,notional,fee,ordId,instId\n{rest}"),
    )
    .unwrap();
    let report = fixtures.join("reconcile-rebates.csv");
    let columns = [
        "--column",
        "tradeId=id",
        "--column",
        "ts=time",
        "--column",
        "uid=account",
        "--column",
        "brokerCode=broker",
        "--column",
        "ordId=order",
        "--column",
        "instId=instrument",
    ];
    let mut args = vec![
        "reconcile",
        "--program",
        "backpack",
        "--trades",
        renamed.to_str().unwrap(),
        "--report-format",
        "okx-rebate-per-orders",
        "--by",
        "order",
        "--report",
        report.to_str().unwrap(),
        "--tolerance",
        "0.00000001",
        "-f",
        "json",
    ];
    args.extend(columns);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let plain = every_cause_json("reconcile-rebates.csv");
    assert_eq!(text(&o.stdout), text(&plain.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["difference"], "0.040000001");
    let mut check = vec![
        "validate",
        "--trades",
        renamed.to_str().unwrap(),
        "-f",
        "table",
    ];
    check.extend(columns);
    let o = run(&check);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    std::fs::remove_dir_all(&dir).ok();
}

/// The OKX report of the fixtures as Parquet, the way a data lake exports it: rebates and
/// amounts as decimal128, `ts` as timestamp[ms], the rest as strings (`rebate` chooses the
/// rebate column's type: decimal128 or, to be refused, float64).
fn okx_report_parquet(path: &std::path::Path, rebate: arrow_schema::DataType) {
    use arrow_array::builder::{
        Decimal128Builder, Float64Builder, StringBuilder, TimestampMillisecondBuilder,
    };
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;
    let csv = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reconcile-rebates.csv"),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let decimals = [
        "spotTradeAmt",
        "derivativeTradeAmt",
        "fee",
        "netFee",
        "brokerRebate",
    ];
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let cells = rows.iter().map(|r| r[i]);
        if *name == "ts" {
            let mut b = TimestampMillisecondBuilder::new();
            cells.for_each(|c| b.append_value(c.parse().unwrap()));
            fields.push(Field::new(
                *name,
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ));
            arrays.push(Arc::new(b.finish()));
        } else if *name == "brokerRebate" && rebate == DataType::Float64 {
            let mut b = Float64Builder::new();
            cells.for_each(|c| b.append_value(c.parse().unwrap()));
            fields.push(Field::new(*name, DataType::Float64, false));
            arrays.push(Arc::new(b.finish()));
        } else if decimals.contains(name) {
            // Exact at scale 9: "0.300000001" is 300000001 units.
            let mut b = Decimal128Builder::new();
            for c in cells {
                let (int, frac) = c.split_once('.').unwrap_or((c, ""));
                let units: i128 = format!("{int}{frac:0<9}").parse().unwrap();
                b.append_value(units);
            }
            let a = b.finish().with_precision_and_scale(38, 9).unwrap();
            fields.push(Field::new(*name, DataType::Decimal128(38, 9), false));
            arrays.push(Arc::new(a));
        } else {
            let mut b = StringBuilder::new();
            cells.for_each(|c| {
                if c.is_empty() {
                    b.append_null()
                } else {
                    b.append_value(c)
                }
            });
            fields.push(Field::new(*name, DataType::Utf8, true));
            arrays.push(Arc::new(b.finish()));
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A Parquet report reconciles to the bytes of the same report as CSV; binary floats in the
/// rebate column are refused with the column's name, never read approximately.
#[test]
fn parquet_report_reconciles_like_its_csv() {
    let dir = std::env::temp_dir().join(format!("br-rc-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("rebates.parquet");
    okx_report_parquet(&report, arrow_schema::DataType::Decimal128(38, 9));
    let o = every_cause_json(report.to_str().unwrap());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let csv = every_cause_json("reconcile-rebates.csv");
    assert_eq!(text(&o.stdout), text(&csv.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["theirs"], "2.540000001");

    let floats = dir.join("floats.parquet");
    okx_report_parquet(&floats, arrow_schema::DataType::Float64);
    let o = run(&with(&["--report", floats.to_str().unwrap(), "-f", "json"]));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("E_DECIMAL") && err.contains("brokerRebate"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn csv_rows_and_a_clean_report_exits_0() {
    let o = run(&with(&["--report", "reconcile-rebates.csv", "-f", "csv"]));
    assert_eq!(o.status.code(), Some(3));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "broker_key,period_start,account,day,order,id,broker,status,cause,our_count,our_volume,our_fee,our_tier,our_rate,our_commission,their_count,their_volume,their_fee,their_tier,their_rate,their_commission,difference,detail");
    assert_eq!(lines[5], ",,,,o6,,B1,differs,rate,1,1000,1,BKR 0,0.2,0.2,1,1000,1,,,0.3,0.1,our_tier=BKR 0 their_tier=BKR 1 our_rate=0.2 their_rate=0.3");
    // Default tolerance: one cent (USD, 2 decimals); o1 (0.300000001) and o2 match, the
    // other 8 keys are listed.
    assert_eq!(lines.len(), 1 + 8);
    assert_eq!(
        lines[1],
        ",,,,o10,,B1,only_theirs,missing_trades,,,,,,,1,700,0.7,,,0.14,0.14,their_broker=B1"
    );

    let o = run(&with(&[
        "--report",
        "reconcile-rebates-clean.csv",
        "-f",
        "table",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(
        "keys 7: matched 7, differs 0, only ours 0, only theirs 0\nours 2.5 USD, theirs 2.5 USD, difference (theirs - ours) 0 USD\n"
    ));
}

#[test]
fn bad_report_exits_1_with_line_and_column_usage_exits_2() {
    let o = run(&with(&["--report", "reconcile-rebates-bad.csv"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with(
        "error[E_DECIMAL]: reconcile-rebates-bad.csv:3:12: report column \"brokerRebate\": \"4e-1\" is not a decimal"
    ), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());

    let mut args = with(&["--report", "reconcile-rebates.csv"]);
    args[6] = "binance-link";
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("unknown report format \"binance-link\""));

    let mut args = with(&["--report", "reconcile-rebates.csv"]);
    args[8] = "week";
    assert_eq!(run(&args).status.code(), Some(2));
}

#[test]
fn generic_format_by_trade_with_map() {
    let o = run(&[
        "reconcile",
        "--program",
        "backpack",
        "--trades",
        "reconcile-fills.csv",
        "--report",
        "reconcile-rebates.csv",
        "--by",
        "trade",
        "--map",
        "ordId=id",
        "--map",
        "brokerRebate=commission",
        "-f",
        "json",
    ]);
    // Report order ids are not trade ids: every paying key is on one side only.
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["by"], "trade");
    assert_eq!(v["summary"]["counts"]["matched"], 0);
    // Ours: t1 0.2, t2 0.1, t3 0.4, t5 0.6, t6 0.2, t8 0.4, t9 0.2, t11 0.4 (8 trades, 2.5).
    assert_eq!(v["summary"]["counts"]["only_ours"], 8);
    // Theirs: 8 rows pay (o9 pays 0 and is not counted).
    assert_eq!(v["summary"]["counts"]["only_theirs"], 8);
    assert_eq!(v["summary"]["ours"], "2.5");
    assert_eq!(v["summary"]["theirs"], "2.540000001");
}

/// The README's "Checking a payout" console block is what the binary prints.
#[test]
fn readme_example_is_the_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("<!-- section: reconcile -->").unwrap();
    let block = &readme[start..];
    let block = &block[block.find("```console\n").unwrap() + 11..];
    let block = &block[..block.find("```").unwrap()];
    let (command, want) = block.split_once('\n').unwrap();
    let args: Vec<&str> = command
        .strip_prefix("$ broker-rules ")
        .unwrap()
        .split(' ')
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_broker-rules"))
        .args(&args)
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(text(&o.stdout), want);
}

/// `sample --report okx` writes a month and its OKX report with four planted differences;
/// `reconcile` finds exactly those, each with its cause.
#[test]
fn sample_report_okx_plants_four_differences() {
    let dir =
        std::env::temp_dir().join(format!("broker-rules-sample-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (fills, report) = (dir.join("fills.csv"), dir.join("rebates.csv"));
    let (fills, report) = (fills.to_str().unwrap(), report.to_str().unwrap());
    let o = run(&[
        "sample",
        "--report",
        "okx",
        "--out",
        fills,
        "--report-out",
        report,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("planted: ord-0010 missing from the report, ord-0015 paid at L2 (30%) instead of L1, ord-0003 (a VIP 6 client) paid anyway, ord-0999 not in the trades"));
    let o = run(&[
        "reconcile",
        "--program",
        "okx",
        "--trades",
        fills,
        "--report",
        report,
        "--report-format",
        "okx-rebate-per-orders",
        "--by",
        "order",
        "-f",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["summary"]["counts"],
        serde_json::json!({"matched": 48, "differs": 1, "only_ours": 1, "only_theirs": 2})
    );
    let rows: Vec<(String, String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"]["order"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
                r["cause"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("ord-0003", "only_theirs", "excluded"),
        ("ord-0010", "only_ours", "not_in_report"),
        ("ord-0015", "differs", "rate"),
        ("ord-0999", "only_theirs", "missing_trades"),
    ];
    assert_eq!(
        rows,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    assert_eq!(v["rows"][0]["detail"]["reason"], "vip6_plus");
    // ord-0015: fee 3.922045 at L1 25% = 0.98051125; the report pays 30% = 1.1766135.
    assert_eq!(v["rows"][2]["ours"]["commission"], "0.98051125");
    assert_eq!(v["rows"][2]["theirs"]["commission"], "1.1766135");
    assert_eq!(v["rows"][2]["detail"]["their_tier"], "L2");
    assert_eq!(v["rows"][2]["detail"]["our_rate"], "0.25");
    assert_eq!(v["summary"]["difference"], "2.528691");
    std::fs::remove_dir_all(&dir).ok();
}
