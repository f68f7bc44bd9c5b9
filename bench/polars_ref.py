#!/usr/bin/env python3
"""Polars reference implementation of the three built-in broker-rules programs.

Same semantics as bench/duckdb_ref.py (read its docstring): per broker and settlement period,
the commission rounded half-even once on the exact sum, no registry. Money is pl.Decimal
throughout; Polars multiplies decimals at the larger of the two scales (rounding the rest),
so the fee is first widened to scale 12, where fee (scale 8) x rate (scale <= 3) is exact.
The half-even rounding is done on the Int128 unscaled sum.

Entry modes: `--input parquet` (scan_parquet) and `--input csv` (scan_csv with every column
read as a string, decimals then cast to pl.Decimal, times parsed as RFC 3339 UTC).

usage: polars_ref.py --program {backpack,xt,okx} --input {parquet,csv} --trades PATH
                     [--out result.parquet]
Prints one JSON line: {"impl", "program", "input", "seconds", "rows"}; `seconds` covers the
scan, the query and collecting the result (not interpreter start/imports).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal

import polars as pl

PROGRAMS = ("backpack", "xt", "okx")
EXACT_SCALE = 12
CURRENCY_SCALE = {"backpack": 2, "xt": 8, "okx": 8}
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
EXACT = pl.Decimal(38, EXACT_SCALE)
RATE = pl.Decimal(5, 3)


def rate(v: str | int) -> pl.Expr:
    return pl.lit(Decimal(str(v)), dtype=RATE)


ZERO = rate(0)


def source(kind: str, path: str) -> pl.LazyFrame:
    if kind == "parquet":
        lf = pl.scan_parquet(path)
    else:
        lf = pl.scan_csv(path, infer_schema=False)  # every column as a string
        lf = lf.with_columns(
            pl.col("time").str.strptime(pl.Datetime("ms", "UTC"), "%Y-%m-%dT%H:%M:%S%.fZ"),
            pl.col("notional").cast(pl.Decimal(18, 2)),
            pl.col("fee").cast(pl.Decimal(18, 8)),
            pl.col("affiliate_rate").cast(pl.Decimal(3, 2)),
            pl.col("vip").cast(pl.Int32),
            pl.col("fee_discount").replace_strict({"true": True, "false": False}, default=None,
                                                  return_dtype=pl.Boolean),
        )
    return (
        lf.filter(pl.col("broker").is_not_null() & (pl.col("broker").cast(pl.String) != ""))
        .select(
            "broker", "account", "channel", "product", "notional",
            pl.col("fee").cast(EXACT),
            pl.col("affiliate_rate").fill_null(0).alias("aff"),
            pl.col("vip").fill_null(0),
            pl.col("fee_discount").fill_null(False).alias("fd"),
            pl.col("time").dt.epoch("ms").alias("ms"),
        )
    )


def ladder(value: pl.Expr, steps: list[tuple[object, int | float, object]], default: object) -> pl.Expr:
    """steps highest first: (result, min volume, ...); value >= min picks the first."""
    expr = None
    for res, lo, _ in steps:
        lit = res if isinstance(res, pl.Expr) else pl.lit(res)
        expr = pl.when(value >= lo).then(lit) if expr is None else expr.when(value >= lo).then(lit)
    return expr.otherwise(default if isinstance(default, pl.Expr) else pl.lit(default))


def finish(per_trade: pl.LazyFrame, program: str, unit_ms: int | None) -> pl.LazyFrame:
    """per_trade: broker, period (ms since epoch), tier, c (exact Decimal) -> result rows."""
    s = CURRENCY_SCALE[program]
    d = 10 ** (EXACT_SCALE - s)
    sums = per_trade.group_by("broker", "period").agg(
        pl.col("tier").first(), pl.col("c").sum().cast(EXACT).alias("exact"))
    u = (pl.col("exact") * 10 ** EXACT_SCALE).cast(pl.Int128)
    q = u.abs() // d
    r = u.abs() % d
    up = (2 * r > d) | ((2 * r == d) & (q % 2 == 1))
    units = u.sign() * (q + up.cast(pl.Int128))
    unit = pl.lit(Decimal(1).scaleb(-s), dtype=pl.Decimal(s + 1, s))
    return sums.select(
        pl.col("broker").cast(pl.String),
        pl.from_epoch("period", time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("start"),
        "tier",
        (units.cast(pl.Decimal(38, 0)) * unit).alias("commission"),
        "exact",
    ).sort("broker", "start")


def backpack(t: pl.LazyFrame) -> pl.LazyFrame:
    month = pl.from_epoch("ms", time_unit="ms").dt.truncate("1mo").dt.epoch("ms")
    t = t.with_columns(month.alias("period"))
    metric = (pl.col("channel") == "api") & pl.col("product").is_in(["spot", "futures"])
    levels = [("BKR 5", 100_000_000, "0.50"), ("BKR 4", 60_000_000, "0.45"), ("BKR 3", 20_000_000, "0.40"),
              ("BKR 2", 10_000_000, "0.35"), ("BKR 1", 5_000_000, "0.30"), ("BKR 0", 0, "0.20")]
    lv = (t.group_by("broker", "period")
          .agg(pl.col("notional").filter(metric).sum().alias("vol"))
          .select("broker", "period",
                  ladder(pl.col("vol"), levels, None).alias("tier"),
                  ladder(pl.col("vol"), [(rate(r), m, None) for _, m, r in levels], ZERO).alias("rate")))
    x = pl.min_horizontal(pl.col("rate"), pl.max_horizontal(ZERO, rate("0.5") - pl.col("aff")))
    c = (pl.when(metric).then(pl.max_horizontal(ZERO, pl.col("fee") * x)).otherwise(ZERO))
    per_trade = t.join(lv, on=["broker", "period"]).select("broker", "period", "tier", c.cast(EXACT).alias("c"))
    return finish(per_trade, "backpack", None)


def xt(t: pl.LazyFrame) -> pl.LazyFrame:
    t = t.with_columns((pl.col("ms") // DAY_MS).alias("day"))
    metric = pl.col("product").is_in(["spot", "margin", "futures"])
    daily = t.group_by("broker", "day").agg(pl.col("notional").filter(metric).sum().alias("vol"))
    # the 30 whole days before day T: every day's volume feeds days d+1 .. d+30
    window = (daily.with_columns(pl.int_ranges(1, 31).alias("k")).explode("k")
              .select("broker", (pl.col("day") + pl.col("k")).alias("day"), "vol")
              .group_by("broker", "day").agg(pl.col("vol").sum().alias("wvol")))
    levels = [("VIP 3", 100_000_000, "0.6"), ("VIP 2", 30_000_000, "0.5"), ("VIP 1", 10_000_000, "0.4")]
    lv = (daily.select("broker", "day").join(window, on=["broker", "day"], how="left")
          .select("broker", "day",
                  ladder(pl.col("wvol"), levels, None).alias("tier"),
                  ladder(pl.col("wvol"), [(rate(r), m, None) for _, m, r in levels], ZERO).alias("rate")))
    eligible = (pl.col("channel") == "api") & metric
    c = pl.when(eligible).then(pl.max_horizontal(ZERO, pl.col("fee") * pl.col("rate"))).otherwise(ZERO)
    per_trade = (t.join(lv, on=["broker", "day"])
                 .select("broker", (pl.col("day") * DAY_MS).alias("period"), "tier", c.cast(EXACT).alias("c")))
    return finish(per_trade, "xt", None)


def okx(t: pl.LazyFrame) -> pl.LazyFrame:
    dt = pl.from_epoch("ms", time_unit="ms")
    t = t.with_columns((dt.dt.year() * 12 + dt.dt.month() - 1).alias("month"),
                       (pl.col("ms") // HOUR_MS).alias("hour"))
    api = pl.col("channel").is_in(["api", "oauth"])
    spot = api & (pl.col("product") == "spot")
    deriv = api & pl.col("product").is_in(["futures", "swap", "options"])
    ms = t.group_by("broker", "month").agg(
        pl.col("notional").filter(spot).sum().alias("sv"),
        pl.col("account").filter(spot).n_unique().alias("sc"),
        pl.col("notional").filter(deriv).sum().alias("dv"),
        pl.col("account").filter(deriv).n_unique().alias("dc"),
    )

    def lvl(v: str, c: str, steps: list[tuple[int, int, int]]) -> pl.Expr:
        e = None
        for level, vmin, cmin in steps:
            cond = (pl.col(v) >= vmin) & (pl.col(c) >= cmin)
            e = pl.when(cond).then(level) if e is None else e.when(cond).then(level)
        return e.otherwise(0)

    spot_lv = lvl("sv", "sc", [(4, 50_000_000, 50), (3, 10_000_000, 20), (2, 1_000_000, 10), (1, 10_000, 5)])
    der_lv = lvl("dv", "dc", [(4, 200_000_000, 100), (3, 50_000_000, 20), (2, 5_000_000, 10), (1, 100_000, 5)])
    rates = {1: ("0.25", "0.05"), 2: ("0.30", "0.075"), 3: ("0.35", "0.10"), 4: ("0.40", "0.125")}

    def by_level(f) -> pl.Expr:
        e = None
        for level, rr in rates.items():
            cond = pl.col("level") == level
            e = pl.when(cond).then(f(level, rr)) if e is None else e.when(cond).then(f(level, rr))
        return e

    lv = (ms.select("broker", (pl.col("month") + 1).alias("month"),
                    pl.max_horizontal(spot_lv, der_lv).alias("level"))
          .filter(pl.col("level") > 0)
          .select("broker", "month",
                  by_level(lambda lv, rr: pl.lit(f"L{lv}")).alias("tier"),
                  by_level(lambda lv, rr: rate(rr[0])).alias("rate"),
                  by_level(lambda lv, rr: rate(rr[1])).alias("bound_rate")))
    eligible = api & (pl.col("vip") < 6) & ~pl.col("fd") & pl.col("rate").is_not_null()
    r = pl.when(pl.col("aff") > 0).then(pl.col("bound_rate")).otherwise(pl.col("rate"))
    c = pl.when(eligible).then(pl.max_horizontal(ZERO, pl.col("fee") * r)).otherwise(ZERO)
    per_trade = (t.join(lv, on=["broker", "month"], how="left")
                 .select("broker", (pl.col("hour") * HOUR_MS).alias("period"), "tier", c.cast(EXACT).alias("c")))
    return finish(per_trade, "okx", None)


BUILDERS = {"backpack": backpack, "xt": xt, "okx": okx}


def settle(program: str, kind: str, path: str):
    """Returns (pl.DataFrame[broker, start, tier, commission, exact], seconds)."""
    t0 = time.perf_counter()
    df = BUILDERS[program](source(kind, path)).collect()
    return df, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description="Polars reference for the built-in programs")
    ap.add_argument("--program", required=True, choices=PROGRAMS)
    ap.add_argument("--input", required=True, choices=("parquet", "csv"))
    ap.add_argument("--trades", required=True)
    ap.add_argument("--out", help="write the per-broker per-period result here (Parquet)")
    ap.add_argument("--plan", action="store_true", help="print the optimised plan and exit")
    args = ap.parse_args()
    if args.plan:
        print(BUILDERS[args.program](source(args.input, args.trades)).explain())
        return 0
    df, seconds = settle(args.program, args.input, args.trades)
    if args.out:
        df.write_parquet(args.out)
    print(json.dumps({"impl": "polars", "program": args.program, "input": args.input,
                      "seconds": seconds, "rows": df.height}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
