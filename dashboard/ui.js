// Small DOM helpers: element creation, sortable tables, errors, downloads.
import { cmp } from './dec.js';

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
  return e;
}

/** An error from the engine (BrokerRulesError or its JSON) as one readable line with where. */
export function errorText(e) {
  if (!e) return '';
  const loc = e.location || {};
  const where = [];
  if (loc.field != null) where.push(`field ${loc.field}`);
  if (loc.line != null) where.push(`line ${loc.line}${loc.column != null ? `, column ${loc.column}` : ''}`);
  if (loc.position != null) where.push(`position ${loc.position}`);
  if (loc.id != null) where.push(`trade ${loc.id}`);
  const msg = e.detail ?? e.message;
  return `${e.code || 'Error'}: ${msg}${where.length ? ` (${where.join('; ')})` : ''}`;
}

export function showError(id, e) {
  const box = $(id);
  box.textContent = e ? (typeof e === 'string' ? e : errorText(e)) : '';
  box.hidden = !e;
}

/**
 * A sortable table. columns: [{key, label, num?, get(row) -> string|number, render?(row)}].
 * Decimal strings sort exactly (dec.cmp); header buttons toggle the order (keyboard: Enter/Space).
 */
export function table(node, columns, rows, { total, limit = 500 } = {}) {
  let sort = node.__sort || null;
  let shown = limit;
  const draw = () => {
    const sorted = rows.slice();
    if (sort) {
      const c = columns.find((x) => x.key === sort.key);
      sorted.sort((a, b) => {
        const x = c.get(a), y = c.get(b);
        let r;
        if (c.num && typeof x === 'string' && typeof y === 'string') r = cmp(x || '0', y || '0');
        else r = x < y ? -1 : x > y ? 1 : 0;
        return sort.dir * r;
      });
    }
    node.replaceChildren(
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {
        class: c.num ? 'num' : '', scope: 'col',
        'aria-sort': sort && sort.key === c.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none',
      }, h('button', { type: 'button', onclick: () => { sort = node.__sort = { key: c.key, dir: sort && sort.key === c.key ? -sort.dir : 1 }; draw(); } }, c.label))))),
      h('tbody', {}, sorted.slice(0, shown).map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : '' }, c.render ? c.render(r) : String(c.get(r) ?? '')))))),
      total ? h('tfoot', {}, h('tr', { class: 'total' }, columns.map((c) => h('td', { class: c.num ? 'num' : '' }, total[c.key] ?? '')))) : '',
      sorted.length > shown ? h('caption', { style: 'caption-side: bottom; text-align: left' }, `${shown} of ${sorted.length} rows (sorted over all). `,
        h('button', { type: 'button', onclick: () => { shown = sorted.length; draw(); } }, `Show all ${sorted.length}`)) : '',
    );
  };
  draw();
}

export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function options(select, values, keep = true) {
  const prev = select.value;
  const fixed = [...select.querySelectorAll('option[data-fixed]')];
  select.replaceChildren(...fixed, ...values.map(([v, label]) => h('option', { value: v }, label)));
  if (keep && [...select.options].some((o) => o.value === prev)) select.value = prev;
}
