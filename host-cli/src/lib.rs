//! The `broker-rules` command. A thin host: it reads files and streams, hands them to the
//! engine in `broker-rules` (rules/), and prints what the engine returns. Every number in
//! its output is one the engine produced.
//!
//! Exit codes: 0 success; 1 the input was rejected (a bad trade in `--strict` mode, an invalid
//! program, registry or trade file, a duplicate id with other content, `validate` finding
//! problems); 2 usage (bad arguments, an unknown program id, a file that cannot be opened);
//! 3 `reconcile` found differences (0 when every key matched).

pub mod args;
pub mod input;
pub mod output;
pub mod reconcile;
pub mod render;
pub mod sample;
mod sample_parquet;
pub mod sample_report;
pub mod whatif;

pub use args::*;
use render::{explain_csv, explain_table, header, statement_csv, statement_table};

use broker_rules::read::{self, Format};
use broker_rules::{Error, ErrorCode, Explanation, Program, Registry, SettleOptions, Settler};
use clap::Parser;
use indicatif::ProgressStyle;
use output::{csv_row, group, percent, Table};
use serde::Serialize;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;

/// What ends a command early: the text for stderr and the exit code.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub text: String,
}

impl Fail {
    pub fn usage(msg: impl AsRef<str>) -> Self {
        Fail {
            code: 2,
            text: output::usage_error(msg.as_ref()),
        }
    }
    pub fn input(file: Option<&str>, e: &Error) -> Self {
        let code = if e.code == ErrorCode::UnknownProgram {
            2
        } else {
            1
        };
        Fail {
            code,
            text: output::error_message(file, e),
        }
    }
    pub(crate) fn io(what: &str, e: io::Error) -> Self {
        Fail::usage(format!("{what}: {e}"))
    }
}

type R<T> = Result<T, Fail>;

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run(cli, &mut out).and_then(|()| out.flush().map_err(|e| Fail::io("stdout", e))) {
        Ok(()) => 0,
        Err(f) => {
            if f.text.contains("Broken pipe") {
                return 0;
            }
            eprint!("{}", f.text);
            f.code
        }
    }
}

pub fn run(cli: Cli, out: &mut dyn Write) -> R<()> {
    match cli.command {
        Command::Settle(a) => settle(a, out, false),
        Command::Explain(a) => settle(a, out, true),
        Command::Estimate(a) => estimate_cmd(a, out),
        Command::Programs(a) => programs_cmd(a, out),
        Command::Validate(a) => validate_cmd(a, out),
        Command::Schema(a) => schema_cmd(a, out),
        Command::Sample(a) => sample_cmd(a, out),
        Command::Call(a) => call_cmd(a, out),
        Command::Reconcile(a) => reconcile::reconcile_cmd(a, out),
    }
}

/// `call`: the envelope on stdout, byte for byte the core's, then a newline. Exit 0 for
/// `{"ok":...}`, 1 for `{"error":...}` (the error is data on stdout, nothing on stderr).
fn call_cmd(a: args::CallArgs, out: &mut dyn Write) -> R<()> {
    let request = match a.request.as_deref() {
        Some(path) => read_bytes(path)?,
        None => Vec::new(),
    };
    let env = match std::str::from_utf8(&request) {
        Ok(text) => broker_rules::api::guarded(|| broker_rules::api::call(&a.name, text)),
        Err(e) => broker_rules::api::error_envelope(
            &Error::new(
                ErrorCode::Parse,
                format!(
                    "the request is not UTF-8: invalid byte at offset {}",
                    e.valid_up_to()
                ),
            )
            .field("request"),
        ),
    };
    emit(out, &env)?;
    emit(out, "\n")?;
    out.flush().map_err(|e| Fail::io("stdout", e))?;
    if env.starts_with("{\"ok\":") {
        Ok(())
    } else {
        Err(Fail {
            code: 1,
            text: String::new(),
        })
    }
}

/// A file's bytes, or stdin's for `-`.
pub(crate) fn read_bytes(path: &str) -> R<Vec<u8>> {
    if path == "-" {
        let mut v = Vec::new();
        io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Fail::io("stdin", e))?;
        return Ok(v);
    }
    std::fs::read(path).map_err(|e| Fail::io(&format!("cannot read {path}"), e))
}

