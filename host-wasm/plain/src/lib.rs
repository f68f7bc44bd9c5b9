//! The plain-ABI module: no JavaScript glue, only numbers and linear memory, so any wasm
//! runtime (wasmtime, wasmer, a browser's bare `WebAssembly.instantiate`) can call it.
//!
//! # ABI
//! Exports (all `extern "C"`, wasm32 only):
//! - `alloc(len: i32) -> i32`: a buffer of `len` bytes in linear memory (never 0 for
//!   `len > 0`; `len == 0` returns 1, a dangling non-null pointer that needs no free). Returns
//!   0 if memory is exhausted.
//! - `free(ptr: i32, len: i32)`: releases a buffer from `alloc` or from a result.
//! - `settle`, `estimate`, `explain`, `validate`, `programs`, `program`, `reconcile`, each
//!   `(ptr: i32, len: i32) -> i64`: read the UTF-8 JSON request at `ptr..ptr+len` (the
//!   request shapes of `broker_rules::api`; `programs` ignores it, pass `0, 0`), and return
//!   the JSON envelope `{"ok": ...}` / `{"error": {...}}` in a new buffer, packed as
//!   `(out_ptr << 32) | out_len` (both unsigned 32-bit). The caller copies it out and calls
//!   `free(out_ptr, out_len)`. The input buffer stays the caller's: free it too.
//! - `call(fptr, flen, ptr, len) -> i64`: the same by function name (`broker_rules::api::call`).
//! - `memory`: the linear memory (exported by the toolchain).
//!
//! Request bytes that are not UTF-8 give an `E_PARSE` error envelope, not a trap. Every
//! entry point is the core's JSON-string entry point: nothing is computed here.
#![no_std]
extern crate alloc;
extern crate std;

use alloc::alloc::{alloc as raw_alloc, dealloc, Layout};
use alloc::string::String;
use broker_rules::api;
use broker_rules::error::{Error, ErrorCode};

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len, 1).ok()
}

/// Allocates `len` bytes (see the module docs).
pub fn alloc_bytes(len: usize) -> *mut u8 {
    if len == 0 {
        return core::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    match layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(l) => unsafe { raw_alloc(l) },
        None => core::ptr::null_mut(),
    }
}

/// Frees a buffer from [`alloc_bytes`] or a result.
///
/// # Safety
/// `ptr` and `len` must describe a live buffer from this module's allocator.
pub unsafe fn free_bytes(ptr: *mut u8, len: usize) {
    if len == 0 || ptr.is_null() {
        return;
    }
    if let Some(l) = layout(len) {
        // SAFETY: the caller guarantees `ptr` came from `alloc_bytes(len)`.
        unsafe { dealloc(ptr, l) }
    }
}

/// Reads the request bytes as text, or the error envelope to return instead.
///
/// # Safety
/// `ptr..ptr+len` must be readable (any pointer when `len == 0`).
unsafe fn request<'a>(ptr: *const u8, len: usize) -> Result<&'a str, String> {
    let bytes: &[u8] = if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: the caller guarantees the range is readable.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    };
    core::str::from_utf8(bytes).map_err(|e| {
        api::error_envelope(&Error::new(
            ErrorCode::Parse,
            alloc::format!(
                "the request is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        ))
    })
}

/// Moves a result into a fresh buffer and packs it as `(ptr << 32) | len`.
fn give(out: String) -> u64 {
    let bytes = out.into_bytes();
    let p = alloc_bytes(bytes.len());
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` is a fresh buffer of `bytes.len()` bytes.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    ((p as usize as u64) << 32) | bytes.len() as u64
}

/// Runs one entry point over a request buffer.
///
/// # Safety
/// As [`request`].
unsafe fn run(ptr: *const u8, len: usize, f: fn(&str) -> String) -> u64 {
    // SAFETY: forwarded from the caller.
    give(match unsafe { request(ptr, len) } {
        Ok(text) => f(text),
        Err(envelope) => envelope,
    })
}

macro_rules! entry {
    ($name:ident, $f:expr) => {
        /// A JSON entry point of the plain ABI (see the module docs).
        ///
        /// # Safety
        /// `ptr..ptr+len` must be readable linear memory.
        #[cfg_attr(target_arch = "wasm32", export_name = stringify!($name))]
        pub unsafe extern "C" fn $name(ptr: *const u8, len: usize) -> u64 {
            // SAFETY: forwarded from the caller.
            unsafe { run(ptr, len, $f) }
        }
    };
}

entry!(settle, api::settle);
entry!(estimate, api::estimate);
entry!(explain, api::explain);
entry!(validate, api::validate);
entry!(programs, |_| api::programs());
entry!(program, api::program);
entry!(reconcile, api::reconcile);

/// `alloc(len) -> ptr` of the plain ABI.
#[cfg_attr(target_arch = "wasm32", export_name = "alloc")]
pub extern "C" fn plain_alloc(len: usize) -> *mut u8 {
    alloc_bytes(len)
}

/// `free(ptr, len)` of the plain ABI.
///
/// # Safety
/// `ptr` and `len` must describe a buffer from `alloc` or a result.
#[cfg_attr(target_arch = "wasm32", export_name = "free")]
pub unsafe extern "C" fn plain_free(ptr: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { free_bytes(ptr, len) }
}

/// `call(fptr, flen, ptr, len)`: any entry point by name.
///
/// # Safety
/// Both ranges must be readable linear memory.
#[cfg_attr(target_arch = "wasm32", export_name = "call")]
pub unsafe extern "C" fn plain_call(
    fptr: *const u8,
    flen: usize,
    ptr: *const u8,
    len: usize,
) -> u64 {
    // SAFETY: forwarded from the caller.
    let out = match (unsafe { request(fptr, flen) }, unsafe { request(ptr, len) }) {
        (Ok(f), Ok(r)) => api::call(f, r),
        (Err(e), _) | (_, Err(e)) => e,
    };
    give(out)
}
