//! Statements and explanations as tables and CSV for people and spreadsheets (JSON output
//! is the core's canonical bytes, written as they are).

use crate::output::{csv_row, group, percent, Table};
use broker_rules::{Explanation, Program, Statement};

/// Period label: `2026-06` for months, `2026-06-10` for days, `2026-06-10T13:00` for hours
/// (UTC programs); the full start time otherwise.
pub fn period_label(program: &Program, start: &str) -> String {
    use broker_rules::program::Period;
    let spec = program.spec();
    if spec.utc_offset != "+00:00" && spec.utc_offset != "Z" || start.len() < 16 {
        return start.to_string();
    }
    match spec.settlement.period {
        Period::Month => start[..7].to_string(),
        Period::Day => start[..10].to_string(),
        Period::Hour => start[..16].to_string(),
    }
}

pub fn header(
    program: &Program,
    st_program: &broker_rules::statement::ProgramRef,
    engine: &broker_rules::statement::Engine,
) -> String {
    format!(
        "{} - program {} {} (sha256 {}), engine {} {}\n",
        program.spec().name,
        st_program.id,
        st_program.version,
        &st_program.sha256[..st_program.sha256.len().min(12)],
        engine.name,
        engine.version
    )
}

/// The readable statement: a row per broker and period, each broker's total, the total,
/// excluded trades by reason, unattributed trades, rejected trades.
pub fn statement_table(program: &Program, st: &Statement) -> String {
    let mut s = header(program, &st.program, &st.engine);
    s.push('\n');
    let cur = &st.currency;
    let mut t = Table::new(&[
        ("broker", false),
        ("status", false),
        ("period", false),
        ("tier", false),
        ("tier basis", false),
        ("rate", true),
        ("eligible volume", true),
        ("eligible fees", true),
        (&format!("commission {cur}"), true),
        ("withheld", true),
        ("excluded", true),
        ("excluded volume", true),
        ("credit at", false),
    ]);
    let mut reasons: std::collections::BTreeMap<&str, u64> = Default::default();
    let mut short = 0usize;
    for b in &st.brokers {
        let status = match &b.reason {
            Some(r) => format!("{} ({r})", b.status),
            None => b.status.clone(),
        };
        for (i, p) in b.periods.iter().enumerate() {
            let excluded = p.excluded_total.trades;
            for (r, x) in &p.excluded {
                *reasons.entry(r.as_str()).or_default() += x.trades;
            }
            let mut tier = p.tier.clone().unwrap_or_else(|| "-".into());
            if p.history == "incomplete" {
                tier.push('*');
                short += 1;
            }
            let excluded_volume = &p.excluded_total.volume;
            t.row(vec![
                if i == 0 {
                    b.broker.clone()
                } else {
                    String::new()
                },
                if i == 0 {
                    status.clone()
                } else {
                    String::new()
                },
                period_label(program, &p.start),
                tier,
                basis(&p.metrics),
                percent(&p.rate),
                group(&p.eligible.volume),
                group(&p.eligible.fees),
                group(&p.commission),
                group(&p.withheld),
                group(&excluded.to_string()),
                group(excluded_volume),
                p.credit_at.clone(),
            ]);
        }
        if b.periods.len() > 1 || b.reason.is_some() {
            let mut total = vec![String::new(); 9];
            total[2] = "total".into();
            total.push(group(&b.commission));
            total.push(group(&b.withheld));
            t.row(total);
        }
    }
    if t.is_empty() {
        s.push_str("No broker earned or was attributed a trade.\n");
    } else {
        s.push_str(&t.render(""));
    }
    s.push_str(&format!(
        "\nTotal commission: {} {cur} ({} broker{})\n",
        group(&st.summary.commission),
        st.brokers.len(),
        if st.brokers.len() == 1 { "" } else { "s" }
    ));
    let kicked: Vec<String> = st
        .brokers
        .iter()
        .filter_map(|b| {
            b.kickback
                .as_ref()
                .map(|k| format!("{} {}", b.broker, group(k)))
        })
        .collect();
    if !kicked.is_empty() {
        // The commission column is each broker's part; the clients' part is listed here.
        s.push_str(&format!(
            "Client kickbacks (not in the commission above): {}\n",
            kicked.join(", ")
        ));
    }
    if short > 0 {
        s.push_str(&format!(
            "* {short} period(s) settled on a tier window that reaches before the earliest trade supplied ({}): the tier may be too low (--complete-history if the brokers are new)\n",
            st.summary.earliest_trade.as_deref().unwrap_or("-")
        ));
    }
    if !reasons.is_empty() {
        let list: Vec<String> = reasons
            .iter()
            .map(|(r, n)| format!("{r} {}", group(&n.to_string())))
            .collect();
        s.push_str(&format!("Excluded trades by reason: {}\n", list.join(", ")));
    }
    if !st.summary.unattributed.is_empty() {
        let list: Vec<String> = st
            .summary
            .unattributed
            .iter()
            .map(|(r, x)| {
                format!(
                    "{r} {} (fees {})",
                    group(&x.trades.to_string()),
                    group(&x.fees)
                )
            })
            .collect();
        s.push_str(&format!("Unattributed trades: {}\n", list.join(", ")));
    }
    let sm = &st.summary;
    s.push_str(&format!(
        "Trades: {} accepted, {} identical duplicate{}, {} rejected, {} unknown field{} ignored\n",
        group(&sm.trades.to_string()),
        sm.duplicates,
        if sm.duplicates == 1 { "" } else { "s" },
        sm.rejected,
        sm.unknown_fields,
        if sm.unknown_fields == 1 { "" } else { "s" }
    ));
    if !sm.unknown_values.is_empty() {
        let list: Vec<String> = sm
            .unknown_values
            .iter()
            .flat_map(|(f, vs)| vs.iter().map(move |(v, n)| format!("{f} {v:?} {n}")))
            .collect();
        s.push_str(&format!(
            "Unknown values (not a known channel or product; settled as such, e.g. a miscased API earns as a non-API channel): {}\n",
            list.join(", ")
        ));
    }
    if sm.from.is_some() || sm.to.is_some() {
        s.push_str(&format!(
            "Settled range: from {} to {}\n",
            sm.from.as_deref().unwrap_or("the start"),
            sm.to.as_deref().unwrap_or("the end")
        ));
    }
    if !st.rejected.is_empty() {
        s.push_str(&format!(
            "\nRejected trades ({}; not settled, --strict fails on the first):\n",
            st.rejected.len()
        ));
        let mut t = Table::new(&[
            ("line", true),
            ("id", false),
            ("code", false),
            ("field", false),
            ("message", false),
        ]);
        const SHOWN: usize = 20;
        for r in st.rejected.iter().take(SHOWN) {
            t.row(vec![
                r.line.map(|l| l.to_string()).unwrap_or_default(),
                r.id.clone().unwrap_or_default(),
                r.code.as_str().into(),
                r.field.clone().unwrap_or_default(),
                r.message.clone(),
            ]);
        }
        s.push_str(&t.render("  "));
        if st.rejected.len() > SHOWN {
            s.push_str(&format!(
                "  ... and {} more (--format json lists them all)\n",
                st.rejected.len() - SHOWN
            ));
        }
    }
    s
}