pub(crate) fn emit(out: &mut dyn Write, s: &str) -> R<()> {
    out.write_all(s.as_bytes())
        .map_err(|e| Fail::io("stdout", e))
}

pub(crate) fn json<T: Serialize>(v: &T) -> R<String> {
    serde_json::to_string(v)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| {
            Fail::input(
                None,
                &Error::new(ErrorCode::Internal, format!("cannot serialize: {e}")),
            )
        })
}

pub(crate) fn default_format(f: Option<OutFormat>) -> OutFormat {
    f.unwrap_or(if io::stdout().is_terminal() {
        OutFormat::Table
    } else {
        OutFormat::Json
    })
}

fn read_text(path: &str) -> R<String> {
    String::from_utf8(read_bytes(path)?).map_err(|_| {
        let what = if path == "-" {
            "stdin".to_string()
        } else {
            format!("cannot read {path}")
        };
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        );
        Fail::io(&what, e)
    })
}

/// A built-in id, or a path to a program JSON file.
pub fn load_program(arg: &str) -> R<Program> {
    if arg.ends_with(".json") || Path::new(arg).is_file() || arg == "-" {
        let text = read_text(arg)?;
        Program::from_json(&text).map_err(|e| Fail::input(Some(arg), &e))
    } else {
        broker_rules::program(arg).map_err(|e| Fail::input(None, &e))
    }
}

pub(crate) fn load_registry(path: &str) -> R<Registry> {
    let text = read_text(path)?;
    Registry::from_json(&text).map_err(|e| Fail::input(Some(path), &e))
}

fn settle(a: SettleArgs, out: &mut dyn Write, explain: bool) -> R<()> {
    let program = load_program(&a.program)?;
    let registry = a.brokers.as_deref().map(load_registry).transpose()?;
    let options = SettleOptions {
        // As given: the core reads a bare date at the program's day offset.
        from: a.from.clone(),
        to: a.to.clone(),
        lines: a.lines || explain,
        strict: a.strict,
        complete_history: a.complete_history,
    };
    let mut settler =
        Settler::new(&program, registry.as_ref(), &options).map_err(|e| Fail::input(None, &e))?;
    let mut name = String::from("<states>");
    if a.trades.is_some() || a.states.is_empty() {
        let input = input::open_trades(a.trades.as_deref(), a.input_format)?;
        name = input.name.clone();
        let map = read::ColumnMap::parse(&a.columns).map_err(|e| Fail::usage(e.message))?;
        input::feed_input(&mut settler, input, &map, input::threads(a.threads))?;
    }
    for path in &a.states {
        let bytes = std::fs::read(path).map_err(|e| Fail::io(&format!("cannot read {path}"), e))?;
        let state = settler
            .from_bytes(&bytes)
            .map_err(|e| Fail::input(Some(path), &e))?;
        settler
            .merge(state)
            .map_err(|e| Fail::input(Some(path), &e))?;
    }
    if let Some(path) = &a.state_out {
        let bytes = settler.to_bytes().map_err(|e| Fail::input(None, &e))?;
        std::fs::write(path, &bytes).map_err(|e| Fail::io(&format!("cannot write {path}"), e))?;
        eprintln!(
            "broker-rules: wrote the partial state of {} trades to {path} ({} bytes)",
            settler.accepted(),
            bytes.len()
        );
        return Ok(());
    }
    let format = default_format(a.format);
    if let Some(broker) = &a.explain {
        let statement = settler.finish().map_err(|e| Fail::input(Some(&name), &e))?;
        let text = render::broker_explanation(&program, &statement, broker).map_err(Fail::usage)?;
        emit(out, &text)?;
        warn_history(&statement.summary);
        return Ok(());
    }
    if format == OutFormat::Json && !explain {
        // Streamed broker by broker: the statement is never held whole.
        let mut w = io::BufWriter::with_capacity(1 << 16, out);
        let summary = broker_rules::statement::write_json(settler, &mut w)
            .map_err(|e| Fail::input(Some(&name), &e))?;
        w.write_all(b"\n")
            .and_then(|()| w.flush())
            .map_err(|e| Fail::io("stdout", e))?;
        if summary.rejected > 0 {
            eprintln!("broker-rules: {} trade(s) of {name} rejected and not settled; they are listed under \"rejected\" (--strict fails on the first)", summary.rejected);
        }
        warn_history(&summary);
        return Ok(());
    }
    let statement = settler.finish().map_err(|e| Fail::input(Some(&name), &e))?;
    let rejected = statement.rejected.len();
    let summary = statement.summary.clone();
    if explain {
        let ex = Explanation::from(statement);
        let text = match format {
            OutFormat::Json => json(&ex)?,
            OutFormat::Csv => explain_csv(&ex),
            OutFormat::Table => explain_table(&program, &ex),
        };
        emit(out, &text)?;
    } else {
        match format {
            OutFormat::Json => emit(out, &json(&statement)?)?,
            OutFormat::Csv => emit(out, &statement_csv(&statement))?,
            OutFormat::Table => emit(out, &statement_table(&program, &statement))?,
        }
    }
    if rejected > 0 && format != OutFormat::Table {
        eprintln!("broker-rules: {rejected} trade(s) of {name} rejected and not settled; they are listed under \"rejected\" (--strict fails on the first)");
    }
    warn_history(&summary);
    Ok(())
}

