// Plain SVG charts (no library): a line chart with threshold lines, a bar chart and a
// heatmap. Geometry uses floats; every label shows the engine's exact strings.
import { group } from './dec.js';

const NS = 'http://www.w3.org/2000/svg';
function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(w, h, label) {
  return el('svg', { viewBox: `0 0 ${w} ${h}`, width: '100%', role: 'img', 'aria-label': label, class: 'chart' });
}
export const short = (v) => {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
};
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

/**
 * Lines over time. series: [{name, points: [{x: ms, y: number, label}]}];
 * thresholds: [{y: number, label}] drawn dashed.
 */
export function lineChart({ title, series, thresholds = [], w = 720, h = 260, xFormat = day }) {
  const s = svg(w, h, title);
  const pad = { l: 64, r: 110, t: 22, b: 28 };
  const pts = series.flatMap((x) => x.points);
  s.append(el('text', { x: pad.l, y: 14, class: 'chart-title' }, title));
  if (!pts.length) { s.append(el('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle' }, 'no data')); return s; }
  const x0 = Math.min(...pts.map((p) => p.x)), x1 = Math.max(...pts.map((p) => p.x));
  const ys = pts.map((p) => p.y).concat(thresholds.map((t) => t.y));
  const y1 = Math.max(1, ...ys) * 1.05;
  const X = (x) => pad.l + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - (y / y1) * (h - pad.t - pad.b);
  s.append(el('line', { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, class: 'axis' }));
  s.append(el('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b, class: 'axis' }));
  for (const f of [0, 0.5, 1]) s.append(el('text', { x: pad.l - 6, y: Y(y1 * f) + 4, 'text-anchor': 'end', class: 'tick' }, short(y1 * f)));
  s.append(el('text', { x: pad.l, y: h - 8, class: 'tick' }, xFormat(x0)));
  s.append(el('text', { x: w - pad.r, y: h - 8, 'text-anchor': 'end', class: 'tick' }, xFormat(x1)));
  for (const t of thresholds) {
    if (t.y > y1) continue;
    s.append(el('line', { x1: pad.l, y1: Y(t.y), x2: w - pad.r, y2: Y(t.y), class: 'threshold' }));
    s.append(el('text', { x: w - pad.r + 4, y: Y(t.y) + 4, class: 'tick' }, t.label));
  }
  series.forEach((ser, i) => {
    const d = ser.points.map((p, j) => `${j ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join('');
    s.append(el('path', { d, class: `series s${i % 6}` }));
    for (const p of ser.points.length <= 120 ? ser.points : []) {
      const c = el('circle', { cx: X(p.x), cy: Y(p.y), r: 3, class: `dot s${i % 6}` });
      c.append(el('title', {}, `${ser.name} ${xFormat(p.x)}: ${p.label ?? group(String(p.y))}`));
      s.append(c);
    }
  });
  return s;
}

/** Vertical bars: bars [{label, value: number, text}]. */
export function barChart({ title, bars, w = 720, h = 240 }) {
  const s = svg(w, h, title);
  const pad = { l: 64, r: 10, t: 22, b: 40 };
  s.append(el('text', { x: pad.l, y: 14, class: 'chart-title' }, title));
  if (!bars.length) { s.append(el('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle' }, 'no data')); return s; }
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  const bw = (w - pad.l - pad.r) / bars.length;
  s.append(el('line', { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, class: 'axis' }));
  s.append(el('text', { x: pad.l - 6, y: pad.t + 4, 'text-anchor': 'end', class: 'tick' }, short(max)));
  const every = Math.ceil(bars.length / 12);
  bars.forEach((b, i) => {
    const bh = (Math.max(0, b.value) / max) * (h - pad.t - pad.b);
    const r = el('rect', { x: pad.l + i * bw + 1, y: h - pad.b - bh, width: Math.max(1, bw - 2), height: bh, class: 'bar' });
    r.append(el('title', {}, `${b.label}: ${b.text}`));
    s.append(r);
    if (i % every === 0) s.append(el('text', { x: pad.l + i * bw + bw / 2, y: h - pad.b + 14, 'text-anchor': 'middle', class: 'tick' }, b.label));
  });
  return s;
}

/** rows x cols grid; cells: Map `${row}|${col}` -> {value: number, text}. */
export function heatmap({ title, rows, cols, cells, w = 900 }) {
  const pad = { l: 120, t: 34, r: 10, b: 10 };
  const cw = Math.max(4, (w - pad.l - pad.r) / Math.max(1, cols.length));
  const ch = 14;
  const h = pad.t + rows.length * ch + pad.b;
  const s = svg(w, h, title);
  s.append(el('text', { x: pad.l, y: 14, class: 'chart-title' }, title));
  const max = Math.max(1e-12, ...[...cells.values()].map((c) => c.value));
  const every = Math.ceil(cols.length / 10);
  cols.forEach((c, j) => { if (j % every === 0) s.append(el('text', { x: pad.l + j * cw, y: pad.t - 6, class: 'tick' }, c)); });
  rows.forEach((r, i) => {
    s.append(el('text', { x: pad.l - 6, y: pad.t + i * ch + ch - 3, 'text-anchor': 'end', class: 'tick' }, r));
    cols.forEach((c, j) => {
      const cell = cells.get(`${r}|${c}`);
      if (!cell) return;
      const t = Math.sqrt(cell.value / max);
      const rect = el('rect', { x: pad.l + j * cw, y: pad.t + i * ch, width: cw - 1, height: ch - 1, class: 'heat', 'fill-opacity': (0.12 + 0.88 * t).toFixed(3) });
      rect.append(el('title', {}, `${r} ${c}: ${cell.text}`));
      s.append(rect);
    });
  });
  return s;
}
