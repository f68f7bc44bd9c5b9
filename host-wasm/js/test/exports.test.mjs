// The packages' `exports` maps, resolved by name as an application would: require and import
// of both packages, and the `bundler` build loaded through Node's wasm ES-module integration
// (what webpack/vite do with `import ... from './x_bg.wasm'`).
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { root } from './common.mjs';

let app;
before(() => {
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-rules-app-'));
  fs.mkdirSync(path.join(app, 'node_modules'));
  fs.symlinkSync(path.join(root, 'host-wasm/pkg'), path.join(app, 'node_modules/broker-rules-wasm'), 'dir');
  fs.symlinkSync(path.join(root, 'host-node'), path.join(app, 'node_modules/broker-rules'), 'dir');
});
after(() => fs.rmSync(app, { recursive: true, force: true }));

const run = (args) => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const TRADE = `[{ id: "a", time: "2026-06-02T10:00:00Z", account: "c1", broker: "B1", channel: "api", product: "spot", notional: "10000000", fee: "2000" }]`;

it('require() by name: both packages', () => {
  assert.equal(run(['-e', `for (const p of ["broker-rules-wasm", "broker-rules"]) console.log(require(p).settle("backpack", ${TRADE}).summary.commission)`]), '700.00\n700.00');
});

it('import by name: both packages (node condition)', () => {
  const code = `import init, * as w from "broker-rules-wasm"; import * as n from "broker-rules"; await init();
    console.log(w.settle("backpack", ${TRADE}).summary.commission, n.settle("backpack", ${TRADE}).summary.commission);`;
  assert.equal(run(['--input-type=module', '-e', code]), '700.00 700.00');
});

it('broker-rules-wasm/bundler loads as a wasm ES module', () => {
  const code = `import init, { settle } from "broker-rules-wasm/bundler"; await init(); console.log(settle("backpack", ${TRADE}).summary.commission);`;
  assert.equal(run(['--no-warnings', '--experimental-wasm-modules', '--input-type=module', '-e', code]), '700.00');
});

it('broker-rules-wasm/web exports init for browsers', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'host-wasm/pkg/package.json'), 'utf8'));
  assert.equal(pkg.exports['.'].browser, './web/index.js');
  assert.ok(fs.existsSync(path.join(root, 'host-wasm/pkg/web/broker_rules_wasm_bg.wasm')));
});
