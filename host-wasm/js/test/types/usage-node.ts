// Typed usage of broker-rules (the Node addon), checked by `tsc --noEmit -p tsconfig.node.json`.
import { settle, settleJson, settleAsync, settleJsonAsync, estimate, validate, program, programs, Settlement, BrokerRulesError, compile, reconcile } from 'broker-rules';
import type { Reconciliation, Row, Cause, ReconcileRequest } from 'broker-rules';
import type { WhatIf, Side } from 'broker-rules';
import type { Trade, Statement, Estimate, Registry, SettleOptions, CoreError, TradeFormat, TradeLogInput, SettleLogRequest } from 'broker-rules';

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
  const trades: Trade[] = [
    { id: 'a', time: '2026-06-02T10:00:00Z', account: 'c1', broker: 'B1', channel: 'api', product: 'spot', notional: '4000000', fee: '2000', affiliate_rate: '0.10' },
  ];
  const registry: Registry = { brokers: [{ code: 'B1', model: 'api' }], affiliates: [] };
  const options: SettleOptions = { from: '2026-06-01T00:00:00Z', lines: false };
  const st: Statement = settle('backpack', trades, options, registry);
  const later: Statement = await settleAsync({ program: 'backpack', trades, registry, options });
  const text: string = await settleJsonAsync('backpack', trades);
  const e: Estimate = estimate({ program: 'xt', scenario: { volume: '30000000', fees: '6000' } });
  const problems: CoreError[] = validate({ trades }).problems;
  const s = new Settlement(program('backpack'), null, registry);
  s.push(trades[0]);
  const done: Statement = s.finish();
  // trade logs as bytes: CSV, NDJSON, JSON, Arrow IPC, Parquet
  const csv = new Uint8Array(0);
  const format: TradeFormat = 'parquet';
  const fromCsv: Statement = settle({ program: 'backpack', trades: csv, format: 'csv', columns: { trade_id: 'id', ts: 'time' } });
  const fromArrow: Statement = await settleAsync({ program: 'okx', trades: csv.buffer, format: 'arrow', options, registry });
  const fromText: string = settleJson({ program: 'backpack', trades: 'id,time\n', format: 'csv' });
  const req: SettleLogRequest = { program: 'backpack', trades: csv, format, columns: ['trade_id=id'] };
  const sniffed: Statement = settle('backpack', csv);
  // @ts-expect-error text trades need a format
  settle({ program: 'backpack', trades: 'id,time\n' });
  // @ts-expect-error a rename names a trade field
  settle({ program: 'backpack', trades: csv, columns: { trade_id: 'trade' } });
  // partial states: shards settled separately, then merged
  const input: TradeLogInput = { format: 'csv' };
  const shardA = new Settlement('backpack');
  const shardB = new Settlement('backpack');
  shardA.push(csv, input);
  shardB.push('id,time\n', { format: 'csv' });
  const state: Uint8Array = shardB.toBytes();
  const merged: number = shardA.merge(state);
  const whole: Statement = shardA.finish();
  const compiled = compile('okx');
  const est: Estimate = compiled.estimate({ volume: '2000000', fee_rate: '0.0008', active_clients: 12 });
  const viaCompiled: string = compiled.settleJson({ trades: [], options: { lines: true } });
  let code = '';
  try {
    settle({ program: 'backpack', trades, options: { strict: true } });
  } catch (err) {
    if (err instanceof BrokerRulesError) code = err.code;
  }
  return [st.summary.commission, later.currency, text.length, e.next?.volume_needed, problems.length, done.brokers.length, code, programs()[0]?.id,
    fromCsv.currency, fromArrow.currency, fromText.length, req.format, sniffed.currency, merged, whole.currency, est.tier, viaCompiled.length].join(' ');
}

export function whatIf(trades: Trade[]): string {
  const w: WhatIf = estimate('backpack', { actuals: trades, growth: '20%', broker: 'B1' });
  const side: Side | undefined = w.brokers[0]?.periods[0]?.what_if;
  const w2: WhatIf = estimate({ program: 'okx', actuals: { trades: new Uint8Array(0), format: 'csv', options: { complete_history: true } }, growth: '0.2' });
  const w3: WhatIf = compile('backpack').estimate({ actuals: { trades, registry: {} }, growth: '-0.1' });
  return `${side?.commission} ${w.difference} ${w2.what_if} ${w3.factor}`;
}
