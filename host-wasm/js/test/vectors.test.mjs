// Every vector in tests/vectors/ through both packages: the envelope byte-identical to the
// vector, the typed API consistent with it, both packages identical to each other, and the
// async and incremental paths identical to the sync one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { packages, loadVectors } from './common.mjs';
import { replay } from './replay.js';

const vectors = loadVectors();

it('there are conformance vectors to replay', () => {
  assert.ok(vectors.length > 0, 'no vectors in tests/vectors/*.json');
});

for (const [name, api] of Object.entries(packages)) {
  describe(`${name}: vectors`, () => {
    for (const v of vectors) {
      it(v.name || v.file, () => {
        const { failures } = replay(api, v);
        assert.deepEqual(failures, [], `${v.file}: ${v.description}`);
      });
    }
  });
}

describe('both packages give the same bytes', () => {
  for (const v of vectors) {
    it(v.name || v.file, () => {
      const input = JSON.stringify(v.input);
      const [a, b] = Object.values(packages).map((api) => api.call(v.call, input));
      assert.equal(a, b);
    });
  }
});

// settle vectors whose request the incremental object can express
const streamable = vectors.filter((v) => v.call === 'settle' && v.input && typeof v.input === 'object' && !Array.isArray(v.input)
  && Object.keys(v.input).every((k) => ['program', 'trades', 'options', 'registry'].includes(k))
  && 'program' in v.input && (v.input.trades === undefined || Array.isArray(v.input.trades)));

function codeOf(f) {
  try { return { ok: f() }; } catch (e) { return { error: e.code || String(e) }; }
}

for (const [name, api] of Object.entries(packages)) {
  describe(`${name}: async and incremental settle equal sync`, () => {
    it('has settle vectors to compare', () => assert.ok(streamable.length > 0));
    for (const v of streamable) {
      it(v.name || v.file, async () => {
        const sync = codeOf(() => api.settleJson(v.input));
        let asyncR;
        try { asyncR = { ok: await api.settleJsonAsync(v.input) }; } catch (e) { asyncR = { error: e.code || String(e) }; }
        assert.deepEqual(asyncR, sync, 'async');
        for (const size of [1, 2, 1000]) {
          const inc = codeOf(() => {
            const s = new api.Settlement(v.input.program, v.input.options, v.input.registry);
            const trades = v.input.trades || [];
            for (let i = 0; i < trades.length; i += size) s.push(trades.slice(i, i + size));
            return s.finishJson();
          });
          assert.deepEqual(inc, sync, `incremental, batches of ${size}`);
        }
      });
    }
  });
}