/// The stderr warning for periods settled on a tier window the trades do not fully cover.
fn warn_history(summary: &broker_rules::statement::Summary) {
    let short = &summary.incomplete_history;
    if short.is_empty() {
        return;
    }
    let periods: u64 = short.iter().map(|s| s.periods).sum();
    let earliest = summary.earliest_trade.as_deref().unwrap_or("-");
    eprintln!(
        "broker-rules: warning: {periods} period(s) of {} broker(s) have a tier window reaching before the earliest trade supplied ({earliest}); their tier may be too low (history: \"incomplete\"). Pass the earlier trades, or --complete-history if the brokers are new.",
        short.len()
    );
    for s in short.iter().take(5) {
        eprintln!(
            "broker-rules:   {}: {} period(s), {} .. {}",
            s.broker, s.periods, s.first, s.last
        );
    }
    if short.len() > 5 {
        eprintln!("broker-rules:   ... and {} more broker(s)", short.len() - 5);
    }
}

fn estimate_cmd(a: EstimateArgs, out: &mut dyn Write) -> R<()> {
    let program = load_program(&a.program)?;
    if a.actuals.is_some() {
        return whatif::estimate_actuals_cmd(&program, a, out);
    }
    let mut scenario = serde_json::Map::new();
    let str_v = |s: &str| serde_json::Value::String(s.to_string());
    scenario.insert("volume".into(), str_v(a.volume.as_deref().unwrap_or("")));
    if let Some(r) = &a.fee_rate {
        scenario.insert("fee_rate".into(), str_v(r));
    }
    if let Some(f) = &a.fees {
        scenario.insert("fees".into(), str_v(f));
    }
    // Defaults (an affiliate rate alone: all the flow referred) are the core's.
    if let Some(s) = &a.affiliate_share {
        scenario.insert("affiliate_share".into(), str_v(s));
    }
    if let Some(r) = &a.affiliate_rate {
        scenario.insert("affiliate_rate".into(), str_v(r));
    }
    if !a.products.is_empty() {
        let mut mix = Vec::new();
        for p in &a.products {
            let (product, share) = match p.split_once('=') {
                Some((p, s)) => (p, s),
                None if a.products.len() == 1 => (p.as_str(), "1"),
                None => {
                    return Err(Fail::usage(format!(
                        "--product {p}: with several products give each a share, e.g. spot=0.6"
                    )))
                }
            };
            mix.push(serde_json::json!({"product": product, "channel": a.channel, "share": share}));
        }
        scenario.insert("mix".into(), serde_json::Value::Array(mix));
    }
    scenario.insert("active_clients".into(), a.active_clients.into());
    scenario.insert("vip".into(), a.vip.into());
    let scenario: broker_rules::Scenario =
        serde_json::from_value(serde_json::Value::Object(scenario)).map_err(|e| {
            Fail::input(
                None,
                &Error::new(ErrorCode::Options, format!("scenario: {e}")).field("scenario"),
            )
        })?;
    let e = broker_rules::estimate(&program, &scenario).map_err(|e| Fail::input(None, &e))?;
    let text = match default_format(a.format) {
        OutFormat::Json => json(&e)?,
        OutFormat::Csv => {
            let mut s = csv_row(&[
                "tier",
                "rate",
                "volume",
                "volume_needed",
                "commission",
                "currency",
            ]);
            for c in &e.curve {
                s.push_str(&csv_row(&[
                    c.tier.unwrap_or(""),
                    &c.rate,
                    &c.volume,
                    &c.volume_needed,
                    &c.commission,
                    e.currency,
                ]));
            }
            s
        }
        OutFormat::Table => {
            let cur = &e.currency;
            let mut s = header(&program, &e.program, &e.engine);
            s.push('\n');
            let tier = e.tier.unwrap_or("no tier");
            s.push_str(&format!("volume      {} {cur}\n", group(&e.volume)));
            s.push_str(&format!("fees        {} {cur}\n", group(&e.fees)));
            s.push_str(&format!("tier        {tier} ({})\n", percent(&e.rate)));
            s.push_str(&format!("commission  {} {cur}\n", group(&e.commission)));
            match &e.next {
                Some(n) => s.push_str(&format!(
                    "next tier   {} ({}) from {} {cur}: {} {cur} more volume, commission there {} {cur}\n",
                    n.tier.unwrap_or("-"),
                    percent(&n.rate),
                    group(&n.volume),
                    group(&n.volume_needed),
                    group(&n.commission)
                )),
                None => s.push_str("next tier   none reachable by volume alone\n"),
            }
            let mut t = Table::new(&[
                ("tier", false),
                ("rate", true),
                ("from volume", true),
                ("still needed", true),
                ("commission there", true),
            ]);
            for c in &e.curve {
                t.row(vec![
                    c.tier.unwrap_or("-").into(),
                    percent(&c.rate),
                    group(&c.volume),
                    group(&c.volume_needed),
                    group(&c.commission),
                ]);
            }
            s.push_str("\nCommission curve (same mix and fee rate at each tier boundary):\n");
            s.push_str(&t.render("  "));
            if !e.tiers_above.is_empty() {
                s.push_str("\nTiers above, and what each still needs (any one way reaches it):\n");
            }
            for up in &e.tiers_above {
                s.push_str(&format!(
                    "  {} ({}), commission there {} {cur}\n",
                    up.tier,
                    percent(&up.rate),
                    group(&up.commission)
                ));
                for w in &up.ways {
                    let missing: Vec<String> = w
                        .needs
                        .iter()
                        .filter(|(_, n)| n.more != "0")
                        .map(|(m, n)| {
                            format!(
                                "{} more {m} (has {} of {})",
                                group(&n.more),
                                group(&n.have),
                                group(&n.min)
                            )
                        })
                        .collect();
                    s.push_str(&format!(
                        "    {}: {}\n",
                        w.ladder,
                        if w.met {
                            "met".to_string()
                        } else {
                            missing.join(", ")
                        }
                    ));
                }
            }
            s
        }
    };
    emit(out, &text)
}

