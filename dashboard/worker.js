// The settlement worker: reads the picked trade log into memory, feeds it to broker-rules-wasm
// (Settlement.push with the log's bytes: the core's streaming reader, progress after every
// block) and posts the statement back. The page stays responsive; Cancel terminates the
// worker. Per-client aggregates for the clients view come from the engine's per-trade lines
// (account, day, volume, exact commission), summed exactly here so the page gets small data.
// A job of kind `whatif` (whatif.js) runs `estimate` from actuals on the log instead: two
// settlements of the whole log, posted back as the what-if object.
import init, { Settlement, estimate } from './pkg/index.js';
import { parse, add, str, ZERO } from './dec.js';

const ready = init();
/** Largest trade log (bytes) settled with per-trade lines for the clients view. */
const LINES_LIMIT = 64 << 20;

self.onmessage = async (ev) => {
  const { job, kind, program, registry, options, file, format } = ev.data;
  const post = (msg) => self.postMessage({ job, ...msg });
  try {
    await ready;
    const t0 = performance.now();
    const bytes = new Uint8Array(file instanceof Blob ? await file.arrayBuffer() : file);
    if (kind === 'whatif') {
      // `estimate` from actuals: the log settled as given and grown (whatif.js shows it).
      const actuals = { trades: bytes };
      if (format) actuals.format = format;
      if (registry) actuals.registry = JSON.parse(registry);
      post({ type: 'whatif', whatIf: estimate(program, { actuals, growth: ev.data.growth }), ms: performance.now() - t0 });
      return;
    }
    post({ type: 'progress', read: 0, total: bytes.length, records: 0 });
    // Per-trade lines feed the clients view; above LINES_LIMIT the statement is settled
    // without them (the lines of millions of trades would not fit the page's memory).
    const lines = bytes.length <= LINES_LIMIT;
    const s = new Settlement(program, { ...options, lines }, registry || null);
    s.push(bytes, format ? { format } : null, (read, records) => post({ type: 'progress', read, total: bytes.length, records }));
    post({ type: 'progress', read: bytes.length, total: bytes.length, records: null, phase: 'finishing' });
    const statement = s.finish();
    const clients = lines ? aggregate(statement.lines || []) : null;
    // The statement as `settle` gives it without lines (the page exports this text).
    statement.lines = null;
    post({ type: 'done', statementJson: JSON.stringify(statement), clients, ms: performance.now() - t0, bytes: bytes.length });
  } catch (e) {
    post({ type: 'error', error: e && e.code ? { code: e.code, message: e.detail, location: e.location } : { code: 'E_DASHBOARD', message: String(e && e.message || e) } });
  }
};

/**
 * Per client account, for each broker and over all brokers (`broker: ''`): attributed volume
 * by UTC day, exact commission, trades, months with a trade. Sums are exact (dec.js).
 */
function aggregate(lines) {
  const groups = new Map();
  const into = (broker, l, v, c) => {
    const key = `${broker}\u0000${l.account}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { broker, account: l.account, days: new Map(), commission: ZERO, volume: ZERO, trades: 0, months: new Set(), brokers: new Set() }));
    g.brokers.add(l.broker);
    const d = l.time.slice(0, 10);
    g.days.set(d, add(g.days.get(d) || ZERO, v));
    g.volume = add(g.volume, v);
    g.commission = add(g.commission, c);
    g.trades += 1;
    g.months.add(l.time.slice(0, 7));
  };
  for (const l of lines) {
    if (!l.broker) continue;
    const v = parse(l.volume), c = parse(l.commission);
    into(l.broker, l, v, c);
    into('', l, v, c);
  }
  return [...groups.values()].map((g) => ({
    broker: g.broker, account: g.account, volume: str(g.volume), commission: str(g.commission), trades: g.trades,
    brokers: [...g.brokers].sort(),
    days: [...g.days].map(([d, v]) => [d, str(v)]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    months: [...g.months].sort(),
  }));
}
