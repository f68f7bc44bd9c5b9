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
    for (let i = 0; i < n; i++) { const len = u32(); bodies.push({ idx: imports + i, size: len }); pos += len; }
  }
  sections.push({ label, size });
  pos = start + size;
}

function crateOf(sym) {
  if (!sym) return '(no name)';
  let m = /^_ZN(\d+)/.exec(sym);
  if (m) { const n = Number(m[1]); let c = sym.slice(3 + m[1].length, 3 + m[1].length + n); if (c.startsWith('_$LT$')) { const inner = /_\$LT\$(?:\w+\.\.)?([a-z_][a-z0-9_]*)/.exec(c); c = inner ? `<${inner[1]}>` : c; } return c.replace(/\.\./g, '::'); }
  m = /^_R\w*?C[^0-9]*?(\d+)([a-z_][a-z0-9_]*)/.exec(sym);
  if (m) return m[2];
  if (/^(dlmalloc|__rust|rust_|__wbg|__wbindgen|wasm_bindgen)/.test(sym)) return sym.split(/[:.]/)[0];
  return sym.includes('::') ? sym.split('::')[0] : `(${sym.slice(0, 24)})`;
}

const total = buf.length;
const gz = zlib.gzipSync(buf, { level: 9 }).length;
console.log(`${file}: ${total} bytes, ${gz} bytes gzip -9; ${bodies.length} functions, ${names.size} named`);
console.log('\n| section | bytes | share |\n|---|---:|---:|');
for (const s of sections.sort((a, b) => b.size - a.size)) console.log(`| ${s.label} | ${s.size} | ${((100 * s.size) / total).toFixed(1)}% |`);
const byCrate = new Map();
for (const b of bodies) { const c = crateOf(names.get(b.idx)); byCrate.set(c, (byCrate.get(c) || 0) + b.size); }
const code = bodies.reduce((a, b) => a + b.size, 0);
console.log('\n| crate (code section) | bytes | share of code |\n|---|---:|---:|');
for (const [c, n] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`| ${c} | ${n} | ${((100 * n) / code).toFixed(1)}% |`);
console.log(`\n| largest functions | bytes |\n|---|---:|`);
for (const b of bodies.sort((a, b) => b.size - a.size).slice(0, topN)) console.log(`| ${(names.get(b.idx) || `#${b.idx}`).slice(0, 110)} | ${b.size} |`);