fn programs_cmd(a: ProgramsArgs, out: &mut dyn Write) -> R<()> {
    if let Some(ProgramsCommand::Show { id }) = a.show {
        let src = broker_rules::builtin::SOURCES
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, s)| *s);
        return match src {
            Some(s) => emit(out, &format!("{}\n", s.trim_end())),
            None => Err(broker_rules::program(&id)
                .err()
                .map(|e| Fail::input(None, &e))
                .unwrap_or_else(|| Fail::usage("unknown program"))),
        };
    }
    let list = broker_rules::api::program_list();
    let text = match default_format(a.format) {
        OutFormat::Json => json(&list)?,
        OutFormat::Csv => {
            let mut s = csv_row(&["id", "name", "version", "currency", "sha256"]);
            for p in &list {
                s.push_str(&csv_row(&[
                    &p.id,
                    &p.name,
                    &p.version,
                    &p.currency,
                    &p.sha256,
                ]));
            }
            s
        }
        OutFormat::Table => {
            let mut t = Table::new(&[
                ("id", false),
                ("name", false),
                ("version", false),
                ("currency", false),
                ("sha256", false),
            ]);
            for p in &list {
                t.row(vec![
                    p.id.clone(),
                    p.name.clone(),
                    p.version.clone(),
                    p.currency.clone(),
                    p.sha256[..12].to_string(),
                ]);
            }
            let mut s = t.render("");
            s.push_str(
                "\n`broker-rules programs show <id>` prints a program file, its notes included.\n",
            );
            s
        }
    };
    emit(out, &text)
}

