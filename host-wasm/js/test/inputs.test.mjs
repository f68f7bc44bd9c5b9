// Hostile inputs through both packages (issue 11): requests are built structurally (one
// argument's text can never add or replace a request key), non-finite JS numbers are
// E_DECIMAL naming the field wherever they are, and the wasm instance survives every error
// vector: after each one, a correct call on the same instance gives the right answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { packages, loadVectors, threeClients } from './common.mjs';

const T = { id: 't1', time: '2026-06-01T10:00:00Z', account: 'c1', broker: 'B1', channel: 'api', product: 'spot', notional: '1000', fee: '1' };

function codeOf(f) {
  try { f(); return null; } catch (e) { return { name: e.name, code: e.code, location: e.location, message: e.detail }; }
}

for (const [name, api] of Object.entries(packages)) {
  describe(`${name}: structural requests`, () => {
    it('a trades string cannot splice a program key', () => {
      const e = codeOf(() => api.settle('backpack', '[], "program": "xt"'));
      assert.deepEqual([e.name, e.code, e.location.field], ['BrokerRulesError', 'E_PARSE', 'trades']);
    });
    it('an options string cannot splice a registry key', () => {
      const e = codeOf(() => api.settle('xt', [T], '{"strict": true}, "registry": {"brokers": [{"code": "X"}]}'));
      assert.deepEqual([e.code, e.location.field], ['E_PARSE', 'options']);
    });
    it('a program string cannot splice a second program', () => {
      const e = codeOf(() => api.settle('{"id": "x"}, "program": "xt"', [T]));
      assert.deepEqual([e.code, e.location.field], ['E_PARSE', 'program']);
    });
    it('a scenario string cannot splice a program', () => {
      const e = codeOf(() => api.estimate('xt', '{"volume": "1", "fees": "1"}, "program": "okx"'));
      assert.deepEqual([e.code, e.location.field], ['E_PARSE', 'scenario']);
    });
    it('a string inside a JSON-text argument may hold braces and commas', () => {
      const st = api.settle('backpack', JSON.stringify([{ ...T, id: 'a],"program":"xt' }]));
      assert.equal(st.program.id, 'backpack');
      assert.equal(st.brokers[0].commission, '0.20'); // fee 1 x BKR 0's 20%
    });
    it('duplicate keys inside a JSON-text argument are the engine\'s E_PARSE', () => {
      const e = codeOf(() => api.settle('backpack', '[{"id":"a","id":"b"}]'));
      assert.equal(e.code, 'E_PARSE');
      assert.match(e.message, /duplicate key "id"/);
    });
    it('the Settlement object checks its arguments the same way', () => {
      const e = codeOf(() => new api.Settlement('xt', '{"strict": true}, "x": 1'));
      assert.deepEqual([e.code, e.location.field], ['E_PARSE', 'options']);
      const s = new api.Settlement('backpack');
      const e2 = codeOf(() => s.push('[], "program": "xt"'));
      assert.deepEqual([e2.code, e2.location.field], ['E_PARSE', 'trades']);
    });
  });

  describe(`${name}: non-finite numbers are E_DECIMAL naming the field`, () => {
    const cases = [
      ['trade fee NaN (with a fee_rate that would recompute it)', () => api.settle('xt', [{ ...T, fee: NaN, fee_rate: '0.0005' }]), { field: 'fee', line: 1, id: 't1' }],
      ['trade notional Infinity, second trade', () => api.settle('xt', [T, { ...T, id: 't2', notional: Infinity }]), { field: 'notional', line: 2, id: 't2' }],
      ['trade notional 1e400', () => api.settle('xt', [{ ...T, notional: 1e400 }]), { field: 'notional', line: 1, id: 't1' }],
      ['trade in a request object', () => api.settle({ program: 'xt', trades: [{ ...T, affiliate_rate: -Infinity }] }), { field: 'affiliate_rate', line: 1, id: 't1' }],
      ['scenario volume NaN', () => api.estimate('xt', { volume: NaN, fees: '1' }), { field: 'scenario.volume' }],
      ['scenario in a request object', () => api.estimate({ program: 'xt', scenario: { volume: '1', fees: Infinity } }), { field: 'scenario.fees' }],
      ['registry parent_share NaN', () => api.settle('okx', [T], undefined, { brokers: [{ code: 'A' }, { code: 'S', parent: 'A', parent_share: NaN }] }), { field: 'registry.brokers[1].parent_share' }],
      ['program level rate Infinity', () => { const p = api.program('xt'); p.tiers.levels[0].rates.rate = Infinity; return api.settle(p, [T]); }, { field: 'program.tiers.levels[0].rates.rate' }],
      ['options from NaN', () => api.settle('xt', [T], { from: NaN }), { field: 'options.from' }],
      ['Settlement push', () => new api.Settlement('xt').push([{ ...T, fee: NaN }]), { field: 'fee', line: 1, id: 't1' }],
    ];
    for (const [what, f, loc] of cases) {
      it(what, () => {
        const e = codeOf(f);
        assert.ok(e, 'no error');
        assert.deepEqual([e.name, e.code, e.location], ['BrokerRulesError', 'E_DECIMAL', loc]);
      });
    }
    it('a finite JS number where a decimal belongs is the engine\'s E_DECIMAL, in a trade and in a scenario', () => {
      assert.deepEqual(codeOf(() => api.settle('xt', [{ ...T, fee: 0.1 }], { strict: true })).location, { field: 'fee', line: 1, id: 't1' });
      const e = codeOf(() => api.estimate('xt', { volume: 1000000, fees: '1' }));
      assert.deepEqual([e.code, e.location.field], ['E_DECIMAL', 'scenario.volume']);
    });
  });

  describe(`${name}: the instance survives every error vector`, () => {
    const errors = loadVectors().filter((v) => v.expected && v.expected.error);
    it('has error vectors', () => assert.ok(errors.length >= 100, `${errors.length}`));
    it('after each error vector, the backpack three-client month still pays 1690.00', () => {
      for (const v of errors) {
        const env = api.call(v.call, JSON.stringify(v.input));
        assert.equal(env, JSON.stringify(v.expected), v.name);
        const st = api.settle('backpack', threeClients());
        assert.equal(st.brokers[0].commission, '1690.00', `after ${v.name}`);
      }
    });
  });
}
