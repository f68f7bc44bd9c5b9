// The dashboard in headless Chromium (playwright-core driving Debian's chromium), served by
// dashboard/serve.mjs exactly as `bash dashboard/serve.sh` serves it. Every expected number
// comes from the broker-rules CLI (target/release/broker-rules) or the estimate function on
// the same input; the test reads what the page shows.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { start } from '../serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(import.meta.url);
const tools = process.env.BROKER_RULES_TOOLS || path.join(os.homedir(), '.cache/broker-rules/tools');
const need = (name) => require(require.resolve(name, { paths: [path.join(tools, 'node_modules'), root] }));
const { chromium } = need('playwright-core');
const { WebSocketServer } = need('ws');
const wasm = require(path.join(root, 'host-wasm/pkg'));

const CLI = path.join(root, 'target/release/broker-rules');
const OUT = path.join(root, 'target/dashboard-test');
const SAMPLE = path.join(root, 'dashboard/sample/trades.csv');
const cli = (...args) => execFileSync(CLI, args, { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const group = (s) => { const [i, f] = s.split('.'); return i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (f === undefined ? '' : `.${f}`); };

let server, base, context, userDataDir;
const errors = [];

before(async () => {
  fs.mkdirSync(path.join(OUT, 'screens'), { recursive: true });
  server = await start({ port: 0 });
  base = `http://127.0.0.1:${server.address().port}`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-rules-dashboard-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 60000,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server) { server.closeAllConnections?.(); await new Promise((r) => server.close(r)); }
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function open() {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(`${base}/`, { timeout: 30000 });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  return page;
}
const settled = (page, timeout = 120000) => page.waitForFunction(() => /^\d+$/.test(document.body.dataset.settled || ''), null, { timeout });
const text = (page, sel) => page.locator(sel).innerText();

/** A screenshot of the current view, checked non-blank: many distinct colours, not one. */
async function shot(page, name, { top = false } = {}) {
  const file = path.join(OUT, 'screens', `${name}.png`);
  await page.evaluate((t) => (t ? window.scrollTo(0, 0) : document.getElementById('tabs').scrollIntoView()), top);
  const png = await page.screenshot({ path: file });
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = new OffscreenCanvas(img.width, img.height);
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, img.width, img.height).data;
    const seen = new Set();
    let ink = 0;
    for (let i = 0; i < d.length; i += 16) { seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); if (d[i] + d[i + 1] + d[i + 2] < 600) ink++; }
    return { distinct: seen.size, ink: ink / (d.length / 16) };
  }, png.toString('base64'));
  assert.ok(colours.distinct > 20 && colours.ink > 0.01, `${name}.png looks blank: ${JSON.stringify(colours)}`);
}