/// One CSV row per broker and period.
/// The tier basis in one cell: `api_volume 3,960,000`, several metrics joined by `; `.
fn basis(metrics: &std::collections::BTreeMap<String, String>) -> String {
    metrics
        .iter()
        .map(|(k, v)| format!("{k} {}", group(v)))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn statement_csv(st: &Statement) -> String {
    // Programs that pass part of the commission back to clients (okx-v5) add the clients'
    // part as a last column; others keep the columns they always had.
    let kicks = st
        .brokers
        .iter()
        .any(|b| b.periods.iter().any(|p| p.kickback.is_some()));
    let mut head = vec![
        "broker",
        "status",
        "reason",
        "period_start",
        "period_end",
        "credit_at",
        "tier",
        "rate",
        "volume",
        "fees",
        "commission",
        "trades",
        "excluded_trades",
        "currency",
        "eligible_volume",
        "eligible_fees",
        "eligible_trades",
        "excluded_volume",
        "excluded_fees",
        "withheld",
        "metrics_window_start",
        "metrics_window_end",
        "history",
        "tier_basis",
    ];
    if kicks {
        head.push("kickback");
    }
    let mut s = csv_row(&head);
    for b in &st.brokers {
        for p in &b.periods {
            let excluded = p.excluded_total.trades.to_string();
            let trades = p.trades.to_string();
            let eligible_trades = p.eligible.trades.to_string();
            let basis = p
                .metrics
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";");
            let mut row: Vec<&str> = vec![
                &b.broker,
                &b.status,
                b.reason.as_deref().unwrap_or(""),
                &p.start,
                &p.end,
                &p.credit_at,
                p.tier.as_deref().unwrap_or(""),
                &p.rate,
                &p.volume,
                &p.fees,
                &p.commission,
                &trades,
                &excluded,
                &st.currency,
                &p.eligible.volume,
                &p.eligible.fees,
                &eligible_trades,
                &p.excluded_total.volume,
                &p.excluded_total.fees,
                &p.withheld,
                &p.metrics_window.start,
                &p.metrics_window.end,
                &p.history,
                &basis,
            ];
            if kicks {
                row.push(p.kickback.as_deref().unwrap_or(""));
            }
            s.push_str(&csv_row(&row));
        }
    }
    s
}

