#!/usr/bin/env python3
"""DuckDB reference implementation of the three built-in broker-rules programs.

Computes, per broker and settlement period, the commission rounded half-even once on the
exact sum, with no broker registry (no withholding, no sub-broker shares), in DuckDB SQL on
DECIMAL types (never floats):

- backpack: tier from the same calendar month's api volume (spot + futures), BKR 0..5;
  per trade fee * min(tier_rate, max(0, 0.5 - affiliate_rate)), floored at 0; period month;
  2 decimals.
- xt: tier for UTC day T from the volume (spot + margin + futures, any channel) of the 30
  whole days before T, VIP 1..3 (below: rate 0); per trade fee * tier_rate, floored at 0;
  period UTC day; 8 decimals.
- okx: level for month M from month M-1: two ladders (spot / derivatives), each step needing
  volume AND active clients (api + oauth trades), level = max of the ladders (below L1:
  rate 0); per trade fee * (bound_rate if affiliate_rate > 0 else rate), floored at 0;
  period UTC hour; 8 decimals.
Attribution by the `broker` column only; exclusions first-match (backpack: channel != api,
product not spot/futures; xt: channel != api, product not spot/margin/futures; okx: channel
not api/oauth, vip >= 6, fee_discount); excluded trades still count toward the tier metrics.
A period exists for a broker when it has at least one attributed trade in it.

Two entry modes: `--input parquet` queries the Parquet file directly; `--input csv` runs
read_csv (explicit column types) and the same query.

usage: duckdb_ref.py --program {backpack,xt,okx} --input {parquet,csv} --trades PATH
                     [--out result.parquet] [--threads N]
Prints one JSON line: {"impl", "program", "input", "seconds", "rows"}; `seconds` covers
connect + read + query + materialising the result as Arrow (not interpreter start/imports).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import duckdb

PROGRAMS = ("backpack", "xt", "okx")
EXACT_SCALE = 12  # fee (8) x rate (<= 3): every per-trade commission is exact at scale 12
CURRENCY_SCALE = {"backpack": 2, "xt": 8, "okx": 8}

CSV_COLUMNS = {
    "id": "VARCHAR", "time": "TIMESTAMPTZ", "account": "VARCHAR", "broker": "VARCHAR",
    "channel": "VARCHAR", "product": "VARCHAR", "notional": "DECIMAL(18,2)",
    "fee": "DECIMAL(18,8)", "fee_rate": "DECIMAL(9,6)", "liquidity": "VARCHAR",
    "vip": "INTEGER", "fee_discount": "BOOLEAN", "affiliate_rate": "DECIMAL(3,2)",
}


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def source_sql(kind: str, path: str) -> str:
    if kind == "parquet":
        return f"read_parquet({sql_str(path)})"
    cols = ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in CSV_COLUMNS.items())
    return f"read_csv({sql_str(path)}, header = true, delim = ',', quote = '\"', nullstr = '', columns = {{{cols}}})"


def dec(v: str, p: int = 5, s: int = 3) -> str:
    return f"CAST({v} AS DECIMAL({p},{s}))"


def half_even(units: str, from_scale: int, to_scale: int) -> str:
    """SQL: HUGEINT `units` (at from_scale) rounded half-even to to_scale, as DECIMAL(38, to_scale).
    DuckDB's ROUND on DECIMAL is half away from zero, so the tie rule is written out."""
    d = 10 ** (from_scale - to_scale)
    a = f"abs({units})"
    q = f"({a} // {d}::HUGEINT)"
    r = f"({a} % {d}::HUGEINT)"
    rounded = f"({q} + CASE WHEN 2 * {r} > {d}::HUGEINT OR (2 * {r} = {d}::HUGEINT AND {q} % 2 = 1) THEN 1 ELSE 0 END)"
    signed = f"(sign({units}) * {rounded})"
    unit = "1" if to_scale == 0 else "0." + "0" * (to_scale - 1) + "1"
    return f"(CAST({signed} AS DECIMAL(38,0)) * CAST({unit} AS DECIMAL({to_scale + 1},{to_scale})))"


