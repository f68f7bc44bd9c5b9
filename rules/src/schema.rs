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
    "error",
    "explanation",
    "validation",
];

fn pretty(s: schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(&s).expect("a schema serializes");
    text.push('\n');
    text
}

/// The schema called `name` as pretty JSON (with a final newline), or `None` for an
/// unknown name.
pub fn schema(name: &str) -> Option<String> {
    use schemars::schema_for;
    let s = match name {
        "program" => schema_for!(crate::program::ProgramSpec),
        "trade" => schema_for!(crate::trade::Trade),
        "registry" => schema_for!(crate::registry::Registry),
        "settle-options" => schema_for!(crate::settle::SettleOptions),
        "statement" => schema_for!(crate::statement::Statement),
        "scenario" => schema_for!(crate::estimate::Scenario),
        "estimate" => schema_for!(crate::estimate::Estimate),
        "error" => schema_for!(crate::error::Error),
        "explanation" => schema_for!(crate::statement::Explanation),
        "validation" => schema_for!(crate::statement::Validation),
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
