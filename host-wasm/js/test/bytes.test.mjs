// Trade logs as bytes (CSV, NDJSON, JSON in both packages; Arrow IPC and Parquet in the Node
// addon) read by the core's own readers, checked against the CLI on the same files, and the
// addon's partial states (Settlement.toBytes / merge).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { root, packages, threeClients } from './common.mjs';

const require = createRequire(import.meta.url);
const tools = process.env.BROKER_RULES_TOOLS || path.join(os.homedir(), '.cache/broker-rules/tools');
// apache-arrow from npm (scripts/bootstrap.sh installs it next to typescript and playwright-core).
const arrow = require(require.resolve('apache-arrow', { paths: [path.join(tools, 'node_modules'), root] }));

const fixture = (name) => path.join(root, 'host-cli/tests/fixtures', name);
const MONTH_CSV = fixture('backpack_month.csv');

// The CLI, as built by `cargo build --release -p broker-rules-cli` (built here when missing).
const BIN = path.join(root, 'target/release/broker-rules');
function cli(...args) {
  if (!fs.existsSync(BIN)) execFileSync('cargo', ['build', '--release', '-q', '-p', 'broker-rules-cli'], { cwd: root, stdio: 'inherit' });
  return execFileSync(BIN, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
}
// The CLI's canonical JSON without its final newline: what settleJson returns.
const cliSettle = (file, ...more) => cli('settle', '--program', 'backpack', '--trades', file, '--format', 'json', ...more).replace(/\n$/, '');

let tmp;
before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-rules-bytes-')); });
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BAD_CSV = 'id,time,account,broker,channel,product,notional,fee,affiliate_rate\n'
  + 't1,2026-06-03T10:00:00Z,client-a,BKR,api,spot,4000000,2000,0\n'
  + 't2,2026-06-12T15:30:00Z,client-b,BKR,api,futures,1e5,2400,0.10\n'
  + 't3,2026-06-25T08:15:00Z,client-c,BKR,api,spot,1200000,600,0.25\n';

/** CSV text split into two CSV logs (each with the header) by a hash of the trade id. */
function halves(csv) {
  const [header, ...rows] = csv.trimEnd().split('\n');
  const parts = [[header], [header]];
  for (const r of rows) {
    const id = r.slice(0, r.indexOf(','));
    let h = 2166136261;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
    parts[h & 1].push(r);
  }
  return parts.map((p) => Buffer.from(p.join('\n') + '\n'));
}

for (const [name, api] of Object.entries(packages)) {
  describe(`${name}: trade logs as bytes`, () => {
    it('the bundled month as CSV bytes equals `broker-rules settle --format json` byte for byte', async () => {
      const want = cliSettle(MONTH_CSV);
      assert.equal(want, fs.readFileSync(fixture('backpack_month.expected.json'), 'utf8').replace(/\n$/, ''));
      const buf = fs.readFileSync(MONTH_CSV);
      const text = buf.toString('utf8');
      const u8 = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      assert.equal(api.settleJson({ program: 'backpack', trades: buf, format: 'csv' }), want);
      assert.equal(api.settleJson({ program: 'backpack', trades: buf }), want, 'format sniffed');
      assert.equal(api.settleJson({ program: 'backpack', trades: u8 }), want, 'a plain Uint8Array');
      assert.equal(api.settleJson({ program: 'backpack', trades: u8.buffer }), want, 'an ArrayBuffer');
      assert.equal(api.settleJson({ program: 'backpack', trades: new DataView(u8.buffer) }), want, 'a DataView');
      assert.equal(api.settleJson({ program: 'backpack', trades: text, format: 'csv' }), want, 'text with a format');
      assert.equal(api.settleJson('backpack', buf), want, 'positional');
      assert.equal(await api.settleJsonAsync({ program: 'backpack', trades: buf }), want);
      assert.equal(api.call('settle', { program: 'backpack', trades: buf }), `{"ok":${want}}`);
      const st = api.settle({ program: 'backpack', trades: buf, format: 'csv' });
      assert.equal(st.summary.commission, '1690.00');
      assert.equal(st.brokers[0].periods[0].tier, 'BKR 2');
      assert.equal((await api.settleAsync('backpack', buf)).summary.commission, '1690.00');
      // the same trades as JSON objects: the same bytes
      const json = JSON.parse(fs.readFileSync(fixture('backpack_month.json'), 'utf8'));
      assert.equal(api.settleJson('backpack', json), want);
    });

    it('NDJSON and JSON-array bytes, explain, options and registry', () => {
      const want = cliSettle(MONTH_CSV);
      const nd = fs.readFileSync(fixture('backpack_month.ndjson'));
      assert.equal(api.settleJson({ program: 'backpack', trades: nd, format: 'ndjson' }), want);
      assert.equal(api.settleJson({ program: 'backpack', trades: nd }), want, 'NDJSON sniffed');
      assert.equal(api.settleJson({ program: 'backpack', trades: fs.readFileSync(fixture('backpack_month.json')) }), want, 'JSON array sniffed');
      const x = api.explain({ program: 'backpack', trades: fs.readFileSync(MONTH_CSV) });
      assert.deepEqual(x.lines.map((l) => [l.id, Number(l.commission)]), [['t1', 700], ['t2', 840], ['t3', 150]]);
      const reg = { brokers: [{ code: 'BKR', model: 'api' }], affiliates: [] };
      const opts = { from: '2026-06-10T00:00:00Z' };
      assert.equal(
        api.settleJson({ program: 'backpack', trades: fs.readFileSync(MONTH_CSV), options: opts, registry: reg }),
        api.settleJson('backpack', JSON.parse(fs.readFileSync(fixture('backpack_month.json'), 'utf8')), opts, reg));
    });

    it('column renames', () => {
      const csv = fs.readFileSync(MONTH_CSV, 'utf8').replace(/^id,time,account,broker/, 'trade_id,ts,user_id,broker_code');
      const want = cliSettle(MONTH_CSV);
      const columns = { trade_id: 'id', ts: 'time', user_id: 'account', broker_code: 'broker' };
      assert.equal(api.settleJson({ program: 'backpack', trades: Buffer.from(csv), columns }), want);
      assert.equal(api.settleJson({ program: 'backpack', trades: csv, format: 'csv', columns: ['trade_id=id,ts=time', 'user_id=account', 'broker_code=broker'] }), want);
      assert.throws(() => api.settle({ program: 'backpack', trades: Buffer.from(csv) }), (e) => e.code === 'E_FIELD' && e.location.field === 'id');
      assert.throws(() => api.settle({ program: 'backpack', trades: Buffer.from(csv), columns: { trade_id: 'nope' } }), { code: 'E_OPTIONS' });
      assert.throws(() => api.settle({ program: 'backpack', trades: Buffer.from(csv), format: 'xlsx' }), (e) => e.code === 'E_OPTIONS' && e.location.field === 'format');
      assert.throws(() => api.settle({ program: 'backpack', trades: Buffer.from(csv), colums: {} }), (e) => e.code === 'E_FIELD' && e.location.field === 'colums');
    });

    it('a bad CSV row: listed under rejected with its line (lenient), E_DECIMAL at line and column (strict)', () => {
      const st = api.settle({ program: 'backpack', trades: Buffer.from(BAD_CSV), format: 'csv' });
      assert.deepEqual(st.rejected.map(({ id, line, code, field }) => ({ id, line, code, field })), [{ id: 't2', line: 3, code: 'E_DECIMAL', field: 'notional' }]);
      assert.equal(st.summary.trades, 2);
      const file = path.join(tmp, 'bad.csv');
      fs.writeFileSync(file, BAD_CSV);
      assert.equal(api.settleJson({ program: 'backpack', trades: Buffer.from(BAD_CSV) }), cliSettle(file));
      for (const call of [() => api.settle({ program: 'backpack', trades: Buffer.from(BAD_CSV), options: { strict: true } }),
        () => api.settle('backpack', Buffer.from(BAD_CSV), { strict: true })]) {
        assert.throws(call, (e) => {
          assert.ok(e instanceof api.BrokerRulesError);
          assert.equal(e.code, 'E_DECIMAL');
          assert.deepEqual(e.location, { field: 'notional', line: 3, column: 7, id: 't2' });
          assert.match(e.message, /at line 3, column 7/);
          return true;
        });
      }
    });

    it('a sample CSV (several blocks) equals the CLI, sync and async', async () => {
      const file = path.join(tmp, 'sample.csv');
      cli('sample', '--count', '60000', '--out', file);
      const want = cliSettle(file);
      const buf = fs.readFileSync(file);
      assert.ok(buf.length > 4 << 20, 'more than one 4 MiB block');
      assert.equal(api.settleJson({ program: 'backpack', trades: buf }), want);
      assert.equal(await api.settleJsonAsync({ program: 'backpack', trades: buf }), want);
    });

    it('one id with two contents across a 4 MiB chunk boundary: E_DUPLICATE_ID on the later line, as the CLI says', () => {
      // The addon reads CSV bytes on several threads; the worker on the second chunk meets
      // the later trade first, and the reader settles again in order (the wasm reads on one).
      const CHUNK = 4 << 20;
      const row = (id, fee) => `t${String(id).padStart(7, '0')},2026-06-${String(1 + (id % 28)).padStart(2, '0')}T10:00:00Z,c${id % 40},BKR,api,spot,${1 + (id % 7)}000,${fee}\n`;
      const parts = ['id,time,account,broker,channel,product,notional,fee\n'];
      let size = parts[0].length, line = 1, first = 0, later = 0;
      for (let i = 0; size < 2 * CHUNK + 100_000; i++) {
        line += 1;
        let r;
        if (!first && size + 2_000 > CHUNK) { first = line; r = row(1, 1); }
        else if (!later && size > CHUNK + 2_000) { later = line; r = row(1, 2); }
        else r = row(i + 10, 1);
        parts.push(r);
        size += r.length;
      }
      const csv = Buffer.from(parts.join(''));
      const file = path.join(tmp, 'duplicate-across-chunks.csv');
      fs.writeFileSync(file, csv);
      assert.throws(() => cli('settle', '--program', 'backpack', '--trades', file, '--threads', '1'),
        (e) => e.stderr.includes(`duplicate-across-chunks.csv:${later}:1: trade id "t0000001" appears twice with different content`));
      for (let k = 0; k < 3; k++) {
        assert.throws(() => api.settle({ program: 'backpack', trades: csv }), (e) => {
          assert.ok(e instanceof api.BrokerRulesError);
          assert.equal(e.code, 'E_DUPLICATE_ID');
          assert.deepEqual(e.location, { field: 'id', line: later, column: 1, id: 't0000001' });
          return true;
        });
      }
      assert.ok(first < later);
    });

    it('Settlement.push takes trade logs too (lines are the log\'s own)', () => {
      const s = new api.Settlement('backpack');
      assert.equal(s.push(Buffer.from(BAD_CSV)), 2);
      assert.equal(s.push([{ id: 'j1', time: '2026-06-04T10:00:00Z', account: 'c9', broker: 'BKR', channel: 'api', product: 'spot', notional: '1000', fee: '1' }]), 3);
      assert.equal(s.push('id,time,account,broker,channel,product,notional,fee\nk1,2026-06-05T10:00:00Z,c8,BKR,api,spot,1000,1\n', { format: 'csv' }), 4);
      const st = s.finish();
      assert.equal(st.rejected[0].line, 3);
      assert.equal(st.summary.trades, 4);
      const strict = new api.Settlement('backpack', { strict: true });
      assert.throws(() => strict.push(Buffer.from(BAD_CSV)), (e) => e.code === 'E_DECIMAL' && e.location.line === 3);
      assert.throws(() => strict.finish(), { code: 'E_DECIMAL' });
    });
  });
}

describe('broker-rules-wasm: what the .wasm leaves out', () => {
  const api = packages['broker-rules-wasm'];
  it('Arrow IPC and Parquet bytes are E_OPTIONS naming the Node addon; no partial states', () => {
    for (const format of ['arrow', 'parquet']) {
      assert.throws(() => api.settle({ program: 'backpack', trades: new Uint8Array([1, 2, 3]), format }), (e) => e.code === 'E_OPTIONS' && /npm broker-rules/.test(e.message));
    }
    assert.throws(() => api.settle({ program: 'backpack', trades: Buffer.from('PAR1....') }), { code: 'E_OPTIONS' });
    const s = new api.Settlement('backpack');
    s.push(threeClients());
    assert.throws(() => s.toBytes(), (e) => e.code === 'E_OPTIONS' && /Node addon/.test(e.message));
    assert.throws(() => s.merge(new Uint8Array(8)), { code: 'E_OPTIONS' });
    assert.equal(s.finish().summary.commission, '1690.00');
  });
});

describe('broker-rules (addon): Arrow IPC and Parquet bytes', () => {
  const api = packages['broker-rules'];
  const { Table, vectorFromArray, makeVector, makeData, tableToIPC, Utf8, TimestampMillisecond, Decimal } = arrow;

  // decimal128 from decimal strings (scale digits), as little-endian 32-bit words.
  function decimal128(values, scale) {
    const words = new Uint32Array(values.length * 4);
    values.forEach((s, i) => {
      const [int, frac = ''] = s.split('.');
      let v = BigInt(int + frac.padEnd(scale, '0'));
      for (let k = 0; k < 4; k++) { words[i * 4 + k] = Number(BigInt.asUintN(32, v)); v >>= 32n; }
    });
    return makeVector(makeData({ type: new Decimal(scale, 38, 128), length: values.length, nullCount: 0, data: words }));
  }

  // The bundled month as an Arrow table: `trade_id` (renamed), a UTC timestamp, dictionary
  // strings, decimals as decimal128 or as strings.
  function monthTable(decimals) {
    const [, ...rows] = fs.readFileSync(MONTH_CSV, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    const col = (i) => rows.map((r) => r[i]);
    const dec = (i) => (decimals === 'decimal128' ? decimal128(col(i), 2) : vectorFromArray(col(i), new Utf8()));
    return new Table({
      trade_id: vectorFromArray(col(0), new Utf8()),
      time: vectorFromArray(col(1).map((t) => Date.parse(t)), new TimestampMillisecond('UTC')),
      account: vectorFromArray(col(2), new Utf8()),
      broker: vectorFromArray(col(3)),
      channel: vectorFromArray(col(4)),
      product: vectorFromArray(col(5)),
      notional: dec(6),
      fee: dec(7),
      affiliate_rate: dec(8),
    });
  }

  it('an Arrow IPC file (apache-arrow) gives the CSV statement byte for byte', async () => {
    const want = cliSettle(MONTH_CSV);
    for (const decimals of ['decimal128', 'strings']) {
      const table = monthTable(decimals);
      const file = tableToIPC(table, 'file');
      const stream = tableToIPC(table, 'stream');
      const columns = { trade_id: 'id' };
      assert.equal(api.settleJson({ program: 'backpack', trades: file, format: 'arrow', columns }), want, `${decimals}, file format`);
      assert.equal(api.settleJson({ program: 'backpack', trades: stream, columns }), want, `${decimals}, stream format, sniffed`);
      assert.equal(await api.settleJsonAsync({ program: 'backpack', trades: file, columns }), want);
      // the CLI reads the same file the same way
      const f = path.join(tmp, `month-${decimals}.arrow`);
      fs.writeFileSync(f, file);
      assert.equal(cliSettle(f, '--column', 'trade_id=id'), want);
    }
    assert.throws(() => api.settle({ program: 'backpack', trades: tableToIPC(monthTable('strings'), 'file') }), (e) => e.code === 'E_FIELD' && e.location.field === 'id');
    assert.throws(() => api.settle({ program: 'backpack', trades: new Uint8Array([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0]) }), { code: 'E_PARSE' });
  });

  it('Parquet bytes equal the CLI on the same file', async () => {
    const file = path.join(tmp, 'sample.parquet');
    cli('sample', '--count', '20000', '--out', file);
    const want = cliSettle(file);
    const buf = fs.readFileSync(file);
    assert.equal(api.settleJson({ program: 'backpack', trades: buf, format: 'parquet' }), want);
    assert.equal(await api.settleJsonAsync({ program: 'backpack', trades: buf }), want, 'sniffed, async');
    assert.equal(JSON.parse(want).summary.trades, 20000);
  });

  it('settleAsync over bytes runs off the main thread', async () => {
    const file = path.join(tmp, 'async.csv');
    cli('sample', '--count', '200000', '--out', file);
    const buf = fs.readFileSync(file);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const text = await api.settleJsonAsync({ program: 'backpack', trades: buf });
    clearInterval(timer);
    assert.equal(text, api.settleJson({ program: 'backpack', trades: buf }));
    assert.ok(ticks > 0, 'the event loop ran while settling');
  });
});

describe('broker-rules (addon): partial states', () => {
  const api = packages['broker-rules'];

  it('two shards split by trade id, one serialized and merged into the other, equal one settle', () => {
    const file = path.join(tmp, 'shards.csv');
    cli('sample', '--count', '30000', '--out', file);
    const csv = fs.readFileSync(file, 'utf8');
    const want = api.settleJson({ program: 'backpack', trades: Buffer.from(csv) });
    assert.equal(want, cliSettle(file));
    const [a, b] = halves(csv);
    const left = new api.Settlement('backpack');
    const right = new api.Settlement('backpack');
    const na = left.push(a);
    const nb = right.push(b);
    assert.ok(na > 0 && nb > 0);
    const state = right.toBytes();
    assert.ok(state instanceof Uint8Array && state.length > 0);
    assert.deepEqual(right.toBytes(), state, 'canonical bytes');
    assert.equal(left.merge(state), na + nb);
    assert.equal(left.finishJson(), want);
    // the state also starts a settlement of its own; and JSON batches shard the same way
    const fresh = new api.Settlement('backpack');
    fresh.merge(Buffer.from(state));
    fresh.push(a);
    assert.equal(fresh.finishJson(), want);
    const [x, y] = [new api.Settlement('backpack'), new api.Settlement('backpack')];
    x.push(threeClients().slice(0, 2));
    y.push(threeClients().slice(2));
    x.merge(y.toBytes().buffer);
    assert.equal(x.finishJson(), api.settleJson('backpack', threeClients()));
  });

  it('a state of another program, options or registry, or corrupt bytes, is E_PARTIAL', () => {
    const state = (program, options, registry) => {
      const s = new api.Settlement(program, options, registry);
      s.push(threeClients().slice(2));
      return s.toBytes();
    };
    const target = new api.Settlement('backpack');
    target.push(threeClients().slice(0, 2));
    const partial = (fn) => assert.throws(fn, (e) => { assert.ok(e instanceof api.BrokerRulesError); assert.equal(e.code, 'E_PARTIAL'); return true; });
    partial(() => target.merge(state('xt')));
    partial(() => target.merge(state('backpack', { from: '2026-06-10T00:00:00Z' })));
    partial(() => target.merge(state('backpack', null, { brokers: [{ code: 'B1', model: 'api' }] })));
    const good = state('backpack');
    const bad = Uint8Array.from(good);
    bad[bad.length >> 1] ^= 0x55;
    partial(() => target.merge(bad));
    partial(() => target.merge(good.subarray(0, good.length - 3)));
    partial(() => target.merge(new Uint8Array(0)));
    assert.throws(() => target.merge('not bytes'), { code: 'E_FIELD' });
    // refused states leave the settlement as it was
    assert.equal(target.merge(good), 3);
    assert.equal(target.finishJson(), api.settleJson('backpack', threeClients()));
    // an id in two states: E_DUPLICATE_ID, and the settlement stops
    const twice = new api.Settlement('backpack');
    twice.push(threeClients());
    assert.throws(() => twice.merge(good), { code: 'E_DUPLICATE_ID' });
    assert.throws(() => twice.finish(), { code: 'E_DUPLICATE_ID' });
    // per-trade programs (here: lines) have no partial state
    const lines = new api.Settlement('backpack', { lines: true });
    lines.push(threeClients());
    partial(() => lines.toBytes());
    assert.equal(lines.finish().lines.length, 3, 'still settles');
    const done = new api.Settlement('backpack');
    done.finish();
    assert.throws(() => done.toBytes(), { code: 'E_OPTIONS' });
  });
});
