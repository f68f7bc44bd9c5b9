//! broker-rules for WebAssembly. Two forms from the same core code path
//! (`broker_rules::api`, the JSON-string entry points):
//! - this crate, feature `bindgen`: the wasm-bindgen package for browsers and bundlers
//!   (npm `broker-rules-wasm`, built by `host-wasm/js/build.sh`);
//! - `host-wasm/plain` (crate `broker-rules-wasm-plain`): a plain-ABI module (alloc, free,
//!   one function per entry point taking and returning JSON bytes) that wasmtime loads.
extern crate alloc;

#[cfg(feature = "bindgen")]
mod bindgen;
