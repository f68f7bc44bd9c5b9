//! The built-in programs, compiled into the crate from `rules/programs/*.json`.

use crate::error::{Error, ErrorCode, Result};
use crate::program::{Program, ProgramSpec};
use alloc::format;
use alloc::vec::Vec;
use serde::Deserialize;

/// (id, JSON source) of every built-in program, in listing order.
pub const SOURCES: [(&str, &str); 4] = [
    ("backpack", include_str!("../programs/backpack.json")),
    ("xt", include_str!("../programs/xt.json")),
    ("okx", include_str!("../programs/okx.json")),
    ("okx-v5", include_str!("../programs/okx-v5.json")),
];

/// Every built-in program.
pub fn programs() -> Vec<Program> {
    SOURCES
        .iter()
        .filter_map(|(_, src)| load(src).ok())
        .collect()
}

/// Loads through `serde_json::Value`, the path program objects in requests take, so the
/// .wasm carries one copy of the program deserializer instead of two (text and value).
fn load(src: &str) -> Result<Program> {
    let value: serde_json::Value =
        serde_json::from_str(src).map_err(|e| Error::from_json(&e, "program"))?;
    let spec = ProgramSpec::deserialize(&value)
        .map_err(|e| Error::new(ErrorCode::Field, format!("program: {e}")))?;
    Program::new(spec)
}

/// One built-in program by id.
pub fn program(id: &str) -> Result<Program> {
    match SOURCES.iter().find(|(k, _)| *k == id) {
        Some((_, src)) => load(src),
        None => {
            let known: Vec<&str> = SOURCES.iter().map(|(k, _)| *k).collect();
            Err(Error::new(
                ErrorCode::UnknownProgram,
                format!("no built-in program {id:?} (known: {})", known.join(", ")),
            )
            .field("program"))
        }
    }
}
