// The dashboard page: program picker, trade log picker (settled in worker.js), tabs, and the
// views. Every number comes from broker-rules-wasm: `settle` (through the worker's
// Settlement), `estimate`, `program`, `programs`; this file only moves data between them.
import init, * as br from './pkg/index.js';
import { $, h, showError, errorText } from './ui.js';
import { renderStatement, wireExports } from './statement.js';
import { renderBroker } from './broker.js';
import { renderClients } from './clients.js';
import { wireEstimator } from './estimator.js';
import { wireWhatIf } from './whatif.js';
import { wireLive } from './live.js';
import { renderSubBrokers } from './subbrokers.js';
import { group } from './dec.js';

const state = {
  program: 'backpack', // a built-in id, or a program's JSON text
  spec: null,
  registryText: null,
  registry: null,
  file: null, // the last trade log (File or Blob)
  result: null, // {statement, json, clients}
  progress: [], // [ms, bytesRead, recordsRead] of the running settlement (tests read it)
  custom: new Map(), // option value -> program JSON text
};
window.__dashboard = state;

// ---- tabs (WAI-ARIA tabs: arrows, Home/End move between tabs)
const tabs = () => [...document.querySelectorAll('[role=tab]')].filter((t) => !t.hidden);
function selectTab(tab) {
  for (const t of document.querySelectorAll('[role=tab]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  show(tab.getAttribute('aria-controls'));
  tab.focus();
}
for (const t of document.querySelectorAll('[role=tab]')) {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const list = tabs(), i = list.indexOf(t);
    const next = { ArrowRight: list[(i + 1) % list.length], ArrowLeft: list[(i - 1 + list.length) % list.length], Home: list[0], End: list[list.length - 1] }[e.key];
    if (next) { e.preventDefault(); selectTab(next); }
  });
}

// ---- program
function showProgram(info, spec) {
  state.spec = spec;
  $('program-summary').textContent = `${info.name} (${info.id} ${info.version}), ${info.currency}`;
  $('program-hash').textContent = info.sha256;
  $('program-notes').replaceChildren(...(info.notes || []).map((n) => h('li', {}, n)));
}

function selectProgram(value) {
  showError('program-error', null);
  if (state.custom.has(value)) {
    const text = state.custom.get(value);
    const spec = JSON.parse(text);
    state.program = text;
    const st = new br.Settlement(text).finish();
    showProgram({ id: spec.id, name: spec.name, version: spec.version, sha256: st.program.sha256, currency: spec.settlement?.currency, notes: spec.notes }, spec);
  } else {
    state.program = value;
    const info = br.programs().find((p) => p.id === value);
    showProgram(info, br.program(value));
  }
  refresh();
}

/** Checks a program JSON with the engine; adds it to the picker or shows the error. */
function loadProgramText(text, name) {
  try {
    new br.Settlement(text).finish(); // parse, check, hash: errors carry field and position
  } catch (e) {
    showError('program-error', `${name}: ${errorText(e)}`);
    return false;
  }
  const spec = JSON.parse(text);
  const value = `custom:${state.custom.size}:${spec.id}`;
  state.custom.set(value, text);
  $('program-select').append(h('option', { value }, `${spec.name || spec.id} (loaded from ${name})`));
  $('program-select').value = value;
  selectProgram(value);
  return true;
}

// ---- trades (worker)
let worker = null, job = 0;
function formatOf(name) {
  const m = /\.(csv|ndjson|jsonl|json)$/i.exec(name || '');
  return m ? { csv: 'csv', ndjson: 'ndjson', jsonl: 'ndjson', json: 'json' }[m[1].toLowerCase()] : undefined;
}
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

function settle(file, name) {
  state.file = { file, name };
  if (worker) worker.terminate();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const id = ++job;
  state.progress = [];
  const t0 = performance.now();
  $('progress').value = 0;
  $('progress-text').textContent = `Reading ${name}…`;
  $('cancel').disabled = false;
  showError('trades-error', null);
  worker.onmessage = (ev) => {
    const m = ev.data;
    if (m.job !== id) return;
    if (m.type === 'progress') {
      state.progress.push([performance.now() - t0, m.read, m.records]);
      $('progress').value = m.total ? m.read / m.total : 0;
      $('progress-text').textContent = m.phase === 'finishing'
        ? `${name}: read ${mb(m.total)}, finishing the statement…`
        : `${name}: ${mb(m.read)} of ${mb(m.total)}${m.records != null ? `, ${group(String(m.records))} trades` : ''}`;
    } else if (m.type === 'done') {
      $('cancel').disabled = true;
      $('progress').value = 1;
      const statement = JSON.parse(m.statementJson);
      state.result = { statement, json: m.statementJson, clients: m.clients, ms: m.ms };
      $('progress-text').textContent = `${name}: ${group(String(statement.summary.trades))} trades settled in ${(m.ms / 1000).toFixed(2)} s`;
      render();
      document.body.dataset.settled = String(id);
    } else if (m.type === 'error') {
      $('cancel').disabled = true;
      $('progress-text').textContent = `${name}: not settled`;
      showError('trades-error', `${name}: ${errorText(m.error)}`);
      document.body.dataset.settled = `error-${id}`;
    }
  };
  worker.onerror = (e) => { showError('trades-error', `the settlement worker failed: ${e.message}`); $('cancel').disabled = true; };
  worker.postMessage({ job: id, program: state.program, registry: state.registryText, options: {}, file, format: formatOf(name) });
}