it('the bundled sample settles in the page to the CLI statement; exports equal the CLI; every view renders', { timeout: 180000 }, async () => {
  const want = cli('settle', '--program', 'backpack', '--trades', SAMPLE, '--format', 'json').replace(/\n$/, '');
  const st = JSON.parse(want);
  const page = await open();
  await page.click('#load-sample');
  await settled(page);
  assert.equal(await page.evaluate(() => window.__dashboard.result.json), want);
  assert.equal(await text(page, '#total-commission'), `${group(st.summary.commission)} USD`);
  assert.equal(await text(page, '#total-trades'), group(String(st.summary.trades)));
  const rows = await page.$$eval('#broker-totals tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => [r[0], r[4]]), st.brokers.map((b) => [b.broker, group(b.commission)]));
  const periodRows = await page.$$eval('#periods tbody tr', (trs) => trs.length);
  assert.equal(periodRows, st.brokers.reduce((a, b) => a + b.periods.length, 0));
  // rejected trades with their line and error, as the CLI lists them
  assert.ok(st.rejected.length >= 2);
  const rejected = await page.$$eval('#rejected tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rejected, st.rejected.map((r) => [String(r.line), r.id, r.code, r.field ?? '', r.message]));
  // sorting by commission (exact decimal order) and filtering by broker
  const ci = await page.$$eval('#periods thead th', (ths) => ths.findIndex((th) => th.textContent.startsWith('Commission')));
  assert.ok(ci > 0);
  await page.click(`#periods th:nth-child(${ci + 1}) button`);
  await page.click(`#periods th:nth-child(${ci + 1}) button`);
  const top = await page.$eval('#periods tbody tr', (tr, i) => tr.cells[i].textContent, ci);
  const max = st.brokers.flatMap((b) => b.periods.map((p) => p.commission)).sort((a, b) => Number(b) - Number(a))[0];
  assert.equal(top, group(max));
  await page.selectOption('#broker-filter', st.brokers[1].broker);
  assert.deepEqual(await page.$$eval('#periods tbody tr', (trs) => [...new Set(trs.map((tr) => tr.cells[0].textContent))]), [st.brokers[1].broker]);
  await page.selectOption('#broker-filter', '');
  // exports: the canonical JSON and the CLI's CSV
  const [dj] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  assert.equal(fs.readFileSync(await dj.path(), 'utf8'), want);
  const [dc] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  assert.equal(fs.readFileSync(await dc.path(), 'utf8'), cli('settle', '--program', 'backpack', '--trades', SAMPLE, '--format', 'csv'));
  await shot(page, 'statement');
  // per broker: next tier from the latest period's basis, charts
  await page.click('#tab-broker');
  await page.selectOption('#broker-select', 'CHARLIE');
  const charlie = st.brokers.find((b) => b.broker === 'CHARLIE');
  const last = charlie.periods.at(-1);
  assert.match(await text(page, '#broker-next h3'), new RegExp(`tier ${last.tier}`));
  assert.ok(await page.locator('#broker-charts svg').count() >= 2);
  await shot(page, 'broker');
  // clients: heatmap cells, top clients (exact sums of the engine's lines)
  await page.click('#tab-clients');
  assert.ok(await page.locator('#clients-heatmap rect.heat').count() > 50);
  const explain = JSON.parse(cli('explain', '--program', 'backpack', '--trades', SAMPLE, '--format', 'json'));
  assert.ok(explain.lines.length > 0);
  const first = await page.$eval('#top-clients tbody tr', (tr) => [...tr.cells].map((c) => c.textContent));
  const mine = explain.lines.filter((l) => l.broker && (l.account ?? null) === first[0]);
  assert.equal(mine.length, Number(first[2]), 'trades of the top client');
  await shot(page, 'clients');
  await page.click('#tab-estimator');
  await page.waitForSelector('#est-commission');
  await shot(page, 'estimator');
  await page.click('#tab-live');
  await shot(page, 'live');
  // keyboard: arrows move between tabs
  await page.focus('#tab-live');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-estimator');
  await page.close();
  assert.deepEqual(errors, []);
});

it('the estimator shows what estimate returns, as you type', { timeout: 60000 }, async () => {
  const page = await open();
  await page.click('#tab-estimator');
  for (const [program, volume, feeRate, mix, clients] of [
    ['backpack', '12000000', '0.0005', '', '0'],
    ['backpack', '4999999.99', '0.0004', 'spot/api=0.5, futures/api=0.5', '0'],
    ['okx', '2000000', '0.0008', '', '12'],
  ]) {
    await page.selectOption('#program-select', program);
    await page.fill('#est-clients', clients);
    await page.fill('#est-mix', mix);
    await page.fill('#est-fee-rate', feeRate);
    await page.fill('#est-volume', volume);
    const scenario = { volume, fee_rate: feeRate, mix: mix ? mix.split(',').map((p) => { const [pc, share] = p.trim().split('='); const [product, channel] = pc.split('/'); return { product, channel, share }; }) : [{ product: 'spot', channel: 'api', share: '1' }] };
    if (clients !== '0') scenario.active_clients = Number(clients);
    const e = wasm.estimate(program, scenario);
    assert.equal(await text(page, '#est-tier'), e.tier ?? 'none (below the lowest level)');
    assert.equal(await text(page, '#est-commission'), `${group(e.commission)} ${e.currency}`);
    assert.equal(await text(page, '#est-next'), e.next ? `${e.next.tier} at ${group(e.next.volume)} volume: ${group(e.next.volume_needed)} more, commission there ${group(e.next.commission)} ${e.currency}` : 'at the top');
    const above = e.tiers_above.map((t) => `${t.tier} (${t.rate}), commission there ${group(t.commission)} ${e.currency}: `
      + t.ways.map((w) => `${w.ladder} ${w.met ? 'met' : Object.entries(w.needs).filter(([, n]) => n.more !== '0').map(([m, n]) => `${group(n.more)} more ${m}`).join(' and ')}`).join('; or ')).join('\n');
    assert.equal(await text(page, '#est-above'), above || 'none (at the top)');
  }
  // a float-like typo is the engine's error, shown next to the form
  await page.fill('#est-volume', '12e6');
  assert.match(await text(page, '#est-error'), /^E_DECIMAL: scenario: "12e6" is not a decimal: scientific notation is not accepted; .*\(field scenario\.volume\)$/);
  await page.close();
  assert.deepEqual(errors, []);
});

it('what if volume grows 20% on the loaded trades: the CLI\'s estimate --actuals, row by row', { timeout: 120000 }, async () => {
  const want = JSON.parse(cli('estimate', '--program', 'backpack', '--actuals', SAMPLE, '--growth', '20%', '--format', 'json'));
  const page = await open();
  await page.click('#tab-estimator');
  await page.click('#whatif-run');
  assert.equal(await text(page, '#whatif-error'), 'Load a trade log first (Statement tab): the what-if settles it twice.');
  await page.click('#tab-statement');
  await page.click('#load-sample');
  await settled(page);
  await page.click('#tab-estimator');
  await page.fill('#whatif-growth', '20');
  await page.click('#whatif-run');
  await page.waitForFunction(() => document.getElementById('whatif-total').textContent !== '');
  assert.equal(await text(page, '#whatif-total'), `actual ${group(want.actual)} USD, what-if ${group(want.what_if)} USD, difference ${group(want.difference)} USD`);
  const rows = await page.$$eval('#whatif-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const tier = (t) => t ?? '-';
  assert.deepEqual(rows, want.brokers.flatMap((b) => b.periods.map((p) => [b.broker, p.period_start,
    tier(p.actual.tier) === tier(p.what_if.tier) ? tier(p.actual.tier) : `${tier(p.actual.tier)} → ${tier(p.what_if.tier)}`,
    group(p.actual.commission), group(p.what_if.commission), group(p.difference)])));
  assert.ok(rows.some((r) => r[2].includes('→')), 'the sample has a tier the growth lifts');
  // it ran in its own worker, which is gone when the result is shown: Cancel is off again
  assert.equal(await page.$eval('#whatif-cancel', (b) => b.disabled), true);
  assert.equal(await page.$eval('#whatif-run', (b) => b.disabled), false);
  await page.close();
  assert.deepEqual(errors, []);
});

it('a 200k-trade log settles in the worker with progress while the page answers; equals the CLI', { timeout: 600000 }, async () => {
  const file = path.join(OUT, 'trades-200k.csv');
  if (!fs.existsSync(file)) cli('sample', '--count', '200000', '--out', file);
  const want = cli('settle', '--program', 'okx', '--trades', file, '--format', 'json').replace(/\n$/, '');
  const page = await open();
  await page.selectOption('#program-select', 'okx');
  await page.setInputFiles('#trades-file', file);
  // while it settles, the page keeps answering: time round trips of a tiny evaluation
  const lags = [];
  let done = false;
  const finished = settled(page, 540000).then(() => { done = true; });
  while (!done) {
    const t = Date.now();
    const phase = await page.evaluate(() => document.getElementById('progress-text').textContent);
    lags.push({ ms: Date.now() - t, reading: !/settled/.test(phase) });
    if (process.env.DASHBOARD_DEBUG) console.log(Date.now() - t, phase);
    await new Promise((r) => setTimeout(r, 50));
  }
  await finished;
  const progress = await page.evaluate(() => window.__dashboard.progress);
  const reads = progress.filter((p) => p[2] != null && p[1] > 0);
  assert.ok(reads.length >= 3, `progress events while reading: ${JSON.stringify(progress)}`);
  // while the worker reads and settles, the page answers within a frame or two; taking the
  // finished statement (structured clone, JSON.parse, the statement view) is one short pause
  const reading = lags.filter((l) => l.reading).map((l) => l.ms);
  const worst = Math.max(...lags.map((l) => l.ms));
  // (a blocked main thread would answer once, after the whole settlement: seconds)
  assert.ok(reading.length >= 5 && Math.max(...reading) < 500, `page round trips while settling (ms): ${JSON.stringify(reading)}`);
  assert.ok(worst < 2000, `page round trips (ms): max ${worst}`);
  assert.equal(await page.evaluate(() => window.__dashboard.result.json), want);
  const ms = await page.evaluate(() => window.__dashboard.result.ms);
  console.log(`# dashboard: 200k trades (okx, with per-trade lines) settled in the worker in ${(ms / 1000).toFixed(2)} s; ${reads.length} progress events; page round trips while settling max ${Math.max(...reading)} ms over ${reading.length}, ${worst} ms when the statement arrives`);
  // cancel: a new settlement stops at once and leaves the page usable
  await page.setInputFiles('#trades-file', file);
  await page.waitForFunction(() => !document.getElementById('cancel').disabled);
  await page.click('#cancel');
  assert.equal(await text(page, '#progress-text'), 'Cancelled.');
  await page.close();
  assert.deepEqual(errors, []);
});

it('the live view accrues NDJSON trades from a WebSocket to the CLI totals', { timeout: 120000 }, async () => {
  // 2,000 trades as NDJSON from the CLI's sample writer; the CLI settles the same file
  const ndjson = path.join(OUT, 'sample.ndjson');
  cli('sample', '--count', '2000', '--out', ndjson);
  const want = JSON.parse(cli('settle', '--program', 'backpack', '--trades', ndjson, '--format', 'json'));
  const lines = fs.readFileSync(ndjson, 'utf8').split('\n').filter(Boolean);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', async (sock) => {
    for (let i = 0; i < lines.length; i += 250) {
      sock.send(lines.slice(i, i + 250).join('\n') + '\n');
      await new Promise((r) => setTimeout(r, 20));
    }
    sock.close();
  });
  const page = await open();
  await page.click('#tab-live');
  await page.fill('#live-url', `ws://127.0.0.1:${wss.address().port}/`);
  await page.click('#live-connect');
  await page.waitForFunction(() => /Closed by the server/.test(document.getElementById('live-status').textContent), null, { timeout: 60000 });
  assert.equal(await text(page, '#live-total'), `${group(want.summary.commission)} USD`);
  assert.equal(await text(page, '#live-trades'), group(String(want.summary.trades)));
  await shot(page, 'live-connected');
  await page.close();
  await new Promise((r) => wss.close(r));
  assert.deepEqual(errors, []);
});

it('a bad program shows its error with field and position; a registry shows the sub-brokers view', { timeout: 60000 }, async () => {
  const page = await open();
  await page.setInputFiles('#program-file', path.join(root, 'host-cli/tests/fixtures/bad_program.json'));
  await page.waitForSelector('#program-error:not([hidden])', { timeout: 10000 });
  const shown = await text(page, '#program-error');
  const err = (() => { try { wasm.settle(JSON.parse(fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/bad_program.json'), 'utf8')), []); } catch (e) { return e; } })();
  assert.ok(err && err.code, 'the engine rejects the fixture');
  assert.equal(shown, `bad_program.json: ${err.code}: ${err.detail} (field ${err.location.field}${err.location.position != null ? `; position ${err.location.position}` : ''})`);
  assert.match(shown, /tier_rat/);
  await shot(page, 'program-error', { top: true });
  // a registry (okx: parents take a share of their sub-brokers' commission)
  const registry = path.join(root, 'dashboard/sample/registry.json');
  const want = JSON.parse(cli('settle', '--program', 'okx', '--trades', SAMPLE, '--brokers', registry, '--format', 'json'));
  await page.selectOption('#program-select', 'okx');
  await page.setInputFiles('#registry-file', registry);
  await page.waitForSelector('#tab-subbrokers:not([hidden])', { timeout: 10000 });
  await page.click('#load-sample');
  await settled(page);
  assert.equal(await page.evaluate(() => window.__dashboard.result.json), JSON.stringify(want));
  await page.click('#tab-subbrokers');
  const rows = await page.$$eval('#subbrokers tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const { sum } = await import('../dec.js');
  const expect = JSON.parse(fs.readFileSync(registry, 'utf8')).brokers.filter((b) => b.parent).map((b) => {
    const s = want.brokers.find((x) => x.broker === b.code);
    return [b.parent, b.code, b.parent_share, group(s.commission), group(sum(s.periods.map((p) => p.to_parent)))];
  });
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[2], r[4], r[5]]), expect);
  assert.ok(want.brokers.find((b) => b.broker === 'ALPHA').periods.some((p) => p.from_sub_brokers !== '0'), 'the parent receives a share');
  await shot(page, 'subbrokers');
  await page.close();
  assert.deepEqual(errors, []);
});

it('works offline once loaded: the service worker serves the page, the worker and the .wasm', { timeout: 120000 }, async () => {
  const want = JSON.parse(cli('settle', '--program', 'backpack', '--trades', SAMPLE, '--format', 'json'));
  const page = await open();
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.waitForFunction(async () => {
    const files = ['pkg/broker_rules_wasm_bg.wasm', 'worker.js', 'sample/trades.csv', 'index.html'];
    const hits = await Promise.all(files.map((f) => caches.match(new URL(f, location.href).href)));
    return hits.every(Boolean);
  }, null, { timeout: 30000 });
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
    await page.click('#load-sample');
    await settled(page);
    assert.equal(await text(page, '#total-commission'), `${group(want.summary.commission)} USD`);
  } finally {
    await context.setOffline(false);
  }
  await page.close();
  assert.deepEqual(errors, []);
});
