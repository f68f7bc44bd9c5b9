// Real values asserted directly, the error model, and the package surfaces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { packages, threeClients, root } from './common.mjs';

for (const [name, api] of Object.entries(packages)) {
  describe(name, () => {
    it('backpack three-client month: 700 + 840 + 150 = 1690.00', () => {
      const st = api.settle({ program: 'backpack', trades: threeClients(), options: { lines: true } });
      assert.equal(st.currency, 'USD');
      assert.equal(st.brokers.length, 1);
      const b = st.brokers[0];
      assert.equal(b.broker, 'B1');
      assert.equal(b.status, 'eligible');
      assert.equal(b.commission, '1690.00');
      assert.equal(b.periods[0].tier, 'BKR 2');
      assert.equal(b.periods[0].volume.replace(/\.0+$/, ''), '10000000');
      assert.equal(b.periods[0].credit_at, '2026-07-01T00:00:00Z');
      const per = Object.fromEntries(st.lines.map((l) => [l.id, Number(l.commission)]));
      assert.deepEqual(per, { a: 700, b: 840, c: 150 });
      assert.equal(st.summary.commission, '1690.00');
    });

    it('the statement adds up: attributed = eligible + excluded; history flags and complete_history', () => {
      const t = (id, time, notional, fee, extra = {}) => ({ id, time, account: 'c1', broker: 'B1', channel: 'api', product: 'spot', notional, fee, ...extra });
      const st = api.settle('backpack', [
        t('t1', '2026-06-05T00:00:00Z', '4000000', '800'),
        t('t2', '2026-06-06T00:00:00Z', '2000000', '300', { channel: 'web' }),
        t('t3', '2026-06-07T00:00:00Z', '500000', '100', { product: 'margin' }),
        t('t4', '2026-06-08T00:00:00Z', '1500000', '200'),
      ]);
      const p = st.brokers[0].periods[0];
      assert.deepEqual(p.attributed, { trades: 4, volume: '8000000', fees: '1400' });
      assert.deepEqual(p.eligible, { trades: 2, volume: '5500000', fees: '1000' });
      assert.deepEqual(p.excluded.non_api_channel, { trades: 1, volume: '2000000', fees: '300' });
      assert.deepEqual(p.metrics, { api_volume: '5500000' });
      assert.deepEqual(p.metrics_window, { start: '2026-06-01T00:00:00Z', end: '2026-07-01T00:00:00Z' });
      assert.equal(p.commission, '300.00');
      assert.equal(p.history, 'complete');
      const xt = [t('x1', '2026-06-10T08:00:00Z', '12000000', '1200'), t('x2', '2026-06-11T08:00:00Z', '1000', '1')];
      const flagged = api.settle('xt', xt);
      assert.deepEqual(flagged.brokers[0].periods.map((q) => q.history), ['incomplete', 'incomplete']);
      assert.deepEqual(flagged.summary.incomplete_history, [{ broker: 'B1', periods: 2, first: '2026-06-10T00:00:00Z', last: '2026-06-11T00:00:00Z' }]);
      assert.equal(flagged.brokers[0].periods[1].commission, '0.40000000');
      const whole = api.settle('xt', xt, { complete_history: true });
      assert.deepEqual(whole.brokers[0].periods.map((q) => q.history), ['complete', 'complete']);
      assert.deepEqual(whole.summary.incomplete_history, []);
    });

    it('reconcile by order: every cause, the worked figures of reconcile-order-every-cause', () => {
      const v = JSON.parse(fs.readFileSync(path.join(root, 'tests/vectors/reconcile-order-every-cause.json'), 'utf8'));
      const { trades, report } = v.input;
      const req = { program: 'backpack', trades, report: new TextEncoder().encode(report), report_format: 'okx-rebate-per-orders', by: 'order', tolerance: '0.00000001' };
      const r = api.reconcile(req);
      assert.deepEqual(r.summary.counts, { matched: 2, differs: 4, only_ours: 1, only_theirs: 3 });
      assert.equal(r.summary.ours, '2.5');
      assert.equal(r.summary.theirs, '2.540000001');
      assert.equal(r.summary.difference, '0.040000001');
      const o6 = r.rows.find((x) => x.key.order === 'o6');
      assert.equal(o6.status, 'differs');
      assert.equal(o6.cause, 'rate');
      assert.deepEqual(o6.detail, { our_tier: 'BKR 0', their_tier: 'BKR 1', our_rate: '0.2', their_rate: '0.3' });
      assert.equal(o6.ours.commission, '0.2');
      assert.equal(o6.theirs.commission, '0.3');
      assert.equal(r.rows.find((x) => x.key.order === 'o3').detail.reason, 'non_api_channel');
      assert.equal(api.reconcileJson({ ...req, report }), JSON.stringify(v.expected.ok));
      // The trades as a CSV log's bytes (the CLI fixture of the same trades) and as its text.
      const fills = fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/reconcile-fills.csv'));
      assert.equal(api.reconcileJson({ ...req, trades: fills }), JSON.stringify(v.expected.ok));
      assert.equal(api.reconcileJson({ ...req, trades: fills.toString('utf8'), format: 'csv' }), JSON.stringify(v.expected.ok));
      assert.throws(() => api.reconcile({ ...req, report: 'ordId,brokerRebate\n' }), (e) => e instanceof api.BrokerRulesError && e.code === 'E_FIELD' && e.location.line === 1);
    });

    it('reconcile with a Parquet report: the addon reads it like its CSV, the .wasm says it reads CSV only', async () => {
      const v = JSON.parse(fs.readFileSync(path.join(root, 'tests/vectors/reconcile-order-every-cause.json'), 'utf8'));
      // The vector's report as Parquet: money as decimal128(38, 9), ts as timestamp[ms].
      const report = fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/reconcile-rebates.parquet'));
      const fills = fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/reconcile-fills.csv'));
      const req = { program: 'backpack', trades: v.input.trades, report, report_format: 'okx-rebate-per-orders', by: 'order', tolerance: '0.00000001' };
      if (name === 'broker-rules') {
        assert.equal(api.reconcileJson(req), JSON.stringify(v.expected.ok));
        assert.equal(api.reconcileJson({ ...req, trades: fills }), JSON.stringify(v.expected.ok));
        const r = await api.reconcileAsync(req);
        assert.equal(r.summary.theirs, '2.540000001');
        assert.deepEqual(r.summary.counts, { matched: 2, differs: 4, only_ours: 1, only_theirs: 3 });
        assert.throws(() => api.reconcile({ ...req, by: 'week' }), (e) => e.code === 'E_OPTIONS' && e.location.field === 'by');
      } else {
        assert.throws(() => api.reconcile(req), (e) => e instanceof api.BrokerRulesError && e.code === 'E_PARSE' && /Parquet/.test(e.message) && /CSV reports only/.test(e.message));
      }
    });

    it('positional, object and JSON-text requests agree', () => {
      const req = { program: 'backpack', trades: threeClients() };
      const a = api.settleJson(req);
      assert.equal(api.settleJson(JSON.stringify(req)), a);
      assert.equal(api.settleJson('backpack', threeClients()), a);
      assert.equal(api.settleJson('backpack', JSON.stringify(threeClients())), a);
      assert.equal(api.settleJson(api.program('backpack'), threeClients()), a);
      assert.equal(api.call('settle', req), `{"ok":${a}}`);
    });

    it('a JS number where a decimal belongs is E_DECIMAL, telling to pass a string', () => {
      const trades = threeClients();
      trades[0].notional = 4000000.5;
      assert.throws(() => api.settle('backpack', trades, { strict: true }), (e) => {
        assert.ok(e instanceof api.BrokerRulesError);
        assert.ok(e instanceof Error);
        assert.equal(e.name, 'BrokerRulesError');
        assert.equal(e.code, 'E_DECIMAL');
        assert.equal(e.location.field, 'notional');
        assert.match(e.detail, /string/);
        assert.match(e.help, /strings/);
        return true;
      });
      // lenient: listed as rejected, never dropped
      const st = api.settle('backpack', trades);
      assert.equal(st.rejected[0].code, 'E_DECIMAL');
      assert.equal(st.rejected[0].id, 'a');
    });

    // threeClients: 10,000,000 api spot -> BKR 2 (35%): 700 + 2,400 x 35% = 840 + 600 x 25% = 150
    // = 1,690.00. Doubled: 20,000,000 -> BKR 3 (40%): 1,600 + 4,800 x 40% = 1,920 + 1,200 x 25%
    // = 300 -> 3,820.00 (+2,130.00). +20%: 12,000,000 stays BKR 2: 840 + 1,008 + 180 = 2,028.00.
    it('estimate from actuals: what if volume doubles / grows 20%', () => {
      const w = api.estimate('backpack', { actuals: threeClients(), growth: '100%' });
      assert.equal(w.growth, '1');
      assert.equal(w.factor, '2');
      const p = w.brokers[0].periods[0];
      assert.deepEqual([p.actual.tier, p.actual.commission, p.actual.metrics.api_volume], ['BKR 2', '1690.00', '10000000']);
      assert.deepEqual([p.what_if.tier, p.what_if.commission, p.what_if.metrics.api_volume], ['BKR 3', '3820.00', '20000000']);
      assert.equal(p.difference, '2130.00');
      assert.deepEqual([w.actual, w.what_if, w.difference], ['1690.00', '3820.00', '2130.00']);
      // every form of the call gives the core's bytes
      const json = api.estimateJson('backpack', { actuals: threeClients(), growth: '0.2' });
      assert.equal(JSON.parse(json).what_if, '2028.00');
      assert.equal(api.call('estimate', { program: 'backpack', actuals: { trades: threeClients() }, growth: '0.2' }), `{"ok":${json}}`);
      const csv = 'id,time,account,broker,channel,product,notional,fee,affiliate_rate\n'
        + threeClients().map((t) => [t.id, t.time, t.account, t.broker, t.channel, t.product, t.notional, t.fee, t.affiliate_rate].join(',')).join('\n') + '\n';
      const bytes = new TextEncoder().encode(csv);
      assert.equal(api.estimateJson('backpack', { actuals: bytes, growth: '20%' }), json);
      assert.equal(api.estimateJson({ program: 'backpack', actuals: { trades: csv, format: 'csv' }, growth: '0.2' }), json);
      assert.equal(api.estimateJson('backpack', { actuals: { trades: bytes, columns: { id: 'id' } }, growth: '0.2' }), json);
      const c = api.compile('backpack');
      assert.equal(c.estimateJson({ actuals: threeClients(), growth: '0.2' }), json);
      assert.equal(c.estimateJson({ actuals: bytes, growth: '0.2' }), json);
      assert.equal(c.estimate({ actuals: { trades: csv, format: 'csv' }, growth: '0.2', broker: 'B1' }).what_if, '2028.00');
      // errors are the core's
      assert.throws(() => api.estimate('backpack', { actuals: threeClients(), growth: '-1' }), { code: 'E_OPTIONS', location: { field: 'growth' } });
      assert.throws(() => api.estimate('backpack', { actuals: threeClients(), growth: 0.2 }), { code: 'E_DECIMAL' });
      assert.throws(() => api.estimate({ program: 'backpack', scenario: { volume: '1', fee_rate: '0' }, actuals: { trades: [] }, growth: '0.2' }), { code: 'E_FIELD', location: { field: 'actuals' } });
      assert.throws(() => api.estimate('backpack', { actuals: bytes, growth: '0.2', broker: 'NOPE' }), { code: 'E_OPTIONS', location: { field: 'broker' } });
      return api.estimateAsync('backpack', { actuals: bytes, growth: '0.2' }).then((a) => assert.equal(a.what_if, '2028.00'));
    });

    it('estimate: backpack 8M at 0.0002', () => {
      const e = api.estimate('backpack', { volume: '8000000', fee_rate: '0.0002' });
      assert.equal(e.tier, 'BKR 1');
      assert.equal(e.commission, '480.00');
      assert.equal(e.next.tier, 'BKR 2');
      assert.equal(e.next.volume_needed, '2000000');
    });

    it('programs, program, validate, explain', () => {
      const ids = api.programs().map((p) => p.id).sort();
      assert.deepEqual(ids, ['backpack', 'okx', 'okx-v5', 'xt']);
      assert.equal(api.program('xt').id, 'xt');
      assert.equal(api.program({ id: 'okx' }).id, 'okx');
      assert.equal(api.validate({ program: 'okx' }).valid, true);
      const x = api.explain('backpack', threeClients());
      assert.equal(x.lines.length, 3);
      assert.throws(() => api.program('nope'), { code: 'E_UNKNOWN_PROGRAM' });
      assert.throws(() => api.settle('{not json'), { code: 'E_PARSE' });
      assert.match(api.engineVersion(), /^\d+\.\d+\.\d+/);
    });

    it('Settlement: batches, errors and reuse', () => {
      const s = new api.Settlement('backpack', { lines: false });
      assert.equal(s.push(threeClients().slice(0, 1)), 1);
      assert.equal(s.push(threeClients()[1]), 2);
      assert.equal(s.push(JSON.stringify(threeClients().slice(2))), 3);
      assert.equal(s.finish().summary.commission, '1690.00');
      assert.throws(() => s.finish(), { code: 'E_OPTIONS' });
      assert.throws(() => new api.Settlement('nope'), { code: 'E_UNKNOWN_PROGRAM' });
      const strict = new api.Settlement('backpack', { strict: true });
      assert.throws(() => strict.push([{ id: 'x' }]), { name: 'BrokerRulesError' });
    });

    it('compile(program): the plain functions\' results, the program checked once', () => {
      const scenario = { volume: '8000000', fee_rate: '0.0002' };
      const c = api.compile('backpack');
      assert.ok(c instanceof api.Compiled);
      assert.equal(c.estimateJson(scenario), api.estimateJson('backpack', scenario));
      const e = c.estimate(scenario);
      assert.equal(e.tier, 'BKR 1');
      assert.equal(e.commission, '480.00'); // 8,000,000 x 0.0002 = 1,600 x 30%
      assert.equal(e.next.tier, 'BKR 2');
      assert.equal(e.next.volume_needed, '2000000');
      assert.equal(c.settleJson(threeClients()), api.settleJson('backpack', threeClients()));
      assert.equal(c.settle(threeClients()).summary.commission, '1690.00');
      assert.equal(c.settleJson({ trades: threeClients(), options: { lines: true } }), api.settleJson({ program: 'backpack', trades: threeClients(), options: { lines: true } }));
      assert.equal(c.explainJson(threeClients()), api.explainJson('backpack', threeClients()));
      const csv = 'id,time,account,broker,channel,product,notional,fee\nt1,2026-06-03T10:00:00Z,c1,B1,api,spot,10000000,2000\n';
      assert.equal(c.settleJson(new TextEncoder().encode(csv)), api.settleJson('backpack', new TextEncoder().encode(csv)));
      assert.equal(c.settle({ trades: csv, format: 'csv' }).summary.commission, '700.00');
      // a custom program object compiles too; errors are the plain functions' errors
      const custom = api.program('xt');
      assert.equal(api.compile(custom).estimateJson({ volume: '30000000', fees: '6000' }), api.estimateJson('xt', { volume: '30000000', fees: '6000' }));
      assert.throws(() => api.compile('nope'), { code: 'E_UNKNOWN_PROGRAM' });
      assert.throws(() => api.compile({ ...custom, formula: 'fee * nope' }), (err) => err.code === 'E_EXPR' || err.code === 'E_PROGRAM');
      assert.throws(() => c.estimate({ volume: '1' }), { code: 'E_OPTIONS' });
      assert.throws(() => c.settle({ program: 'xt', trades: [] }), { code: 'E_FIELD' });
    });

    it('Settlement.snapshot: the statement so far, and the settlement goes on', () => {
      const s = new api.Settlement('backpack');
      s.push(threeClients().slice(0, 2));
      const mid = s.snapshot();
      assert.equal(mid.summary.trades, 2);
      assert.equal(mid.summary.commission, '1320.00'); // 8,000,000: BKR 1 (30%): 2,000 x 30% + 2,400 x 30%
      assert.equal(s.snapshotJson(), api.settleJson('backpack', threeClients().slice(0, 2)));
      s.push(threeClients().slice(2));
      assert.equal(s.finishJson(), api.settleJson('backpack', threeClients()));
    });

    it('reconcileAsync over trade-log bytes gives the same result', async () => {
      const v = JSON.parse(fs.readFileSync(path.join(root, 'tests/vectors/reconcile-order-every-cause.json'), 'utf8'));
      const fills = fs.readFileSync(path.join(root, 'host-cli/tests/fixtures/reconcile-fills.csv'));
      const r = await api.reconcileAsync({ program: 'backpack', trades: fills, report: v.input.report, report_format: 'okx-rebate-per-orders', by: 'order', tolerance: '0.00000001' });
      assert.deepEqual(r, v.expected.ok);
      await assert.rejects(api.reconcileAsync({ program: 'backpack', trades: fills, report: v.input.report, by: 'week' }), (e) => e.code === 'E_OPTIONS' && e.location.field === 'by');
    });

    it('async rejects with the same error', async () => {
      await assert.rejects(api.settleAsync({ program: 'nope' }), { code: 'E_UNKNOWN_PROGRAM' });
      const st = await api.settleAsync('backpack', threeClients());
      assert.equal(st.summary.commission, '1690.00');
      const many = await Promise.all(Array.from({ length: 8 }, () => api.settleJsonAsync('backpack', threeClients())));
      assert.equal(new Set(many).size, 1);
    });

    it('unserializable input is a BrokerRulesError', () => {
      const cyclic = { program: 'backpack' };
      cyclic.self = cyclic;
      assert.throws(() => api.settle(cyclic), { code: 'E_PARSE' });
    });
  });
}

describe('broker-rules (addon) specifics', () => {
  const api = packages['broker-rules'];
  it('settleAsync runs off the main thread (the event loop keeps turning)', async () => {
    const trades = [];
    for (let i = 0; i < 20000; i++) {
      trades.push({ id: `t${i}`, time: `2026-06-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`, account: `c${i % 50}`,
        broker: `B${i % 3}`, channel: 'api', product: 'spot', notional: '1000', fee: '0.2' });
    }
    const request = JSON.stringify({ program: 'backpack', trades });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const text = await api.settleJsonAsync(request);
    clearInterval(timer);
    assert.equal(text, api.settleJson(request));
    assert.ok(ticks > 0, 'the event loop ran while settling');
  });
});

describe('ESM entry points and the exports map', () => {
  it('import both packages by file', async () => {
    const { root } = await import('./common.mjs');
    const w = await import(`${root}/host-wasm/pkg/node/index.mjs`);
    await w.default();
    assert.equal(w.settle('backpack', threeClients()).summary.commission, '1690.00');
    const n = await import(`${root}/host-node/index.mjs`);
    assert.equal(n.settle('backpack', threeClients()).summary.commission, '1690.00');
    assert.equal(typeof n.default.Settlement, 'function');
  });
});
