// The statement view: totals, one row per broker and period (sortable, filtered by broker),
// rejected trades, and the exports (canonical JSON as the engine wrote it; CSV with the
// columns of `broker-rules settle --format csv`).
import { $, h, table, download, options } from './ui.js';
import * as dec from './dec.js';
import { group } from './dec.js';

const excludedText = (ex) => Object.entries(ex || {}).map(([r, x]) => `${r}: ${x.trades} trade${x.trades === 1 ? '' : 's'}, fees ${group(x.fees)}${x.volume !== undefined ? `, volume ${group(x.volume)}` : ''}`).join('; ');
const flowText = (f) => (f ? `${group(f.volume)} vol, ${group(f.fees)} fees, ${f.trades} trades` : '');
const kv = (o) => Object.entries(o || {}).map(([k, v]) => `${k} ${group(String(v))}`).join('; ');

export function renderStatement(st, currency) {
  const filter = $('broker-filter');
  options(filter, st.brokers.map((b) => [b.broker, b.broker]));
  const draw = () => {
    const brokers = st.brokers.filter((b) => !filter.value || b.broker === filter.value);
    const s = st.summary;
    const cards = [
      ['Total commission', `${group(s.commission)} ${currency}`, 'total-commission'],
      ['Brokers', String(st.brokers.length)],
      ['Trades accepted', group(String(s.trades)), 'total-trades'],
      ['Identical duplicates', String(s.duplicates)],
      ['Rejected', String(s.rejected), 'total-rejected'],
      ['Unknown fields ignored', String(s.unknown_fields)],
    ];
    const unatt = Object.entries(s.unattributed || {});
    $('totals').replaceChildren(
      h('div', { class: 'cards' }, cards.map(([k, v, id]) => h('div', { class: 'card' }, h('div', { class: 'muted' }, k), h('div', { class: 'v', id }, v)))),
      unatt.length ? h('p', {}, `Unattributed: ${excludedText(s.unattributed)}`) : '',
      (s.incomplete_history || []).length
        ? h('p', { class: 'warn', id: 'history-warning' }, `History incomplete (*): ${s.incomplete_history.map((x) => `${x.broker} ${x.periods} period${x.periods === 1 ? '' : 's'} (${x.first.slice(0, 10)} .. ${x.last.slice(0, 10)})`).join('; ')}: their tier windows reach before the earliest trade loaded (${s.earliest_trade}); the tier may be too low. Load the earlier trades.`)
        : '',
      h('h3', {}, 'Per broker'),
      h('div', { class: 'scroll' }, (() => {
        const t = h('table', { id: 'broker-totals', 'aria-label': 'Totals per broker' });
        table(t, [
          { key: 'broker', label: 'Broker', get: (b) => b.broker },
          { key: 'status', label: 'Status', get: (b) => b.status + (b.reason ? ` (${b.reason})` : '') },
          { key: 'periods', label: 'Periods', num: true, get: (b) => b.periods.length },
          { key: 'trades', label: 'Trades', num: true, get: (b) => b.periods.reduce((a, p) => a + p.trades, 0) },
          { key: 'commission', label: `Commission (${currency})`, num: true, get: (b) => b.commission, render: (b) => group(b.commission) },
          { key: 'withheld', label: 'Withheld', num: true, get: (b) => b.withheld ?? '0', render: (b) => group(b.withheld ?? '0') },
        ], brokers, { total: { broker: 'Total', commission: filter.value ? '' : group(s.commission) } });
        return t;
      })()),
    );
    const rows = brokers.flatMap((b) => b.periods.map((p) => ({ b, p })));
    const has = (k) => rows.some((r) => r.p[k] !== undefined);
    const cols = [
      { key: 'broker', label: 'Broker', get: (r) => r.b.broker },
      { key: 'start', label: 'Period start', get: (r) => r.p.start },
      { key: 'end', label: 'End', get: (r) => r.p.end },
      { key: 'credit_at', label: 'Credit time', get: (r) => r.p.credit_at },
      { key: 'tier', label: 'Tier', get: (r) => r.p.tier ?? '—' },
      { key: 'metrics', label: 'Tier basis', get: (r) => kv(r.p.metrics) + (r.p.history === 'incomplete' ? ' *' : '') },
      { key: 'window', label: 'Tier window', get: (r) => (r.p.metrics_window ? `${r.p.metrics_window.start.slice(0, 10)} .. ${r.p.metrics_window.end.slice(0, 10)}` : '') },
      { key: 'rate', label: 'Rate', num: true, get: (r) => r.p.rate, render: (r) => (Object.keys(r.p.rates || {}).length > 1 ? kv(r.p.rates) : r.p.rate) },
      { key: 'volume', label: 'Volume', num: true, get: (r) => r.p.volume, render: (r) => group(r.p.volume) },
      { key: 'fees', label: 'Fees', num: true, get: (r) => r.p.fees, render: (r) => group(r.p.fees) },
      { key: 'commission', label: `Commission (${currency})`, num: true, get: (r) => r.p.commission, render: (r) => group(r.p.commission) },
      { key: 'trades', label: 'Trades', num: true, get: (r) => r.p.trades },
      { key: 'excluded', label: 'Excluded by reason', get: (r) => excludedText(r.p.excluded) },
    ];
    if (has('attributed')) cols.push({ key: 'attributed', label: 'Attributed', get: (r) => flowText(r.p.attributed) });
    if (has('eligible')) cols.push({ key: 'eligible', label: 'Eligible', get: (r) => flowText(r.p.eligible) });
    if (rows.some((r) => r.p.withheld && dec.cmp(r.p.withheld, '0') !== 0)) cols.push({ key: 'withheld', label: 'Withheld', num: true, get: (r) => r.p.withheld, render: (r) => group(r.p.withheld) });
    if (rows.some((r) => r.p.kickback !== undefined)) cols.push({ key: 'kickback', label: `Client kickback (${currency})`, num: true, get: (r) => r.p.kickback, render: (r) => group(r.p.kickback) });
    if (rows.some((r) => r.p.to_parent && r.p.to_parent !== '0')) cols.push({ key: 'to_parent', label: 'To parent', num: true, get: (r) => r.p.to_parent });
    if (rows.some((r) => r.p.from_sub_brokers && r.p.from_sub_brokers !== '0')) cols.push({ key: 'from_sub_brokers', label: 'From sub-brokers', num: true, get: (r) => r.p.from_sub_brokers });
    table($('periods'), cols, rows);
    table($('rejected'), [
      { key: 'line', label: 'Line', num: true, get: (r) => r.line ?? '' },
      { key: 'id', label: 'Trade id', get: (r) => r.id ?? '' },
      { key: 'code', label: 'Code', get: (r) => r.code },
      { key: 'field', label: 'Field', get: (r) => r.field ?? '' },
      { key: 'message', label: 'Error', get: (r) => r.message },
    ], st.rejected);
  };
  filter.onchange = draw;
  $('statement-empty').hidden = true;
  draw();
}

