#!/usr/bin/env python3
"""The Python host measured by bench/run.py: loads the Parquet trade log into a pyarrow Table,
then times `broker_rules.settle(program, table)` alone (the call, including building the
Statement objects it returns).

usage: br_python.py --program P --trades trades.parquet [--out result.parquet]
Prints one JSON line: {"impl", "program", "input", "seconds", "load_seconds", "rows"}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

import broker_rules


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--program", required=True)
    ap.add_argument("--trades", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()

    t0 = time.perf_counter()
    table = pq.read_table(args.trades)
    t1 = time.perf_counter()
    statement = broker_rules.settle(args.program, table)
    t2 = time.perf_counter()

    rows = [(b.broker, p.start.strftime("%Y-%m-%dT%H:%M:%SZ"), p.tier, str(p.commission), str(p.exact))
            for b in statement.brokers for p in b.periods]
    if args.out:
        cols = list(zip(*rows)) if rows else [[], [], [], [], []]
        pq.write_table(pa.table({name: pa.array(list(c), pa.string()) for name, c in
                                 zip(("broker", "start", "tier", "commission", "exact"), cols)}), args.out)
    print(json.dumps({"impl": "python", "program": args.program, "input": "arrow",
                      "seconds": t2 - t1, "load_seconds": t1 - t0, "rows": len(rows),
                      "trades": statement.summary.trades, "rejected": statement.summary.rejected}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
