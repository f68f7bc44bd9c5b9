// "What if volume grows X%?" on the loaded trades: `estimate` from actuals (the engine settles
// the log as given and with every notional and fee times 1 + X%, and sets the two side by
// side). It settles the whole log twice, so it runs in its own Web Worker (worker.js, job
// `whatif`): the page stays responsive and Cancel stops it. The page shows what the engine
// returns.
import { $, table, showError } from './ui.js';
import { group } from './dec.js';

/** `getInput()`: `{file, name, format?, registry?}` of the loaded log, or null. */
export function wireWhatIf(getProgram, getInput) {
  let worker = null, job = 0;
  const stop = () => {
    if (worker) worker.terminate();
    worker = null;
    $('whatif-cancel').disabled = true;
    $('whatif-run').disabled = false;
  };
  const run = () => {
    showError('whatif-error', null);
    const input = getInput();
    if (!input) {
      showError('whatif-error', 'Load a trade log first (Statement tab): the what-if settles it twice.');
      return;
    }
    stop();
    const growth = $('whatif-growth').value.trim();
    $('whatif-status').textContent = `Settling ${input.name} as given and grown by ${growth}% (in the background)…`;
    $('whatif-total').textContent = '';
    $('whatif-cancel').disabled = false;
    $('whatif-run').disabled = true;
    const id = ++job;
    worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (ev) => {
      const m = ev.data;
      if (m.job !== id) return;
      stop();
      if (m.type === 'error') {
        $('whatif-status').textContent = '';
        showError('whatif-error', m.error);
      } else if (m.type === 'whatif') {
        show(m.whatIf, growth);
      }
    };
    worker.onerror = (e) => { stop(); showError('whatif-error', `the what-if worker failed: ${e.message}`); };
    worker.postMessage({ job: id, kind: 'whatif', program: getProgram(), registry: input.registry, file: input.file, format: input.format, growth: `${growth}%` });
  };
  $('whatif-run').addEventListener('click', run);
  $('whatif-cancel').addEventListener('click', () => {
    stop();
    job++;
    $('whatif-status').textContent = 'What-if cancelled.';
  });
  return run;
}

/** `{actual, what_if, difference}` as one phrase. */
const change = (c, cur) => `actual ${group(c.actual)} ${cur}, what-if ${group(c.what_if)} ${cur}, difference ${group(c.difference)} ${cur}`;
const isZero = (d) => /^-?[0.]*$/.test(d);

function show(w, growth) {
  const cur = w.currency;
  $('whatif-status').textContent = `What if volume grows ${growth}% (every notional and fee x ${w.factor}; active clients do not grow).`;
  let total = change(w, cur);
  if (!(isZero(w.withheld.actual) && isZero(w.withheld.what_if))) total += `; withheld (not paid): ${change(w.withheld, cur)}`;
  if (w.kickback) total += `; clients' kickback: ${change(w.kickback, cur)}`;
  $('whatif-total').textContent = total;
  const rows = w.brokers.flatMap((b) => b.periods.map((p) => ({ broker: b.broker, ...p })));
  const tier = (t) => t ?? '-';
  const columns = [
    { key: 'broker', label: 'Broker', get: (r) => r.broker },
    { key: 'period', label: 'Period', get: (r) => r.period_start },
    { key: 'tier', label: 'Tier', get: (r) => (tier(r.actual.tier) === tier(r.what_if.tier) ? tier(r.actual.tier) : `${tier(r.actual.tier)} → ${tier(r.what_if.tier)}`) },
    { key: 'actual', label: `Actual ${cur}`, num: true, get: (r) => r.actual.commission, render: (r) => group(r.actual.commission) },
    { key: 'what_if', label: `What-if ${cur}`, num: true, get: (r) => r.what_if.commission, render: (r) => group(r.what_if.commission) },
    { key: 'difference', label: 'Difference', num: true, get: (r) => r.difference, render: (r) => group(r.difference) },
  ];
  const sums = { broker: 'Total', actual: group(w.actual), what_if: group(w.what_if), difference: group(w.difference) };
  if (w.kickback) {
    columns.push(
      { key: 'kick_actual', label: `Kickback ${cur}`, num: true, get: (r) => r.actual.kickback, render: (r) => group(r.actual.kickback) },
      { key: 'kick_what_if', label: `Kickback what-if ${cur}`, num: true, get: (r) => r.what_if.kickback, render: (r) => group(r.what_if.kickback) },
    );
    Object.assign(sums, { kick_actual: group(w.kickback.actual), kick_what_if: group(w.kickback.what_if) });
  }
  table($('whatif-table'), columns, rows, { total: sums });
}
