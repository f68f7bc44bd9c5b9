//! `estimate --actuals FILE --growth 20%`: the actuals settled as given and grown, side by
//! side. The core settles and compares ([`broker_rules::whatif`]); this file opens the input
//! (once per run: the two settlements read the same trades) and prints the result.

use crate::output::{csv_row, group, percent, Table};
use crate::render::{header, period_label};
use crate::{default_format, emit, input, json, load_registry, EstimateArgs, Fail, OutFormat, R};
use broker_rules::read::{ColumnMap, Format};
use broker_rules::whatif::{estimate_fed, WhatIf};
use broker_rules::{money, Program, SettleOptions};
use std::io::{self, Cursor, Read, Write};

pub fn estimate_actuals_cmd(program: &Program, a: EstimateArgs, out: &mut dyn Write) -> R<()> {
    let path = a.actuals.as_deref().unwrap_or("-");
    let growth = a.growth.as_deref().unwrap_or("");
    let growth = money::parse_rate_or_decimal(growth)
        .map_err(|e| Fail::usage(format!("--growth {growth}: {}", e.message)))?;
    let registry = a.registry.as_deref().map(load_registry).transpose()?;
    let options = SettleOptions {
        from: a.from.clone(),
        to: a.to.clone(),
        lines: false,
        strict: a.strict,
        complete_history: a.complete_history,
    };
    let map = ColumnMap::parse(&a.columns).map_err(|e| Fail::usage(e.message))?;
    let threads = input::threads(a.threads);
    // stdin cannot be read twice: it is read once into memory.
    let stdin = if path == "-" {
        let mut v = Vec::new();
        io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Fail::io("stdin", e))?;
        Some(v)
    } else {
        None
    };
    let mut name = path.to_string();
    let mut opened: Option<Fail> = None;
    let result = estimate_fed(
        program,
        registry.as_ref(),
        &options,
        growth,
        a.broker.as_deref(),
        |settler| {
            let input = match &stdin {
                Some(bytes) => stdin_input(bytes.clone(), a.input_format),
                None => match input::open_trades(Some(path), a.input_format) {
                    Ok(i) => i,
                    Err(f) => {
                        opened = Some(f);
                        return Err(broker_rules::Error::new(
                            broker_rules::ErrorCode::Parse,
                            "the actuals cannot be opened",
                        ));
                    }
                },
            };
            name = input.name.clone();
            input::feed(settler, input, &map, threads, "reading")
        },
    );
    if let Some(f) = opened {
        return Err(f);
    }
    let w = result.map_err(|e| {
        if e.code == broker_rules::ErrorCode::Options
            || e.location.field.as_deref() == Some("growth")
        {
            Fail::input(None, &e)
        } else {
            Fail::input(Some(&name), &e)
        }
    })?;
    let format = default_format(a.format);
    let text = match format {
        OutFormat::Json => json(&w)?,
        OutFormat::Csv => what_if_csv(&w),
        OutFormat::Table => what_if_table(program, &w),
    };
    emit(out, &text)?;
    if !w.rejected.is_empty() && format != OutFormat::Table {
        eprintln!("broker-rules: {} trade(s) of {name} rejected and not settled; they are listed under \"rejected\" (--strict fails on the first)", w.rejected.len());
    }
    if !w.incomplete_history.is_empty() {
        let periods: u64 = w.incomplete_history.iter().map(|s| s.periods).sum();
        eprintln!(
            "broker-rules: warning: {periods} period(s) of {} broker(s) have a tier window reaching before the earliest trade supplied; their tier may be too low in both columns (history: \"incomplete\"). Pass the earlier trades, or --complete-history if the brokers are new.",
            w.incomplete_history.len()
        );
    }
    Ok(())
}

/// stdin's bytes as an input: the format forced, else sniffed from the first character.
fn stdin_input(bytes: Vec<u8>, forced: Option<crate::InFormat>) -> input::Input {
    let format = match forced {
        Some(f) => f.into(),
        None => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Format::Json,
            Some(b'{') => Format::Ndjson,
            _ => Format::Csv,
        },
    };
    input::Input {
        name: "<stdin>".into(),
        path: None,
        size: Some(bytes.len() as u64),
        reader: Box::new(Cursor::new(bytes)),
        format,
    }
}

/// `BKR 1 -> BKR 2`, or the one tier when it does not change.
fn change(a: &str, w: &str) -> String {
    if a == w {
        a.to_string()
    } else {
        format!("{a} -> {w}")
    }
}

