//! Runs the plain-ABI module (`host-wasm/plain`, crate `broker-rules-wasm-plain`) under wasmtime: copy the request
//! into linear memory with `alloc`, call the entry point, read the packed `(ptr << 32) | len`
//! result, `free` both buffers.

use std::path::{Path, PathBuf};
use wasmtime::{Config, Engine, Instance, Memory, Module, Store, TypedFunc};

pub use wasmtime::Result;

/// The module the conformance script builds: `$BROKER_RULES_PLAIN_WASM`, else
/// `target/wasm32-unknown-unknown/wasm-release/broker_rules_wasm_plain.wasm` (built by the script at
/// once, because the wasm-bindgen build writes the same cargo output path).
pub fn default_path() -> PathBuf {
    match std::env::var_os("BROKER_RULES_PLAIN_WASM") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| crate::root().join("target"));
            target
                .join("wasm32-unknown-unknown")
                .join("wasm-release")
                .join("broker_rules_wasm_plain.wasm")
        }
    }
}

/// Whether a missing module fails the tests (set by `scripts/test-conformance.sh`).
pub fn required() -> bool {
    std::env::var_os("BROKER_RULES_REQUIRE_WASM").is_some_and(|v| v != "0")
}

/// An entry point of the plain ABI: `(ptr, len) -> (out_ptr << 32) | out_len`.
type Entry = TypedFunc<(i32, i32), i64>;

pub struct Plain {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    call: TypedFunc<(i32, i32, i32, i32), i64>,
    entries: Vec<(String, Entry)>,
}

impl Plain {
    /// Loads and instantiates the module (it imports nothing).
    pub fn load(path: &Path) -> Result<Plain> {
        let bytes =
            std::fs::read(path).map_err(|e| wasmtime::format_err!("{}: {e}", path.display()))?;
        let mut config = Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, &bytes)?;
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::format_err!("no exported memory"))?;
        let alloc = instance.get_typed_func(&mut store, "alloc")?;
        let free = instance.get_typed_func(&mut store, "free")?;
        let call = instance.get_typed_func(&mut store, "call")?;
        let mut entries = Vec::new();
        for f in broker_rules::api::FUNCTIONS {
            entries.push((f.to_string(), instance.get_typed_func(&mut store, f)?));
        }
        Ok(Plain {
            store,
            memory,
            alloc,
            free,
            call,
            entries,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<i32> {
        let ptr = self.alloc.call(&mut self.store, bytes.len() as i32)?;
        if ptr == 0 && !bytes.is_empty() {
            return Err(wasmtime::format_err!("alloc({}) returned 0", bytes.len()));
        }
        self.memory
            .write(&mut self.store, ptr as u32 as usize, bytes)?;
        Ok(ptr)
    }

    fn take(&mut self, packed: i64) -> Result<String> {
        let packed = packed as u64;
        let (ptr, len) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
        if ptr == 0 {
            return Err(wasmtime::format_err!(
                "the module could not allocate its result"
            ));
        }
        let mut out = vec![0u8; len as usize];
        self.memory.read(&self.store, ptr as usize, &mut out)?;
        self.free.call(&mut self.store, (ptr as i32, len as i32))?;
        String::from_utf8(out).map_err(|e| wasmtime::format_err!("the result is not UTF-8: {e}"))
    }

    /// Calls the entry point export named `function` (one of `broker_rules::api::FUNCTIONS`),
    /// or the generic `call` export for any other name.
    pub fn call(&mut self, function: &str, request: &str) -> Result<String> {
        let req = self.put(request.as_bytes())?;
        let packed = match self
            .entries
            .iter()
            .find(|(n, _)| n == function)
            .map(|(_, f)| f.clone())
        {
            Some(f) => f.call(&mut self.store, (req, request.len() as i32))?,
            None => {
                let fp = self.put(function.as_bytes())?;
                let r = self.call.call(
                    &mut self.store,
                    (fp, function.len() as i32, req, request.len() as i32),
                )?;
                self.free
                    .call(&mut self.store, (fp, function.len() as i32))?;
                r
            }
        };
        self.free
            .call(&mut self.store, (req, request.len() as i32))?;
        self.take(packed)
    }

    /// Bytes of linear memory (to check the allocator does not leak).
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}
