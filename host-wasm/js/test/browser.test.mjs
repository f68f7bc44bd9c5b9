// The `web` build in a real browser: a localhost static server (node:http, bounded to a few
// directories) serves host-wasm/pkg and the vectors; headless Chromium (Debian's, driven by
// playwright-core) loads a page that replays every vector (and settles a CSV file's bytes)
// and reports to this test. The README's browser example runs the same way.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createRequire } from 'node:module';
import { root, loadVectors } from './common.mjs';

const require = createRequire(import.meta.url);
const tools = process.env.BROKER_RULES_TOOLS || path.join(os.homedir(), '.cache/broker-rules/tools');
const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(tools, 'node_modules'), root] }));

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm', '.html': 'text/html' };
const SERVED = ['host-wasm/pkg/', 'host-wasm/js/test/'];

function readmeBlock(lang, section) {
  const md = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = md.indexOf(`<!-- section: ${section} -->`);
  const end = md.indexOf('\n#', start);
  const part = md.slice(start, end < 0 ? undefined : end);
  const m = part.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'));
  return m ? m[1] : null;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>broker-rules vectors</title>
<script type="module">
import init, * as api from '/host-wasm/pkg/web/index.js';
import { replay } from '/host-wasm/js/test/replay.js';
try {
  await init();
  const vectors = await (await fetch('/vectors.json')).json();
  const results = vectors.map((v) => { try { return { name: v.name, failures: replay(api, v).failures }; } catch (e) { return { name: v.name, failures: [String(e && e.stack || e)] }; } });
  const csv = await (await fetch('/month.csv')).arrayBuffer();
  window.__result = { results, total: api.settle('backpack', [{ id: 'a', time: '2026-06-02T10:00:00Z', account: 'c1', broker: 'B1', channel: 'api', product: 'spot', notional: '10000000', fee: '2000' }]).summary.commission,
    csv: api.settleJson({ program: 'backpack', trades: new Uint8Array(csv), format: 'csv' }) };
} catch (e) { window.__result = { error: String(e && e.stack || e) }; }
</script>`;

let server, base, context, userDataDir;

before(async () => {
  const vectors = JSON.stringify(loadVectors());
  server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (code, type, body) => { res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }); res.end(body); };
    if (url.pathname === '/') return send(200, TYPES['.html'], PAGE);
    if (url.pathname === '/vectors.json') return send(200, TYPES['.json'], vectors);
    if (url.pathname === '/month.csv') return send(200, 'text/csv', fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/backpack_month.csv')));
    if (url.pathname === '/readme.html') return send(200, TYPES['.html'], readmeBlock('html', 'wasm') || 'no html block');
    const rel = path.posix.normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, '');
    if (!SERVED.some((p) => rel.startsWith(p)) || rel.includes('..')) return send(404, 'text/plain', 'not found');
    fs.readFile(path.join(root, rel), (err, data) => {
      if (err) return send(404, 'text/plain', 'not found');
      send(200, TYPES[path.extname(rel)] || 'application/octet-stream', data);
    });
  });
  server.requestTimeout = 10000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-rules-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 60000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server) { server.closeAllConnections?.(); await new Promise((r) => server.close(r)); }
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function pageResult(url, probe) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url, { timeout: 30000 });
  const value = await page.waitForFunction(probe, null, { timeout: 60000 }).then((h) => h.jsonValue()).catch((e) => ({ error: `${e.message}; page errors: ${errors.join(' | ')}` }));
  await page.close();
  return value;
}

it('replays every vector in headless Chromium (web build)', { timeout: 180000 }, async () => {
  const r = await pageResult(`${base}/`, () => window.__result);
  assert.equal(r.error, undefined, r.error);
  assert.ok(r.results.length > 0, 'no vectors');
  const failed = r.results.filter((x) => x.failures.length);
  console.log(`# browser: ${r.results.length - failed.length} passed, ${failed.length} failed of ${r.results.length} vectors`);
  assert.deepEqual(failed, []);
  assert.equal(r.total, '700.00'); // BKR 2: 2,000 x 35%
  // a CSV file's bytes, read by the .wasm: the CLI's statement (host-cli's expected JSON)
  assert.equal(r.csv, fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/backpack_month.expected.json'), 'utf8').replace(/\n$/, ''));
});

it('the README browser example runs in Chromium', { timeout: 120000 }, async () => {
  assert.ok(readmeBlock('html', 'wasm'), 'README wasm section has an html block');
  const text = await pageResult(`${base}/readme.html`, () => {
    const t = document.getElementById('out')?.textContent;
    return t ? t : false;
  });
  assert.equal(typeof text, 'string', JSON.stringify(text));
  assert.equal(text, 'total 1690.00; estimate BKR 1 480.00; float: E_DECIMAL');
});
