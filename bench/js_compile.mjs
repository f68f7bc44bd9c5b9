#!/usr/bin/env node
// Per-call cost of `estimate` and of a small `settle`, plain (program parsed, checked and
// hashed on every call) and through `compile(program)` (once), in both npm packages:
// broker-rules-wasm (host-wasm/pkg, Node build) and the addon (host-node); then the web build
// (the size-built .wasm the dashboard downloads) in headless Chromium, when playwright-core and
// Chromium are installed. Median of 7 runs of N calls each, after a warm-up.
// usage: node bench/js_compile.mjs [N]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const N = Number(process.argv[2] || 20000);
const scenario = { volume: '12000000', fee_rate: '0.0005', mix: [{ product: 'spot', channel: 'api', share: '0.6' }, { product: 'futures', channel: 'api', share: '0.4' }] };
const t = (id, day, account, notional, fee) => ({ id, time: `2026-06-${day}T10:00:00Z`, account, broker: 'B1', channel: 'api', product: 'spot', notional, fee });
const trades = [t('a', '02', 'c1', '4000000', '2000'), t('b', '12', 'c2', '4000000', '2400'), t('c', '22', 'c3', '2000000', '600')];

// The same measurement as a page's script (a string: it runs in the browser).
const PER_CALL = `function perCall(fn, n) {
  for (let i = 0; i < Math.min(n, 2000); i++) fn();
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    runs.push((performance.now() - t0) * 1000 / n);
  }
  return runs.sort((a, b) => a - b)[3];
}`;

// The web build in headless Chromium: rows like the Node packages' (the page checks that the
// compiled answer equals the plain one, as above).
async function chromiumRows() {
  const tools = process.env.BROKER_RULES_TOOLS || path.join(os.homedir(), '.cache/broker-rules/tools');
  let chromium;
  try {
    ({ chromium } = require(require.resolve('playwright-core', { paths: [path.join(tools, 'node_modules'), root] })));
  } catch (e) { console.error(`chromium: playwright-core not installed (${e.message.split('\n')[0]})`); return []; }
  const page = `<!doctype html><meta charset="utf-8"><script type="module">
import init, { compile, estimateJson, settleJson } from '/host-wasm/pkg/web/index.js';
await init();
${PER_CALL}
const N = ${N}, scenario = ${JSON.stringify(scenario)}, trades = ${JSON.stringify(trades)};
const rows = [];
for (const program of ['backpack', 'okx']) {
  const c = compile(program);
  if (c.estimateJson(scenario) !== estimateJson(program, scenario)) throw new Error('compiled estimate differs');
  rows.push(['broker-rules-wasm, web build in Chromium', program, 'estimate', perCall(() => estimateJson(program, scenario), N), perCall(() => c.estimateJson(scenario), N)]);
  rows.push(['broker-rules-wasm, web build in Chromium', program, 'settle 3 trades', perCall(() => settleJson(program, trades), N / 10), perCall(() => c.settleJson(trades), N / 10)]);
}
window.__rows = rows;
</script>`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost').pathname;
    if (url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(page); }
    const rel = path.posix.normalize(url).replace(/^\/+/, '');
    if (!rel.startsWith('host-wasm/pkg/web/')) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': rel.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
    fs.createReadStream(path.join(root, rel)).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const p = await browser.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`http://127.0.0.1:${server.address().port}/`);
    const got = await p.waitForFunction(() => window.__rows || null, null, { timeout: 600000 }).catch((e) => { throw new Error(`chromium: ${errors.join('; ') || e.message}`); });
    return await got.jsonValue();
  } finally {
    await browser.close();
    server.close();
  }
}

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
rows.push(...(await chromiumRows()));
console.log('| package | program | call | plain us/call | compiled us/call | speed-up |');
console.log('|---|---|---|---:|---:|---:|');
for (const [p, prog, call, a, b] of rows) console.log(`| ${p} | ${prog} | ${call} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(1)}x |`);
