#!/usr/bin/env node
// Issue 14 item 1: a month of trades from CSV bytes, side by side in one run on one file:
//   cli      the release CLI, `broker-rules settle --trades FILE` (its default threads)
//   addon    the Node addon (host-node), settleJson({program, trades: <Buffer>, format: 'csv'})
//   wasm     broker-rules-wasm under Node (host-wasm/pkg), the same call
//   chromium broker-rules-wasm's web build in headless Chromium: the page fetches the file's
//            bytes, then times the same call (fetch not counted)
// Each run is its own process (peak RSS from the OS); median of --runs. Every run's
// statement must be the CLI's, byte for byte, or the script fails.
// usage: node bench/js_settle.mjs [--count 1000000] [--program backpack] [--runs 3] [--no-browser]
// The file is `broker-rules sample --count N` (deterministic), kept under target/bench-js/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const sha = (text) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);

// ---- child: one timed settle in this process ------------------------------------------
if (process.argv[2] === '--child') {
  const [, , , which, file, program] = process.argv;
  const api = require(path.join(root, which === 'wasm' ? 'host-wasm/pkg' : 'host-node'));
  const bytes = fs.readFileSync(file);
  const t0 = process.hrtime.bigint();
  const out = api.settleJson({ program, trades: bytes, format: 'csv' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ ms, rss, sha: sha(out) }));
  process.exit(0);
}

const count = Number(arg('--count', 1000000));
const program = arg('--program', 'backpack');
const runs = Number(arg('--runs', 3));
const browser = !process.argv.includes('--no-browser');
const cli = path.join(root, 'target/release/broker-rules');
if (!fs.existsSync(cli)) throw new Error(`build the release CLI first: cargo build --release -p broker-rules-cli (${cli})`);
const dir = path.join(root, 'target/bench-js');
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `trades-${count}.csv`);
if (!fs.existsSync(file)) {
  const r = spawnSync(cli, ['sample', '--count', String(count), '--out', file], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('broker-rules sample failed');
}
const size = fs.statSync(file).size;
console.error(`# ${file}: ${count} trades, ${(size / 1e6).toFixed(1)} MB, program ${program}, ${runs} runs each`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
const record = (name, r, want) => {
  if (want && r.sha !== want) throw new Error(`${name}: the statement differs from the CLI's (${r.sha} vs ${want})`);
  (results[name] ||= []).push(r);
  console.error(`# ${name}: ${(r.ms / 1000).toFixed(2)} s${r.rss ? `, peak RSS ${(r.rss / 1e6).toFixed(0)} MB` : ''}`);
};

// The CLI: wall time of the process (reading the file included, as for the others).
function runCli() {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cli, 'settle', '--program', program, '--trades', file], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`cli: ${r.stderr}`);
  const rss = Number(r.stderr.trim().split('\n').pop()) * 1024;
  return { ms, rss, sha: sha(r.stdout.replace(/\n$/, '')) };
}

function runNode(which) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', which, file, program], { maxBuffer: 1 << 20, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${which}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function runChromium(n, want) {
  const tools = process.env.BROKER_RULES_TOOLS || path.join(os.homedir(), '.cache/broker-rules/tools');
  const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(tools, 'node_modules'), root] }));
  const page = `<!doctype html><meta charset="utf-8"><script type="module">
import init, { settleJson } from '/host-wasm/pkg/web/index.js';
await init();
const bytes = new Uint8Array(await (await fetch('/trades.csv')).arrayBuffer());
const t0 = performance.now();
const out = settleJson({ program: ${JSON.stringify(program)}, trades: bytes, format: 'csv' });
const ms = performance.now() - t0;
const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(out));
window.__r = { ms, sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, 16) };
</script>`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost').pathname;
    if (url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(page); }
    if (url === '/trades.csv') { res.writeHead(200, { 'content-type': 'text/csv' }); return fs.createReadStream(file).pipe(res); }
    const rel = path.posix.normalize(url).replace(/^\/+/, '');
    if (!rel.startsWith('host-wasm/pkg/web/')) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': rel.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
    fs.createReadStream(path.join(root, rel)).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-rules-bench-'));
  try {
    for (let i = 0; i < n; i++) {
      // a fresh browser per run: each run starts from a cold page, as a user's would
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      try {
        const p = await context.newPage();
        await p.goto(`http://127.0.0.1:${server.address().port}/`);
        const r = await (await p.waitForFunction(() => window.__r, null, { timeout: 600000 })).jsonValue();
        record('chromium', r, want);
      } finally {
        await context.close();
      }
    }
  } finally {
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

const want = runCli().sha; // warm-up (the file into the page cache) and the reference bytes
for (let i = 0; i < runs; i++) {
  record('cli', runCli(), want);
  record('addon', runNode('node'), want);
  record('wasm', runNode('wasm'), want);
}
if (browser) await runChromium(runs, want);

const m = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, { s: median(rs.map((r) => r.ms)) / 1000, rss: median(rs.map((r) => r.rss || 0)) }]));
const row = (name, s, rss, target) => console.log(`| ${name} | ${s.toFixed(2)} s | ${(count / s / 1e6).toFixed(2)}M/s | ${rss ? `${(rss / 1e6).toFixed(0)} MB` : '-'} | ${target} |`);
console.log(`\n${count} trades (${(size / 1e6).toFixed(1)} MB CSV), program ${program}, median of ${runs}; every run's statement is the CLI's, byte for byte\n`);
console.log('| run | time | trades/s | peak RSS | target |');
console.log('|---|---:|---:|---:|---|');
row('CLI `settle --trades`', m.cli.s, m.cli.rss, '-');
row('Node addon', m.addon.s, m.addon.rss, `>= 0.8x CLI: ${(m.cli.s / m.addon.s).toFixed(2)}x ${m.cli.s / m.addon.s >= 0.8 ? 'met' : 'not met'}`);
row('broker-rules-wasm, Node', m.wasm.s, m.wasm.rss, `<= 3 s: ${m.wasm.s <= 3 ? 'met' : 'not met'}`);
if (m.chromium) row('broker-rules-wasm, Chromium', m.chromium.s, 0, `<= 1.5x wasm in Node: ${(m.chromium.s / m.wasm.s).toFixed(2)}x ${m.chromium.s <= 1.5 * m.wasm.s ? 'met' : 'not met'}`);
