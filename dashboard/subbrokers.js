// The sub-brokers view (a registry is loaded): per parent, its sub-brokers with their share,
// volume and commission, and what each passed up (`to_parent` in the statement's periods).
import { $, table } from './ui.js';
import { sum, group } from './dec.js';

export function renderSubBrokers(st, registry) {
  const brokers = registry?.brokers || [];
  const byCode = new Map(st.brokers.map((b) => [b.broker, b]));
  const rows = brokers.filter((b) => b.parent).map((b) => {
    const s = byCode.get(b.code);
    const periods = s ? s.periods : [];
    return {
      parent: b.parent, code: b.code, share: b.parent_share ?? '',
      volume: sum(periods.map((p) => p.volume)),
      commission: s ? s.commission : '0',
      to_parent: sum(periods.map((p) => p.to_parent ?? '0')),
      parent_total: byCode.get(b.parent)?.commission ?? '0',
    };
  });
  table($('subbrokers'), [
    { key: 'parent', label: 'Parent', get: (r) => r.parent },
    { key: 'code', label: 'Sub-broker', get: (r) => r.code },
    { key: 'share', label: 'Parent share', num: true, get: (r) => r.share },
    { key: 'volume', label: 'Sub-broker volume', num: true, get: (r) => r.volume, render: (r) => group(r.volume) },
    { key: 'commission', label: `Sub-broker commission (${st.currency})`, num: true, get: (r) => r.commission, render: (r) => group(r.commission) },
    { key: 'to_parent', label: 'Passed to the parent (exact)', num: true, get: (r) => r.to_parent, render: (r) => group(r.to_parent) },
    { key: 'parent_total', label: 'Parent commission', num: true, get: (r) => r.parent_total, render: (r) => group(r.parent_total) },
  ], rows);
  return rows.length;
}