def finish_sql(per_trade_sql: str, program: str, period_fmt: str) -> str:
    """per_trade_sql yields (broker, period TIMESTAMP, tier, c DECIMAL exact per trade)."""
    s = CURRENCY_SCALE[program]
    return f"""
, sums AS (
  SELECT broker, period, any_value(tier) AS tier,
         CAST(sum(c) AS DECIMAL(38,{EXACT_SCALE})) AS exact
  FROM ({per_trade_sql}) GROUP BY broker, period
), units AS (
  SELECT *, CAST(exact * CAST({10 ** EXACT_SCALE} AS HUGEINT) AS HUGEINT) AS u FROM sums
)
SELECT broker, strftime(period, '{period_fmt}') AS start, tier,
       {half_even('u', EXACT_SCALE, s)} AS commission, exact
FROM units ORDER BY broker, period
"""


BASE = """
WITH t AS (
  SELECT broker, account, channel, product, notional, fee,
         coalesce(affiliate_rate, 0) AS aff, coalesce(vip, 0) AS vip,
         coalesce(fee_discount, false) AS fd, make_timestamp(epoch_us(time)) AS ts
  FROM {src}
  WHERE broker IS NOT NULL AND broker <> ''
)"""

FMT = "%Y-%m-%dT%H:%M:%SZ"


def backpack_sql(src: str) -> str:
    levels = [("BKR 5", 100_000_000, "0.50"), ("BKR 4", 60_000_000, "0.45"), ("BKR 3", 20_000_000, "0.40"),
              ("BKR 2", 10_000_000, "0.35"), ("BKR 1", 5_000_000, "0.30"), ("BKR 0", 0, "0.20")]
    tier = " ".join(f"WHEN vol >= {m} THEN '{n}'" for n, m, _ in levels)
    rate = " ".join(f"WHEN vol >= {m} THEN {dec(r)}" for n, m, r in levels)
    per_trade = f"""
  SELECT t.broker, t.period, l.tier,
         CASE WHEN channel <> 'api' OR product NOT IN ('spot', 'futures') THEN {dec(0)}
              ELSE greatest({dec(0)}, fee * least(l.rate, greatest({dec(0)}, {dec('0.5')} - aff))) END AS c
  FROM t2 AS t JOIN lv AS l ON l.broker = t.broker AND l.period = t.period"""
    return BASE.format(src=src) + f"""
, t2 AS (SELECT *, date_trunc('month', ts) AS period FROM t)
, vol AS (
  SELECT broker, period,
         coalesce(sum(notional) FILTER (WHERE channel = 'api' AND product IN ('spot', 'futures')), 0) AS vol
  FROM t2 GROUP BY broker, period
), lv AS (
  SELECT broker, period, CASE {tier} END AS tier, CASE {rate} ELSE {dec(0)} END AS rate FROM vol
)""" + finish_sql(per_trade, "backpack", FMT)


def xt_sql(src: str) -> str:
    levels = [("VIP 3", 100_000_000, "0.6"), ("VIP 2", 30_000_000, "0.5"), ("VIP 1", 10_000_000, "0.4")]
    tier = " ".join(f"WHEN wvol >= {m} THEN '{n}'" for n, m, _ in levels)
    rate = " ".join(f"WHEN wvol >= {m} THEN {dec(r)}" for n, m, r in levels)
    per_trade = f"""
  SELECT t.broker, t.period, l.tier,
         CASE WHEN channel <> 'api' OR product NOT IN ('spot', 'margin', 'futures') THEN {dec(0)}
              ELSE greatest({dec(0)}, fee * l.rate) END AS c
  FROM t2 AS t JOIN lv AS l ON l.broker = t.broker AND l.period = t.period"""
    return BASE.format(src=src) + f"""
, t2 AS (SELECT *, date_trunc('day', ts) AS period FROM t)
, daily AS (
  SELECT broker, period,
         coalesce(sum(notional) FILTER (WHERE product IN ('spot', 'margin', 'futures')), 0) AS vol
  FROM t2 GROUP BY broker, period
), win AS (
  SELECT broker, period,
         coalesce(sum(vol) OVER (PARTITION BY broker ORDER BY period
                                 RANGE BETWEEN INTERVAL 30 DAYS PRECEDING AND INTERVAL 1 DAYS PRECEDING), 0) AS wvol
  FROM daily
), lv AS (
  SELECT broker, period, CASE {tier} END AS tier, CASE {rate} ELSE {dec(0)} END AS rate FROM win
)""" + finish_sql(per_trade, "xt", FMT)


