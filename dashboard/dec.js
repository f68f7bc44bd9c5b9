// Exact decimal strings for the dashboard's display aggregates (a client's volume over a day,
// a sub-broker's volume over periods) and for sorting statement columns. BigInt fixed point:
// no float ever touches an amount that is shown. The engine's own numbers are shown as given.

/** "-12.340" -> { n: -1234n, s: 2 } (trailing zeros dropped). */
export function parse(str) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(str).trim());
  if (!m) throw new Error(`not a decimal: ${str}`);
  let frac = (m[3] || '').replace(/0+$/, '');
  const n = BigInt((m[2] || '0') + frac);
  return { n: m[1] ? -n : n, s: frac.length };
}

function align(a, b) {
  const s = Math.max(a.s, b.s);
  return [a.n * 10n ** BigInt(s - a.s), b.n * 10n ** BigInt(s - b.s), s];
}

export function add(a, b) {
  const [x, y, s] = align(a, b);
  return { n: x + y, s };
}

export function sub(a, b) {
  const [x, y, s] = align(a, b);
  return { n: x - y, s };
}

export function cmp(a, b) {
  const [x, y] = align(typeof a === 'string' ? parse(a) : a, typeof b === 'string' ? parse(b) : b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export const ZERO = { n: 0n, s: 0 };

/** Canonical string: no exponent, no trailing zeros. */
export function str(d) {
  const neg = d.n < 0n;
  let digits = (neg ? -d.n : d.n).toString();
  if (d.s > 0) {
    digits = digits.padStart(d.s + 1, '0');
    let int = digits.slice(0, -d.s), frac = digits.slice(-d.s).replace(/0+$/, '');
    digits = frac ? `${int}.${frac}` : int;
  }
  return (neg && digits !== '0' ? '-' : '') + digits;
}

/** Sum of decimal strings. */
export function sum(list) {
  return str(list.reduce((a, x) => add(a, parse(x)), ZERO));
}

/** The amount with thousands separators (display only; the digits are the engine's). */
export function group(s) {
  const [int, frac] = String(s).split('.');
  const g = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac === undefined ? g : `${g}.${frac}`;
}

/** For chart geometry only (never for an amount shown as text). */
export const approx = (s) => Number(s);