#[derive(Serialize)]
struct Checked {
    input: String,
    kind: &'static str,
    valid: bool,
    problems: Vec<Error>,
}

fn validate_cmd(a: ValidateArgs, out: &mut dyn Write) -> R<()> {
    let mut results = Vec::new();
    if let Some(p) = &a.program {
        if p.ends_with(".json") || Path::new(p).is_file() {
            let text = read_text(p)?;
            let problems = broker_rules::validate_program(&text);
            results.push(Checked {
                input: p.clone(),
                kind: "program",
                valid: problems.is_empty(),
                problems,
            });
        } else if a.trades.is_none() {
            let problems: Vec<Error> = broker_rules::program(p).err().into_iter().collect();
            results.push(Checked {
                input: p.clone(),
                kind: "program",
                valid: problems.is_empty(),
                problems,
            });
        }
    }
    if let Some(b) = &a.brokers {
        let text = read_text(b)?;
        let problems = match Registry::from_json(&text) {
            Ok(r) => r.problems(),
            Err(e) => vec![e],
        };
        results.push(Checked {
            input: b.clone(),
            kind: "registry",
            valid: problems.is_empty(),
            problems,
        });
    }
    if let Some(t) = &a.trades {
        // Trades are checked by a lenient settlement, so validate reports exactly what
        // settle would reject.
        let program = match &a.program {
            Some(p) => load_program(p)?,
            None => broker_rules::program("backpack").map_err(|e| Fail::input(None, &e))?,
        };
        let registry = match &a.brokers {
            Some(b) => load_registry(b).ok(),
            None => None,
        };
        let options = SettleOptions {
            strict: a.strict,
            ..SettleOptions::default()
        };
        let columns = read::ColumnMap::parse(&a.columns).map_err(|e| Fail::usage(e.message))?;
        let input = input::open_trades(Some(t), a.input_format)?;
        let problems =
            broker_rules::api::check_trades(&program, registry.as_ref(), &options, |settler| {
                input::feed(settler, input, &columns, 1, "checking").map(|_| ())
            })
            .unwrap_or_else(|e| vec![e]);
        results.push(Checked {
            input: t.clone(),
            kind: "trades",
            valid: problems.is_empty(),
            problems,
        });
    }
    let valid = results.iter().all(|r| r.valid);
    let text = match default_format(a.format) {
        OutFormat::Json => json(&results)?,
        _ => {
            let mut s = String::new();
            for r in &results {
                if r.valid {
                    s.push_str(&format!("{}: ok ({})\n", r.input, r.kind));
                } else {
                    s.push_str(&format!(
                        "{}: {} problem{} ({})\n",
                        r.input,
                        r.problems.len(),
                        if r.problems.len() == 1 { "" } else { "s" },
                        r.kind
                    ));
                    for p in &r.problems {
                        s.push_str(&format!("  {}\n", output::problem_line(&r.input, p)));
                    }
                }
            }
            s
        }
    };
    emit(out, &text)?;
    if valid {
        Ok(())
    } else {
        Err(Fail {
            code: 1,
            text: String::new(),
        })
    }
}

