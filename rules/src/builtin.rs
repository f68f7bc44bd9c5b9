//! The built-in programs, compiled into the crate from `rules/programs/*.json`.

use crate::error::{Error, ErrorCode, Result};
use crate::program::Program;
use alloc::format;
use alloc::vec::Vec;

/// (id, JSON source) of every built-in program, in listing order.
pub const SOURCES: [(&str, &str); 3] = [
    ("backpack", include_str!("../programs/backpack.json")),
    ("xt", include_str!("../programs/xt.json")),
    ("okx", include_str!("../programs/okx.json")),
];

/// Every built-in program.
pub fn programs() -> Vec<Program> {
    SOURCES
        .iter()
        .filter_map(|(_, src)| Program::from_json(src).ok())
        .collect()
}

/// One built-in program by id.
pub fn program(id: &str) -> Result<Program> {
    match SOURCES.iter().find(|(k, _)| *k == id) {
        Some((_, src)) => Program::from_json(src),
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
