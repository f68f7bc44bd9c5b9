// The README's Browser (WebAssembly) and Node sections: every ```sh block runs as written
// from the repository root (the `node -e` examples), and prints what its comments promise.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { root } from './common.mjs';

const md = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
function blocks(section) {
  const start = md.indexOf(`<!-- section: ${section} -->`);
  assert.ok(start >= 0, `README has the ${section} section`);
  const end = md.indexOf('\n#', start);
  const part = md.slice(start, end < 0 ? undefined : end);
  return [...part.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const expect = {
  wasm: [['BKR 2 1690.00']],
  node: [['1690.00', '1690.00', '1690.00'], ['1690.00', 'BKR 2 1690.00', '1690.00', 'E_PARTIAL'], ['true E_DECIMAL notional', 'pass decimals as strings']],
};

for (const section of ['wasm', 'node']) {
  const found = blocks(section);
  it(`README ${section}: ${found.length} shell example(s) run`, () => {
    assert.equal(found.length, expect[section].length);
    found.forEach((code, i) => {
      const out = execFileSync('bash', ['-euo', 'pipefail', '-c', code], { cwd: root, encoding: 'utf8', timeout: 60000 });
      const lines = out.trim().split('\n');
      expect[section][i].forEach((want, j) => assert.ok(lines[j] && lines[j].startsWith(want), `block ${i + 1} line ${j + 1}: ${JSON.stringify(lines[j])} should start with ${JSON.stringify(want)}`));
    });
  });
}

// docs/estimate.md's JS block, run from the repository root: it prints what its comment says.
it('docs/estimate.md: the JS example runs and prints its comment', () => {
  const doc = fs.readFileSync(path.join(root, 'docs/estimate.md'), 'utf8');
  const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 1);
  const want = blocks[0].split('\n').map((l) => /\/\/ (.*)$/.exec(l)).filter((m) => m && !m[1].startsWith('in a project'))[0][1];
  const out = execFileSync(process.execPath, ['-e', blocks[0]], { cwd: root, encoding: 'utf8', timeout: 60000 });
  assert.equal(out.trim(), want);
});
