// The live view: NDJSON trades from a WebSocket go into one incremental Settlement as they
// arrive (push), and the running statement is `snapshot()` — a copy of the settlement's state
// finished, so nothing is settled again from the start. Redrawn at most every 250 ms.
import { $, h, table, errorText, showError } from './ui.js';
import { group } from './dec.js';

export function wireLive(br, getProgram, getRegistry) {
  let ws = null, settlement = null, messages = 0, pending = false, lastDraw = 0, timer = null;
  const status = (t) => { $('live-status').textContent = t; };

  const draw = () => {
    timer = null;
    lastDraw = performance.now();
    if (!settlement) return;
    let st;
    try { st = settlement.snapshot(); } catch (e) { showError('live-error', e); return; }
    const current = st.brokers.map((b) => ({ b, p: b.periods[b.periods.length - 1] })).filter((r) => r.p);
    $('live-totals').replaceChildren(h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Trades accepted'), h('div', { class: 'v', id: 'live-trades' }, group(String(st.summary.trades)))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Commission so far'), h('div', { class: 'v', id: 'live-total' }, `${group(st.summary.commission)} ${st.currency}`)),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Rejected'), h('div', { class: 'v', id: 'live-rejected' }, String(st.summary.rejected))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Messages'), h('div', { class: 'v' }, String(messages))),
    ));
    table($('live-table'), [
      { key: 'broker', label: 'Broker', get: (r) => r.b.broker },
      { key: 'start', label: 'Current period', get: (r) => r.p.start },
      { key: 'tier', label: 'Tier', get: (r) => r.p.tier ?? '—' },
      { key: 'metrics', label: 'Tier metrics', get: (r) => Object.entries(r.p.metrics || {}).map(([k, v]) => `${k} ${group(v)}`).join('; ') },
      { key: 'trades', label: 'Trades', num: true, get: (r) => r.p.trades },
      { key: 'period', label: 'Period commission', num: true, get: (r) => r.p.commission, render: (r) => group(r.p.commission) },
      { key: 'total', label: `Broker total (${st.currency})`, num: true, get: (r) => r.b.commission, render: (r) => group(r.b.commission) },
    ], current);
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(draw, Math.max(0, 250 - (performance.now() - lastDraw)));
  };

  const stop = (why) => {
    if (ws) { ws.onclose = ws.onmessage = ws.onerror = null; try { ws.close(); } catch (_) { /* closed */ } }
    ws = null;
    $('live-connect').disabled = false;
    $('live-disconnect').disabled = true;
    if (timer) { clearTimeout(timer); }
    draw();
    status(why);
  };

  $('live-connect').onclick = () => {
    showError('live-error', null);
    try {
      settlement = new br.Settlement(getProgram(), null, getRegistry());
    } catch (e) { showError('live-error', e); return; }
    messages = 0;
    let url = $('live-url').value.trim();
    try { ws = new WebSocket(url); } catch (e) { showError('live-error', `Cannot connect to ${url}: ${e.message}`); return; }
    $('live-connect').disabled = true;
    $('live-disconnect').disabled = false;
    status(`Connecting to ${url}…`);
    ws.onopen = () => status(`Connected to ${url}; waiting for trades.`);
    ws.onmessage = async (ev) => {
      const text = typeof ev.data === 'string' ? ev.data : await ev.data.text();
      messages += 1;
      try {
        settlement.push(text, { format: 'ndjson' });
      } catch (e) {
        showError('live-error', errorText(e));
        stop(`Stopped: ${e.code || 'error'}`);
        return;
      }
      status(`Connected to ${url}; ${messages} message${messages === 1 ? '' : 's'}.`);
      schedule();
    };
    ws.onerror = () => showError('live-error', `WebSocket error on ${url}`);
    ws.onclose = () => stop(`Closed by the server after ${messages} message${messages === 1 ? '' : 's'}; the totals are final.`);
  };
  $('live-disconnect').onclick = () => stop(`Disconnected after ${messages} messages.`);
  return { reset: () => { if (!ws) settlement = null; } };
}
