//! The vector files: `{"name", "description", "call", "input", "checks"?, "expected"}`.
//!
//! `input` is the request object given to `broker_rules::api::call(call, <input>)`, passed as
//! the file's own text minified (so key order is the file's, on every host); `expected` is
//! the envelope the engine must print, compared byte for byte after minifying. `checks` are
//! the hand-computed key figures: JSON pointers into the envelope with the value worked out
//! by hand, asserted independently of `expected` (a regenerated `expected` cannot hide a
//! wrong number).

use crate::json;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    description: String,
    call: String,
    input: Box<RawValue>,
    #[serde(default)]
    checks: Option<Box<RawValue>>,
    expected: Box<RawValue>,
}

/// One hand-computed figure: the value at `path` (a JSON pointer into the envelope).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub path: String,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct Vector {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub call: String,
    /// The request, minified from the file's text.
    pub request: String,
    pub checks: Vec<Check>,
    pub checks_text: Option<String>,
    /// The expected envelope, minified from the file's text.
    pub expected: String,
}

impl Vector {
    pub fn read(path: &Path) -> Result<Vector, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let f: File =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if f.name != stem {
            return Err(format!(
                "{}: name {:?} must equal the file name {stem:?}",
                path.display(),
                f.name
            ));
        }
        let checks_text = f.checks.as_ref().map(|c| json::minify(c.get()));
        let checks = match &f.checks {
            Some(c) => serde_json::from_str(c.get())
                .map_err(|e| format!("{}: checks: {e}", path.display()))?,
            None => Vec::new(),
        };
        Ok(Vector {
            file: path.to_path_buf(),
            name: f.name,
            description: f.description,
            call: f.call,
            request: json::minify(f.input.get()),
            checks,
            checks_text,
            expected: json::minify(f.expected.get()),
        })
    }

    /// The checks that `envelope` (an engine output) does not satisfy.
    pub fn failed_checks(&self, envelope: &str) -> Vec<String> {
        let v: Value = match serde_json::from_str(envelope) {
            Ok(v) => v,
            Err(e) => return vec![format!("the output is not JSON: {e}")],
        };
        self.checks
            .iter()
            .filter_map(|c| match v.pointer(&c.path) {
                Some(got) if *got == c.value => None,
                Some(got) => Some(format!(
                    "{}: hand-computed {} but the engine gives {}",
                    c.path, c.value, got
                )),
                None => Some(format!(
                    "{}: hand-computed {} but the output has no such path",
                    c.path, c.value
                )),
            })
            .collect()
    }

    /// The file text with `expected` replaced (pretty, two-space indent, final newline).
    pub fn render(&self, expected: &str) -> String {
        let s = |x: &str| serde_json::to_string(x).expect("strings serialize");
        let mut t = format!(
            "{{\"name\":{},\"description\":{},\"call\":{},\"input\":{}",
            s(&self.name),
            s(&self.description),
            s(&self.call),
            self.request
        );
        if let Some(c) = &self.checks_text {
            t.push_str(&format!(",\"checks\":{c}"));
        }
        t.push_str(&format!(",\"expected\":{expected}}}"));
        let mut out = json::pretty(&t);
        out.push('\n');
        out
    }
}

/// Every `*.json` in `dir`, sorted by file name.
pub fn load(dir: &Path) -> Result<Vec<Vector>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| Vector::read(p)).collect()
}

/// Regenerates `expected` from the native engine for every vector whose checks pass.
/// Returns the names it rewrote and the problems (failed checks) it refused to bless.
pub fn bless(dir: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let mut written = Vec::new();
    let mut refused = Vec::new();
    for v in load(dir)? {
        let out = match crate::native_checked(&v.call, &v.request) {
            Ok(out) => out,
            Err(e) => {
                refused.push(format!("{}: {e}", v.name));
                continue;
            }
        };
        let failed = v.failed_checks(&out);
        if !failed.is_empty() {
            refused.push(format!("{}: {}", v.name, failed.join("; ")));
            continue;
        }
        let text = v.render(&out);
        let old = std::fs::read_to_string(&v.file).unwrap_or_default();
        if old != text {
            std::fs::write(&v.file, text).map_err(|e| format!("{}: {e}", v.file.display()))?;
            written.push(v.name.clone());
        }
    }
    Ok((written, refused))
}