pub fn explain_csv(ex: &Explanation) -> String {
    let mut s = csv_row(&[
        "id",
        "time",
        "broker",
        "attribution",
        "period_start",
        "tier",
        "rate",
        "commission",
        "excluded",
    ]);
    for l in &ex.lines {
        s.push_str(&csv_row(&[
            &l.id,
            &l.time,
            l.broker.as_deref().unwrap_or(""),
            l.attribution.as_deref().unwrap_or(""),
            l.period_start.as_deref().unwrap_or(""),
            l.tier.as_deref().unwrap_or(""),
            &l.rate,
            &l.commission,
            l.excluded.as_deref().unwrap_or(""),
        ]));
    }
    s
}

pub fn explain_table(program: &Program, ex: &Explanation) -> String {
    let mut s = header(program, &ex.program, &ex.engine);
    s.push('\n');
    let mut t = Table::new(&[
        ("id", false),
        ("time", false),
        ("broker", false),
        ("via", false),
        ("period", false),
        ("tier", false),
        ("rate", true),
        (&format!("commission {}", ex.currency), true),
        ("excluded", false),
    ]);
    for l in &ex.lines {
        t.row(vec![
            l.id.clone(),
            l.time.clone(),
            l.broker.clone().unwrap_or_else(|| "-".into()),
            l.attribution.clone().unwrap_or_else(|| "-".into()),
            l.period_start
                .as_deref()
                .map(|p| period_label(program, p))
                .unwrap_or_else(|| "-".into()),
            l.tier.clone().unwrap_or_else(|| "-".into()),
            percent(&l.rate),
            l.commission.clone(),
            l.excluded.clone().unwrap_or_default(),
        ]);
    }
    s.push_str(&t.render(""));
    s.push_str(
        "\nCommission per line is exact, before the period's rounding (and caps or shares).\n",
    );
    if !ex.rejected.is_empty() {
        s.push_str(&format!("\nRejected trades: {}\n", ex.rejected.len()));
        for r in &ex.rejected {
            s.push_str(&format!(
                "  line {} {}: {} {}\n",
                r.line.map(|l| l.to_string()).unwrap_or_default(),
                r.id.as_deref().unwrap_or(""),
                r.code.as_str(),
                r.message
            ));
        }
    }
    s
}