def okx_sql(src: str) -> str:
    spot = [(4, 50_000_000, 50), (3, 10_000_000, 20), (2, 1_000_000, 10), (1, 10_000, 5)]
    deriv = [(4, 200_000_000, 100), (3, 50_000_000, 20), (2, 5_000_000, 10), (1, 100_000, 5)]
    rates = {1: ("0.25", "0.05"), 2: ("0.30", "0.075"), 3: ("0.35", "0.10"), 4: ("0.40", "0.125")}
    spot_lv = " ".join(f"WHEN sv >= {v} AND sc >= {c} THEN {lv}" for lv, v, c in spot)
    der_lv = " ".join(f"WHEN dv >= {v} AND dc >= {c} THEN {lv}" for lv, v, c in deriv)
    tier = " ".join(f"WHEN {lv} THEN 'L{lv}'" for lv in rates)
    rate = " ".join(f"WHEN {lv} THEN {dec(r)}" for lv, (r, _) in rates.items())
    bound = " ".join(f"WHEN {lv} THEN {dec(b)}" for lv, (_, b) in rates.items())
    api = "channel IN ('api', 'oauth')"
    per_trade = f"""
  SELECT t.broker, t.period, l.tier,
         CASE WHEN channel NOT IN ('api', 'oauth') OR vip >= 6 OR fd OR l.level IS NULL THEN {dec(0)}
              ELSE greatest({dec(0)}, fee * CASE WHEN aff > 0 THEN l.bound_rate ELSE l.rate END) END AS c
  FROM t2 AS t LEFT JOIN lv AS l ON l.broker = t.broker AND l.month = t.month"""
    return BASE.format(src=src) + f"""
, t2 AS (SELECT *, date_trunc('month', ts) AS month, date_trunc('hour', ts) AS period FROM t)
, ms AS (
  SELECT broker, month,
         coalesce(sum(notional) FILTER (WHERE product = 'spot' AND {api}), 0) AS sv,
         count(DISTINCT account) FILTER (WHERE product = 'spot' AND {api}) AS sc,
         coalesce(sum(notional) FILTER (WHERE product IN ('futures', 'swap', 'options') AND {api}), 0) AS dv,
         count(DISTINCT account) FILTER (WHERE product IN ('futures', 'swap', 'options') AND {api}) AS dc
  FROM t2 GROUP BY broker, month
), lv0 AS (
  SELECT broker, month + INTERVAL 1 MONTH AS month,
         greatest(CASE {spot_lv} ELSE 0 END, CASE {der_lv} ELSE 0 END) AS level
  FROM ms
), lv AS (
  SELECT broker, month, level, CASE level {tier} END AS tier,
         CASE level {rate} ELSE {dec(0)} END AS rate, CASE level {bound} ELSE {dec(0)} END AS bound_rate
  FROM lv0 WHERE level > 0
)""" + finish_sql(per_trade, "okx", FMT)


BUILDERS = {"backpack": backpack_sql, "xt": xt_sql, "okx": okx_sql}


def settle(program: str, kind: str, path: str, threads: int | None = None):
    """Returns (pyarrow.Table[broker, start, tier, commission, exact], seconds)."""
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    table = con.sql(BUILDERS[program](source_sql(kind, path))).to_arrow_table()
    return table, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description="DuckDB reference for the built-in programs")
    ap.add_argument("--program", required=True, choices=PROGRAMS)
    ap.add_argument("--input", required=True, choices=("parquet", "csv"))
    ap.add_argument("--trades", required=True)
    ap.add_argument("--out", help="write the per-broker per-period result here (Parquet)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--sql", action="store_true", help="print the query and exit")
    args = ap.parse_args()
    if args.sql:
        print(BUILDERS[args.program](source_sql(args.input, args.trades)))
        return 0
    table, seconds = settle(args.program, args.input, args.trades, args.threads)
    if args.out:
        import pyarrow.parquet as pq
        pq.write_table(table, args.out)
    print(json.dumps({"impl": "duckdb", "program": args.program, "input": args.input,
                      "seconds": seconds, "rows": table.num_rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
