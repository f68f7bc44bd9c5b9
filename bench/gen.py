#!/usr/bin/env python3
"""Deterministic synthetic trade log for the broker-rules benchmark.

Writes DIR/trades.csv and DIR/trades.parquet with the same trades (the SPEC's trade fields:
id,time,account,broker,channel,product,notional,fee,fee_rate,liquidity,vip,fee_discount,
affiliate_rate). Vectorised with numpy + pyarrow: no per-row Python loop.

Shape (see bench/README.md):
- trades spread over two calendar months, 2026-05-01T00:00Z .. 2026-06-30T24:00Z, so xt's
  rolling 30-day window and okx's previous-month level have history in June;
- 200 brokers with Zipf-skewed trade counts (and so volume), ~10% unattributed trades
  (empty broker); per broker a channel profile (api bot / oauth app / mixed) and a product
  profile (spot / derivatives / balanced), a start day and a growth trend;
- client accounts (tens of thousands at 10M trades), Zipf-skewed within each broker, some
  referred by an affiliate (affiliate_rate 0.1 / 0.2 / 0.25 / 0.3), some VIP 6+;
- maker/taker fee rates at scale 6 (maker rates sometimes negative: rebates), notional at
  scale 2, fee = notional * fee_rate exactly at scale 8; some fee_discount trades.
- edges: a few trades at exactly 2026-06-01T00:00:00.000Z and 2026-05-31T23:59:59.999Z,
  ~0.2% on a whole hour; per Backpack volume threshold and month, one broker whose api volume
  is just above it gets it exactly (thresholds are `>=`).
- Notionals are scaled by 10,000,000 / count, so a broker's volume (and so its tiers) does
  not depend on --count: a 20,000-trade log spans the same tiers as the 10M one.
No `master` column (no independent brokers: without a registry a master would become a
broker code).

usage: gen.py [--count N] [--out DIR] [--seed S] [--csv-only | --parquet-only]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FIELDS = [
    "id", "time", "account", "broker", "channel", "product", "notional", "fee", "fee_rate",
    "liquidity", "vip", "fee_discount", "affiliate_rate",
]
START_MS = 1_777_593_600_000  # 2026-05-01T00:00:00Z
DAYS = 61                     # May (31) + June (30)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SPAN_MS = DAYS * DAY_MS
N_BROKERS = 200
BASE_COUNT = 10_000_000

CHANNELS = ["api", "oauth", "web", "app"]
#                       api   oauth  web   app
CHANNEL_PROFILES = [[0.86, 0.02, 0.07, 0.05],   # API bot platform
                    [0.22, 0.58, 0.12, 0.08],   # OAuth app
                    [0.52, 0.10, 0.23, 0.15]]   # mixed terminal
CHANNEL_PROFILE_P = [0.5, 0.2, 0.3]
CHANNEL_UNATTRIBUTED = [0.20, 0.0, 0.45, 0.35]

PRODUCTS = ["spot", "margin", "futures", "swap", "options"]
#                       spot  margin futures swap  options
PRODUCT_PROFILES = [[0.70, 0.05, 0.14, 0.09, 0.02],   # spot-heavy
                    [0.18, 0.03, 0.42, 0.33, 0.04],   # derivatives-heavy
                    [0.45, 0.04, 0.28, 0.20, 0.03]]   # balanced
PRODUCT_PROFILE_P = [0.35, 0.35, 0.30]

# fee rates in millionths (scale 6)
TAKER_RATES = np.array([600, 500, 450, 400, 350, 300, 275, 250])
TAKER_P = np.array([0.10, 0.30, 0.10, 0.15, 0.12, 0.10, 0.08, 0.05])
MAKER_RATES = np.array([200, 160, 100, 80, 50, 20, 0, -25, -50, -100])
MAKER_P = np.array([0.20, 0.12, 0.20, 0.10, 0.10, 0.05, 0.08, 0.07, 0.05, 0.03])
MAKER_SHARE = 0.4

VIP_P = np.array([0.60, 0.12, 0.08, 0.06, 0.05, 0.04, 0.025, 0.015, 0.007, 0.003])  # vip 0..9
AFFILIATE_RATES = np.array([10, 20, 25, 30])  # hundredths (scale 2)
AFFILIATE_P = np.array([0.35, 0.30, 0.20, 0.15])
REFERRED_SHARE = 0.25
EXPLICIT_ZERO_AFFILIATE = 0.2   # of the non-referred accounts: "0" rather than empty
FEE_DISCOUNT_SHARE = 0.04
UNATTRIBUTED_SHARE = 0.10

# decimal column types (precision <= 18: stored as INT32/INT64 in Parquet)
NOTIONAL_T = pa.decimal128(18, 2)
FEE_T = pa.decimal128(18, 8)
FEE_RATE_T = pa.decimal128(9, 6)
AFFILIATE_T = pa.decimal128(3, 2)


def decimal_array(units: np.ndarray, typ: pa.Decimal128Type, valid: np.ndarray | None = None) -> pa.Array:
    """decimal128 array from int64 unscaled values (two's complement, sign-extended)."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    bitmap = None
    nulls = 0
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(typ, len(units), [bitmap, pa.py_buffer(words)], null_count=nulls)


def decimal_text(units: np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """Plain decimal strings ("-0.00012300"), never an exponent; null where not valid."""
    units = np.asarray(units, dtype=np.int64)
    s = pc.cast(pa.array(np.abs(units)), pa.string())
    if scale > 0:
        s = pc.utf8_lpad(s, width=scale + 1, padding="0")
        s = pc.binary_join_element_wise(pc.utf8_slice_codeunits(s, 0, -scale),
                                        pc.utf8_slice_codeunits(s, -scale), ".")
    s = pc.if_else(pa.array(units < 0), pc.binary_join_element_wise("-", s, ""), s)
    if valid is not None:
        s = pc.if_else(pa.array(valid), s, pa.scalar(None, pa.string()))
    return s


def dictionary(indices: np.ndarray, values: list[str] | pa.Array, valid: np.ndarray | None = None) -> pa.DictionaryArray:
    idx = pa.array(indices.astype(np.int32), mask=None if valid is None else ~valid)
    vals = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pa.DictionaryArray.from_arrays(idx, vals)


def codes(prefix: str, n: int, width: int) -> pa.Array:
    s = pc.utf8_lpad(pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, s, "")


def pick(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row r, a category drawn from the cumulative distribution cum[rows[r]]."""
    u = rng.random(len(rows))
    c = cum[rows]
    return (u[:, None] >= c[:, :-1]).sum(axis=1).astype(np.int8)


def pin_thresholds(b, attributed, channel, product, t, notional, rate, fee):
    """Thresholds are `>=`: for each Backpack volume threshold and month, the broker-month
    whose api spot+futures volume is closest above it (within 8%) gets its largest such trade
    reduced so that the volume equals the threshold exactly (fee recomputed)."""
    month = (t >= START_MS + 31 * DAY_MS).astype(np.int64)
    metric = attributed & (channel == 0) & ((product == 0) | (product == 2))
    key = b.astype(np.int64) * 2 + month
    vol = np.bincount(key[metric], weights=notional[metric].astype(np.float64),
                      minlength=2 * N_BROKERS).astype(np.int64)  # cents, < 2**53: exact
    notional, fee = notional.copy(), fee.copy()
    for threshold in (5_000_000_00, 10_000_000_00, 20_000_000_00, 60_000_000_00, 100_000_000_00):
        for m in (0, 1):
            keys = np.arange(m, 2 * N_BROKERS, 2)
            excess = vol[keys] - threshold
            ok = (excess > 0) & (excess < threshold * 0.08)
            if not ok.any():
                continue
            k = keys[ok][np.argmin(excess[ok])]
            rows = np.flatnonzero((key == k) & metric)
            i = rows[np.argmax(notional[rows])]
            cut = vol[k] - threshold
            if notional[i] - cut < 1:
                continue
            notional[i] -= cut
            fee[i] = notional[i] * rate[i]
            vol[k] = threshold
            print(f"[gen] pinned BR{k // 2:03d} {('2026-05', '2026-06')[m]} Backpack api volume to "
                  f"exactly {threshold // 100:,}", file=sys.stderr)
    return notional, fee


def generate(count: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = count
    scale = BASE_COUNT / n  # notional multiplier: broker volumes independent of count

    # ---- brokers: Zipf weights over a shuffled rank order, profiles, start day, trend
    rank = rng.permutation(N_BROKERS) + 1
    w = rank.astype(np.float64) ** -1.15
    w /= w.sum()
    chan_profile = rng.choice(len(CHANNEL_PROFILES), size=N_BROKERS, p=CHANNEL_PROFILE_P)
    prod_profile = rng.choice(len(PRODUCT_PROFILES), size=N_BROKERS, p=PRODUCT_PROFILE_P)
    late = rng.random(N_BROKERS) < 0.2
    start_ms = np.where(late, rng.integers(0, 40 * 86_400_000, N_BROKERS), 0)
    trend = np.exp(rng.uniform(-0.6, 0.6, N_BROKERS))  # u**trend: < 1 grows, > 1 shrinks

    # ---- accounts: each broker's own clients (fewer for small brokers), Zipf within broker
    n_accounts = int(min(60_000, max(2_000, count // 150)))
    wa = w ** 1.25
    acc_per_broker = np.maximum(2, np.floor(n_accounts * wa / wa.sum())).astype(np.int64)
    acc_offset = np.concatenate([[0], np.cumsum(acc_per_broker)[:-1]])
    total_accounts = int(acc_per_broker.sum())
    acc_vip = rng.choice(len(VIP_P), size=total_accounts, p=VIP_P).astype(np.int8)
    referred = rng.random(total_accounts) < REFERRED_SHARE
    acc_aff = np.where(referred, rng.choice(AFFILIATE_RATES, size=total_accounts, p=AFFILIATE_P), 0)
    acc_aff_valid = referred | (rng.random(total_accounts) < EXPLICIT_ZERO_AFFILIATE)
    # account names: a shuffled numbering, so a name says nothing about its broker
    acc_names = codes("acct", total_accounts, 6).take(pa.array(rng.permutation(total_accounts)))

    # ---- trades
    b = rng.choice(N_BROKERS, size=n, p=w).astype(np.int32)
    attributed = rng.random(n) >= UNATTRIBUTED_SHARE
    within = np.floor(acc_per_broker[b] * rng.random(n) ** 2.2).astype(np.int64)
    account = acc_offset[b] + within

    u = rng.random(n)
    t_attr = start_ms[b] + (SPAN_MS - start_ms[b]) * u ** trend[b]
    t_free = SPAN_MS * rng.random(n)
    t = START_MS + np.minimum(np.where(attributed, t_attr, t_free).astype(np.int64), SPAN_MS - 1)

    chan_cum = np.cumsum(np.array(CHANNEL_PROFILES + [CHANNEL_UNATTRIBUTED]), axis=1)
    chan_row = np.where(attributed, chan_profile[b], len(CHANNEL_PROFILES))
    channel = pick(rng, chan_cum, chan_row)
    prod_cum = np.cumsum(np.array(PRODUCT_PROFILES), axis=1)
    product = pick(rng, prod_cum, prod_profile[b])

    maker = rng.random(n) < MAKER_SHARE
    rate = np.where(maker, rng.choice(MAKER_RATES, size=n, p=MAKER_P),
                    rng.choice(TAKER_RATES, size=n, p=TAKER_P)).astype(np.int64)
    notional_usd = np.minimum(rng.lognormal(np.log(400.0), 1.6, n), 5_000_000.0) * scale
    notional = np.maximum(1, np.rint(notional_usd * 100.0)).astype(np.int64)  # cents
    fee = notional * rate  # scale 2 + 6 = 8, exact

    vip = acc_vip[account]
    fee_discount = rng.random(n) < FEE_DISCOUNT_SHARE
    aff = acc_aff[account]
    aff_valid = acc_aff_valid[account]

    # ---- edges: a few trades exactly at the June boundary and on the last millisecond of May;
    # ~0.2% of trades on a whole hour (so also on whole days)
    edge = rng.choice(np.flatnonzero(attributed), size=min(8, int(attributed.sum())), replace=False)
    t[edge[:4]] = START_MS + 31 * DAY_MS
    t[edge[4:]] = START_MS + 31 * DAY_MS - 1
    snap = rng.random(n) < 0.002
    t[snap] -= (t[snap] - START_MS) % HOUR_MS

    # ---- time order, ids
    order = np.argsort(t, kind="stable")
    t, b, attributed, account, channel, product = (x[order] for x in (t, b, attributed, account, channel, product))
    maker, rate, notional, fee, vip, fee_discount, aff, aff_valid = (
        x[order] for x in (maker, rate, notional, fee, vip, fee_discount, aff, aff_valid))

    notional, fee = pin_thresholds(b, attributed, channel, product, t, notional, rate, fee)

    broker_names = codes("BR", N_BROKERS, 3)
    table = pa.table({
        "id": codes("T", n, 10),
        "time": pa.array(t, pa.timestamp("ms", tz="UTC")),
        "account": dictionary(account, acc_names),
        "broker": dictionary(b, broker_names, valid=attributed),
        "channel": dictionary(channel, CHANNELS),
        "product": dictionary(product, PRODUCTS),
        "notional": decimal_array(notional, NOTIONAL_T),
        "fee": decimal_array(fee, FEE_T),
        "fee_rate": decimal_array(rate, FEE_RATE_T),
        "liquidity": dictionary(np.where(maker, 0, 1), ["maker", "taker"]),
        "vip": pa.array(vip.astype(np.int32)),
        "fee_discount": pa.array(fee_discount),
        "affiliate_rate": decimal_array(aff, AFFILIATE_T, valid=aff_valid),
    })
    return table


def csv_table(table: pa.Table) -> pa.Table:
    """The same trades as text columns: plain decimals, RFC 3339 times, empty = absent."""
    def text(col: str) -> pa.Array:
        a = table.column(col).combine_chunks()
        if pa.types.is_dictionary(a.type):
            a = a.dictionary_decode()
        return a

    def dec(col: str, scale: int) -> pa.Array:
        a = table.column(col).combine_chunks()
        valid = None if a.null_count == 0 else np.asarray(a.is_valid())
        # unscaled int64 from the decimal128 buffer (low word; values fit in 64 bits)
        words = np.frombuffer(a.buffers()[1], dtype=np.int64)[2 * a.offset:2 * (a.offset + len(a))]
        return decimal_text(words[0::2], scale, valid)

    times = pc.binary_join_element_wise(
        pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%S", locale="C"), "Z", "")
    return pa.table({
        "id": text("id"),
        "time": times,
        "account": text("account"),
        "broker": text("broker"),
        "channel": text("channel"),
        "product": text("product"),
        "notional": dec("notional", 2),
        "fee": dec("fee", 8),
        "fee_rate": dec("fee_rate", 6),
        "liquidity": text("liquidity"),
        "vip": pc.cast(table.column("vip"), pa.string()),
        "fee_discount": pc.if_else(table.column("fee_discount"), "true", "false"),
        "affiliate_rate": dec("affiliate_rate", 2),
    })


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=BASE_COUNT)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--seed", type=int, default=20260601)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--csv-only", action="store_true")
    g.add_argument("--parquet-only", action="store_true")
    args = ap.parse_args()
    if args.count < 1:
        ap.error("--count must be >= 1")
    os.makedirs(args.out, exist_ok=True)

    t0 = time.perf_counter()
    table = generate(args.count, args.seed)
    t1 = time.perf_counter()
    print(f"[gen] {args.count:,} trades generated in {t1 - t0:.1f}s (seed {args.seed})", file=sys.stderr)
    if not args.csv_only:
        path = os.path.join(args.out, "trades.parquet")
        pq.write_table(table, path + ".tmp", compression="zstd", row_group_size=1 << 20,
                       store_decimal_as_integer=True)
        os.replace(path + ".tmp", path)
        t2 = time.perf_counter()
        print(f"[gen] {path}: {os.path.getsize(path) / 1e6:,.1f} MB in {t2 - t1:.1f}s", file=sys.stderr)
    if not args.parquet_only:
        t2 = time.perf_counter()
        path = os.path.join(args.out, "trades.csv")
        step = 1 << 20
        opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
        with open(path + ".tmp", "wb") as f:
            f.write((",".join(FIELDS) + "\n").encode())  # an unquoted header row
            with pacsv.CSVWriter(f, pa.schema([pa.field(c, pa.string()) for c in FIELDS]), write_options=opts) as w:
                for start in range(0, table.num_rows, step):
                    w.write_table(csv_table(table.slice(start, step)))
        os.replace(path + ".tmp", path)
        t3 = time.perf_counter()
        print(f"[gen] {path}: {os.path.getsize(path) / 1e6:,.1f} MB in {t3 - t2:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
