//! JSON Schemas (draft 2020-12) of the data that crosses every boundary, generated with
//! schemars from the core's own types, so the schemas cannot drift from what the engine
//! reads and writes. The committed copies live in `schemas/NAME.schema.json`; the
//! conformance tests fail when they differ from [`schema`]'s output (regenerate with
//! `BLESS=1 cargo test -p broker-rules-conformance` or `broker-rules schema --write schemas/`).

use std::string::String;

/// The schema names, as in `schemas/NAME.schema.json`.
pub const NAMES: &[&str] = &[
    "program",
    "trade",
    "registry",
    "settle-options",
    "statement",
    "scenario",
    "estimate",
    "what-if",
    "error",
    "explanation",
    "validation",
    "report-format",
    "reconciliation",
];

fn pretty(s: schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(&s).expect("a schema serializes");
    text.push('\n');
    text
}

/// The schema called `name` as pretty JSON (with a final newline), or `None` for an
/// unknown name. Inputs (program, trade, registry, settle-options, scenario) describe what
/// the engine accepts (serde's deserialize contract: defaulted fields are optional);
/// outputs (statement, estimate, error, explanation, validation) describe what it writes
/// (the serialize contract: fields it skips when empty are optional).
pub fn schema(name: &str) -> Option<String> {
    use crate::{error, estimate, program, registry, settle, statement, trade};
    fn input<T: schemars::JsonSchema>() -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<T>()
    }
    fn output<T: schemars::JsonSchema>() -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>()
    }
    let s = match name {
        "program" => input::<program::ProgramSpec>(),
        "trade" => input::<trade::Trade>(),
        "registry" => input::<registry::Registry>(),
        "settle-options" => input::<settle::SettleOptions>(),
        "scenario" => input::<estimate::Scenario>(),
        "statement" => output::<statement::Statement>(),
        "estimate" => output::<estimate::Estimate>(),
        "what-if" => output::<crate::whatif::WhatIf>(),
        "error" => output::<error::Error>(),
        "explanation" => output::<statement::Explanation>(),
        "validation" => output::<statement::Validation>(),
        "report-format" => input::<crate::reconcile::ReportFormat>(),
        "reconciliation" => output::<crate::reconcile::Reconciliation>(),
        _ => return None,
    };
    Some(pretty(s))
}

/// The file name of a schema: `NAME.schema.json`.
pub fn file_name(name: &str) -> String {
    std::format!("{name}.schema.json")
}

/// Writes every schema to `dir/NAME.schema.json`, creating `dir` if needed.
pub fn write_all(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for name in NAMES {
        let text = schema(name).expect("every listed name has a schema");
        std::fs::write(dir.join(file_name(name)), text)?;
    }
    Ok(())
}
