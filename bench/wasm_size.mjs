#!/usr/bin/env node
// What takes space in a .wasm: section sizes, and code size by crate (from the function
// names of the name section; build without stripping, e.g. target/broker-rules-wasm-pkg/
// raw.wasm, the wasm-bindgen input). Crate = first path segment of the demangled symbol
// (`_ZN4core3fmt...` -> core); generic code is counted under the crate that defines it
// (serde's derive output for the engine's types shows up under the engine's own name when
// inlined there, under `serde` / `core` otherwise), so read it as a guide, not an invoice.
// usage: node bench/wasm_size.mjs FILE.wasm [top N functions]
import fs from 'node:fs';
import zlib from 'node:zlib';

const file = process.argv[2];
const topN = Number(process.argv[3] || 25);
const buf = fs.readFileSync(file);
let pos = 8;
const u32 = () => { let r = 0, s = 0, b; do { b = buf[pos++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
const str = () => { const n = u32(); const s = buf.toString('utf8', pos, pos + n); pos += n; return s; };
const NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];
const sections = [];
let imports = 0, bodies = [], names = new Map();
while (pos < buf.length) {
  const id = buf[pos++];
  const size = u32();
  const start = pos;
  let label = NAMES[id] || `id${id}`;
  if (id === 0) {
    const name = str();
    label = `custom:${name}`;
    if (name === 'name') {
      while (pos < start + size) {
        const sub = buf[pos++]; const len = u32(); const end = pos + len;
        if (sub === 1) { const n = u32(); for (let i = 0; i < n; i++) { const idx = u32(); names.set(idx, str()); } }
        pos = end;
      }
    }
  } else if (id === 2) {
    const n = u32();
    for (let i = 0; i < n; i++) { str(); str(); const kind = buf[pos++]; if (kind === 0) { u32(); imports++; } else if (kind === 1) { pos++; const f = buf[pos++]; u32(); if (f & 1) u32(); } else if (kind === 2) { const f = buf[pos++]; u32(); if (f & 1) u32(); } else if (kind === 3) { pos += 2; } }
  } else if (id === 10) {
    const n = u32();
    for (let i = 0; i < n; i++) { const len = u32(); bodies.push({ idx: imports + i, size: len, at: pos }); pos += len; }
  }
  sections.push({ label, size });
  pos = start + size;
}

// Legacy (`_ZN<len>ident...`) and v0 (`_R...C<hash>_<len>ident...`) Rust symbols: the crate,
// and for core / alloc / std the module too (alloc::collections is the BTreeMap code).
function crateOf(sym) {
  if (!sym) return '(no name)';
  let parts = null;
  if (sym.startsWith('_ZN')) {
    parts = [];
    let i = 3;
    while (i < sym.length && parts.length < 3) {
      const m = /^(\d+)/.exec(sym.slice(i));
      if (!m) break;
      i += m[1].length;
      parts.push(sym.slice(i, i + Number(m[1])));
      i += Number(m[1]);
    }
    if (parts[0] && parts[0].startsWith('_$LT$')) {
      const inner = /_\$LT\$(?:\$RF\$)?(?:mut\$u20\$)?([a-z_][a-z0-9_]*)(?:\.\.([a-z_][a-z0-9_]*))?/.exec(parts[0]);
      parts = inner ? [inner[1], inner[2] || ''] : [parts[0]];
    }
  } else if (sym.startsWith('_R')) {
    const m = /C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_][A-Za-z0-9_]*)/.exec(sym);
    if (m) {
      const name = m[2].slice(0, Number(m[1]));
      const rest = sym.slice(m.index + m[0].length - m[2].length + Number(m[1]));
      const next = /^(\d+)([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
      parts = [name, next ? next[2].slice(0, Number(next[1])) : ''];
    }
  }
  if (!parts || !parts.length) {
    if (/^(dlmalloc|__rust|rust_|__wbg|__wbindgen|wasm_bindgen)/.test(sym)) return sym.split(/[:.]/)[0];
    return `(other: ${sym.slice(0, 20)})`;
  }
  return ['core', 'alloc', 'std'].includes(parts[0]) && parts[1] ? `${parts[0]}::${parts[1]}` : parts[0];
}

const total = buf.length;
const gz = zlib.gzipSync(buf, { level: 9 }).length;
console.log(`${file}: ${total} bytes, ${gz} bytes gzip -9; ${bodies.length} functions, ${names.size} named`);
console.log('\n| section | bytes | share |\n|---|---:|---:|');
for (const s of sections.sort((a, b) => b.size - a.size)) console.log(`| ${s.label} | ${s.size} | ${((100 * s.size) / total).toFixed(1)}% |`);
// Per group: raw bytes, and gzip -9 of the group's function bodies concatenated (what the
// group adds to the download, roughly: gzip shares repeats across groups too).
const groups = new Map();
const add = (key, b) => { const g = groups.get(key) || { n: 0, size: 0, parts: [] }; g.n++; g.size += b.size; g.parts.push(buf.subarray(b.at, b.at + b.size)); groups.set(key, g); };
for (const b of bodies) {
  const nm = names.get(b.idx) || '';
  add(crateOf(nm), b);
}
const code = bodies.reduce((a, b) => a + b.size, 0);
const gzOf = (parts) => zlib.gzipSync(Buffer.concat(parts), { level: 9 }).length;
console.log(`\n| crate / module (code section) | functions | bytes | share of code | gzip alone |\n|---|---:|---:|---:|---:|`);
for (const [c, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, 25)) console.log(`| ${c} | ${g.n} | ${g.size} | ${((100 * g.size) / code).toFixed(1)}% | ${gzOf(g.parts)} |`);
// Kinds of generic code that cut across crates.
const kinds = [['sorts (slice::sort* instantiations)', /slice.*sort|sort.*(stable|unstable|smallsort|shared|drift|quicksort|merge)/], ['BTreeMap / BTreeSet code', /btree/i], ['serde_json', /serde_json/], ['serde derive output (Deserialize / Serialize impls)', /(de|ser)\.\.(Deserialize|Serialize)|Visitor|visit_|deserialize|serialize/], ['float formatting (flt2dec)', /flt2dec|dragon|grisu/], ['formula parser and evaluator', /broker_rules.*formula/], ['trade readers (read::)', /broker_rules.*4read/], ['dlmalloc', /dlmalloc/]];
console.log('\n| kind (by symbol name, may overlap) | functions | bytes | gzip alone |\n|---|---:|---:|---:|');
for (const [label, re] of kinds) {
  const sel = bodies.filter((b) => re.test(names.get(b.idx) || ''));
  console.log(`| ${label} | ${sel.length} | ${sel.reduce((a, b) => a + b.size, 0)} | ${gzOf(sel.map((b) => buf.subarray(b.at, b.at + b.size)))} |`);
}
console.log(`\n| largest functions | bytes |\n|---|---:|`);
for (const b of bodies.sort((a, b) => b.size - a.size).slice(0, topN)) console.log(`| ${(names.get(b.idx) || `#${b.idx}`).slice(0, 110)} | ${b.size} |`);