fn schema_cmd(a: SchemaArgs, out: &mut dyn Write) -> R<()> {
    use broker_rules::schema;
    if let Some(dir) = &a.write {
        schema::write_all(Path::new(dir))
            .map_err(|e| Fail::io(&format!("cannot write schemas to {dir}"), e))?;
        eprintln!(
            "broker-rules: wrote {} schemas to {dir}",
            schema::NAMES.len()
        );
        return Ok(());
    }
    match (a.list, a.name.as_deref()) {
        (true, _) | (false, None) => emit(out, &format!("{}\n", schema::NAMES.join("\n"))),
        (false, Some(name)) => match schema::schema(name) {
            Some(text) => emit(out, &text),
            None => Err(Fail::usage(format!(
                "no schema {name:?} (known: {})",
                schema::NAMES.join(", ")
            ))),
        },
    }
}

fn sample_cmd(a: SampleArgs, out: &mut dyn Write) -> R<()> {
    if let (Some(_), Some(trades), Some(report)) = (&a.report, &a.out, &a.report_out) {
        let (mut t, mut r) = (String::new(), String::new());
        let p = sample_report::write(a.seed, &mut t, &mut r)?;
        std::fs::write(trades, t).map_err(|e| Fail::io(&format!("cannot write {trades}"), e))?;
        std::fs::write(report, r).map_err(|e| Fail::io(&format!("cannot write {report}"), e))?;
        eprintln!(
            "broker-rules: wrote a month of OKX broker trades to {trades} and its rebate-per-orders report to {report} (seed {}); planted: {} missing from the report, {} paid at L2 (30%) instead of L1, {} (a VIP 6 client) paid anyway, {} not in the trades",
            a.seed, p.missing, p.wrong_tier, p.vip6_paid, p.unknown
        );
        return Ok(());
    }
    let parquet = match a.format.as_deref() {
        Some(f) => f == "parquet",
        None => a.out.as_deref().and_then(Format::from_path) == Some(Format::Parquet),
    };
    let format = match a.format.as_deref() {
        Some("ndjson") => sample::SampleFormat::Ndjson,
        Some(_) => sample::SampleFormat::Csv,
        None => match a.out.as_deref().and_then(Format::from_path) {
            Some(Format::Ndjson) => sample::SampleFormat::Ndjson,
            Some(Format::Json) => {
                return Err(Fail::usage(
                    "sample writes CSV or NDJSON (.csv, .ndjson, .jsonl), not a JSON array",
                ))
            }
            _ => sample::SampleFormat::Csv,
        },
    };
    let mut progress = input::Progress::new(None, "writing");
    if let Ok(s) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} trades ({eta})") {
        progress.bar.set_style(s.progress_chars("=> "));
    }
    progress.bar.set_length(a.count);
    let mut tick = |n: u64| progress.tick(n, String::new);
    if parquet {
        let Some(path) = a.out.as_deref().filter(|p| *p != "-") else {
            return Err(Fail::usage(
                "sample writes Parquet only to a file: --out FILE.parquet",
            ));
        };
        let f = File::create(path).map_err(|e| Fail::io(&format!("cannot create {path}"), e))?;
        sample_parquet::write(
            io::BufWriter::with_capacity(1 << 20, f),
            a.count,
            a.seed,
            &mut tick,
        )
        .map_err(|e| Fail::io(&format!("cannot write {path}"), e))?;
        progress.done();
        eprintln!(
            "broker-rules: wrote {} trades to {path} (Parquet, seed {})",
            a.count, a.seed
        );
        return Ok(());
    }
    match &a.out {
        Some(path) if path != "-" => {
            let f =
                File::create(path).map_err(|e| Fail::io(&format!("cannot create {path}"), e))?;
            let mut w = io::BufWriter::with_capacity(1 << 20, f);
            sample::write(&mut w, a.count, a.seed, format, &mut tick)
                .and_then(|()| w.flush())
                .map_err(|e| Fail::io(&format!("cannot write {path}"), e))?;
            progress.done();
            eprintln!(
                "broker-rules: wrote {} trades to {path} (seed {})",
                a.count, a.seed
            );
            Ok(())
        }
        _ => {
            let mut w = io::BufWriter::with_capacity(1 << 16, out);
            let r =
                sample::write(&mut w, a.count, a.seed, format, &mut tick).and_then(|()| w.flush());
            progress.done();
            r.map_err(|e| Fail::io("stdout", e))
        }
    }
}
