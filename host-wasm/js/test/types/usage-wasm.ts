// Typed usage of broker-rules-wasm, checked by `tsc --noEmit -p tsconfig.wasm.json`.
import init, { settle, settleJson, estimate, explain, validate, program, programs, call, Settlement, BrokerRulesError, compile, Compiled, reconcile } from 'broker-rules-wasm';
import type { Reconciliation, Row, Cause, ReconcileRequest } from 'broker-rules-wasm';
import type { WhatIf, Side } from 'broker-rules-wasm';
import type { Trade, Statement, Estimate, ProgramSpec, ProgramInfo, Validation, Explanation, ErrorCode, TradeFormat } from 'broker-rules-wasm';

export function reconciled(): string {
  const r: Reconciliation = reconcile({ program: 'okx', trades: new Uint8Array(0), report: 'ordId,brokerRebate\n', report_format: 'okx-rebate-per-orders', by: 'order', tolerance: '0.00000001' });
  const row: Row | undefined = r.rows[0];
  const cause: Cause | null | undefined = row?.cause;
  const req: ReconcileRequest = { program: 'backpack', report: '', by: 'account-day', map: { uid: 'account' }, all: true };
  // @ts-expect-error by is one of the levels
  reconcile({ program: 'backpack', report: '', by: 'week' });
  return `${r.summary.difference} ${cause} ${req.by} ${r.summary.counts.only_theirs}`;
}

export async function main(): Promise<string> {
  await init();
  const trades: Trade[] = [
    { id: 'a', time: '2026-06-02T10:00:00Z', account: 'c1', broker: 'B1', channel: 'api', product: 'spot', notional: '4000000', fee: '2000' },
  ];
  const st: Statement = settle('backpack', trades, { lines: true });
  const st2: Statement = settle({ program: 'backpack', trades, options: { strict: true } });
  const text: string = settleJson('{"program":"backpack"}');
  const e: Estimate = estimate('backpack', { volume: '8000000', fee_rate: '0.0002' });
  const x: Explanation = explain({ program: 'okx', trades });
  const v: Validation = validate({ program: 'xt' });
  const p: ProgramSpec = program('backpack');
  const all: ProgramInfo[] = programs();
  const env: string = call('settle', { program: 'backpack' });
  const s = new Settlement('backpack', { strict: false });
  const n: number = s.push(trades);
  const done: Statement = s.finish();
  // trade logs as bytes: CSV, NDJSON, JSON (Arrow IPC and Parquet are the Node addon's)
  const file = new Uint8Array(0);
  const fromCsv: Statement = settle({ program: 'backpack', trades: file, format: 'csv', columns: { trade_id: 'id' } });
  const fromText: Explanation = explain({ program: 'backpack', trades: 'id,time\n', format: 'ndjson' });
  const fmt: TradeFormat = 'json';
  // @ts-expect-error broker-rules-wasm reads no Parquet
  const parquet: TradeFormat = 'parquet';
  const log = new Settlement('backpack');
  log.push(file, { format: fmt });
  // @ts-expect-error partial states are the Node addon's
  log.toBytes();
  try {
    settle('nope', []);
  } catch (err) {
    if (err instanceof BrokerRulesError) {
      const code: ErrorCode = err.code;
      const field: string | null | undefined = err.location.field;
      return `${code} ${field} ${err.help}`;
    }
  }
  const tier: string | null = st.brokers[0]?.periods[0]?.tier ?? null;
  const compiled: Compiled = compile('backpack');
  const est: Estimate = compiled.estimate({ volume: '8000000', fee_rate: '0.0002' });
  const byCompiled: Statement = compiled.settle(file, { lines: true });
  const running: Statement = log.snapshot();
  log.push(file, { format: 'csv' }, (bytesRead: number, records: number) => void (bytesRead + records));
  // @ts-expect-error decimals are strings, not numbers
  const bad: Trade = { id: 'b', time: '2026-06-02T10:00:00Z', account: 'c', channel: 'api', product: 'spot', notional: 1 };
  return [st2.summary.commission, text, e.commission, x.lines.length, v.valid, p.id, all.length, env, n, done.currency, tier, bad.id,
    fromCsv.currency, fromText.lines.length, parquet, est.tier, byCompiled.currency, running.summary.trades].join(' ');
}

export function whatIf(trades: Trade[]): string {
  const w: WhatIf = estimate('backpack', { actuals: trades, growth: '20%', broker: 'B1' });
  const side: Side | undefined = w.brokers[0]?.periods[0]?.what_if;
  const w2: WhatIf = estimate({ program: 'okx', actuals: { trades: new Uint8Array(0), format: 'csv', options: { complete_history: true } }, growth: '0.2' });
  const w3: WhatIf = compile('backpack').estimate({ actuals: { trades, registry: {} }, growth: '-0.1' });
  return `${side?.commission} ${w.difference} ${w2.what_if} ${w3.factor}`;
}
