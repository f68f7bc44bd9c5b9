// The settlement worker: reads the picked trade log into memory, feeds it to broker-rules-wasm
// (Settlement.push with the log's bytes: the core's streaming reader, progress after every
// block) and posts the statement back. The page stays responsive; Cancel terminates the
// worker. Per-client aggregates for the clients view come from the engine's per-trade lines
// (account, day, volume, exact commission), summed exactly here so the page gets small data.
import init, { Settlement } from './pkg/index.js';
import { parse, add, str, ZERO } from './dec.js';

const ready = init();

self.onmessage = async (ev) => {
  const { job, program, registry, options, file, format } = ev.data;
  const post = (msg) => self.postMessage({ job, ...msg });
  try {
    await ready;
    const t0 = performance.now();
    const bytes = new Uint8Array(file instanceof Blob ? await file.arrayBuffer() : file);
    post({ type: 'progress', read: 0, total: bytes.length, records: 0 });
    const s = new Settlement(program, { ...options, lines: true }, registry || null);
    s.push(bytes, format ? { format } : null, (read, records) => post({ type: 'progress', read, total: bytes.length, records }));
    post({ type: 'progress', read: bytes.length, total: bytes.length, records: null, phase: 'finishing' });
    const statement = s.finish();
    const clients = aggregate(statement.lines || []);
    // The statement as `settle` gives it without lines (the page exports this text).
    statement.lines = null;
    post({ type: 'done', statementJson: JSON.stringify(statement), clients, ms: performance.now() - t0, bytes: bytes.length });
  } catch (e) {
    post({ type: 'error', error: e && e.code ? { code: e.code, message: e.detail, location: e.location } : { code: 'E_DASHBOARD', message: String(e && e.message || e) } });
  }
};

/** Per (broker, account): volume by UTC day, exact commission, trades; accounts per month. */
function aggregate(lines) {
  const byClient = new Map();
  for (const l of lines) {
    if (!l.broker) continue;
    const key = `${l.broker}\u0000${l.account}`;
    let c = byClient.get(key);
    if (!c) byClient.set(key, (c = { broker: l.broker, account: l.account, days: new Map(), commission: ZERO, volume: ZERO, trades: 0, months: new Set() }));
    const d = l.time.slice(0, 10);
    const v = parse(l.volume);
    c.days.set(d, add(c.days.get(d) || ZERO, v));
    c.volume = add(c.volume, v);
    c.commission = add(c.commission, parse(l.commission));
    c.trades += 1;
    c.months.add(l.time.slice(0, 7));
  }
  return [...byClient.values()].map((c) => ({
    broker: c.broker, account: c.account, volume: str(c.volume), commission: str(c.commission), trades: c.trades,
    days: [...c.days].map(([d, v]) => [d, str(v)]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    months: [...c.months].sort(),
  }));
}