/// Actual beside what-if, a row per broker and period, each broker's total, the total.
pub fn what_if_table(program: &Program, w: &WhatIf) -> String {
    let cur = &w.currency;
    let mut s = header(program, &w.program, &w.engine);
    s.push_str(&format!(
        "What if volume grows {} (every notional and fee x {}; accounts, fee rates and dates as settled)\n\n",
        percent(&w.growth),
        w.factor
    ));
    let mut t = Table::new(&[
        ("broker", false),
        ("period", false),
        ("tier", false),
        ("tier basis actual", false),
        ("tier basis what-if", false),
        (&format!("actual {cur}"), true),
        (&format!("what-if {cur}"), true),
        ("difference", true),
    ]);
    let mut short = 0usize;
    for b in &w.brokers {
        let name = if b.status == "withheld" {
            format!("{} (withheld)", b.broker)
        } else {
            b.broker.clone()
        };
        for (i, p) in b.periods.iter().enumerate() {
            let tier = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
            let mut tiers = change(&tier(&p.actual.tier), &tier(&p.what_if.tier));
            if p.history == "incomplete" {
                tiers.push('*');
                short += 1;
            }
            t.row(vec![
                if i == 0 { name.clone() } else { String::new() },
                period_label(program, &p.period_start),
                tiers,
                basis(&p.actual.metrics),
                basis(&p.what_if.metrics),
                group(&p.actual.commission),
                group(&p.what_if.commission),
                signed(&p.difference),
            ]);
        }
        if b.periods.len() > 1 {
            t.row(vec![
                String::new(),
                "total".into(),
                String::new(),
                String::new(),
                String::new(),
                group(&b.actual),
                group(&b.what_if),
                signed(&b.difference),
            ]);
        }
    }
    if t.is_empty() {
        s.push_str("No broker was attributed a trade.\n");
    } else {
        s.push_str(&t.render(""));
    }
    s.push_str(&format!(
        "\nTotal commission: actual {} {cur}, what-if {} {cur}, difference {} {cur} ({} broker{})\n",
        group(&w.actual),
        group(&w.what_if),
        signed(&w.difference),
        w.brokers.len(),
        if w.brokers.len() == 1 { "" } else { "s" }
    ));
    let zero = |d: &str| d.trim_start_matches(['0', '.']).is_empty();
    if !(zero(&w.withheld.actual) && zero(&w.withheld.what_if)) {
        s.push_str(&format!(
            "Withheld (computed, not paid): actual {} {cur}, what-if {} {cur}, difference {} {cur}\n",
            group(&w.withheld.actual),
            group(&w.withheld.what_if),
            signed(&w.withheld.difference),
        ));
    }
    if let Some(k) = &w.kickback {
        s.push_str(&format!(
            "Clients' kickback (besides the commission): actual {} {cur}, what-if {} {cur}, difference {} {cur}\n",
            group(&k.actual),
            group(&k.what_if),
            signed(&k.difference),
        ));
    }
    s.push_str("Active clients do not grow: a ladder that also needs clients keeps its tier until they are there.\n");
    if short > 0 {
        s.push_str(
            "* history incomplete: the tier window reaches before the earliest trade supplied.\n",
        );
    }
    if !w.rejected.is_empty() {
        s.push_str(&format!(
            "{} trade(s) rejected and left out of both columns (--format json lists them).\n",
            w.rejected.len()
        ));
    }
    s
}

/// `+240.00`, `-400.00`, `0.00`.
fn signed(d: &str) -> String {
    if d.starts_with('-') || d.trim_start_matches(['0', '.']).is_empty() {
        group(d)
    } else {
        format!("+{}", group(d))
    }
}

/// The tier basis in one cell, metrics at 0 left out (`-` when all are).
fn basis(metrics: &std::collections::BTreeMap<String, String>) -> String {
    let cells: Vec<String> = metrics
        .iter()
        .filter(|(_, v)| v.as_str() != "0")
        .map(|(k, v)| format!("{k} {}", group(v)))
        .collect();
    if cells.is_empty() {
        "-".into()
    } else {
        cells.join("; ")
    }
}

/// One CSV row per broker and period; the kickback columns only for programs that have
/// client kickbacks.
pub fn what_if_csv(w: &WhatIf) -> String {
    let kicks = w.kickback.is_some();
    let mut head = vec![
        "broker",
        "status",
        "period_start",
        "history",
        "actual_tier",
        "what_if_tier",
        "actual_volume",
        "what_if_volume",
        "actual_commission",
        "what_if_commission",
        "difference",
        "actual_withheld",
        "what_if_withheld",
    ];
    if kicks {
        head.extend(["actual_kickback", "what_if_kickback"]);
    }
    head.push("currency");
    let mut s = csv_row(&head);
    for b in &w.brokers {
        for p in &b.periods {
            let mut row = vec![
                &b.broker,
                &b.status,
                &p.period_start,
                &p.history,
                p.actual.tier.as_deref().unwrap_or(""),
                p.what_if.tier.as_deref().unwrap_or(""),
                &p.actual.volume,
                &p.what_if.volume,
                &p.actual.commission,
                &p.what_if.commission,
                &p.difference,
                &p.actual.withheld,
                &p.what_if.withheld,
            ];
            if kicks {
                row.extend([
                    p.actual.kickback.as_deref().unwrap_or(""),
                    p.what_if.kickback.as_deref().unwrap_or(""),
                ]);
            }
            row.push(&w.currency);
            s.push_str(&csv_row(&row));
        }
    }
    s
}
