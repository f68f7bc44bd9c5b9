// "What if volume grows X%?" on the loaded trades: `estimate` from actuals (the engine settles
// the log as given and with every notional and fee times 1 + X%, and sets the two side by
// side). The page reads the file's bytes and shows what the engine returns.
import { $, h, table, showError } from './ui.js';
import { group } from './dec.js';

/** `getInput()`: `{file, name, format?, registry?}` of the loaded log, or null. */
export function wireWhatIf(br, getProgram, getInput) {
  const run = async () => {
    showError('whatif-error', null);
    const input = getInput();
    if (!input) {
      showError('whatif-error', 'Load a trade log first (Statement tab): the what-if settles it twice.');
      return;
    }
    const growth = $('whatif-growth').value.trim();
    $('whatif-status').textContent = `Settling ${input.name} as given and grown by ${growth}%…`;
    let w;
    try {
      const bytes = new Uint8Array(await input.file.arrayBuffer());
      const actuals = { trades: bytes };
      if (input.format) actuals.format = input.format;
      if (input.registry) actuals.registry = JSON.parse(input.registry);
      w = br.estimate(getProgram(), { actuals, growth: `${growth}%` });
    } catch (err) {
      $('whatif-status').textContent = '';
      showError('whatif-error', err);
      return;
    }
    const cur = w.currency;
    $('whatif-status').textContent = `What if volume grows ${growth}% (every notional and fee x ${w.factor}; active clients do not grow).`;
    $('whatif-total').textContent = `actual ${group(w.actual)} ${cur}, what-if ${group(w.what_if)} ${cur}, difference ${group(w.difference)} ${cur}`;
    const rows = w.brokers.flatMap((b) => b.periods.map((p) => ({ broker: b.broker, ...p })));
    const tier = (t) => t ?? '-';
    table($('whatif-table'), [
      { key: 'broker', label: 'Broker', get: (r) => r.broker },
      { key: 'period', label: 'Period', get: (r) => r.period_start },
      { key: 'tier', label: 'Tier', get: (r) => (tier(r.actual.tier) === tier(r.what_if.tier) ? tier(r.actual.tier) : `${tier(r.actual.tier)} → ${tier(r.what_if.tier)}`) },
      { key: 'actual', label: `Actual ${cur}`, num: true, get: (r) => r.actual.commission, render: (r) => group(r.actual.commission) },
      { key: 'what_if', label: `What-if ${cur}`, num: true, get: (r) => r.what_if.commission, render: (r) => group(r.what_if.commission) },
      { key: 'difference', label: 'Difference', num: true, get: (r) => r.difference, render: (r) => group(r.difference) },
    ], rows, { total: { broker: 'Total', actual: group(w.actual), what_if: group(w.what_if), difference: group(w.difference) } });
  };
  $('whatif-run').addEventListener('click', run);
  return run;
}