/// `settle --explain BROKER`: how each of one broker's numbers was reached, period by
/// period, in words a broker can check against the program: the tier basis and its window,
/// the threshold reached and the next one, attributed = eligible + excluded, the exact
/// commission and its rounding, and what was passed on or withheld.
pub fn broker_explanation(
    program: &Program,
    st: &Statement,
    broker: &str,
) -> Result<String, String> {
    let Some(b) = st.brokers.iter().find(|b| b.broker == broker) else {
        let known: Vec<&str> = st.brokers.iter().map(|b| b.broker.as_str()).collect();
        return Err(format!(
            "--explain {broker}: no such broker in this statement (brokers: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let spec = program.spec();
    let cur = &st.currency;
    let s = &spec.settlement;
    let mut out = header(program, &st.program, &st.engine);
    out.push_str(&format!(
        "\nBroker {} ({}{}): {} {cur} payable over {} period(s).\n",
        b.broker,
        b.status,
        b.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default(),
        group(&b.commission),
        b.periods.len()
    ));
    out.push_str(&format!(
        "Formula per eligible trade: {}; summed exactly per period, then rounded once ({}, {} decimals).\n",
        spec.formula,
        serde_json::to_string(&s.rounding).unwrap_or_default().trim_matches('"'),
        s.scale
    ));
    let levels: Vec<&str> = spec.tiers.levels.iter().map(|l| l.name.as_str()).collect();
    for p in &b.periods {
        out.push_str(&format!(
            "\n{} ({} .. {}), credited {}\n",
            period_label(program, &p.start),
            p.start,
            p.end,
            p.credit_at
        ));
        let basis: Vec<String> = p
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {}", group(v)))
            .collect();
        out.push_str(&format!(
            "  tier basis: {} over [{}, {}){}\n",
            if basis.is_empty() { "-".to_string() } else { basis.join(", ") },
            p.metrics_window.start,
            p.metrics_window.end,
            if p.history == "incomplete" {
                " - history incomplete: the window reaches before the earliest trade supplied, the tier may be too low"
            } else {
                ""
            }
        ));
        let rank = p
            .tier
            .as_deref()
            .and_then(|t| levels.iter().position(|l| *l == t));
        out.push_str(&format!(
            "  tier: {} (rate {})\n",
            p.tier.as_deref().unwrap_or("none (below the lowest level)"),
            percent(&p.rate)
        ));
        for ladder in &spec.tiers.ladders {
            let next = ladder.steps.iter().find(|st| {
                levels
                    .iter()
                    .position(|l| *l == st.level)
                    .map(|i| Some(i) > rank)
                    .unwrap_or(false)
            });
            if let Some(step) = next {
                let need: Vec<String> = step
                    .min
                    .iter()
                    .map(|(m, min)| {
                        let have: rust_decimal::Decimal = p
                            .metrics
                            .get(m)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or_default();
                        let more = (*min - have).max(rust_decimal::Decimal::ZERO);
                        format!(
                            "{m} >= {} ({} more)",
                            group(&min.normalize().to_string()),
                            group(&more.normalize().to_string())
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "  next on ladder {}: {} needs {}\n",
                    ladder.name,
                    step.level,
                    need.join(" and ")
                ));
            }
        }
        out.push_str(&format!(
            "  attributed: {} trade(s), volume {}, fees {}\n",
            p.attributed.trades,
            group(&p.attributed.volume),
            group(&p.attributed.fees)
        ));
        for (reason, x) in &p.excluded {
            out.push_str(&format!(
                "  - excluded {reason}: {} trade(s), volume {}, fees {}\n",
                x.trades,
                group(&x.volume),
                group(&x.fees)
            ));
        }
        out.push_str(&format!(
            "  = eligible: {} trade(s), volume {}, fees {} (what the rate applied to)\n",
            p.eligible.trades,
            group(&p.eligible.volume),
            group(&p.eligible.fees)
        ));
        if let Some(k) = &p.kickback {
            out.push_str(&format!(
                "  clients' kickback: {k} {cur} passed back to clients (their registry kickback shares, after their caps), not in the broker's commission below\n"
            ));
        }
        if p.to_parent != "0" || p.from_sub_brokers != "0" {
            out.push_str(&format!(
                "  hierarchy: {} passed to the parent, {} received from sub-brokers\n",
                group(&p.to_parent),
                group(&p.from_sub_brokers)
            ));
        }
        if b.status == "withheld" {
            out.push_str(&format!(
                "  commission: 0 {cur} payable; {} {cur} computed and withheld ({})\n",
                group(&p.withheld),
                b.reason.as_deref().unwrap_or("withheld")
            ));
        } else {
            out.push_str(&format!(
                "  commission: exact {} -> {} {cur}\n",
                p.exact,
                group(&p.commission)
            ));
        }
    }
    Ok(out)
}
