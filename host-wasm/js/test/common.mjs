// Loads both packages and the vectors, for the Node test files.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(import.meta.url);
export const packages = {
  'broker-rules-wasm': require(path.join(root, 'host-wasm/pkg')),
  'broker-rules': require(path.join(root, 'host-node')),
};

export function loadVectors() {
  const dir = path.join(root, 'tests/vectors');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  return files.map((f) => ({ file: f, ...JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

/** The backpack three-client month (SPEC, README). */
export function threeClients() {
  const t = (id, day, account, notional, fee, affiliate_rate) => ({
    id, time: `2026-06-${day}T10:00:00Z`, account, broker: 'B1', channel: 'api', product: 'spot', notional, fee, affiliate_rate,
  });
  return [t('a', '02', 'c1', '4000000', '2000', '0'), t('b', '12', 'c2', '4000000', '2400', '0.10'), t('c', '22', 'c3', '2000000', '600', '0.25')];
}