$('cancel').onclick = () => {
  if (worker) worker.terminate();
  worker = null;
  job++;
  $('cancel').disabled = true;
  $('progress').value = 0;
  $('progress-text').textContent = 'Cancelled.';
  document.body.dataset.settled = 'cancelled';
};

// Views render when shown: a new statement marks them all stale and draws the visible one.
const views = {
  'view-statement': (r) => renderStatement(r.statement, r.statement.currency),
  'view-broker': (r) => renderBroker(r.statement, state.spec),
  'view-clients': (r) => renderClients(r.statement, r.clients, state.spec),
  'view-subbrokers': (r) => state.registry && renderSubBrokers(r.statement, state.registry),
};
const stale = new Set();
function show(panel) {
  if (!state.result || !stale.has(panel)) return;
  stale.delete(panel);
  views[panel](state.result);
}
function render() {
  for (const v of Object.keys(views)) stale.add(v);
  $('tab-subbrokers').hidden = !state.registry;
  $('export-json').disabled = $('export-csv').disabled = false;
  show(document.querySelector('[role=tab][aria-selected=true]').getAttribute('aria-controls'));
}

function refresh() {
  estimate();
  live.reset();
  if (state.file) settle(state.file.file, state.file.name);
}

async function readFile(file) {
  const text = await file.text();
  const name = file.name || 'file';
  const format = formatOf(name);
  if (format === 'json' && /^\s*\{/.test(text)) {
    let obj = null;
    try { obj = JSON.parse(text); } catch (_) { /* the engine reports it below */ }
    if (obj && obj.tiers) return void loadProgramText(text, name);
    if (obj && (obj.brokers || obj.affiliates)) return void loadRegistry(text, name);
  }
  settle(file, name);
}

function loadRegistry(text, name) {
  try {
    const v = br.validate(`{"registry":${text}}`);
    if (!v.valid) throw v.problems[0];
  } catch (e) {
    showError('trades-error', `${name}: ${errorText(e)}`);
    return;
  }
  state.registryText = text;
  state.registry = JSON.parse(text);
  $('tab-subbrokers').hidden = false;
  if (state.file) settle(state.file.file, state.file.name);
}

// ---- start
// Offline once loaded: the service worker caches every file (sw.js); served over http(s) only.
if ('serviceWorker' in navigator && location.protocol.startsWith('http')) {
  navigator.serviceWorker.register(new URL('./sw.js', import.meta.url)).catch((e) => console.warn(`offline cache unavailable: ${e.message}`));
}
await init();
$('engine').textContent = `Engine ${br.engineVersion()}.`;
for (const p of br.programs()) $('program-select').append(h('option', { value: p.id }, `${p.name} (${p.id})`));
$('program-select').onchange = (e) => selectProgram(e.target.value);
$('program-file').onchange = async (e) => { const f = e.target.files[0]; if (f) loadProgramText(await f.text(), f.name); e.target.value = ''; };
$('trades-file').onchange = (e) => { const f = e.target.files[0]; if (f) settle(f, f.name); e.target.value = ''; };
$('registry-file').onchange = async (e) => { const f = e.target.files[0]; if (f) loadRegistry(await f.text(), f.name); e.target.value = ''; };
$('load-sample').onclick = async () => {
  const res = await fetch(new URL('./sample/trades.csv', import.meta.url));
  settle(await res.blob(), 'sample/trades.csv');
};
const drop = $('dropzone');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  for (const f of e.dataTransfer.files) readFile(f);
});
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('trades-file').click(); } });
wireExports(() => state.result);
const programArg = () => state.program;
const estimate = wireEstimator(br, programArg);
wireWhatIf(programArg, () => state.file && { ...state.file, format: formatOf(state.file.name), registry: state.registryText });
const live = wireLive(br, programArg, () => state.registryText);
selectProgram('backpack');
document.body.dataset.ready = '1';
