//! broker-rules for WebAssembly. Two forms from the same core code path
//! (`broker_rules::api`, the JSON-string entry points):
//! - this crate, feature `bindgen`: the wasm-bindgen package for browsers and bundlers
//!   (npm `broker-rules-wasm`, built by `host-wasm/js/build.sh`);
//! - `host-wasm/plain` (crate `broker-rules-wasm-plain`): a plain-ABI module (alloc, free,
//!   one function per entry point taking and returning JSON bytes) that wasmtime loads.
//!
//! Feature `js`: the module [`js`], the Rust side both npm packages share (trade logs as
//! bytes, the incremental `Settlement` with partial states); the Node addon uses it too.
extern crate alloc;

#[cfg(feature = "bindgen")]
mod bindgen;
#[cfg(feature = "js")]
pub mod js;
