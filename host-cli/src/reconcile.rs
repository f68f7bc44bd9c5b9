//! `broker-rules reconcile`: settles the trades (summed per key), reads the exchange's report and
//! prints what the core's `reconcile` found. Nothing is decided here: statuses, causes and
//! every figure come from `broker_rules::reconcile`.

use crate::args::{InFormat, OutFormat};
use crate::output::{csv_row, Table};
use crate::render::header;
use crate::{default_format, emit, input, json, load_program, load_registry, read_bytes};
use crate::{Fail, R};
use broker_rules::read::ColumnMap;
use broker_rules::reconcile::{self, Level, ReconcileOptions, Reconciliation, ReportFormat, Row};
use broker_rules::settle::EngineChoice;
use broker_rules::{Error, ErrorCode, Program, SettleOptions};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The level keys are matched at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    Trade,
    Order,
    AccountDay,
    Period,
}

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    /// A built-in program id or a program JSON file.
    #[arg(long, short = 'p')]
    pub program: String,
    /// Trade log (CSV, NDJSON, JSON, Parquet, Arrow); `-` reads stdin.
    #[arg(long, short = 't')]
    pub trades: String,
    /// The exchange's commission report (CSV with a header row).
    #[arg(long)]
    pub report: String,
    /// A built-in report format (okx-rebate-per-orders, bitget-customer-commissions,
    /// generic) or a format JSON file.
    #[arg(long, default_value = "generic")]
    pub report_format: String,
    /// The level to match at.
    #[arg(long, value_enum)]
    pub by: By,
    /// Broker registry JSON.
    #[arg(long, short = 'b', alias = "brokers")]
    pub registry: Option<String>,
    /// Absolute tolerance in the currency, inclusive [default: one unit of the program's
    /// currency scale, e.g. 0.00000001 USDT].
    #[arg(long)]
    pub tolerance: Option<String>,
    /// Map a report column to a field: `--map ordId=order --map brokerRebate=commission`
    /// (fields: broker account order id instrument product time day volume fee commission
    /// tier rate). Repeat for each column.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Rename a column of the trade log to a trade field, as `settle --column` does, e.g.
    /// `--column trade_id=id --column ts=time`. Repeat for each column.
    #[arg(long = "column", value_name = "FROM=TO")]
    pub columns: Vec<String>,
    /// The broker the report is for (fills a report without a broker column; our other
    /// brokers' keys the report lacks are left out).
    #[arg(long)]
    pub broker: Option<String>,
    /// Settle trades at or after this time (earlier ones still feed the tier windows).
    #[arg(long)]
    pub from: Option<String>,
    /// Settle trades before this time.
    #[arg(long)]
    pub to: Option<String>,
    /// List the matched keys too.
    #[arg(long)]
    pub all: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutFormat>,
    /// Input format of --trades [default: by extension, else sniffed].
    #[arg(long, value_enum)]
    pub input_format: Option<InFormat>,
}

/// Exit 0 when every key matched, 3 when there are differences.
pub fn reconcile_cmd(a: ReconcileArgs, out: &mut dyn Write) -> R<()> {
    let program = load_program(&a.program)?;
    let registry = a.registry.as_deref().map(load_registry).transpose()?;
    let format = report_format(&a.report_format)?;
    let mut map = BTreeMap::new();
    for m in &a.map {
        let (col, field) = m.split_once('=').ok_or_else(|| {
            Fail::usage(format!("--map {m}: write COLUMN=FIELD, e.g. ordId=order"))
        })?;
        map.insert(col.to_string(), field.to_string());
    }
    let format = format.with_map(&map).map_err(|e| Fail::usage(e.message))?;
    let tolerance = a
        .tolerance
        .as_deref()
        .map(broker_rules::money::parse)
        .transpose()
        .map_err(|e| Fail::usage(format!("--tolerance: {}", e.message)))?;
    let options = ReconcileOptions {
        by: match a.by {
            By::Trade => Level::Trade,
            By::Order => Level::Order,
            By::AccountDay => Level::AccountDay,
            By::Period => Level::Period,
        },
        tolerance,
        all: a.all,
        broker: a.broker.clone(),
    };
    let report = read_bytes(&a.report)?;
    let settle = SettleOptions {
        from: a.from.clone(),
        to: a.to.clone(),
        ..Default::default()
    };
    let mut settler = reconcile::settler(
        &program,
        registry.as_ref(),
        &settle,
        &format,
        &options,
        EngineChoice::Auto,
    )
    .map_err(|e| Fail::input(None, &e))?;
    let columns = ColumnMap::parse(&a.columns).map_err(|e| Fail::usage(e.message))?;
    let report_fail = |e: Error| Fail {
        code: if e.code == ErrorCode::Options { 2 } else { 1 },
        text: crate::output::error_message(Some(&a.report), &e),
    };
    // The report is read on a second thread while the trades settle: neither side needs
    // the other until both are summed per key. Errors keep their order: ours first.
    let (ours, theirs) = std::thread::scope(|scope| {
        let theirs = scope.spawn(|| reconcile::read_report(&program, &report, &format, &options));
        let ours = (|| -> R<reconcile::OurSide> {
            let trades = input::open_trades(Some(&a.trades), a.input_format)?;
            input::feed_input(&mut settler, trades, &columns, input::threads(None))?;
            let settled =
                reconcile::Settled::of(settler).map_err(|e| Fail::input(Some(&a.trades), &e))?;
            let rejected = settled.statement.rejected.len();
            if rejected > 0 {
                eprintln!(
                    "broker-rules: {rejected} trade(s) of {} rejected and not reconciled (`broker-rules validate --trades` lists them)",
                    a.trades
                );
            }
            settled
                .ours(&format, &options)
                .map_err(|e| Fail::input(Some(&a.trades), &e))
        })();
        (ours, theirs.join())
    });
    let ours = ours?;
    let theirs = theirs
        .map_err(|_| Fail {
            code: 1,
            text: format!("broker-rules: reading {} stopped unexpectedly", a.report),
        })?
        .map_err(report_fail)?;
    let r = reconcile::reconcile_sides(&program, ours, theirs, &options).map_err(report_fail)?;
    let text = match default_format(a.format) {
        OutFormat::Json => json(&r)?,
        OutFormat::Csv => rows_csv(&r),
        OutFormat::Table => table(&program, &r),
    };
    emit(out, &text)?;
    let c = &r.summary.counts;
    if c.differs + c.only_ours + c.only_theirs > 0 {
        out.flush().map_err(|e| Fail::io("stdout", e))?;
        return Err(Fail {
            code: 3,
            text: String::new(),
        });
    }
    Ok(())
}

