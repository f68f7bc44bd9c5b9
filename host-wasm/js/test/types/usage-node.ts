// Typed usage of broker-rules (the Node addon), checked by `tsc --noEmit -p tsconfig.node.json`.
import { settle, settleAsync, settleJsonAsync, estimate, validate, program, programs, Settlement, BrokerRulesError } from 'broker-rules';
import type { Trade, Statement, Estimate, Registry, SettleOptions, CoreError } from 'broker-rules';

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
  let code = '';
  try {
    settle({ program: 'backpack', trades, options: { strict: true } });
  } catch (err) {
    if (err instanceof BrokerRulesError) code = err.code;
  }
  return [st.summary.commission, later.currency, text.length, e.next?.volume_needed, problems.length, done.brokers.length, code, programs()[0]?.id].join(' ');
}
