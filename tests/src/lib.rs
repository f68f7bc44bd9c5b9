//! Conformance for broker-rules: the vectors in `tests/vectors/`, replayed byte for byte on
//! the native core and on the plain-ABI `.wasm` under wasmtime, plus a seeded generator of
//! random programs and trade sets for differential runs. See `tests/README.md`.

pub mod json;
pub mod random;
pub mod vectors;
pub mod wasm;

use std::path::PathBuf;

/// The workspace root (the parent of this crate).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `tests/vectors/`.
pub fn vectors_dir() -> PathBuf {
    root().join("tests").join("vectors")
}

/// `schemas/`.
pub fn schemas_dir() -> PathBuf {
    root().join("schemas")
}

/// Calls the native core exactly as every host does.
pub fn native(call: &str, request: &str) -> String {
    broker_rules::api::call(call, request)
}

/// [`native`], with a panic (a core bug: no input may panic the core) turned into an error.
pub fn native_checked(call: &str, request: &str) -> Result<String, String> {
    std::panic::catch_unwind(|| native(call, request)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned());
        format!("the core panicked: {}", msg.unwrap_or_default())
    })
}