/// A built-in format name, or a format JSON file.
fn report_format(arg: &str) -> R<ReportFormat> {
    if arg.ends_with(".json") || Path::new(arg).is_file() {
        let text = String::from_utf8(read_bytes(arg)?)
            .map_err(|_| Fail::usage(format!("{arg}: not UTF-8")))?;
        let v = broker_rules::json::parse(&text)
            .map_err(|e| Fail::input(Some(arg), &Error::from_json(&e, "report format")))?;
        serde_json::from_value(v.clone()).map_err(|e| {
            Fail::input(
                Some(arg),
                &broker_rules::api::typed_error("report_format", &e, &v),
            )
        })
    } else {
        ReportFormat::builtin(arg).map_err(|e| Fail::usage(e.message))
    }
}

fn detail_text(row: &Row) -> String {
    let d = &row.detail;
    [
        ("reason", &d.reason),
        ("our_tier", &d.our_tier),
        ("their_tier", &d.their_tier),
        ("our_rate", &d.our_rate),
        ("their_rate", &d.their_rate),
        ("their_broker", &d.their_broker),
        ("fee_difference", &d.fee_difference),
        ("volume_difference", &d.volume_difference),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect::<Vec<_>>()
    .join(" ")
}

fn status_text(row: &Row) -> &'static str {
    use reconcile::Status::*;
    match row.status {
        Matched => "matched",
        Differs => "differs",
        OnlyOurs => "only_ours",
        OnlyTheirs => "only_theirs",
    }
}

fn table(program: &Program, r: &Reconciliation) -> String {
    let s = &r.summary;
    let cur = &r.currency;
    let mut text = header(program, &r.program, &r.engine);
    text.push_str(&format!(
        "by {}, report format {}, tolerance {} {cur}\n\n",
        r.by.as_str(),
        r.report_format,
        r.tolerance
    ));
    text.push_str(&format!(
        "keys {}: matched {}, differs {}, only ours {}, only theirs {}\n",
        s.keys, s.counts.matched, s.counts.differs, s.counts.only_ours, s.counts.only_theirs
    ));
    text.push_str(&format!(
        "ours {} {cur}, theirs {} {cur}, difference (theirs - ours) {} {cur}\n",
        s.ours, s.theirs, s.difference
    ));
    let causes: Vec<String> = s
        .causes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    if !causes.is_empty() {
        text.push_str(&format!("causes: {}\n", causes.join(", ")));
    }
    if r.rows.is_empty() {
        return text;
    }
    let mut t = Table::new(&[
        ("key", false),
        ("broker", false),
        ("status", false),
        ("cause", false),
        ("ours", true),
        ("theirs", true),
        ("difference", true),
        ("detail", false),
    ]);
    for row in &r.rows {
        t.row(vec![
            row.key.values().join(" "),
            row.broker.clone().unwrap_or_else(|| "-".into()),
            status_text(row).into(),
            row.cause.map_or("-", |c| c.as_str()).into(),
            row.ours
                .as_ref()
                .map_or("-".into(), |o| o.commission.clone()),
            row.theirs
                .as_ref()
                .map_or("-".into(), |o| o.commission.clone()),
            row.difference.clone(),
            detail_text(row),
        ]);
    }
    text.push('\n');
    text.push_str(&t.render(""));
    text
}

fn rows_csv(r: &Reconciliation) -> String {
    let mut s = csv_row(&[
        "broker_key",
        "period_start",
        "account",
        "day",
        "order",
        "id",
        "broker",
        "status",
        "cause",
        "our_count",
        "our_volume",
        "our_fee",
        "our_tier",
        "our_rate",
        "our_commission",
        "their_count",
        "their_volume",
        "their_fee",
        "their_tier",
        "their_rate",
        "their_commission",
        "difference",
        "detail",
    ]);
    let o = |x: &Option<String>| x.clone().unwrap_or_default();
    for row in &r.rows {
        let k = &row.key;
        let mut cells = vec![
            o(&k.broker),
            o(&k.period_start),
            o(&k.account),
            o(&k.day),
            o(&k.order),
            o(&k.id),
            o(&row.broker),
            status_text(row).to_string(),
            row.cause.map_or("", |c| c.as_str()).to_string(),
        ];
        for f in [&row.ours, &row.theirs] {
            match f {
                Some(f) => cells.extend([
                    f.count.to_string(),
                    o(&f.volume),
                    o(&f.fee),
                    o(&f.tier),
                    o(&f.rate),
                    f.commission.clone(),
                ]),
                None => cells.extend(std::iter::repeat_n(String::new(), 6)),
            }
        }
        cells.push(row.difference.clone());
        cells.push(detail_text(row));
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        s.push_str(&csv_row(&refs));
    }
    s
}
