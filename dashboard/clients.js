// The clients view: volume per client account and day (heatmap), top clients by commission,
// active clients per month against the ladders' client thresholds. Aggregates come from the
// engine's per-trade lines (worker.js); the client metrics the tiers use come from the
// statement's periods.
import { $, h, table, options } from './ui.js';
import { heatmap, lineChart } from './charts.js';
import { parse, cmp, group, approx } from './dec.js';

const TOP = 30;

export function renderClients(st, clients, spec) {
  const sel = $('clients-broker');
  options(sel, st.brokers.map((b) => [b.broker, b.broker]));
  if (!clients) {
    $('clients-heatmap').replaceChildren(h('p', {}, 'This trade log is larger than 64 MB: it was settled without per-trade lines, which the clients view is built from.'));
    $('top-clients').replaceChildren();
    $('clients-active').replaceChildren();
    return;
  }
  const draw = () => {
    const broker = sel.value;
    // the worker's groups: one per (broker, account), and one per account over all brokers ('')
    const accounts = clients.filter((c) => c.broker === broker).map((c) => ({ ...c, v: parse(c.volume), c: parse(c.commission), months: new Set(c.months) }));
    const byVolume = accounts.slice().sort((x, y) => cmp(y.v, x.v) || (x.account < y.account ? -1 : 1)).slice(0, TOP);
    const days = [...new Set(accounts.flatMap((a) => a.days.map((d) => d[0])))].sort();
    const cells = new Map();
    for (const a of byVolume) for (const [d, v] of a.days) cells.set(`${a.account}|${d}`, { value: approx(v), text: `${group(v)} volume` });
    $('clients-heatmap').replaceChildren(
      h('p', {}, `${accounts.length} client accounts; the ${byVolume.length} largest by volume below.`),
      heatmap({ title: 'Attributed volume per client account and UTC day', rows: byVolume.map((a) => a.account), cols: days, cells }),
    );
    const top = accounts.slice().sort((x, y) => cmp(y.c, x.c) || (x.account < y.account ? -1 : 1)).slice(0, 20);
    table($('top-clients'), [
      { key: 'account', label: 'Client account', get: (a) => a.account },
      { key: 'brokers', label: 'Broker', get: (a) => a.brokers.join(', ') },
      { key: 'trades', label: 'Trades', num: true, get: (a) => a.trades },
      { key: 'volume', label: 'Volume', num: true, get: (a) => a.volume, render: (a) => group(a.volume) },
      { key: 'commission', label: `Commission (${st.currency}, exact)`, num: true, get: (a) => a.commission, render: (a) => group(a.commission) },
    ], top);

    // Active clients per month: accounts with an attributed trade, and the tier basis.
    const months = [...new Set(accounts.flatMap((a) => [...a.months]))].sort();
    const perMonth = months.map((m) => ({ x: Date.parse(`${m}-01T00:00:00Z`), y: accounts.filter((a) => a.months.has(m)).length }));
    const series = [{ name: 'accounts with attributed trades', points: perMonth.map((p) => ({ ...p, label: String(p.y) })) }];
    const clientMetrics = Object.entries(spec?.tiers?.metrics || {}).filter(([, m]) => m.kind === 'active_clients').map(([n]) => n);
    const b = st.brokers.find((x) => x.broker === broker);
    const thresholds = [];
    for (const m of clientMetrics) {
      if (b) {
        const pts = new Map();
        for (const p of b.periods) if (p.metrics?.[m] !== undefined) pts.set(p.start.slice(0, 7), { x: Date.parse(`${p.start.slice(0, 7)}-01T00:00:00Z`), y: approx(p.metrics[m]), label: `${p.metrics[m]} (tier basis)` });
        series.push({ name: `${m} (tier basis)`, points: [...pts.values()] });
      }
      for (const ladder of spec.tiers.ladders) for (const s of ladder.steps) if (s.min[m] !== undefined) thresholds.push({ y: approx(s.min[m]), label: `${ladder.name} ${s.level}` });
    }
    $('clients-active').replaceChildren(
      h('h3', {}, 'Active clients per month'),
      lineChart({ title: clientMetrics.length ? `Active clients per month vs the ladders' client thresholds${b ? '' : ' (pick a broker for its tier basis)'}` : 'Active clients per month (this program has no client thresholds)', series, thresholds }),
      h('table', { id: 'active-months', 'aria-label': 'Active clients per month' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Month'), h('th', { class: 'num' }, 'Accounts with attributed trades'))),
        h('tbody', {}, months.map((m, i) => h('tr', {}, h('td', {}, m), h('td', { class: 'num' }, String(perMonth[i].y)))))),
    );
  };
  sel.onchange = draw;
  draw();
}
