#!/usr/bin/env node
// Per-call cost of `estimate` and of a small `settle`, plain (program parsed, checked and
// hashed on every call) and through `compile(program)` (once), in both npm packages:
// broker-rules-wasm (host-wasm/pkg, Node build) and the addon (host-node). Median of 7 runs
// of N calls each, after a warm-up. usage: node bench/js_compile.mjs [N]
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const N = Number(process.argv[2] || 20000);
const scenario = { volume: '12000000', fee_rate: '0.0005', mix: [{ product: 'spot', channel: 'api', share: '0.6' }, { product: 'futures', channel: 'api', share: '0.4' }] };
const t = (id, day, account, notional, fee) => ({ id, time: `2026-06-${day}T10:00:00Z`, account, broker: 'B1', channel: 'api', product: 'spot', notional, fee });
const trades = [t('a', '02', 'c1', '4000000', '2000'), t('b', '12', 'c2', '4000000', '2400'), t('c', '22', 'c3', '2000000', '600')];

function perCall(fn, n) {
  for (let i = 0; i < Math.min(n, 2000); i++) fn();
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    runs.push(Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  return runs.sort((a, b) => a - b)[3];
}

const rows = [];
for (const [name, dir] of [['broker-rules-wasm', 'host-wasm/pkg'], ['broker-rules (addon)', 'host-node']]) {
  let api;
  try { api = require(path.join(root, dir)); } catch (e) { console.error(`${name}: not built (${e.message.split('\n')[0]})`); continue; }
  for (const program of ['backpack', 'okx']) {
    const c = api.compile(program);
    if (c.estimateJson(scenario) !== api.estimateJson(program, scenario)) throw new Error('compiled estimate differs');
    rows.push([name, program, 'estimate', perCall(() => api.estimateJson(program, scenario), N), perCall(() => c.estimateJson(scenario), N)]);
    rows.push([name, program, 'settle 3 trades', perCall(() => api.settleJson(program, trades), N / 10), perCall(() => c.settleJson(trades), N / 10)]);
  }
}
console.log('| package | program | call | plain us/call | compiled us/call | speed-up |');
console.log('|---|---|---|---:|---:|---:|');
for (const [p, prog, call, a, b] of rows) console.log(`| ${p} | ${prog} | ${call} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(1)}x |`);