const cell = (s) => (/[,"\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The CSV of `broker-rules settle --format csv`: one row per broker and period. */
export function statementCsv(st) {
  const rows = [['broker', 'status', 'reason', 'period_start', 'period_end', 'credit_at', 'tier', 'rate', 'volume', 'fees', 'commission', 'trades', 'excluded_trades', 'currency',
    'eligible_volume', 'eligible_fees', 'eligible_trades', 'excluded_volume', 'excluded_fees', 'withheld', 'metrics_window_start', 'metrics_window_end', 'history', 'tier_basis']];
  for (const b of st.brokers) {
    for (const p of b.periods) {
      rows.push([b.broker, b.status, b.reason ?? '', p.start, p.end, p.credit_at, p.tier ?? '', p.rate, p.volume, p.fees, p.commission, String(p.trades), String(p.excluded_total.trades), st.currency,
        p.eligible.volume, p.eligible.fees, String(p.eligible.trades), p.excluded_total.volume, p.excluded_total.fees,
        p.withheld, p.metrics_window.start, p.metrics_window.end, p.history,
        Object.entries(p.metrics || {}).map(([k, v]) => `${k}=${v}`).join(';')]);
    }
  }
  return rows.map((r) => r.map(cell).join(',') + '\n').join('');
}

export function wireExports(get) {
  $('export-json').onclick = () => { const x = get(); if (x) download(`statement-${x.statement.program.id}.json`, 'application/json', x.json); };
  $('export-csv').onclick = () => { const x = get(); if (x) download(`statement-${x.statement.program.id}.csv`, 'text/csv', statementCsv(x.statement)); };
}
