// The per-broker view: the tier metrics each period was decided on, over time, against the
// program's ladder thresholds; what the latest period's basis still lacks for each next step;
// commission per period.
import { $, h, options } from './ui.js';
import { lineChart, barChart } from './charts.js';
import { parse, sub, str, cmp, group, approx } from './dec.js';

/** Thresholds of `metric` in every ladder: [{value, label}]. */
function thresholds(spec, metric) {
  const out = [];
  for (const ladder of spec?.tiers?.ladders || []) {
    for (const step of ladder.steps) {
      if (step.min[metric] !== undefined && cmp(step.min[metric], '0') > 0) {
        out.push({ value: step.min[metric], label: `${(spec.tiers.ladders.length > 1 ? `${ladder.name} ` : '')}${step.level}` });
      }
    }
  }
  return out;
}

/** For each ladder, the first step the basis does not meet, and what each metric lacks. */
export function nextSteps(spec, metrics) {
  const out = [];
  for (const ladder of spec?.tiers?.ladders || []) {
    const step = ladder.steps.find((s) => Object.entries(s.min).some(([m, v]) => cmp(metrics[m] ?? '0', v) < 0));
    if (!step) { out.push({ ladder: ladder.name, top: true }); continue; }
    const lack = Object.entries(step.min).map(([m, v]) => {
      const have = metrics[m] ?? '0';
      const gap = sub(parse(v), parse(have));
      return { metric: m, have, need: v, more: cmp(gap, '0') > 0 ? str(gap) : '0' };
    });
    out.push({ ladder: ladder.name, level: step.level, lack });
  }
  return out;
}

export function renderBroker(st, spec) {
  const sel = $('broker-select');
  options(sel, st.brokers.map((b) => [b.broker, b.broker]));
  const draw = () => {
    const b = st.brokers.find((x) => x.broker === sel.value) || st.brokers[0];
    if (!b) { $('broker-next').replaceChildren('No broker in this statement.'); $('broker-charts').replaceChildren(); return; }
    const last = b.periods[b.periods.length - 1];
    const steps = last ? nextSteps(spec, last.metrics || {}) : [];
    const kind = (m) => spec?.tiers?.metrics?.[m]?.kind;
    $('broker-next').replaceChildren(
      h('h3', {}, `${b.broker}: tier ${last?.tier ?? 'none'} in the latest period (${last?.start ?? '—'}), rate ${last?.rate ?? '0'}`),
      h('ul', { id: 'next-tier' }, steps.map((s) => h('li', {}, s.top
        ? `${s.ladder}: at the top step`
        : `${s.ladder}: next ${s.level} needs ${s.lack.map((l) => `${l.more === '0' ? 'no more' : `${group(l.more)} more`} ${kind(l.metric) === 'active_clients' ? 'active clients' : 'volume'} (${l.metric}: ${group(l.have)} of ${group(l.need)})`).join(' and ')}`))),
      h('p', { class: 'muted' }, 'Measured on the metrics the latest period\'s tier was decided on (the program\'s tier window).'),
    );
    const metricNames = Object.keys(spec?.tiers?.metrics || last?.metrics || {});
    const charts = metricNames.map((m) => lineChart({
      title: `${m} (${kind(m) === 'active_clients' ? 'active clients' : 'volume'}) per period vs thresholds`,
      series: [{ name: m, points: b.periods.filter((p) => p.metrics && p.metrics[m] !== undefined).map((p) => ({ x: Date.parse(p.start), y: approx(p.metrics[m]), label: `${group(p.metrics[m])} (${p.tier ?? 'no tier'})` })) }],
      thresholds: thresholds(spec, m).map((t) => ({ y: approx(t.value), label: t.label })),
    }));
    charts.push(barChart({
      title: `Commission per period (${st.currency})`,
      bars: b.periods.map((p) => ({ label: p.start.slice(0, p.start.endsWith('T00:00:00Z') ? 10 : 13), value: approx(p.commission), text: group(p.commission) })),
    }));
    $('broker-charts').replaceChildren(...charts);
    const history = b.history ?? (b.periods.some((p) => p.history) ? b.periods.map((p) => ({ start: p.start, history: p.history })) : null);
    $('broker-history').replaceChildren(history ? h('details', {}, h('summary', {}, 'Tier history'), h('pre', {}, JSON.stringify(history, null, 1))) : '');
  };
  sel.onchange = draw;
  draw();
}
