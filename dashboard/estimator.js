// The estimator: a scenario from the form, `estimate` from the engine on every keystroke.
// Every number shown is the engine's; the page only builds the scenario object.
import { $, h, errorText } from './ui.js';
import { lineChart, short } from './charts.js';
import { group, approx } from './dec.js';

const val = (id) => $(id).value.trim();

/** The scenario the form describes (decimals stay strings). */
export function scenario() {
  const s = { volume: val('est-volume') || '0', fee_rate: val('est-fee-rate') || '0' };
  const mix = val('est-mix');
  if (mix) {
    s.mix = mix.split(',').map((part) => {
      const m = /^\s*([^/=\s]+)\s*\/\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
      if (!m) throw { code: 'E_FIELD', message: `mix entry "${part.trim()}" is not product/channel=share`, location: { field: 'mix' } };
      return { product: m[1], channel: m[2], share: m[3] };
    });
  } else {
    s.mix = [{ product: val('est-product') || 'spot', channel: val('est-channel') || 'api', share: '1' }];
  }
  if (val('est-aff-share') && val('est-aff-share') !== '0') s.affiliate_share = val('est-aff-share');
  if (val('est-aff-rate') && val('est-aff-rate') !== '0') s.affiliate_rate = val('est-aff-rate');
  const clients = val('est-clients');
  if (clients) {
    if (!/^\d+$/.test(clients)) throw { code: 'E_FIELD', message: 'active clients must be a whole number', location: { field: 'active_clients' } };
    s.active_clients = Number(clients);
  }
  return s;
}

export function wireEstimator(br, getProgram) {
  const run = () => {
    let e;
    try {
      e = br.estimate(getProgram(), scenario());
    } catch (err) {
      $('est-error').textContent = errorText(err);
      $('est-error').hidden = false;
      return;
    }
    $('est-error').hidden = true;
    const dd = (k, v, id) => [h('dt', {}, k), h('dd', { id }, v)];
    $('est-result').replaceChildren(
      ...dd('Tier', e.tier ?? 'none (below the lowest level)', 'est-tier'),
      ...dd('Rate', Object.keys(e.rates).length > 1 ? Object.entries(e.rates).map(([k, v]) => `${k} ${v}`).join(', ') : e.rate, 'est-rate'),
      ...dd('Fees', `${group(e.fees)} ${e.currency}`, 'est-fees'),
      ...dd('Expected commission', `${group(e.commission)} ${e.currency}`, 'est-commission'),
      ...dd('Next tier', e.next ? `${e.next.tier} at ${group(e.next.volume)} volume: ${group(e.next.volume_needed)} more, commission there ${group(e.next.commission)} ${e.currency}` : 'at the top', 'est-next'),
      ...dd('Tier metrics', Object.entries(e.metrics).map(([k, v]) => `${k} ${group(v)}`).join('; '), 'est-metrics'),
      ...dd('Tiers above', (e.tiers_above || []).length ? h('ul', { id: 'est-above-list' }, (e.tiers_above || []).map((t) => h('li', {},
        `${t.tier} (${t.rate}), commission there ${group(t.commission)} ${e.currency}: `
        + t.ways.map((w) => `${w.ladder} ${w.met ? 'met' : Object.entries(w.needs).filter(([, n]) => n.more !== '0').map(([m, n]) => `${group(n.more)} more ${m}`).join(' and ')}`).join('; or ')))) : 'none (at the top)', 'est-above'),
    );
    const points = e.curve.map((p) => ({ x: approx(p.volume), y: approx(p.commission), label: `${p.tier ?? 'no tier'}: ${group(p.commission)} at ${group(p.volume)}` }));
    $('est-curve').replaceChildren(lineChart({
      title: `Commission (${e.currency}) over volume: one point per tier boundary; green: this scenario`,
      series: [{ name: 'commission', points }, { name: 'this scenario', points: [{ x: approx(e.volume), y: approx(e.commission), label: `${group(e.commission)} at ${group(e.volume)}` }] }],
      xFormat: (x) => short(x),
    }));
  };
  $('estimator').addEventListener('input', run);
  return run;
}
